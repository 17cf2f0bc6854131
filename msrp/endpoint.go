package msrp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// Config configures an Endpoint. The zero value is usable: plain TCP
// sessions, 30 s transaction timer, 64 KiB fairness quantum.
type Config struct {
	// TLS configures msrps (TCP/TLS/MSRP, RFC 4975 §14): as a server it
	// needs a certificate (here or in Certificate); as a client its RootCAs
	// verify peers by hostname, unless the peer's SDP carries
	// a=fingerprint. TLS 1.2 is the minimum whatever MinVersion says.
	TLS *tls.Config
	// Certificate is this endpoint's certificate for msrps, presented as
	// server and client; its SHA-256 fingerprint is advertised in
	// a=fingerprint (RFC 4572) so that self-signed peers can be verified.
	Certificate *tls.Certificate
	// Limits bound what the frame reader accepts.
	Limits Limits
	// ChunkSize is the preferred size of an interruptible chunk: a chunk
	// is interrupted once it has carried ChunkSize octets and another
	// message waits (RFC 4975 §7.1.1). Default 64 KiB, at least 2048 (§7.1:
	// no chunk under 2048 octets but the last); responses and REPORTs
	// interrupt a chunk once it has carried 2048 octets, whatever
	// ChunkSize says. Chunks over 2048 octets are always interruptible
	// (range-end "*", §7.1).
	ChunkSize int
	// MaxChunkSize, when positive, is a hard cap on the body of every SEND
	// chunk written: a longer message always goes out as several chunks
	// (n-*/total, then resumed with the next Byte-Range, RFC 4975 §5.1),
	// whether or not other traffic waits. Use it on paths whose relays
	// limit frame sizes (Kamailio 5.6.3 closes connections on frames above
	// about 11 KB: 8 KiB is a safe cap there). 0 means no cap beyond the
	// ChunkSize interruption logic. Negative values are an error. A cap
	// under 2048 goes against §7.1's SHOULD NOT (chunks under 2048 octets
	// but the last): use one only for a relay that needs it; with a cap of
	// at most 2048 every chunk of a body held in memory carries a known
	// range-end.
	MaxChunkSize int
	// TransactionTimeout is the time allowed for a response after the last
	// byte of a request was sent (RFC 4975 §7.1.1). Default 30 s. It also
	// bounds a blocked socket write.
	TransactionTimeout time.Duration
	// ReportTimeout bounds the wait for success REPORTs: a message sent
	// with Success-Report: yes whose every chunk was answered (the last
	// byte's 200, or the last chunk written under Failure-Report no) but
	// whose REPORTs have not covered every octet after ReportTimeout
	// completes as session.Sent, with a Result.Comment saying that the
	// receipt never came, instead of staying Pending forever. Default 2
	// minutes; negative waits forever. RFC 4975 has no such timer (§7.1.3
	// leaves the timing of success reports to the receiver): this is a
	// Parley choice. Sent, not TimedOut: the next hop accepted every
	// octet, so the message may well have arrived (a relay may have lost
	// the REPORT, a peer may not send it); TimedOut and Failed would
	// invite a resend and a duplicate. Delivery.Progress tells how many
	// octets were confirmed.
	ReportTimeout time.Duration
	// IdleTimeout is how long a connection that no session uses stays
	// open (for reuse, §5.4) before it is closed. Default 30 s.
	IdleTimeout time.Duration
	// KeepAlive, when positive, sends a bodiless SEND on each session that
	// sent nothing for that long (RFC 4975 §7.1.1 allows bodiless SENDs);
	// no response within TransactionTimeout fails the connection.
	KeepAlive time.Duration
	// MaxInMemory is the default for session.Options.MaxInMemory: the
	// largest incoming body held in memory. Default 1 MiB.
	MaxInMemory int64
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Host is the host put in the endpoint's MSRP URIs and c-lines. Default:
	// the listener's address if specific, else 127.0.0.1.
	Host string
	// Dial opens outgoing TCP connections; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Endpoint is an MSRP endpoint (RFC 4975): it creates sessions through SDP
// offer/answer (session.Endpoint), accepts and opens connections, and owns
// every goroutine it starts.
//
// Connections follow §5.4 and RFC 6135: the offerer offers a=setup:actpass
// when it listens, else active with port 9; the active side connects to
// the first URI of the peer's a=path and immediately sends a bodiless SEND
// that binds the connection. The passive side binds a connection to a
// session on the first request whose To-Path names it (481 for unknown
// sessions, 506 for one bound elsewhere). Connections to the same
// host:port:scheme are shared by sessions and closed IdleTimeout after the
// last one ends. A dropped connection fails every session on it; there is
// no silent reconnect (§5.4: a new offer/answer is needed).
//
// Messages are chunked by one writer per connection: chunks larger than
// 2048 octets are interruptible (n-*/total) and are interrupted whenever a
// response, a REPORT or another message waits, so sessions and messages
// sharing a connection interleave fairly and transaction responses are
// never stuck behind a large body (§7.1.1). Incoming chunks are reassembled
// by Byte-Range in any order, in memory up to MaxInMemory or through
// Options.Sink. Failure-Report yes/partial/no and Success-Report are
// honoured exactly (§7.1.2–7.1.4); REPORTs are never answered.
//
// With a relay (RFC 4976), pass SessionOptions.Relay (or WithSessionOptions
// on the context): the session advertises the reversed Use-Path plus its own
// URI and sends through the connection that authenticated with the relay.
type Endpoint struct {
	cfg         Config
	log         *slog.Logger
	txTimeout   time.Duration
	idleTimeout time.Duration
	reportWait  time.Duration // ReportTimeout, <0: forever
	chunkSize   int64
	maxChunk    int64 // hard cap on a chunk's body, 0: none
	fastWhole   int64 // maxFastWhole when created
	fingerprint string
	serverTLS   *tls.Config

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]bool // value: secure
	addrs     [2]*net.TCPAddr       // advertised listener: [plain, tls]
	conns     map[string]*Conn      // dialed connections by reuse key
	all       map[*Conn]struct{}
	sessions  map[string]*Session // by local session-id
}

var _ session.Endpoint = (*Endpoint)(nil)

// NewEndpoint returns an Endpoint for cfg.
func NewEndpoint(cfg Config) (*Endpoint, error) {
	e := &Endpoint{
		cfg:         cfg,
		log:         cfg.Logger,
		txTimeout:   cfg.TransactionTimeout,
		idleTimeout: cfg.IdleTimeout,
		chunkSize:   int64(cfg.ChunkSize),
		maxChunk:    int64(cfg.MaxChunkSize),
		fastWhole:   maxFastWhole,
		listeners:   map[net.Listener]bool{},
		conns:       map[string]*Conn{},
		all:         map[*Conn]struct{}{},
		sessions:    map[string]*Session{},
	}
	if cfg.MaxChunkSize < 0 {
		return nil, fmt.Errorf("msrp: Config.MaxChunkSize %d is negative", cfg.MaxChunkSize)
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.txTimeout <= 0 {
		e.txTimeout = 30 * time.Second
	}
	if e.idleTimeout <= 0 {
		e.idleTimeout = 30 * time.Second
	}
	switch e.reportWait = cfg.ReportTimeout; {
	case e.reportWait == 0:
		e.reportWait = defaultReportTimeout
	case e.reportWait < 0:
		e.reportWait = -1
	}
	if e.chunkSize <= 0 {
		e.chunkSize = defaultChunkSize
	}
	// §7.1: senders SHOULD NOT break messages into chunks smaller than
	// 2048 octets, except for the final chunk.
	e.chunkSize = max(e.chunkSize, maxUninterruptible)
	if e.cfg.MaxInMemory <= 0 {
		e.cfg.MaxInMemory = defaultMaxInMemory
	}
	if cfg.Certificate != nil {
		fp, err := CertificateFingerprint(cfg.Certificate)
		if err != nil {
			return nil, err
		}
		e.fingerprint = fp
	}
	if st := e.makeServerTLS(); st != nil {
		e.serverTLS = st
	}
	e.ctx, e.cancel = context.WithCancelCause(context.Background())
	return e, nil
}

// Protocols lists the m-line protos served: TCP/TLS/MSRP first when TLS is
// configured, then TCP/MSRP.
func (e *Endpoint) Protocols() []string {
	if e.cfg.TLS != nil || e.cfg.Certificate != nil {
		return []string{messagesdp.ProtoMSRPS, messagesdp.ProtoMSRP}
	}
	return []string{messagesdp.ProtoMSRP}
}

// Listen listens on addr for plain MSRP connections and serves them until
// the Endpoint is closed. Its address is advertised in offers and answers
// for TCP/MSRP.
func (e *Endpoint) Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("msrp: listen: %w", err)
	}
	if err := e.addListener(l, false, true); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// ListenTLS listens on addr for msrps connections (TLS from the first
// byte, RFC 4975 §6) and serves them until the Endpoint is closed.
func (e *Endpoint) ListenTLS(ctx context.Context, network, addr string) (net.Listener, error) {
	if e.serverTLS == nil {
		return nil, errors.New("msrp: ListenTLS: no certificate configured")
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("msrp: listen: %w", err)
	}
	tl := tls.NewListener(l, e.serverTLS)
	if err := e.addListener(tl, true, true); err != nil {
		tl.Close()
		return nil, err
	}
	return tl, nil
}

// Serve accepts plain MSRP connections on l until l fails or the Endpoint
// is closed. It returns the accept error (ErrEndpointClosed after Close).
func (e *Endpoint) Serve(l net.Listener) error {
	if err := e.addListener(l, false, false); err != nil {
		return err
	}
	return e.serve(l, false)
}

// ServeTLS is Serve for msrps: accepted connections speak TLS.
func (e *Endpoint) ServeTLS(l net.Listener) error {
	if e.serverTLS == nil {
		return errors.New("msrp: ServeTLS: no certificate configured")
	}
	tl := tls.NewListener(l, e.serverTLS)
	if err := e.addListener(tl, true, false); err != nil {
		return err
	}
	return e.serve(tl, true)
}

// addListener registers l; with spawn it also starts serving l in a
// goroutine owned by the endpoint.
func (e *Endpoint) addListener(l net.Listener, secure, spawn bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrEndpointClosed
	}
	e.listeners[l] = secure
	if spawn {
		e.wg.Go(func() { _ = e.serve(l, secure) })
	}
	i := 0
	if secure {
		i = 1
	}
	if a, ok := l.Addr().(*net.TCPAddr); ok && e.addrs[i] == nil {
		e.addrs[i] = a
	}
	return nil
}

func (e *Endpoint) serve(l net.Listener, secure bool) error {
	defer func() {
		e.mu.Lock()
		delete(e.listeners, l)
		e.mu.Unlock()
	}()
	for {
		nc, err := l.Accept()
		if err != nil {
			if e.ctx.Err() != nil {
				return ErrEndpointClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("msrp: accept: %w", err)
		}
		e.ServeConn(nc)
	}
}

// ServeConn serves an accepted connection (the passive side, RFC 4975
// §5.4): sessions are bound to it by the requests it carries. A *tls.Conn
// is handshaken first. ServeConn returns at once.
func (e *Endpoint) ServeConn(nc net.Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		nc.Close()
		return
	}
	e.wg.Go(func() {
		if tc, ok := nc.(*tls.Conn); ok {
			ctx, cancel := context.WithTimeout(e.ctx, e.txTimeout)
			err := tc.HandshakeContext(ctx)
			cancel()
			if err != nil {
				e.log.Debug("msrp TLS handshake failed", "remote", nc.RemoteAddr(), "err", err)
				nc.Close()
				return
			}
		}
		c := newConn(e, nc, "")
		if !e.addConn(c, "") {
			nc.Close()
		}
	})
}

// addConn registers and starts c; with a key it returns false when
// another live connection already has it.
func (e *Endpoint) addConn(c *Conn, key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	if key != "" {
		if _, dup := e.conns[key]; dup {
			return false
		}
		e.conns[key] = c
	}
	e.all[c] = struct{}{}
	c.start()
	e.wg.Go(func() {
		<-c.done
		e.mu.Lock()
		delete(e.all, c)
		e.mu.Unlock()
	})
	return true
}

func (e *Endpoint) forgetConn(c *Conn) {
	e.mu.Lock()
	if c.key != "" && e.conns[c.key] == c {
		delete(e.conns, c.key)
	}
	e.mu.Unlock()
}

// Dial returns a connection to the host, port and scheme of u, reusing an
// open one (RFC 4975 §5.4, §7.3). msrps URIs get TLS with SNI and hostname
// verification (§14). The caller holds a reference: call Release when
// done (or Close to close the connection for everyone).
func (e *Endpoint) Dial(ctx context.Context, u URI) (*Conn, error) {
	return e.dial(ctx, u, "")
}

func dialKey(u URI, fp string) string {
	scheme := "msrp"
	if u.Secure {
		scheme = "msrps"
	}
	k := scheme + "://" + strings.ToLower(u.HostPort())
	if fp != "" {
		k += "#" + normFingerprint(fp)
	}
	return k
}

func (e *Endpoint) dial(ctx context.Context, u URI, fp string) (*Conn, error) {
	if u.Port == 0 {
		return nil, fmt.Errorf("msrp: dial %s: no port", u)
	}
	key := dialKey(u, fp)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrEndpointClosed
	}
	if c := e.conns[key]; c != nil && c.acquire() {
		e.mu.Unlock()
		return c, nil
	}
	e.mu.Unlock()

	dial := e.cfg.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	addr := net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("msrp: dial %s: %w", addr, err)
	}
	if u.Secure {
		tc := tls.Client(nc, e.clientTLS(u.Host, fp))
		hctx, cancel := context.WithTimeout(ctx, e.txTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			if fp != "" && errors.Is(err, ErrFingerprint) {
				return nil, fmt.Errorf("msrp: TLS to %s: %w", addr, ErrFingerprint)
			}
			return nil, fmt.Errorf("msrp: TLS to %s: %w", addr, err)
		}
		nc = tc
	}
	c := newConn(e, nc, key)
	c.refs = 1
	for !e.addConn(c, key) {
		e.mu.Lock()
		closed := e.closed
		other := e.conns[key]
		e.mu.Unlock()
		if closed {
			nc.Close()
			return nil, ErrEndpointClosed
		}
		if other != nil && other.acquire() {
			nc.Close()
			return other, nil
		}
		// The other connection is going away; take its place.
		e.forgetConn(other)
	}
	return c, nil
}

// Close closes every listener, connection and session of the Endpoint
// and waits for its goroutines.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.wg.Wait()
		return nil
	}
	e.closed = true
	ls := make([]net.Listener, 0, len(e.listeners))
	for l := range e.listeners {
		ls = append(ls, l)
	}
	conns := make([]*Conn, 0, len(e.all))
	for c := range e.all {
		conns = append(conns, c)
	}
	sessions := make([]*Session, 0, len(e.sessions))
	for _, s := range e.sessions {
		sessions = append(sessions, s)
	}
	e.mu.Unlock()
	e.cancel(ErrEndpointClosed)
	for _, l := range ls {
		l.Close()
	}
	for _, s := range sessions {
		s.fail(ErrEndpointClosed)
	}
	for _, c := range conns {
		c.fail(ErrEndpointClosed)
	}
	e.wg.Wait()
	return nil
}

func (e *Endpoint) addSession(s *Session) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrEndpointClosed
	}
	e.sessions[s.id] = s
	return nil
}

func (e *Endpoint) forgetSession(s *Session) {
	e.mu.Lock()
	if e.sessions[s.id] == s {
		delete(e.sessions, s.id)
	}
	e.mu.Unlock()
}

// lookupSession finds the session whose URI is u (RFC 4975 §6.1 rules).
func (e *Endpoint) lookupSession(u URI) *Session {
	e.mu.Lock()
	s := e.sessions[u.SessionID]
	e.mu.Unlock()
	if s == nil || !s.localURI.Equal(u) {
		return nil
	}
	return s
}

// listenAddr returns the advertised listener for plain or TLS.
func (e *Endpoint) listenAddr(secure bool) *net.TCPAddr {
	e.mu.Lock()
	defer e.mu.Unlock()
	if secure {
		return e.addrs[1]
	}
	return e.addrs[0]
}

// advertiseHost returns the host for local URIs.
func (e *Endpoint) advertiseHost(a net.Addr) string {
	if e.cfg.Host != "" {
		return e.cfg.Host
	}
	if ta, ok := a.(*net.TCPAddr); ok && ta != nil && !ta.IP.IsUnspecified() {
		return ta.IP.String()
	}
	return "127.0.0.1"
}

// Relay is an authenticated relay connection (RFC 4976 §5): the
// connection that sent the AUTH and the Use-Path of its 200 response.
type Relay struct {
	Conn    *Conn
	UsePath []URI
}

// SessionOptions are MSRP-specific options of a session.
type SessionOptions struct {
	// Proto is the m-line proto to offer; "" means Protocols()[0].
	Proto string
	// Relay, if set, routes the session through an RFC 4976 relay.
	Relay *Relay
	// FailureReport is the Failure-Report header of the session's SENDs
	// (RFC 4975 §7.1.2): "" or "yes" (responses and the 30 s timer; the
	// Delivery is Sent once every chunk got its 200), "partial" (only
	// errors come back: Sent when TransactionTimeout passed after the last
	// chunk without an error; no TimedOut) or "no" (nothing comes back:
	// Sent once written). Success reports still make a Delivery Delivered.
	FailureReport string
}

type sessionOptionsKey struct{}

// WithSessionOptions returns a context carrying so, for callers that reach
// the Endpoint through the session.Endpoint interface (Offer, Answer).
func WithSessionOptions(ctx context.Context, so SessionOptions) context.Context {
	return context.WithValue(ctx, sessionOptionsKey{}, so)
}

func sessionOptionsFrom(ctx context.Context) SessionOptions {
	so, _ := ctx.Value(sessionOptionsKey{}).(SessionOptions)
	return so
}

// Pending is a session being set up: it implements session.Offer and
// session.Answer.
type Pending struct {
	s       *Session
	offerer bool
	active  bool // answerer: whether we connect

	mu     sync.Mutex
	opened bool // Open succeeded: Cancel no longer applies
}

var (
	_ session.Offer  = offerAdaptor{}
	_ session.Answer = answerAdaptor{}
)

// Media returns the local media description.
func (p *Pending) Media() *messagesdp.Media { return p.s.local }

// Session returns the session being set up.
func (p *Pending) Session() *Session { return p.s }

// Cancel releases the session if Open will never be called; after a
// successful Open it does nothing (close the Session instead).
func (p *Pending) Cancel() {
	p.mu.Lock()
	opened := p.opened
	p.mu.Unlock()
	if !opened {
		p.s.Close()
	}
}

func (p *Pending) done(s *Session, err error) (*Session, error) {
	if err == nil {
		p.mu.Lock()
		p.opened = true
		p.mu.Unlock()
	}
	return s, err
}

type offerAdaptor struct{ p *Pending }

func (a offerAdaptor) Media() *messagesdp.Media { return a.p.Media() }
func (a offerAdaptor) Cancel()                  { a.p.Cancel() }
func (a offerAdaptor) Open(ctx context.Context, answer *messagesdp.Media) (session.Session, error) {
	s, err := a.p.OpenOffer(ctx, answer)
	if err != nil {
		return nil, err
	}
	return s, nil
}

type answerAdaptor struct{ p *Pending }

func (a answerAdaptor) Media() *messagesdp.Media { return a.p.Media() }
func (a answerAdaptor) Cancel()                  { a.p.Cancel() }
func (a answerAdaptor) Open(ctx context.Context) (session.Session, error) {
	s, err := a.p.OpenAnswer(ctx)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Offer implements session.Endpoint. MSRP options may ride on ctx
// (WithSessionOptions).
func (e *Endpoint) Offer(ctx context.Context, opts session.Options) (session.Offer, error) {
	p, err := e.OfferWith(ctx, opts, sessionOptionsFrom(ctx))
	if err != nil {
		return nil, err
	}
	return offerAdaptor{p}, nil
}

// Answer implements session.Endpoint.
func (e *Endpoint) Answer(ctx context.Context, remote *messagesdp.Media, opts session.Options) (session.Answer, error) {
	p, err := e.AnswerWith(ctx, remote, opts, sessionOptionsFrom(ctx))
	if err != nil {
		return nil, err
	}
	return answerAdaptor{p}, nil
}

// newLocal creates a session with its URI and a=path. listen says whether
// the URI should name a listener (passive or actpass roles).
func (e *Endpoint) newLocal(proto string, opts session.Options, so SessionOptions, listen bool) (*Session, error) {
	secure := strings.EqualFold(proto, messagesdp.ProtoMSRPS)
	id := NewSessionID()
	u := URI{Secure: secure, SessionID: id, Transport: "tcp"}
	var usePath []URI
	if r := so.Relay; r != nil {
		if r.Conn == nil || len(r.UsePath) == 0 {
			return nil, errors.New("msrp: Relay needs Conn and UsePath")
		}
		la := r.Conn.LocalAddr()
		u.Host = e.advertiseHost(la)
		if ta, ok := la.(*net.TCPAddr); ok {
			u.Port = ta.Port
		}
		u.Secure = r.Conn.Secure()
		usePath = r.UsePath
	} else if a := e.listenAddr(secure); listen && a != nil {
		u.Host, u.Port = e.advertiseHost(a), a.Port
	} else {
		// RFC 6135 §4: an active endpoint advertises port 9.
		u.Host, u.Port = e.advertiseHost(nil), 9
	}
	switch so.FailureReport {
	case "", "yes", "partial", "no":
	default:
		return nil, fmt.Errorf("msrp: FailureReport %q: want yes, partial or no", so.FailureReport)
	}
	s := newSession(e, id, u, opts)
	s.relay = so.Relay
	s.failureReport = so.FailureReport
	if s.failureReport == "" {
		s.failureReport = "yes"
	}
	// RFC 4976 §5.1: a=path is the reversed Use-Path followed by our URI.
	for i := len(usePath) - 1; i >= 0; i-- {
		s.localPath = append(s.localPath, usePath[i])
	}
	s.localPath = append(s.localPath, u)
	path := make([]string, len(s.localPath))
	for i, p := range s.localPath {
		path[i] = p.String()
	}
	s.local = &messagesdp.Media{
		Proto:              proto,
		Port:               u.Port,
		Address:            s.localPath[0].Host,
		Formats:            []string{"*"},
		Path:               path,
		AcceptTypes:        slices.Clone(s.accept),
		AcceptWrappedTypes: slices.Clone(opts.AcceptWrappedTypes),
		MaxSize:            opts.MaxSize,
	}
	if so.Relay != nil {
		s.local.Port = s.localPath[0].Port
	}
	if secure && e.fingerprint != "" {
		s.local.Fingerprint = e.fingerprint
	}
	if err := e.addSession(s); err != nil {
		return nil, err
	}
	if r := so.Relay; r != nil {
		if !r.Conn.acquire() {
			e.forgetSession(s)
			return nil, fmt.Errorf("msrp: relay connection: %w", ErrConnClosed)
		}
		if err := s.bindOutbound(r.Conn); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (e *Endpoint) checkProto(proto string) (string, error) {
	if proto == "" {
		return e.Protocols()[0], nil
	}
	for _, p := range e.Protocols() {
		if strings.EqualFold(p, proto) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: proto %s not served (have %s)", session.ErrNotAcceptable, proto, strings.Join(e.Protocols(), ", "))
}

// OfferWith prepares a session as the offerer. Without a relay it offers
// a=setup:actpass when it listens for the proto, else active on port 9
// (RFC 6135 §4: never passive).
func (e *Endpoint) OfferWith(ctx context.Context, opts session.Options, so SessionOptions) (*Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	proto, err := e.checkProto(so.Proto)
	if err != nil {
		return nil, err
	}
	secure := strings.EqualFold(proto, messagesdp.ProtoMSRPS)
	listening := e.listenAddr(secure) != nil
	s, err := e.newLocal(proto, opts, so, true)
	if err != nil {
		return nil, err
	}
	switch {
	case so.Relay != nil, listening:
		s.local.Setup = messagesdp.SetupActpass
	default:
		s.local.Setup = messagesdp.SetupActive
	}
	return &Pending{s: s, offerer: true}, nil
}

// OpenOffer completes an offered session with the peer's answer.
func (p *Pending) OpenOffer(ctx context.Context, answer *messagesdp.Media) (*Session, error) {
	s := p.s
	if answer == nil || answer.Port == 0 {
		s.fail(fmt.Errorf("%w: stream rejected", session.ErrNotAcceptable))
		return nil, fmt.Errorf("%w: stream rejected by the answer", session.ErrNotAcceptable)
	}
	if !strings.EqualFold(answer.Proto, s.local.Proto) {
		err := fmt.Errorf("%w: answer proto %s for offer %s", session.ErrNotAcceptable, answer.Proto, s.local.Proto)
		s.fail(err)
		return nil, err
	}
	active := messagesdp.IsActive(s.local, answer, true)
	if s.local.Setup == messagesdp.SetupActive {
		active = true
	} else if strings.EqualFold(answer.Setup, messagesdp.SetupActive) {
		active = false
	}
	if err := s.setRemote(answer); err != nil {
		return nil, err
	}
	return p.done(s.open(ctx, active))
}

// AnswerWith prepares a session as the answerer for the remote offer. It
// returns an error wrapping session.ErrNotAcceptable when the offer cannot
// be accepted (proto, types, setup role, path).
func (e *Endpoint) AnswerWith(ctx context.Context, remote *messagesdp.Media, opts session.Options, so SessionOptions) (*Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if remote == nil {
		return nil, fmt.Errorf("%w: no media", session.ErrNotAcceptable)
	}
	proto, err := e.checkProto(remote.Proto)
	if err != nil {
		return nil, err
	}
	accept := opts.AcceptTypes
	if accept == nil {
		accept = defaultAcceptTypes
	}
	if err := messagesdp.Acceptable(remote, e.Protocols(), accept); err != nil {
		return nil, fmt.Errorf("%w: %w", session.ErrNotAcceptable, err)
	}
	secure := strings.EqualFold(proto, messagesdp.ProtoMSRPS)
	canListen := so.Relay != nil || e.listenAddr(secure) != nil
	setup, err := messagesdp.AnswerSetup(remote.Setup, canListen && so.Relay == nil)
	if err != nil && so.Relay != nil {
		setup, err = messagesdp.SetupPassive, nil
	}
	if so.Relay != nil && strings.EqualFold(remote.Setup, messagesdp.SetupActpass) {
		setup = messagesdp.SetupActive // we are connected to our relay already
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", session.ErrNotAcceptable, err)
	}
	active := setup == messagesdp.SetupActive
	s, err := e.newLocal(proto, opts, so, !active)
	if err != nil {
		return nil, err
	}
	s.local.Setup = setup
	if err := s.setRemote(remote); err != nil {
		return nil, fmt.Errorf("%w: %w", session.ErrNotAcceptable, err)
	}
	return &Pending{s: s, active: active}, nil
}

// OpenAnswer completes an answered session: it connects or waits for the
// peer's connection, per the negotiated roles.
func (p *Pending) OpenAnswer(ctx context.Context) (*Session, error) {
	return p.done(p.s.open(ctx, p.active))
}

// setRemote records the peer's media: the outgoing To-Path is the relay's
// Use-Path (if any) followed by the peer's whole a=path (RFC 4976 §5.1).
func (s *Session) setRemote(remote *messagesdp.Media) error {
	if len(remote.Path) == 0 {
		err := fmt.Errorf("%w: no a=path", session.ErrNotAcceptable)
		s.fail(err)
		return err
	}
	var to []URI
	if s.relay != nil {
		to = append(to, s.relay.UsePath...)
	}
	for _, ps := range remote.Path {
		us, err := ParsePath(ps)
		if err != nil {
			err = fmt.Errorf("%w: a=path: %w", session.ErrNotAcceptable, err)
			s.fail(err)
			return err
		}
		to = append(to, us...)
	}
	rm := *remote // keep our own copy: the caller may reuse its Media
	rm.Path = slices.Clone(remote.Path)
	rm.AcceptTypes = slices.Clone(remote.AcceptTypes)
	rm.AcceptWrappedTypes = slices.Clone(remote.AcceptWrappedTypes)
	rm.Attributes = slices.Clone(remote.Attributes)
	s.mu.Lock()
	s.remote = &rm
	s.remoteFP = remote.Fingerprint
	s.toPath = to
	c := s.conn
	s.mu.Unlock()
	if c != nil && remote.Fingerprint != "" && s.relay == nil {
		if err := checkFingerprint(c, remote.Fingerprint); err != nil {
			s.fail(err)
			return err
		}
	}
	return nil
}

// open connects (active) or waits for the peer's connection (passive).
func (s *Session) open(ctx context.Context, active bool) (*Session, error) {
	passiveBound := false // set when the passive side saw its connection bound
	e := s.ep
	if active {
		c := s.Conn()
		if c == nil {
			if err := s.endedErr(); err != nil {
				return nil, err // ended sessions have no conn (Session.Conn)
			}
			fp := ""
			if s.toPath[0].Secure {
				fp = s.remoteFP
			}
			nc, err := e.dial(ctx, s.toPath[0], fp)
			if err != nil {
				s.fail(err)
				return nil, err
			}
			if err := s.bindOutbound(nc); err != nil {
				return nil, err
			}
			c = nc
		}
		// §5.4: the active side sends a SEND at once to bind the connection.
		req := &Frame{Method: MethodSEND, ToPath: s.toPath, FromPath: s.fromPath, MessageID: NewMessageID()}
		resp, err := c.RoundTrip(ctx, req, nil)
		if err != nil {
			err = fmt.Errorf("msrp: binding SEND: %w", err)
			s.fail(err)
			return nil, err
		}
		switch resp.StatusCode {
		case 200:
		case 481:
			s.fail(ErrSessionUnknown)
			return nil, ErrSessionUnknown
		case 506:
			s.fail(ErrSessionBound)
			return nil, ErrSessionBound
		default:
			err := fmt.Errorf("msrp: binding SEND answered %d %s", resp.StatusCode, resp.Comment)
			s.fail(err)
			return nil, err
		}
	} else if s.relay == nil {
		select {
		case <-s.bound:
			passiveBound = true
		case <-s.done:
			// The peer may have bound, sent and closed before we looked:
			// the messages it sent are queued and must stay readable, so
			// a session that was bound opens (Receive then drains it and
			// reports ErrClosed).
			select {
			case <-s.bound:
				passiveBound = true
			default:
				return nil, s.closedErr()
			}
		case <-ctx.Done():
			err := fmt.Errorf("msrp: waiting for the peer to connect: %w", context.Cause(ctx))
			s.fail(err)
			return nil, err
		}
	}
	s.mu.Lock()
	if s.ended && !passiveBound {
		err := s.closedErrLocked()
		s.mu.Unlock()
		return nil, err
	}
	s.opened = true
	s.mu.Unlock()
	return s, nil
}

// endedErr returns closedErr if s has ended, else nil.
func (s *Session) endedErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		return nil
	}
	return s.closedErrLocked()
}

func (s *Session) closedErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closedErrLocked()
}

// typeAccepted reports whether ctype is allowed by accept (RFC 4975 §8.6).
func typeAccepted(ctype string, accept []string) bool {
	return messagesdp.MatchType(ctype, accept)
}

// peerAccepts reports whether the peer's SDP allows sending ctype.
func peerAccepts(remote *messagesdp.Media, ctype string) bool {
	if len(remote.AcceptTypes) == 0 {
		return true
	}
	return typeAccepted(ctype, remote.AcceptTypes)
}

// peerAcceptsWrapped reports whether the peer allows inner inside a
// container: a type of accept-types or accept-wrapped-types (§8.6).
func peerAcceptsWrapped(remote *messagesdp.Media, inner string) bool {
	if inner == "" || len(remote.AcceptTypes) == 0 && len(remote.AcceptWrappedTypes) == 0 {
		return true
	}
	return typeAccepted(inner, remote.AcceptTypes) || typeAccepted(inner, remote.AcceptWrappedTypes)
}
