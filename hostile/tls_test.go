package hostile

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

func newTLSEndpoint(t *testing.T, cfg msrp.Config) string {
	t.Helper()
	cert, err := msrp.SelfSignedCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificate = &cert
	ep, err := msrp.NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	l, err := ep.ListenTLS(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l.Addr().String()
}

// closedWithin reports whether the server closes nc within d.
func closedWithin(nc net.Conn, d time.Duration) bool {
	nc.SetReadDeadline(time.Now().Add(d))
	var b [4096]byte
	for {
		if _, err := nc.Read(b[:]); err != nil {
			ne, ok := err.(net.Error)
			return !ok || !ne.Timeout()
		}
	}
}

// TestTLSHostile: an msrps listener refuses TLS below 1.2 and plain MSRP,
// and does not keep a connection that never starts its handshake.
func TestTLSHostile(t *testing.T) {
	// The handshake is bounded by TransactionTimeout (msrp.Endpoint.ServeConn).
	addr := newTLSEndpoint(t, msrp.Config{IdleTimeout: time.Second, TransactionTimeout: 2 * time.Second})

	t.Run("tls1.1 refused", func(t *testing.T) {
		// MinVersion too: a crypto/tls client defaults to 1.2 and would
		// fail on its own without offering 1.1 to the server.
		nc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11})
		if err == nil {
			nc.Close()
			t.Fatal("TLS 1.1 handshake accepted")
		}
		if !isProtocolVersionRefusal(err) {
			t.Fatalf("handshake failed, but not by the server's protocol_version alert: %v", err)
		}
	})
	t.Run("tls1.2 accepted", func(t *testing.T) { // control
		nc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatalf("TLS 1.2 handshake refused: %v", err)
		}
		nc.Close()
	})
	t.Run("plain msrp", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write([]byte("MSRP hx1234ab SEND\r\nTo-Path: msrp://127.0.0.1:1/abcd;tcp\r\nFrom-Path: msrp://127.0.0.1:2/efgh;tcp\r\n-------hx1234ab$\r\n"))
		if !closedWithin(nc, reactionTimeout) {
			t.Fatal("plain MSRP on the TLS port not closed")
		}
	})
	t.Run("silent before handshake", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if !closedWithin(nc, 6*time.Second) {
			t.Fatal("a connection that never sent a ClientHello is still open after 6 s")
		}
	})
	t.Run("handshake dripped", func(t *testing.T) {
		ch := drip(t, addr, 1, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 200*time.Millisecond, 8*time.Second)
		checkDripClosed(t, ch, 1, 6*time.Second)
	})
}
