package msrp

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-im/parley/session"
)

// TestFastPathSameAsAssembly: recvSEND's fast path for small whole
// messages decides exactly as the general path (Assembly) does, for well
// formed and odd chunks alike: each case runs with the fast path on and
// off and must produce the same responses, REPORTs and received messages.
func TestFastPathSameAsAssembly(t *testing.T) {
	type chunk struct {
		br   ByteRange
		flag Flag
		body string
		mod  func(*Frame)
	}
	sr := func(f *Frame) { f.SuccessReport = "yes" }
	for _, tc := range []struct {
		name   string
		opts   session.Options
		chunks []chunk
		want   string // with both paths
	}{
		{"whole", session.Options{}, []chunk{{ByteRange{1, 5, 5}, FlagEnd, "hello", nil}},
			"200;recv hello"},
		{"whole star end", session.Options{}, []chunk{{ByteRange{1, Unknown, 5}, FlagEnd, "hello", sr}},
			"200;REPORT 200 1-5/5;recv hello"},
		{"empty", session.Options{}, []chunk{{ByteRange{1, 0, 0}, FlagEnd, "", nil}},
			"200;recv "},
		{"short body", session.Options{}, []chunk{{ByteRange{1, Unknown, 6}, FlagEnd, "hello", nil}},
			"200;recv hello"}, // §7.3.1: the '$' chunk defines the length
		{"long body", session.Options{}, []chunk{{ByteRange{1, Unknown, 4}, FlagEnd, "hello", nil}}, "400"},
		{"first of two", session.Options{}, []chunk{{ByteRange{1, Unknown, 10}, FlagMore, "hello", nil}, {ByteRange{6, 10, 10}, FlagEnd, "world", nil}},
			"200;200;recv helloworld"},
		{"aborted", session.Options{}, []chunk{{ByteRange{1, Unknown, 5}, FlagAbort, "hel", nil}, {ByteRange{1, 5, 5}, FlagEnd, "hello", nil}},
			"200;200;recv hello"},
		{"over max-size", session.Options{MaxSize: 3}, []chunk{{ByteRange{1, 5, 5}, FlagEnd, "hello", nil}}, "413"},
		{"over memory", session.Options{MaxInMemory: 3}, []chunk{{ByteRange{1, 5, 5}, FlagEnd, "hello", nil}}, "413"},
		{"type refused, partial", session.Options{AcceptTypes: []string{"image/png"}}, []chunk{{ByteRange{1, 5, 5}, FlagEnd, "hello", func(f *Frame) { f.FailureReport = "partial" }}},
			"415;REPORT 415 1-5/5"},
		{"cpim inner refused", session.Options{AcceptTypes: []string{"message/cpim"}}, []chunk{{ByteRange{1, 49, 49}, FlagEnd,
			"Content-Type: message/cpim\r\n\r\nContent-Type: image/png\r\n\r\nx", func(f *Frame) { f.ContentType = "message/cpim" }}}, "415"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]string
			for i, fastMax := range []int64{64 << 10, -1} { // on, off
				got[i] = runChunks(t, tc.opts, fastMax, func(p *rawPeer) []string {
					var tids []string
					for _, c := range tc.chunks {
						mod := c.mod
						body := c.body
						if strings.HasPrefix(body, "Content-Type: message/cpim") {
							body = "From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\n\r\nContent-Type: image/png\r\n\r\nx"
							c.br = ByteRange{1, int64(len(body)), int64(len(body))}
						}
						tids = append(tids, p.chunk("fastmsg1", c.br, c.flag, body, mod))
					}
					return tids
				})
			}
			if got[0] != got[1] {
				t.Fatalf("fast path: %q\ngeneral path: %q", got[0], got[1])
			}
			if tc.want != "" && got[0] != tc.want {
				t.Fatalf("got %q, want %q", got[0], tc.want)
			}
			t.Logf("%s", got[0])
		})
	}
}

// runChunks sends chunks to a fresh passive session with the fast path
// bounded by fastMax and describes what came back: responses (by code),
// REPORTs and received bodies, in order, until a probe is answered.
func runChunks(t *testing.T, opts session.Options, fastMax int64, send func(*rawPeer) []string) string {
	t.Helper()
	old := maxFastWhole
	maxFastWhole = fastMax // read once, by NewEndpoint
	b := newTestEndpoint(t, Config{}, true)
	maxFastWhole = old
	p, s := newRawPassive(t, b, opts)
	send(p)
	probe := p.sendReq(&Frame{Method: MethodSEND, MessageID: "probe0001"}, nil)
	var out []string
	for {
		f, _ := p.read()
		if !f.IsRequest() && f.TID == probe {
			break
		}
		if f.IsRequest() {
			out = append(out, fmt.Sprintf("%s %d %d-%d/%d", f.Method, f.Status.Code, f.ByteRange.Start, f.ByteRange.End, f.ByteRange.Total))
		} else {
			out = append(out, fmt.Sprint(f.StatusCode))
		}
	}
	// Everything received was queued before the probe was answered; a
	// cancelled context makes Receive return only what is queued.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		in, err := s.Receive(ctx)
		if err != nil {
			break
		}
		out = append(out, "recv "+string(in.Body))
	}
	return strings.Join(out, ";")
}
