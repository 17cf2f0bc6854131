package msrp

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	hdrTo   = "To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
	hdrFrom = "From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n"
	paths   = hdrTo + hdrFrom
	// okFrame follows every recoverable case to prove the stream is in sync.
	okFrame = "MSRP okok1234 SEND\r\n" + paths + "Message-ID: m1234567\r\nContent-Type: text/plain\r\n\r\nfine\r\n-------okok1234$\r\n"
)

func TestReaderMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
		code int   // StatusError code; 0 means fatal (close)
		want error // sentinel (for fatal: the error matched with errors.Is)
		tid  string
	}{
		// Fatal: framing cannot be recovered.
		{name: "not msrp", in: "GET / HTTP/1.1\r\n\r\n", want: ErrBadStartLine},
		{name: "lowercase msrp", in: "msrp abcd1234 SEND\r\n" + paths + "-------abcd1234$\r\n", want: ErrBadStartLine},
		{name: "tid too short", in: "MSRP abc SEND\r\n" + paths + "-------abc$\r\n", want: ErrBadTID},
		{name: "tid too long", in: "MSRP " + strings.Repeat("a", 33) + " SEND\r\n", want: ErrBadTID},
		{name: "tid bad char", in: "MSRP ab/cd SEND\r\n", want: ErrBadTID},
		{name: "no tid", in: "MSRP \r\n", want: ErrBadTID},
		{name: "foreign end-line", in: "MSRP abcd1234 SEND\r\n" + paths + "-------abcd9999$\r\n", want: ErrBadEndLine},
		{name: "end-line bad flag", in: "MSRP abcd1234 SEND\r\n" + paths + "-------abcd1234!\r\n", want: ErrBadEndLine},
		{name: "start line too long", in: "MSRP abcd1234 " + strings.Repeat("A", 9000) + "\r\n", want: ErrLineTooLong},
		{name: "eof in headers", in: "MSRP abcd1234 SEND\r\n" + hdrTo, want: io.ErrUnexpectedEOF},
		{name: "eof mid line", in: "MSRP abcd1234 SEND\r\nTo-Pa", want: io.ErrUnexpectedEOF},
		{name: "eof in body", in: "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: text/plain\r\n\r\nabc\r\n-------abcd12", want: io.ErrUnexpectedEOF},
		{name: "eof skipping bad frame", in: "MSRP abcd1234 SEND\r\nFrom-Path: x\r\n\r\nabc", want: io.ErrUnexpectedEOF},
		{name: "lf-only end-line", in: "MSRP abcd1234 SEND\r\n" + paths + "-------abcd1234$\n", want: ErrBadEndLine},

		// Recoverable: 400 after skipping the frame.
		{name: "lowercase method", in: "MSRP abcd1234 send\r\n" + paths + "-------abcd1234$\r\n", code: 400, want: ErrBadStartLine, tid: "abcd1234"},
		{name: "missing method", in: "MSRP abcd1234\r\n" + paths + "-------abcd1234$\r\n", code: 400, want: ErrBadStartLine, tid: "abcd1234"},
		{name: "two-digit code", in: "MSRP abcd1234 20 OK\r\n" + paths + "-------abcd1234$\r\n", code: 400, want: ErrBadStartLine, tid: "abcd1234"},
		{name: "four-digit code", in: "MSRP abcd1234 2000\r\n" + paths + "-------abcd1234$\r\n", code: 400, want: ErrBadStartLine, tid: "abcd1234"},
		{name: "start line lf only", in: "MSRP abcd1234 SEND\n" + paths + "-------abcd1234$\r\n", code: 400, want: ErrBadLineEnd, tid: "abcd1234"},
		{name: "no paths", in: "MSRP abcd1234 SEND\r\nMessage-ID: abcd\r\n-------abcd1234$\r\n", code: 400, want: ErrMissingPath, tid: "abcd1234"},
		{name: "no headers at all", in: "MSRP abcd1234 SEND\r\n-------abcd1234$\r\n", code: 400, want: ErrMissingPath, tid: "abcd1234"},
		{name: "from before to", in: "MSRP abcd1234 SEND\r\n" + hdrFrom + hdrTo + "-------abcd1234$\r\n", code: 400, want: ErrMissingPath, tid: "abcd1234"},
		{name: "to only", in: "MSRP abcd1234 SEND\r\n" + hdrTo + "-------abcd1234$\r\n", code: 400, want: ErrMissingPath, tid: "abcd1234"},
		{name: "duplicate to-path", in: "MSRP abcd1234 SEND\r\n" + paths + hdrTo + "-------abcd1234$\r\n", code: 400, want: ErrMissingPath, tid: "abcd1234"},
		{name: "bad uri", in: "MSRP abcd1234 SEND\r\nTo-Path: http://x/\r\n" + hdrFrom + "-------abcd1234$\r\n", code: 400, want: ErrBadURI, tid: "abcd1234"},
		{name: "empty path", in: "MSRP abcd1234 SEND\r\nTo-Path:\r\n" + hdrFrom + "-------abcd1234$\r\n", code: 400, want: ErrBadURI, tid: "abcd1234"},
		{name: "bad message-id", in: "MSRP abcd1234 SEND\r\n" + paths + "Message-ID: ab\r\n-------abcd1234$\r\n", code: 400, want: ErrBadMessageID, tid: "abcd1234"},
		{name: "byte-range start 0", in: "MSRP abcd1234 SEND\r\n" + paths + "Byte-Range: 0-1/1\r\n-------abcd1234$\r\n", code: 400, want: ErrBadByteRange, tid: "abcd1234"},
		{name: "byte-range end > total", in: "MSRP abcd1234 SEND\r\n" + paths + "Byte-Range: 1-5/3\r\n-------abcd1234$\r\n", code: 400, want: ErrBadByteRange, tid: "abcd1234"},
		{name: "byte-range overflow", in: "MSRP abcd1234 SEND\r\n" + paths + "Byte-Range: 1-*/99999999999999999999\r\n-------abcd1234$\r\n", code: 400, want: ErrBadByteRange, tid: "abcd1234"},
		{name: "byte-range negative", in: "MSRP abcd1234 SEND\r\n" + paths + "Byte-Range: 1--5/*\r\n-------abcd1234$\r\n", code: 400, want: ErrBadByteRange, tid: "abcd1234"},
		{name: "duplicate byte-range", in: "MSRP abcd1234 SEND\r\n" + paths + "Byte-Range: 1-*/*\r\nbyte-range: 1-*/*\r\n-------abcd1234$\r\n", code: 400, want: ErrDuplicateHeader, tid: "abcd1234"},
		{name: "bad success-report", in: "MSRP abcd1234 SEND\r\n" + paths + "Success-Report: maybe\r\n-------abcd1234$\r\n", code: 400, want: ErrBadReportValue, tid: "abcd1234"},
		{name: "success-report partial", in: "MSRP abcd1234 SEND\r\n" + paths + "Success-Report: partial\r\n-------abcd1234$\r\n", code: 400, want: ErrBadReportValue, tid: "abcd1234"},
		{name: "bad status", in: "MSRP abcd1234 REPORT\r\n" + paths + "Status: 0 200\r\n-------abcd1234$\r\n", code: 400, want: ErrBadStatus, tid: "abcd1234"},
		{name: "no colon", in: "MSRP abcd1234 SEND\r\n" + paths + "Bogus header\r\n-------abcd1234$\r\n", code: 400, want: ErrBadHeader, tid: "abcd1234"},
		{name: "bad header name", in: "MSRP abcd1234 SEND\r\n" + paths + "X(y): 1\r\n-------abcd1234$\r\n", code: 400, want: ErrBadHeader, tid: "abcd1234"},
		{name: "control char in value", in: "MSRP abcd1234 SEND\r\n" + paths + "X-Y: a\x00b\r\n-------abcd1234$\r\n", code: 400, want: ErrBadHeader, tid: "abcd1234"},
		{name: "lf-only header line", in: "MSRP abcd1234 SEND\r\n" + paths + "X-Y: 1\n-------abcd1234$\r\n", code: 400, want: ErrBadLineEnd, tid: "abcd1234"},
		{name: "content-type not last", in: "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: text/plain\r\nContent-ID: <x>\r\n\r\nhi\r\n-------abcd1234$\r\n", code: 400, want: ErrContentTypeNotLast, tid: "abcd1234"},
		{name: "content-type without body", in: "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: text/plain\r\n-------abcd1234$\r\n", code: 400, want: ErrContentTypeNotLast, tid: "abcd1234"},
		{name: "body without content-type", in: "MSRP abcd1234 SEND\r\n" + paths + "\r\nhi\r\n-------abcd1234+\r\n", code: 400, want: ErrMissingContentType, tid: "abcd1234"},
		{name: "bad content-type", in: "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: text\r\n\r\nhi\r\n-------abcd1234$\r\n", code: 400, want: ErrBadContentType, tid: "abcd1234"},
		{name: "bad frame with body containing fake end-lines", in: "MSRP abcd1234 SEND\r\nFrom-Path: x\r\n\r\n-------abcd1234X\r\n\r\n-------abcd12345$\r\n\r\n-------abcd1234#\r\n", code: 400, want: ErrMissingPath, tid: "abcd1234"},

		// Recoverable: 413 over a limit.
		{name: "too many headers", lim: Limits{MaxHeaders: 4}, in: "MSRP abcd1234 SEND\r\n" + paths + "A: 1\r\nB: 2\r\nC: 3\r\n-------abcd1234$\r\n", code: 413, want: ErrTooManyHeaders, tid: "abcd1234"},
		{name: "too many headers with body", lim: Limits{MaxHeaders: 4}, in: "MSRP abcd1234 SEND\r\n" + paths + "A: 1\r\nB: 2\r\nC: 3\r\nContent-Type: a/b\r\n\r\nbody\r\n-------abcd1234+\r\n", code: 413, want: ErrTooManyHeaders, tid: "abcd1234"},
		{name: "header bytes", lim: Limits{MaxHeaderBytes: 200}, in: "MSRP abcd1234 SEND\r\n" + paths + "A: " + strings.Repeat("x", 150) + "\r\n-------abcd1234$\r\n", code: 413, want: ErrHeaderTooLarge, tid: "abcd1234"},
		{name: "header line too long", lim: Limits{MaxLineLength: 100}, in: "MSRP abcd1234 SEND\r\n" + paths + "A: " + strings.Repeat("x", 150) + "\r\n-------abcd1234$\r\n", code: 413, want: ErrLineTooLong, tid: "abcd1234"},
		{name: "header line beyond buffer", in: "MSRP abcd1234 SEND\r\n" + paths + "A: " + strings.Repeat("x", 70000) + "\r\n-------abcd1234$\r\n", code: 413, want: ErrLineTooLong, tid: "abcd1234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if tt.code != 0 {
				in += okFrame
			}
			for vname, mk := range readerVariants([]byte(in)) {
				got, err := readAllFrames(t, mk(), tt.lim, vname == "half")
				if tt.code == 0 {
					if len(got) != 0 || !errors.Is(err, tt.want) {
						t.Fatalf("%s: got %d frames, err %v; want close with %v", vname, len(got), err, tt.want)
					}
					var se *StatusError
					if errors.As(err, &se) {
						t.Fatalf("%s: fatal error is a StatusError: %v", vname, err)
					}
					continue
				}
				if err != io.EOF || len(got) != 2 {
					t.Fatalf("%s: got %d frames, final err %v; want 2 frames then EOF", vname, len(got), err)
				}
				var se *StatusError
				if !errors.As(got[0].err, &se) || se.Code != tt.code || !errors.Is(got[0].err, tt.want) {
					t.Fatalf("%s: err %v, want %d wrapping %v", vname, got[0].err, tt.code, tt.want)
				}
				if got[0].f.TID != tt.tid {
					t.Errorf("%s: partial frame TID %q, want %q", vname, got[0].f.TID, tt.tid)
				}
				if got[1].err != nil || got[1].f.TID != "okok1234" || string(got[1].body) != "fine" {
					t.Errorf("%s: following frame %+v body %q err %v", vname, got[1].f, got[1].body, got[1].err)
				}
			}
		})
	}
}

// TestReaderPartialFrameForResponse: a frame rejected with a StatusError
// still carries what Respond needs.
func TestReaderPartialFrameForResponse(t *testing.T) {
	in := "MSRP abcd1234 SEND\r\n" + paths + "Message-ID: m1234567\r\nByte-Range: 9-1/1\r\n-------abcd1234$\r\n"
	r := NewReader(strings.NewReader(in), Limits{})
	f, err := r.ReadFrame()
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 400 {
		t.Fatalf("err %v", err)
	}
	resp := Respond(f, se.Code, se.Comment)
	if err := resp.Check(); err != nil {
		t.Fatalf("response to partial frame invalid: %v", err)
	}
	if resp.ToPath[0].Host != "alicepc.example.com" || resp.FromPath[0].Host != "bob.example.com" {
		t.Errorf("response paths %v / %v", FormatPath(resp.ToPath), FormatPath(resp.FromPath))
	}
}

// TestReaderPartialFrameOfMalformedRequest: a malformed request keeps its
// method token and whatever paths parsed, wherever they were, so that it
// can be answered 400 (RFC 4975 §7.1.1, §10.2; hostile FINDINGS F1); a
// malformed response, or a start line with nothing after the tid, has no
// method and is not answered.
func TestReaderPartialFrameOfMalformedRequest(t *testing.T) {
	const to, from = "bob.example.com", "alicepc.example.com"
	tests := []struct {
		name     string
		in       string
		want     error
		method   string // "" means not a request
		to, from string // host of the first URI, "" for no path
	}{
		{"no method", "MSRP abcd1234\r\n" + paths + "-------abcd1234$\r\n", ErrBadStartLine, "", to, from},
		{"no method no headers", "MSRP abcd1234\r\n-------abcd1234$\r\n", ErrBadStartLine, "", "", ""},
		{"empty method", "MSRP abcd1234 \r\n" + paths + "-------abcd1234$\r\n", ErrBadStartLine, "", to, from},
		{"lowercase method", "MSRP abcd1234 send\r\n" + paths + "-------abcd1234$\r\n", ErrBadStartLine, "send", to, from},
		{"method with trailing junk", "MSRP abcd1234 SEND now\r\n" + paths + "-------abcd1234$\r\n", ErrBadStartLine, "SEND", to, from},
		{"method with digits", "MSRP abcd1234 SEND2\r\n" + paths + "-------abcd1234$\r\n", ErrBadStartLine, "SEND2", to, from},
		{"start line lf only", "MSRP abcd1234 SEND\n" + paths + "-------abcd1234$\r\n", ErrBadLineEnd, "SEND", to, from},
		{"non-numeric status", "MSRP abcd1234 2x0 OK\r\n" + paths + "-------abcd1234$\r\n", ErrBadStartLine, "", to, from},
		{"four-digit code", "MSRP abcd1234 2000\r\n" + paths + "-------abcd1234$\r\n", ErrBadStartLine, "", to, from},
		{"to-path not first", "MSRP abcd1234 SEND\r\nMessage-ID: m1234567\r\n" + paths + "-------abcd1234$\r\n", ErrMissingPath, "SEND", to, from},
		{"from before to", "MSRP abcd1234 SEND\r\n" + hdrFrom + hdrTo + "-------abcd1234$\r\n", ErrMissingPath, "SEND", to, from},
		{"from only", "MSRP abcd1234 SEND\r\n" + hdrFrom + "-------abcd1234$\r\n", ErrMissingPath, "SEND", "", from},
		{"no paths", "MSRP abcd1234 SEND\r\nMessage-ID: m1234567\r\n-------abcd1234$\r\n", ErrMissingPath, "SEND", "", ""},
		{"bad to-path uri", "MSRP abcd1234 SEND\r\nTo-Path: http://evil.example/\r\n" + hdrFrom + "-------abcd1234$\r\n", ErrBadURI, "SEND", "", from},
		{"bad from-path uri", "MSRP abcd1234 SEND\r\n" + hdrTo + "From-Path: http://evil.example/\r\n-------abcd1234$\r\n", ErrBadURI, "SEND", to, ""},
		{"first of two from-paths", "MSRP abcd1234 SEND\r\nMessage-ID: m1234567\r\n" + hdrFrom + "From-Path: msrp://other.example.com:1/x;tcp\r\n" + hdrTo + "-------abcd1234$\r\n", ErrMissingPath, "SEND", to, from},
		{"lowercase names out of order", "MSRP abcd1234 send\r\n" + strings.ToLower(hdrFrom[:10]) + hdrFrom[10:] + strings.ToLower(hdrTo[:8]) + hdrTo[8:] + "-------abcd1234$\r\n", ErrBadStartLine, "send", to, from},
		{"paths after a bad header", "MSRP abcd1234 SEND\r\nBogus header\r\n" + paths + "-------abcd1234$\r\n", ErrBadHeader, "SEND", to, from},
		{"lf-only path line skipped", "MSRP abcd1234 SEND\r\nMessage-ID: m1234567\r\n" + hdrTo + strings.TrimSuffix(hdrFrom, "\r\n") + "\n-------abcd1234$\r\n", ErrMissingPath, "SEND", to, ""},
		{"bad request with body", "MSRP abcd1234 send\r\n" + paths + "Content-Type: text/plain\r\n\r\nhi\r\n-------abcd1234$\r\n", ErrBadStartLine, "send", to, from},
	}
	host := func(p []URI) string {
		if len(p) == 0 {
			return ""
		}
		return p[0].Host
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for vname, mk := range readerVariants([]byte(tt.in + okFrame)) {
				got, err := readAllFrames(t, mk(), Limits{}, vname == "half")
				if err != io.EOF || len(got) != 2 {
					t.Fatalf("%s: got %d frames, final err %v; want 2 frames then EOF", vname, len(got), err)
				}
				f := got[0].f
				var se *StatusError
				if !errors.As(got[0].err, &se) || se.Code != 400 || !errors.Is(got[0].err, tt.want) {
					t.Fatalf("%s: err %v, want 400 wrapping %v", vname, got[0].err, tt.want)
				}
				if f.TID != "abcd1234" || f.Method != tt.method || f.IsRequest() != (tt.method != "") || f.StatusCode != 0 {
					t.Errorf("%s: TID %q Method %q IsRequest %v StatusCode %d, want method %q", vname, f.TID, f.Method, f.IsRequest(), f.StatusCode, tt.method)
				}
				if host(f.ToPath) != tt.to || host(f.FromPath) != tt.from || len(f.ToPath) > 1 || len(f.FromPath) > 1 {
					t.Errorf("%s: paths %q / %q, want hosts %q / %q", vname, FormatPath(f.ToPath), FormatPath(f.FromPath), tt.to, tt.from)
				}
				if got[1].err != nil || got[1].f.TID != "okok1234" {
					t.Errorf("%s: following frame %+v err %v", vname, got[1].f, got[1].err)
				}
			}
		})
	}
}

func TestReaderLiberal(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, f *Frame, body []byte)
	}{
		{"no space after colon", "MSRP abcd1234 SEND\r\nTo-Path:msrp://b.example.com:1/x;tcp\r\nFrom-Path:\tmsrp://a.example.com:2/y;tcp  \r\n-------abcd1234$\r\n",
			func(t *testing.T, f *Frame, _ []byte) {
				if f.ToPath[0].Host != "b.example.com" || f.FromPath[0].Port != 2 {
					t.Errorf("paths %+v %+v", f.ToPath, f.FromPath)
				}
			}},
		{"case-insensitive names and values", "MSRP abcd1234 SEND\r\nto-path: msrp://b.example.com:1/x;tcp\r\nFROM-PATH: msrp://a.example.com:2/y;tcp\r\nsuccess-report: YES\r\nFailure-Report: Partial\r\n-------abcd1234$\r\n",
			func(t *testing.T, f *Frame, _ []byte) {
				if !f.WantsSuccessReport() || f.FailureReportMode() != "partial" {
					t.Errorf("reports %q %q", f.SuccessReport, f.FailureReport)
				}
			}},
		{"response without comment", "MSRP abcd1234 200\r\n" + paths + "-------abcd1234$\r\n",
			func(t *testing.T, f *Frame, _ []byte) {
				if f.StatusCode != 200 || f.Comment != "" || f.IsRequest() {
					t.Errorf("%+v", f)
				}
			}},
		{"unknown method", "MSRP abcd1234 FROB\r\n" + paths + "-------abcd1234#\r\n",
			func(t *testing.T, f *Frame, _ []byte) {
				if f.Method != "FROB" || f.Flag != FlagAbort {
					t.Errorf("%+v", f)
				}
			}},
		{"keep-alive blank lines between frames", "\r\n\r\n\nMSRP abcd1234 SEND\r\n" + paths + "-------abcd1234$\r\n",
			func(t *testing.T, f *Frame, _ []byte) {
				if f.TID != "abcd1234" {
					t.Errorf("%+v", f)
				}
			}},
		{"unknown headers kept in order", "MSRP abcd1234 SEND\r\n" + paths + "Use-Path: msrps://r.example.com:1/x;tcp\r\nX-Ext: a: b\r\nContent-Disposition: render\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n-------abcd1234$\r\n",
			func(t *testing.T, f *Frame, body []byte) {
				if len(f.Headers) != 3 || f.Headers[1] != (Header{"X-Ext", "a: b"}) || f.Headers[2].Name != "Content-Disposition" {
					t.Errorf("headers %+v", f.Headers)
				}
				if v, ok := f.Header("use-path"); !ok || v != "msrps://r.example.com:1/x;tcp" {
					t.Errorf("Header(use-path) = %q %v", v, ok)
				}
				if f.ContentType != "text/plain; charset=utf-8" || string(body) != "hi" {
					t.Errorf("ct %q body %q", f.ContentType, body)
				}
			}},
		{"empty body with CRLF", "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: text/plain\r\n\r\n\r\n-------abcd1234$\r\n",
			func(t *testing.T, f *Frame, body []byte) {
				if !f.HasBody() || len(body) != 0 {
					t.Errorf("body %q", body)
				}
			}},
		{"empty body missing CRLF", "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: text/plain\r\n\r\n-------abcd1234$\r\n",
			func(t *testing.T, f *Frame, body []byte) {
				if !f.HasBody() || len(body) != 0 || f.Flag != FlagEnd {
					t.Errorf("body %q flag %q", body, f.Flag)
				}
			}},
		{"body with lookalike end-lines", "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: application/octet-stream\r\n\r\n" +
			"\r\n-------abcd12345$\r\n-------abcd1234\r\n\r\n-------abcd1234X\r\n\r\n-------abcd1234$x\r\n-------otherxx$\r\nx-------abcd1234$\r\n\r\r\n-------abcd1234+\r\n",
			func(t *testing.T, f *Frame, body []byte) {
				want := "\r\n-------abcd12345$\r\n-------abcd1234\r\n\r\n-------abcd1234X\r\n\r\n-------abcd1234$x\r\n-------otherxx$\r\nx-------abcd1234$\r\n\r"
				if string(body) != want || f.Flag != FlagMore {
					t.Errorf("body %q flag %c\nwant %q", body, f.Flag, want)
				}
			}},
		{"body is CRLFs", "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: a/b\r\n\r\n\r\n\r\n\r\n\r\n-------abcd1234$\r\n",
			func(t *testing.T, f *Frame, body []byte) {
				if string(body) != "\r\n\r\n\r\n" {
					t.Errorf("body %q", body)
				}
			}},
		{"binary body", "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: a/b\r\n\r\n\x00\xff\r\x80-------\r\n-------abcd1234$\r\n",
			func(t *testing.T, f *Frame, body []byte) {
				if string(body) != "\x00\xff\r\x80-------" {
					t.Errorf("body %q", body)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for vname, mk := range readerVariants([]byte(tt.in)) {
				got, err := readAllFrames(t, mk(), Limits{}, vname != "onebyte")
				if err != io.EOF || len(got) != 1 || got[0].err != nil {
					t.Fatalf("%s: %d frames, err %v, frame err %v", vname, len(got), err, got)
				}
				tt.check(t, got[0].f, got[0].body)
			}
		})
	}
}

func TestReaderBodyLimits(t *testing.T) {
	big := strings.Repeat("x", 10241)
	in := "MSRP abcd1234 REPORT\r\n" + paths + "Message-ID: m1234567\r\nStatus: 000 200 OK\r\nContent-Type: text/plain\r\n\r\n" + big + "\r\n-------abcd1234$\r\n" +
		"MSRP abcd1235 SEND\r\n" + paths + "Content-Type: text/plain\r\n\r\n" + big + "\r\n-------abcd1235$\r\n" + okFrame
	for _, tt := range []struct {
		lim       Limits
		sendLimit bool
	}{{Limits{}, false}, {Limits{MaxChunkSize: 10240}, true}} {
		r := NewReader(strings.NewReader(in), tt.lim)
		f, err := r.ReadFrame()
		if err != nil || f.Method != "REPORT" {
			t.Fatal(f, err)
		}
		_, err = io.ReadAll(r)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != 413 || !errors.Is(err, ErrBodyTooLarge) {
			t.Fatalf("non-SEND body: %v", err)
		}
		if _, err2 := r.Read(make([]byte, 10)); err2 != err {
			t.Errorf("body error not sticky: %v", err2)
		}
		f, err = r.ReadFrame()
		if err != nil || f.TID != "abcd1235" {
			t.Fatal(f, err)
		}
		var n int
		for {
			seg, err := r.NextBodySegment()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !tt.sendLimit || !errors.Is(err, ErrChunkTooLarge) {
					t.Fatalf("SEND body: %v", err)
				}
				n = -1
				break
			}
			n += len(seg)
		}
		if !tt.sendLimit && n != len(big) {
			t.Errorf("SEND body %d octets", n)
		}
		if tt.sendLimit && n != -1 {
			t.Errorf("SEND body not limited")
		}
		f, err = r.ReadFrame()
		if err != nil || f.TID != "okok1234" {
			t.Fatal(f, err)
		}
		if b, _ := io.ReadAll(r); string(b) != "fine" {
			t.Errorf("body %q", b)
		}
	}
}

// TestReaderSkipsUnreadBody: ReadFrame discards the unread body of the
// previous frame, and the previous frame's Flag is then set.
func TestReaderSkipsUnreadBody(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 20000)
	in := "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: a/b\r\n\r\n" + string(body) + "\r\n-------abcd1234+\r\n" + okFrame
	for vname, mk := range readerVariants([]byte(in)) {
		r := NewReader(mk(), Limits{})
		f1, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, body[:100]) {
			t.Fatalf("%s: partial read %q %v", vname, buf, err)
		}
		f2, err := r.ReadFrame()
		if err != nil || f2.TID != "okok1234" {
			t.Fatalf("%s: %v %v", vname, f2, err)
		}
		if f1.Flag != FlagMore {
			t.Errorf("%s: skipped frame flag %q", vname, f1.Flag)
		}
		if n, err := r.Read(make([]byte, 0)); n != 0 || err != nil {
			t.Errorf("%s: zero-length Read = %d, %v", vname, n, err)
		}
	}
}

func TestReaderFatalSticky(t *testing.T) {
	r := NewReader(strings.NewReader("XMSRP\r\n"+okFrame), Limits{})
	_, err1 := r.ReadFrame()
	_, err2 := r.ReadFrame()
	var pe *ProtocolError
	if !errors.As(err1, &pe) || err2 != err1 {
		t.Errorf("errors %v / %v", err1, err2)
	}
	if _, err := r.NextBodySegment(); err != err1 {
		t.Errorf("NextBodySegment after fatal: %v", err)
	}
	if f, err := NewReader(strings.NewReader(""), Limits{}).ReadFrame(); f != nil || err != io.EOF {
		t.Errorf("empty stream: %v %v", f, err)
	}
}

// TestReaderLimitBoundaries: each limit admits exactly its value.
func TestReaderLimitBoundaries(t *testing.T) {
	// Non-SEND body of exactly 10240 octets (RFC 4975 §7.1) passes.
	body := strings.Repeat("r", 10240)
	in := "MSRP abcd1234 REPORT\r\n" + paths + "Message-ID: m1234567\r\nStatus: 000 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body + "\r\n-------abcd1234$\r\n"
	got, err := readAllFrames(t, strings.NewReader(in), Limits{}, true)
	if err != io.EOF || len(got) != 1 || got[0].err != nil || len(got[0].body) != 10240 {
		t.Fatalf("10240-octet REPORT body: %v %v", got, err)
	}
	// MaxChunkSize admits a body of exactly its size.
	in = "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: a/b\r\n\r\n" + strings.Repeat("s", 100) + "\r\n-------abcd1234$\r\n"
	if got, err := readAllFrames(t, strings.NewReader(in), Limits{MaxChunkSize: 100}, false); err != io.EOF || len(got) != 1 {
		t.Fatalf("100-octet chunk with MaxChunkSize 100: %v", err)
	}
	// MaxHeaders counts header lines (not the start line).
	in = "MSRP abcd1234 SEND\r\n" + paths + "A: 1\r\n-------abcd1234$\r\n"
	if got, err := readAllFrames(t, strings.NewReader(in), Limits{MaxHeaders: 3}, false); err != io.EOF || len(got) != 1 || got[0].err != nil {
		t.Fatalf("3 headers with MaxHeaders 3: %v %v", got, err)
	}
	if got, _ := readAllFrames(t, strings.NewReader(in), Limits{MaxHeaders: 2}, false); len(got) != 1 || !errors.Is(got[0].err, ErrTooManyHeaders) {
		t.Fatalf("3 headers with MaxHeaders 2: %v", got)
	}
	// MaxLineLength counts the CRLF.
	line := "X: " + strings.Repeat("v", 95) + "\r\n" // 100 octets
	in = "MSRP abcd1234 SEND\r\n" + paths + line + "-------abcd1234$\r\n"
	lim := Limits{MaxLineLength: 100}
	if got, err := readAllFrames(t, strings.NewReader(in), lim, false); err != io.EOF || len(got) != 1 || got[0].err != nil {
		t.Fatalf("100-octet line with MaxLineLength 100: %v %v", got, err)
	}
	lim.MaxLineLength = 99
	if got, _ := readAllFrames(t, strings.NewReader(in), lim, false); len(got) != 1 || !errors.Is(got[0].err, ErrLineTooLong) {
		t.Fatalf("100-octet line with MaxLineLength 99: %v", got)
	}
	// MaxHeaderBytes counts the start line and header lines.
	head := "MSRP abcd1234 SEND\r\n" + paths
	in = head + "-------abcd1234$\r\n"
	if got, err := readAllFrames(t, strings.NewReader(in), Limits{MaxHeaderBytes: len(head)}, false); err != io.EOF || len(got) != 1 || got[0].err != nil {
		t.Fatalf("head of exactly MaxHeaderBytes: %v %v", got, err)
	}
	if got, _ := readAllFrames(t, strings.NewReader(in), Limits{MaxHeaderBytes: len(head) - 1}, false); len(got) != 1 || !errors.Is(got[0].err, ErrHeaderTooLarge) {
		t.Fatalf("head over MaxHeaderBytes: %v", got)
	}
}

// TestReaderLargeLimits: limits above the default buffer size work (the
// buffer grows to hold a whole head).
func TestReaderLargeLimits(t *testing.T) {
	long := "X-Long: " + strings.Repeat("v", 100000) + "\r\n"
	in := "MSRP abcd1234 SEND\r\n" + paths + long + strings.Repeat("Y: 1\r\n", 100) + "-------abcd1234$\r\n"
	lim := Limits{MaxLineLength: 200000, MaxHeaderBytes: 300000, MaxHeaders: 200}
	for vname, mk := range readerVariants([]byte(in)) {
		got, err := readAllFrames(t, mk(), lim, false)
		if err != io.EOF || len(got) != 1 || got[0].err != nil || len(got[0].f.Headers) != 101 {
			t.Fatalf("%s: %v %v", vname, got, err)
		}
	}
}

// TestReaderReadSmallBuffer reads a body through Read with tiny buffers.
func TestReaderReadSmallBuffer(t *testing.T) {
	body := strings.Repeat("0123456789\r\n-------abcd123", 500)
	in := "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: a/b\r\n\r\n" + body + "\r\n-------abcd1234+\r\n" + okFrame
	for vname, mk := range readerVariants([]byte(in)) {
		r := NewReader(mk(), Limits{})
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		p := make([]byte, 7)
		for {
			n, err := r.Read(p)
			got = append(got, p[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if string(got) != body || f.Flag != FlagMore {
			t.Fatalf("%s: body mismatch (%d octets), flag %q", vname, len(got), f.Flag)
		}
		if n, err := r.Read(p); n != 0 || err != io.EOF {
			t.Errorf("%s: Read after EOF: %d %v", vname, n, err)
		}
		if f2, err := r.ReadFrame(); err != nil || f2.TID != "okok1234" {
			t.Fatalf("%s: next frame %v %v", vname, f2, err)
		}
	}
}

// TestReaderPathCache: frames sharing a path string get equal but
// independent URIs; a changed path is parsed again.
func TestReaderPathCache(t *testing.T) {
	other := "MSRP abcd1235 SEND\r\nTo-Path: msrp://other.example.com:1/zz;tcp;p=1\r\n" + hdrFrom + "-------abcd1235$\r\n"
	in := okFrame + okFrame + other + other + okFrame
	got, err := readAllFrames(t, strings.NewReader(in), Limits{}, true)
	if err != io.EOF || len(got) != 5 {
		t.Fatal(got, err)
	}
	got[0].f.ToPath[0].Host = "mutated"
	if got[1].f.ToPath[0].Host != "bob.example.com" || got[4].f.ToPath[0].Host != "bob.example.com" {
		t.Errorf("frames share URI storage: %v", got[1].f.ToPath)
	}
	if got[2].f.ToPath[0].Host != "other.example.com" || got[2].f.ToPath[0].Params[0] != "p=1" {
		t.Errorf("changed path not re-parsed: %+v", got[2].f.ToPath)
	}
	got[2].f.ToPath[0].Params[0] = "q=2"
	if got[3].f.ToPath[0].Params[0] != "p=1" {
		t.Errorf("URI parameters shared between frames")
	}
}

// TestReadFrameInto reads every golden stream and the recoverable
// malformed cases with one reused Frame and compares with ReadFrame.
func TestReadFrameInto(t *testing.T) {
	inputs := []string{okFrame + "MSRP abcd1234 SEND\r\nFrom-Path: x\r\n\r\nbody\r\n-------abcd1234#\r\n" + okFrame}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.msrp"))
	for _, name := range files {
		inputs = append(inputs, string(mustRead(t, filepath.Base(name))))
	}
	for _, in := range inputs {
		want, werr := readAllFrames(t, strings.NewReader(in), Limits{}, true)
		r := NewReader(strings.NewReader(in), Limits{})
		var f Frame
		for i := 0; ; i++ {
			err := r.ReadFrameInto(&f)
			if i == len(want) {
				if err != werr {
					t.Fatalf("final error %v, want %v", err, werr)
				}
				break
			}
			if !sameErr(err, want[i].err) {
				t.Fatalf("frame %d: err %v, want %v", i, err, want[i].err)
			}
			var body []byte
			if err == nil && f.HasBody() {
				body, _ = io.ReadAll(r)
			}
			if !reflect.DeepEqual(f, *want[i].f) || !bytes.Equal(body, want[i].body) {
				t.Fatalf("frame %d:\n got %+v %q\nwant %+v %q", i, f, body, *want[i].f, want[i].body)
			}
		}
	}
	// An unread body is skipped before f is reused; the next frame's flag
	// is its own.
	in := "MSRP abcd1234 SEND\r\n" + paths + "Content-Type: a/b\r\n\r\nbody\r\n-------abcd1234#\r\n" +
		"MSRP abcd1235 SEND\r\n" + paths + "Content-Type: a/b\r\n\r\nbody\r\n-------abcd1235$\r\n"
	r := NewReader(strings.NewReader(in), Limits{})
	var f Frame
	if err := r.ReadFrameInto(&f); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadFrameInto(&f); err != nil || f.TID != "abcd1235" || f.Flag != 0 {
		t.Fatalf("%+v %v: flag should be unset until the body is read", f, err)
	}
	io.ReadAll(r)
	if f.Flag != FlagEnd {
		t.Errorf("flag %q", f.Flag)
	}
}

// TestReaderSplitIndependence: how an over-long header line is skipped
// does not depend on where reads end (regression: a whole read consumed
// the full line and saw the end-line after its bare LF, a split read did
// not).
func TestReaderSplitIndependence(t *testing.T) {
	for _, in := range []string{
		"MSRP abcd1234 SEND\r\n" + paths + "A: " + strings.Repeat("x", 150) + "\n-------abcd1234$\r\n" + okFrame,
		"MSRP abcd1234 SEND\r\n" + paths + "A: " + strings.Repeat("x", 150) + "\r\n-------abcd1234$\r\n" + okFrame,
		"MSRP abcd1234 SEND\r\n" + paths + "A: " + strings.Repeat("x", 96) + "\r\n-------abcd1234$\r\n" + okFrame,
	} {
		var ref string
		for vname, mk := range readerVariants([]byte(in)) {
			got, err := readAllFrames(t, mk(), Limits{MaxLineLength: 100}, true)
			desc := ""
			for _, g := range got {
				desc += g.f.TID + " " + string(g.body) + " "
				if g.err != nil {
					desc += g.err.Error()
				}
				desc += "|"
			}
			desc += err.Error()
			if ref == "" {
				ref = desc
			} else if desc != ref {
				t.Errorf("%s: %s\nother variant: %s", vname, desc, ref)
			}
		}
	}
}
