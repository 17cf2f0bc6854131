package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parley-im/parley/internal/testpeer"
)

// registrar is a SIP registrar for the tests: digest authentication
// (RFC 3261 §22.4, MD5 without qop) against one password, and a record of
// the Expires of each accepted REGISTER.
type registrar struct {
	uri      string
	password string
	mu       sync.Mutex
	expires  []string
	messages []string
}

var digestParam = regexp.MustCompile(`(\w+)="([^"]*)"`)

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func newRegistrar(t *testing.T, password string) *registrar {
	t.Helper()
	r := &registrar{password: password}
	peer := testpeer.NewSIPPeer(t, "test-registrar")
	srv := peer.Server
	const realm, nonce = "test", "4a7b1c"
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		h := req.GetHeader("Authorization")
		if h == nil {
			res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
			res.AppendHeader(sip.NewHeader("WWW-Authenticate", `Digest realm="`+realm+`", nonce="`+nonce+`", algorithm=MD5`))
			tx.Respond(res)
			return
		}
		p := map[string]string{}
		for _, m := range digestParam.FindAllStringSubmatch(h.Value(), -1) {
			p[m[1]] = m[2]
		}
		want := md5hex(md5hex(p["username"]+":"+realm+":"+r.password) + ":" + nonce + ":" + md5hex("REGISTER:"+p["uri"]))
		if p["response"] != want {
			tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
			return
		}
		exp := ""
		if e := req.GetHeader("Expires"); e != nil {
			exp = e.Value()
		}
		r.mu.Lock()
		r.expires = append(r.expires, exp)
		r.mu.Unlock()
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		if c := req.Contact(); c != nil {
			cc := c.Clone()
			cc.Params = sip.NewParams()
			cc.Params.Add("expires", exp)
			res.AppendHeader(cc)
		}
		tx.Respond(res)
	})
	// As a store-and-forward server: a MESSAGE routed through it (Route
	// header, RFC 3261 §8.1.2) is taken for later delivery (RFC 3428 §7).
	srv.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
		code, reason := 202, "Accepted"
		if req.GetHeader("Route") == nil {
			code, reason = 400, "No Route"
		}
		r.mu.Lock()
		r.messages = append(r.messages, string(req.Body()))
		r.mu.Unlock()
		tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
	})
	peer.Serve()
	r.uri = peer.URI("")
	return r
}

func (r *registrar) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.expires...)
}

// TestListenRegisters: listen registers with digest credentials from the
// environment, and removes the binding (Expires: 0) when interrupted.
func TestListenRegisters(t *testing.T) {
	reg := newRegistrar(t, "secret")
	e, _, errb := testEnv(nil, map[string]string{
		"PARLEY_AS": "sip:bob@example.com", "PARLEY_SERVER": reg.uri, "PARLEY_PASSWORD": "secret",
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, e, []string{"listen"}) }()
	waitFor(t, errb, regexp.MustCompile(`registered sip:bob@example.com with `+regexp.QuoteMeta(reg.uri)+`; listening at (\S+)`), 10*time.Second)
	if got := reg.seen(); len(got) != 1 || got[0] == "0" {
		t.Errorf("REGISTER Expires = %v, want one positive", got)
	}
	cancel() // SIGINT or SIGTERM in main
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("listen: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not stop")
	}
	if got := reg.seen(); len(got) != 2 || got[1] != "0" {
		t.Errorf("REGISTER Expires = %v, want the binding removed with 0", got)
	}
}

func TestListenWrongPassword(t *testing.T) {
	reg := newRegistrar(t, "secret")
	e, _, _ := testEnv(nil, nil)
	err := run(ctxT(t, 10*time.Second), e, []string{"listen", "--as", "sip:bob@example.com", "--server", reg.uri, "--password", "guess"})
	if err == nil || !strings.Contains(err.Error(), "wrong password for sip:bob@example.com") || !strings.Contains(err.Error(), "check --password or PARLEY_PASSWORD") {
		t.Errorf("err = %v", err)
	}
	e, _, _ = testEnv(nil, nil)
	err = run(ctxT(t, 10*time.Second), e, []string{"listen", "--as", "sip:bob@example.com", "--server", reg.uri})
	if err == nil || !strings.Contains(err.Error(), "set --password or PARLEY_PASSWORD") {
		t.Errorf("no password: err = %v", err)
	}
}

// TestSendViaServer: with --server, send does not register; the MESSAGE
// goes through the server (Route), which stores it: exit status 3.
func TestSendViaServer(t *testing.T) {
	reg := newRegistrar(t, "secret")
	e, _, errb := testEnv(nil, map[string]string{"PARLEY_SERVER": reg.uri, "PARLEY_AS": "sip:alice@example.com", "PARLEY_PASSWORD": "secret"})
	err := run(ctxT(t, 10*time.Second), e, []string{"send", "sip:bob@example.com", "stored"})
	if exitCode(err) != exitAccepted || !strings.Contains(errb.String(), "accepted for later delivery (202 Accepted)") {
		t.Errorf("err = %v (exit %d), stderr %q", err, exitCode(err), errb)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if len(reg.expires) != 0 || len(reg.messages) != 1 || reg.messages[0] != "stored" {
		t.Errorf("registrations %v, messages %q", reg.expires, reg.messages)
	}
}
