package sipua

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testpeer"
	"github.com/parley-im/parley/session"
)

// runSipp runs one sipp scenario from testdata/sipp and returns its
// error and combined output.
func runSipp(ctx context.Context, t *testing.T, bin, scenario string, args ...string) (string, error) {
	sf, err := filepath.Abs(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	all := append([]string{"-sf", sf, "-t", "t1", "-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error", "-trace_err"}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	cmd.Dir = t.TempDir() // sipp writes its logs in the working directory
	out, err := cmd.CombinedOutput()
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(cmd.Dir, "*errors.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			out = append(out, b...)
		}
	}
	return string(out), err
}

// msrpResponder is a minimal MSRP peer for the sipp tests (sipp speaks no
// MSRP): it accepts connections and answers every SEND with 200 OK (RFC
// 4975 §7.2), recording the bodies. It is test scaffolding, not an MSRP
// implementation.
type msrpResponder struct {
	l      net.Listener
	uri    string
	wg     sync.WaitGroup
	mu     sync.Mutex
	sends  int
	bodies []string
	conns  []net.Conn
}

func newMSRPResponder(t *testing.T) *msrpResponder {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &msrpResponder{l: l, uri: "msrp://" + l.Addr().String() + "/sippsess1;tcp"}
	r.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			r.wg.Go(func() { r.serve(c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		r.mu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *msrpResponder) port() int { return r.l.Addr().(*net.TCPAddr).Port }

func (r *msrpResponder) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "MSRP" {
			continue
		}
		tid, method := f[1], f[2]
		end := "-------" + tid
		var fromPath string
		var body strings.Builder
		inBody := false
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(l, end) {
				break
			}
			switch {
			case inBody:
				body.WriteString(l)
			case strings.TrimRight(l, "\r\n") == "":
				inBody = true
			case strings.HasPrefix(l, "From-Path:"):
				fromPath = strings.TrimSpace(l[len("From-Path:"):])
			}
		}
		if method != "SEND" {
			continue
		}
		r.mu.Lock()
		r.sends++
		if body.Len() > 0 {
			r.bodies = append(r.bodies, body.String())
		}
		r.mu.Unlock()
		first, _, _ := strings.Cut(fromPath, " ")
		c.Write([]byte("MSRP " + tid + " 200 OK\r\nTo-Path: " + first + "\r\nFrom-Path: " + r.uri + "\r\n" + end + "$\r\n"))
	}
}

func TestSippMessageCPIM(t *testing.T) {
	bin := testpeer.Require(t, "sipp")
	box := newInbox()
	bob := testUA(t, Config{AOR: "sip:bob@example.com", OnMessage: box.on}, TCP)
	out, err := runSipp(t.Context(), t, bin, "message_cpim.xml", "-s", "bob", bob.Addr(TCP))
	if err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	m := box.next(t)
	if m.ContentType != "message/cpim" || !strings.Contains(string(m.Body), "hello from sipp") || !strings.Contains(string(m.Body), "DateTime: 2026-12-01T12:00:00Z") {
		t.Errorf("got %q %q", m.ContentType, m.Body)
	}
}

func TestSippInviteMSRPOffer(t *testing.T) {
	bin := testpeer.Require(t, "sipp")
	resp := newMSRPResponder(t)
	calls := make(chan *Call, 1)
	ep := msrpEndpoint(t)
	bob := testUA(t, Config{AOR: "sip:bob@example.com", Endpoints: []session.Endpoint{ep}, AutoAnswer: true, OnCall: func(c *Call) { calls <- c }}, TCP)
	out, err := runSipp(t.Context(), t, bin, "invite_msrp_uac.xml", "-s", "bob", "-key", "msrp_path", resp.uri, bob.Addr(TCP))
	if err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	// sipp offered a=setup:active, so our answer is passive: sipp never
	// connects, the session does not open, and sipp's BYE ends the dialog.
	// What is checked here is the SIP side: 200 with an MSRP answer (the
	// scenario's regexps), ACK and BYE accepted, and nothing left behind.
	waitNoCalls(t, bob)
	select {
	case c := <-calls:
		t.Errorf("a call was established without an MSRP connection: %+v", c.Remote())
	default:
	}
}

func TestSippAnswersOurInvite(t *testing.T) {
	bin := testpeer.Require(t, "sipp")
	resp := newMSRPResponder(t)
	// A free port for sipp's listener.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := runSipp(ctx, t, bin, "uas_msrp_answer.xml", "-p", strconv.Itoa(port), "-key", "msrp_path", resp.uri, "-key", "msrp_port", strconv.Itoa(resp.port()))
		done <- result{out, err}
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatalf("sipp did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	ep := msrpEndpoint(t)
	alice := testUA(t, Config{AOR: "sip:alice@example.com", Endpoints: []session.Endpoint{ep}}, TCP)
	call, err := alice.Invite(ctxT(t, 15*time.Second), "sip:sipp@"+addr+";transport=tcp", InviteOptions{})
	if err != nil {
		r := <-done
		t.Fatalf("Invite: %v\nsipp: %v\n%s", err, r.err, r.out)
	}
	// The answer said setup:passive: our MSRP endpoint connected to the
	// responder and bound the session with a bodiless SEND.
	if got := call.Session().Remote().Path; len(got) != 1 || got[0] != resp.uri {
		t.Errorf("remote path = %v", got)
	}
	// sipp re-INVITEs (a refresh with CSeq 1, below our INVITE's): wait
	// until it was answered before the BYE.
	deadline := time.Now().Add(10 * time.Second)
	for call.reinvites.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if call.reinvites.Load() == 0 {
		t.Fatal("no re-INVITE from sipp")
	}
	time.Sleep(100 * time.Millisecond) // let sipp send its ACK
	d, err := call.Session().Send(ctxT(t, 5*time.Second), &session.Outgoing{ContentType: "text/plain", Body: []byte("hi sipp")})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := d.Wait(ctxT(t, 5*time.Second)); err != nil || r.Outcome == session.Failed {
		t.Errorf("delivery: %+v %v", r, err)
	}
	if err := call.Hangup(ctxT(t, 5*time.Second)); err != nil {
		t.Errorf("Hangup: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("sipp: %v\n%s", r.err, r.out)
	}
	resp.mu.Lock()
	defer resp.mu.Unlock()
	if len(resp.bodies) != 1 || !strings.Contains(resp.bodies[0], "hi sipp") {
		t.Errorf("responder got %v", resp.bodies)
	}
}
