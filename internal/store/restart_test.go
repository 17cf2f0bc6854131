package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/internal/testpeer"
)

// TestPostgresRestart restarts the PostgreSQL server under an open Store:
// the connection pool and the LISTEN connection recover by themselves, and
// the listener is told ("" marker) that it may have missed notifications.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and restarts its own PostgreSQL cluster (several seconds); not in -short")
	}
	dsn, ctl := testpeer.PrivatePostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.Listen(ctx, "parley_restart")
	if err != nil {
		t.Fatal(err)
	}
	rcpt := "sip:bob@example.com"
	if _, _, err := s.Enqueue(ctx, store.Message{Rcpt: rcpt, Sender: "sip:a@example.com", Body: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	// Keep several pool connections busy recently, so that some are reused
	// right after the restart.
	for range 5 {
		if _, err := s.Lookup(ctx, rcpt); err != nil {
			t.Fatal(err)
		}
	}

	ctl("restart")

	// The first calls after the restart succeed: dead pooled connections
	// are detected and replaced.
	for i := range 3 {
		if _, _, err := s.Enqueue(ctx, store.Message{Rcpt: rcpt, Sender: "sip:a@example.com", Body: []byte("after")}); err != nil {
			t.Fatalf("Enqueue %d after restart: %v", i, err)
		}
	}
	p, err := s.Pending(ctx, rcpt, 0)
	if err != nil || len(p) != 4 {
		t.Fatalf("Pending after restart = %d, %v; want 4", len(p), err)
	}
	// The listener reconnects and says so.
	select {
	case m := <-c:
		if m != "" {
			t.Errorf("first notification after restart = %q, want the \"\" resync marker", m)
		}
	case <-ctx.Done():
		t.Fatal("no resync marker after restart")
	}
	if err := s.Notify(ctx, "parley_restart", "hello again"); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-c:
		if m != "hello again" {
			t.Errorf("after restart got %q", m)
		}
	case <-ctx.Done():
		t.Fatal("no notification after restart")
	}

	// A longer outage: calls fail with an error (no hang) while the server
	// is down, and work again once it is back, without reopening.
	ctl("halt")
	short, cancelShort := context.WithTimeout(ctx, 15*time.Second)
	defer cancelShort()
	if _, _, err := s.Enqueue(short, store.Message{Rcpt: rcpt, Sender: "sip:a@example.com", Body: []byte("lost")}); err == nil {
		t.Error("Enqueue succeeded with the server down")
	}
	if _, err := s.Listen(short, "parley_outage"); err == nil {
		t.Error("Listen succeeded with the server down")
	}
	if short.Err() != nil {
		t.Error("calls with the server down waited for their context instead of failing")
	}
	ctl("start")
	if _, _, err := s.Enqueue(ctx, store.Message{Rcpt: rcpt, Sender: "sip:a@example.com", Body: []byte("back")}); err != nil {
		t.Fatalf("Enqueue after the outage: %v", err)
	}
	c2, err := s.Listen(ctx, "parley_outage")
	if err != nil {
		t.Fatalf("Listen after the outage: %v", err)
	}
	// The first listener gets its resync marker once its connection is back.
	for m := range c {
		if m == "" {
			break
		}
	}
	if err := s.Notify(ctx, "parley_outage", "up"); err != nil {
		t.Fatal(err)
	}
	// c2 may see a marker too: it subscribed while the listener was
	// reconnecting.
	for m := range c2 {
		if m != "" {
			if m != "up" {
				t.Errorf("after the outage got %q", m)
			}
			break
		}
	}
	if p, _ := s.Pending(ctx, rcpt, 0); len(p) != 5 {
		t.Errorf("Pending after the outage = %d, want 5", len(p))
	}
}
