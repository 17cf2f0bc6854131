package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/internal/sipserver"
	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/msrp/relay"
)

// Listen is one SIP listener: transport "udp", "tcp" or "tls" and a
// host:port (port 0 picks a free port).
type Listen struct {
	Transport string `json:"transport"`
	Addr      string `json:"addr"`
}

// ParseListen parses "udp:127.0.0.1:5060,tcp:127.0.0.1:5060".
func ParseListen(s string) ([]Listen, error) {
	var out []Listen
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		tr, addr, ok := strings.Cut(part, ":")
		tr = strings.ToLower(tr)
		if !ok || (tr != "udp" && tr != "tcp" && tr != "tls") {
			return nil, fmt.Errorf("listener %q: want transport:host:port with transport udp, tcp or tls", part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("listener %q: %w", part, err)
		}
		out = append(out, Listen{Transport: tr, Addr: addr})
	}
	if len(out) == 0 {
		return nil, errors.New("no SIP listener given")
	}
	return out, nil
}

// Config configures a Server. Zero values are the documented defaults.
type Config struct {
	// SIP listeners; default UDP and TCP on 127.0.0.1:5060.
	SIP []Listen
	// TLSCert and TLSKey are PEM files for tls: listeners. Without them a
	// self-signed development certificate is made in DataDir on first use.
	TLSCert, TLSKey string
	// DataDir holds parley.db (SQLite) and the development certificate;
	// default store.DefaultDataDir().
	DataDir string
	// DSN selects the store: "postgres://…" for several nodes, a SQLite
	// path or "file:…"; default DataDir/parley.db.
	DSN string
	// Domains served; default "localhost" and the SIP listeners' IPs.
	Domains []string
	// MSRPRelay is the TCP address of the RFC 4976 MSRP relay; "" or
	// "off" disables it. The relay refuses AUTH over plain TCP except
	// from loopback addresses (RFC 4976 §5.1, §9.2): clients on other
	// hosts need MSRPRelayTLS.
	MSRPRelay string
	// MSRPRelayTLS is the TCP address of the relay's msrps (TLS)
	// listener, whose Use-Path URIs have the msrps scheme; "" or "off"
	// disables it. It presents TLSCert/TLSKey or the development
	// certificate, which must name Host (or the listener's IP) as a
	// dNSName or IP SAN (RFC 4976 §9.2). Its certificate is also its
	// client certificate toward msrps next hops, so two nodes whose
	// certificates are trusted (TLSCA) authenticate each other as relays
	// by mutual TLS (RFC 4976 §6.3). It is a relay of its own beside
	// MSRPRelay: a session between a client of each goes relay to relay.
	MSRPRelayTLS string
	// TLSCA is a PEM file of CA certificates trusted besides the system
	// roots: for peer relays' client certificates and msrps next hops,
	// and for the proxy's sips: connections. With the development
	// certificate, that certificate is trusted as well.
	TLSCA string
	// CPIMRelay is the TCP address of the CPIM transport session relay
	// (seed draft §7); "" disables it.
	CPIMRelay string
	// HTTP is the address of /healthz and /metrics; "" or "off" disables.
	HTTP string
	// Host is the address clients reach this server at (Via,
	// Record-Route, the MSRP relay's URI); default the listeners' IPs. It
	// is required with wildcard listeners.
	Host string
	// Node and ClusterSecret: see sipserver.Config. With PostgreSQL the
	// secret defaults to one derived from the DSN, which every node
	// shares.
	Node, ClusterSecret string
	// History records pager messages, and the session messages the MSRP
	// relays and the CPIM relay forward (see the package doc, History, and
	// history.go: bodies up to 64 KiB, larger messages by size only);
	// HistoryOptOut lists AORs that are not recorded.
	History       bool
	HistoryOptOut []string
	// Algorithms are the digest algorithms challenged, preferred first;
	// default SHA-256 then MD5 (RFC 8760). Clients that read only the
	// first challenge and know only MD5 (sipp) need MD5 first.
	Algorithms []store.Algorithm
	// MinExpires and MaxExpires bound registrations.
	MinExpires, MaxExpires time.Duration
	// SIPIdleTimeout and SIPMaxConnsPerIP limit SIP TCP/TLS connections:
	// see sipserver.Config IdleTimeout and MaxConnsPerIP.
	SIPIdleTimeout   time.Duration
	SIPMaxConnsPerIP int
	// SIPMaxAuthFailures and SIPAuthFailureInterval throttle failed
	// digest authentications per source IP and per AOR (503 with
	// Retry-After beyond them): see sipserver.Config MaxAuthFailures and
	// AuthFailureInterval. Zero is the default (10, 30 s); a negative
	// SIPMaxAuthFailures disables the throttle.
	SIPMaxAuthFailures     int
	SIPAuthFailureInterval time.Duration
	// SIPCacheTTL is how long the proxy keeps the store's bindings,
	// account existence and HA1s in memory: see sipserver.Config
	// CacheTTL. Zero is the default (1 s), negative disables. Account and
	// password changes made with `parley user` take up to this long to
	// be seen by the running server.
	SIPCacheTTL time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Addrs are the bound addresses of a running server.
type Addrs struct {
	SIP          []Listen
	MSRPRelay    string
	MSRPRelayTLS string
	CPIMRelay    string
	HTTP         string
}

// Server is `parley serve`: registrar, proxy, store-and-forward, MSRP
// relay, CPIM session relay, health and metrics, over one store.
type Server struct {
	cfg   Config
	log   *slog.Logger
	st    store.Store
	sip   *sipserver.Server
	msrp  *relay.Server // plain TCP relay (MSRPRelay)
	msrps *relay.Server // TLS relay (MSRPRelayTLS)
	tls   *tls.Config   // loaded once, for tls: listeners and msrps
	hist  *sessionHistory
	cpim  *cpimtransport.Relay
	http  *http.Server
	addrs Addrs
	start time.Time

	wg      sync.WaitGroup
	mu      sync.Mutex
	closing bool
}

// New opens the store, binds every listener and starts serving. The
// bound addresses are in Addrs. Shutdown stops it.
func New(ctx context.Context, cfg Config) (s *Server, err error) {
	s = &Server{cfg: cfg, log: cfg.Logger, start: time.Now()}
	if s.log == nil {
		s.log = slog.Default()
	}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	if len(cfg.SIP) == 0 {
		cfg.SIP = []Listen{{"udp", "127.0.0.1:5060"}, {"tcp", "127.0.0.1:5060"}}
	}
	if cfg.DataDir == "" {
		if cfg.DataDir, err = store.DefaultDataDir(); err != nil {
			return nil, err
		}
	}
	if cfg.DSN == "" {
		cfg.DSN = "file:" + filepath.Join(cfg.DataDir, "parley.db")
	}
	postgres := strings.HasPrefix(cfg.DSN, "postgres://") || strings.HasPrefix(cfg.DSN, "postgresql://")
	if cfg.ClusterSecret == "" && postgres {
		cfg.ClusterSecret = "dsn:" + cfg.DSN
	}
	if len(cfg.Domains) == 0 {
		cfg.Domains = defaultDomains(cfg.SIP)
	}
	s.cfg = cfg

	s.st, err = store.Open(ctx, cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.log.Info("store open", "backend", s.st.Backend(), "dsn", redact(cfg.DSN))

	opt := map[string]bool{}
	for _, a := range cfg.HistoryOptOut {
		opt[a] = true
	}
	relayTLS := cfg.MSRPRelayTLS != "" && cfg.MSRPRelayTLS != "off"
	cpimRelay := cfg.CPIMRelay != "" && cfg.CPIMRelay != "off"
	if cfg.History && (relayTLS || cpimRelay || cfg.MSRPRelay != "" && cfg.MSRPRelay != "off") {
		s.hist = newSessionHistory(s.st, cfg.Domains[0], func(aor string) bool { return opt[aor] }, s.log.With("component", "history"))
		s.hist.domains = nil
		for _, d := range cfg.Domains {
			s.hist.domains = append(s.hist.domains, strings.ToLower(d))
		}
	}

	if cpimRelay {
		rc := cpimtransport.RelayConfig{Logger: s.log.With("component", "cpim-relay")}
		if s.hist != nil {
			rc.OnMessage = s.hist.observeCPIM
		}
		s.cpim, err = cpimtransport.NewRelay(rc)
		if err != nil {
			return nil, err
		}
		l, err := s.cpim.Listen("tcp", cfg.CPIMRelay)
		if err != nil {
			return nil, fmt.Errorf("CPIM relay: %w", err)
		}
		s.addrs.CPIMRelay = l.Addr().String()
	}

	var tlsConf *tls.Config
	for _, l := range cfg.SIP {
		if l.Transport == "tls" || relayTLS {
			if tlsConf, err = s.loadTLS(); err != nil {
				return nil, err
			}
			break
		}
	}
	s.sip, err = sipserver.New(sipConfig(cfg, s.st, opt, s.cpim, tlsConf, s.log.With("component", "sip")))
	if err != nil {
		return nil, err
	}
	for _, l := range cfg.SIP {
		switch l.Transport {
		case "udp":
			pc, err := net.ListenPacket("udp", l.Addr)
			if err != nil {
				return nil, fmt.Errorf("SIP udp %s: %w", l.Addr, err)
			}
			s.addrs.SIP = append(s.addrs.SIP, Listen{"udp", pc.LocalAddr().String()})
			if err := s.sip.ServeUDP(pc); err != nil {
				return nil, err
			}
		case "tcp", "tls":
			ln, err := net.Listen("tcp", l.Addr)
			if err != nil {
				return nil, fmt.Errorf("SIP %s %s: %w", l.Transport, l.Addr, err)
			}
			s.addrs.SIP = append(s.addrs.SIP, Listen{l.Transport, ln.Addr().String()})
			if l.Transport == "tls" {
				err = s.sip.ServeTLS(tls.NewListener(ln, tlsConf))
			} else {
				err = s.sip.ServeTCP(ln)
			}
			if err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown SIP transport %q", l.Transport)
		}
	}

	if cfg.MSRPRelay != "" && cfg.MSRPRelay != "off" {
		if s.msrp, s.addrs.MSRPRelay, err = s.startRelay(cfg.MSRPRelay, nil); err != nil {
			return nil, err
		}
	}
	if relayTLS {
		if s.msrps, s.addrs.MSRPRelayTLS, err = s.startRelay(cfg.MSRPRelayTLS, tlsConf); err != nil {
			return nil, err
		}
	}

	if cfg.HTTP != "" && cfg.HTTP != "off" {
		ln, err := net.Listen("tcp", cfg.HTTP)
		if err != nil {
			return nil, fmt.Errorf("HTTP %s: %w", cfg.HTTP, err)
		}
		s.addrs.HTTP = ln.Addr().String()
		s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
		s.wg.Go(func() {
			if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("HTTP stopped", "err", err)
			}
		})
	}
	if err := s.sip.Start(ctx); err != nil {
		return nil, err
	}
	s.log.Info("parley serve ready", "sip", s.addrs.SIP, "domains", cfg.Domains, "node", s.sip.Node(),
		"msrp_relay", s.addrs.MSRPRelay, "msrps_relay", s.addrs.MSRPRelayTLS, "cpim_relay", s.addrs.CPIMRelay, "http", s.addrs.HTTP)
	return s, nil
}

// startRelay binds addr and serves an RFC 4976 relay on it, over TLS
// (msrps) when tc is set. It returns the relay and the bound address.
func (s *Server) startRelay(addr string, tc *tls.Config) (*relay.Server, string, error) {
	name := "MSRP relay"
	if tc != nil {
		name = "MSRP relay (TLS)"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: %w", name, addr, err)
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = s.cfg.Host
		if host == "" {
			ln.Close()
			return nil, "", fmt.Errorf("%s on a wildcard address needs Config.Host (--host)", name)
		}
	}
	rc := relay.Config{
		Host:          host,
		Realm:         s.cfg.Domains[0],
		Authenticator: storeAuth{st: s.st, domain: s.cfg.Domains[0]},
		Logger:        s.log.With("component", "msrp-relay", "tls", tc != nil),
	}
	if s.hist != nil {
		rc.OnMessage = s.hist.observe
	}
	if tc != nil {
		// RFC 4976 §9.2: the relay's certificate names its host.
		if leaf, err := x509.ParseCertificate(tc.Certificates[0].Certificate[0]); err == nil {
			if err := leaf.VerifyHostname(host); err != nil {
				s.log.Warn("the TLS certificate does not name the MSRP relay's host: clients will refuse it", "host", host, "err", err)
			}
		}
		// Server side: client certificates of peer relays are verified
		// against the trusted roots (§6.3); endpoints present none.
		rc.TLS = &tls.Config{Certificates: tc.Certificates, ClientCAs: tc.RootCAs, MinVersion: tls.VersionTLS12}
		// Client side toward msrps next hops: the same certificate, for
		// mutual TLS between relays.
		rc.ClientTLS = &tls.Config{Certificates: tc.Certificates, RootCAs: tc.RootCAs, MinVersion: tls.VersionTLS12}
	} else if s.tls != nil {
		// A plain relay still dials msrps next hops (the TLS relay of
		// this or another node): trust the same roots.
		rc.ClientTLS = &tls.Config{Certificates: s.tls.Certificates, RootCAs: s.tls.RootCAs, MinVersion: tls.VersionTLS12}
	}
	r, err := relay.New(rc)
	if err != nil {
		ln.Close()
		return nil, "", err
	}
	s.wg.Go(func() {
		if err := r.Serve(ln); err != nil && !errors.Is(err, relay.ErrServerClosed) {
			s.log.Error(name+" stopped", "err", err)
		}
	})
	return r, ln.Addr().String(), nil
}

// relays returns the running MSRP relays.
func (s *Server) relays() []*relay.Server {
	var out []*relay.Server
	for _, r := range []*relay.Server{s.msrp, s.msrps} {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// Addrs returns the bound addresses.
func (s *Server) Addrs() Addrs { return s.addrs }

// Store returns the server's store.
func (s *Server) Store() store.Store { return s.st }

// SIP returns the registrar/proxy.
func (s *Server) SIP() *sipserver.Server { return s.sip }

// HistoryStats returns the session-message history counters (zero
// without History or relays).
func (s *Server) HistoryStats() HistoryStats {
	if s.hist == nil {
		return HistoryStats{}
	}
	return s.hist.Stats()
}

// Domains returns the domains served.
func (s *Server) Domains() []string { return s.cfg.Domains }

// Shutdown stops accepting work and drains requests and deliveries in
// progress until ctx ends, then closes everything.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.mu.Unlock()
	var errs []error
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			s.http.Close()
		}
	}
	if s.sip != nil {
		if err := s.sip.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range s.relays() {
		if err := r.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, err)
		}
	}
	if s.cpim != nil {
		s.cpim.Close()
	}
	if s.hist != nil {
		s.hist.close(ctx) // after the relays: nothing more comes in
	}
	s.wg.Wait()
	if s.st != nil {
		if err := s.st.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// closeAll undoes a partial New.
func (s *Server) closeAll() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.sip == nil && s.st != nil {
		defer s.st.Close()
		s.st = nil
	}
	s.Shutdown(ctx)
}

func defaultDomains(ls []Listen) []string {
	out := []string{"localhost"}
	seen := map[string]bool{"localhost": true}
	for _, l := range ls {
		h, _, _ := net.SplitHostPort(l.Addr)
		if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if c := strings.Index(dsn[i+3:at], ":"); c >= 0 {
				return dsn[:i+3+c] + ":xxxxx" + dsn[at:]
			}
		}
	}
	return dsn
}

// storeAuth lets the MSRP relay check AUTH against the accounts (RFC 4976
// §6.3): same users, same HA1s as SIP.
type storeAuth struct {
	st     store.Store
	domain string
}

func (a storeAuth) Lookup(ctx context.Context, user, realm, algorithm string) (string, bool, error) {
	alg, err := store.Algorithm(algorithm).Canonical()
	if err != nil {
		return "", false, nil
	}
	c, err := a.st.Credential(ctx, a.domain, user, realm, alg)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return c.HA1, true, nil
}

// sipConfig is the configuration of the SIP registrar and proxy for cfg
// (with New's defaults applied); optOut is cfg.HistoryOptOut as a set.
func sipConfig(cfg Config, st store.Store, optOut map[string]bool, cpim *cpimtransport.Relay, tlsConf *tls.Config, log *slog.Logger) sipserver.Config {
	return sipserver.Config{
		Store:               st,
		Domains:             cfg.Domains,
		Host:                cfg.Host,
		Node:                cfg.Node,
		ClusterSecret:       cfg.ClusterSecret,
		Algorithms:          cfg.Algorithms,
		MinExpires:          cfg.MinExpires,
		MaxExpires:          cfg.MaxExpires,
		IdleTimeout:         cfg.SIPIdleTimeout,
		MaxConnsPerIP:       cfg.SIPMaxConnsPerIP,
		MaxAuthFailures:     cfg.SIPMaxAuthFailures,
		AuthFailureInterval: cfg.SIPAuthFailureInterval,
		CacheTTL:            cfg.SIPCacheTTL,
		History:             cfg.History,
		HistoryOptOut:       func(aor string) bool { return optOut[aor] },
		CPIMRelay:           cpim,
		TLS:                 tlsConf,
		Logger:              log,
	}
}
