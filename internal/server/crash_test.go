package server

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

const childEnv = "PARLEY_SERVER_TEST_CHILD"

// runChild is the child process of TestCrashSafety: a server on the data
// directory named by the environment, printing its TCP address, running
// until it is killed.
func runChild() {
	cfg := testConfig(os.Getenv(childEnv))
	cfg.MSRPRelay, cfg.HTTP = "", ""
	s, err := New(context.Background(), cfg)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", s.sipAddr("tcp"))
	select {}
}

// TestCrashSafety SIGKILLs a server while it answers MESSAGEs with 202;
// after a restart on the same data directory every message that was
// answered 202 is delivered.
func TestCrashSafety(t *testing.T) {
	dir := t.TempDir()
	// Accounts first, with the store closed again before the child opens it.
	{
		cfg := testConfig(dir)
		cfg.MSRPRelay, cfg.HTTP = "", ""
		s, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		addUser(t, s.Store(), "alice")
		addUser(t, s.Store(), "bob")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.Shutdown(ctx)
		cancel()
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "ADDR ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q", sc.Text())
	}
	addr := strings.TrimPrefix(sc.Text(), "ADDR ")

	alice, _, err := newUA(t, addr, "alice", "alice-pw", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		acked []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			body := fmt.Sprintf("crash-test %d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			res, err := alice.SendMessage(ctx, "sip:bob@"+domain, "text/plain", []byte(body))
			cancel()
			if err != nil {
				return // the server is gone
			}
			if res.Status == 202 {
				mu.Lock()
				acked = append(acked, body)
				mu.Unlock()
			}
		}
	}()
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 30 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill() // SIGKILL in the middle of the stream
	cmd.Wait()
	<-done
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	t.Logf("%d messages answered 202 before SIGKILL", len(want))

	s := startServer(t, func() Config { c := testConfig(dir); c.MSRPRelay, c.HTTP = "", ""; return c }())
	_, bobIn, err := newUA(t, s.sipAddr("tcp"), "bob", "bob-pw", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for missing := len(want); missing > 0; {
		select {
		case m := <-bobIn:
			if !got[string(m.Body)] {
				got[string(m.Body)] = true
			}
			missing = 0
			for _, w := range want {
				if !got[w] {
					missing++
				}
			}
		case <-deadline:
			for _, w := range want {
				if !got[w] {
					t.Errorf("lost after SIGKILL: %q", w)
				}
			}
			return
		}
	}
}
