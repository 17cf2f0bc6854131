package hostile

import (
	"fmt"
	"testing"

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
