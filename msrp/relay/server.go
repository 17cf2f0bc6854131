package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/msrp"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown
// or Close.
var ErrServerClosed = errors.New("relay: server closed")

// Server is an MSRP relay (RFC 4976 §6). Create it with New, then Serve
// listeners. It is safe for concurrent use.
type Server struct {
	cfg    Config
	secure bool
	nonces *nonces
	lim    msrp.Limits

	mu        sync.RWMutex // guards the fields below
	base      msrp.URI     // the relay's own URI, without session-id
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perAddr   map[netip.Addr]int
	// sessions maps session-id to *grant. Reads are lock-free (every
	// forwarded frame looks one or two up); writes happen under mu.
	sessions sync.Map
	port     atomic.Int64 // base.Port, readable without mu
	outbound map[string]*dialing
	closed   bool

	wg      sync.WaitGroup // conn goroutines
	bg      sync.WaitGroup // sweeper
	done    chan struct{}
	metrics counters
	obsHeld atomic.Int64 // body octets held for Config.OnMessage
}

// grant is one Use-Path URI handed out by AUTH (RFC 4976 §6.3).
type grant struct {
	uri   msrp.URI
	owner *conn
	// peer is set when the AUTH came from a relay authenticated by mutual
	// TLS: the URI is then valid over any connection to that relay
	// (RFC 4976 §6.3) and outlives the owner connection.
	peer    string
	user    string
	expires time.Time
}

// dialing is an outbound connection being opened or open.
type dialing struct {
	ready chan struct{}
	c     *conn
	err   error
}

// New returns a relay Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Host == "" {
		return nil, errors.New("relay: Config.Host is required")
	}
	if cfg.Authenticator == nil {
		return nil, errors.New("relay: Config.Authenticator is required")
	}
	cfg = cfg.withDefaults()
	for _, a := range cfg.Algorithms {
		if _, err := hashFor(a); err != nil {
			return nil, err
		}
	}
	if cfg.MinExpires > cfg.MaxExpires {
		return nil, fmt.Errorf("relay: MinExpires %v above MaxExpires %v", cfg.MinExpires, cfg.MaxExpires)
	}
	s := &Server{
		cfg:       cfg,
		secure:    cfg.TLS != nil,
		nonces:    newNonces(cfg.NonceLifetime),
		lim:       msrp.Limits{MaxChunkSize: cfg.MaxChunkSize},
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		perAddr:   make(map[netip.Addr]int),
		outbound:  make(map[string]*dialing),
		done:      make(chan struct{}),
	}
	s.base = msrp.URI{Secure: s.secure, Host: cfg.Host, Port: cfg.Port, Transport: "tcp"}
	s.port.Store(int64(cfg.Port))
	s.bg.Go(s.sweeper)
	return s, nil
}

// URI returns the relay's own URI (no session-id), the one clients put in
// the To-Path of AUTH. Its port is known once a listener is served.
func (s *Server) URI() msrp.URI {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.base
}

// ListenAndServe listens on the TCP address addr and serves it.
func (s *Server) ListenAndServe(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve accepts connections on l until Shutdown or Close, over TLS when
// Config.TLS is set. It always returns a non-nil error, ErrServerClosed
// after Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if s.cfg.TLS != nil {
		tc := s.cfg.TLS.Clone()
		if tc.ClientAuth == tls.NoClientCert || tc.ClientAuth == tls.VerifyClientCertIfGiven {
			// RFC 4976 §6.1: ask for a certificate, but accept any: an
			// endpoint may present a self-signed one (RFC 4975 §14.4, its
			// fingerprint is in the SDP a=fingerprint), and none or one
			// that does not verify means an endpoint. Only a certificate
			// that verifies against ClientCAs makes the client a relay
			// peer (conn.verifyPeer).
			tc.ClientAuth = tls.RequestClientCert
		}
		l = tls.NewListener(l, tc)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	if s.base.Port == 0 {
		if ta, ok := l.Addr().(*net.TCPAddr); ok {
			s.base.Port = ta.Port
			s.port.Store(int64(ta.Port))
		}
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.accept(nc)
	}
}

func (s *Server) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ap, ok := netip.AddrFromSlice(ta.IP); ok {
			return ap.Unmap()
		}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// ServeConn serves one already accepted connection (for listeners Serve
// cannot wrap, such as a WebSocket or an in-memory pipe) and returns at
// once; the connection is closed by the Server. It is subject to the same
// limits as accepted connections; TLS, if any, is the caller's (a
// *tls.Conn counts as secure for AUTH).
func (s *Server) ServeConn(nc net.Conn) {
	s.accept(nc)
}

func (s *Server) accept(nc net.Conn) {
	addr := addrOf(nc.RemoteAddr())
	s.mu.Lock()
	if s.closed || (s.cfg.MaxConnsPerAddr > 0 && s.perAddr[addr] >= s.cfg.MaxConnsPerAddr) {
		s.mu.Unlock()
		s.metrics.rejectedConns.Add(1)
		nc.Close()
		return
	}
	s.perAddr[addr]++
	c := newConn(s, nc, addr, "")
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.metrics.conns.Add(1)
	s.metrics.connsOpen.Add(1)
	go c.serve()
}

// Shutdown stops accepting connections, closes every connection as soon
// as it is between frames (a frame being cut through is finished first)
// and waits for them to end. If ctx ends first, the rest are closed at
// once and ctx's error is returned. Pending transactions get their
// failure REPORTs as their connections close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	ch := make(chan struct{})
	go func() { s.wg.Wait(); close(ch) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.RLock()
		for c := range s.conns {
			c.shutdownIdle()
		}
		s.mu.RUnlock()
		select {
		case <-ch:
			s.bg.Wait()
			return nil
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.stop()
	s.mu.RLock()
	for c := range s.conns {
		c.close()
	}
	s.mu.RUnlock()
	s.wg.Wait()
	s.bg.Wait()
	return nil
}

func (s *Server) stop() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	for l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
}

// sweeper expires sessions and nonce records, and asks quiet connections
// to give back their read buffers.
func (s *Server) sweeper() {
	period := s.cfg.IdleRelease / 2
	if period <= 0 || period > 5*time.Second {
		period = 5 * time.Second
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		now := s.cfg.Now()
		s.nonces.sweep(now)
		var idle []*conn
		s.mu.Lock()
		s.sessions.Range(func(id, v any) bool {
			if ss := v.(*grant); now.After(ss.expires) {
				s.sessions.Delete(id)
				ss.owner.forget(ss)
				s.metrics.sessionsLive.Add(-1)
			}
			return true
		})
		all := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			all = append(all, c)
			if s.cfg.IdleRelease > 0 && c.quiet() {
				idle = append(idle, c)
			}
		}
		s.mu.Unlock()
		for _, c := range all {
			c.releaseIdleBuf()
		}
		for _, c := range idle {
			c.requestRelease()
		}
	}
}

// isSelf reports whether u names this relay (scheme, host, port and
// transport, RFC 4975 §6.1), whatever its session-id. An AUTH To-Path URI
// may lack the port (RFC 4976 §8).
func (s *Server) isSelf(u msrp.URI, portOptional bool) bool {
	b := msrp.URI{Secure: s.secure, Host: s.cfg.Host, Port: int(s.port.Load()), Transport: "tcp"}
	b.SessionID = u.SessionID
	if portOptional && u.Port == 0 {
		b.Port = 0
	}
	return b.Equal(u)
}

// lookup returns the live session whose URI is exactly u (RFC 4975 §6.1:
// the session-id compares case-sensitively).
func (s *Server) lookup(u msrp.URI) *grant {
	if u.SessionID == "" {
		return nil
	}
	v, _ := s.sessions.Load(u.SessionID)
	ss, _ := v.(*grant)
	if ss == nil || !ss.uri.Equal(u) || s.cfg.Now().After(ss.expires) {
		return nil
	}
	return ss
}

// addSession hands out a fresh URI for owner (RFC 4976 §6.3: at least 64
// random bits; msrp.NewSessionID has about 119).
func (s *Server) addSession(owner *conn, user string, life time.Duration) (*grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || owner.isClosed() {
		return nil, errors.New("closing")
	}
	if len(owner.grants) >= s.cfg.MaxSessionsPerConn {
		return nil, errTooManySessions
	}
	u := s.base
	u.SessionID = msrp.NewSessionID()
	ss := &grant{uri: u, owner: owner, user: user, expires: s.cfg.Now().Add(life)}
	if owner.peerID != "" {
		ss.peer = owner.peerID
	}
	s.sessions.Store(u.SessionID, ss)
	owner.grants = append(owner.grants, ss)
	s.metrics.sessions.Add(1)
	s.metrics.sessionsLive.Add(1)
	return ss, nil
}

// owns reports whether c may use g as the first hop outward (RFC 4976
// §6.3, §6.4): the connection that sent the AUTH, or, for a URI granted to
// a relay authenticated by mutual TLS, any connection to that relay.
func (g *grant) owns(c *conn) bool {
	return g.owner == c || g.peer != "" && c.hasName(g.peer)
}

// deliveryConn returns the connection toward the client that obtained g:
// its own, or for a relay peer's URI any live connection to that relay.
func (s *Server) deliveryConn(g *grant) *conn {
	if !g.owner.isClosed() || g.peer == "" {
		return g.owner
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for c := range s.conns {
		if !c.isClosed() && c.hasName(g.peer) {
			return c
		}
	}
	return g.owner
}

// grantFor returns the grant for a session-id (tests, diagnostics).
func (s *Server) grantFor(id string) *grant {
	v, _ := s.sessions.Load(id)
	g, _ := v.(*grant)
	return g
}

// forget removes g from c's grants (under s.mu).
func (c *conn) forget(g *grant) {
	for i, x := range c.grants {
		if x == g {
			last := len(c.grants) - 1
			c.grants[i] = c.grants[last]
			c.grants[last] = nil
			c.grants = c.grants[:last]
			return
		}
	}
}

var errTooManySessions = errors.New("relay: too many sessions on this connection")

// dropConn forgets c and every session it owns (RFC 4976 §6.3: a client's
// URLs die with its connection).
func (s *Server) dropConn(c *conn) {
	s.mu.Lock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		// Folded in under the lock, so Metrics counts them exactly once
		// (late writes by other goroutines after this are not counted).
		c.stats.addTo(&s.metrics)
		if c.outKey == "" {
			if s.perAddr[c.addr]--; s.perAddr[c.addr] <= 0 {
				delete(s.perAddr, c.addr)
			}
		}
	}
	// The connection's own list, not a walk over every session: a mass
	// disconnect of n clients would otherwise cost n² under s.mu.
	kept := c.grants[:0]
	for _, g := range c.grants {
		if g.peer != "" {
			kept = append(kept, g) // a relay peer's URI outlives the connection
		} else if s.sessions.CompareAndDelete(g.uri.SessionID, g) {
			s.metrics.sessionsLive.Add(-1)
		}
	}
	clear(c.grants[len(kept):])
	c.grants = kept
	if c.outKey != "" {
		if d := s.outbound[c.outKey]; d != nil && d.c == c {
			delete(s.outbound, c.outKey)
		}
	}
	s.mu.Unlock()
	s.metrics.connsOpen.Add(-1)
}

// outConn returns an open connection to the next hop u, reusing one per
// scheme, host and port (RFC 4976 §6.4.2), dialing it otherwise.
func (s *Server) outConn(ctx context.Context, u msrp.URI) (*conn, error) {
	if u.Port == 0 {
		return nil, errors.New("relay: next hop has no port (RFC 4976 §8)")
	}
	key := "msrp://"
	if u.Secure {
		key = "msrps://"
	}
	key += u.HostPort()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrServerClosed
	}
	d := s.outbound[key]
	if d == nil {
		d = &dialing{ready: make(chan struct{})}
		s.outbound[key] = d
		s.wg.Add(1) // for the dial; handed to the conn goroutine on success
		s.mu.Unlock()
		go s.dial(d, key, u)
	} else {
		s.mu.Unlock()
	}
	select {
	case <-d.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.c.isClosed() {
		return nil, net.ErrClosed
	}
	return d.c, nil
}

func (s *Server) dial(d *dialing, key string, u msrp.URI) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DialTimeout)
	watch := make(chan struct{})
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-watch:
		}
	}()
	nc, err := s.dialNet(ctx, u)
	close(watch)
	cancel()
	if err != nil {
		s.mu.Lock()
		if s.outbound[key] == d {
			delete(s.outbound, key)
		}
		s.mu.Unlock()
		d.err = err
		close(d.ready)
		s.wg.Done()
		return
	}
	c := newConn(s, nc, addrOf(nc.RemoteAddr()), key)
	c.proven = true
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		d.err = ErrServerClosed
		close(d.ready)
		s.wg.Done()
		return
	}
	s.conns[c] = struct{}{}
	d.c = c
	s.mu.Unlock()
	s.metrics.conns.Add(1)
	s.metrics.connsOpen.Add(1)
	close(d.ready)
	c.serve() // s.wg.Done when it ends
}

func (s *Server) dialNet(ctx context.Context, u msrp.URI) (net.Conn, error) {
	addr := u.HostPort()
	var nc net.Conn
	var err error
	if s.cfg.Dial != nil {
		nc, err = s.cfg.Dial(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if !u.Secure {
		return nc, nil
	}
	tc := s.cfg.ClientTLS
	if tc == nil {
		tc = &tls.Config{}
	}
	tc = tc.Clone()
	if tc.ServerName == "" {
		tc.ServerName = u.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	t := tls.Client(nc, tc)
	if err := t.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return t, nil
}
