package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

// TestServeSendHistory runs `parley serve` in-process on port-0
// listeners, sends a message to an offline user with `parley send`
// (202: exit status 3), reads it back with `parley history`, then stops
// the server through its context (what SIGTERM does) and checks it
// drains and returns.
func TestServeSendHistory(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"PARLEY_DATA_DIR": dir}
	for _, u := range []string{"alice", "bob"} {
		e, out, errb := testEnv(nil, vars)
		if err := run(t.Context(), e, []string{"user", "add", u, "--password", u + "-pw"}); err != nil {
			t.Fatalf("user add %s: %v %s", u, err, errb.String())
		}
		if !strings.Contains(out.String(), "added sip:"+u+"@localhost") {
			t.Fatalf("user add: %q", out.String())
		}
	}
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	e, out, errb := testEnv(nil, vars)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, e, []string{"serve", "--sip", "udp:127.0.0.1:0,tcp:127.0.0.1:0", "--http", "127.0.0.1:0", "--msrp-relay", "127.0.0.1:0", "--msrps-relay", "127.0.0.1:0", "--log-format", "json"})
	}()
	addr := waitFor(t, out, regexp.MustCompile(`SIP tcp\s+(\S+)`), 20*time.Second)
	if !strings.Contains(out.String(), "parley user add") || !strings.Contains(out.String(), "MSRP relay   msrp://") || !strings.Contains(out.String(), "MSRP relay   msrps://") {
		t.Errorf("serve banner lacks the how-to:\n%s", out.String())
	}

	se, sout, serr := testEnv(nil, vars)
	err := run(ctxT(t, 20*time.Second), se, []string{"send", "--as", "sip:alice@localhost", "--password", "alice-pw", "--server", "sip:" + addr, "sip:bob@localhost", "stored for bob"})
	if code := exitCode(err); code != 3 {
		t.Fatalf("send to offline bob: exit %d (%v)\n%s\n%s", code, err, sout.String(), serr.String())
	}

	he, hout, herr := testEnv(nil, vars)
	if err := run(t.Context(), he, []string{"history", "bob", "--peer", "alice", "--limit", "5"}); err != nil {
		t.Fatalf("history: %v %s", err, herr.String())
	}
	if !strings.Contains(hout.String(), " [pager]   <- sip:alice@localhost stored for bob\n") {
		t.Errorf("history: %q", hout.String())
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(errb.String(), `"msg":"stopped"`) {
		t.Errorf("no JSON 'stopped' log line:\n%s", errb.String())
	}
}

func TestUserCommand(t *testing.T) {
	vars := map[string]string{"PARLEY_DATA_DIR": t.TempDir()}
	cmd := func(stdin string, env map[string]string, args ...string) (string, string, int) {
		t.Helper()
		vs := map[string]string{}
		for k, v := range vars {
			vs[k] = v
		}
		for k, v := range env {
			vs[k] = v
		}
		e, out, errb := testEnv(strings.NewReader(stdin), vs)
		err := run(t.Context(), e, args)
		if err != nil {
			errb.Write([]byte(err.Error()))
		}
		return out.String(), errb.String(), exitCode(err)
	}
	for _, c := range []struct {
		name, stdin string
		env         map[string]string
		args        []string
		code        int
		out, err    string
	}{
		{"add with flag", "", nil, []string{"user", "add", "alice", "--password", "pw1"}, 0, "added sip:alice@localhost", ""},
		{"add from env", "", map[string]string{"PARLEY_PASSWORD": "pw2"}, []string{"user", "add", "bob@Example.COM"}, 0, "added sip:bob@example.com", ""},
		{"add from stdin", "pw3\n", nil, []string{"user", "add", "--domain", "example.com", "carol", "--name", "Carol"}, 0, "added sip:carol@example.com", "password: "},
		{"duplicate", "", nil, []string{"user", "add", "alice", "--password", "x"}, 1, "", "already exists"},
		{"no password", "", nil, []string{"user", "add", "dave"}, 1, "", "no password"},
		{"bad name", "", nil, []string{"user", "add", "a b", "--password", "x"}, 2, "", "not a user name"},
		{"passwd", "", nil, []string{"user", "passwd", "alice", "--password", "new"}, 0, "password of sip:alice@localhost changed", ""},
		{"list", "", nil, []string{"user", "list"}, 0, "sip:carol@example.com  Carol", ""},
		{"del", "", nil, []string{"user", "del", "alice"}, 0, "deleted sip:alice@localhost", ""},
		{"del missing", "", nil, []string{"user", "del", "alice"}, 1, "", "no user sip:alice@localhost"},
		{"unknown subcommand", "", nil, []string{"user", "frob"}, 2, "", "unknown subcommand"},
		{"no subcommand", "", nil, []string{"user"}, 2, "", "missing subcommand"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := cmd(c.stdin, c.env, c.args...)
			if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errs, c.err) {
				t.Errorf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, c.code, out, c.out, errs, c.err)
			}
		})
	}
	out, _, _ := cmd("", nil, "user", "list")
	if strings.Contains(out, "alice") || !strings.Contains(out, "MD5,SHA-256") {
		t.Errorf("list after del: %q", out)
	}
}

func TestServeFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--sip", "sctp:127.0.0.1:5060"},
		{"serve", "--sip", "udp:nohost"},
		{"serve", "--log-format", "xml"},
		{"serve", "--digest", "CRC32"},
		{"serve", "extra"},
		{"history"},
		{"history", "alice", "--limit", "0"},
	} {
		e, _, _ := testEnv(nil, map[string]string{"PARLEY_DATA_DIR": t.TempDir()})
		if code := exitCode(run(t.Context(), e, args)); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	e, out, _ := testEnv(nil, nil)
	run(t.Context(), e, []string{"serve", "--help"})
	for _, want := range []string{"--sip", "--msrp-relay", "--msrps-relay", "PARLEY_MSRPS_RELAY", "--tls-ca", "--db", "PARLEY_DB", "Examples:", "parley user add",
		"--sip-idle-timeout", "--sip-max-conns-per-ip", "--sip-max-auth-failures", "PARLEY_SIP_MAX_AUTH_FAILURES", "--sip-auth-failure-interval", "--sip-cache-ttl", "PARLEY_SIP_CACHE_TTL"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

func TestServeConfigFile(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, body string }{
		{"parley.toml", "sip = \"udp:127.0.0.1:0,tcp:127.0.0.1:0\"\nhttp = \"off\"\nmsrp_relay = \"off\"\nmsrps_relay = \"off\"\ndomain = [\"example.org\", \"localhost\"]\nlog-level = \"warn\"\n"},
		{"parley.json", `{"sip": "tcp:127.0.0.1:0", "http": "off", "msrp-relay": "off", "msrps-relay": "off", "domain": "example.org"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := dir + "/" + c.name
			if err := os.WriteFile(path, []byte(c.body), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(t.Context())
			e, out, errb := testEnv(nil, map[string]string{"PARLEY_DATA_DIR": dir, "PARLEY_HTTP": "127.0.0.1:1"})
			done := make(chan error, 1)
			go func() { done <- run(ctx, e, []string{"serve", "--config", path}) }()
			waitFor(t, out, regexp.MustCompile(`domains\s+example.org`), 20*time.Second)
			if strings.Contains(out.String(), "HTTP ") || strings.Contains(out.String(), "MSRP relay") {
				t.Errorf("config not applied:\n%s", out.String())
			}
			stop()
			if err := <-done; err != nil {
				t.Fatalf("serve: %v %s", err, errb.String())
			}
		})
	}
	e, _, _ := testEnv(nil, map[string]string{"PARLEY_DATA_DIR": dir})
	bad := dir + "/bad.toml"
	os.WriteFile(bad, []byte("colour = \"blue\"\n"), 0o600)
	if err := run(t.Context(), e, []string{"serve", "--config", bad}); exitCode(err) != 2 || !strings.Contains(err.Error(), "unknown setting") {
		t.Errorf("unknown key: %v", err)
	}
}

// relayedEP routes an MSRP endpoint's sessions through an RFC 4976 relay.
type relayedEP struct {
	*msrp.Endpoint
	so msrp.SessionOptions
}

func (r relayedEP) Offer(ctx context.Context, o session.Options) (session.Offer, error) {
	return r.Endpoint.Offer(msrp.WithSessionOptions(ctx, r.so), o)
}

func (r relayedEP) Answer(ctx context.Context, m *messagesdp.Media, o session.Options) (session.Answer, error) {
	return r.Endpoint.Answer(msrp.WithSessionOptions(ctx, r.so), m, o)
}

// TestServeSessionHistory: two UAs chat in session mode through the MSRP
// relay of `parley serve`; `parley history` then shows the session
// messages of both users (text and --json, mode "session").
func TestServeSessionHistory(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"PARLEY_DATA_DIR": dir}
	for _, u := range []string{"alice", "bob"} {
		e, _, errb := testEnv(nil, vars)
		if err := run(t.Context(), e, []string{"user", "add", u, "--password", u + "-pw"}); err != nil {
			t.Fatalf("user add %s: %v %s", u, err, errb.String())
		}
	}
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	e, out, errb := testEnv(nil, vars)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, e, []string{"serve", "--sip", "tcp:127.0.0.1:0", "--http", "off", "--msrp-relay", "127.0.0.1:0", "--msrps-relay", "off", "--log-level", "warn"})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, errb.String())
		}
	}()
	addr := waitFor(t, out, regexp.MustCompile(`SIP tcp\s+(\S+)`), 20*time.Second)
	relayAddr := waitFor(t, out, regexp.MustCompile(`MSRP relay\s+msrp://(\S+);tcp`), 5*time.Second)

	cctx := ctxT(t, 30*time.Second)
	ua := func(user string, answer chan *sipua.Call) *sipua.UA {
		t.Helper()
		ep, err := msrp.NewEndpoint(msrp.Config{Host: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ep.Close() })
		ru, err := msrp.ParseURI("msrp://" + relayAddr + ";tcp")
		if err != nil {
			t.Fatal(err)
		}
		rc, err := ep.Dial(cctx, ru)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rc.Release)
		self := msrp.URI{Host: "127.0.0.1", Port: 9, SessionID: msrp.NewSessionID(), Transport: "tcp"}
		ra, err := msrp.Authenticate(cctx, rc, ru, msrp.Credentials{Username: user, Password: user + "-pw"}, msrp.AuthOptions{From: self})
		if err != nil {
			t.Fatalf("%s: relay AUTH: %v", user, err)
		}
		srv := "sip:" + addr + ";transport=tcp"
		cfg := sipua.Config{
			AOR: "sip:" + user + "@localhost", Password: user + "-pw", Registrar: srv, OutboundProxy: srv,
			Listen:    []sipua.Listen{{Transport: "tcp", Addr: "127.0.0.1:0"}},
			Endpoints: []session.Endpoint{relayedEP{ep, msrp.SessionOptions{Relay: &msrp.Relay{Conn: rc, UsePath: ra.UsePath}}}},
		}
		if answer != nil {
			cfg.AutoAnswer = true
			cfg.OnCall = func(c *sipua.Call) { answer <- c }
		}
		u, err := sipua.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { u.Close() })
		if err := u.Start(cctx); err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		return u
	}
	calls := make(chan *sipua.Call, 1)
	alice := ua("alice", nil)
	ua("bob", calls)
	ac, err := alice.Invite(cctx, "sip:bob@localhost", sipua.InviteOptions{})
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	bc := <-calls
	say := func(from, to *sipua.Call, text string) {
		t.Helper()
		d, err := from.Session().Send(cctx, &session.Outgoing{ContentType: "text/plain", Body: []byte(text)})
		if err != nil {
			t.Fatal(err)
		}
		if m, err := to.Session().Receive(cctx); err != nil || string(m.Body) != text {
			t.Fatalf("Receive: %v %v", m, err)
		}
		if _, err := d.Wait(cctx); err != nil {
			t.Fatal(err)
		}
	}
	say(ac, bc, "hello bob, in a session")
	say(bc, ac, "hi alice, session reply")
	if err := ac.Hangup(cctx); err != nil {
		t.Fatal(err)
	}

	history := func(args ...string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			he, hout, herr := testEnv(nil, vars)
			if err := run(t.Context(), he, append([]string{"history"}, args...)); err != nil {
				t.Fatalf("history: %v %s", err, herr.String())
			}
			// two session entries, in either output format
			if strings.Count(hout.String(), "[session]")+strings.Count(hout.String(), `"mode":"session"`) >= 2 || time.Now().After(deadline) {
				return hout.String()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, c := range []struct{ owner, peer, out, in string }{
		{"alice", "bob", "[session] -> sip:bob@localhost hello bob, in a session\n", "[session] <- sip:bob@localhost hi alice, session reply\n"},
		{"bob", "alice", "[session] -> sip:alice@localhost hi alice, session reply\n", "[session] <- sip:alice@localhost hello bob, in a session\n"},
	} {
		text := history(c.owner, "--peer", c.peer)
		if !strings.Contains(text, c.out) || !strings.Contains(text, c.in) {
			t.Errorf("parley history %s:\n%s\nwant lines ending %q and %q", c.owner, text, c.out, c.in)
		}
		js := history(c.owner, "--json")
		if n := strings.Count(js, `"mode":"session"`); n != 2 {
			t.Errorf("parley history %s --json: %d session entries, want 2:\n%s", c.owner, n, js)
		}
	}
}

// TestServeSIPLimits: the connection, authentication-throttle and cache
// settings reach server.Config from the flags, the environment and the
// config file (command line over file over environment), "0" meaning
// off, and bad values are refused with exit status 2.
func TestServeSIPLimits(t *testing.T) {
	dir := t.TempDir()
	toml := dir + "/limits.toml"
	if err := os.WriteFile(toml, []byte("sip_cache_ttl = \"3s\"\nsip_max_auth_failures = 5\nsip-idle-timeout = \"0s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	json := dir + "/limits.json"
	if err := os.WriteFile(json, []byte(`{"sip_max_conns_per_ip": 0, "sip_auth_failure_interval": "2m"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	type limits struct {
		idle      time.Duration
		conns     int
		auth      int
		authEvery time.Duration
		cache     time.Duration
	}
	def := limits{5 * time.Minute, 64, 10, 30 * time.Second, time.Second}
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want limits
		code int // exit status of a refused setup
		err  string
	}{
		{"defaults", nil, nil, def, 0, ""},
		{"flags", nil, []string{"--sip-idle-timeout", "90s", "--sip-max-conns-per-ip", "8", "--sip-max-auth-failures", "3",
			"--sip-auth-failure-interval", "1m", "--sip-cache-ttl", "250ms"}, limits{90 * time.Second, 8, 3, time.Minute, 250 * time.Millisecond}, 0, ""},
		{"zero disables", nil, []string{"--sip-idle-timeout", "0", "--sip-max-conns-per-ip", "0", "--sip-max-auth-failures", "0",
			"--sip-auth-failure-interval", "0", "--sip-cache-ttl", "0"}, limits{-1, -1, -1, 0, -1}, 0, ""},
		{"env", map[string]string{"PARLEY_SIP_CACHE_TTL": "2s", "PARLEY_SIP_MAX_AUTH_FAILURES": "4", "PARLEY_SIP_IDLE_TIMEOUT": "1m",
			"PARLEY_SIP_MAX_CONNS_PER_IP": "16", "PARLEY_SIP_AUTH_FAILURE_INTERVAL": "45s"}, nil, limits{time.Minute, 16, 4, 45 * time.Second, 2 * time.Second}, 0, ""},
		{"toml over env", map[string]string{"PARLEY_SIP_CACHE_TTL": "2s", "PARLEY_SIP_MAX_AUTH_FAILURES": "4"}, []string{"--config", toml},
			limits{-1, 64, 5, 30 * time.Second, 3 * time.Second}, 0, ""},
		{"flag over toml", nil, []string{"--config", toml, "--sip-cache-ttl", "100ms"}, limits{-1, 64, 5, 30 * time.Second, 100 * time.Millisecond}, 0, ""},
		{"json", nil, []string{"--config", json}, limits{5 * time.Minute, -1, 10, 2 * time.Minute, time.Second}, 0, ""},
		{"bad env", map[string]string{"PARLEY_SIP_CACHE_TTL": "soon"}, nil, limits{}, 2, "PARLEY_SIP_CACHE_TTL"},
		{"bad env int", map[string]string{"PARLEY_SIP_MAX_AUTH_FAILURES": "ten"}, nil, limits{}, 2, "not an integer"},
		{"bad env overridden", map[string]string{"PARLEY_SIP_CACHE_TTL": "soon"}, []string{"--sip-cache-ttl", "2s"}, limits{5 * time.Minute, 64, 10, 30 * time.Second, 2 * time.Second}, 0, ""},
		{"bad flag", nil, []string{"--sip-cache-ttl", "soon"}, limits{}, 2, "invalid value"},
		{"zero interval", nil, []string{"--sip-auth-failure-interval", "0"}, limits{}, 2, "must be positive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]string{"PARLEY_DATA_DIR": dir}
			for k, v := range c.env {
				vars[k] = v
			}
			e, _, _ := testEnv(nil, vars)
			setup, err := parseServe(e, c.args)
			if c.code != 0 {
				if exitCode(err) != c.code || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v (exit %d), want exit %d mentioning %q", err, exitCode(err), c.code, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg := setup.cfg
			got := limits{cfg.SIPIdleTimeout, cfg.SIPMaxConnsPerIP, cfg.SIPMaxAuthFailures, cfg.SIPAuthFailureInterval, cfg.SIPCacheTTL}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestUserChangesReachRunningServer checks what `parley user --help`
// promises: a running server sees a password change, a new account and a
// deleted one within about a second (its --sip-cache-ttl, 1 s by
// default), and not before its cache expires (--sip-cache-ttl 1h, which
// also shows the flag reaches the proxy).
func TestUserChangesReachRunningServer(t *testing.T) {
	for _, c := range []struct {
		ttl  string // --sip-cache-ttl; "" is the default
		seen bool   // changes visible 1.5 s later
	}{{"", true}, {"1h", false}} {
		name := "ttl " + c.ttl
		if c.ttl == "" {
			name = "default ttl"
		}
		t.Run(name, func(t *testing.T) {
			vars := map[string]string{"PARLEY_DATA_DIR": t.TempDir()}
			user := func(args ...string) {
				t.Helper()
				e, _, errb := testEnv(nil, vars)
				if err := run(t.Context(), e, append([]string{"user"}, args...)); err != nil {
					t.Fatalf("user %q: %v %s", args, err, errb.String())
				}
			}
			user("add", "alice", "--password", "old-pw")
			user("add", "bob", "--password", "bob-pw")
			ctx, stop := context.WithCancel(t.Context())
			e, out, errb := testEnv(nil, vars)
			args := []string{"serve", "--sip", "tcp:127.0.0.1:0", "--http", "off", "--msrp-relay", "off", "--msrps-relay", "off", "--log-level", "warn"}
			if c.ttl != "" {
				args = append(args, "--sip-cache-ttl", c.ttl)
			}
			done := make(chan error, 1)
			go func() { done <- run(ctx, e, args) }()
			defer func() {
				stop()
				if err := <-done; err != nil {
					t.Errorf("serve: %v\n%s", err, errb.String())
				}
			}()
			addr := waitFor(t, out, regexp.MustCompile(`SIP tcp\s+(\S+)`), 20*time.Second)
			// send as alice to an offline user: exit 3 (stored) once
			// authenticated and the recipient exists.
			send := func(password, to string) (int, string) {
				t.Helper()
				se, _, serr := testEnv(nil, vars)
				err := run(ctxT(t, 20*time.Second), se, []string{"send", "--as", "sip:alice@localhost", "--password", password, "--server", "sip:" + addr, "sip:" + to + "@localhost", "hi"})
				if err != nil {
					serr.Write([]byte(err.Error()))
				}
				return exitCode(err), serr.String()
			}
			expect := func(password, to string, code int, msg string) {
				t.Helper()
				if got, errs := send(password, to); got != code || !strings.Contains(errs, msg) {
					t.Errorf("send with %s to %s: exit %d (want %d), stderr %q (want %q)", password, to, got, code, errs, msg)
				}
			}
			// Fill the cache: alice's HA1, bob exists, carol does not.
			expect("old-pw", "bob", 3, "accepted for later delivery")
			expect("old-pw", "carol", 1, "no such user")

			user("passwd", "alice", "--password", "new-pw")
			user("add", "carol", "--password", "carol-pw")
			user("del", "bob")
			time.Sleep(1500 * time.Millisecond)
			if c.seen {
				expect("new-pw", "carol", 3, "accepted for later delivery")
				expect("new-pw", "bob", 1, "no such user")
				expect("old-pw", "carol", 1, "wrong password")
			} else {
				expect("old-pw", "bob", 3, "accepted for later delivery")
				expect("old-pw", "carol", 1, "no such user")
			}
		})
	}
}
