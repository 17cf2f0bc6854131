package sipserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/internal/store"
)

// Defaults of the Config fields.
const (
	DefaultMinExpires      = 60 * time.Second
	DefaultMaxExpires      = 2 * time.Hour
	DefaultExpires         = time.Hour
	DefaultNonceLifetime   = 5 * time.Minute
	DefaultDeliveryTimeout = 32 * time.Second // Timer F (64*T1)
	DefaultMaxAttempts     = 20
)

// ErrClosed is returned by the Serve methods after Close.
var ErrClosed = errors.New("sipserver: closed")

// Config configures a Server. Store and Domains are required.
type Config struct {
	// Store keeps accounts, bindings, the message queue and history.
	Store store.Store
	// Domains are the SIP domains this server is responsible for
	// (RFC 3261 §16.4: requests for them are routed through the location
	// service). The first one is the default realm.
	Domains []string
	// Realm is the digest realm (RFC 3261 §22.1) of every domain; default
	// each user's own domain.
	Realm string
	// Host is the address written into Via and Record-Route; default the
	// IP of the first listener.
	Host string
	// Node identifies this node in location bindings (Binding.Node) so
	// that other nodes sharing a PostgreSQL store can proxy requests to
	// it. It must be a SIP URI that reaches this node, e.g.
	// "sip:10.0.0.1:5060;transport=tcp"; default the URI of the first TCP
	// listener (UDP if there is none).
	Node string
	// ClusterSecret authenticates requests between nodes (they carry it
	// in a Parley-Node header instead of the user's proxy credentials).
	// Empty disables node-to-node trust.
	ClusterSecret string
	// MinExpires, MaxExpires and DefaultExpires bound registrations
	// (RFC 3261 §10.3 step 7, §10.2.8 423 Interval Too Brief).
	MinExpires, MaxExpires, DefaultExpires time.Duration
	// NonceLifetime is how long a digest nonce is accepted before it is
	// answered with stale=true.
	NonceLifetime time.Duration
	// Algorithms are the digest algorithms challenged, one
	// WWW-Authenticate header each, preferred first (RFC 8760 §2.4);
	// default SHA-256 then MD5.
	Algorithms []store.Algorithm
	// NoProxyAuth disables the 407 challenge for out-of-dialog requests
	// from local users (REGISTER is always challenged).
	NoProxyAuth bool
	// History records pager messages passing through the server in the
	// history of sender and recipient. HistoryOptOut, if set, names users
	// (AORs) whose messages are not recorded.
	History       bool
	HistoryOptOut func(aor string) bool
	// CPIMRelay, if set, relays cpim/tcp and cpim/tls sessions (the seed
	// draft's §7): the proxy rewrites the SDP of INVITEs and their 2xx to
	// go through it.
	CPIMRelay *cpimtransport.Relay
	// DeliveryTimeout bounds one delivery attempt of a stored message.
	DeliveryTimeout time.Duration
	// MaxAttempts is how many failed delivery attempts a stored message
	// gets before it is marked failed.
	MaxAttempts int
	// TLS is the client configuration for sips: next hops (and the
	// certificate of TLS listeners, used by ServeTLS callers).
	TLS *tls.Config
	// IdleTimeout closes a TCP or TLS connection on which no complete
	// message head (nor an RFC 5626 double-CRLF keep-alive) has arrived
	// for that long; default DefaultIdleTimeout, negative disables.
	IdleTimeout time.Duration
	// MaxConnsPerIP caps the open TCP/TLS connections of one source IP
	// (more are closed on accept); default DefaultMaxConnsPerIP,
	// negative disables.
	MaxConnsPerIP int
	// MaxAuthFailures is how many failed digest authentications one
	// source IP address, and separately one AOR, may have in a row before
	// further attempts are answered 503 with Retry-After without being
	// checked; one more attempt is earned every AuthFailureInterval
	// (FINDINGS.md F12). Defaults DefaultMaxAuthFailures and
	// DefaultAuthFailureInterval; negative MaxAuthFailures disables.
	MaxAuthFailures     int
	AuthFailureInterval time.Duration
	// CacheTTL is how long answers of the store for the hot path of a
	// request (bindings, account existence, HA1s) are kept in memory;
	// default DefaultCacheTTL (1 s), negative disables. Bindings changed
	// by a REGISTER are forgotten at once on this node and, through
	// store.Notify, on the other nodes; account and password changes
	// made elsewhere take up to CacheTTL to be seen. Keep it short.
	CacheTTL time.Duration
	// UserAgent is the Server header; default "parley".
	UserAgent string
	// Logger; nil discards.
	Logger *slog.Logger
}

// Metrics are the server's counters. Totals only grow.
type Metrics struct {
	Registrations   atomic.Uint64 // successful REGISTERs that added or refreshed a binding
	Unregistrations atomic.Uint64
	AuthFailures    atomic.Uint64 // 403 for wrong credentials
	AuthThrottled   atomic.Uint64 // 503 for too many failed authentications
	Requests        atomic.Uint64 // requests received
	Retransmissions atomic.Uint64 // non-INVITE UDP requests answered again from a finished transaction
	Sessions        atomic.Uint64 // INVITEs answered 2xx through the proxy
	SessionsActive  atomic.Int64  // not yet ended by BYE
	Messages        atomic.Uint64 // MESSAGEs answered 2xx through the proxy (delivered)
	MessagesStored  atomic.Uint64 // MESSAGEs answered 202 (stored)
	MessagesFwd     atomic.Uint64 // stored messages delivered later
	MessagesFailed  atomic.Uint64 // stored messages given up
	MessageBytes    atomic.Uint64 // bodies of MESSAGEs accepted
	NotFound        atomic.Uint64 // 404s
	Unavailable     atomic.Uint64 // 480s
	// ForwardMicros and Forwards sum the time from receiving a MESSAGE
	// to relaying its final response from the device (the proxy's
	// latency including the device's), for a Prometheus summary.
	ForwardMicros, Forwards atomic.Uint64
}

// Server is a SIP registrar and stateful proxy for instant messaging. It
// is safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	st  store.Store
	nc  *nonces
	// throttle limits failed authentications (nil: off); dummy holds the
	// HA1s checked for users who do not exist.
	throttle *throttle
	dummy    map[store.Algorithm]store.Credential
	cache    *cache // nil: off
	// done answers retransmitted non-INVITE UDP requests after their
	// transaction ended (retrans.go).
	done *completedTxs
	// loopSalt makes our loop-detection hashes our own.
	loopSalt [8]byte
	// instance is a random id of this Server (delivery claims before a
	// listener gives it a Node).
	instance string

	sua *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // requests and deliveries in progress
	bg     sync.WaitGroup // listeners and background loops

	mu        sync.Mutex
	closed    bool
	listeners map[string]hostPort // by transport (first one)
	self      map[string]bool     // host:port of every listener
	closers   []func() error
	node      string
	flushing  map[string]bool                          // recipients with a flush running
	flushMore map[string]bool                          // recipients with a flush requested meanwhile
	cpimSess  map[string][]*cpimtransport.RelaySession // by Call-ID
	dialogs   map[string]time.Time                     // Call-IDs of sessions set up through us, for SessionsActive

	metrics Metrics
}

type hostPort struct {
	host string
	port int
}

// New builds a Server. It opens no sockets: hand listeners over with
// ServeUDP, ServeTCP and ServeTLS, then call Start.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("sipserver: Config.Store is required")
	}
	if len(cfg.Domains) == 0 {
		return nil, errors.New("sipserver: Config.Domains needs at least one domain")
	}
	for i, d := range cfg.Domains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || strings.ContainsAny(d, " \t\r\n;@<>\"") {
			return nil, fmt.Errorf("sipserver: invalid domain %q", cfg.Domains[i])
		}
		cfg.Domains[i] = d
	}
	if strings.ContainsAny(cfg.Realm, "\"\r\n") {
		return nil, fmt.Errorf("sipserver: invalid realm %q", cfg.Realm)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MinExpires, DefaultMinExpires)
	def(&cfg.MaxExpires, DefaultMaxExpires)
	def(&cfg.DefaultExpires, DefaultExpires)
	def(&cfg.NonceLifetime, DefaultNonceLifetime)
	def(&cfg.DeliveryTimeout, DefaultDeliveryTimeout)
	switch {
	case cfg.IdleTimeout == 0:
		cfg.IdleTimeout = DefaultIdleTimeout
	case cfg.IdleTimeout < 0:
		cfg.IdleTimeout = 0
	}
	if cfg.MaxConnsPerIP == 0 {
		cfg.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if cfg.MaxAuthFailures == 0 {
		cfg.MaxAuthFailures = DefaultMaxAuthFailures
	}
	def(&cfg.AuthFailureInterval, DefaultAuthFailureInterval)
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MinExpires > cfg.MaxExpires {
		return nil, fmt.Errorf("sipserver: MinExpires %v above MaxExpires %v", cfg.MinExpires, cfg.MaxExpires)
	}
	cfg.DefaultExpires = min(max(cfg.DefaultExpires, cfg.MinExpires), cfg.MaxExpires)
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []store.Algorithm{store.SHA256, store.MD5}
	}
	for _, a := range cfg.Algorithms {
		if _, err := a.Canonical(); err != nil {
			return nil, fmt.Errorf("sipserver: %w", err)
		}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "parley"
	}
	s := &Server{
		cfg:       cfg,
		st:        cfg.Store,
		nc:        newNonces(cfg.NonceLifetime),
		throttle:  newThrottle(cfg.MaxAuthFailures, cfg.AuthFailureInterval),
		dummy:     newDummyHA1s(),
		cache:     newCache(cfg.Store, cfg.CacheTTL),
		done:      newCompletedTxs(64*sip.T1, maxCompletedTxs),
		listeners: map[string]hostPort{},
		self:      map[string]bool{},
		flushing:  map[string]bool{},
		flushMore: map[string]bool{},
		cpimSess:  map[string][]*cpimtransport.RelaySession{},
		dialogs:   map[string]time.Time{},
	}
	rand.Read(s.loopSalt[:])
	s.instance = randHex(8)
	s.log = cfg.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	tlsConf := cfg.TLS
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	sl := s.log.With("component", "sipgo")
	var err error
	s.sua, err = sipgo.NewUA(
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentHostname(cfg.Domains[0]),
		sipgo.WithUserAgenTLSConfig(tlsConf),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sl),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {}),
			sip.WithTransactionLayerTerminateOnConnClose(),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sl)),
	)
	if err != nil {
		return nil, fmt.Errorf("sipserver: %w", err)
	}
	s.srv, err = sipgo.NewServer(s.sua, sipgo.WithServerLogger(sl))
	if err != nil {
		s.sua.Close()
		return nil, fmt.Errorf("sipserver: %w", err)
	}
	s.cli, err = sipgo.NewClient(s.sua, sipgo.WithClientLogger(sl))
	if err != nil {
		s.sua.Close()
		return nil, fmt.Errorf("sipserver: %w", err)
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	for _, m := range []sip.RequestMethod{sip.REGISTER, sip.INVITE, sip.ACK, sip.BYE, sip.CANCEL, sip.MESSAGE, sip.OPTIONS, sip.INFO, sip.UPDATE, sip.SUBSCRIBE, sip.NOTIFY, sip.REFER, sip.PRACK} {
		s.srv.OnRequest(m, s.handler(s.onRequest))
	}
	s.srv.OnNoRoute(s.handler(func(req *sip.Request, tx sip.ServerTransaction) {
		s.respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allow))
	}))
	return s, nil
}

const allow = "INVITE, ACK, CANCEL, BYE, MESSAGE, OPTIONS, REGISTER, INFO, UPDATE, PRACK"

// Metrics returns the server's live counters.
func (s *Server) Metrics() *Metrics { return &s.metrics }

// Node returns this node's id (its SIP URI), "" before a listener is served.
func (s *Server) Node() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node
}

func (s *Server) handler(h func(*sip.Request, sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			if !req.IsAck() {
				s.respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
			}
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		defer s.wg.Done()
		s.metrics.Requests.Add(1)
		tx, retransmitted := s.absorb(req, tx)
		if retransmitted {
			return
		}
		h(req, tx)
	}
}

func (s *Server) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.AppendHeader(sip.NewHeader("Server", s.cfg.UserAgent))
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("respond failed", "code", code, "err", err)
	}
}

// ServeUDP serves SIP on pc until Close, which closes it. It returns at
// once.
func (s *Server) ServeUDP(pc net.PacketConn) error {
	return s.serve("udp", pc.LocalAddr(), pc.Close, func() error { return s.srv.ServeUDP(pc) })
}

// ServeTCP serves SIP on l until Close, which closes it.
func (s *Server) ServeTCP(l net.Listener) error {
	l = newLimitListener(l, s.cfg.IdleTimeout, s.cfg.MaxConnsPerIP)
	return s.serve("tcp", l.Addr(), l.Close, func() error { return s.srv.ServeTCP(l) })
}

// ServeTLS serves SIP over TLS on l (a tls.NewListener) until Close.
func (s *Server) ServeTLS(l net.Listener) error {
	l = newLimitListener(l, s.cfg.IdleTimeout, s.cfg.MaxConnsPerIP)
	return s.serve("tls", l.Addr(), l.Close, func() error { return s.srv.ServeTLS(l) })
}

func (s *Server) serve(transport string, addr net.Addr, closer func() error, run func() error) error {
	host, portStr, err := net.SplitHostPort(addr.String())
	if err != nil {
		closer()
		return fmt.Errorf("sipserver: listener address %v: %w", addr, err)
	}
	port, _ := strconv.Atoi(portStr)
	if s.cfg.Host != "" {
		host = s.cfg.Host
	} else if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		closer()
		return fmt.Errorf("sipserver: listener on %v: set Config.Host to the address clients should reach", addr)
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		closer()
		return ErrClosed
	}
	if _, dup := s.listeners[transport]; !dup {
		s.listeners[transport] = hostPort{host, port}
	}
	s.self[strings.ToLower(strings.Trim(host, "[]"))+":"+portStr] = true
	if h, _, err := net.SplitHostPort(addr.String()); err == nil {
		s.self[strings.ToLower(h)+":"+portStr] = true
	}
	s.closers = append(s.closers, closer)
	if s.node == "" || (transport == "tcp" && !strings.Contains(s.node, "transport=tcp") && s.cfg.Node == "") {
		if s.cfg.Node != "" {
			s.node = s.cfg.Node
		} else {
			u := sip.Uri{Scheme: "sip", Host: host, Port: port}
			if transport == "tcp" {
				u.UriParams = sip.HeaderParams{{K: "transport", V: "tcp"}}
			}
			if transport != "tls" {
				s.node = u.String()
			}
		}
	}
	s.bg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.bg.Done()
		if err := run(); err != nil && !s.isClosed() {
			s.log.Warn("SIP listener stopped", "transport", transport, "err", err)
		}
	}()
	return nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Addr returns the bound address of the first listener for transport
// ("udp", "tcp", "tls"), or "".
func (s *Server) Addr(transport string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.listeners[transport]
	if !ok {
		return ""
	}
	return net.JoinHostPort(strings.Trim(l.host, "[]"), strconv.Itoa(l.port))
}

// Start begins the background work: delivery of messages stored before
// a restart, expiry of bindings, and (PostgreSQL) listening for messages
// queued by other nodes for users registered here. Call it after the
// listeners are served.
func (s *Server) Start(ctx context.Context) error {
	ch, err := s.st.Listen(s.ctx, notifyChannel)
	if err != nil {
		return fmt.Errorf("sipserver: listen for queue notifications: %w", err)
	}
	if s.cache != nil {
		loc, err := s.st.Listen(s.ctx, locationChannel)
		if err != nil {
			return fmt.Errorf("sipserver: listen for location changes: %w", err)
		}
		s.cache.forgetAll() // what was cached before listening may be stale
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.locationLoop(loc)
		}()
	}
	s.bg.Add(2)
	go func() {
		defer s.bg.Done()
		s.notifyLoop(ch)
	}()
	go func() {
		defer s.bg.Done()
		s.housekeeping()
	}()
	return nil
}

// housekeeping expires bindings and nonces and retries stored messages.
func (s *Server) housekeeping() {
	s.flushAll()
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			if n, err := s.st.Expire(ctx, now); err != nil {
				s.log.Warn("expiring bindings", "err", err)
			} else if n > 0 {
				s.log.Debug("bindings expired", "count", n)
			}
			cancel()
			s.nc.sweep(now)
			s.throttle.sweep()
			s.sweepDialogs(now)
			s.flushAll()
		}
	}
}

// maxDialogAge forgets sessions whose BYE never came through us.
const maxDialogAge = 24 * time.Hour

func (s *Server) sweepDialogs(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.dialogs {
		if now.Sub(t) > maxDialogAge {
			delete(s.dialogs, id)
			s.metrics.SessionsActive.Add(-1)
		}
	}
}

func (s *Server) dialogStarted(callID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.dialogs[callID]; !ok {
		s.dialogs[callID] = time.Now()
		s.metrics.SessionsActive.Add(1)
	}
}

func (s *Server) knownDialog(callID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.dialogs[callID]
	return ok
}

func (s *Server) dialogEnded(callID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.dialogs[callID]; ok {
		delete(s.dialogs, callID)
		s.metrics.SessionsActive.Add(-1)
	}
}

// closeLinger is how long Close keeps connections open after the last
// response.
const closeLinger = 200 * time.Millisecond

// Close stops serving: new requests get 503, the requests and
// deliveries in progress finish (until ctx ends; then they are
// cancelled), and only then are the listeners and connections closed, so
// that responses in flight still reach their clients.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	closers := s.closers
	s.closers = nil
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel(ErrClosed) // give up on what is left
		<-done
	}
	// Linger a moment before closing connections: sipgo handles each
	// received response in its own goroutine, and a client that sees its
	// connection close fails the transaction at once, so closing right
	// after the last response can make the client lose it.
	linger := time.NewTimer(closeLinger)
	select {
	case <-linger.C:
	case <-ctx.Done():
		linger.Stop()
	}
	s.cancel(ErrClosed)
	var errs []error
	for _, c := range closers {
		if err := c(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.bg.Wait()
	s.done.stop()
	if err := s.sua.Close(); err != nil {
		s.log.Debug("sipgo close", "err", err)
	}
	return errors.Join(errs...)
}

// ---- addresses ----

// isLocalDomain reports whether host is one of our domains.
func (s *Server) isLocalDomain(host string) bool {
	h := strings.ToLower(strings.Trim(host, "[]"))
	for _, d := range s.cfg.Domains {
		if d == h {
			return true
		}
	}
	return false
}

// isSelf reports whether u names this server: one of our listeners, or
// one of our domains without a user part (RFC 3261 §16.4).
func (s *Server) isSelf(u sip.Uri) bool {
	host := strings.ToLower(strings.Trim(u.Host, "[]"))
	port := u.Port
	s.mu.Lock()
	defer s.mu.Unlock()
	if port != 0 {
		if s.self[host+":"+strconv.Itoa(port)] {
			return true
		}
	} else {
		for hp := range s.self {
			if h, p, _ := net.SplitHostPort(hp); h == host && p == "5060" {
				return true
			}
		}
	}
	if u.User == "" {
		for _, d := range s.cfg.Domains {
			if d == host && (port == 0 || s.selfPortLocked(port)) {
				return true
			}
		}
	}
	return false
}

func (s *Server) selfPortLocked(port int) bool {
	ps := ":" + strconv.Itoa(port)
	for hp := range s.self {
		if strings.HasSuffix(hp, ps) {
			return true
		}
	}
	return false
}

// aorOf returns the canonical AOR of a SIP URI: sip:user@domain, domain
// lower-cased (RFC 3261 §10.3 step 5).
func aorOf(u sip.Uri) string {
	return "sip:" + u.User + "@" + strings.ToLower(u.Host)
}

// listenerFor returns our advertised host and port for transport.
func (s *Server) listenerFor(transport string) (hostPort, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := strings.ToLower(transport)
	l, ok := s.listeners[t]
	if !ok {
		for _, alt := range []string{"tcp", "udp", "tls"} {
			if l, ok = s.listeners[alt]; ok {
				break
			}
		}
	}
	return l, ok
}
