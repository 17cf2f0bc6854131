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
)

// startCluster starts a private PostgreSQL cluster with .ci/postgres.sh
// (not the shared one of PARLEY_TEST_POSTGRES, since this test restarts it
// under the feet of other tests) and returns its DSN and a restart function.
func startCluster(t *testing.T) (dsn string, restart func()) {
	script, err := filepath.Abs("../../.ci/postgres.sh")
	if err != nil {
		t.Fatal(err)
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 && os.Getenv("CI") != "true" {
		t.Skip("PostgreSQL is not installed (apt-get install postgresql); CI installs it")
	}
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
	restart = func() {
		c := exec.Command("bash", script, "restart", dir)
		c.Env = env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("postgres.sh restart: %v\n%s", err, out)
		}
	}
	return dsn, restart
}

// TestPostgresRestart restarts the PostgreSQL server under an open Store:
// the connection pool and the LISTEN connection recover by themselves, and
// the listener is told ("" marker) that it may have missed notifications.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and restarts its own PostgreSQL cluster (several seconds); not in -short")
	}
	dsn, restart := startCluster(t)
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

	restart()

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
}
