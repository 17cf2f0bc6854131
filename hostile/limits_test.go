package hostile

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/msrp/relay"
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

// TestRelayLimitsFromOutside checks the relay limits SECURITY.md lists:
// Use-Path URLs per connection, connections per address, and AUTH
// failures before the connection is closed.
func TestRelayLimitsFromOutside(t *testing.T) {
	s := startRelay(t, relay.Config{MaxSessionsPerConn: 5, MaxConnsPerAddr: 8})
	t.Run("urls per connection", func(t *testing.T) {
		p := dialPeer(t, s.URI().HostPort())
		var last error
		granted := 0
		for range 7 {
			_, err := msrp.Authenticate(testCtx(t), p, s.URI(), msrp.Credentials{Username: "alice", Password: "alice-pw"},
				msrp.AuthOptions{From: p.self})
			if err != nil {
				last = err
				break
			}
			granted++
		}
		if granted != 5 || !errors.Is(last, msrp.ErrAuthForbidden) {
			t.Fatalf("granted %d URLs on one connection, then %v; want 5 then ErrAuthForbidden", granted, last)
		}
	})
	t.Run("auth failures", func(t *testing.T) {
		p := dialPeer(t, s.URI().HostPort())
		for i := range relay.DefaultMaxAuthFailures {
			_, err := msrp.Authenticate(testCtx(t), p, s.URI(), msrp.Credentials{Username: "alice", Password: "guess"},
				msrp.AuthOptions{From: p.self})
			if !errors.Is(err, msrp.ErrAuthRejected) && !(i == relay.DefaultMaxAuthFailures-1 && err != nil) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		if !p.closed(reactionTimeout) {
			t.Fatalf("connection still open after %d wrong passwords", relay.DefaultMaxAuthFailures)
		}
	})
	t.Run("connections per address", func(t *testing.T) {
		// Wait for the previous subtests' connections to be gone.
		waitOpen := func(n int64) {
			deadline := time.Now().Add(reactionTimeout)
			for s.Metrics().ConnectionsOpen != n && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := s.Metrics().ConnectionsOpen; got != n {
				t.Fatalf("%d connections open, want %d", got, n)
			}
		}
		waitOpen(0)
		var ps []*peer
		for range 8 {
			ps = append(ps, dialPeer(t, s.URI().HostPort()))
		}
		waitOpen(8)
		extra := dialPeer(t, s.URI().HostPort())
		if !extra.closed(reactionTimeout) {
			t.Fatalf("a 9th connection from one address was kept with MaxConnsPerAddr 8 (metrics %+v)", s.Metrics())
		}
		for _, p := range ps {
			p.close()
		}
	})
}
