package sipua

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testpeer"
)

// startKamailio runs Kamailio (Debian 5.6) on a free loopback port as
// registrar and record-routing proxy (testdata/kamailio/kamailio.cfg) and
// returns its URI. It skips when kamailio is missing, except in CI.
func startKamailio(t *testing.T) string {
	t.Helper()
	bin := testpeer.Require(t, "kamailio")
	var port int
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err == nil {
			l.Close()
			break
		}
		port = 0
	}
	if port == 0 {
		t.Fatal("no free port")
	}
	tmpl, err := os.ReadFile(filepath.Join("testdata", "kamailio", "kamailio.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(string(tmpl), "@PORT@", strconv.Itoa(port))), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-f", cfg, "-DD", "-E", "-m", "32", "-M", "8", "-Y", dir, "-P", filepath.Join(dir, "k.pid"), "-w", dir)
	// Kamailio forks workers: run it in its own process group and stop
	// the whole group (SIGTERM), or its children keep the output pipe
	// open and Wait never returns.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(b []byte) { mu.Lock(); out.Write(b); mu.Unlock() })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("kamailio: %v", err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		cancel()
		<-waited
		// Wait for the workers too, so no Kamailio outlives the test.
		for i := 0; i < 100 && syscall.Kill(-cmd.Process.Pid, 0) == nil; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("kamailio output:\n%s", out.String())
			mu.Unlock()
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-waited:
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("kamailio exited:\n%s", out.String())
		default:
		}
		if i > 100 {
			t.Fatal("kamailio did not start listening")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "sip:" + addr + ";transport=tcp"
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

// TestKamailio registers two UAs with Kamailio (digest), then sends a
// pager MESSAGE and sets up, uses and ends a session through it (INVITE
// record-routed, ACK and BYE along the route set).
func TestKamailio(t *testing.T) {
	kam := startKamailio(t)
	n := newFakeNet()
	box := newInbox()
	calls := make(chan *Call, 1)
	bob := testUA(t, Config{AOR: "sip:bob@example.com", Password: "secret", Registrar: kam, OutboundProxy: kam,
		OnMessage: box.on, Media: n.media(false), OnInvite: acceptAll(t, calls)}, TCP)
	alice := testUA(t, Config{AOR: "sip:alice@example.com", Password: "secret", Registrar: kam, OutboundProxy: kam, Media: n.media(false)}, TCP)
	if bob.Registered() == 0 || alice.Registered() == 0 {
		t.Fatalf("not registered: %v %v", bob.Registered(), alice.Registered())
	}

	res, err := alice.SendMessage(ctxT(t, 10*time.Second), "sip:bob@example.com", "text/plain", []byte("through kamailio"))
	if err != nil || res.Disposition != Delivered {
		t.Fatalf("SendMessage: %+v %v", res, err)
	}
	if m := box.next(t); string(m.Body) != "through kamailio" {
		t.Errorf("got %q", m.Body)
	}
	if _, err := alice.SendMessage(ctxT(t, 10*time.Second), "sip:nobody@example.com", "text/plain", []byte("x")); err == nil {
		t.Error("MESSAGE to an unregistered user succeeded")
	}

	ac, err := alice.Invite(ctxT(t, 10*time.Second), "sip:bob@example.com", InviteOptions{Subject: "via proxy"})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	bc := recvCall(t, calls)
	exchange(t, ac, bc, "session through a proxy")
	if err := bc.Hangup(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("callee Hangup: %v", err)
	}
	select {
	case <-ac.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("BYE did not reach the caller through the proxy")
	}

	wrong := testUA(t, Config{AOR: "sip:carol@example.com", Password: "guess"}, TCP)
	wrong.cfg.Registrar = kam
	if err := wrong.Register(ctxT(t, 10*time.Second)); !strings.Contains(err.Error(), "authentication failed") {
		t.Errorf("wrong password: %v", err)
	}
}
