package store_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/store"
)

// crashEnv tells a re-executed test binary to act as the crash child; see
// TestSQLiteCrashSafety. The child runs from init, before the test
// framework starts, and exits without running tests.
const crashEnv = "PARLEY_STORE_CRASH_CHILD"

func init() {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		os.Exit(0)
	}
}

// crashChild enqueues messages from 4 goroutines until it is killed,
// printing "id client-id" after each Enqueue has returned.
func crashChild(path string) {
	ctx := context.Background()
	s, err := store.Open(ctx, "file:"+path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	round := os.Getenv(crashEnv + "_ROUND")
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1_000_000; i++ {
				cid := fmt.Sprintf("r%s-g%d-%d", round, g, i)
				id, _, err := s.Enqueue(ctx, store.Message{Rcpt: "sip:bob@example.com", Sender: "sip:alice@example.com",
					ClientID: cid, ContentType: "text/plain", Body: []byte(strings.Repeat("x", 200) + cid)})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child enqueue:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %s\n", id, cid)
				out.Flush() // printed only after Enqueue returned
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestSQLiteCrashSafety kills a process that is enqueueing (SIGKILL, no
// chance to clean up) and checks that every message whose Enqueue had
// returned is in the database after reopening, and that the file is intact.
// This covers process crashes; power loss is covered by synchronous=FULL
// (the WAL is fsync'd at each commit), which a test cannot simulate here.
func TestSQLiteCrashSafety(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[int64]string{}
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+path, crashEnv+"_ROUND="+strconv.Itoa(round))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		killAfter := 150 + 100*round
		n := 0
		killed := false
		for sc.Scan() {
			var id int64
			var cid string
			if _, err := fmt.Sscanf(sc.Text(), "%d %s", &id, &cid); err != nil {
				t.Fatalf("child printed %q", sc.Text())
			}
			acked[id] = cid
			n++
			if n == killAfter && !killed {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed {
			t.Fatalf("child exited after %d messages before the kill: %v", n, err)
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("child was not killed by SIGKILL: %v", err)
		}
		t.Logf("round %d: %d messages acknowledged before SIGKILL", round, n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, "file:"+path)
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	db.Close()
	missing := 0
	for id, cid := range acked {
		m, err := s.Message(ctx, id)
		if err != nil || m.ClientID != cid || !strings.HasSuffix(string(m.Body), cid) {
			missing++
			if missing < 5 {
				t.Errorf("acknowledged message %d (%s) lost or damaged: %+v, %v", id, cid, m.ClientID, err)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged messages missing", missing, len(acked))
	}
	p, err := s.Pending(ctx, "sip:bob@example.com", 10000)
	if err != nil {
		t.Fatal(err)
	}
	// At most one message per goroutine per round was committed but not yet
	// printed when the kill came.
	if len(p) < len(acked) || len(p) > len(acked)+4*3 {
		t.Errorf("%d messages stored, %d acknowledged", len(p), len(acked))
	}
}
