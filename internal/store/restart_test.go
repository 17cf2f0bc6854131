package store_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/internal/testpeer"
)

// startCluster starts a private PostgreSQL cluster with .ci/postgres.sh
// (not the shared one of PARLEY_TEST_POSTGRES, since this test restarts it
// under the feet of other tests) and returns its DSN and a function running
// postgres.sh restart, halt or start on it.
func startCluster(t *testing.T) (dsn string, ctl func(cmd string)) {
	script, err := filepath.Abs("../../.ci/postgres.sh")
	if err != nil {
		t.Fatal(err)
	}
	// postgres.sh needs PostgreSQL's programs: skipped without them,
	// failed under CI (whose .ci/run installs them first).
	testpeer.Require(t, "initdb")
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_PG_DIR=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command("bash", script, "start")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("postgres.sh start: %v\n%s", err, stderr.String())
	}
	var dir string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		v = strings.Trim(v, "'")
		switch k {
		case "PARLEY_TEST_POSTGRES":
			dsn = v
		case "PARLEY_PG_DIR":
			dir = v
		}
	}
	if dsn == "" || dir == "" {
		t.Fatalf("postgres.sh printed %q", out)
	}
	t.Cleanup(func() {
		c := exec.Command("bash", script, "stop", dir)
		c.Env = env
		if out, err := c.CombinedOutput(); err != nil {
			t.Logf("postgres.sh stop: %v\n%s", err, out)
		}
	})
	ctl = func(cmd string) {
		c := exec.Command("bash", script, cmd, dir)
		c.Env = env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("postgres.sh %s: %v\n%s", cmd, err, out)
		}
	}
	return dsn, ctl
}

// TestPostgresRestart restarts the PostgreSQL server under an open Store:
// the connection pool and the LISTEN connection recover by themselves, and
// the listener is told ("" marker) that it may have missed notifications.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and restarts its own PostgreSQL cluster (several seconds); not in -short")
	}
	dsn, ctl := startCluster(t)
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
