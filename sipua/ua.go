package sipua

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/parley-im/parley/session"
)

// DefaultPagerLimit is the largest body sent as a pager-mode MESSAGE; larger
// bodies go in a short session (RFC 3428 §9: 1300 bytes outside a
// congestion-controlled path).
const DefaultPagerLimit = 1300

// Transports for Listen.
const (
	UDP = "udp"
	TCP = "tcp"
	TLS = "tls"
)

// Listen names one address to listen on.
type Listen struct {
	Transport string // UDP, TCP or TLS
	Addr      string // host:port; port 0 picks a free port
}

// Config configures a UA. The zero value of every optional field is a
// sensible default.
type Config struct {
	// AOR is the address of record, e.g. "sip:alice@example.com".
	// Required.
	AOR string
	// DisplayName is put in From ("Alice").
	DisplayName string
	// Username and Password are the digest credentials (RFC 3261 §22).
	// Username defaults to the AOR's user part.
	Username, Password string
	// Registrar is the registrar URI (e.g. "sip:example.com" or
	// "sip:127.0.0.1:5060;transport=tcp"); empty means no registration
	// (peer-to-peer).
	Registrar string
	// RegisterExpires is the binding lifetime asked for; default 1 hour.
	RegisterExpires time.Duration
	// OutboundProxy, if set, receives every out-of-dialog request (it is
	// put in a Route header with ;lr, RFC 3261 §8.1.2); empty sends
	// requests straight to the target.
	OutboundProxy string
	// Listen lists the addresses Start listens on. Listeners can also be
	// handed over with ServeUDP, ServeTCP and ServeTLS.
	Listen []Listen
	// ContactHost is the host put in Contact; default the listener's IP
	// (required when listening on an unspecified address).
	ContactHost string
	// TLS is used both for TLS listeners (it needs Certificates) and as
	// the client configuration for sips: targets (RootCAs, ServerName).
	TLS *tls.Config
	// UserAgent is the User-Agent header value; default "parley".
	UserAgent string
	// Logger receives the UA's and sipgo's logs; default discards them.
	Logger *slog.Logger

	// Endpoints are the session transports offered in INVITEs, preferred
	// first (e.g. an msrp.Endpoint). Media overrides them when set.
	Endpoints []session.Endpoint
	// Prefer ranks protos when answering (e.g. "TCP/TLS/MSRP" first);
	// nil means session.DefaultPreference.
	Prefer []string
	// Media, if set, replaces the negotiation built from Endpoints.
	Media Media
	// SessionOptions are the defaults for every session (accept-types,
	// max-size, receipts). LocalURI and RemoteURI are filled in by the UA.
	SessionOptions session.Options

	// OnInvite is called, in its own goroutine, for every incoming session
	// invitation that the media layer can accept; the application must
	// call Accept or Decline (or the UA answers 480 after RingTimeout).
	OnInvite func(in *Incoming)
	// AutoAnswer accepts every acceptable invitation at once and hands the
	// established Call to OnCall (which is then required).
	AutoAnswer bool
	// OnCall receives calls established by AutoAnswer.
	OnCall func(c *Call)
	// RingTimeout bounds how long an invitation waits for Accept or
	// Decline; default 60 s.
	RingTimeout time.Duration

	// OnMessage receives every incoming instant message: pager-mode
	// MESSAGEs and the message of an incoming large-message-mode session.
	// It runs in the request's goroutine; the 200 is sent when it returns,
	// so it should return promptly (Close waits for it). Nil answers
	// incoming MESSAGEs with 480.
	OnMessage func(m *Message)
	// AcceptTypes are the MESSAGE body types accepted (others get 415);
	// default text/plain and message/cpim (RFC 3428 §7, §8). Wildcards
	// "type/*" and "*/*" are allowed.
	AcceptTypes []string
	// PagerLimit is the largest body sent in a MESSAGE; larger bodies use
	// large-message mode. Default DefaultPagerLimit; negative disables
	// large-message mode (oversized bodies then fail).
	PagerLimit int

	// Trace, if set, is called with every SIP message the UA receives,
	// on any connection, before the UA acts on it, and every message it
	// sends through its listeners: on its listening UDP sockets and on
	// the TCP/TLS connections it accepted (its responses, mostly). What
	// sipgo sends on sockets it opens itself for requests (dialled TCP/TLS
	// connections, UDP from an ephemeral port) is not seen: sipgo offers
	// no hook there but its process-global tracer. It is called from sipgo's reader and writer
	// goroutines, possibly concurrently, and must return quickly without
	// calling the UA; Msg is valid only during the call.
	Trace func(m TraceMessage)
}

// UA is a SIP user agent for instant messaging: pager mode (RFC 3428) and
// session mode (INVITE with m=message SDP). Its methods are safe for
// concurrent use.
type UA struct {
	cfg       Config
	log       *slog.Logger
	aor       sip.Uri
	username  string
	media     Media
	pagerMax  int
	acceptTyp []string
	trace     *tracer // nil without Config.Trace

	sua *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	ctx    context.Context // ends on Close
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // every goroutine the UA starts or borrows

	mu        sync.Mutex
	closed    bool
	listeners map[string]listener // by transport
	closers   []func() error
	calls     map[dialogKey]*Call
	queues    map[string]*fifo
	reg       *registration
}

type listener struct {
	host string
	port int
}

// New builds a UA. It opens no sockets: call Start, or hand listeners over
// with ServeUDP, ServeTCP or ServeTLS.
func New(cfg Config) (*UA, error) {
	ua := &UA{cfg: cfg, listeners: map[string]listener{}, calls: map[dialogKey]*Call{}, queues: map[string]*fifo{}}
	if err := sip.ParseUri(cfg.AOR, &ua.aor); err != nil || (ua.aor.Scheme != "sip" && ua.aor.Scheme != "sips") || ua.aor.Host == "" {
		return nil, fmt.Errorf("sipua: Config.AOR %q is not a sip: or sips: URI like sip:alice@example.com", cfg.AOR)
	}
	ua.username = cfg.Username
	if ua.username == "" {
		ua.username = ua.aor.User
	}
	if cfg.AutoAnswer && cfg.OnCall == nil {
		return nil, errors.New("sipua: Config.AutoAnswer needs Config.OnCall to receive the calls")
	}
	for _, s := range []struct{ name, v string }{{"Registrar", cfg.Registrar}, {"OutboundProxy", cfg.OutboundProxy}} {
		if s.v == "" {
			continue
		}
		var u sip.Uri
		if err := sip.ParseUri(s.v, &u); err != nil || u.Host == "" {
			return nil, fmt.Errorf("sipua: Config.%s %q is not a SIP URI", s.name, s.v)
		}
	}
	if strings.ContainsAny(cfg.DisplayName+cfg.UserAgent, "\r\n\"") {
		return nil, errors.New("sipua: DisplayName and UserAgent may not contain quotes or line breaks")
	}
	ua.log = cfg.Logger
	if ua.log == nil {
		ua.log = slog.New(slog.DiscardHandler)
	}
	ua.media = cfg.Media
	if ua.media == nil && len(cfg.Endpoints) > 0 {
		ua.media = endpointMedia(cfg.Endpoints, cfg.Prefer)
	}
	ua.pagerMax = cfg.PagerLimit
	if ua.pagerMax == 0 {
		ua.pagerMax = DefaultPagerLimit
	}
	ua.acceptTyp = cfg.AcceptTypes
	if len(ua.acceptTyp) == 0 {
		ua.acceptTyp = []string{"text/plain", "message/cpim"}
	}
	if ua.cfg.UserAgent == "" {
		ua.cfg.UserAgent = "parley"
	}
	if ua.cfg.RingTimeout <= 0 {
		ua.cfg.RingTimeout = 60 * time.Second
	}
	if ua.cfg.RegisterExpires <= 0 {
		ua.cfg.RegisterExpires = time.Hour
	}

	// sipgo is configured only through options here, never through its
	// package globals (sip.SIPDebug, sip.UDPMTUSize, …): those would
	// change every UA in the process.
	tlsConf := cfg.TLS
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	sl := ua.log.With("component", "sipgo")
	tpOpts := []sip.TransportLayerOption{sip.WithTransportLayerLogger(sl)}
	if cfg.Trace != nil {
		ua.trace = newTracer(cfg.Trace)
		tpOpts = append(tpOpts, sip.WithTransportLayerReadFilter(ua.trace.readFilter))
	}
	var err error
	ua.sua, err = sipgo.NewUA(
		sipgo.WithUserAgent(ua.cfg.UserAgent),
		sipgo.WithUserAgentHostname(ua.aor.Host),
		sipgo.WithUserAgenTLSConfig(tlsConf),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sl),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {}),
		),
		sipgo.WithUserAgentTransportLayerOptions(tpOpts...),
	)
	if err != nil {
		return nil, fmt.Errorf("sipua: %w", err)
	}
	ua.srv, err = sipgo.NewServer(ua.sua, sipgo.WithServerLogger(sl))
	if err != nil {
		ua.sua.Close()
		return nil, fmt.Errorf("sipua: %w", err)
	}
	ua.cli, err = sipgo.NewClient(ua.sua, sipgo.WithClientLogger(sl))
	if err != nil {
		ua.sua.Close()
		return nil, fmt.Errorf("sipua: %w", err)
	}
	ua.ctx, ua.cancel = context.WithCancelCause(context.Background())

	ua.srv.OnInvite(ua.handler(ua.onInvite))
	ua.srv.OnAck(ua.handler(ua.onAck))
	ua.srv.OnBye(ua.handler(ua.onBye))
	ua.srv.OnMessage(ua.handler(ua.onMessage))
	ua.srv.OnOptions(ua.handler(ua.onOptions))
	ua.srv.OnCancel(ua.handler(func(req *sip.Request, tx sip.ServerTransaction) {
		// A CANCEL matching a pending INVITE is consumed by sipgo's
		// transaction layer; one reaching us matches nothing
		// (RFC 3261 §9.2).
		ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
	}))
	return ua, nil
}

// handler wraps a request handler so the UA counts the goroutine (sipgo
// runs one per request) and refuses work after Close.
func (ua *UA) handler(h func(*sip.Request, sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		ua.mu.Lock()
		if ua.closed {
			ua.mu.Unlock()
			if !req.IsAck() {
				ua.respond(tx, req, 503, "Service Unavailable")
			}
			return
		}
		ua.wg.Add(1)
		ua.mu.Unlock()
		defer ua.wg.Done()
		h(req, tx)
	}
}

func (ua *UA) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		ua.log.Debug("respond failed", "code", code, "err", err)
	}
}

// Start listens on every Config.Listen address and, when a registrar is
// configured, registers (returning ErrAuthFailed and the like when that
// fails). The refresh timer runs until Close.
func (ua *UA) Start(ctx context.Context) error {
	for _, l := range ua.cfg.Listen {
		var err error
		switch strings.ToLower(l.Transport) {
		case UDP:
			var pc net.PacketConn
			pc, err = net.ListenPacket("udp", l.Addr)
			if err == nil {
				err = ua.ServeUDP(pc)
			}
		case TCP:
			var ln net.Listener
			ln, err = net.Listen("tcp", l.Addr)
			if err == nil {
				err = ua.ServeTCP(ln)
			}
		case TLS:
			if ua.cfg.TLS == nil || (len(ua.cfg.TLS.Certificates) == 0 && ua.cfg.TLS.GetCertificate == nil) {
				return errors.New("sipua: a TLS listener needs Config.TLS with a certificate")
			}
			var ln net.Listener
			ln, err = tls.Listen("tcp", l.Addr, ua.cfg.TLS)
			if err == nil {
				err = ua.ServeTLS(ln)
			}
		default:
			return fmt.Errorf("sipua: unknown transport %q (want udp, tcp or tls)", l.Transport)
		}
		if err != nil {
			return fmt.Errorf("sipua: listen %s %s: %w", l.Transport, l.Addr, err)
		}
	}
	if ua.cfg.Registrar != "" {
		return ua.Register(ctx)
	}
	return nil
}

// Serve runs the UA until ctx ends: Start, then wait, then Close (which
// hangs up and unregisters). It also returns when the UA is closed by
// someone else.
func (ua *UA) Serve(ctx context.Context) error {
	if err := ua.Start(ctx); err != nil {
		ua.Close()
		return err
	}
	select {
	case <-ctx.Done():
	case <-ua.ctx.Done():
	}
	return ua.Close()
}

// ServeUDP hands pc to the UA, which reads SIP from it until Close and
// closes it then. Unlike net/http's Serve it returns at once, once the
// listener is in use (its port goes into Contact headers).
func (ua *UA) ServeUDP(pc net.PacketConn) error {
	if ua.trace != nil {
		pc = &tracePacketConn{PacketConn: pc, t: ua.trace}
	}
	return ua.serve(UDP, pc.LocalAddr(), pc.Close, func() error { return ua.srv.ServeUDP(pc) })
}

// ServeTCP hands l to the UA (see ServeUDP).
func (ua *UA) ServeTCP(l net.Listener) error {
	if ua.trace != nil {
		l = &traceListener{Listener: l, t: ua.trace, transport: "TCP"}
	}
	return ua.serve(TCP, l.Addr(), l.Close, func() error { return ua.srv.ServeTCP(l) })
}

// ServeTLS hands l, a TLS listener (tls.NewListener), to the UA (see
// ServeUDP).
func (ua *UA) ServeTLS(l net.Listener) error {
	if ua.trace != nil {
		l = &traceListener{Listener: l, t: ua.trace, transport: "TLS"}
	}
	return ua.serve(TLS, l.Addr(), l.Close, func() error { return ua.srv.ServeTLS(l) })
}

func (ua *UA) serve(transport string, addr net.Addr, closer func() error, run func() error) error {
	host, portStr, err := net.SplitHostPort(addr.String())
	if err != nil {
		closer()
		return fmt.Errorf("sipua: listener address %v: %w", addr, err)
	}
	port, _ := strconv.Atoi(portStr)
	if ua.cfg.ContactHost != "" {
		host = ua.cfg.ContactHost
	} else if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		closer()
		return fmt.Errorf("sipua: listener on %v: set Config.ContactHost to the address peers should reach", addr)
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]" // IPv6 reference in SIP URIs (RFC 3261 §25.1)
	}
	ua.mu.Lock()
	if ua.closed {
		ua.mu.Unlock()
		closer()
		return ErrClosed
	}
	if _, dup := ua.listeners[transport]; !dup {
		ua.listeners[transport] = listener{host: host, port: port}
	}
	ua.closers = append(ua.closers, closer)
	ua.wg.Add(1)
	ua.mu.Unlock()
	go func() {
		defer ua.wg.Done()
		// sipgo's Serve* returns when the listener is closed (by Close).
		if err := run(); err != nil && ua.ctx.Err() == nil {
			ua.log.Warn("listener stopped", "transport", transport, "err", err)
		}
	}()
	return nil
}

// Addr returns the address of the UA's listener for transport (UDP, TCP
// or TLS), or "" when there is none.
func (ua *UA) Addr(transport string) string {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	l, ok := ua.listeners[strings.ToLower(transport)]
	if !ok {
		return ""
	}
	return net.JoinHostPort(strings.Trim(l.host, "[]"), strconv.Itoa(l.port))
}

// URI returns a URI that reaches this UA directly over transport, e.g.
// "sip:alice@127.0.0.1:5062;transport=tcp" or "sips:alice@127.0.0.1:5063",
// for peer-to-peer use. It is "" when there is no such listener.
func (ua *UA) URI(transport string) string {
	c, ok := ua.contact(strings.ToLower(transport))
	if !ok {
		return ""
	}
	return c.Address.String()
}

// AOR returns the configured address of record.
func (ua *UA) AOR() string { return ua.aor.String() }

// contact returns the Contact for requests and responses over transport.
func (ua *UA) contact(transport string) (sip.ContactHeader, bool) {
	ua.mu.Lock()
	l, ok := ua.listeners[transport]
	ua.mu.Unlock()
	if !ok {
		return sip.ContactHeader{}, false
	}
	u := sip.Uri{Scheme: "sip", User: ua.aor.User, Host: l.host, Port: l.port}
	switch transport {
	case TLS:
		u.Scheme = "sips"
	case TCP:
		u.UriParams = sip.HeaderParams{{K: "transport", V: "tcp"}}
	}
	return sip.ContactHeader{Address: u}, true
}

// Close hangs up every call, removes the registration (Expires: 0), closes
// the listeners and waits for every goroutine the UA owns, including the
// OnInvite, OnCall and OnMessage callbacks it started: they must return.
// It is idempotent.
func (ua *UA) Close() error {
	ua.mu.Lock()
	if ua.closed {
		ua.mu.Unlock()
		return nil
	}
	ua.closed = true
	calls := make([]*Call, 0, len(ua.calls))
	for _, c := range ua.calls {
		calls = append(calls, c)
	}
	reg := ua.reg
	ua.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { c.Hangup(ctx) })
	}
	wg.Wait()
	if reg != nil {
		reg.stop()
		if err := ua.unregister(ctx, reg); err != nil {
			ua.log.Warn("unregister failed", "err", err)
		}
	}
	ua.cancel(ErrClosed)

	ua.mu.Lock()
	closers := ua.closers
	ua.closers = nil
	ua.mu.Unlock()
	var errs []error
	for _, c := range closers {
		if err := c(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	// Closing sipgo's UA stops its transaction layer and closes the
	// connections it dialled or accepted; it does not close listeners it
	// was given (we closed those above).
	if err := ua.sua.Close(); err != nil {
		ua.log.Debug("sipgo close", "err", err)
	}
	ua.wg.Wait()
	return errors.Join(errs...)
}

// transportFor picks the transport for a request to u (RFC 3263 in its
// simplest form: the transport parameter, sips: means TLS, else the first
// transport the UA listens on, UDP first).
func (ua *UA) transportFor(u sip.Uri) (string, error) {
	if t, ok := u.UriParams.Get("transport"); ok && t != "" {
		t = strings.ToLower(t)
		if t == TCP && u.Scheme == "sips" {
			t = TLS
		}
		if _, ok := ua.contact(t); !ok {
			return "", fmt.Errorf("%w: %s (target %s)", ErrNoTransport, t, u.String())
		}
		return t, nil
	}
	if u.Scheme == "sips" {
		if _, ok := ua.contact(TLS); !ok {
			return "", fmt.Errorf("%w: tls (target %s)", ErrNoTransport, u.String())
		}
		return TLS, nil
	}
	for _, t := range []string{UDP, TCP} {
		if _, ok := ua.contact(t); ok {
			return t, nil
		}
	}
	return "", fmt.Errorf("%w: the UA has no UDP or TCP listener; call Start or ServeUDP/ServeTCP first", ErrNoTransport)
}

// parseTarget parses a target URI; "im:" URIs are resolved to "sip:"
// (RFC 3428 §5).
func parseTarget(target string) (sip.Uri, error) {
	var u sip.Uri
	if rest, ok := strings.CutPrefix(target, "im:"); ok {
		target = "sip:" + rest
	}
	if strings.ContainsAny(target, "\r\n <>\"") {
		return u, fmt.Errorf("%w: %q", ErrBadTarget, target)
	}
	if err := sip.ParseUri(target, &u); err != nil {
		return u, fmt.Errorf("%w: %q: %v", ErrBadTarget, target, err)
	}
	if (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" {
		return u, fmt.Errorf("%w: %q is not a sip: or sips: URI", ErrBadTarget, target)
	}
	return u, nil
}

// newRequest builds an out-of-dialog request to target with our From, the
// To, the outbound proxy route and the transport.
func (ua *UA) newRequest(method sip.RequestMethod, target sip.Uri) (*sip.Request, string, error) {
	routeURI := target
	var proxy sip.Uri
	if ua.cfg.OutboundProxy != "" {
		sip.ParseUri(ua.cfg.OutboundProxy, &proxy) // validated in New
		routeURI = proxy
	}
	transport, err := ua.transportFor(routeURI)
	if err != nil {
		return nil, "", err
	}
	req := sip.NewRequest(method, *target.Clone())
	from := &sip.FromHeader{DisplayName: ua.cfg.DisplayName, Address: *ua.aor.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	toURI := *target.Clone()
	toURI.UriParams = nil
	toURI.Headers = nil
	req.AppendHeader(&sip.ToHeader{Address: toURI, Params: sip.NewParams()})
	if ua.cfg.OutboundProxy != "" {
		p := *proxy.Clone()
		if p.UriParams == nil {
			p.UriParams = sip.NewParams()
		}
		if !p.UriParams.Has("lr") {
			p.UriParams.Add("lr", "")
		}
		req.AppendHeader(&sip.RouteHeader{Address: p})
	}
	req.AppendHeader(sip.NewHeader("User-Agent", ua.cfg.UserAgent))
	req.SetTransport(strings.ToUpper(transport))
	return req, transport, nil
}

// dialogKey identifies a dialog from our side (RFC 3261 §12: Call-ID, local
// tag, remote tag), whichever role we had.
type dialogKey struct{ callID, local, remote string }

// inDialogKey returns the dialog key of a request received within a
// dialog: the To tag is ours, the From tag the peer's.
func inDialogKey(req *sip.Request) (dialogKey, bool) {
	cid, to, from := req.CallID(), req.To(), req.From()
	if cid == nil || to == nil || from == nil {
		return dialogKey{}, false
	}
	lt, ok1 := to.Params.Get("tag")
	rt, ok2 := from.Params.Get("tag")
	if !ok1 || !ok2 || lt == "" {
		return dialogKey{}, false
	}
	return dialogKey{callID: cid.Value(), local: lt, remote: rt}, true
}

func (ua *UA) lookupCall(req *sip.Request) *Call {
	k, ok := inDialogKey(req)
	if !ok {
		return nil
	}
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return ua.calls[k]
}

func (ua *UA) addCall(c *Call) error {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	if ua.closed {
		return ErrClosed
	}
	ua.calls[c.key] = c
	return nil
}

func (ua *UA) removeCall(c *Call) {
	ua.mu.Lock()
	if ua.calls[c.key] == c {
		delete(ua.calls, c.key)
	}
	ua.mu.Unlock()
}

func (ua *UA) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	ua.respond(tx, req, 200, "OK",
		sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, MESSAGE, OPTIONS"),
		sip.NewHeader("Accept", "application/sdp, "+strings.Join(ua.acceptTyp, ", ")))
}

// Party is one end of a call or message.
type Party struct {
	URI         string
	DisplayName string
}

func (p Party) String() string {
	if p.DisplayName == "" {
		return "<" + p.URI + ">"
	}
	return strconv.Quote(p.DisplayName) + " <" + p.URI + ">"
}

func fromParty(h *sip.FromHeader) Party {
	if h == nil {
		return Party{}
	}
	return Party{URI: h.Address.String(), DisplayName: h.DisplayName}
}

func toParty(h *sip.ToHeader) Party {
	if h == nil {
		return Party{}
	}
	return Party{URI: h.Address.String(), DisplayName: h.DisplayName}
}

func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}
