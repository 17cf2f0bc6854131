package main

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testpeer"
)

// chatProc is an in-process "parley chat" with a pipe for its input.
type chatProc struct {
	in   *io.PipeWriter
	out  *syncBuffer
	errb *syncBuffer
	done chan error
	stop context.CancelFunc
}

func startChat(t *testing.T, args ...string) *chatProc {
	t.Helper()
	pr, pw := io.Pipe()
	e, out, errb := testEnv(pr, nil)
	ctx, cancel := context.WithCancel(t.Context())
	p := &chatProc{in: pw, out: out, errb: errb, done: make(chan error, 1), stop: cancel}
	go func() {
		p.done <- run(ctx, e, append([]string{"chat"}, args...))
		pr.Close()
	}()
	t.Cleanup(func() {
		cancel()
		pw.Close()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Error("chat did not exit")
		}
	})
	return p
}

func (p *chatProc) typeLine(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(p.in, s+"\n"); err != nil {
		t.Fatalf("typing %q: %v", s, err)
	}
}

func (p *chatProc) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("chat did not exit")
		return nil
	}
}

var waitingRE = regexp.MustCompile(`waiting for a session at (\S+)`)

// TestChat: two chats in-process in line mode: messages both ways with
// numbers and delivery updates, /status, /help, /quit, the peer's view
// of the hangup and its reconnect hint.
func TestChat(t *testing.T) {
	for _, media := range []string{"both", "cpim"} {
		t.Run(media, func(t *testing.T) {
			bob := startChat(t, "--as", "sip:bob@example.com", "--listen", "127.0.0.1:0")
			uri := waitFor(t, bob.out, waitingRE, 10*time.Second)
			alice := startChat(t, "--as", "sip:alice@example.com", "--media", media, uri)
			waitFor(t, alice.out, regexp.MustCompile(`session with \S+ started over`), 10*time.Second)
			waitFor(t, bob.out, regexp.MustCompile(`session with sip:alice@example.com started over`), 10*time.Second)

			alice.typeLine(t, "hello bob")
			waitFor(t, bob.out, regexp.MustCompile(`\d\d:\d\d:\d\d alice: hello bob`), 10*time.Second)
			waitFor(t, alice.out, regexp.MustCompile(`#1 me: hello bob`), 10*time.Second)
			waitFor(t, alice.out, regexp.MustCompile(`#1 delivered`), 10*time.Second)

			bob.typeLine(t, "hi alice")
			bob.typeLine(t, "//slash")
			waitFor(t, alice.out, regexp.MustCompile(`bob: hi alice`), 10*time.Second)
			waitFor(t, alice.out, regexp.MustCompile(`bob: /slash`), 10*time.Second)
			waitFor(t, bob.out, regexp.MustCompile(`#2 delivered`), 10*time.Second)

			alice.typeLine(t, "/status")
			want := "TCP/MSRP"
			if media == "cpim" {
				want = "cpim/tcp"
			}
			waitFor(t, alice.out, regexp.MustCompile(`session with \S+ over `+regexp.QuoteMeta(want)), 10*time.Second)
			alice.typeLine(t, "/help")
			waitFor(t, alice.out, regexp.MustCompile(`/quit hang up and exit`), 10*time.Second)
			alice.typeLine(t, "/nonsense")
			waitFor(t, alice.out, regexp.MustCompile(`unknown command /nonsense`), 10*time.Second)

			alice.typeLine(t, "/quit")
			if err := alice.wait(t); err != nil {
				t.Errorf("alice exited with %v", err)
			}
			waitFor(t, bob.out, regexp.MustCompile(`session ended: the peer hung up`), 10*time.Second)
			waitFor(t, bob.out, regexp.MustCompile(`to reconnect: parley chat --as sip:bob@example.com --listen 127.0.0.1:0`), 10*time.Second)
			if err := bob.wait(t); err != nil {
				t.Errorf("bob exited with %v", err)
			}
		})
	}
}

// TestChatReconnectHint: the calling side, left by its peer, prints the
// exact command that calls again.
func TestChatReconnectHint(t *testing.T) {
	bob := startChat(t, "--as", "sip:bob@example.com", "--listen", "127.0.0.1:0")
	uri := waitFor(t, bob.out, waitingRE, 10*time.Second)
	alice := startChat(t, "--as", "sip:alice@example.com", uri)
	waitFor(t, bob.out, regexp.MustCompile(`started over`), 10*time.Second)
	waitFor(t, alice.out, regexp.MustCompile(`started over`), 10*time.Second)
	bob.in.Close() // end of input: bob hangs up
	waitFor(t, alice.out, regexp.MustCompile(`session ended: the peer hung up`), 10*time.Second)
	waitFor(t, alice.out, regexp.MustCompile(`to reconnect: parley chat --as sip:alice@example.com '`+regexp.QuoteMeta(uri)+`'`), 10*time.Second)
}

func TestChatUnreachable(t *testing.T) {
	e, _, _ := testEnv(strings.NewReader(""), nil)
	err := run(ctxT(t, 10*time.Second), e, []string{"chat", "--as", "sip:alice@example.com", "sip:bob@127.0.0.1:9;transport=tcp"})
	if err == nil || !strings.Contains(err.Error(), "nothing listens at") {
		t.Errorf("err = %v", err)
	}
}

// TestChatTmux runs the real binary in two tmux sessions: bob waits,
// alice calls, keystrokes go in with send-keys, and each side's screen is
// read with capture-pane. It covers the terminal line editor and
// isComposing, which the in-process test (line mode) cannot.
func TestChatTmux(t *testing.T) {
	tmux := testpeer.Require(t, "tmux")
	bin := parleyBinary(t)
	ctx := ctxT(t, 2*time.Minute)
	for _, c := range []struct{ media, proto string }{{"both", "TCP/MSRP"}, {"cpim", "cpim/tcp"}} {
		t.Run(c.media, func(t *testing.T) { chatInTmux(ctx, t, tmux, bin, c.media, c.proto) })
	}
}

func chatInTmux(ctx context.Context, t *testing.T, tmux, bin, media, proto string) {
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tm := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, tmux, append([]string{"-S", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { exec.Command(tmux, "-S", sock, "kill-server").Run() })
	tm("new-session", "-d", "-s", "bob", "-x", "200", "-y", "50", bin+" chat --as sip:bob@example.com --listen 127.0.0.1:0")
	tm("set-option", "-g", "remain-on-exit", "on")
	screen := func(name string) string { return tm("capture-pane", "-p", "-J", "-t", name) }
	waitScreen := func(name string, re *regexp.Regexp) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if m := re.FindStringSubmatch(screen(name)); m != nil {
				return m[len(m)-1]
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s's screen never matched %v:\n%s", name, re, screen(name))
		return ""
	}
	uri := waitScreen("bob", waitingRE)
	tm("new-session", "-d", "-s", "alice", "-x", "200", "-y", "50", bin+" chat --media "+media+" --as sip:alice@example.com '"+uri+"'")
	waitScreen("alice", regexp.MustCompile(`session with \S+ started over `+proto))
	waitScreen("bob", regexp.MustCompile(`session with sip:alice@example.com started over `+proto))

	tm("send-keys", "-t", "alice", "-l", "hello")
	waitScreen("bob", regexp.MustCompile(`alice is typing`))
	waitScreen("alice", regexp.MustCompile(`> hello`)) // the line editor echoes
	tm("send-keys", "-t", "alice", "BSpace", "BSpace")
	tm("send-keys", "-t", "alice", "-l", "lo bob")
	tm("send-keys", "-t", "alice", "Enter")
	waitScreen("bob", regexp.MustCompile(`\d\d:\d\d:\d\d alice: hello bob`))
	waitScreen("alice", regexp.MustCompile(`#1 me: hello bob`))
	waitScreen("alice", regexp.MustCompile(`#1 delivered`))

	tm("send-keys", "-t", "bob", "-l", "hi alice")
	tm("send-keys", "-t", "bob", "Enter")
	waitScreen("alice", regexp.MustCompile(`bob: hi alice`))
	waitScreen("bob", regexp.MustCompile(`#1 delivered`))

	if media == "both" {
		// bob's process dies without a BYE (SIGKILL): alice's side
		// sees the connection drop, then the end of the session, and
		// prints the command that calls again.
		pid := strings.TrimSpace(tm("display-message", "-p", "-t", "bob", "#{pane_pid}"))
		if out, err := exec.Command("kill", "-KILL", pid).CombinedOutput(); err != nil {
			t.Fatalf("kill %s: %v %s", pid, err, out)
		}
		waitScreen("alice", regexp.MustCompile(`the message connection dropped`))
		waitScreen("alice", regexp.MustCompile(`session ended: the session dropped`))
		waitScreen("alice", regexp.MustCompile(`to reconnect: parley chat --media both --as sip:alice@example.com '`+regexp.QuoteMeta(uri)+`'`))
		return
	}
	// Ctrl-C still interrupts in the line editor's terminal mode.
	tm("send-keys", "-t", "alice", "C-c")
	waitScreen("bob", regexp.MustCompile(`session ended: the peer hung up`))
	waitScreen("bob", regexp.MustCompile(`to reconnect: parley chat --as sip:bob@example.com --listen 127.0.0.1:0`))
	waitScreen("alice", regexp.MustCompile(`session ended`))
}

// TestChatAsk: with --ask the waiting side asks; "n" declines (the caller
// is told), "y" accepts the next invitation.
func TestChatAsk(t *testing.T) {
	bob := startChat(t, "--as", "sip:bob@example.com", "--listen", "127.0.0.1:0", "--ask")
	uri := waitFor(t, bob.out, waitingRE, 10*time.Second)

	e, _, _ := testEnv(strings.NewReader(""), nil)
	res := make(chan error, 1)
	go func() { res <- run(ctxT(t, 20*time.Second), e, []string{"chat", "--as", "sip:alice@example.com", uri}) }()
	waitFor(t, bob.out, regexp.MustCompile(`sip:alice@example.com> wants to chat \(offering TCP/MSRP, cpim/tcp\)\. Accept\? \[y/n\]`), 10*time.Second)
	bob.typeLine(t, "maybe")
	waitFor(t, bob.out, regexp.MustCompile(`answer y or n`), 10*time.Second)
	bob.typeLine(t, "n")
	select {
	case err := <-res:
		if err == nil || !strings.Contains(err.Error(), "declined (603") {
			t.Errorf("declined call: err = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the caller was not told")
	}

	alice := startChat(t, "--as", "sip:alice@example.com", uri)
	waitFor(t, bob.out, regexp.MustCompile(`(?s)declined; waiting.*Accept\? \[y/n\]`), 10*time.Second)
	bob.typeLine(t, "y")
	waitFor(t, alice.out, regexp.MustCompile(`started over TCP/MSRP`), 10*time.Second)
	alice.typeLine(t, "/quit")
	if err := alice.wait(t); err != nil {
		t.Errorf("alice: %v", err)
	}
	if err := bob.wait(t); err != nil {
		t.Errorf("bob: %v", err)
	}
}

// TestChatBusy: a second caller gets 486 while a chat is in a session.
func TestChatBusy(t *testing.T) {
	bob := startChat(t, "--as", "sip:bob@example.com", "--listen", "127.0.0.1:0")
	uri := waitFor(t, bob.out, waitingRE, 10*time.Second)
	alice := startChat(t, "--as", "sip:alice@example.com", uri)
	waitFor(t, alice.out, regexp.MustCompile(`started over`), 10*time.Second)
	e, _, _ := testEnv(strings.NewReader(""), nil)
	err := run(ctxT(t, 10*time.Second), e, []string{"chat", "--as", "sip:carol@example.com", uri})
	if err == nil || !strings.Contains(err.Error(), "is busy (486") {
		t.Errorf("second caller: %v", err)
	}
}
