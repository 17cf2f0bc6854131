package main

import (
	"bufio"
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinaryListenSignals: the real process stops on SIGINT and SIGTERM
// and exits 0.
func TestBinaryListenSignals(t *testing.T) {
	bin := parleyBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "listen", "--listen", "127.0.0.1:0")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := make(chan string, 16)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			expect := func(prefix string) {
				t.Helper()
				timeout := time.After(10 * time.Second)
				for {
					select {
					case l, ok := <-lines:
						if !ok {
							t.Fatalf("stderr ended before %q", prefix)
						}
						if strings.HasPrefix(l, prefix) {
							return
						}
					case <-timeout:
						cmd.Process.Kill()
						t.Fatalf("no %q on stderr", prefix)
					}
				}
			}
			expect("listening at sip:")
			cmd.Process.Signal(sig)
			expect("stopped")
			if err := cmd.Wait(); err != nil {
				t.Errorf("exit: %v", err)
			}
		})
	}
}

// TestBinaryExitStatus: main turns errors into the documented statuses.
func TestBinaryExitStatus(t *testing.T) {
	bin := parleyBinary(t)
	accepting := statusPeer(t, 202)
	for _, c := range []struct {
		args   []string
		status int
		stdout string
		stderr string
	}{
		{[]string{"send", "--help"}, 0, "Exit status:", ""},
		{[]string{"help", "listen"}, 0, "Usage: parley listen", ""},
		{nil, 2, "Commands:", "no command given"},
		{[]string{"frobnicate"}, 2, "", "unknown command"},
		{[]string{"send", "--transport", "smtp", "sip:bob@127.0.0.1:9"}, 2, "", "--transport \"smtp\""},
		{[]string{"send", accepting, "hi"}, 3, "", "accepted for later delivery"},
		{[]string{"send", "sip:bob@127.0.0.1:9", "hi"}, 1, "", "nothing listens at"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, c.args...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			status := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != c.status || !strings.Contains(out.String(), c.stdout) || !strings.Contains(errb.String(), c.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", status, out.String(), errb.String(), c.status, c.stdout, c.stderr)
			}
		})
	}
}
