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
	"strings"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// Defaults for Config.
const (
	// DefaultReceiptTimeout is how long a sender waits for a delivery
	// report (§6.3) before the delivery times out; it matches MSRP's 30 s
	// transaction timeout (RFC 4975 §7.1.1).
	DefaultReceiptTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long an accepted connection that carries
	// no session is kept open.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultSendQueue is the number of messages a connection queues
	// before Send waits.
	DefaultSendQueue = 256
	// DefaultAddressBindDelay is Config.AddressBindDelay's default.
	DefaultAddressBindDelay = time.Second
)

// ErrEndpointClosed is returned by Serve and by the Endpoint's methods
// after Close.
var ErrEndpointClosed = errors.New("cpimtransport: endpoint closed")

// Config configures an Endpoint. The zero value is usable for cpim/tcp on
// a listener bound to a specific address.
type Config struct {
	// Host is the address written in the c-line and in the host part of
	// generated a=uri values. Empty means the IP of the first listener
	// (which then must not be a wildcard address).
	Host string
	// TLS, if set, enables cpim/tls. Its Certificates serve incoming TLS
	// connections and are presented as client certificates; its RootCAs
	// verify peers that have no a=fingerprint. TLS 1.2 is the minimum.
	TLS *tls.Config
	// PreferTLS lists cpim/tls before cpim/tcp in Protocols, so offers use
	// it.
	PreferTLS bool
	// Dial opens outgoing connections; nil means a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// NewURI returns a fresh a=uri for a session (§4.2); nil means
	// NewSessionURI(Host). Values must be globally unique.
	NewURI func() string
	// ReceiptTimeout bounds the wait for a delivery report; 0 means
	// DefaultReceiptTimeout.
	ReceiptTimeout time.Duration
	// IdleTimeout closes accepted connections that carry no session;
	// 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// SendQueue is the number of messages queued per connection before
	// Send blocks; 0 means DefaultSendQueue.
	SendQueue int
	// SniffTimeout is how long an accepted connection may stay silent
	// before it is taken for plain TCP when TLS is configured (a TLS
	// client speaks first); 0 means 2 s. It only delays a passive side
	// that wants to send first to a silent cpim/tcp peer (its messages
	// wait in the backlog meanwhile).
	SniffTimeout time.Duration
	// AddressBindDelay concerns a passive session that sends before its
	// peer's first message has proven which accepted connection is the
	// peer's (docs/seed-choices.md §4): its messages go out on the only
	// connection from the peer's c-line address accepted since the
	// session was created, once that connection is AddressBindDelay old
	// and still the only one. 0 means DefaultAddressBindDelay; negative
	// means never: such messages wait for the proof (or ReceiptTimeout).
	AddressBindDelay time.Duration
	// Reader limits the framer on every connection.
	Reader ReaderOptions
	// Logger receives discarded messages, garbage and connection errors;
	// nil discards the log.
	Logger *slog.Logger
}

// Stats counts events across an Endpoint's connections.
type Stats struct {
	// Messages framed on all connections.
	Messages int64
	// Garbage is the number of octets discarded by the framers, and
	// Resyncs how many times a framer resynchronised (§6.1).
	Garbage, Resyncs int64
	// Unmatched messages named no session of their connection (§6.2) or
	// could not be parsed as message/cpim; they were discarded.
	Unmatched int64
	// Duplicates and Gaps are MsgID irregularities (§3, §5).
	Duplicates, Gaps int64
	// Rejected messages matched a session but had a type or size the
	// session does not accept.
	Rejected int64
	// ReportsSent and ReportsReceived count delivery reports (§6.3).
	ReportsSent, ReportsReceived int64
}

type stats struct {
	messages, garbage, resyncs, unmatched, duplicates, gaps, rejected, reportsSent, reportsReceived atomic.Int64
}

// Endpoint is a CPIM transport session endpoint (session.Endpoint): it
// negotiates sessions through SDP, owns the TCP and TLS connections that
// carry them and every goroutine it starts.
type Endpoint struct {
	// base has Listen and Serve, and mu, which guards the fields below
	// and every session's binding (sess.conn, sess.remote, conn.sessions).
	// Lock order: Endpoint.mu, then sess.mu, then conn.mu.
	base

	cfg Config
	log *slog.Logger

	fingerprint string // of our certificate, for a=fingerprint
	clientCert  *tls.Certificate

	sessions map[string]*sess // by local URI
	conns    map[*conn]struct{}
	dialed   map[connKey]*conn
	dialing  map[connKey]*dialCall
	connSeq  int64

	st stats
}

var _ session.Endpoint = (*Endpoint)(nil)

type connKey struct {
	addr        string
	tls         bool
	fingerprint string
}

type dialCall struct {
	done chan struct{}
	c    *conn
	err  error
}

// NewEndpoint returns an Endpoint. Call Listen or Serve to accept
// connections (needed to be passive), and Close to release everything.
func NewEndpoint(cfg Config) (*Endpoint, error) {
	e := &Endpoint{
		cfg:      cfg,
		log:      cfg.Logger,
		sessions: map[string]*sess{},
		conns:    map[*conn]struct{}{},
		dialed:   map[connKey]*conn{},
		dialing:  map[connKey]*dialCall{},
	}
	e.listeners = map[net.Listener]struct{}{}
	e.host = cfg.Host
	e.handle = e.accept
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.cfg.ReceiptTimeout <= 0 {
		e.cfg.ReceiptTimeout = DefaultReceiptTimeout
	}
	if e.cfg.IdleTimeout <= 0 {
		e.cfg.IdleTimeout = DefaultIdleTimeout
	}
	if e.cfg.SendQueue <= 0 {
		e.cfg.SendQueue = DefaultSendQueue
	}
	if e.cfg.SniffTimeout <= 0 {
		e.cfg.SniffTimeout = 2 * time.Second
	}
	if e.cfg.AddressBindDelay == 0 {
		e.cfg.AddressBindDelay = DefaultAddressBindDelay
	}
	if e.cfg.Dial == nil {
		var d net.Dialer
		e.cfg.Dial = d.DialContext
	}
	if cfg.TLS != nil {
		if len(cfg.TLS.Certificates) == 0 || len(cfg.TLS.Certificates[0].Certificate) == 0 {
			return nil, errors.New("cpimtransport: Config.TLS needs a certificate")
		}
		e.clientCert = &cfg.TLS.Certificates[0]
		e.fingerprint = Fingerprint(e.clientCert.Certificate[0])
	}
	e.ctx, e.stop = context.WithCancelCause(context.Background())
	return e, nil
}

// Protocols returns the m-line protos served: cpim/tcp, and cpim/tls when
// Config.TLS is set (first when PreferTLS).
func (e *Endpoint) Protocols() []string {
	switch {
	case e.cfg.TLS == nil:
		return []string{messagesdp.ProtoCPIMTCP}
	case e.cfg.PreferTLS:
		return []string{messagesdp.ProtoCPIMTLS, messagesdp.ProtoCPIMTCP}
	}
	return []string{messagesdp.ProtoCPIMTCP, messagesdp.ProtoCPIMTLS}
}

// Stats returns a snapshot of the Endpoint's counters.
func (e *Endpoint) Stats() Stats {
	return Stats{
		Messages:        e.st.messages.Load(),
		Garbage:         e.st.garbage.Load(),
		Resyncs:         e.st.resyncs.Load(),
		Unmatched:       e.st.unmatched.Load(),
		Duplicates:      e.st.duplicates.Load(),
		Gaps:            e.st.gaps.Load(),
		Rejected:        e.st.rejected.Load(),
		ReportsSent:     e.st.reportsSent.Load(),
		ReportsReceived: e.st.reportsReceived.Load(),
	}
}

// accept sets up an incoming connection: TLS detection and handshake, then
// the connection's loops.
func (e *Endpoint) accept(nc net.Conn) {
	var tlsConfig func() *tls.Config
	if e.cfg.TLS != nil {
		tlsConfig = e.serverTLS
	}
	remote := nc.RemoteAddr()
	nc, secure, ok, err := sniffTLS(e.ctx, nc, e.cfg.SniffTimeout, tlsConfig)
	if err != nil {
		e.log.Info("cpim/tls handshake failed", "remote", remote, "err", err)
	}
	if ok {
		e.newConn(nc, secure, true, connKey{})
	}
}

func (e *Endpoint) serverTLS() *tls.Config {
	cfg := e.cfg.TLS.Clone()
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	// A client certificate is requested, never required: it is checked
	// against the peer's a=fingerprint when the session has one.
	if cfg.ClientAuth == tls.NoClientCert {
		cfg.ClientAuth = tls.RequestClientCert
	}
	return cfg
}

// clientTLS returns the configuration for a cpim/tls connection to the
// host of remote's c-line: SNI and host name verification by default;
// with an a=fingerprint, the certificate must match it instead (RFC 4572
// §6.2, the rule msrps follows for self-signed peers).
func (e *Endpoint) clientTLS(remote *messagesdp.Media) *tls.Config {
	var cfg *tls.Config
	if e.cfg.TLS != nil {
		cfg = e.cfg.TLS.Clone()
		cfg.Certificates = nil
		cert := e.clientCert
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	} else {
		cfg = &tls.Config{}
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	cfg.ServerName = strings.Trim(remote.Address, "[]")
	if fp := remote.Fingerprint; fp != "" {
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("cpimtransport: peer sent no certificate")
			}
			cert, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			if !matchFingerprint(fp, cert) {
				return fmt.Errorf("cpimtransport: peer certificate does not match a=fingerprint %s", fp)
			}
			return nil
		}
	}
	return cfg
}

// Close closes the listeners, every connection and every session, and
// waits for the Endpoint's goroutines to end.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.wg.Wait()
		return nil
	}
	e.closed = true
	e.stop(ErrEndpointClosed)
	ls := make([]net.Listener, 0, len(e.listeners))
	for l := range e.listeners {
		ls = append(ls, l)
	}
	cs := make([]*conn, 0, len(e.conns))
	for c := range e.conns {
		cs = append(cs, c)
	}
	ss := make([]*sess, 0, len(e.sessions))
	for _, s := range e.sessions {
		ss = append(ss, s)
	}
	e.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, s := range ss {
		s.Close()
	}
	for _, c := range cs {
		c.close(ErrEndpointClosed)
	}
	e.wg.Wait()
	return nil
}

// hostPort returns the advertised host and port (0 without a listener).
func (e *Endpoint) hostPort() (string, int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return "", 0, ErrEndpointClosed
	}
	if e.host == "" {
		return "", 0, errors.New("cpimtransport: no host to advertise: set Config.Host or listen on a specific address")
	}
	return e.host, e.port, nil
}

func (e *Endpoint) newURI(host string) string {
	if e.cfg.NewURI != nil {
		return e.cfg.NewURI()
	}
	return NewSessionURI(host)
}

// Offer prepares a session as the offerer (§4, §4.3): a=direction:both
// (a=setup:actpass) when the Endpoint has a listener, else active.
func (e *Endpoint) Offer(ctx context.Context, opts session.Options) (session.Offer, error) {
	host, port, err := e.hostPort()
	if err != nil {
		return nil, err
	}
	m := &messagesdp.Media{
		Proto:     e.Protocols()[0],
		Address:   host,
		Formats:   localFormats(opts),
		Direction: messagesdp.DirectionBoth,
		Setup:     messagesdp.SetupActpass,
		Port:      port,
		MaxSize:   max(opts.MaxSize, 0), // a=max-size, borrowed from RFC 4975 §8.6
	}
	if port == 0 {
		m.Port, m.Direction, m.Setup = activePort, messagesdp.DirectionActive, messagesdp.SetupActive
	}
	if m.Proto == messagesdp.ProtoCPIMTLS {
		m.Fingerprint = e.fingerprint
	}
	s, err := e.newSession(m, opts, nil)
	if err != nil {
		return nil, err
	}
	return &offer{s: s}, nil
}

// Answer prepares a session as the answerer for remote. The answer takes
// the offered proto, lists this side's types, and picks the connection
// role (§4.3): active unless the offerer insists on being active.
func (e *Endpoint) Answer(ctx context.Context, remote *messagesdp.Media, opts session.Options) (session.Answer, error) {
	if err := checkRemote(remote, e.Protocols()); err != nil {
		return nil, err
	}
	host, port, err := e.hostPort()
	if err != nil {
		return nil, err
	}
	dir, setup, err := roleFor(remote, port != 0)
	if err != nil {
		return nil, err
	}
	m := &messagesdp.Media{
		Proto:     strings.ToLower(remote.Proto),
		Address:   host,
		Formats:   localFormats(opts),
		Direction: dir,
		Setup:     setup,
		Port:      port,
		MaxSize:   max(opts.MaxSize, 0), // a=max-size, borrowed from RFC 4975 §8.6
	}
	if port == 0 {
		m.Port = activePort
	}
	if m.Proto == messagesdp.ProtoCPIMTLS {
		m.Fingerprint = e.fingerprint
	}
	s, err := e.newSession(m, opts, remote)
	if err != nil {
		return nil, err
	}
	return &answer{s: s}, nil
}

func (e *Endpoint) newSession(m *messagesdp.Media, opts session.Options, remote *messagesdp.Media) (*sess, error) {
	m.URI = e.newURI(m.Address)
	if err := checkToken(m.URI); err != nil {
		return nil, fmt.Errorf("cpimtransport: generated a=uri: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	s := newSess(e, m, opts)
	if remote != nil {
		s.remote = remote.Clone()
		s.peerReports = wantsReports(remote.Formats)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrEndpointClosed
	}
	if _, dup := e.sessions[m.URI]; dup {
		return nil, fmt.Errorf("cpimtransport: a=uri %s already in use", m.URI)
	}
	s.startSeq = e.connSeq
	e.sessions[m.URI] = s
	return s, nil
}

// open completes a session: it connects or waits for the peer, per the
// negotiated roles.
func (e *Endpoint) open(ctx context.Context, s *sess, offerer bool) (session.Session, error) {
	e.mu.Lock()
	remote := s.remote
	e.mu.Unlock()
	active := messagesdp.IsActive(s.local, remote, offerer)
	if active {
		c, err := e.connFor(ctx, remote)
		if err != nil {
			s.Close()
			return nil, err
		}
		e.mu.Lock()
		e.bind(s, c, true)
		e.mu.Unlock()
	} else {
		// The peer connects to us. The draft gives the passive side no way
		// to tell which accepted connection is the peer's before a message
		// of the session arrives on it (§6.2): the binding needs that proof,
		// or a client certificate matching the peer's a=fingerprint. Until
		// then messages sent wait in the backlog (see guessLocked for a
		// passive side that must send first).
		e.mu.Lock()
		if s.conn.Load() == nil {
			for c := range e.conns {
				if e.provenBy(s, c) {
					e.bind(s, c, true)
					break
				}
			}
		}
		e.mu.Unlock()
		select {
		case <-s.done:
			return nil, s.endErr()
		default:
		}
	}
	e.mu.Lock()
	s.opened = time.Now()
	e.mu.Unlock()
	s.markOpen()
	return s, nil
}

// connFor returns a connection to the c-line address and m-line port of
// remote (§4.3), reusing one already open to the same place (§2).
func (e *Endpoint) connFor(ctx context.Context, remote *messagesdp.Media) (*conn, error) {
	secure := messagesdp.IsSecure(remote.Proto)
	key := connKey{addr: net.JoinHostPort(strings.Trim(remote.Address, "[]"), fmt.Sprint(remote.Port)), tls: secure, fingerprint: remote.Fingerprint}
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, ErrEndpointClosed
		}
		if c := e.dialed[key]; c != nil && !c.isClosed() {
			e.mu.Unlock()
			return c, nil
		}
		if dc := e.dialing[key]; dc != nil {
			e.mu.Unlock()
			select {
			case <-dc.done:
				if dc.err != nil {
					return nil, dc.err
				}
				continue
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		}
		dc := &dialCall{done: make(chan struct{})}
		e.dialing[key] = dc
		e.mu.Unlock()

		c, err := e.dial(ctx, key, remote)
		e.mu.Lock()
		delete(e.dialing, key)
		if err == nil {
			e.dialed[key] = c
		}
		e.mu.Unlock()
		dc.c, dc.err = c, err
		close(dc.done)
		return c, err
	}
}

func (e *Endpoint) dial(ctx context.Context, key connKey, remote *messagesdp.Media) (*conn, error) {
	nc, err := e.cfg.Dial(ctx, "tcp", key.addr)
	if err != nil {
		return nil, fmt.Errorf("cpimtransport: connecting to %s: %w", key.addr, err)
	}
	if key.tls {
		tc := tls.Client(nc, e.clientTLS(remote))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("cpimtransport: TLS with %s: %w", key.addr, err)
		}
		nc = tc
	}
	c := e.newConn(nc, key.tls, false, key)
	if c == nil {
		return nil, ErrEndpointClosed
	}
	return c, nil
}

// bind associates s with c (e.mu held). confirmed bindings come from an
// active connect or from proof that c is the peer's (a message of s on it,
// or a matching client certificate); others from guessLocked, and yield to
// proof on another connection.
func (e *Endpoint) bind(s *sess, c *conn, confirmed bool) {
	old := s.conn.Load()
	if old == c {
		s.confirmed = s.confirmed || confirmed
		return
	}
	if old != nil {
		old.unref(s)
	}
	s.bmu.Lock()
	s.conn.Store(c)
	backlog := s.backlog
	s.backlog = nil
	for _, f := range backlog {
		if err := c.push(f); err != nil && f.d != nil {
			f.d.Complete(session.Result{Outcome: session.Failed, Err: err})
		}
	}
	s.notifyLocked()
	s.bmu.Unlock()
	s.confirmed = confirmed
	c.sessions[s] = struct{}{}
	c.stopIdle()
}

// unbind takes a session whose binding was a guess back to waiting
// (e.mu held): its connection closed, or another candidate appeared.
func (e *Endpoint) unbind(s *sess) {
	c := s.conn.Load()
	if c == nil {
		return
	}
	c.unref(s)
	s.bmu.Lock()
	s.conn.Store(nil)
	s.notifyLocked()
	s.bmu.Unlock()
}

// provenBy reports whether c proves to be the peer's connection of the
// passive session s without a message (e.mu held): cpim/tls, and the
// client certificate matches the peer's a=fingerprint (RFC 4572).
func (e *Endpoint) provenBy(s *sess, c *conn) bool {
	return s.remote != nil && s.remote.Fingerprint != "" && c.inbound && !c.isClosed() &&
		c.acceptable(s) && s.passive()
}

// candidate reports whether c could be the peer's connection of the
// passive session s by its address alone (e.mu held): an accepted
// connection from the c-line address that either was accepted since s was
// created and carries no proven session (a connection older than the
// session was not opened for it), or carries proven sessions only, all of
// them with the same c-line address and port as s's peer (the peer reusing
// its connection, §2).
func (e *Endpoint) candidate(s *sess, c *conn) bool {
	if !c.inbound || c.isClosed() || !c.acceptable(s) || !sameHost(c.nc.RemoteAddr(), s.remote.Address) {
		return false
	}
	proven := 0
	for o := range c.sessions {
		if o == s || !o.confirmed || o.conn.Load() != c {
			continue
		}
		if !samePlace(o.remote, s.remote) {
			return false
		}
		proven++
	}
	return proven > 0 || c.seq > s.startSeq
}

// samePlace reports whether two remote media name the same listening
// place (c-line address and a real m-line port).
func samePlace(a, b *messagesdp.Media) bool {
	return a != nil && b != nil && a.Port == b.Port && a.Port != activePort && a.Port != 0 &&
		strings.EqualFold(strings.Trim(a.Address, "[]"), strings.Trim(b.Address, "[]"))
}

// reguessLocked runs guessLocked for every session without a connection
// (e.mu held), after the candidates changed.
func (e *Endpoint) reguessLocked() {
	for _, s := range e.sessions {
		if s.conn.Load() == nil {
			e.guessLocked(s)
		}
	}
}

// guessLocked is for a passive session that must send first (e.mu held).
// Its messages wait in the backlog until a connection is proven, unless
// exactly one candidate connection exists and both it and the session's
// Open are AddressBindDelay old (time for the real peer to connect and
// make the choice ambiguous): the session is then bound to it
// tentatively, and the backlog goes out on it. A second candidate arriving later takes the binding back (newConn);
// proof on another connection moves it (match). A host sharing the peer's
// address still wins this guess if the peer has not connected within
// AddressBindDelay of the Open, or has its connection to us closed;
// docs/seed-choices.md §4 weighs this against never sending first.
func (e *Endpoint) guessLocked(s *sess) {
	if e.closed || s.remote == nil || s.conn.Load() != nil || e.cfg.AddressBindDelay < 0 || !s.passive() {
		return
	}
	s.bmu.Lock()
	waiting := len(s.backlog)
	s.bmu.Unlock()
	if waiting == 0 {
		return
	}
	var only *conn
	n := 0
	for c := range e.conns {
		if e.candidate(s, c) {
			only = c
			n++
		}
	}
	if n != 1 {
		return // none yet, or ambiguous: wait for proof
	}
	since := only.accepted
	if s.opened.After(since) {
		since = s.opened
	}
	if wait := time.Until(since.Add(e.cfg.AddressBindDelay)); wait > 0 {
		if s.guessTimer == nil {
			s.guessTimer = time.AfterFunc(wait, func() {
				e.mu.Lock()
				defer e.mu.Unlock()
				e.guessLocked(s)
			})
		} else {
			s.guessTimer.Reset(wait)
		}
		return
	}
	e.bind(s, only, false)
}

// release unbinds s from its connection (e.mu held) and reports the
// connection if this endpoint dialed it and it is now unused.
func (e *Endpoint) release(s *sess) *conn {
	c := s.conn.Load()
	s.bmu.Lock()
	s.conn.Store(nil)
	backlog := s.backlog
	s.backlog = nil
	s.bmu.Unlock()
	for _, f := range backlog {
		if f.d != nil {
			f.d.Complete(session.Result{Outcome: session.Failed, Err: session.ErrClosed})
		}
	}
	if c != nil && c.unref(s) && !c.inbound {
		return c
	}
	return nil
}

// logDiscard logs and counts a message discarded under §6.2.
func (e *Endpoint) logDiscard(c *conn, why string, args ...any) {
	e.st.unmatched.Add(1)
	e.log.Info("cpim message discarded", append([]any{"remote", c.nc.RemoteAddr(), "reason", why}, args...)...)
}

var errPeerClosed = fmt.Errorf("%w: connection closed by peer", session.ErrClosed)

func isEOF(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) }
