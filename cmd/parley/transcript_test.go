package main

import (
	"strings"
	"testing"
	"time"
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
