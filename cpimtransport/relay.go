package cpimtransport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/messagesdp"
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// Host is the relay's address, written into rewritten c-lines. Empty
	// means the IP of the first listener.
	Host string
	// TLS, if set, lets the relay serve and dial cpim/tls legs. Its first
	// certificate's fingerprint replaces the endpoints' a=fingerprint in
	// rewritten cpim/tls media, since the relay terminates TLS.
	TLS *tls.Config
	// Dial opens connections to endpoints; nil means a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Reader limits the framer on every connection.
	Reader ReaderOptions
	// MaxQueued bounds the messages held for a leg whose endpoint has not
	// connected yet; 0 means 256. Beyond it messages are dropped (counted).
	MaxQueued int
	// AddressBindDelay concerns an endpoint that connects to the relay
	// (the relay is passive toward it) and has not sent yet: messages for
	// it go out on the only candidate connection from its c-line address
	// (docs/seed-choices.md §10) once that connection and the Install are
	// AddressBindDelay old. 0 means DefaultAddressBindDelay; negative
	// means never: messages wait until the endpoint has sent one.
	AddressBindDelay time.Duration
	// Logger; nil discards the log.
	Logger *slog.Logger
	// OnMessage, if set, is called for every message the relay forwards
	// or queues for its destination (not for unmatched or dropped ones),
	// after it has been handed on. It runs on the reading connection's
	// goroutine: it must not block (copy what you keep).
	OnMessage func(RelayMessage)
	// ObserveMaxBody bounds RelayMessage.Body; 0 means
	// DefaultObserveMaxBody, negative never passes bodies.
	ObserveMaxBody int
}

// RelayStats counts what a Relay did.
type RelayStats struct {
	// Forwarded messages, and Unmatched ones whose From/To pair names no
	// installed session (discarded, §6.2, §7).
	Forwarded, Unmatched int64
	// Dropped messages found their destination leg's queue full.
	Dropped int64
	// Garbage octets discarded by the framers.
	Garbage int64
}

// Relay is a CPIM transport session relay (§7). A SIP proxy rewrites the
// SDP of an offer and its answer to point at the relay (RewriteOffer,
// Install) and installs the session; the relay then carries the session's
// messages between the two endpoints. It shares connections between all
// the sessions it relays, in both directions, and demultiplexes only by
// the CPIM From and To headers, never by port (§7). Messages are forwarded
// byte for byte (RFC 3862 §6: intermediaries change nothing).
type Relay struct {
	base // Listen and Serve; its mu guards the fields below

	cfg    RelayConfig
	log    *slog.Logger
	tlsSrv *tls.Config
	fp     string

	conns   map[*rconn]struct{}
	dialed  map[connKey]*rconn
	routes  map[routeKey]*relayLeg // (From, To) → destination leg
	legs    map[string]*relayLeg   // by the URI of the leg's endpoint
	offers  map[string]int64       // connSeq at RewriteOffer, by the offer's a=uri
	connSeq int64

	forwarded, unmatched, dropped, garbage atomic.Int64
}

type routeKey struct{ from, to string }

// relayLeg is the relay's side of one endpoint of one session.
type relayLeg struct {
	uri    string
	media  *messagesdp.Media // the endpoint's own media, as it sent it
	active bool              // the relay connects to the endpoint
	conn   *rconn            // nil until connected or learned
	queue  [][]byte
	rs     *RelaySession

	// For a passive leg (the endpoint connects to the relay): proven is
	// set once conn is known to be the endpoint's (the relay dialed it, a
	// message from the endpoint's a=uri came on it, or its certificate
	// matches a=fingerprint); otherwise conn is a guess (guessLocked).
	proven    bool
	since     int64     // connections accepted after this may be new for the leg
	installed time.Time // when Install ran
	timer     *time.Timer
	party     string // the user behind the endpoint (InstallFor), or ""
}

// maxOffers bounds the RewriteOffer records waiting for their Install.
const maxOffers = 4096

// RelaySession is one session installed in a Relay.
type RelaySession struct {
	r    *Relay
	legs [2]*relayLeg
}

// NewRelay returns a Relay; call Listen or Serve, then RewriteOffer and
// Install for each session.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	r := &Relay{
		cfg: cfg, log: cfg.Logger,
		conns:  map[*rconn]struct{}{},
		dialed: map[connKey]*rconn{},
		routes: map[routeKey]*relayLeg{},
		legs:   map[string]*relayLeg{},
		offers: map[string]int64{},
	}
	r.listeners = map[net.Listener]struct{}{}
	r.host = cfg.Host
	r.handle = r.accept
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.cfg.MaxQueued <= 0 {
		r.cfg.MaxQueued = 256
	}
	if r.cfg.ObserveMaxBody == 0 {
		r.cfg.ObserveMaxBody = DefaultObserveMaxBody
	}
	if r.cfg.AddressBindDelay == 0 {
		r.cfg.AddressBindDelay = DefaultAddressBindDelay
	}
	if r.cfg.Dial == nil {
		var d net.Dialer
		r.cfg.Dial = d.DialContext
	}
	if cfg.TLS != nil {
		if len(cfg.TLS.Certificates) == 0 || len(cfg.TLS.Certificates[0].Certificate) == 0 {
			return nil, errors.New("cpimtransport: RelayConfig.TLS needs a certificate")
		}
		r.fp = Fingerprint(cfg.TLS.Certificates[0].Certificate[0])
		r.tlsSrv = cfg.TLS.Clone()
		r.tlsSrv.MinVersion = max(r.tlsSrv.MinVersion, tls.VersionTLS12)
		if r.tlsSrv.ClientAuth == tls.NoClientCert {
			r.tlsSrv.ClientAuth = tls.RequestClientCert
		}
	}
	r.ctx, r.stop = context.WithCancelCause(context.Background())
	return r, nil
}

// Stats returns a snapshot of the relay's counters.
func (r *Relay) Stats() RelayStats {
	return RelayStats{Forwarded: r.forwarded.Load(), Unmatched: r.unmatched.Load(),
		Dropped: r.dropped.Load(), Garbage: r.garbage.Load()}
}

// accept sets up an incoming connection: TLS detection (a TLS handshake
// record first is served as cpim/tls) and the connection's loops.
func (r *Relay) accept(nc net.Conn) {
	var tlsConfig func() *tls.Config
	if r.tlsSrv != nil {
		tlsConfig = func() *tls.Config { return r.tlsSrv }
	}
	if nc, _, ok, _ := sniffTLS(r.ctx, nc, 2*time.Second, tlsConfig); ok {
		r.newConn(nc, connKey{}, true)
	}
}

// Close closes the listeners and every connection and waits for the
// relay's goroutines.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.wg.Wait()
		return nil
	}
	r.closed = true
	r.stop(ErrEndpointClosed)
	var ls []net.Listener
	for l := range r.listeners {
		ls = append(ls, l)
	}
	var cs []*rconn
	for c := range r.conns {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, c := range cs {
		c.close(ErrEndpointClosed)
	}
	r.wg.Wait()
	return nil
}

// RewriteMedia returns a copy of m rewritten to send its endpoint's peer
// to a relay at host:port (§7): the c-line address and the m-line port,
// the proto when proto is not "" (it must still be a CPIM transport), and
// the relay's own a=fingerprint (fp, "" to drop it) for cpim/tls, because
// the relay terminates TLS. Nothing else changes: a=uri in particular
// stays, since the relay demultiplexes by it. The a=direction attribute of
// messagesdp carries no source address, so there is none to rewrite.
func RewriteMedia(m *messagesdp.Media, host string, port int, proto, fp string) (*messagesdp.Media, error) {
	if m == nil || !messagesdp.IsCPIM(m.Proto) {
		return nil, fmt.Errorf("%w: not a CPIM transport media", messagesdp.ErrInvalid)
	}
	if proto != "" && !messagesdp.IsCPIM(proto) {
		return nil, fmt.Errorf("%w: %q is not a CPIM transport", messagesdp.ErrInvalid, proto)
	}
	o := m.Clone()
	o.Address = host
	o.Port = port
	if proto != "" {
		o.Proto = strings.ToLower(proto)
	}
	o.Fingerprint = ""
	if messagesdp.IsSecure(o.Proto) {
		o.Fingerprint = fp
	}
	return o, nil
}

func (r *Relay) addr() (string, int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return "", 0, ErrEndpointClosed
	}
	if r.host == "" || r.port == 0 {
		return "", 0, errors.New("cpimtransport: relay has no listener or host")
	}
	return r.host, r.port, nil
}

// RewriteOffer returns the offer to forward to the answerer: offer
// pointing at the relay, with proto changed to proto when it is not "".
func (r *Relay) RewriteOffer(offer *messagesdp.Media, proto string) (*messagesdp.Media, error) {
	host, port, err := r.addr()
	if err != nil {
		return nil, err
	}
	if proto != "" && messagesdp.IsSecure(proto) && r.tlsSrv == nil {
		return nil, errors.New("cpimtransport: relay has no TLS configuration")
	}
	m, err := RewriteMedia(offer, host, port, proto, r.fp)
	if err != nil {
		return nil, err
	}
	// The answerer receives the rewritten offer now: a connection of its
	// accepted from here on may be the one it opens for this session.
	r.mu.Lock()
	if len(r.offers) >= maxOffers {
		for k := range r.offers {
			delete(r.offers, k) // an Install that never came; any will do
			break
		}
	}
	r.offers[offer.URI] = r.connSeq
	r.mu.Unlock()
	return m, nil
}

// Install installs a session from the original offer (as the offerer sent
// it) and the original answer (as the answerer sent it, to the rewritten
// offer) and returns the answer to forward to the offerer. The relay plays
// the answerer's connection role toward the offerer and the offerer's
// toward the answerer; when it is the active side it connects now.
func (r *Relay) Install(ctx context.Context, offer, answer *messagesdp.Media) (*messagesdp.Media, *RelaySession, error) {
	return r.install(ctx, offer, answer, Parties{})
}

func (r *Relay) install(ctx context.Context, offer, answer *messagesdp.Media, p Parties) (*messagesdp.Media, *RelaySession, error) {
	if err := checkRemote(offer, []string{messagesdp.ProtoCPIMTCP, messagesdp.ProtoCPIMTLS}); err != nil {
		return nil, nil, fmt.Errorf("offer: %w", err)
	}
	if err := checkRemote(answer, []string{messagesdp.ProtoCPIMTCP, messagesdp.ProtoCPIMTLS}); err != nil {
		return nil, nil, fmt.Errorf("answer: %w", err)
	}
	if offer.URI == answer.URI {
		return nil, nil, errors.New("cpimtransport: offer and answer carry the same a=uri")
	}
	host, port, err := r.addr()
	if err != nil {
		return nil, nil, err
	}
	rewritten, err := RewriteMedia(answer, host, port, offer.Proto, r.fp)
	if err != nil {
		return nil, nil, err
	}
	rs := &RelaySession{r: r}
	// Toward the offerer the relay stands in for the answerer, and
	// toward the answerer for the offerer.
	now := time.Now()
	rs.legs[0] = &relayLeg{uri: offer.URI, media: offer.Clone(), active: messagesdp.IsActive(answer, offer, false), rs: rs, installed: now, party: p.Offerer}
	rs.legs[1] = &relayLeg{uri: answer.URI, media: answer.Clone(), active: messagesdp.IsActive(offer, answer, true), rs: rs, installed: now, party: p.Answerer}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, nil, ErrEndpointClosed
	}
	rs.legs[0].since = r.connSeq
	rs.legs[1].since = r.connSeq
	if seq, ok := r.offers[offer.URI]; ok {
		rs.legs[1].since = seq
		delete(r.offers, offer.URI)
	}
	for _, l := range rs.legs {
		if _, dup := r.legs[l.uri]; dup {
			r.mu.Unlock()
			return nil, nil, fmt.Errorf("cpimtransport: a=uri %s is already relayed", l.uri)
		}
	}
	for _, l := range rs.legs {
		r.legs[l.uri] = l
	}
	r.routes[routeKey{offer.URI, answer.URI}] = rs.legs[1]
	r.routes[routeKey{answer.URI, offer.URI}] = rs.legs[0]
	r.mu.Unlock()
	for _, l := range rs.legs {
		if !l.active {
			continue
		}
		c, err := r.connTo(ctx, l.media)
		if err != nil {
			rs.Close()
			return nil, nil, err
		}
		r.mu.Lock()
		r.attach(l, c, true)
		r.mu.Unlock()
	}
	// Toward an endpoint that connects to the relay, its connection may
	// be there already (proven by its certificate, or the only candidate).
	r.mu.Lock()
	for _, l := range rs.legs {
		if !l.active {
			r.guessLocked(l)
		}
	}
	r.mu.Unlock()
	return rewritten, rs, nil
}

// Close removes the session from the relay. Connections stay open for the
// other sessions they carry.
func (rs *RelaySession) Close() {
	r := rs.r
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range rs.legs {
		if r.legs[l.uri] == l {
			delete(r.legs, l.uri)
		}
		l.queue = nil
		if l.timer != nil {
			l.timer.Stop()
		}
		r.detach(l)
	}
	delete(r.routes, routeKey{rs.legs[0].uri, rs.legs[1].uri})
	delete(r.routes, routeKey{rs.legs[1].uri, rs.legs[0].uri})
}

// attach makes c the leg's connection and queues what waited for it
// (r.mu held, so that nothing newer overtakes it). proven is false for a
// guess (guessLocked).
func (r *Relay) attach(l *relayLeg, c *rconn, proven bool) {
	if l.conn != c {
		r.detach(l)
		l.conn = c
		c.legs[l] = struct{}{}
	}
	l.proven = proven
	q := l.queue
	l.queue = nil
	for _, b := range q {
		c.push(b)
	}
}

// detach forgets the leg's connection (r.mu held).
func (r *Relay) detach(l *relayLeg) {
	if l.conn != nil {
		delete(l.conn.legs, l)
	}
	l.conn, l.proven = nil, false
}

// candidate reports whether c could be the connection of l's endpoint by
// its address alone (r.mu held), as Endpoint.candidate decides for a
// passive session: an accepted connection with the leg's TLS-ness (and
// certificate) from the endpoint's c-line address that was accepted since
// the rewritten SDP went out and carries no proven leg, or carries proven
// legs only, all of endpoints at the same c-line address and port (the
// endpoint reusing its connection to the relay, §2, §7).
func (r *Relay) candidate(l *relayLeg, c *rconn) bool {
	if !c.inbound || c.isClosed() || messagesdp.IsSecure(l.media.Proto) != isTLS(c.nc) ||
		!sameHost(c.nc.RemoteAddr(), l.media.Address) {
		return false
	}
	if l.media.Fingerprint != "" && !matchFingerprint(l.media.Fingerprint, c.peer) {
		return false
	}
	proven := 0
	for o := range c.legs {
		if o == l || !o.proven {
			continue
		}
		if !samePlace(o.media, l.media) {
			return false
		}
		proven++
	}
	return proven > 0 || c.seq > l.since
}

// guessLocked finds the connection of a passive leg that has none (r.mu
// held). A certificate matching the endpoint's a=fingerprint proves it.
// Otherwise, as for an Endpoint's passive session (docs/seed-choices.md
// §4, §10), exactly one candidate connection, AddressBindDelay old and
// accepted or reused no earlier than AddressBindDelay before now or the
// Install, is taken as a guess: what waited for the leg goes out on it. A
// second candidate takes the guess back (newConn), and the endpoint's
// first message proves its connection (route).
func (r *Relay) guessLocked(l *relayLeg) {
	if r.closed || l.active || l.conn != nil || r.legs[l.uri] != l {
		return
	}
	var only *rconn
	n := 0
	for c := range r.conns {
		if !r.candidate(l, c) {
			continue
		}
		if l.media.Fingerprint != "" {
			r.attach(l, c, true)
			return
		}
		only = c
		n++
	}
	if n != 1 || r.cfg.AddressBindDelay < 0 {
		return // none yet, or ambiguous: wait for the endpoint's message
	}
	since := only.accepted
	if l.installed.After(since) {
		since = l.installed
	}
	if wait := time.Until(since.Add(r.cfg.AddressBindDelay)); wait > 0 {
		if l.timer == nil {
			l.timer = time.AfterFunc(wait, func() {
				r.mu.Lock()
				defer r.mu.Unlock()
				r.guessLocked(l)
			})
		} else {
			l.timer.Reset(wait)
		}
		return
	}
	r.log.Info("cpim relay: sending on the only connection from the endpoint's address", "uri", l.uri, "remote", only.nc.RemoteAddr())
	r.attach(l, only, false)
}

// reguessLocked runs guessLocked for every passive leg without a
// connection (r.mu held), after the candidates changed.
func (r *Relay) reguessLocked() {
	for _, l := range r.legs {
		if !l.active && l.conn == nil {
			r.guessLocked(l)
		}
	}
}

// connTo returns a connection to an endpoint's c-line address and m-line
// port, shared with every other session going there (§7).
func (r *Relay) connTo(ctx context.Context, m *messagesdp.Media) (*rconn, error) {
	secure := messagesdp.IsSecure(m.Proto)
	key := connKey{addr: net.JoinHostPort(strings.Trim(m.Address, "[]"), strconv.Itoa(m.Port)), tls: secure, fingerprint: m.Fingerprint}
	r.mu.Lock()
	if c := r.dialed[key]; c != nil && !c.isClosed() {
		r.mu.Unlock()
		return c, nil
	}
	r.mu.Unlock()
	nc, err := r.cfg.Dial(ctx, "tcp", key.addr)
	if err != nil {
		return nil, fmt.Errorf("cpimtransport: relay connecting to %s: %w", key.addr, err)
	}
	if secure {
		e := &Endpoint{cfg: Config{TLS: r.cfg.TLS}}
		if r.cfg.TLS != nil {
			e.clientCert = &r.cfg.TLS.Certificates[0]
		}
		tc := tls.Client(nc, e.clientTLS(m))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("cpimtransport: relay TLS with %s: %w", key.addr, err)
		}
		nc = tc
	}
	c := r.newConn(nc, key, false)
	if c == nil {
		return nil, ErrEndpointClosed
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.dialed[key]; old != nil && !old.isClosed() {
		// Another session dialed the same place meanwhile; use one.
		go c.close(errors.New("duplicate connection"))
		return old, nil
	}
	r.dialed[key] = c
	return c, nil
}

// rconn is one relay connection, shared by any number of sessions.
type rconn struct {
	r        *Relay
	nc       net.Conn
	peer     *x509.Certificate // TLS client certificate, if any
	key      connKey
	inbound  bool
	seq      int64
	accepted time.Time
	out      chan []byte
	done     chan struct{}
	once     sync.Once

	legs map[*relayLeg]struct{} // the legs on it; guarded by Relay.mu
}

func (r *Relay) newConn(nc net.Conn, key connKey, inbound bool) *rconn {
	c := &rconn{r: r, nc: nc, key: key, inbound: inbound, accepted: time.Now(), peer: peerCert(nc),
		out: make(chan []byte, 256), done: make(chan struct{}), legs: map[*relayLeg]struct{}{}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		nc.Close()
		return nil
	}
	r.connSeq++
	c.seq = r.connSeq
	r.conns[c] = struct{}{}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		c.writeLoop()
	}()
	go func() {
		defer r.wg.Done()
		c.readLoop()
	}()
	if inbound {
		// A new candidate: it may prove a leg by its certificate, make a
		// guess ambiguous, or be the only candidate of a waiting leg.
		for _, l := range r.legs {
			switch {
			case l.active:
			case l.conn == nil:
				r.guessLocked(l)
			case !l.proven && l.media.Fingerprint == "" && r.candidate(l, c):
				r.log.Info("cpim relay: second connection from the endpoint's address, waiting for its message", "uri", l.uri, "remote", nc.RemoteAddr())
				r.detach(l)
			}
		}
	}
	return c
}

func (c *rconn) isClosed() bool { return isDone(c.done) }

func (c *rconn) close(err error) {
	c.once.Do(func() {
		close(c.done)
		c.nc.Close()
		r := c.r
		r.mu.Lock()
		delete(r.conns, c)
		if r.dialed[c.key] == c {
			delete(r.dialed, c.key)
		}
		for l := range c.legs {
			l.conn, l.proven = nil, false
		}
		clear(c.legs)
		r.reguessLocked()
		r.mu.Unlock()
		if err != nil && !isEOF(err) {
			r.log.Info("cpim relay connection closed", "remote", c.nc.RemoteAddr(), "err", err)
		}
	})
}

// push queues a framed message; it blocks while the connection's queue is
// full (back-pressure onto the sending connection).
func (c *rconn) push(b []byte) {
	select {
	case c.out <- b:
	case <-c.done:
	}
}

func (c *rconn) writeLoop() {
	w := NewWriter(c.nc)
	for {
		var b []byte
		select {
		case b = <-c.out:
		case <-c.done:
			return
		}
		for {
			if _, err := w.bw.Write(b); err != nil {
				c.close(err)
				return
			}
			select {
			case b = <-c.out:
				continue
			default:
			}
			break
		}
		if err := w.Flush(); err != nil {
			c.close(err)
			return
		}
	}
}

func (c *rconn) readLoop() {
	r := c.r
	fr := NewReader(c.nc, &r.cfg.Reader)
	for {
		n, err := fr.Next()
		if err != nil {
			if Recoverable(err) {
				var fe *FrameError
				errors.As(err, &fe)
				r.garbage.Add(fe.Discarded)
				continue
			}
			c.close(err)
			return
		}
		// The frame is rebuilt around the content, byte for byte.
		b := AppendEnvelope(make([]byte, 0, n+64), n)
		start := len(b)
		b = growLen(b, int(n))
		if _, err := io.ReadFull(fr, b[start:]); err != nil {
			c.close(err)
			return
		}
		c.route(b, b[start:])
	}
}

func isTLS(nc net.Conn) bool {
	_, ok := nc.(*tls.Conn)
	return ok
}

// route forwards one message by its From and To (§7).
func (c *rconn) route(frame, content []byte) {
	r := c.r
	var at time.Time
	if r.cfg.OnMessage != nil {
		at = time.Now()
	}
	m, err := cpim.Parse(content)
	var from cpim.Address
	var tos []cpim.Address
	if err == nil {
		from, err = m.From()
	}
	if err == nil {
		tos, err = m.To()
	}
	if err != nil || len(tos) != 1 {
		r.unmatched.Add(1)
		r.log.Info("cpim relay: message without one From and one To", "remote", c.nc.RemoteAddr(), "err", err)
		return
	}
	r.mu.Lock()
	dst := r.routes[routeKey{from.URI, tos[0].URI}]
	if dst == nil {
		r.mu.Unlock()
		r.unmatched.Add(1)
		r.log.Info("cpim relay: no session", "from", from.URI, "to", tos[0].URI)
		return
	}
	// The sender's leg is learned from its messages when the endpoint
	// connected to the relay.
	if src := r.legs[from.URI]; src != nil && !src.active && src.conn != c {
		// On cpim/tls the endpoint must present the certificate its
		// a=fingerprint names, as the endpoints themselves require.
		if messagesdp.IsSecure(src.media.Proto) != isTLS(c.nc) ||
			src.media.Fingerprint != "" && !matchFingerprint(src.media.Fingerprint, c.peer) {
			r.mu.Unlock()
			r.unmatched.Add(1)
			r.log.Info("cpim relay: sender's connection does not match its media", "from", from.URI)
			return
		}
		r.attach(src, c, true)
		r.reguessLocked()
	} else if src != nil && !src.active && !src.proven {
		src.proven = true
		r.reguessLocked()
	}
	out := dst.conn
	if out == nil {
		if len(dst.queue) >= r.cfg.MaxQueued {
			r.mu.Unlock()
			r.dropped.Add(1)
			return
		}
		dst.queue = append(dst.queue, frame)
	}
	// The sender's leg is the one of the destination's session.
	src := dst.rs.legs[0]
	if src == dst {
		src = dst.rs.legs[1]
	}
	r.mu.Unlock()
	r.forwarded.Add(1)
	if out != nil {
		out.push(frame)
	}
	if r.cfg.OnMessage != nil {
		r.observe(m, from.URI, tos[0].URI, src, dst, at)
	}
}
