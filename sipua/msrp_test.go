package sipua

import (
	"bytes"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
)

// msrpEndpoint returns a real MSRP endpoint (package msrp) listening on
// loopback port 0, closed at the end of the test.
func msrpEndpoint(t *testing.T) *msrp.Endpoint {
	t.Helper()
	ep, err := msrp.NewEndpoint(msrp.Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ep.Listen(t.Context(), "tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

// TestMSRPSession runs session mode and large-message mode over real MSRP
// sessions negotiated through package session.
func TestMSRPSession(t *testing.T) {
	calls := make(chan *Call, 1)
	box := newInbox()
	// Cleanups run last-in first-out: the UAs close before their
	// endpoints.
	bobEP, aliceEP := msrpEndpoint(t), msrpEndpoint(t)
	bob := testUA(t, Config{AOR: "sip:bob@example.com", Endpoints: []session.Endpoint{bobEP}, OnInvite: acceptAll(t, calls), OnMessage: box.on}, TCP)
	alice := testUA(t, Config{AOR: "sip:alice@example.com", Endpoints: []session.Endpoint{aliceEP}}, TCP)

	ac, err := alice.Invite(ctxT(t, 10*time.Second), bob.URI(TCP), InviteOptions{Subject: "msrp"})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	bc := recvCall(t, calls)
	if p := ac.Session().Remote().Proto; p != "TCP/MSRP" {
		t.Errorf("proto = %q", p)
	}
	exchange(t, ac, bc, "hello over msrp")
	exchange(t, bc, ac, "and back")
	if err := ac.Hangup(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	select {
	case <-bc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("callee's call did not end")
	}

	body := bytes.Repeat([]byte("large message mode "), 400) // 7600 bytes
	res, err := alice.SendMessage(ctxT(t, 10*time.Second), bob.URI(TCP), "text/plain", body)
	if err != nil {
		t.Fatalf("large message: %v", err)
	}
	if res.Mode != LargeMessageMode || res.Disposition != Delivered {
		t.Errorf("result = %+v", res)
	}
	m := box.next(t)
	if !bytes.Equal(m.Body, body) || m.Mode != LargeMessageMode {
		t.Errorf("got %d bytes mode %v", len(m.Body), m.Mode)
	}
	waitNoCalls(t, alice, bob)
}
