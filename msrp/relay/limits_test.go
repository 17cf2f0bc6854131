package relay

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// fakeRemote makes accepted connections look as if they came from addr.
type fakeRemote struct {
	net.Listener
	addr net.Addr
}

func (l fakeRemote) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return fakeRemoteConn{c, l.addr}, nil
}

type fakeRemoteConn struct {
	net.Conn
	addr net.Addr
}

func (c fakeRemoteConn) RemoteAddr() net.Addr { return c.addr }

func serveOn(t *testing.T, s *Server, l net.Listener) {
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	for s.URI().Port == 0 {
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() { s.Close(); <-done })
}

func TestAuthRequiresTLSOffLoopback(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		auth := NewMemoryAuthenticator()
		s, err := New(Config{Host: "127.0.0.1", Authenticator: auth, AllowInsecure: insecure})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		serveOn(t, s, fakeRemote{l, &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 5000}})
		c := dialRaw(t, s)
		c.write(authReq(s.URI(), c.self), nil)
		f, _ := c.read()
		want := 403
		if insecure {
			want = 401
		}
		if f.StatusCode != want {
			t.Fatalf("AllowInsecure %v: %d %s", insecure, f.StatusCode, f.Comment)
		}
	}
}

func TestMaxConnsPerAddr(t *testing.T) {
	s, _ := startRelay(t, Config{MaxConnsPerAddr: 2})
	a, b := dialRaw(t, s), dialRaw(t, s)
	a.auth(s, "alice")
	b.auth(s, "bob")
	c := dialRaw(t, s)
	if !isClosed(t, c) {
		t.Fatal("third connection accepted")
	}
	if m := s.Metrics(); m.RejectedConns != 1 {
		t.Fatalf("%+v", m)
	}
}

func TestMaxSessionsPerConn(t *testing.T) {
	s, _ := startRelay(t, Config{MaxSessionsPerConn: 2})
	c := dialRaw(t, s)
	c.auth(s, "alice")
	c.auth(s, "alice")
	_, err := msrp.Authenticate(context.Background(), c, s.URI(), msrp.Credentials{Username: "alice", Password: "alice-pw"}, msrp.AuthOptions{From: c.self})
	if err == nil {
		t.Fatal("third session granted")
	}
}

func selfSigned(t *testing.T, name string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestAuthOverTLS: an endpoint off loopback authenticates over TLS and
// gets an msrps Use-Path.
func TestAuthOverTLS(t *testing.T) {
	cert := selfSigned(t, "relay.test")
	auth := NewMemoryAuthenticator()
	auth.Add("alice", "alice-pw")
	s, err := New(Config{Host: "relay.test", Authenticator: auth, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	serveOn(t, s, fakeRemote{l, &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 5000}})
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool.AddCert(leaf)
	nc, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "relay.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rt := &connRT{r: msrp.NewReader(nc, msrp.Limits{}), w: bufio.NewWriter(nc)}
	self := msrp.URI{Secure: true, Host: "client.test", Port: 1, SessionID: "abcdefgh", Transport: "tcp"}
	ra, err := msrp.Authenticate(context.Background(), rt, s.URI(), msrp.Credentials{Username: "alice", Password: "alice-pw"},
		msrp.AuthOptions{From: self, RequireResponseAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	if u := ra.UsePath[0]; !u.Secure || u.Host != "relay.test" {
		t.Fatalf("Use-Path %v", ra.UsePath)
	}
}

// connRT is a minimal synchronous RoundTripper.
type connRT struct {
	r *msrp.Reader
	w *bufio.Writer
}

func (c *connRT) RoundTrip(_ context.Context, req *msrp.Frame, body []byte) (*msrp.Frame, error) {
	req.TID, req.Flag = msrp.NewTransactionID(), msrp.FlagEnd
	c.w.Write(msrp.AppendFrame(nil, req, body))
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	for {
		f, err := c.r.ReadFrame()
		if err != nil {
			return nil, err
		}
		if f.TID == req.TID {
			return f, nil
		}
	}
}

// silentClient authenticates, then never reads again.
func silentClient(t *testing.T, s *Server, user string) (net.Conn, msrp.URI, msrp.URI) {
	nc, err := net.Dial("tcp", s.URI().HostPort())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	self := msrp.URI{Host: "127.0.0.1", Port: nc.LocalAddr().(*net.TCPAddr).Port, SessionID: msrp.NewSessionID(), Transport: "tcp"}
	rt := &connRT{r: msrp.NewReader(nc, msrp.Limits{}), w: bufio.NewWriter(nc)}
	ra, err := msrp.Authenticate(context.Background(), rt, s.URI(), msrp.Credentials{Username: user, Password: user + "-pw"}, msrp.AuthOptions{From: self})
	if err != nil {
		t.Fatal(err)
	}
	return nc, self, ra.UsePath[0]
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestBackPressure: a receiver that stops reading stalls its sender; the
// relay's memory does not grow with the data sent.
func TestBackPressure(t *testing.T) {
	s, _ := startRelay(t, Config{})
	ncA, selfA, ra := silentClient(t, s, "alice")
	ncB, selfB, rb := silentClient(t, s, "bob")
	_ = ncB
	const total = 512 << 20
	head := &msrp.Frame{TID: "bigchunk1", Method: msrp.MethodSEND, ToPath: []msrp.URI{ra, rb, selfB}, FromPath: []msrp.URI{selfA},
		MessageID: "bigmessage", ByteRange: msrp.ByteRange{Start: 1, End: total, Total: total}, HasByteRange: true,
		ContentType: "application/octet-stream", FailureReport: "no"}
	before := heapInUse()
	var written atomic.Int64
	werr := make(chan error, 1)
	go func() {
		if _, err := ncA.Write(head.AppendHead(nil)); err != nil {
			werr <- err
			return
		}
		buf := make([]byte, 64<<10)
		for i := range buf {
			buf[i] = 'a' + byte(i%26)
		}
		for written.Load() < total {
			n, err := ncA.Write(buf)
			written.Add(int64(n))
			if err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	// Wait until the sender is stalled: no progress for 300 ms.
	last := int64(-1)
	for {
		time.Sleep(300 * time.Millisecond)
		n := written.Load()
		if n == last {
			break
		}
		last = n
		if n >= total {
			t.Fatal("all data accepted: no back-pressure")
		}
	}
	after := heapInUse()
	t.Logf("sender stalled after %d MiB; relay+test heap grew %d KiB", last>>20, (int64(after)-int64(before))>>10)
	if last > total/4 {
		t.Fatalf("sender wrote %d bytes before stalling", last)
	}
	// Generous bound: a few buffers, never the data in flight.
	if after > before+16<<20 {
		t.Fatalf("heap grew from %d to %d", before, after)
	}
	ncA.Close()
	<-werr
}

// TestIdleRelease: a quiet connection gives back its read buffer and
// wakes up on the next frame.
func TestIdleRelease(t *testing.T) {
	s, _ := startRelay(t, Config{IdleRelease: 100 * time.Millisecond})
	a, b, ra, rb := pairRaw(t, s)
	deadline := time.Now().Add(5 * time.Second)
	for {
		released := 0
		s.mu.RLock()
		for c := range s.conns {
			if !c.hasReader.Load() {
				released++
			}
		}
		s.mu.RUnlock()
		if released == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("read buffers not released")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "after-idle", "wake up"), []byte("wake up"))
	if _, body := b.read(); string(body) != "wake up" {
		t.Fatalf("%q", body)
	}
}

func TestShutdown(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a, b, ra, rb := pairRaw(t, s)
	a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "before-shutdown", "x"), []byte("x"))
	b.read()
	a.read() // the 200
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !isClosed(t, a) || !isClosed(t, b) {
		t.Fatal("connections left open")
	}
	if err := s.ListenAndServe("127.0.0.1:0"); err != ErrServerClosed {
		t.Fatalf("serve after shutdown: %v", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	s, _ := startRelay(t, Config{IdleTimeout: 200 * time.Millisecond, IdleRelease: -1})
	a := dialRaw(t, s)
	a.auth(s, "alice")
	// Activity keeps it open past the timeout...
	for range 4 {
		time.Sleep(100 * time.Millisecond)
		a.write(authReq(s.URI(), a.self), nil)
		if f, _ := a.read(); f.StatusCode != 401 {
			t.Fatal(f.StatusCode)
		}
	}
	// ...silence closes it within twice the timeout.
	start := time.Now()
	if !isClosed(t, a) {
		t.Fatal("idle connection not closed")
	}
	if el := time.Since(start); el < 150*time.Millisecond || el > 2*time.Second {
		t.Fatalf("closed after %v", el)
	}
}

// TestWriteTimeout: a receiver that reads nothing for WriteTimeout is cut
// off; the sender's pending SEND fails with a REPORT instead of hanging.
func TestWriteTimeout(t *testing.T) {
	s, _ := startRelay(t, Config{WriteTimeout: 300 * time.Millisecond})
	a := dialRaw(t, s)
	ra := a.auth(s, "alice")
	_, selfB, rb := silentClient(t, s, "bob")
	const total = 64 << 20
	head := &msrp.Frame{TID: "stalledchunk", Method: msrp.MethodSEND, ToPath: []msrp.URI{ra, rb, selfB}, FromPath: []msrp.URI{a.self},
		MessageID: "stalled", ByteRange: msrp.ByteRange{Start: 1, End: total, Total: total}, HasByteRange: true,
		ContentType: "application/octet-stream"}
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for i := range buf {
			buf[i] = 'x'
		}
		if _, err := a.nc.Write(head.AppendHead(nil)); err != nil {
			done <- err
			return
		}
		for n := 0; n < total; n += len(buf) {
			if _, err := a.nc.Write(buf); err != nil {
				done <- err
				return
			}
		}
		_, err := a.nc.Write(msrp.AppendEndLine(nil, &msrp.Frame{TID: head.TID, ContentType: "x", Flag: msrp.FlagEnd}))
		done <- err
	}()
	var codes []int
	for len(codes) < 2 {
		f, _ := a.read()
		if f.Method == msrp.MethodREPORT {
			codes = append(codes, f.Status.Code)
		} else {
			codes = append(codes, f.StatusCode)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// 200 (received, §6.4.1) and the failure REPORT, in either order.
	if !(codes[0] == 200 && codes[1] == 408 || codes[0] == 408 && codes[1] == 200) {
		t.Fatalf("got %v", codes)
	}
}

// TestRelayToRelayMutualTLS: two msrps relays; relay 1 dials relay 2 with
// its certificate (RFC 4976 §6.3, §9.2), relay 2 verifies it.
func TestRelayToRelayMutualTLS(t *testing.T) {
	cert := selfSigned(t, "relay.test")
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	start := func() *Server {
		auth := NewMemoryAuthenticator()
		auth.Add("alice", "alice-pw")
		auth.Add("bob", "bob-pw")
		s, err := New(Config{Host: "127.0.0.1", Authenticator: auth,
			TLS:       &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool},
			ClientTLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		serveOn(t, s, l)
		return s
	}
	s1, s2 := start(), start()
	dial := func(s *Server) *rawClient {
		nc, err := tls.Dial("tcp", s.URI().HostPort(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		return newRawClient(t, nc)
	}
	a, b := dial(s1), dial(s2)
	ra, rb := a.auth(s1, "alice"), b.auth(s2, "bob")
	if !ra.Secure || !rb.Secure {
		t.Fatalf("Use-Path %v %v", ra, rb)
	}
	a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "overtls1", "secret"), []byte("secret"))
	if _, body := b.read(); string(body) != "secret" {
		t.Fatalf("%q", body)
	}
	if f, _ := a.read(); f.StatusCode != 200 {
		t.Fatal(f.StatusCode)
	}
	verified := 0
	s2.mu.RLock()
	for c := range s2.conns {
		if c.peerID == "relay.test" && c.secure {
			verified++
		}
	}
	s2.mu.RUnlock()
	if verified != 1 {
		t.Fatalf("relay 2 verified %d relay peers", verified)
	}

	// A tunnelled AUTH through relay 1 (RFC 4976 §5.1): relay 2 checks
	// relay 1's certificate against the first From-Path host and grants
	// a URI usable over any connection to relay 1.
	grants, err := msrp.AuthenticateChain(testCtx(t), a, []msrp.RelayHop{
		{URI: s1.URI(), Credentials: msrp.Credentials{Username: "alice", Password: "alice-pw"}},
		{URI: s2.URI(), Credentials: msrp.Credentials{Username: "alice", Password: "alice-pw"}},
	}, msrp.AuthOptions{From: a.self})
	if err != nil {
		t.Fatal(err)
	}
	use := grants[1].UsePath
	to := append(append([]msrp.URI{}, use...), rb, b.self)
	a.write(send(to, a.self, "tunnelled2", "through both"), []byte("through both"))
	if f, body := b.read(); string(body) != "through both" || len(f.FromPath) != 4 {
		t.Fatalf("%q %v", body, f.FromPath)
	}
	s2.mu.RLock()
	g := s2.grantFor(use[1].SessionID)
	s2.mu.RUnlock()
	if g == nil || g.peer == "" {
		t.Fatalf("grant %+v", g)
	}
}
