package cpimtransport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"
)

// base is what an Endpoint and a Relay share: their lifetime, their lock
// and the listeners they serve, with the address advertised in SDP.
type base struct {
	ctx  context.Context
	stop context.CancelCauseFunc
	wg   sync.WaitGroup

	// handle sets up an accepted connection (in a goroutine counted in
	// wg); set by the owner before the first Listen or Serve.
	handle func(net.Conn)

	// mu guards the fields below and the owner's own state.
	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	host      string
	port      int
}

// Listen listens on a TCP address (e.g. "127.0.0.1:0") and serves it in a
// goroutine owned by the Endpoint or Relay. It returns the listener, whose
// address gives the port advertised in SDP.
func (b *base) Listen(network, address string) (net.Listener, error) {
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	if err := b.addListener(l); err != nil {
		l.Close()
		return nil, err
	}
	go func() {
		defer b.wg.Done()
		b.serve(l)
	}()
	return l, nil
}

// Serve accepts connections on l until l fails or the Endpoint or Relay is
// closed, and returns ErrEndpointClosed after Close. The owner closes l.
// The first listener's port is the one advertised in SDP. When TLS is
// configured, l serves both cpim/tcp and cpim/tls: a connection whose
// first octet is a TLS handshake record is served as TLS.
func (b *base) Serve(l net.Listener) error {
	if err := b.addListener(l); err != nil {
		l.Close()
		return err
	}
	defer b.wg.Done()
	return b.serve(l)
}

func (b *base) addListener(l net.Listener) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrEndpointClosed
	}
	b.listeners[l] = struct{}{}
	b.wg.Add(1) // for the serve loop; counted under mu, see Close
	if b.port == 0 {
		host, port := advertised(l.Addr())
		b.port = port
		if b.host == "" {
			b.host = host
		}
	}
	return nil
}

// advertised returns the host (unless unspecified) and port of a
// listener's address.
func advertised(a net.Addr) (string, int) {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ta.IP.IsUnspecified() {
			return "", ta.Port
		}
		return ta.IP.String(), ta.Port
	}
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return "", 0
	}
	port, _ := strconv.Atoi(p)
	if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
		return "", port
	}
	return h, port
}

func (b *base) serve(l net.Listener) error {
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if b.ctx.Err() != nil {
				return ErrEndpointClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-b.ctx.Done():
					return ErrEndpointClosed
				}
			}
			b.mu.Lock()
			delete(b.listeners, l)
			b.mu.Unlock()
			l.Close()
			return err
		}
		delay = 0
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.handle(nc)
		}()
	}
}

// sniffTLS detects TLS on an accepted connection when tlsConfig is not nil:
// a connection whose first octet is a TLS handshake record is served as
// TLS (with the configuration tlsConfig returns), one that stays silent for
// timeout or sends anything else as plain TCP (a plain active peer may
// wait for us to speak first). On error nc is closed; err is the failed
// handshake's, or nil when the connection ended before a first octet.
func sniffTLS(ctx context.Context, nc net.Conn, timeout time.Duration, tlsConfig func() *tls.Config) (_ net.Conn, secure, ok bool, err error) {
	if tlsConfig == nil {
		return nc, false, true, nil
	}
	pc := &peekConn{Conn: nc}
	nc.SetReadDeadline(time.Now().Add(timeout))
	var b [1]byte
	n, rerr := nc.Read(b[:])
	nc.SetReadDeadline(time.Time{})
	var ne net.Error
	if n == 0 && !(errors.As(rerr, &ne) && ne.Timeout()) {
		nc.Close()
		return nil, false, false, nil
	}
	pc.peeked = b[:n]
	if n == 0 || b[0] != 0x16 { // not a TLS handshake record
		return pc, false, true, nil
	}
	tc := tls.Server(pc, tlsConfig())
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		nc.Close()
		return nil, false, false, err
	}
	return tc, true, true, nil
}

// peekConn gives back the octet read while detecting TLS.
type peekConn struct {
	net.Conn
	peeked []byte
}

func (p *peekConn) Read(b []byte) (int, error) {
	if len(p.peeked) > 0 {
		n := copy(b, p.peeked)
		p.peeked = p.peeked[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// peerCert returns the certificate a TLS peer presented, or nil.
func peerCert(nc net.Conn) *x509.Certificate {
	if tc, ok := nc.(*tls.Conn); ok {
		if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
			return pc[0]
		}
	}
	return nil
}

// isDone reports whether ch is closed.
func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
