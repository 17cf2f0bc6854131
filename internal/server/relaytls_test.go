package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

// devTrust returns a pool holding the development certificate of the
// data directory dir.
func devTrust(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dir, "dev-cert.pem"))
	if err != nil {
		t.Fatalf("no development certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("unparsable development certificate")
	}
	return pool
}

// msrpTLSConfig is an endpoint configuration that trusts pool for msrps.
func msrpTLSConfig(pool *x509.CertPool) msrp.Config {
	return msrp.Config{TLS: &tls.Config{RootCAs: pool}}
}

// chat registers user a and user b (auto-answering) at the server's TCP
// address with the given MSRP endpoints, opens a session from a to b and
// exchanges n messages each way. It returns a's call (hung up) for its
// paths.
func chat(t *testing.T, addrA, addrB string, a, b string, epA, epB session.Endpoint, n int) *sipua.Call {
	t.Helper()
	ac, bc := sessionCallVia(t, addrA, addrB, a, b, epA, epB, sipua.InviteOptions{Subject: "chat"})
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for i := range n {
		exchange(t, ac, bc, a+" says "+string(rune('a'+i)))
		exchange(t, bc, ac, b+" says "+string(rune('a'+i)))
	}
	if err := ac.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("BYE did not arrive")
	}
	return ac
}

// TestMSRPRelayTLS (FINDINGS.md F6): the msrps listener of the relay.
// Parley MSRP clients trusting the development certificate AUTH over TLS
// (the relay is built without AllowInsecure), get msrps Use-Paths and
// chat through it; a client of the TLS relay chats with a client of the
// plain relay, relay to relay; plain MSRP to the TLS port gets nowhere.
func TestMSRPRelayTLS(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MSRPRelayTLS = "127.0.0.1:0"
	s := startServer(t, cfg, "alice", "bob", "carol")
	if s.Addrs().MSRPRelayTLS == "" || s.msrps == nil {
		t.Fatal("no TLS relay")
	}
	pool := devTrust(t, dir)
	tlsURI := "msrps://" + s.Addrs().MSRPRelayTLS + ";tcp"
	tlsEP := func(user string) relayedEndpoint {
		t.Helper()
		ep, err := relayedVia(t, tlsURI, msrp.Config{TLS: &tls.Config{RootCAs: pool}}, user, user+"-pw")
		if err != nil {
			t.Fatalf("%s: AUTH over TLS: %v", user, err)
		}
		up := ep.so.Relay.UsePath
		if len(up) != 1 || !up[0].Secure || up[0].HostPort() != s.Addrs().MSRPRelayTLS {
			t.Fatalf("%s: Use-Path %v, want one msrps URI of %s", user, up, s.Addrs().MSRPRelayTLS)
		}
		return ep
	}

	t.Run("plain MSRP to the TLS port", func(t *testing.T) {
		_, err := relayedVia(t, "msrp://"+s.Addrs().MSRPRelayTLS+";tcp", msrp.Config{}, "alice", "alice-pw")
		if err == nil {
			t.Fatal("AUTH in clear text to the TLS listener succeeded")
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		_, err := relayedVia(t, tlsURI, msrp.Config{TLS: &tls.Config{RootCAs: x509.NewCertPool()}}, "alice", "alice-pw")
		var ue x509.UnknownAuthorityError
		if !errors.As(err, &ue) {
			t.Fatalf("AUTH to a relay with an untrusted certificate: %v, want x509.UnknownAuthorityError", err)
		}
	})
	t.Run("wrong password over TLS", func(t *testing.T) {
		_, err := relayedVia(t, tlsURI, msrp.Config{TLS: &tls.Config{RootCAs: pool}}, "bob", "wrong")
		if !errors.Is(err, msrp.ErrAuthRejected) {
			t.Fatalf("%v, want ErrAuthRejected", err)
		}
	})

	addr := s.sipAddr("tcp")
	t.Run("session through the TLS relay", func(t *testing.T) {
		before := s.msrps.Metrics().Forwarded
		ac := chat(t, addr, addr, "alice", "bob", tlsEP("alice"), tlsEP("bob"), 2)
		for _, p := range [][]string{ac.Session().Local().Path, ac.Session().Remote().Path} {
			if len(p) != 2 || !strings.HasPrefix(p[0], "msrps://"+s.Addrs().MSRPRelayTLS+"/") {
				t.Errorf("a=path %v, want the msrps relay first", p)
			}
		}
		if n := s.msrps.Metrics().Forwarded - before; n < 4 {
			t.Errorf("the TLS relay forwarded %d requests, want ≥ 4", n)
		}
	})
	t.Run("TLS relay to plain relay", func(t *testing.T) {
		// carol's endpoint speaks msrps too (the offer's proto is
		// TCP/TLS/MSRP), but her relay is the plain one.
		plain, err := relayedVia(t, "msrp://"+s.Addrs().MSRPRelay+";tcp", msrp.Config{TLS: &tls.Config{RootCAs: pool}}, "carol", "carol-pw")
		if err != nil {
			t.Fatal(err)
		}
		tb, pb := s.msrps.Metrics().Forwarded, s.msrp.Metrics().Forwarded
		ac := chat(t, addr, addr, "alice", "carol", tlsEP("alice"), plain, 2)
		if p := ac.Session().Remote().Path; len(p) != 2 || !strings.HasPrefix(p[0], "msrp://"+s.Addrs().MSRPRelay+"/") {
			t.Errorf("carol's a=path %v, want the plain relay first", p)
		}
		if tn, pn := s.msrps.Metrics().Forwarded-tb, s.msrp.Metrics().Forwarded-pb; tn < 4 || pn < 4 {
			t.Errorf("forwarded %d (TLS relay) and %d (plain relay), want ≥ 4 each", tn, pn)
		}
	})
}

// TestMSRPRelayTLSClientCertificate: an endpoint that presents its own
// self-signed certificate (msrp.Config.Certificate, as Parley's agents
// do for msrps) is an endpoint to the relay, not a peer relay: AUTH
// works with digest.
func TestMSRPRelayTLSClientCertificate(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MSRPRelayTLS, cfg.MSRPRelay, cfg.HTTP = "127.0.0.1:0", "", ""
	s := startServer(t, cfg, "alice")
	cert, err := msrp.SelfSignedCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	mc := msrp.Config{TLS: &tls.Config{RootCAs: devTrust(t, dir)}, Certificate: &cert}
	if _, err := relayedVia(t, "msrps://"+s.Addrs().MSRPRelayTLS+";tcp", mc, "alice", "alice-pw"); err != nil {
		t.Fatalf("AUTH with a self-signed client certificate: %v", err)
	}
}
