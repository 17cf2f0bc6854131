package hostile

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/server"
)

// startTLSServer runs `parley serve` with a SIP TLS listener (besides the
// TCP and UDP ones) on its self-signed development certificate, made in
// the data directory on first use, and returns a client configuration
// that trusts exactly that certificate.
func startTLSServer(t *testing.T, idle time.Duration) (*server.Server, *tls.Config) {
	t.Helper()
	var dataDir string
	s := startServerWith(t, func(c *server.Config) {
		c.SIP = append(c.SIP, server.Listen{Transport: "tls", Addr: "127.0.0.1:0"})
		c.SIPIdleTimeout = idle
		dataDir = c.DataDir
	})
	pem, err := os.ReadFile(filepath.Join(dataDir, "dev-cert.pem"))
	if err != nil {
		t.Fatalf("development certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("dev-cert.pem holds no certificate")
	}
	return s, &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

func dialSIPTLS(t testing.TB, addr string, conf *tls.Config) *sipConn {
	t.Helper()
	d := &net.Dialer{Timeout: reactionTimeout}
	nc, err := tls.DialWithDialer(d, "tcp", addr, conf)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &sipConn{nc: nc, br: bufio.NewReader(nc)}
}

// viaTLS makes a TCP case's Via name the transport it is sent over
// (RFC 3261 §18.1.1, §20.42); nothing else in the case changes.
func viaTLS(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte("SIP/2.0/TCP 127.0.0.1:5999"), []byte("SIP/2.0/TLS 127.0.0.1:5999"))
}

// TestReplaySIPServerTLS replays the SIP corpus at the SIP TLS listener
// of `parley serve` exactly as TestReplaySIPServer does over TCP: the
// reactions listed for sip= in cases.txt hold over TLS too (the framing
// and the limits are the same code behind a tls.Listener).
func TestReplaySIPServerTLS(t *testing.T) {
	s, conf := startTLSServer(t, 0)
	addr := sipAddr(s, "tls")
	if addr == "" {
		t.Fatal("no SIP TLS listener in Addrs")
	}
	replaySIP(t, func(t testing.TB) *sipConn { return dialSIPTLS(t, addr, conf) }, viaTLS)
}

// TestSIPServerTLSHostile: TLS-specific abuse of the SIP TLS listener.
// A connection whose handshake never completes (silent, or a ClientHello
// dripped one byte at a time) is closed by the idle timeout; plaintext SIP
// on the TLS port is refused and the connection closed; TLS 1.0 and 1.1
// are refused (TLS 1.2 is the floor, RFC 8996, RFC 5630 §3); and the
// listener keeps serving a real client throughout, with the abusers'
// goroutines gone at the end.
func TestSIPServerTLSHostile(t *testing.T) {
	const idle = 500 * time.Millisecond
	s, conf := startTLSServer(t, idle)
	addr := sipAddr(s, "tls")
	warm := dialSIPTLS(t, addr, conf)
	warm.nc.Write(viaTLS([]byte(sipProbe("tlswarm"))))
	if code, err := warm.final(reactionTimeout); err != nil || code != 200 {
		t.Fatalf("OPTIONS over TLS: %d %v", code, err)
	}
	warm.nc.Close()
	g0 := runtime.NumGoroutine()

	t.Run("silent before ClientHello", func(t *testing.T) {
		nc, err := net.DialTimeout("tcp", addr, reactionTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		start := time.Now()
		if !closedWithin(nc, 3*time.Second) {
			t.Fatal("a connection that never sent a ClientHello is still open after 3 s")
		}
		t.Logf("closed after %v (idle timeout %v)", time.Since(start).Round(time.Millisecond), idle)
	})
	t.Run("ClientHello dripped", func(t *testing.T) {
		// A TLS 1.2 ClientHello record header and the start of the
		// handshake message, one byte every 100 ms: never complete.
		const n = 4
		ch := drip(t, addr, n, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 100*time.Millisecond, 4*time.Second)
		checkDripClosed(t, ch, n, 3*time.Second)
	})
	t.Run("handshake done then silent", func(t *testing.T) {
		sc := dialSIPTLS(t, addr, conf)
		if !closedWithin(sc.nc, 3*time.Second) {
			t.Fatal("an idle TLS connection without a SIP message is still open after 3 s")
		}
	})
	t.Run("SIP head dripped inside TLS", func(t *testing.T) {
		sc := dialSIPTLS(t, addr, conf)
		head := viaTLS([]byte(sipProbe("tlsdrip")))
		done := make(chan bool, 1)
		go func() {
			for i := 0; i < len(head)-4; i++ { // never the final CRLFCRLF
				sc.nc.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := sc.nc.Write(head[i : i+1]); err != nil {
					done <- true
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			done <- false
		}()
		if !closedWithin(sc.nc, 3*time.Second) {
			t.Error("a TLS connection dripping a SIP head is still open after 3 s")
		}
		sc.nc.Close()
		<-done
	})
	t.Run("plaintext SIP", func(t *testing.T) {
		nc, err := net.DialTimeout("tcp", addr, reactionTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write([]byte(sipProbe("plain")))
		nc.SetReadDeadline(time.Now().Add(reactionTimeout))
		var got bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := nc.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("plaintext SIP on the TLS port: connection not closed")
				}
				break
			}
		}
		if bytes.Contains(got.Bytes(), []byte("SIP/2.0")) {
			t.Fatalf("plaintext SIP on the TLS port was answered in plaintext: %q", got.String())
		}
	})
	for _, v := range []struct {
		name string
		ver  uint16
	}{{"TLS 1.0 refused", tls.VersionTLS10}, {"TLS 1.1 refused", tls.VersionTLS11}} {
		t.Run(v.name, func(t *testing.T) {
			// MinVersion must be lowered too: crypto/tls clients default
			// to 1.2, and would otherwise fail before sending anything.
			nc, err := tls.DialWithDialer(&net.Dialer{Timeout: reactionTimeout}, "tcp", addr,
				&tls.Config{InsecureSkipVerify: true, MinVersion: v.ver, MaxVersion: v.ver})
			if err == nil {
				nc.Close()
				t.Fatalf("%s handshake accepted", v.name)
			}
			t.Logf("refused: %v", err)
			if !isProtocolVersionRefusal(err) {
				t.Fatalf("handshake failed, but not by the server's protocol_version alert: %v", err)
			}
		})
	}
	t.Run("TLS 1.2 accepted", func(t *testing.T) { // control for the two above
		c := conf.Clone()
		c.MaxVersion = tls.VersionTLS12
		sc := dialSIPTLS(t, addr, c)
		sc.nc.Write(viaTLS([]byte(sipProbe("tls12"))))
		if code, err := sc.final(reactionTimeout); err != nil || code != 200 {
			t.Fatalf("OPTIONS over TLS 1.2: %d %v", code, err)
		}
	})

	fresh := dialSIPTLS(t, addr, conf)
	fresh.nc.Write(viaTLS([]byte(sipProbe("tlsfresh"))))
	if code, err := fresh.final(reactionTimeout); err != nil || code != 200 {
		t.Fatalf("fresh TLS connection after the abuse: %d %v", code, err)
	}
	fresh.nc.Close()
	if n := settleGoroutines(g0 + 2); n > g0+2 {
		t.Errorf("goroutines: %d before the abuse, %d after", g0, n)
	}
}

// isProtocolVersionRefusal reports whether a client handshake error is the
// server's protocol_version alert (70, RFC 8446 §6.2; RFC 5246 §7.2.2),
// which crypto/tls reports as a "remote error" naming it, not a local
// refusal to offer the version.
func isProtocolVersionRefusal(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error" && strings.Contains(oe.Err.Error(), "protocol version not supported")
}

// TestSIPServerTLSConnCap: the per-IP connection cap (SIPMaxConnsPerIP)
// holds on the TLS listener too, counted before any handshake: a peer
// cannot hold more than the cap in half-open handshakes, and a slot comes
// back when a connection closes.
func TestSIPServerTLSConnCap(t *testing.T) {
	const maxConns = 4
	s := startServerWith(t, func(c *server.Config) {
		c.SIP = append(c.SIP, server.Listen{Transport: "tls", Addr: "127.0.0.1:0"})
		c.SIPMaxConnsPerIP = maxConns
	})
	addr := sipAddr(s, "tls")
	// maxConns connections that never start their handshake.
	var held []net.Conn
	for range maxConns {
		nc, err := net.DialTimeout("tcp", addr, reactionTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		held = append(held, nc)
	}
	// One more: closed by the server at once (the cap), handshake or not.
	conf := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	if nc, err := tls.DialWithDialer(&net.Dialer{Timeout: reactionTimeout}, "tcp", addr, conf); err == nil {
		if !closedWithin(nc, reactionTimeout) {
			t.Fatalf("connection %d from one IP kept with SIPMaxConnsPerIP %d", maxConns+1, maxConns)
		}
		nc.Close()
	}
	for _, nc := range held {
		if closedWithin(nc, 100*time.Millisecond) {
			t.Fatal("a connection within the cap was closed")
		}
	}
	// A slot comes back once one closes.
	held[0].Close()
	deadline := time.Now().Add(reactionTimeout)
	for {
		nc, err := tls.DialWithDialer(&net.Dialer{Timeout: reactionTimeout}, "tcp", addr, conf)
		if err == nil {
			sc := &sipConn{nc: nc, br: bufio.NewReader(nc)}
			sc.nc.Write(viaTLS([]byte(sipProbe("tlscap"))))
			code, err := sc.final(reactionTimeout)
			nc.Close()
			if err == nil && code == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no slot came back after a capped connection closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
