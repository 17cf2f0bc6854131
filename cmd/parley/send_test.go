package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parley-im/parley/internal/testpeer"
)

var listeningRE = regexp.MustCompile(`listening at (\S+)`)

// startListen runs "parley listen" in-process on a free loopback port and
// returns its URI, its stdout, and a stop function that interrupts it
// and checks it exited 0.
func startListen(t *testing.T, extra ...string) (uri string, out, errb *syncBuffer, stop func()) {
	t.Helper()
	e, out, errb := testEnv(nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	args := append([]string{"listen", "--as", "sip:bob@example.com", "--listen", "127.0.0.1:0"}, extra...)
	go func() { done <- run(ctx, e, args) }()
	uri = waitFor(t, errb, listeningRE, 10*time.Second)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("listen exited with %v (exit %d)\nstderr: %s", err, exitCode(err), errb)
				}
			case <-time.After(10 * time.Second):
				t.Error("listen did not stop after the interrupt")
			}
		})
	}
	t.Cleanup(stop)
	return uri, out, errb, stop
}

func runSendCmd(t *testing.T, stdin *bytes.Reader, args ...string) (string, error) {
	t.Helper()
	var in *bytes.Reader = stdin
	if in == nil {
		in = bytes.NewReader(nil)
	}
	e, _, errb := testEnv(in, map[string]string{"PARLEY_AS": "sip:alice@example.com"})
	err := run(ctxT(t, 30*time.Second), e, append([]string{"send"}, args...))
	return errb.String(), err
}

func readRecords(t *testing.T, s string) []record {
	t.Helper()
	var recs []record
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestSendListen: what send sends, listen prints, in every mode.
func TestSendListen(t *testing.T) {
	uri, out, _, stop := startListen(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 320) // 5120 bytes: large-message mode
	huge := bytes.Repeat([]byte{0xff, 0x00, 0x7f}, streamThreshold/3+1000)
	cases := []struct {
		name  string
		stdin []byte
		args  []string
		mode  string
		text  string
		size  int64
	}{
		{"pager", nil, []string{uri, "hello", "bob"}, "pager", "hello bob", 0},
		// A page-mode isComposing is accepted and not printed: the
		// next record is the next case's.
		{"iscomposing", []byte(`<?xml version="1.0"?><isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state></isComposing>`), []string{"--type", typeIsComposing, uri, "-"}, "", "", 0},
		{"stdin", []byte("from stdin\n"), []string{uri, "-"}, "pager", "from stdin", 0},
		{"cpim", nil, []string{"--cpim", uri, "wrapped"}, "pager", "wrapped", 0},
		{"session", nil, []string{"--session", uri, "in a session"}, "session", "in a session", 0},
		{"session-cpim", nil, []string{"--session", "--media", "cpim", uri, "over cpim/tcp"}, "session", "over cpim/tcp", 0},
		{"large", big, []string{uri}, "large-message", string(big), 0},
		{"stream", huge, []string{"--progress", "--type", "application/octet-stream", uri, "-"}, "large-message", "", 0},
		{"stream-session", huge, []string{"--session", "--progress", "--type", "application/octet-stream", uri, "-"}, "session", "", 0},
	}
	skipped := 0
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.mode == "" {
				skipped++
			}
			i := i - skipped
			stderr, err := runSendCmd(t, bytes.NewReader(c.stdin), c.args...)
			if err != nil {
				t.Fatalf("send: %v\n%s", err, stderr)
			}
			if !strings.Contains(stderr, "delivered to "+uri) {
				t.Errorf("stderr = %q", stderr)
			}
			if c.mode == "" {
				return
			}
			if strings.HasPrefix(c.name, "stream") && !strings.Contains(stderr, "\rsending: ") {
				t.Errorf("no progress line in %q", stderr)
			}
			deadline := time.Now().Add(5 * time.Second)
			var recs []record
			for time.Now().Before(deadline) {
				if recs = readRecords(t, out.String()); len(recs) > i {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if len(recs) <= i {
				t.Fatalf("listen printed %d records, want %d:\n%s", len(recs), i+1, out)
			}
			r := recs[i]
			if r.Mode != c.mode || r.From != "sip:alice@example.com" || !strings.HasPrefix(r.To, "sip:bob@") || r.ID == "" {
				t.Errorf("record = %+v", r)
			}
			if _, err := time.Parse(time.RFC3339Nano, r.Time); err != nil {
				t.Errorf("time %q: %v", r.Time, err)
			}
			switch {
			case strings.HasPrefix(c.name, "stream"):
				if r.Text != nil || r.Size == nil || *r.Size != int64(len(huge)) || r.ContentType != "application/octet-stream" {
					t.Errorf("stream record = %+v, want application/octet-stream of size %d", r, len(huge))
				}
			case r.Text == nil || *r.Text != c.text || r.Size != nil:
				t.Errorf("text = %v, want %q (record %+v)", r.Text, c.text, r)
			case !strings.HasPrefix(r.ContentType, "text/plain"):
				t.Errorf("content_type = %q", r.ContentType)
			}
		})
	}
	stop()
}

func TestListenOutputFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	if err := os.WriteFile(path, []byte(`{"earlier":true}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	uri, out, _, stop := startListen(t, "--output", path)
	if stderr, err := runSendCmd(t, nil, uri, "to the file"); err != nil {
		t.Fatalf("send: %v\n%s", err, stderr)
	}
	stop()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != `{"earlier":true}` || !strings.Contains(lines[1], `"text":"to the file"`) {
		t.Errorf("file = %q", b)
	}
	if out.String() != "" {
		t.Errorf("stdout = %q, want nothing with --output", out)
	}
}

var reasons = map[int]string{202: "Accepted", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	480: "Temporarily Unavailable", 488: "Not Acceptable Here", 603: "Decline"}

// statusPeer is a SIP server answering every MESSAGE and INVITE with code.
func statusPeer(t *testing.T, code int) string {
	t.Helper()
	peer := testpeer.NewSIPPeer(t, "status-peer")
	h := func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, code, reasons[code], nil)
		if code == 401 {
			res.AppendHeader(sip.NewHeader("WWW-Authenticate", `Digest realm="test", nonce="abc", algorithm=MD5`))
		}
		tx.Respond(res)
	}
	peer.Server.OnMessage(h)
	peer.Server.OnInvite(h)
	peer.Serve()
	return peer.URI("bob")
}

func TestSendExitCodes(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "sip:bob@" + free.Addr().String() + ";transport=tcp"
	free.Close()
	for _, c := range []struct {
		name string
		code int // peer's status; 0: no peer
		args []string
		exit int
		msg  string
	}{
		{"202 accepted", 202, nil, exitAccepted, "accepted for later delivery"},
		{"404", 404, nil, exitFailed, "no such user"},
		{"480", 480, nil, exitFailed, "not available now"},
		{"403", 403, []string{"--password", "guess"}, exitFailed, "wrong password for sip:alice@example.com (403 Forbidden): check --password or PARLEY_PASSWORD"},
		{"401 no password", 401, nil, exitFailed, "asks for a password for sip:alice@example.com (401 Unauthorized): set --password or PARLEY_PASSWORD"},
		{"488 session", 488, []string{"--session"}, exitFailed, "no media type or message transport in common"},
		{"603 session", 603, []string{"--session"}, exitFailed, "declined"},
		{"refused connection", 0, nil, exitFailed, "nothing listens at"},
	} {
		t.Run(c.name, func(t *testing.T) {
			target := closed
			if c.code != 0 {
				target = statusPeer(t, c.code)
			}
			stderr, err := runSendCmd(t, nil, append(c.args, target, "hi")...)
			if exitCode(err) != c.exit {
				t.Errorf("exit %d (%v), want %d", exitCode(err), err, c.exit)
			}
			if err == nil || !strings.Contains(err.Error()+stderr, c.msg) {
				t.Errorf("error %v / stderr %q lacks %q", err, stderr, c.msg)
			}
		})
	}
}

func TestSendTimeout(t *testing.T) {
	// A UDP socket that never answers: the MESSAGE times out after
	// --timeout.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	start := time.Now()
	stderr, err := runSendCmd(t, nil, "--transport", "udp", "--timeout", "300ms", "sip:bob@"+pc.LocalAddr().String(), "hi")
	if exitCode(err) != exitFailed || !strings.Contains(err.Error(), "no answer from") {
		t.Errorf("err = %v (exit %d) %s", err, exitCode(err), stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestSendUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--transport", "smtp", "sip:bob@127.0.0.1:1"}, {"--media", "fax", "sip:bob@127.0.0.1:1"}, {"--as", "alice", "sip:bob@127.0.0.1:1"}, {"--listen", "nowhere", "sip:bob@127.0.0.1:1"}} {
		_, err := runSendCmd(t, nil, args...)
		if exitCode(err) != exitUsage {
			t.Errorf("send %v: %v (exit %d), want exit 2", args, err, exitCode(err))
		}
	}
}

// TestSendTLS: SIP over TLS with a self-signed listener: refused without
// --insecure with an error that says what to do, delivered with it, in
// pager and session mode (MSRP over TLS, cpim/tls).
func TestSendTLS(t *testing.T) {
	uri, out, errb, stop := startListen(t, "--transport", "tls")
	if !strings.HasPrefix(uri, "sips:") {
		t.Fatalf("listen URI %q", uri)
	}
	// A sip: address is read as sips: with --transport tls.
	stderr, err := runSendCmd(t, nil, "--transport", "tls", "sip:"+strings.TrimPrefix(uri, "sips:"), "unverified")
	if exitCode(err) != exitFailed || !strings.Contains(err.Error(), "did not verify: pass its CA with --ca, or use --insecure") {
		t.Errorf("without --insecure: %v (exit %d) %s", err, exitCode(err), stderr)
	}
	for _, args := range [][]string{{}, {"--session"}, {"--session", "--media", "cpim"}} {
		a := append([]string{"--transport", "tls", "--insecure"}, args...)
		if stderr, err := runSendCmd(t, nil, append(a, uri, "over tls")...); err != nil {
			t.Errorf("send %v: %v\n%s", args, err, stderr)
		}
	}
	stop()
	if recs := readRecords(t, out.String()); len(recs) != 3 {
		t.Errorf("listen printed %d records, want 3:\n%s", len(recs), out)
	}
	for _, p := range []string{"over TCP/TLS/MSRP", "over cpim/tls"} {
		if !strings.Contains(errb.String(), p) {
			t.Errorf("listen's stderr lacks %q:\n%s", p, errb)
		}
	}
}

// TestSendNoCommonMedia: a session offer the listener cannot take (it
// serves only MSRP, we offer only cpim/tcp) fails with advice.
func TestSendNoCommonMedia(t *testing.T) {
	uri, _, _, _ := startListen(t, "--media", "msrp")
	stderr, err := runSendCmd(t, nil, "--session", "--media", "cpim", uri, "hi")
	if exitCode(err) != exitFailed || !strings.Contains(err.Error(), "no media type or message transport in common with us (488") || !strings.Contains(err.Error(), "try --media msrp or --media cpim") {
		t.Errorf("err = %v (exit %d) %s", err, exitCode(err), stderr)
	}
}

func TestPeerURI(t *testing.T) {
	for _, c := range []struct{ in, transport, want string }{
		{"bob@example.com", "tcp", "sip:bob@example.com"},
		{"sip:bob@example.com", "tcp", "sip:bob@example.com"},
		{"sip:bob@example.com", "tls", "sips:bob@example.com"},
		{"sip:bob@h;transport=tcp", "tls", "sip:bob@h;transport=tcp"},
		{"sips:bob@h", "udp", "sips:bob@h"},
		{"im:bob@h", "tls", "im:bob@h"},
	} {
		if got := peerURI(c.in, c.transport); got != c.want {
			t.Errorf("peerURI(%q, %s) = %q, want %q", c.in, c.transport, got, c.want)
		}
	}
}

func TestListenPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e, _, _ := testEnv(nil, nil)
	err = run(ctxT(t, 10*time.Second), e, []string{"listen", "--listen", l.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "the port is in use") || !strings.Contains(err.Error(), "--listen or PARLEY_LISTEN") {
		t.Errorf("err = %v", err)
	}
}
