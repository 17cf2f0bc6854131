package main

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func fixedTranscript(wire bool) (*transcript, *syncBuffer) {
	var b syncBuffer
	t := newTranscript(&b, wire)
	t.now = func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }
	return t, &b
}

// TestSIPScanner: SIP messages are found in a stream however it is cut
// (RFC 3261 §7.5 framing by Content-Length), with keep-alive CRLFs between
// them, and the SDP m-lines are shown.
func TestSIPScanner(t *testing.T) {
	stream := "\r\n\r\nINVITE sip:bob@h SIP/2.0\r\nVia: x\r\nContent-Type: application/sdp\r\nContent-Length: 40\r\n\r\n" +
		"v=0\r\nm=message 9 TCP/MSRP *\r\na=setup:x\r\n" +
		"SIP/2.0 200 OK\r\nl: 0\r\n\r\n" +
		"MESSAGE sip:bob@h SIP/2.0\r\nContent-Length: 5\r\n\r\nhello"
	for _, step := range []int{1, 3, 7, len(stream)} {
		tr, out := fixedTranscript(false)
		s := &sipScanner{t: tr, dir: "a → b"}
		for i := 0; i < len(stream); i += step {
			s.feed([]byte(stream[i:min(i+step, len(stream))]))
		}
		want := "12:00:00.000  SIP  a → b         INVITE sip:bob@h SIP/2.0\n" +
			"                                   SDP m=message 9 TCP/MSRP *\n" +
			"12:00:00.000  SIP  a → b         SIP/2.0 200 OK\n" +
			"12:00:00.000  SIP  a → b         MESSAGE sip:bob@h SIP/2.0\n"
		if out.String() != want {
			t.Errorf("step %d: got\n%s\nwant\n%s", step, out, want)
		}
	}
}

func TestSIPScannerDatagram(t *testing.T) {
	tr, out := fixedTranscript(true)
	s := &sipScanner{t: tr, dir: "a → b", datagram: true}
	// A datagram whose Content-Length overstates its body is shown with
	// what it has; the next datagram starts afresh.
	s.feed([]byte("MESSAGE sip:b@h SIP/2.0\r\nContent-Length: 99\r\n\r\nshort"))
	s.feed([]byte("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"))
	got := out.String()
	for _, w := range []string{"MESSAGE sip:b@h SIP/2.0", "| short", "SIP/2.0 200 OK"} {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}

func TestLineDump(t *testing.T) {
	tr, out := fixedTranscript(true)
	d := &lineDump{t: tr, dir: "a → b"}
	d.feed([]byte("MSRP x SEND\r\nbin\x00\xff\r\n" + strings.Repeat("é", 200) + "\r\n-------x$\r\n"))
	got := out.String()
	for _, w := range []string{"4 line(s)", "| MSRP x SEND\n", `| bin\x00\xff` + "\n", "é…\n", "| -------x$\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}

// FuzzSIPScanner: any stream, however split, gives the same transcript as
// when fed whole, and the scanner's buffer stays bounded.
func FuzzSIPScanner(f *testing.F) {
	f.Add([]byte("MESSAGE sip:b@h SIP/2.0\r\nContent-Length: 5\r\n\r\nhelloSIP/2.0 200 OK\r\n\r\n"), uint8(1))
	f.Add([]byte("\r\n\r\nINVITE x SIP/2.0\r\nl: 3\r\nContent-Type: application/sdp\r\n\r\nm=x"), uint8(2))
	f.Add([]byte("A\r\nContent-Length: -4\r\n\r\nB\r\nContent-Length: 99999999999\r\n\r\n"), uint8(5))
	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		whole, wout := fixedTranscript(true)
		(&sipScanner{t: whole, dir: "a → b"}).feed(b)
		split, sout := fixedTranscript(true)
		s := &sipScanner{t: split, dir: "a → b"}
		n := int(step)%16 + 1
		for i := 0; i < len(b); i += n {
			s.feed(b[i:min(i+n, len(b))])
			if len(s.buf) > maxScan+n {
				t.Fatalf("buffer grew to %d", len(s.buf))
			}
		}
		if wout.String() != sout.String() {
			t.Errorf("split by %d:\n%s\nwhole:\n%s", n, sout, wout)
		}
	})
}

// FuzzLineDump: the dump never panics, keeps nothing between feeds, and
// prints only valid UTF-8 without control characters.
func FuzzLineDump(f *testing.F) {
	f.Add([]byte("MSRP a SEND\r\n\x00\xff\xfe\r\n-------a$\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, out := fixedTranscript(true)
		d := &lineDump{t: tr, dir: "a → b"}
		d.feed(b)
		if len(d.buf) != 0 {
			t.Errorf("%d bytes held back", len(d.buf))
		}
		s := out.String()
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8 in %q", s)
		}
		for _, r := range s {
			if r < 0x20 && r != '\n' || r == 0x7f {
				t.Errorf("control character %U in %q", r, s)
			}
		}
	})
}
