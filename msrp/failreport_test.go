package msrp

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley/session"
)

// failingSink accepts limit octets, then fails every write.
type failingSink struct {
	limit, got int64
}

func (w *failingSink) WriteAt(p []byte, off int64) (int, error) {
	if w.got+int64(len(p)) > w.limit {
		return 0, errors.New("disk full")
	}
	w.got += int64(len(p))
	return len(p), nil
}

// TestFailureReportsGenerated: the endpoint sends a failure REPORT (RFC
// 4975 §7.1.4) when a message fails after a chunk of it was answered 200
// (the Sink failing mid-message) and for any failure under Failure-Report
// partial; never under "no", and not for a message refused on its first
// chunk with Failure-Report yes (the error response says it all). The
// REPORT's Byte-Range takes range-start and total from the chunk and
// range-end from the octets actually received.
func TestFailureReportsGenerated(t *testing.T) {
	type want struct {
		code       int      // error response, 0 for none
		report     bool     // a failure REPORT follows
		rng        [3]int64 // its Byte-Range
		reportCode int
		relayed    bool // the chunks come through a relay (two From-Path URIs)
	}
	for _, tc := range []struct {
		name   string
		fr     string // Failure-Report of every chunk
		chunks []string
		want   want
	}{
		{"sink fails on chunk 2, yes", "yes", []string{"0123456789", "abcdefghij"},
			want{code: 413, report: true, rng: [3]int64{11, 20, 30}, reportCode: 413}},
		{"sink fails on chunk 2, default", "", []string{"0123456789", "abcdefghij"},
			want{code: 413, report: true, rng: [3]int64{11, 20, 30}, reportCode: 413}},
		{"sink fails on chunk 2, partial", "partial", []string{"0123456789", "abcdefghij"},
			want{code: 413, report: true, rng: [3]int64{11, 20, 30}, reportCode: 413}},
		{"sink fails on chunk 2, no", "no", []string{"0123456789", "abcdefghij"},
			want{}},
		{"sink fails on chunk 1, yes", "yes", []string{"0123456789abcdefghij"},
			want{code: 413}},
		{"sink fails on chunk 1, partial", "partial", []string{"0123456789abcdefghij"},
			want{code: 413, report: true, rng: [3]int64{1, 20, 30}, reportCode: 413}},
		{"sink fails on chunk 1, yes, through a relay", "yes", []string{"0123456789abcdefghij"},
			want{code: 413, report: true, rng: [3]int64{1, 20, 30}, reportCode: 413, relayed: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestEndpoint(t, Config{}, true)
			sink := &failingSink{limit: 10}
			if len(tc.chunks) == 1 {
				sink.limit = 5
			}
			p, _ := newRawPassive(t, b, session.Options{MaxInMemory: 4,
				Sink: func(session.Info) (io.WriterAt, error) { return sink, nil }})
			id := "failmsg" + tc.fr
			relay := URI{Host: "127.0.0.1", Port: 2855, SessionID: "relaysession0001", Transport: "tcp"}
			var start int64 = 1
			var last string
			for i, c := range tc.chunks {
				last = p.chunk(id, ByteRange{start, Unknown, 30}, FlagMore, c, func(f *Frame) {
					f.FailureReport = tc.fr
					if tc.want.relayed {
						f.FromPath = []URI{relay, p.me}
					}
				})
				if i < len(tc.chunks)-1 && tc.fr != "partial" && tc.fr != "no" {
					p.expect(last, 200)
				}
				start += int64(len(c))
			}
			if tc.want.code != 0 {
				p.expect(last, tc.want.code)
			}
			if tc.want.report {
				f, body := p.read()
				if f.Method != MethodREPORT || f.MessageID != id || !f.HasStatus || f.Status.Code != tc.want.reportCode || f.Status.Namespace != 0 {
					t.Fatalf("got %s %s status %+v, want a failure REPORT %d", f.Method, f.MessageID, f.Status, tc.want.reportCode)
				}
				if got := [3]int64{f.ByteRange.Start, f.ByteRange.End, f.ByteRange.Total}; !f.HasByteRange || got != tc.want.rng {
					t.Fatalf("REPORT Byte-Range %v, want %v", got, tc.want.rng)
				}
				wantTo := []URI{p.me}
				if tc.want.relayed {
					wantTo = []URI{relay, p.me} // the whole path back (§7.1.3)
				}
				if !slices.EqualFunc(f.ToPath, wantTo, URI.Equal) || f.SuccessReport != "" || f.FailureReport != "" || len(body) != 0 {
					t.Fatalf("REPORT To-Path %v, report headers %q %q", f.ToPath, f.SuccessReport, f.FailureReport)
				}
			}
			// Nothing else was sent: the next frame answers a probe.
			p.expect(p.sendReq(&Frame{Method: MethodSEND, MessageID: "probe0001"}, nil), 200)
			// Later chunks of the failed message get the same error, with
			// no second REPORT.
			if tc.fr == "yes" {
				p.expect(p.chunk(id, ByteRange{21, 30, 30}, FlagEnd, "klmnopqrst", nil), 413)
				p.expect(p.sendReq(&Frame{Method: MethodSEND, MessageID: "probe0002"}, nil), 200)
			}
		})
	}
}

// TestFailureReportReachesSender: a Parley receiver whose Sink fails
// mid-message fails the sender's Delivery (by the error response, the
// failure REPORT being then ignored as the message is finished), and the
// session goes on.
func TestFailureReportReachesSender(t *testing.T) {
	a := newTestEndpoint(t, Config{MaxChunkSize: 4096}, false)
	b := newTestEndpoint(t, Config{}, true)
	sink := &failingSink{limit: 8192}
	sa, sb := pair(t, a, b, session.Options{}, session.Options{MaxInMemory: 1024,
		Sink: func(session.Info) (io.WriterAt, error) { return sink, nil }})
	d, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", Body: []byte(strings.Repeat("x", 20000))})
	if err != nil {
		t.Fatal(err)
	}
	if r := wait(t, d); r.Outcome != session.Failed || r.Status != 413 {
		t.Fatalf("outcome %v status %d (%v), want failed 413", r.Outcome, r.Status, r.Err)
	}
	if _, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", Body: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if in := recv(t, sb); string(in.Body) != "after" {
		t.Fatalf("got %q", in.Body)
	}
}
