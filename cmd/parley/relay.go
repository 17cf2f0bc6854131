package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/parley-im/parley/msrp/relay"
)

func init() {
	commands["relay"] = command{summary: "run a standalone MSRP relay (RFC 4976): AUTH, Use-Path, forwarding", run: runRelay}
}

const relayExamples = `  # a development relay on loopback, plain TCP, one user
  printf 'alice:secret\n' > users.txt
  parley relay --listen 127.0.0.1:2855 --host 127.0.0.1 --users users.txt --allow-insecure

  # a public relay over TLS
  parley relay --listen :2855 --host relay.example.com --tls-cert cert.pem --tls-key key.pem --users /etc/parley/relay-users`

func runRelay(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "relay", "[flags]",
		"Runs an MSRP relay (RFC 4976). Clients AUTH with a digest username and password\n"+
			"and get a Use-Path URL that routes their sessions through the relay. AUTH is only\n"+
			"accepted over TLS, or over plain TCP on loopback or with --allow-insecure.",
		relayExamples)
	listen := fs.String("listen", envOr(e, "PARLEY_RELAY_LISTEN", "127.0.0.1:2855"), "address to listen on (env PARLEY_RELAY_LISTEN)")
	host := fs.String("host", envOr(e, "PARLEY_RELAY_HOST", ""), "host name the relay puts in its URLs; defaults to the listen host (env PARLEY_RELAY_HOST)")
	port := fs.Int("port", 0, "port the relay puts in its URLs, if not the listening port (behind a port mapping)")
	realm := fs.String("realm", envOr(e, "PARLEY_RELAY_REALM", ""), "digest realm (default: the host)")
	users := fs.String("users", envOr(e, "PARLEY_RELAY_USERS", ""), "file of user:password lines (env PARLEY_RELAY_USERS); '#' starts a comment")
	certFile := fs.String("tls-cert", envOr(e, "PARLEY_TLS_CERT", ""), "TLS certificate (PEM) (env PARLEY_TLS_CERT)")
	keyFile := fs.String("tls-key", envOr(e, "PARLEY_TLS_KEY", ""), "TLS private key (PEM) (env PARLEY_TLS_KEY)")
	clientCA := fs.String("client-ca", "", "CA bundle (PEM) to verify other relays' client certificates (relay-to-relay mutual TLS)")
	insecure := fs.Bool("allow-insecure", false, "accept AUTH over plain TCP from any address, not only loopback (never on the internet)")
	minExp := fs.Duration("min-expires", relay.DefaultMinExpires, "shortest AUTH lifetime granted (423 below)")
	maxExp := fs.Duration("max-expires", relay.DefaultMaxExpires, "longest AUTH lifetime granted (423 above)")
	txTimeout := fs.Duration("transaction-timeout", relay.DefaultTransactionTimeout, "time to wait for the next hop's response before a 408 REPORT")
	probation := fs.Duration("probation-timeout", relay.DefaultProbationTimeout, "close new connections that send no successful request within this time")
	idle := fs.Duration("idle-timeout", relay.DefaultIdleTimeout, "close connections idle this long")
	maxConns := fs.Int("max-conns-per-addr", relay.DefaultMaxConnsPerAddr, "connections allowed from one IP address")
	maxSess := fs.Int("max-sessions-per-conn", relay.DefaultMaxSessionsPerConn, "AUTHed sessions allowed on one connection")
	maxAuthFail := fs.Int("max-auth-failures", relay.DefaultMaxAuthFailures, "failed AUTH attempts before the connection is closed")
	maxChunk := fs.Int64("max-chunk-size", 0, "largest chunk body forwarded, in octets (0: no limit)")
	quietFree := fs.Duration("free-memory-when-quiet", 15*time.Second, "when the relay has read nothing for this long after some traffic, return freed memory to the OS once (0: never)")
	metricsEvery := fs.Duration("metrics-interval", 0, "log the relay's counters and forward latency this often (0: only at shutdown)")
	logLevel := fs.String("log-level", envOr(e, "PARLEY_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env PARLEY_LOG_LEVEL)")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("relay takes no arguments (got %q); see 'parley relay --help'", fs.Args())}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel)}
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	if *host == "" {
		h, _, err := net.SplitHostPort(*listen)
		if err != nil || h == "" || h == "0.0.0.0" || h == "::" {
			return &exitError{code: 2, err: fmt.Errorf("--host is required when --listen (%q) names no specific host: give the name clients reach the relay by", *listen)}
		}
		*host = h
	}
	auth := relay.NewMemoryAuthenticator()
	n := 0
	if *users != "" {
		var err error
		if n, err = loadRelayUsers(auth, *users); err != nil {
			return err
		}
	}
	if n == 0 {
		log.Warn("no users configured: every AUTH will be refused; pass --users FILE with user:password lines")
	}
	cfg := relay.Config{
		Host: *host, Port: *port, Realm: *realm, Authenticator: auth,
		AllowInsecure: *insecure, MinExpires: *minExp, MaxExpires: *maxExp,
		TransactionTimeout: *txTimeout, ProbationTimeout: *probation, IdleTimeout: *idle,
		MaxConnsPerAddr: *maxConns, MaxSessionsPerConn: *maxSess, MaxAuthFailures: *maxAuthFail,
		MaxChunkSize: *maxChunk, Logger: log,
	}
	if (*certFile == "") != (*keyFile == "") {
		return &exitError{code: 2, err: errors.New("--tls-cert and --tls-key go together")}
	}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("loading the TLS certificate: %w (check --tls-cert and --tls-key)", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		cfg.ClientTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if *clientCA != "" {
			pem, err := os.ReadFile(*clientCA)
			if err != nil {
				return fmt.Errorf("reading --client-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("--client-ca %s holds no PEM certificate", *clientCA)
			}
			cfg.TLS.ClientCAs = pool
			cfg.ClientTLS.RootCAs = pool
		}
	}
	srv, err := relay.New(cfg)
	if err != nil {
		return fmt.Errorf("relay configuration: %w", err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is another relay running? pick another --listen)", *listen, err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	scheme := "msrp"
	if cfg.TLS != nil {
		scheme = "msrps"
	}
	fmt.Fprintf(e.stdout, "parley relay: listening on %s; clients AUTH to %s://%s:%d;tcp (%d users)\n",
		l.Addr(), scheme, *host, l.Addr().(*net.TCPAddr).Port, n)
	if *quietFree > 0 {
		stop := make(chan struct{})
		defer close(stop)
		go freeWhenQuiet(srv, *quietFree, stop, debug.FreeOSMemory)
	}
	var tick <-chan time.Time
	if *metricsEvery > 0 {
		t := time.NewTicker(*metricsEvery)
		defer t.Stop()
		tick = t.C
	}
wait:
	for {
		select {
		case err := <-done:
			return fmt.Errorf("relay stopped: %w", err)
		case <-tick:
			logRelayMetrics(log, "relay metrics", srv.Metrics())
		case <-ctx.Done():
			break wait
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-done
	logRelayMetrics(log, "relay metrics at shutdown", srv.Metrics())
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("relay shutdown: %w", err)
	}
	return nil
}

// freeWhenQuiet returns freed memory to the OS once each time the relay
// goes quiet after traffic. The relay gives back its connections' buffers
// as they go idle, but an idle process allocates nothing, so no GC runs
// and the runtime keeps the pages: after a burst of AUTHs (10,000
// sessions) that is about 4 KB per idle session of resident memory the
// heap no longer uses.
func freeWhenQuiet(srv *relay.Server, every time.Duration, stop <-chan struct{}, free func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	last, busy := srv.Metrics().BytesIn, false
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		n := srv.Metrics().BytesIn
		switch {
		case n != last:
			busy = true
		case busy:
			busy = false
			free()
		}
		last = n
	}
}

// logRelayMetrics logs a snapshot of the relay's counters.
func logRelayMetrics(log *slog.Logger, msg string, m relay.Metrics) {
	h := m.ForwardLatency
	log.Info(msg, "connections", m.Connections, "connections_open", m.ConnectionsOpen,
		"sessions", m.Sessions, "sessions_live", m.SessionsLive, "auth_ok", m.AuthOK, "auth_failures", m.AuthFailures,
		"forwarded", m.Forwarded, "rejected", m.Rejected, "timeouts", m.Timeouts, "reports", m.Reports,
		"bytes_in", m.BytesIn, "bytes_out", m.BytesOut,
		"forward_latency_p50", h.Quantile(0.5), "forward_latency_p99", h.Quantile(0.99))
}

// loadRelayUsers reads user:password lines into auth and returns how many
// it added.
func loadRelayUsers(auth *relay.MemoryAuthenticator, path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading --users: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, line := 0, 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		user, pw, ok := strings.Cut(t, ":")
		if !ok || user == "" || pw == "" {
			return 0, fmt.Errorf("%s:%d: want user:password", path, line)
		}
		auth.Add(user, pw)
		n++
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading --users: %w", err)
	}
	return n, nil
}
