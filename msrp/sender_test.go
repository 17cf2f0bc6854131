package msrp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parley-im/parley/session"
)

func TestCollision(t *testing.T) {
	marker := endMarker("abcd1234")
	for _, tc := range []struct {
		name       string
		tail, p    string
		want       int
		wantExists bool
	}{
		{"none", "", "hello world", -1, false},
		{"in piece", "", "xx-------abcd1234$yy", 2, true},
		{"at start", "", "-------abcd1234+", 0, true},
		{"across boundary", "zz----", "---abcd1234", 0, true},
		{"tail only prefix", "------", "-x", -1, false},
		{"other tid", "", "-------abcd1235$", -1, false},
		{"split late", "zz-------abcd12", "34$", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := collision([]byte(tc.tail), []byte(tc.p), marker)
			if got != tc.want {
				t.Fatalf("collision = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestKeepTail(t *testing.T) {
	var tail []byte
	for _, p := range []string{"ab", "cdef", "g", "hijklmnop"} {
		tail = keepTail(tail, []byte(p), 5)
	}
	if string(tail) != "lmnop" {
		t.Fatalf("tail %q", tail)
	}
	if got := keepTail(nil, []byte("xy"), 5); string(got) != "xy" {
		t.Fatalf("short tail %q", got)
	}
}

func TestPickTID(t *testing.T) {
	body := []byte(strings.Repeat("-------", 100))
	for range 100 {
		tid := pickTID(body)
		if !ValidIdent(tid) || ContainsEndLine(body, tid) {
			t.Fatalf("bad tid %q", tid)
		}
	}
}

func TestRangeSet(t *testing.T) {
	var rs rangeSet
	if rs.covers(0) {
		t.Fatal("empty message covered before any report")
	}
	rs.add(1, 0)
	if !rs.covers(0) {
		t.Fatal("1-0/0 report does not cover the empty message")
	}
	rs = rangeSet{}
	for _, r := range [][2]int64{{5, 8}, {1, 2}, {10, 12}, {3, 4}, {9, 9}, {0, 3}, {7, 6}} {
		rs.add(r[0], r[1])
	}
	if !rs.covers(12) || rs.covers(13) || rs.size() != 12 || len(rs.r) != 1 {
		t.Fatalf("ranges %v", rs.r)
	}
	rs.add(20, 30)
	if rs.covers(30) || rs.size() != 23 {
		t.Fatalf("ranges %v", rs.r)
	}
}

func TestMayRespond(t *testing.T) {
	for _, tc := range []struct {
		method, fr string
		code       int
		want       bool
	}{
		{MethodSEND, "", 200, true},
		{MethodSEND, "yes", 413, true},
		{MethodSEND, "no", 200, false},
		{MethodSEND, "no", 481, false},
		{MethodSEND, "partial", 200, false},
		{MethodSEND, "partial", 415, true},
		{MethodREPORT, "", 200, false},
		{MethodREPORT, "", 481, false},
		{"FOO", "", 501, true},
	} {
		f := &Frame{Method: tc.method, FailureReport: tc.fr}
		if got := mayRespond(f, tc.code); got != tc.want {
			t.Errorf("%s Failure-Report %q code %d: %v", tc.method, tc.fr, tc.code, got)
		}
	}
}

// TestFairInterleaving: two large messages queued together on one
// session are interleaved chunk by chunk, and every chunk over 2048
// octets is interruptible (RFC 4975 §7.1, §7.1.1).
func TestFairInterleaving(t *testing.T) {
	a := newTestEndpoint(t, Config{ChunkSize: 16 << 10}, true)
	p, s := newRawActive(t, a, session.Options{})
	ctx := testCtx(t)
	// Large enough to fill the socket buffers, so that the second message
	// is queued while the first is still being written.
	const size = 16 << 20
	ids := map[string]bool{}
	for i := range 2 {
		d, err := s.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream", Body: bytes.Repeat([]byte{byte('A' + i)}, size)})
		if err != nil {
			t.Fatal(err)
		}
		ids[d.ID()] = true
	}
	got := map[string]int64{}
	var order []string
	for len(got) < 2 || got[order[0]] < size || got[order[len(order)-1]] < size {
		f, body := p.read()
		if !ids[f.MessageID] {
			t.Fatalf("unexpected %s %s", f.Method, f.MessageID)
		}
		p.respond(f, 200)
		if f.ByteRange.Start != got[f.MessageID]+1 {
			t.Fatalf("%s: chunk at %d after %d octets", f.MessageID, f.ByteRange.Start, got[f.MessageID])
		}
		if len(body) > maxUninterruptible && f.ByteRange.End != Unknown {
			t.Fatalf("chunk of %d octets with range-end %d", len(body), f.ByteRange.End)
		}
		got[f.MessageID] += int64(len(body))
		if len(order) == 0 || order[len(order)-1] != f.MessageID {
			order = append(order, f.MessageID)
		}
		if f.Flag == FlagEnd && got[f.MessageID] != size {
			t.Fatalf("'$' after %d octets", got[f.MessageID])
		}
		if len(got) == 2 && got[order[0]] == size && got[order[1]] == size {
			break
		}
	}
	if len(order) < 10 {
		t.Fatalf("messages not interleaved: %d runs", len(order))
	}
}

// TestBodyWithEndLineLookalikes: bodies full of "-------" sequences (and a
// real end-line of some other tid) arrive intact.
func TestBodyWithEndLineLookalikes(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{}, session.Options{})
	var body []byte
	for i := range 20000 {
		body = append(body, "\r\n-------"...)
		body = append(body, NewTransactionID()[:i%14]...)
		body = append(body, "$+#"[i%3])
	}
	for _, streamed := range []bool{false, true} {
		o := &session.Outgoing{ContentType: "application/octet-stream", Body: body}
		if streamed {
			o = &session.Outgoing{ContentType: "application/octet-stream", BodyReader: bytes.NewReader(body), Size: int64(len(body))}
		}
		if _, err := sa.Send(testCtx(t), o); err != nil {
			t.Fatal(err)
		}
		if in := recv(t, sb); !bytes.Equal(in.Body, body) {
			t.Fatalf("streamed=%v: body corrupted (%d vs %d octets)", streamed, len(in.Body), len(body))
		}
	}
}
