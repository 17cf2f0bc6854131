package cpimtransport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
)

func tlsConfig(t *testing.T) *tls.Config {
	t.Helper()
	cert, err := msrp.SelfSignedCertificate("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

func TestTLSFingerprint(t *testing.T) {
	a := newLoopback(t, Config{TLS: tlsConfig(t), PreferTLS: true})
	b := newLoopback(t, Config{TLS: tlsConfig(t)})
	if p := a.Protocols(); len(p) != 2 || p[0] != "cpim/tls" {
		t.Fatalf("Protocols = %v", p)
	}
	sa, sb := connect(t, a, b, session.Options{}, session.Options{})
	if sa.Local().Proto != "cpim/tls" || sb.Local().Proto != "cpim/tls" {
		t.Fatalf("protos %s %s", sa.Local().Proto, sb.Local().Proto)
	}
	if !strings.HasPrefix(sa.Local().Fingerprint, "sha-256 ") || sb.Local().Fingerprint == "" {
		t.Fatalf("fingerprints %q %q", sa.Local().Fingerprint, sb.Local().Fingerprint)
	}
	send(t, sb, "over tls")
	if m := recv(t, sa); string(m.Body) != "over tls" {
		t.Fatalf("got %q", m.Body)
	}
	send(t, sa, "and back")
	if m := recv(t, sb); string(m.Body) != "and back" {
		t.Fatalf("got %q", m.Body)
	}
	c := sb.(*sess).conn.Load()
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		t.Fatalf("connection is %T", c.nc)
	}
	if v := tc.ConnectionState().Version; v < tls.VersionTLS12 {
		t.Errorf("TLS version %x", v)
	}
	// The passive side saw the active side's client certificate, which
	// matches the answer's fingerprint.
	ca := sa.(*sess).conn.Load()
	if ca.peer == nil || !matchFingerprint(sb.Local().Fingerprint, ca.peer) {
		t.Error("passive side did not check the client certificate")
	}
}

func TestTLSFingerprintMismatch(t *testing.T) {
	a := newLoopback(t, Config{TLS: tlsConfig(t), PreferTLS: true})
	b := newLoopback(t, Config{TLS: tlsConfig(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	off, err := a.Offer(ctx, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := off.Media()
	m.Fingerprint = "sha-256 " + strings.Repeat("00:", 31) + "00"
	ans, err := b.Answer(ctx, m, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ans.Open(ctx); err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Fatalf("Open with a wrong fingerprint: %v", err)
	}
}

func TestTLSHostnameVerification(t *testing.T) {
	serverCfg := tlsConfig(t)
	leaf, err := x509.ParseCertificate(serverCfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	trusting := x509.NewCertPool()
	trusting.AddCert(leaf)
	for _, tc := range []struct {
		name  string
		roots *x509.CertPool
		ok    bool
	}{
		{"trusted", trusting, true},
		{"untrusted", x509.NewCertPool(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newLoopback(t, Config{TLS: serverCfg, PreferTLS: true})
			bcfg := tlsConfig(t)
			bcfg.RootCAs = tc.roots
			b := newLoopback(t, Config{TLS: bcfg})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			off, err := a.Offer(ctx, session.Options{})
			if err != nil {
				t.Fatal(err)
			}
			m := off.Media()
			m.Fingerprint = "" // no fingerprint: the chain and the name (127.0.0.1) are verified
			ans, err := b.Answer(ctx, m, session.Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = ans.Open(ctx)
			if tc.ok && err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("Open succeeded with an untrusted certificate")
			}
			off.Cancel()
		})
	}
}
