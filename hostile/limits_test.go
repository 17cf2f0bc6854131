package hostile

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// TestInFlightMessagesPerSession: a session peer that starts many messages
// and finishes none is refused with 413 once 64 are in progress, memory
// stays bounded, and the connection stays usable.
func TestInFlightMessagesPerSession(t *testing.T) {
	ep, addr := newEndpoint(t, msrp.Config{})
	rs := openRawSession(t, ep, addr, answerOpts)
	h0 := heapAlloc()
	const n = 100
	codes := map[int]int{}
	first413 := -1
	for i := range n {
		f := &msrp.Frame{TID: fmt.Sprintf("infl%04d", i), Method: msrp.MethodSEND, ToPath: []msrp.URI{rs.to},
			FromPath: []msrp.URI{rs.peer.self}, MessageID: fmt.Sprintf("msg%05d", i), ContentType: "text/plain",
			ByteRange: msrp.ByteRange{Start: 1, End: msrp.Unknown, Total: 60000}, HasByteRange: true, Flag: msrp.FlagMore}
		body := make([]byte, 4096)
		rs.peer.writeFrame(f, body)
		resp, err := rs.peer.response(f.TID, reactionTimeout)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		codes[resp.StatusCode]++
		if resp.StatusCode == 413 && first413 < 0 {
			first413 = i
		}
	}
	t.Logf("responses: %v; first 413 at message %d", codes, first413)
	if first413 != 64 || codes[200] != 64 || codes[413] != n-64 {
		t.Errorf("want 64 messages accepted then 413, got %v (first 413 at %d)", codes, first413)
	}
	if h1 := heapAlloc(); h1 > h0+16<<20 {
		t.Errorf("heap grew from %d to %d", h0, h1)
	}
	// Still in sync: a further message is answered (413, the session's
	// 64 slots being taken by the peer's own unfinished messages).
	if err := probe(rs.peer, []msrp.URI{rs.to}); err == nil || err.Error() != "probe answered 413" {
		t.Errorf("probe while 64 messages are in progress: %v, want a 413", err)
	}
}

// TestSessionBoundElsewhere506: a second connection that names a session
// bound to another connection gets 506 (RFC 4975 §5.4), and nothing it
// sends reaches the session.
func TestSessionBoundElsewhere506(t *testing.T) {
	ep, addr := newEndpoint(t, msrp.Config{})
	rs := openRawSession(t, ep, addr, answerOpts)
	before := rs.received.Load()
	intruder := dialPeer(t, addr)
	f := &msrp.Frame{TID: hxTID, Method: msrp.MethodSEND, ToPath: []msrp.URI{rs.to}, FromPath: []msrp.URI{rs.peer.self},
		MessageID: "intruder01", ContentType: "text/plain", Flag: msrp.FlagEnd}
	intruder.writeFrame(f, []byte("injected"))
	resp, err := intruder.response(hxTID, reactionTimeout)
	if err != nil || resp.StatusCode != 506 {
		t.Fatalf("want 506, got %v %v", resp, err)
	}
	// The real peer's connection still works, and got nothing extra.
	if err := probe(rs.peer, []msrp.URI{rs.to}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(reactionTimeout)
	for rs.received.Load() < before+1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := rs.received.Load() - before; got != 1 {
		t.Fatalf("session received %d messages, want only the probe", got)
	}
}

// TestTooFragmented: one message sent as 1,100 disjoint one-octet chunks
// (every other octet, out of order being legal, §7.3.1) is refused with 413
// once MaxFragments ranges are tracked, in bounded memory.
func TestTooFragmented(t *testing.T) {
	ep, addr := newEndpoint(t, msrp.Config{})
	rs := openRawSession(t, ep, addr, answerOpts)
	h0 := heapAlloc()
	const n = msrp.MaxFragments + 76
	first413 := -1
	for i := range n {
		pos := int64(2*i + 1)
		f := &msrp.Frame{TID: fmt.Sprintf("frag%05d", i), Method: msrp.MethodSEND, ToPath: []msrp.URI{rs.to},
			FromPath: []msrp.URI{rs.peer.self}, MessageID: "fragmented1", ContentType: "text/plain",
			ByteRange: msrp.ByteRange{Start: pos, End: pos, Total: 2 * n}, HasByteRange: true, Flag: msrp.FlagMore}
		rs.peer.writeFrame(f, []byte("x"))
		resp, err := rs.peer.response(f.TID, reactionTimeout)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if resp.StatusCode == 413 {
			first413 = i
			break
		}
		if resp.StatusCode != 200 {
			t.Fatalf("chunk %d: %d", i, resp.StatusCode)
		}
	}
	if first413 != msrp.MaxFragments {
		t.Fatalf("first 413 at chunk %d, want %d", first413, msrp.MaxFragments)
	}
	if h1 := heapAlloc(); h1 > h0+8<<20 {
		t.Errorf("heap grew from %d to %d", h0, h1)
	}
	if err := probe(rs.peer, []msrp.URI{rs.to}); err != nil {
		t.Fatal(err)
	}
}
