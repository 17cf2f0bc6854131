package loadgen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/msrp/relay"
)

// startRelay serves Parley's relay on a loopback port for the tests.
func startRelay(t *testing.T) *relay.Server {
	return startRelayTLS(t, nil)
}

// startRelayTLS serves the relay over TLS (msrps) when tc is set.
func startRelayTLS(t *testing.T, tc *tls.Config) *relay.Server {
	t.Helper()
	auth := relay.NewMemoryAuthenticator()
	auth.Add("alice", "alice-secret")
	auth.Add("bob", "bob-secret")
	cfg := relay.Config{Host: "127.0.0.1", Authenticator: auth, MaxConnsPerAddr: -1, MaxSessionsPerConn: 1000, TLS: tc}
	if os.Getenv("LG_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := relay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	for s.URI().Port == 0 {
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return s
}

var creds = []msrp.Credentials{{Username: "alice", Password: "alice-secret"}, {Username: "bob", Password: "bob-secret"}}

// TestCountBounded checks, on every path, that a run bounded by Count
// sends exactly Count messages, that every one is counted once at B with
// its bytes and a latency, and that nothing is reported as an error.
func TestCountBounded(t *testing.T) {
	s := startRelay(t)
	for _, tc := range []struct {
		name, scenario, mode string
		sessions, window     int
		size                 int
		count                uint64
	}{
		{"small two-hop", Small, TwoHop, 5, 4, 100, 1000},
		{"small one-hop", Small, OneHop, 3, 8, 100, 999},
		{"small direct", Small, Direct, 4, 2, 64, 500},
		{"bulk two-hop", Bulk, TwoHop, 2, 4, 8192, 200},
		{"bulk large direct", Bulk, Direct, 1, 2, 200_000, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := MSRPConfig{Scenario: tc.scenario, Mode: tc.mode, Relay: s.URI().HostPort(), Users: creds,
				Sessions: tc.sessions, Window: tc.window, Size: tc.size, Count: tc.count, Duration: time.Minute}
			res, err := RunMSRP(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) != 0 {
				t.Errorf("errors: %v", res.Errors)
			}
			c := res.Class("msg")
			if c == nil {
				t.Fatalf("no msg class in %+v", res.Classes)
			}
			if c.Count != tc.count {
				t.Errorf("counted %d messages, want %d", c.Count, tc.count)
			}
			if c.Bytes != tc.count*uint64(tc.size) {
				t.Errorf("counted %d bytes, want %d", c.Bytes, tc.count*uint64(tc.size))
			}
			if c.hist.Count() != tc.count {
				t.Errorf("%d latencies recorded, want %d", c.hist.Count(), tc.count)
			}
			if c.Latency.P50 <= 0 || c.Latency.P99 < c.Latency.P50 || c.Latency.Max < c.Latency.P999 {
				t.Errorf("latency summary out of order: %+v", c.Latency)
			}
			if testing.Verbose() {
				res.WriteTable(os.Stderr)
			}
		})
	}
}

// TestMixedChurnIdle runs the other scenarios briefly against the relay
// and checks their counts hang together.
func TestMixedChurnIdle(t *testing.T) {
	s := startRelay(t)
	base := MSRPConfig{Mode: TwoHop, Relay: s.URI().HostPort(), Users: creds, Drain: 5 * time.Second}

	t.Run("mixed", func(t *testing.T) {
		cfg := base
		cfg.Scenario, cfg.Sessions, cfg.ChatSessions, cfg.ChatRate, cfg.Duration = Mixed, 1, 3, 50, 500*time.Millisecond
		res, err := RunMSRP(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		chat, bulk := res.Class("chat"), res.Class("bulk")
		if chat == nil || bulk == nil {
			t.Fatalf("classes %+v", res.Classes)
		}
		if chat.Count == 0 || bulk.Count == 0 || len(res.Errors) != 0 {
			t.Errorf("chat %d, bulk %d, errors %v", chat.Count, bulk.Count, res.Errors)
		}
		// 3 sessions at 50/s for 0.5 s: paced, so about 75 and never
		// more than the schedule allows (+1 per session for t=0).
		if chat.Count > 3*26 {
			t.Errorf("chat sent %d messages, pacing allows at most %d", chat.Count, 3*26)
		}
		if bulk.Bytes != bulk.Count*8192 {
			t.Errorf("bulk bytes %d for %d messages", bulk.Bytes, bulk.Count)
		}
	})

	t.Run("churn", func(t *testing.T) {
		cfg := base
		cfg.Scenario, cfg.Sessions, cfg.ChurnMessages, cfg.Duration = Churn, 2, 3, 300*time.Millisecond
		res, err := RunMSRP(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		sess, msg := res.Class("session"), res.Class("msg")
		if sess.Count == 0 || msg.Count != 3*sess.Count || len(res.Errors) != 0 {
			t.Errorf("sessions %d, messages %d (want 3 per session), errors %v", sess.Count, msg.Count, res.Errors)
		}
		if m := s.Metrics(); m.SessionsLive != 0 {
			// Closing the connections ends their sessions at the relay.
			time.Sleep(100 * time.Millisecond)
			if m = s.Metrics(); m.SessionsLive != 0 {
				t.Errorf("relay still has %d live sessions", m.SessionsLive)
			}
		}
	})

	t.Run("idle", func(t *testing.T) {
		cfg := base
		cfg.Scenario, cfg.Sessions, cfg.SessionsPerConn, cfg.Settle = Idle, 30, 4, 10*time.Millisecond
		cfg.PIDs = []int{os.Getpid()}
		before := s.Metrics().Sessions
		res, err := RunMSRP(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Idle.Sessions != 30 || res.Idle.Connections != 8 || len(res.Errors) != 0 {
			t.Errorf("idle %+v, errors %v", res.Idle, res.Errors)
		}
		if got := s.Metrics().Sessions - before; got != 30 {
			t.Errorf("relay handed out %d Use-Paths, want 30", got)
		}
		if res.Idle.RSSAfterKB <= 0 {
			t.Errorf("no RSS read: %+v", res.Idle)
		}
	})
}

// TestTLS runs small and bulk loads over msrps to a TLS relay, whose
// certificate the client verifies, and checks the relay handed out msrps
// Use-Paths; a client that does not trust the certificate fails setup.
func TestTLS(t *testing.T) {
	cert, err := msrp.SelfSignedCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	s := startRelayTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	if !s.URI().Secure {
		t.Fatalf("relay URI %s is not msrps", s.URI())
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	client := &tls.Config{RootCAs: roots}
	for _, tc := range []struct {
		name, scenario, mode string
		size                 int
		count                uint64
	}{
		{"small two-hop", Small, TwoHop, 100, 500},
		{"bulk one-hop", Bulk, OneHop, 8192, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := RunMSRP(context.Background(), MSRPConfig{Scenario: tc.scenario, Mode: tc.mode, Relay: s.URI().HostPort(),
				Users: creds, Sessions: 2, Window: 4, Size: tc.size, Count: tc.count, Duration: time.Minute, TLS: client})
			if err != nil {
				t.Fatal(err)
			}
			if c := res.Class("msg"); c == nil || c.Count != tc.count || c.Bytes != tc.count*uint64(tc.size) || len(res.Errors) != 0 {
				t.Errorf("classes %+v, errors %v", res.Classes, res.Errors)
			}
		})
	}
	t.Run("untrusted", func(t *testing.T) {
		_, err := RunMSRP(context.Background(), MSRPConfig{Scenario: Small, Mode: TwoHop, Relay: s.URI().HostPort(),
			Users: creds, Sessions: 1, Count: 1, TLS: &tls.Config{}})
		if err == nil || !strings.Contains(err.Error(), "TLS handshake") {
			t.Fatalf("err = %v, want a TLS handshake failure", err)
		}
	})
	t.Run("direct", func(t *testing.T) {
		if _, err := RunMSRP(context.Background(), MSRPConfig{Scenario: Small, Mode: Direct, TLS: client}); !errors.Is(err, ErrConfig) {
			t.Fatalf("err = %v, want ErrConfig", err)
		}
	})
}
