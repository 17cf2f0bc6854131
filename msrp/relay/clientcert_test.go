package relay

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// TestTLSClientCertificates: the TLS listener accepts any client
// certificate. An endpoint with a self-signed one (RFC 4975 §14.4: its
// fingerprint goes in the SDP) authenticates and exchanges messages as
// an endpoint; a client whose certificate verifies against ClientCAs is
// a relay peer (RFC 4976 §6.3); one with a certificate that does not
// verify, even naming the relay's host, is not.
func TestTLSClientCertificates(t *testing.T) {
	relayCert := selfSigned(t, "relay.test")
	leaf, _ := x509.ParseCertificate(relayCert.Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	auth := NewMemoryAuthenticator()
	auth.Add("alice", "alice-pw")
	auth.Add("bob", "bob-pw")
	s, err := New(Config{Host: "127.0.0.1", Authenticator: auth,
		TLS: &tls.Config{Certificates: []tls.Certificate{relayCert}, ClientCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	serveOn(t, s, l)

	dial := func(cert *tls.Certificate) *rawClient {
		t.Helper()
		cfg := &tls.Config{RootCAs: pool, ServerName: "relay.test"}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		nc, err := tls.Dial("tcp", l.Addr().String(), cfg)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return newRawClient(t, nc)
	}
	// relaySide returns the peerID of the relay's end of c's connection;
	// call it after an AUTH on c (which orders it after the handshake).
	relaySide := func(c *rawClient) string {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			s.mu.RLock()
			for rc := range s.conns {
				if rc.nc.RemoteAddr().String() == c.nc.LocalAddr().String() && rc.secure {
					s.mu.RUnlock()
					return rc.peerID
				}
			}
			s.mu.RUnlock()
		}
		t.Fatal("no relay connection for client")
		return ""
	}

	aCert, bCert := selfSigned(t, "alice.example"), selfSigned(t, "bob.example")
	a, b := dial(&aCert), dial(&bCert)
	ra, rb := a.auth(s, "alice"), b.auth(s, "bob")
	if !ra.Secure || !rb.Secure {
		t.Fatalf("Use-Path %v %v", ra, rb)
	}
	if id := relaySide(a); id != "" {
		t.Fatalf("endpoint with a self-signed certificate taken for relay %q", id)
	}
	a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "selfsigned1", "hello"), []byte("hello"))
	if _, body := b.read(); string(body) != "hello" {
		t.Fatalf("%q", body)
	}
	if f, _ := a.read(); f.StatusCode != 200 {
		t.Fatal(f.StatusCode)
	}

	// No certificate: an endpoint, as before.
	c := dial(nil)
	c.auth(s, "alice")
	if id := relaySide(c); id != "" {
		t.Fatalf("client without a certificate taken for relay %q", id)
	}
	// A certificate that verifies against ClientCAs: a relay peer.
	c = dial(&relayCert)
	c.auth(s, "alice")
	if id := relaySide(c); id != "relay.test" {
		t.Fatalf("verifiable relay certificate: peer %q", id)
	}
	// The same names, another key, not in ClientCAs: not a relay, but
	// an endpoint that may authenticate.
	forged := selfSigned(t, "relay.test")
	c = dial(&forged)
	if u := c.auth(s, "alice"); !u.Secure {
		t.Fatalf("Use-Path %v", u)
	}
	if id := relaySide(c); id != "" {
		t.Fatalf("unverifiable certificate taken for relay %q", id)
	}
}
