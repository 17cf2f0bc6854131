package server

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-im/parley/sipua"
)

// TestDevCertificate: a tls: listener without --tls-cert gets a
// self-signed certificate made in the data directory on first run and
// reused afterwards; a client trusting it registers and sends over TLS.
func TestDevCertificate(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.SIP = append(cfg.SIP, Listen{"tls", "127.0.0.1:0"})
	cfg.MSRPRelay, cfg.HTTP = "", ""
	s := startServer(t, cfg, "alice", "bob")
	certFile, keyFile := filepath.Join(dir, "dev-cert.pem"), filepath.Join(dir, "dev-key.pem")
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatalf("no development certificate: %v", err)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("unparsable certificate")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := s.sipAddr("tls")
	mk := func(user string) (*sipua.UA, inbox) {
		in := make(inbox, 4)
		ua, err := sipua.New(sipua.Config{
			AOR: "sip:" + user + "@" + domain, Password: user + "-pw",
			Registrar: "sips:" + addr, OutboundProxy: "sips:" + addr,
			Listen:    []sipua.Listen{{Transport: "tls", Addr: "127.0.0.1:0"}},
			TLS:       &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
			OnMessage: func(m *sipua.Message) { in <- m },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ua.Close() })
		if err := ua.Start(t.Context()); err != nil {
			t.Fatalf("%s over TLS: %v", user, err)
		}
		return ua, in
	}
	alice, _ := mk("alice")
	_, bobIn := mk("bob")
	if res, err := send(t, alice, "bob", "over tls"); err != nil || res.Status != 200 {
		t.Fatalf("MESSAGE over TLS: %+v %v", res, err)
	}
	if m := bobIn.next(t); string(m.Body) != "over tls" {
		t.Fatalf("got %q", m.Body)
	}
}
