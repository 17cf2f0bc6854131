package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/sipua"
)

const sipDomain = "127.0.0.1"

// startServe runs an in-process "parley serve" (package internal/server)
// on loopback with n accounts u1…un, password "pw-i", and returns its SIP
// addresses by transport ("udp", "tcp").
func startServe(t *testing.T, n int) (map[string]string, []SIPUser) {
	t.Helper()
	dir := t.TempDir()
	s, err := server.New(t.Context(), server.Config{
		SIP:     []server.Listen{{Transport: "udp", Addr: "127.0.0.1:0"}, {Transport: "tcp", Addr: "127.0.0.1:0"}},
		DataDir: dir, Domains: []string{sipDomain}, MSRPRelay: "off", HTTP: "off",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	var users []SIPUser
	for i := 1; i <= n; i++ {
		u := SIPUser{User: "u" + strconv.Itoa(i), Password: "pw-" + strconv.Itoa(i)}
		creds, err := store.NewCredentials(u.User, sipDomain, u.Password)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Store().AddAccount(context.Background(), store.Account{Domain: sipDomain, User: u.User, Credentials: creds}); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	addrs := map[string]string{}
	for _, l := range s.Addrs().SIP {
		addrs[l.Transport] = l.Addr
	}
	return addrs, users
}

// TestSIPScenarios drives MESSAGE and INVITE/BYE through an in-process
// parley serve, bounded by Count, and checks every request is counted
// once, reached the callee and left no error.
func TestSIPScenarios(t *testing.T) {
	addr, users := startServe(t, 6)
	for _, tc := range []struct {
		scenario, transport string
		pairs               int
		count               uint64
		classes             []string
	}{
		{SIPMessage, "udp", 2, 40, []string{"msg"}},
		{SIPInvite, "udp", 3, 30, []string{"call", "bye"}},
		{SIPInvite, "tcp", 2, 10, []string{"call", "bye"}},
	} {
		t.Run(tc.scenario+"/"+tc.transport, func(t *testing.T) {
			res, err := RunSIP(context.Background(), SIPConfig{Scenario: tc.scenario, Server: addr[tc.transport], Users: users,
				Transport: tc.transport, Pairs: tc.pairs, Count: tc.count, Duration: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if testing.Verbose() {
				res.WriteTable(os.Stderr)
			}
			if len(res.Errors) != 0 {
				t.Errorf("errors: %v", res.Errors)
			}
			if want := "sip-" + tc.scenario + "/" + tc.transport; res.Mode != want {
				t.Errorf("mode %q, want %q", res.Mode, want)
			}
			for _, name := range tc.classes {
				c := res.Class(name)
				if c == nil {
					t.Fatalf("no class %q in %+v", name, res.Classes)
				}
				if c.Count != tc.count || c.hist.Count() != tc.count {
					t.Errorf("%s: counted %d with %d latencies, want %d", name, c.Count, c.hist.Count(), tc.count)
				}
				if c.Rate <= 0 || c.Latency.P50 <= 0 || c.Latency.P99 < c.Latency.P50 {
					t.Errorf("%s: rate %v, latency %+v", name, c.Rate, c.Latency)
				}
			}
		})
	}
}

// TestSIPRegisterFailure checks a run whose callee cannot register fails
// before any load, and not as a configuration error.
func TestSIPRegisterFailure(t *testing.T) {
	addr, users := startServe(t, 2)
	users[1].User = "nobody" // no such account: REGISTER is refused
	res, err := RunSIP(context.Background(), SIPConfig{Scenario: SIPInvite, Server: addr["udp"], Users: users, Pairs: 1, Count: 3})
	if err == nil || res != nil || errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "REGISTER sip:nobody@") || !strings.Contains(err.Error(), "403") {
		t.Fatalf("RunSIP = %v, %v; want a REGISTER failure", res, err)
	}
}

// TestSIPErrorsByStatus checks failures are filed by method and status.
func TestSIPErrorsByStatus(t *testing.T) {
	r := &sipRun{errs: map[string]uint64{}}
	r.countErr("INVITE", fmt.Errorf("wrapped: %w", &sipua.StatusError{Method: "INVITE", Code: 404, Reason: "Not Found"}))
	r.countErr("INVITE", &sipua.StatusError{Method: "INVITE", Code: 404})
	r.countErr("BYE", &sipua.StatusError{Method: "BYE", Code: 408})
	r.countErr("INVITE", errors.New("boom"))
	want := map[string]uint64{"INVITE status 404": 2, "BYE status 408": 1, "INVITE error: boom": 1}
	if !maps.Equal(r.errs, want) {
		t.Errorf("errors %v, want %v", r.errs, want)
	}
	if _, err := RunSIP(context.Background(), SIPConfig{Scenario: "subscribe", Server: "127.0.0.1:5060"}); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown scenario: %v", err)
	}
}
