package msrp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-im/parley/session"
)

// Bodies of the hostile corpus (FINDINGS F2) that package cpim rejects.
const (
	cpimUnknownPrefix = "From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\nzz.Secret: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhi"
	cpimNoInnerType   = "From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\n\r\n\r\nhi"
	cpimGood          = "From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nfine"
)

// TestMalformedCPIMRefused: a message/cpim body that does not parse is
// answered 400, not 200, and not delivered (FINDINGS F2). Whole in one
// chunk (fast path or not) the 400 says it all; chunked, the earlier
// chunks were answered 200, so a failure REPORT 400 follows as Failure-
// Report allows (RFC 4975 §7.1.4). A well-formed message after it is the
// next one Receive returns, with its CPIM parsed.
func TestMalformedCPIMRefused(t *testing.T) {
	type chunk struct {
		br   ByteRange
		flag Flag
		body string
	}
	split := func(b string, at int) []chunk {
		n := int64(len(b))
		return []chunk{{ByteRange{1, int64(at), n}, FlagMore, b[:at]}, {ByteRange{int64(at) + 1, n, n}, FlagEnd, b[at:]}}
	}
	whole := func(b string) []chunk { return []chunk{{ByteRange{1, int64(len(b)), int64(len(b))}, FlagEnd, b}} }
	for _, tc := range []struct {
		name   string
		fr     string // Failure-Report of every chunk
		chunks []chunk
		codes  []int // response to each chunk, 0 for none
		report bool  // a failure REPORT 400 follows
	}{
		{"unknown prefix, one chunk", "", whole(cpimUnknownPrefix), []int{400}, false},
		{"no inner type, one chunk", "", whole(cpimNoInnerType), []int{400}, false},
		{"unknown total, one chunk", "", []chunk{{ByteRange{1, Unknown, Unknown}, FlagEnd, cpimUnknownPrefix}}, []int{400}, false},
		{"one chunk, partial", "partial", whole(cpimNoInnerType), []int{400}, true},
		{"one chunk, no", "no", whole(cpimNoInnerType), []int{0}, false},
		{"two chunks", "", split(cpimUnknownPrefix, 30), []int{200, 400}, true},
		{"two chunks, yes", "yes", split(cpimNoInnerType, 10), []int{200, 400}, true},
		{"two chunks, partial", "partial", split(cpimNoInnerType, 10), []int{0, 400}, true},
		{"two chunks, no", "no", split(cpimUnknownPrefix, 30), []int{0, 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestEndpoint(t, Config{}, true)
			p, s := newRawPassive(t, b, session.Options{})
			id := "badcpim" + tc.fr
			for i, c := range tc.chunks {
				tid := p.chunk(id, c.br, c.flag, c.body, func(f *Frame) {
					f.ContentType = "message/cpim"
					f.FailureReport = tc.fr
				})
				if tc.codes[i] != 0 {
					p.expect(tid, tc.codes[i])
				}
			}
			if tc.report {
				f, _ := p.read()
				total := tc.chunks[0].br.Total
				last := tc.chunks[len(tc.chunks)-1].br
				if f.Method != MethodREPORT || f.MessageID != id || !f.HasStatus || f.Status.Code != 400 {
					t.Fatalf("got %s %s %d status %+v, want a failure REPORT 400", f.TID, f.Method, f.StatusCode, f.Status)
				}
				if got := f.ByteRange; !f.HasByteRange || got.Start != last.Start || got.End != total || got.Total != total {
					t.Errorf("REPORT Byte-Range %+v, want %d-%d/%d", got, last.Start, total, total)
				}
			}
			// Nothing else was sent.
			if got := p.probe(); len(got) != 0 {
				t.Fatalf("unexpected %s %s %d", got[0].TID, got[0].Method, got[0].StatusCode)
			}
			// Not delivered: the next message Receive returns is this one.
			p.expect(p.chunk("goodcpim", ByteRange{1, int64(len(cpimGood)), int64(len(cpimGood))}, FlagEnd, cpimGood,
				func(f *Frame) { f.ContentType = "message/cpim" }), 200)
			in := recv(t, s)
			if in.ID != "goodcpim" || in.CPIM == nil || string(in.CPIM.Body()) != "fine" {
				t.Fatalf("received %s (CPIM %v), want goodcpim", in.ID, in.CPIM != nil)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if in, err := s.Receive(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Receive: %v %v, want nothing more", in, err)
			}
		})
	}
}

// TestMalformedCPIMFailsSender: a Parley sender of a malformed CPIM object
// (sent raw, as message/cpim) sees its Delivery fail with 400.
func TestMalformedCPIMFailsSender(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{}, session.Options{})
	d, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "message/cpim", Body: []byte(cpimUnknownPrefix)})
	if err != nil {
		t.Fatal(err)
	}
	if r := wait(t, d); r.Outcome != session.Failed || r.Status != 400 {
		t.Fatalf("outcome %v status %d (%v), want failed 400", r.Outcome, r.Status, r.Err)
	}
	if _, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", Body: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if in := recv(t, sb); string(in.Body) != "after" {
		t.Fatalf("got %q", in.Body)
	}
}
