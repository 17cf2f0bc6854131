package msrp

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"
)

// updateGolden rewrites the testdata/*.reencoded files: Parley's encoding
// of the RFC example frames whose header order differs from Parley's.
// (The flag is shared by the whole package's tests.)
var updateGolden = flag.Bool("update", false, "rewrite golden files in testdata")

// readResult is one frame as read by readAllFrames.
type readResult struct {
	f    *Frame
	body []byte // nil when the frame has no body
	err  error  // the ReadFrame error (a *StatusError), if any
}

// readAllFrames reads frames until EOF or a fatal error. useSegments
// chooses NextBodySegment over Read for bodies.
func readAllFrames(t testing.TB, rd io.Reader, lim Limits, useSegments bool) ([]readResult, error) {
	r := NewReader(rd, lim)
	var out []readResult
	for {
		f, err := r.ReadFrame()
		if err != nil {
			var se *StatusError
			if errors.As(err, &se) {
				if f == nil {
					t.Fatalf("StatusError %v without a frame", err)
				}
				out = append(out, readResult{f: f, err: err})
				continue
			}
			return out, err
		}
		res := readResult{f: f}
		if f.HasBody() {
			res.body = []byte{}
			if useSegments {
				for {
					seg, err := r.NextBodySegment()
					if err == io.EOF {
						break
					}
					if err != nil {
						return out, err
					}
					res.body = append(res.body, seg...)
				}
			} else {
				b, err := io.ReadAll(r)
				if err != nil {
					return out, err
				}
				res.body = append(res.body, b...)
			}
		}
		out = append(out, res)
	}
}

// splitReader returns the data in pieces of random sizes.
type splitReader struct {
	data []byte
	rng  *rand.Rand
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := 1 + s.rng.IntN(min(len(p), len(s.data), 97))
	n = copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

// readerVariants delivers data whole, one byte at a time, in halves and
// in random pieces.
func readerVariants(data []byte) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"whole":   func() io.Reader { return bytes.NewReader(data) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"half":    func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"random": func() io.Reader {
			return &splitReader{data: data, rng: rand.New(rand.NewPCG(1, uint64(len(data))))}
		},
	}
}

func mustURI(t testing.TB, s string) URI {
	t.Helper()
	u, err := ParseURI(s)
	if err != nil {
		t.Fatalf("ParseURI(%q): %v", s, err)
	}
	return u
}

func path1(t testing.TB, s string) []URI { return []URI{mustURI(t, s)} }

type goldenFrame struct {
	want     Frame
	body     string // "" and !hasBody: no body
	code     int    // expected StatusError code, 0 for none
	sentinel error  // expected sentinel with code
	// exact: AppendFrame(parsed, body) reproduces the wire bytes (Parley
	// writes headers in the same order as the RFC example).
	exact bool
}

const (
	uAtlanta = "msrp://atlanta.example.com:7654/jshA7weztas;tcp"
	uBiloxi  = "msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp"
	uAlicePC = "msrp://alicepc.example.com:7777/iau39soe2843z;tcp"
	uBob     = "msrp://bob.example.com:8888/9di4eae923wzd;tcp"
)

func goldenCases(t testing.TB) map[string][]goldenFrame {
	br := func(s, e, tot int64) ByteRange { return ByteRange{s, e, tot} }
	cpim := "To: Bob <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>\r\n" +
		"DateTime: 2006-05-15T15:02:31-03:00\r\nContent-Type: text/plain\r\n\r\nABCD"
	xhtml := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!DOCTYPE html\r\n" +
		"PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\"\r\n" +
		"\"_http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd_\">\r\n" +
		"<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\r\n" +
		"  <head>\r\n    <title>FY2005 Results</title>\r\n</head>\r\n  <body>\r\n" +
		"   <p>See the results at <a\r\nhref=\"http://example.org/\">example.org</a>.</p>\r\n" +
		"  </body>\r\n</html>"
	html := "<html><body>\r\n<p>Here is that important link...\r\n" +
		"<a href=\"http://www.example.com/foobar\">foobar</a>\r\n</p>\r\n</body></html>"
	return map[string][]goldenFrame{
		// RFC 4975 §4 Figure 2. The 200 echoes Byte-Range. (The example's
		// range 1-25/25 does not match its 23-octet body; the reader
		// reports what it reads.)
		"rfc4975-s4-basic.msrp": {
			{want: Frame{TID: "a786hjs2", Method: "SEND", ToPath: path1(t, uBiloxi), FromPath: path1(t, uAtlanta),
				MessageID: "87652491", ByteRange: br(1, 25, 25), HasByteRange: true, ContentType: "text/plain", Flag: '$'},
				body: "Hey Bob, are you there?", exact: true},
			{want: Frame{TID: "a786hjs2", StatusCode: 200, Comment: "OK", ToPath: path1(t, uAtlanta), FromPath: path1(t, uBiloxi),
				ByteRange: br(1, 25, 25), HasByteRange: true, Flag: '$'}, exact: true},
		},
		// RFC 4975 §5.1 Figure 3 as printed: the snippet omits To-Path and
		// From-Path, so each frame is a 400 (ErrMissingPath), and the
		// stream stays in sync.
		"rfc4975-s5.1-chunks-verbatim.msrp": {
			{want: Frame{TID: "dkei38sd", Method: "SEND", Flag: '+'}, code: 400, sentinel: ErrMissingPath},
			{want: Frame{TID: "dkei38ia", Method: "SEND", Flag: '$'}, code: 400, sentinel: ErrMissingPath},
		},
		// The same two chunks with the §11.1 paths filled in.
		"rfc4975-s5.1-chunks.msrp": {
			{want: Frame{TID: "dkei38sd", Method: "SEND", ToPath: path1(t, uBob), FromPath: path1(t, uAlicePC),
				MessageID: "4564dpWd", ByteRange: br(1, Unknown, 8), HasByteRange: true, ContentType: "text/plain", Flag: '+'},
				body: "abcd", exact: true},
			{want: Frame{TID: "dkei38ia", Method: "SEND", ToPath: path1(t, uBob), FromPath: path1(t, uAlicePC),
				MessageID: "4564dpWd", ByteRange: br(5, 8, 8), HasByteRange: true, ContentType: "text/plain", Flag: '$'},
				body: "EFGH", exact: true},
		},
		// RFC 4975 §7.1: a bodiless SEND (no Content-Type, no blank line)
		// and a SEND with an empty body (§7.1.1 Byte-Range 1-0/0).
		"rfc4975-s7.1-bodiless-empty.msrp": {
			{want: Frame{TID: "bx93kzq1", Method: "SEND", ToPath: path1(t, uBob), FromPath: path1(t, uAlicePC),
				MessageID: "p9wq7cvx", Flag: '$'}, exact: true},
			{want: Frame{TID: "ey2lq0rm", Method: "SEND", ToPath: path1(t, uBob), FromPath: path1(t, uAlicePC),
				MessageID: "q8mn3zzt", ByteRange: br(1, 0, 0), HasByteRange: true, ContentType: "text/plain", Flag: '$'},
				body: "", exact: true},
		},
		// RFC 4975 §11.1 steps 4-7.
		"rfc4975-s11.1-basic-session.msrp": {
			{want: Frame{TID: "d93kswow", Method: "SEND", ToPath: path1(t, uBob), FromPath: path1(t, uAlicePC),
				MessageID: "12339sdqwer", ByteRange: br(1, 16, 16), HasByteRange: true, ContentType: "text/plain", Flag: '$'},
				body: "Hi, I'm Alice!", exact: true},
			{want: Frame{TID: "d93kswow", StatusCode: 200, Comment: "OK", ToPath: path1(t, uAlicePC), FromPath: path1(t, uBob), Flag: '$'}, exact: true},
			{want: Frame{TID: "dkei38sd", Method: "SEND", ToPath: path1(t, uAlicePC), FromPath: path1(t, uBob),
				MessageID: "456s9wlk3", ByteRange: br(1, 21, 21), HasByteRange: true, ContentType: "text/plain", Flag: '$'},
				body: "Hi, Alice!  I'm Bob!", exact: true},
			{want: Frame{TID: "dkei38sd", StatusCode: 200, Comment: "OK", ToPath: path1(t, uBob), FromPath: path1(t, uAlicePC), Flag: '$'}, exact: true},
		},
		// RFC 4975 §11.2 Figure 13.
		"rfc4975-s11.2-xhtml.msrp": {
			{want: Frame{TID: "dsdfoe38sd", Method: "SEND", ToPath: path1(t, "msrp://alice.example.com:7777/iau39soe2843z;tcp"),
				FromPath: path1(t, uBob), MessageID: "456so39s", ByteRange: br(1, 374, 374), HasByteRange: true,
				ContentType: "application/xhtml+xml", Flag: '$'}, body: xhtml, exact: true},
		},
		// RFC 4975 §11.4 Figures 14-15: the CPIM headers are in chunk 1
		// only. (The example's second range 138-148 is 11 octets; its
		// body "1234567890" is 10.)
		"rfc4975-s11.4-chunked-cpim.msrp": {
			{want: Frame{TID: "d93kswow", Method: "SEND", ToPath: path1(t, "msrp://bobpc.example.com:8888/9di4eae923wzd;tcp"),
				FromPath: path1(t, "msrp://alicepc.example.com:7654/iau39soe2843z;tcp"), MessageID: "12339sdqwer",
				ByteRange: br(1, 137, 148), HasByteRange: true, ContentType: "message/cpim", Flag: '+'}, body: cpim, exact: true},
			{want: Frame{TID: "op2nc9a", Method: "SEND", ToPath: path1(t, "msrp://bobpc.example.com:8888/9di4eae923wzd;tcp"),
				FromPath: path1(t, "msrp://alicepc.example.com:7654/iau39soe2843z;tcp"), MessageID: "12339sdqwer",
				ByteRange: br(138, 148, 148), HasByteRange: true, ContentType: "message/cpim", Flag: '$'}, body: "1234567890", exact: true},
		},
		// RFC 4975 §11.5: both report headers "no". The RFC lists
		// Failure-Report before Success-Report; Parley writes the
		// reverse, so the re-encoding differs only in that order.
		"rfc4975-s11.5-system-message.msrp": {
			{want: Frame{TID: "d93kswow", Method: "SEND", ToPath: path1(t, "msrp://alicepc.example.com:8888/9di4eae923wzd;tcp"),
				FromPath: path1(t, "msrp://example.com:7777/iau39soe2843z;tcp"), MessageID: "12339sdqwer",
				ByteRange: br(1, 38, 38), HasByteRange: true, SuccessReport: "no", FailureReport: "no",
				ContentType: "text/plain", Flag: '$'}, body: "This conference will end in 5 minutes"},
		},
		// RFC 4975 §11.6 Figures 16-17: a success REPORT, Status 000 200 OK.
		"rfc4975-s11.6-success-report.msrp": {
			{want: Frame{TID: "d93kswow", Method: "SEND", ToPath: path1(t, uBob), FromPath: path1(t, uAlicePC),
				MessageID: "12339sdqwer", ByteRange: br(1, 106, 106), HasByteRange: true, SuccessReport: "yes",
				FailureReport: "no", ContentType: "text/html", Flag: '$'}, body: html, exact: true},
			{want: Frame{TID: "dkei38sd", Method: "REPORT", ToPath: path1(t, uAlicePC), FromPath: path1(t, uBob),
				MessageID: "12339sdqwer", ByteRange: br(1, 106, 106), HasByteRange: true,
				Status: Status{0, 200, "OK"}, HasStatus: true, Flag: '$'}, exact: true},
		},
	}
}

// splitFrames cuts data into the wire bytes of each frame: a frame ends
// after its end-line.
func splitFrames(data []byte, tids []string) [][]byte {
	var out [][]byte
	for _, tid := range tids {
		i := bytes.Index(data, []byte("-------"+tid))
		n := i + 7 + len(tid) + 3
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

func TestGoldenRFC4975(t *testing.T) {
	for name, frames := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			var tids []string
			for _, g := range frames {
				tids = append(tids, g.want.TID)
			}
			wire := splitFrames(data, tids)
			var reencoded []byte // frames that differ from the RFC text
			for vname, mk := range readerVariants(data) {
				for _, seg := range []bool{false, true} {
					got, err := readAllFrames(t, mk(), Limits{}, seg)
					if err != io.EOF {
						t.Fatalf("%s: final error %v, want io.EOF", vname, err)
					}
					if len(got) != len(frames) {
						t.Fatalf("%s: read %d frames, want %d", vname, len(got), len(frames))
					}
					reencoded = reencoded[:0]
					for i, g := range frames {
						checkGoldenFrame(t, vname, i, got[i], g, wire[i])
						if g.code == 0 && !g.exact {
							reencoded = AppendFrame(reencoded, got[i].f, got[i].body)
						}
					}
				}
			}
			if len(reencoded) == 0 {
				return
			}
			golden := filepath.Join("testdata", name+".reencoded")
			if *updateGolden {
				if err := os.WriteFile(golden, reencoded, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(reencoded, want) {
				t.Errorf("re-encoding differs from %s:\n got %q\nwant %q", golden, reencoded, want)
			}
		})
	}
}

func checkGoldenFrame(t *testing.T, variant string, i int, got readResult, g goldenFrame, wire []byte) {
	t.Helper()
	if g.code != 0 {
		var se *StatusError
		if !errors.As(got.err, &se) || se.Code != g.code || !errors.Is(got.err, g.sentinel) {
			t.Errorf("%s frame %d: err %v, want code %d wrapping %v", variant, i, got.err, g.code, g.sentinel)
		}
		if got.f.TID != g.want.TID || got.f.Method != g.want.Method || got.f.Flag != g.want.Flag {
			t.Errorf("%s frame %d: partial frame %+v, want TID %s Method %s Flag %c", variant, i, got.f, g.want.TID, g.want.Method, g.want.Flag)
		}
		return
	}
	if got.err != nil {
		t.Fatalf("%s frame %d: %v", variant, i, got.err)
	}
	if !reflect.DeepEqual(*got.f, g.want) {
		t.Errorf("%s frame %d:\n got %+v\nwant %+v", variant, i, *got.f, g.want)
	}
	if g.want.HasBody() {
		if string(got.body) != g.body {
			t.Errorf("%s frame %d: body %q, want %q", variant, i, got.body, g.body)
		}
	} else if got.body != nil {
		t.Errorf("%s frame %d: unexpected body %q", variant, i, got.body)
	}
	enc := AppendFrame(nil, got.f, got.body)
	if g.exact && !bytes.Equal(enc, wire) {
		t.Errorf("%s frame %d: re-encoding differs:\n got %q\nwant %q", variant, i, enc, wire)
	}
	// Whatever the header order, the re-encoding parses to the same frame.
	again, err := readAllFrames(t, bytes.NewReader(enc), Limits{}, true)
	if err != io.EOF || len(again) != 1 || again[0].err != nil || !reflect.DeepEqual(*again[0].f, *got.f) ||
		!bytes.Equal(again[0].body, got.body) {
		t.Errorf("%s frame %d: re-parse of %q gave %+v, %v", variant, i, enc, again, err)
	}
}
