package server

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

func cpimEndpoint(t *testing.T) *cpimtransport.Endpoint {
	t.Helper()
	ep, err := cpimtransport.NewEndpoint(cpimtransport.Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ep.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

// TestCPIMSessionThroughRelay: with a CPIM relay configured, the proxy
// rewrites the cpim/tcp offer and answer (seed draft §7) so that the
// session's messages pass through the relay, not endpoint to endpoint.
func TestCPIMSessionThroughRelay(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.CPIMRelay = "127.0.0.1:0"
	s := startServer(t, cfg, "alice", "bob")
	addr := s.sipAddr("tcp")
	calls := make(chan *sipua.Call, 1)
	aliceEP, bobEP := cpimEndpoint(t), cpimEndpoint(t)
	alice, _, err := newUA(t, addr, "alice", "alice-pw", true, func(c *sipua.Config) { c.Endpoints = []session.Endpoint{aliceEP} })
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := newUA(t, addr, "bob", "bob-pw", true, func(c *sipua.Config) {
		c.Endpoints = []session.Endpoint{bobEP}
		c.AutoAnswer = true
		c.OnCall = func(c *sipua.Call) { calls <- c }
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	ac, err := alice.Invite(ctx, "sip:bob@"+domain, sipua.InviteOptions{})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	var bc *sipua.Call
	select {
	case bc = <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("no call")
	}
	if r := ac.Session().Remote(); r.Proto != "cpim/tcp" || net.JoinHostPort(r.Address, strconv.Itoa(r.Port)) != s.Addrs().CPIMRelay {
		t.Errorf("caller's remote media %s %s:%d, want the relay %s", r.Proto, r.Address, r.Port, s.Addrs().CPIMRelay)
	}
	defer func() { t.Logf("relay stats %+v", s.cpim.Stats()) }()
	// The caller speaks first, before the callee has sent anything on
	// the connection it opened to the relay (it answered active): the
	// relay delivers on it without waiting to hear from the callee.
	exchange(t, ac, bc, "through the cpim relay")
	exchange(t, bc, ac, "and back")
	if st := s.cpim.Stats(); st.Forwarded < 2 {
		t.Errorf("relay forwarded %d messages, want 2", st.Forwarded)
	}
	if err := ac.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	<-bc.Done()
}
