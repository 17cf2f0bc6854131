package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/internal/sipserver"
	"github.com/parley-im/parley/internal/store"
)

func init() {
	commands["serve"] = command{summary: "run the server: SIP registrar + proxy, store-and-forward, MSRP relay", run: runServe}
}

// storeFlags are the flags every command that opens the store shares.
type storeFlags struct {
	dataDir, dsn *string
}

func addStoreFlags(e *env, fs interface {
	String(name, value, usage string) *string
}) storeFlags {
	return storeFlags{
		dataDir: fs.String("data-dir", envOr(e, "PARLEY_DATA_DIR", ""), "directory of parley.db and the development certificate\n(env PARLEY_DATA_DIR; default $XDG_DATA_HOME/parley or ~/.local/share/parley)"),
		dsn:     fs.String("db", envOr(e, "PARLEY_DB", ""), "store DSN: a SQLite path, file:PATH, or postgres://… for several nodes\n(env PARLEY_DB; default DATA-DIR/parley.db)"),
	}
}

func (f storeFlags) resolve() (dataDir, dsn string, err error) {
	dataDir, dsn = *f.dataDir, *f.dsn
	if dataDir == "" {
		if dataDir, err = store.DefaultDataDir(); err != nil {
			return "", "", err
		}
	}
	if dsn == "" {
		dsn = "file:" + filepath.Join(dataDir, "parley.db")
	}
	return dataDir, dsn, nil
}

func (f storeFlags) open(ctx context.Context) (store.Store, error) {
	_, dsn, err := f.resolve()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

const serveExamples = `  parley serve
      UDP+TCP SIP on 127.0.0.1:5060, MSRP relay on 127.0.0.1:2855 (msrps on 2856,
      development certificate), /healthz and /metrics on 127.0.0.1:8080,
      SQLite in the data dir.
  parley user add alice --password secret && parley user add bob --password hunter2
  parley send --as sip:alice@localhost --password secret --server 127.0.0.1:5060 sip:bob@localhost "hi"
  parley serve --sip udp:0.0.0.0:5060,tcp:0.0.0.0:5060,tls:0.0.0.0:5061 --host sip.example.com \
      --domain example.com --tls-cert /etc/parley/cert.pem --tls-key /etc/parley/key.pem --log-format json \
      --msrp-relay off --msrps-relay 0.0.0.0:2856   (msrps://sip.example.com:2856 for clients anywhere)
  PARLEY_DB=postgres://parley@db/parley parley serve --sip udp:10.0.0.1:5060,tcp:10.0.0.1:5060 --domain example.com
      (run the same on 10.0.0.2: the nodes share accounts, registrations and queues)
  parley serve --config /etc/parley/parley.toml`

// serveSetup is what the flags, the environment and the config file of
// `parley serve` amount to.
type serveSetup struct {
	cfg     server.Config
	log     *slog.Logger
	drain   time.Duration
	dataDir string // --data-dir as given, for the banner's how-to
}

// envDefaults reads typed flag defaults from the environment; a bad value
// is an error only if neither the command line nor the config file set
// the flag.
type envDefaults struct {
	e    *env
	errs map[string]error // by flag name
}

func (d *envDefaults) duration(flagName, envName string, def time.Duration) time.Duration {
	v := d.e.getenv(envName)
	if v == "" {
		return def
	}
	x, err := time.ParseDuration(v)
	if err != nil {
		d.errs[flagName] = fmt.Errorf("env %s=%q: not a duration (e.g. 500ms, 30s, 5m)", envName, v)
		return def
	}
	return x
}

func (d *envDefaults) int(flagName, envName string, def int) int {
	v := d.e.getenv(envName)
	if v == "" {
		return def
	}
	x, err := strconv.Atoi(v)
	if err != nil {
		d.errs[flagName] = fmt.Errorf("env %s=%q: not an integer", envName, v)
		return def
	}
	return x
}

func runServe(ctx context.Context, e *env, args []string) error {
	setup, err := parseServe(e, args)
	if err != nil {
		return err
	}
	cfg, log := setup.cfg, setup.log
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	a := srv.Addrs()
	w := e.stdout
	fmt.Fprintf(w, "parley serve: listening\n")
	for _, l := range a.SIP {
		fmt.Fprintf(w, "  SIP %-4s     %s\n", l.Transport, l.Addr)
	}
	if a.MSRPRelay != "" {
		fmt.Fprintf(w, "  MSRP relay   msrp://%s;tcp  (AUTH from loopback only)\n", a.MSRPRelay)
	}
	if a.MSRPRelayTLS != "" {
		fmt.Fprintf(w, "  MSRP relay   msrps://%s;tcp  (TLS)\n", a.MSRPRelayTLS)
	}
	if a.CPIMRelay != "" {
		fmt.Fprintf(w, "  CPIM relay   %s\n", a.CPIMRelay)
	}
	if a.HTTP != "" {
		fmt.Fprintf(w, "  HTTP         http://%s/healthz  http://%s/metrics\n", a.HTTP, a.HTTP)
	}
	dom := srv.Domains()[0]
	fmt.Fprintf(w, "  domains      %s\n  store        %s\n", strings.Join(srv.Domains(), ", "), srv.Store().Backend())
	sipAddr := "sip:" + a.SIP[0].Addr
	for _, l := range a.SIP {
		if l.Transport == "tcp" {
			sipAddr = "sip:" + l.Addr // the client's default transport
			break
		}
	}
	fmt.Fprintf(w, "\nAdd users and connect (in another terminal):\n")
	fmt.Fprintf(w, "  parley user add alice --domain %s --password secret%s\n", dom, dataDirFlag(setup.dataDir))
	fmt.Fprintf(w, "  parley listen --as sip:alice@%s --password secret --server %s\n", dom, sipAddr)
	fmt.Fprintf(w, "  parley send --as sip:bob@%s --password ... --server %s sip:alice@%s hello\n", dom, sipAddr, dom)
	<-ctx.Done()
	log.Info("shutting down", "drain", setup.drain)
	sctx, cancel := context.WithTimeout(context.Background(), setup.drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// parseServe reads the flags, the environment and the config file of
// `parley serve` into a server configuration.
func parseServe(e *env, args []string) (*serveSetup, error) {
	fs := newFlagSet(e, "serve", "[flags]",
		"Run Parley's server: SIP registrar with digest authentication (RFC 3261 §10),\n"+
			"stateful proxy (§16) forking INVITEs to every device, store-and-forward of\n"+
			"pager messages for offline users (RFC 3428 §7, answered 202), the RFC 4976\n"+
			"MSRP relay and the CPIM transport session relay, health and Prometheus metrics.\n"+
			"Each flag can also be set by the environment variable shown.", serveExamples)
	sipL := fs.String("sip", envOr(e, "PARLEY_SIP", "udp:127.0.0.1:5060,tcp:127.0.0.1:5060"), "SIP listeners, transport:host:port, comma-separated; transports udp, tcp, tls\n(env PARLEY_SIP; port 0 picks a free port)")
	domains := fs.String("domain", envOr(e, "PARLEY_DOMAIN", ""), "SIP domains served, comma-separated (env PARLEY_DOMAIN; default localhost and the listeners' IPs)")
	tlsCert := fs.String("tls-cert", envOr(e, "PARLEY_TLS_CERT", ""), "PEM certificate for tls: listeners and --msrps-relay (env PARLEY_TLS_CERT; default a\nself-signed development certificate made in the data dir)")
	tlsKey := fs.String("tls-key", envOr(e, "PARLEY_TLS_KEY", ""), "PEM key for --tls-cert (env PARLEY_TLS_KEY)")
	msrpRelay := fs.String("msrp-relay", envOr(e, "PARLEY_MSRP_RELAY", "127.0.0.1:2855"), "RFC 4976 MSRP relay address (plain TCP), or off (env PARLEY_MSRP_RELAY);\nit accepts AUTH from loopback addresses only: other hosts use --msrps-relay")
	msrpsRelay := fs.String("msrps-relay", envOr(e, "PARLEY_MSRPS_RELAY", "127.0.0.1:2856"), "MSRP relay address over TLS (msrps, RFC 4976 §9.2), or off (env PARLEY_MSRPS_RELAY);\nAUTH from any host; it presents --tls-cert (which must name --host) or the\ndevelopment certificate, also as its client certificate toward peer relays")
	tlsCA := fs.String("tls-ca", envOr(e, "PARLEY_TLS_CA", ""), "PEM file of CA certificates trusted besides the system roots, for peer MSRP relays\n(mutual TLS between nodes) and sips: next hops (env PARLEY_TLS_CA)")
	cpimRelay := fs.String("cpim-relay", envOr(e, "PARLEY_CPIM_RELAY", "off"), "CPIM transport session relay address, or off (env PARLEY_CPIM_RELAY)")
	httpAddr := fs.String("http", envOr(e, "PARLEY_HTTP", "127.0.0.1:8080"), "address of /healthz and /metrics, or off (env PARLEY_HTTP)")
	host := fs.String("host", envOr(e, "PARLEY_HOST", ""), "address clients reach this server at, written in Via, Record-Route and the relay's\nUse-Path (env PARLEY_HOST; required when listening on 0.0.0.0 or ::)")
	node := fs.String("node", envOr(e, "PARLEY_NODE", ""), "this node's SIP URI for other nodes sharing a PostgreSQL store\n(env PARLEY_NODE; default the first TCP listener)")
	secret := fs.String("cluster-secret", envOr(e, "PARLEY_CLUSTER_SECRET", ""), "secret shared by the nodes of a cluster (env PARLEY_CLUSTER_SECRET;\ndefault derived from the PostgreSQL DSN)")
	history := fs.Bool("history", envOr(e, "PARLEY_HISTORY", "true") == "true", "record pager messages, and session messages through the MSRP relay, in the users'\nhistory (env PARLEY_HISTORY=true|false)")
	optOut := fs.String("history-opt-out", envOr(e, "PARLEY_HISTORY_OPT_OUT", ""), "AORs whose messages are never recorded, comma-separated (env PARLEY_HISTORY_OPT_OUT)")
	digestAlgs := fs.String("digest", envOr(e, "PARLEY_DIGEST", "SHA-256,MD5"), "digest algorithms challenged, preferred first (env PARLEY_DIGEST); put MD5 first\nfor clients that only read the first challenge (sipp, old phones)")
	minExp := fs.Duration("min-expires", 60*time.Second, "shortest registration accepted (423 below)")
	maxExp := fs.Duration("max-expires", 2*time.Hour, "longest registration granted")
	ed := &envDefaults{e: e, errs: map[string]error{}}
	idle := fs.Duration("sip-idle-timeout", ed.duration("sip-idle-timeout", "PARLEY_SIP_IDLE_TIMEOUT", sipserver.DefaultIdleTimeout),
		"close a SIP TCP/TLS connection on which no complete message (nor an RFC 5626\nkeep-alive) arrived for this long; 0 disables (env PARLEY_SIP_IDLE_TIMEOUT)")
	maxConns := fs.Int("sip-max-conns-per-ip", ed.int("sip-max-conns-per-ip", "PARLEY_SIP_MAX_CONNS_PER_IP", sipserver.DefaultMaxConnsPerIP),
		"SIP TCP/TLS connections open at once from one IP address (more are closed on accept);\n0 disables the cap (env PARLEY_SIP_MAX_CONNS_PER_IP)")
	maxAuth := fs.Int("sip-max-auth-failures", ed.int("sip-max-auth-failures", "PARLEY_SIP_MAX_AUTH_FAILURES", sipserver.DefaultMaxAuthFailures),
		"failed SIP digest authentications allowed in a row per source IP and per user;\nbeyond them attempts get 503 with Retry-After without being checked, and one more\nis earned every --sip-auth-failure-interval; 0 disables\n(env PARLEY_SIP_MAX_AUTH_FAILURES)")
	authEvery := fs.Duration("sip-auth-failure-interval", ed.duration("sip-auth-failure-interval", "PARLEY_SIP_AUTH_FAILURE_INTERVAL", sipserver.DefaultAuthFailureInterval),
		"how often one more authentication attempt is earned back under --sip-max-auth-failures\n(env PARLEY_SIP_AUTH_FAILURE_INTERVAL)")
	cacheTTL := fs.Duration("sip-cache-ttl", ed.duration("sip-cache-ttl", "PARLEY_SIP_CACHE_TTL", sipserver.DefaultCacheTTL),
		"how long the proxy keeps bindings, accounts and password hashes read from the store\nin memory; account and password changes made with 'parley user' take up to this\nlong to be seen (new registrations are seen at once); 0 disables\n(env PARLEY_SIP_CACHE_TTL)")
	logFormat := fs.String("log-format", envOr(e, "PARLEY_LOG_FORMAT", "text"), "log format: text or json (env PARLEY_LOG_FORMAT)")
	logLevel := fs.String("log-level", envOr(e, "PARLEY_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env PARLEY_LOG_LEVEL)")
	drain := fs.Duration("shutdown-timeout", 10*time.Second, "how long SIGTERM waits for requests and deliveries in progress")
	config := fs.String("config", envOr(e, "PARLEY_CONFIG", ""), "a TOML (.toml) or JSON file whose keys are these flag names, e.g. sip = \"tcp:0.0.0.0:5060\"\n(env PARLEY_CONFIG); flags on the command line win over it, it wins over the environment")
	sf := addStoreFlags(e, fs)
	if err := parseFlags(e, fs, args); err != nil {
		return nil, err
	}
	if *config != "" {
		if err := applyConfigFile(fs, *config); err != nil {
			return nil, &exitError{code: 2, err: err}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range slices.Sorted(maps.Keys(ed.errs)) {
		if !set[name] {
			return nil, &exitError{code: 2, err: fmt.Errorf("--%s: %w", name, ed.errs[name])}
		}
	}
	if *maxAuth > 0 && *authEvery <= 0 {
		return nil, &exitError{code: 2, err: fmt.Errorf("--sip-auth-failure-interval %v: must be positive", *authEvery)}
	}
	if fs.NArg() > 0 {
		return nil, &exitError{code: 2, err: fmt.Errorf("serve takes no arguments, got %q", fs.Arg(0))}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("--log-level: %w", err)}
	}
	hopts := &slog.HandlerOptions{Level: level}
	var log *slog.Logger
	switch *logFormat {
	case "text":
		log = slog.New(slog.NewTextHandler(e.stderr, hopts))
	case "json":
		log = slog.New(slog.NewJSONHandler(e.stderr, hopts))
	default:
		return nil, &exitError{code: 2, err: fmt.Errorf("--log-format %q: want text or json", *logFormat)}
	}
	listeners, err := server.ParseListen(*sipL)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("--sip: %w", err)}
	}
	var algs []store.Algorithm
	for _, a := range splitList(*digestAlgs) {
		c, err := store.Algorithm(a).Canonical()
		if err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("--digest: %w", err)}
		}
		algs = append(algs, c)
	}
	dataDir, dsn, err := sf.resolve()
	if err != nil {
		return nil, err
	}
	cfg := server.Config{
		SIP: listeners, TLSCert: *tlsCert, TLSKey: *tlsKey, DataDir: dataDir, DSN: dsn,
		Domains: splitList(*domains), MSRPRelay: *msrpRelay, MSRPRelayTLS: *msrpsRelay, TLSCA: *tlsCA, CPIMRelay: *cpimRelay, HTTP: *httpAddr,
		Host: *host, Node: *node, ClusterSecret: *secret, History: *history, HistoryOptOut: splitList(*optOut),
		Algorithms: algs, MinExpires: *minExp, MaxExpires: *maxExp, Logger: log,
		SIPIdleTimeout: offIfZero(*idle), SIPMaxConnsPerIP: offIfZero(*maxConns),
		SIPMaxAuthFailures: offIfZero(*maxAuth), SIPAuthFailureInterval: *authEvery, SIPCacheTTL: offIfZero(*cacheTTL),
	}
	return &serveSetup{cfg: cfg, log: log, drain: *drain, dataDir: *sf.dataDir}, nil
}

// offIfZero maps a flag's "0 disables" to server.Config's "negative
// disables" (where zero is the default).
func offIfZero[T int | time.Duration](v T) T {
	if v <= 0 {
		return -1
	}
	return v
}

// applyConfigFile sets the flags named in a TOML or JSON file that the
// command line did not set.
func applyConfigFile(fs *flag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	m := map[string]any{}
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		err = json.Unmarshal(b, &m)
	} else {
		err = toml.Unmarshal(b, &m)
	}
	if err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := strings.ReplaceAll(k, "_", "-")
		if fs.Lookup(name) == nil || name == "config" {
			return fmt.Errorf("--config %s: unknown setting %q (settings are the flag names)", path, k)
		}
		if set[name] {
			continue
		}
		var v string
		switch x := m[k].(type) {
		case string:
			v = x
		case []any:
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = fmt.Sprint(p)
			}
			v = strings.Join(parts, ",")
		default:
			v = fmt.Sprint(x)
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("--config %s: %s: %w", path, k, err)
		}
	}
	return nil
}

func dataDirFlag(d string) string {
	if d == "" {
		return ""
	}
	return " --data-dir " + d
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
