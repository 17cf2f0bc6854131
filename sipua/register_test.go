package sipua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// testRegistrar is a minimal registrar and forwarding proxy written with
// sipgo for the tests: digest authentication (RFC 3261 §22.4, qop=auth)
// of REGISTER, bindings with expiry, and forwarding of out-of-dialog
// MESSAGE and INVITE to the registered contact (a stateful relay: it
// answers the caller with the callee's final status). It is a test peer,
// not the production registrar.
type testRegistrar struct {
	t       *testing.T
	realm   string
	users   map[string]string // user -> password
	grant   int               // seconds granted; 0 grants what was asked
	uri     string
	ua      *sipgo.UserAgent
	cli     *sipgo.Client
	ln      net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	nonce   string
	binds   map[string]sip.Uri // user -> contact
	history []string           // "REGISTER alice expires=N auth=bool"
	regs    chan string
	// proxyAuth makes forward demand digest credentials (407, RFC 3261
	// §22.3) before relaying.
	proxyAuth bool
}

func newTestRegistrar(t *testing.T, users map[string]string, grant int) *testRegistrar {
	t.Helper()
	r := &testRegistrar{t: t, realm: "example.com", users: users, grant: grant, binds: map[string]sip.Uri{}, nonce: "n0nce" + strconv.Itoa(int(time.Now().UnixNano()%1e6)), regs: make(chan string, 64)}
	var err error
	r.ua, err = sipgo.NewUA(sipgo.WithUserAgent("test-registrar"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(r.ua)
	r.cli, _ = sipgo.NewClient(r.ua)
	srv.OnRegister(r.onRegister)
	srv.OnMessage(r.forward)
	r.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.uri = "sip:" + r.ln.Addr().String() + ";transport=tcp"
	r.wg.Go(func() { srv.ServeTCP(r.ln) })
	t.Cleanup(func() {
		r.ln.Close()
		r.ua.Close()
		r.wg.Wait()
	})
	return r
}

func (r *testRegistrar) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	user := req.To().Address.User
	exp := 3600
	if h := req.GetHeader("Expires"); h != nil {
		exp, _ = strconv.Atoi(h.Value())
	}
	authed := false
	if h := req.GetHeader("Authorization"); h != nil {
		cred, err := digest.ParseCredentials(h.Value())
		if err == nil && cred.Nonce == r.nonce {
			want, err := digest.Digest(&digest.Challenge{Realm: r.realm, Nonce: r.nonce, QOP: []string{"auth"}, Algorithm: "MD5"}, digest.Options{
				Method: "REGISTER", URI: cred.URI, Username: cred.Username, Password: r.users[cred.Username], Cnonce: cred.Cnonce, Count: cred.Nc,
			})
			authed = err == nil && r.users[cred.Username] != "" && want.Response == cred.Response && cred.Username == user
		}
	}
	r.mu.Lock()
	r.history = append(r.history, fmt.Sprintf("REGISTER %s expires=%d auth=%v", user, exp, authed))
	r.mu.Unlock()
	if !authed {
		res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
		chal := digest.Challenge{Realm: r.realm, Nonce: r.nonce, QOP: []string{"auth"}, Algorithm: "MD5"}
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", chal.String()))
		tx.Respond(res)
		return
	}
	contact := req.Contact()
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	r.mu.Lock()
	if exp == 0 {
		delete(r.binds, user)
	} else {
		if r.grant > 0 {
			exp = r.grant
		}
		r.binds[user] = *contact.Address.Clone()
		c := contact.Clone()
		c.Params = sip.NewParams()
		c.Params.Add("expires", strconv.Itoa(exp))
		res.AppendHeader(c)
	}
	r.mu.Unlock()
	tx.Respond(res)
	r.regs <- fmt.Sprintf("%s %d", user, exp)
}

func (r *testRegistrar) binding(user string) (sip.Uri, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.binds[user]
	return u, ok
}

// forward relays an out-of-dialog MESSAGE to the callee's contact.
func (r *testRegistrar) checkDigest(req *sip.Request, header string) bool {
	h := req.GetHeader(header)
	if h == nil {
		return false
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil || cred.Nonce != r.nonce || r.users[cred.Username] == "" {
		return false
	}
	want, err := digest.Digest(&digest.Challenge{Realm: r.realm, Nonce: r.nonce, QOP: []string{"auth"}, Algorithm: "MD5"}, digest.Options{
		Method: req.Method.String(), URI: cred.URI, Username: cred.Username, Password: r.users[cred.Username], Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	return err == nil && want.Response == cred.Response
}

func (r *testRegistrar) forward(req *sip.Request, tx sip.ServerTransaction) {
	if r.proxyAuth && !r.checkDigest(req, "Proxy-Authorization") {
		res := sip.NewResponseFromRequest(req, 407, "Proxy Authentication Required", nil)
		chal := digest.Challenge{Realm: r.realm, Nonce: r.nonce, QOP: []string{"auth"}, Algorithm: "MD5"}
		res.AppendHeader(sip.NewHeader("Proxy-Authenticate", chal.String()))
		tx.Respond(res)
		return
	}
	target, ok := r.binding(req.Recipient.User)
	if !ok {
		tx.Respond(sip.NewResponseFromRequest(req, 404, "Not Found", nil))
		return
	}
	out := sip.NewRequest(req.Method, target)
	for _, name := range []string{"From", "To", "Call-ID", "CSeq", "Content-Type"} {
		if h := req.GetHeader(name); h != nil {
			out.AppendHeader(sip.HeaderClone(h))
		}
	}
	out.SetBody(req.Body())
	if tp, ok := target.UriParams.Get("transport"); ok {
		out.SetTransport(strings.ToUpper(tp))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := r.cli.Do(ctx, out)
	if err != nil {
		tx.Respond(sip.NewResponseFromRequest(req, 408, "Request Timeout", nil))
		return
	}
	tx.Respond(sip.NewResponseFromRequest(req, res.StatusCode, res.Reason, nil))
}

func (r *testRegistrar) nextReg(t *testing.T) string {
	t.Helper()
	select {
	case s := <-r.regs:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no REGISTER reached the registrar")
		return ""
	}
}

func TestRegisterDigest(t *testing.T) {
	reg := newTestRegistrar(t, map[string]string{"alice": "s3cret", "bob": "b0b"}, 0)
	alice, err := New(Config{AOR: "sip:alice@example.com", Password: "s3cret", Registrar: reg.uri, OutboundProxy: reg.uri,
		Listen: []Listen{{TCP, "127.0.0.1:0"}}, RegisterExpires: 600 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Start(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("Start (REGISTER): %v", err)
	}
	if got := reg.nextReg(t); got != "alice 600" {
		t.Errorf("registered %q", got)
	}
	if alice.Registered() != 600*time.Second {
		t.Errorf("Registered = %v", alice.Registered())
	}
	if _, ok := reg.binding("alice"); !ok {
		t.Fatal("no binding")
	}

	// A MESSAGE through the registrar/proxy to a registered user.
	box := newInbox()
	testUA(t, Config{AOR: "sip:bob@example.com", Password: "b0b", Registrar: reg.uri, OutboundProxy: reg.uri, OnMessage: box.on}, TCP)
	reg.nextReg(t)
	res, err := alice.SendMessage(ctxT(t, 10*time.Second), "sip:bob@example.com", "text/plain", []byte("via proxy"))
	if err != nil || res.Disposition != Delivered {
		t.Fatalf("SendMessage via proxy: %+v %v", res, err)
	}
	if m := box.next(t); string(m.Body) != "via proxy" {
		t.Errorf("got %q", m.Body)
	}
	_, err = alice.SendMessage(ctxT(t, 10*time.Second), "sip:carol@example.com", "text/plain", []byte("x"))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}

	// Close removes the binding with Expires: 0.
	if err := alice.Close(); err != nil {
		t.Fatal(err)
	}
	if got := reg.nextReg(t); got != "alice 0" {
		t.Errorf("unregister: %q", got)
	}
	if _, ok := reg.binding("alice"); ok {
		t.Error("binding survived Close")
	}
	reg.mu.Lock()
	h := strings.Join(reg.history, "\n")
	reg.mu.Unlock()
	if !strings.Contains(h, "REGISTER alice expires=600 auth=false\nREGISTER alice expires=600 auth=true") {
		t.Errorf("no 401 then digest retry:\n%s", h)
	}
}

func TestRegisterWrongPassword(t *testing.T) {
	reg := newTestRegistrar(t, map[string]string{"alice": "s3cret"}, 0)
	for _, c := range []struct{ name, password string }{{"wrong", "guess"}, {"none", ""}} {
		t.Run(c.name, func(t *testing.T) {
			ua, err := New(Config{AOR: "sip:alice@example.com", Password: c.password, Registrar: reg.uri, Listen: []Listen{{TCP, "127.0.0.1:0"}}})
			if err != nil {
				t.Fatal(err)
			}
			defer ua.Close()
			err = ua.Start(ctxT(t, 10*time.Second))
			if !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("err = %v, want ErrAuthFailed", err)
			}
			if !strings.Contains(err.Error(), "password") {
				t.Errorf("error does not tell the user what to check: %v", err)
			}
		})
	}
}

func TestRegisterRefresh(t *testing.T) {
	reg := newTestRegistrar(t, map[string]string{"alice": "pw"}, 1) // grants 1 s
	ua := testUA(t, Config{AOR: "sip:alice@example.com", Password: "pw", Registrar: reg.uri}, TCP)
	_ = ua
	if got := reg.nextReg(t); got != "alice 1" {
		t.Fatalf("first: %q", got)
	}
	// refreshAfter(1 s) = 500 ms: two refreshes arrive within a few
	// seconds, each with a higher CSeq (sipgo would reject a reused one).
	for range 2 {
		if got := reg.nextReg(t); got != "alice 1" {
			t.Fatalf("refresh: %q", got)
		}
	}
}

func TestRefreshLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var calls []time.Duration
		start := time.Now()
		fail := 2
		done := make(chan struct{})
		go func() {
			defer close(done)
			refreshLoop(ctx, 10*time.Minute, func(context.Context) (time.Duration, error) {
				calls = append(calls, time.Since(start))
				if len(calls) == 2 && fail > 0 {
					fail--
					return 0, errors.New("registrar down")
				}
				if len(calls) == 3 && fail > 0 {
					fail--
					return 0, errors.New("registrar down")
				}
				return 60 * time.Second, nil
			}, func(error) {})
		}()
		time.Sleep(11*time.Minute + 5*time.Second)
		cancel()
		<-done
		// 9 min (10 min - 1 min), then +30 s (granted 60 s → half), fail
		// → +1 s, fail → +2 s, then every 30 s.
		want := []time.Duration{9 * time.Minute, 9*time.Minute + 30*time.Second, 9*time.Minute + 31*time.Second, 9*time.Minute + 33*time.Second}
		for i, w := range want {
			if i >= len(calls) || calls[i] != w {
				t.Fatalf("calls = %v, want prefix %v", calls, want)
			}
		}
		if last := calls[len(calls)-1]; last > 11*time.Minute+5*time.Second {
			t.Errorf("called after cancel: %v", last)
		}
	})
}

func TestRefreshAfter(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{time.Hour, 59 * time.Minute},
		{2 * time.Minute, time.Minute},
		{10 * time.Second, 5 * time.Second},
		{0, 500 * time.Millisecond},
	} {
		if got := refreshAfter(c.in); got != c.want {
			t.Errorf("refreshAfter(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestProxyAuth(t *testing.T) {
	reg := newTestRegistrar(t, map[string]string{"alice": "pw", "bob": "b0b"}, 0)
	reg.proxyAuth = true
	box := newInbox()
	testUA(t, Config{AOR: "sip:bob@example.com", Password: "b0b", Registrar: reg.uri, OnMessage: box.on}, TCP)
	reg.nextReg(t)
	for _, c := range []struct {
		name, password string
		want           error
	}{{"right", "pw", nil}, {"wrong", "nope", ErrAuthFailed}} {
		t.Run(c.name, func(t *testing.T) {
			alice := testUA(t, Config{AOR: "sip:alice@example.com", Password: c.password, OutboundProxy: reg.uri}, TCP)
			_, err := alice.SendMessage(ctxT(t, 10*time.Second), "sip:bob@example.com", "text/plain", []byte("auth me"))
			if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.want == nil {
				if m := box.next(t); string(m.Body) != "auth me" {
					t.Errorf("got %q", m.Body)
				}
			} else {
				var se *StatusError
				if !errors.As(err, &se) || se.Code != 407 {
					t.Errorf("err = %v, want a 407 StatusError", err)
				}
			}
		})
	}
}
