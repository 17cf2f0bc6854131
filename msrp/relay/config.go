package relay

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"
)

// Default values of the Config fields (their zero values mean these).
const (
	DefaultMinExpires         = 60 * time.Second   // Kamailio's and msrprelay's floor
	DefaultMaxExpires         = 3600 * time.Second // RFC 4976 examples, msrprelay's cap
	DefaultTransactionTimeout = 30 * time.Second   // RFC 4975 §7.1; draft-10 §6.4.1 says 32 s
	DefaultProbationTimeout   = 30 * time.Second   // RFC 4976 §6.1
	DefaultIdleTimeout        = time.Hour          // RFC 4976 §6.5
	DefaultWriteTimeout       = 60 * time.Second
	DefaultDialTimeout        = 10 * time.Second
	DefaultNonceLifetime      = 5 * time.Minute
	DefaultMaxAuthFailures    = 3
	DefaultMaxFailures        = 10
	DefaultMaxConnsPerAddr    = 64
	DefaultMaxSessionsPerConn = 128
	DefaultIdleRelease        = 10 * time.Second
	DefaultObserveMaxBody     = 64 << 10
	DefaultObserveMaxPending  = 16
	DefaultObserveMaxHeld     = 16 << 20
	DefaultObserveTimeout     = 2 * time.Minute
)

// Config configures a Server. The zero value of each field means its
// documented default; only Host and Authenticator need to be set.
type Config struct {
	// Host is the relay's name as it appears in its URIs: the To-Path of
	// AUTH requests and the Use-Path it hands out. RFC 4976 §4.2 wants an
	// FQDN; an IP address works on test networks. Required.
	Host string
	// Port is the port advertised in Use-Path. Zero means the port of the
	// first listener served.
	Port int
	// Realm is the digest realm (RFC 4976 §5.1); default Host.
	Realm string

	// Authenticator checks AUTH credentials (RFC 4976 §6.3). Required.
	Authenticator Authenticator
	// Algorithms are the digest algorithms challenged, one
	// WWW-Authenticate header each, in order: "SHA-256" and "MD5" by
	// default.
	Algorithms []string

	// TLS, when set, makes Serve and ListenAndServe accept TLS (msrps,
	// RFC 4976 §9.2); the Use-Path then has the msrps scheme. Client
	// certificates are requested but neither required nor required to
	// verify (§6.1; ClientAuth NoClientCert and VerifyClientCertIfGiven
	// become RequestClientCert): a client without one, or with one that
	// does not verify against ClientCAs (the system roots when nil) for
	// client authentication, such as an endpoint's self-signed
	// certificate (RFC 4975 §14.4, a=fingerprint), is an endpoint and
	// gets digest; a verified one is a relay (relay-to-relay, §6.3).
	TLS *tls.Config
	// ClientTLS configures connections this relay opens to msrps next
	// hops, with its own certificate for mutual TLS between relays. Nil
	// means a config with the system roots and no certificate. ServerName
	// is set per connection.
	ClientTLS *tls.Config
	// AllowInsecure accepts AUTH over plain TCP from any address. Without
	// it AUTH needs TLS except from loopback addresses (RFC 4976 §5.1).
	AllowInsecure bool

	// MinExpires and MaxExpires bound the Expires of an AUTH (423 outside,
	// RFC 4976 §6.3); defaults 60 s and 3600 s. An AUTH without Expires
	// gets MaxExpires.
	MinExpires, MaxExpires time.Duration
	// NonceLifetime is how long a digest nonce is accepted (default 5 min);
	// an older one gets 401 with stale=true.
	NonceLifetime time.Duration

	// TransactionTimeout is how long the relay waits for the next hop's
	// response to a forwarded request, counted from the last byte sent
	// (RFC 4976 §6.4.1); then a 408 REPORT (SEND) or 408 response (other
	// methods) goes back. Default 30 s.
	TransactionTimeout time.Duration
	// ProbationTimeout closes a new connection that has made no
	// successful request within it (RFC 4976 §6.1). Default 30 s.
	ProbationTimeout time.Duration
	// IdleTimeout closes a connection that has read nothing for this long
	// (RFC 4976 §6.5). Default 1 h.
	IdleTimeout time.Duration
	// WriteTimeout closes a connection whose peer accepts no data while
	// the relay has frames for it, after between half of it and all of it
	// (the socket deadline is re-armed lazily). Default 60 s.
	WriteTimeout time.Duration
	// DialTimeout bounds connecting to a next hop. Default 10 s.
	DialTimeout time.Duration
	// IdleRelease is how long a connection must be quiet before its read
	// buffer is given back (an idle session then costs a few KiB). Default
	// 10 s; negative disables the release.
	IdleRelease time.Duration

	// MaxAuthFailures closes a client connection after this many AUTH
	// requests with wrong credentials (RFC 4976 §6.3). Default 3.
	MaxAuthFailures int
	// MaxFailures closes a connection that has made this many failed
	// requests and no successful one (RFC 4976 §6.1). Default 10.
	MaxFailures int
	// MaxConnsPerAddr bounds the connections accepted from one IP
	// address. Default 64; negative means no bound.
	MaxConnsPerAddr int
	// MaxSessionsPerConn bounds the Use-Path URIs live on one connection;
	// an AUTH beyond it gets 403. Default 128.
	MaxSessionsPerConn int
	// MaxChunkSize bounds the body of one SEND (413 beyond). Zero means no
	// bound: bodies are cut through and never buffered whole.
	MaxChunkSize int64

	// OnMessage, if set, is called once for every message (SEND, in one
	// or more chunks) the relay forwards or delivers internally, when the
	// chunk ending it has been read (see MessageEvent). It runs on the
	// connection's read path: it must not block (copy what you keep; hand
	// work to another goroutine). Nil costs nothing: no chunk is tracked.
	OnMessage func(MessageEvent)
	// ObserveMaxBody bounds MessageEvent.Body; default 64 KiB; negative:
	// never copy bodies. The bodies of chunked messages are assembled up
	// to it while their chunks come in (cut-through forwarding does not
	// change: the copy is taken on the side).
	ObserveMaxBody int
	// ObserveMaxPending bounds the chunked messages one connection has
	// in assembly; a new one beyond it evicts the oldest (not reported).
	// Default 16.
	ObserveMaxPending int
	// ObserveMaxHeld bounds the body octets held for OnMessage by all
	// connections together; a message that would go beyond it is
	// reported without Body. Default 16 MiB.
	ObserveMaxHeld int64
	// ObserveTimeout: a message in assembly no chunk of which came for
	// this long is forgotten (not reported). Default 2 minutes.
	ObserveTimeout time.Duration

	// Dial opens connections to next hops; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives connection-level events; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. (Nonces and
	// Expires use it; socket deadlines use the real clock.)
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Realm == "" {
		c.Realm = c.Host
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"SHA-256", "MD5"}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.MinExpires, DefaultMinExpires)
	def(&c.MaxExpires, DefaultMaxExpires)
	def(&c.NonceLifetime, DefaultNonceLifetime)
	def(&c.TransactionTimeout, DefaultTransactionTimeout)
	def(&c.ProbationTimeout, DefaultProbationTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.DialTimeout, DefaultDialTimeout)
	def(&c.IdleRelease, DefaultIdleRelease)
	defi := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	defi(&c.MaxAuthFailures, DefaultMaxAuthFailures)
	defi(&c.MaxFailures, DefaultMaxFailures)
	defi(&c.MaxConnsPerAddr, DefaultMaxConnsPerAddr)
	defi(&c.MaxSessionsPerConn, DefaultMaxSessionsPerConn)
	defi(&c.ObserveMaxBody, DefaultObserveMaxBody)
	defi(&c.ObserveMaxPending, DefaultObserveMaxPending)
	if c.ObserveMaxHeld == 0 {
		c.ObserveMaxHeld = DefaultObserveMaxHeld
	}
	def(&c.ObserveTimeout, DefaultObserveTimeout)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
