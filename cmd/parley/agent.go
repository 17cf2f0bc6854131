package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

// identity holds the flags every networked command shares: who we are,
// where the server is, what we listen on and which transports we speak.
type identity struct {
	as, password, server, proxy string
	listen, contactHost         string
	transport, media            string
	insecure                    bool
	certFile, keyFile, caFile   string
}

// addIdentityFlags registers the shared flags on fs with their environment
// defaults. defListen is the command's default listen address.
func addIdentityFlags(fs *flag.FlagSet, e *env, id *identity, defListen string) {
	user := e.getenv("USER")
	if user == "" || strings.ContainsAny(user, "@:;<> ") {
		user = "parley"
	}
	fs.StringVar(&id.as, "as", envOr(e, "PARLEY_AS", "sip:"+user+"@localhost"), "your SIP address of record, e.g. sip:alice@example.com (env PARLEY_AS)")
	fs.StringVar(&id.password, "password", envOr(e, "PARLEY_PASSWORD", ""), "digest password for the server (env PARLEY_PASSWORD)")
	fs.StringVar(&id.server, "server", envOr(e, "PARLEY_SERVER", ""), "SIP registrar and proxy, e.g. sip:example.com;transport=tcp; empty: peer-to-peer (env PARLEY_SERVER)")
	fs.StringVar(&id.proxy, "proxy", envOr(e, "PARLEY_PROXY", ""), "outbound proxy for requests, if not the --server (env PARLEY_PROXY)")
	fs.StringVar(&id.listen, "listen", envOr(e, "PARLEY_LISTEN", defListen), "local SIP address to listen on, host:port (env PARLEY_LISTEN)")
	fs.StringVar(&id.contactHost, "contact-host", envOr(e, "PARLEY_CONTACT_HOST", ""), "address peers should reach us at, needed when --listen is a wildcard like 0.0.0.0 (env PARLEY_CONTACT_HOST)")
	fs.StringVar(&id.transport, "transport", envOr(e, "PARLEY_TRANSPORT", "tcp"), "SIP transport: udp, tcp or tls (env PARLEY_TRANSPORT)")
	fs.StringVar(&id.media, "media", envOr(e, "PARLEY_MEDIA", "both"), "session transports to offer and accept: msrp, cpim (the seed draft's cpim/tcp) or both (env PARLEY_MEDIA)")
	fs.BoolVar(&id.insecure, "insecure", false, "do not verify TLS certificates (self-signed development servers only)")
	fs.StringVar(&id.certFile, "cert", envOr(e, "PARLEY_CERT", ""), "TLS certificate (PEM) for --transport tls; default a fresh self-signed one")
	fs.StringVar(&id.keyFile, "key", envOr(e, "PARLEY_KEY", ""), "TLS private key (PEM) for --cert")
	fs.StringVar(&id.caFile, "ca", envOr(e, "PARLEY_CA", ""), "CA certificates (PEM) to verify TLS peers with, in addition to the system's")
}

// check validates the shared flags and says what to do when one is wrong.
func (id *identity) check() error {
	switch id.transport {
	case sipua.UDP, sipua.TCP, sipua.TLS:
	default:
		return usageErr("--transport %q: want udp, tcp or tls", id.transport)
	}
	switch id.media {
	case "msrp", "cpim", "both":
	default:
		return usageErr("--media %q: want msrp, cpim or both", id.media)
	}
	if !strings.HasPrefix(id.as, "sip:") && !strings.HasPrefix(id.as, "sips:") {
		return usageErr("--as %q: want a SIP address like sip:alice@example.com (or set PARLEY_AS)", id.as)
	}
	if _, _, err := net.SplitHostPort(id.listen); err != nil {
		return usageErr("--listen %q: want host:port, e.g. 127.0.0.1:5060: %v", id.listen, err)
	}
	if (id.certFile == "") != (id.keyFile == "") {
		return usageErr("--cert and --key go together")
	}
	return nil
}

// usageErr is a command-line mistake: exit status 2.
func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// host returns the address put in Contact headers and media URIs.
func (id *identity) host() (string, error) {
	if id.contactHost != "" {
		return id.contactHost, nil
	}
	h, _, _ := net.SplitHostPort(id.listen)
	ip := net.ParseIP(h)
	if h == "" || (ip != nil && ip.IsUnspecified()) {
		return "", usageErr("--listen %q is a wildcard address: set --contact-host (or PARLEY_CONTACT_HOST) to the address peers reach you at", id.listen)
	}
	return h, nil
}

// tlsConfig builds the TLS configuration: a certificate (given or
// self-signed) and the client verification settings.
func (id *identity) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: id.insecure}
	if id.caFile != "" {
		pem, err := os.ReadFile(id.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", id.caFile)
		}
		conf.RootCAs = pool
	}
	var cert tls.Certificate
	var err error
	if id.certFile != "" {
		cert, err = tls.LoadX509KeyPair(id.certFile, id.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
	} else {
		h, _ := id.host()
		cert, err = selfSigned(h)
		if err != nil {
			return nil, err
		}
	}
	conf.Certificates = []tls.Certificate{cert}
	return conf, nil
}

// selfSigned makes a throwaway certificate for host, for development TLS
// (peers need --insecure, or verify it by its SDP fingerprint in MSRP).
func selfSigned(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "parley " + host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else if host != "" {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// agentOptions are what a command adds to the identity.
type agentOptions struct {
	onMessage  func(*sipua.Message)
	onInvite   func(*sipua.Incoming)
	onCall     func(*sipua.Call)
	autoAnswer bool
	session    session.Options
	// register binds the AOR at --server (listen, chat waiting); others
	// only send through it as their outbound proxy.
	register bool
	// tap, if set, records SIP and media traffic (demo).
	tap  *transcript
	name string // the agent's name in a transcript
	peer string // the other agent's name in a transcript
}

// agent is a SIP user agent with its session transports.
type agent struct {
	ua    *sipua.UA
	media *switchMedia
	msrp  *msrp.Endpoint
	cpim  *cpimtransport.Endpoint
}

// newAgent starts a user agent: listeners, media endpoints and, with a
// server, registration.
func newAgent(ctx context.Context, id *identity, o agentOptions) (*agent, error) {
	if err := id.check(); err != nil {
		return nil, err
	}
	host, err := id.host()
	if err != nil {
		return nil, err
	}
	var tlsConf *tls.Config
	if id.transport == sipua.TLS || id.insecure || id.caFile != "" {
		if tlsConf, err = id.tlsConfig(); err != nil {
			return nil, err
		}
	}
	a := &agent{media: &switchMedia{}}
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if o.tap != nil {
		dial = o.tap.dialer(o.name, o.peer)
	}
	mediaAddr := net.JoinHostPort(host, "0")
	if lh, _, _ := net.SplitHostPort(id.listen); id.contactHost != "" {
		mediaAddr = net.JoinHostPort(lh, "0")
	}
	if id.media == "msrp" || id.media == "both" {
		mc := msrp.Config{Host: host, Dial: dial}
		if id.transport == sipua.TLS {
			mc.TLS = tlsConf
			mc.Certificate = &tlsConf.Certificates[0]
		}
		ep, err := msrp.NewEndpoint(mc)
		if err != nil {
			return nil, fmt.Errorf("MSRP endpoint: %w", err)
		}
		if _, err := ep.Listen(ctx, "tcp", mediaAddr); err != nil {
			ep.Close()
			return nil, fmt.Errorf("MSRP listener on %s: %w", mediaAddr, err)
		}
		if id.transport == sipua.TLS {
			if _, err := ep.ListenTLS(ctx, "tcp", mediaAddr); err != nil {
				ep.Close()
				return nil, fmt.Errorf("MSRPS listener on %s: %w", mediaAddr, err)
			}
		}
		a.msrp = ep
		a.media.all = append(a.media.all, ep)
	}
	if id.media == "cpim" || id.media == "both" {
		cc := cpimtransport.Config{Host: host, Dial: dial}
		if id.transport == sipua.TLS {
			// SIP over TLS: offer cpim/tls first (and answer it).
			cc.TLS = tlsConf
			cc.PreferTLS = true
		}
		ep, err := cpimtransport.NewEndpoint(cc)
		if err != nil {
			a.closeMedia()
			return nil, fmt.Errorf("CPIM transport endpoint: %w", err)
		}
		if _, err := ep.Listen("tcp", mediaAddr); err != nil {
			ep.Close()
			a.closeMedia()
			return nil, fmt.Errorf("cpim/tcp listener on %s: %w", mediaAddr, err)
		}
		a.cpim = ep
		a.media.all = append(a.media.all, ep)
	}
	a.media.offer = a.media.all

	cfg := sipua.Config{
		AOR:            id.as,
		Password:       id.password,
		ContactHost:    id.contactHost,
		TLS:            tlsConf,
		UserAgent:      "parley",
		Media:          a.media,
		SessionOptions: o.session,
		OnInvite:       o.onInvite,
		OnCall:         o.onCall,
		AutoAnswer:     o.autoAnswer,
		OnMessage:      o.onMessage,
		AcceptTypes:    []string{"text/*", "message/cpim", "application/*", "image/*"},
	}
	if o.tap != nil {
		cfg.Trace = o.tap.sipTrace(o.name, o.peer)
	}
	if id.server != "" {
		cfg.Registrar = id.server
		cfg.OutboundProxy = id.server
	}
	if id.proxy != "" {
		cfg.OutboundProxy = id.proxy
	}
	ua, err := sipua.New(cfg)
	if err != nil {
		a.closeMedia()
		return nil, err
	}
	a.ua = ua
	if err := a.listen(id, tlsConf, o); err != nil {
		a.Close()
		return nil, err
	}
	if id.server != "" && o.register {
		if err := ua.Register(ctx); err != nil {
			a.Close()
			return nil, explain(err, id, id.server)
		}
	}
	return a, nil
}

// listen opens the SIP listener for id.transport and hands it to the UA.
func (a *agent) listen(id *identity, tlsConf *tls.Config, o agentOptions) error {
	addr := id.listen
	switch id.transport {
	case sipua.UDP:
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return listenErr(addr, err)
		}
		return a.ua.ServeUDP(pc)
	case sipua.TCP, sipua.TLS:
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return listenErr(addr, err)
		}
		if id.transport == sipua.TLS {
			return a.ua.ServeTLS(tls.NewListener(l, tlsConf))
		}
		return a.ua.ServeTCP(l)
	}
	return usageErr("--transport %q: want udp, tcp or tls", id.transport)
}

func listenErr(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s: the port is in use (another parley listen?): choose another with --listen or PARLEY_LISTEN", addr)
	}
	return fmt.Errorf("cannot listen on %s: %w (check --listen)", addr, err)
}

// uri is the address that reaches this agent directly (peer-to-peer).
func (a *agent) uri(id *identity) string { return a.ua.URI(id.transport) }

// Close hangs up, unregisters, and closes the transports.
func (a *agent) Close() {
	if a.ua != nil {
		a.ua.Close()
	}
	a.closeMedia()
}

func (a *agent) closeMedia() {
	if a.msrp != nil {
		a.msrp.Close()
	}
	if a.cpim != nil {
		a.cpim.Close()
	}
}

// switchMedia is the UA's session layer (sipua.Media): it offers the
// endpoints in offer (settable between calls, so the demo can offer one
// transport per round) and answers with all of them.
type switchMedia struct {
	mu    sync.Mutex
	offer []session.Endpoint
	all   []session.Endpoint
}

func (m *switchMedia) setOffer(eps ...session.Endpoint) {
	m.mu.Lock()
	m.offer = eps
	m.mu.Unlock()
}

func (m *switchMedia) Offer(ctx context.Context, opts session.Options) (sipua.MediaOffer, error) {
	m.mu.Lock()
	eps := m.offer
	m.mu.Unlock()
	mo, err := session.OfferAll(ctx, eps, opts)
	if err != nil {
		return nil, err
	}
	return mo, nil
}

func (m *switchMedia) Answer(ctx context.Context, offer []byte, opts session.Options) (sipua.MediaAnswer, error) {
	ma, err := session.AnswerOffer(ctx, m.all, offer, opts, nil)
	if err != nil {
		return nil, err
	}
	return ma, nil
}
