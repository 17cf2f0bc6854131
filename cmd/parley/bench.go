package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parley-im/parley/internal/loadgen"
	"github.com/parley-im/parley/msrp"
)

func init() {
	commands["bench"] = command{summary: "load generator: MSRP relay (small, bulk, mixed, churn, idle) or SIP MESSAGE and INVITE/BYE rates", run: runBench}
}

const benchExamples = `  parley serve &   # MSRP relay on 127.0.0.1:2855, SIP on 127.0.0.1:5060
  parley bench --scenario small --relay 127.0.0.1:2855 --user alice:secret,bob:hunter2
      100 sessions of 100 B SENDs on the two-hop path for 10 s.
  parley bench --scenario small --rate 20000 --duration 30s --json
      paced at 20,000 msgs/s in total: latency at a chosen load.
  parley bench --scenario bulk --size 8192 --sessions 4 --window 32
      8 KiB chunks (keep ≤ 8 KiB when the relay is Kamailio).
  parley bench --scenario mixed --chat-sessions 50 --chat-rate 5
      bulk transfers plus chat; the chat line shows chat latency.
  parley bench --scenario churn --sessions 8 --churn-messages 4
      sessions opened, used and closed: sessions/s and setup latency.
  parley bench --scenario idle --sessions 10000 --pid $(pgrep -f 'parley serve')
      10,000 idle relay sessions; memory per session from /proc.
  parley bench --scenario bulk --relay 127.0.0.1:2856 --tls --tls-ca relay-cert.pem
      the same over msrps (TLS) to a relay serving TLS.
  parley bench --scenario small --path direct
      no relay: the load generator's own ceiling.
  parley bench --scenario sip-message --sip-server 127.0.0.1:5060 \
      --sip-user u1:p1,u2:p2,u3:p3,u4:p4 --pairs 2
      MESSAGE rate through a registrar/proxy (pairs of registered UAs).
  parley bench --scenario sip-invite --sip-server 127.0.0.1:5060 \
      --sip-user u1:p1,u2:p2 --pairs 1
      calls/s: INVITE (MSRP offer), 200, ACK, BYE, 200 toward an auto-answering callee.
  parley bench --scenario e2e-large --check
      one 1 GiB message between two MSRP endpoints beside raw loopback TCP, and peak RSS;
      exit status 1 if under half the raw TCP throughput or over 64 MiB.`

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench", "[flags]",
		"Load an MSRP relay (RFC 4976) or a SIP proxy on loopback and report messages/s\n"+
			"(calls/s for sip-invite), MB/s, latency percentiles (p50, p99, p99.9) and errors\n"+
			"by status; with --pid, the target's CPU time per operation too. MSRP messages\n"+
			"count when the receiving side has them (relay 200s are hop by hop); each\n"+
			"session keeps at most --window outstanding. Runs stop after --count messages or\n"+
			"--duration. A progress line goes to stderr every second; the report to stdout,\n"+
			"as a table or, with --json, as JSON. Only loopback targets unless --allow-remote.", benchExamples)
	scenario := fs.String("scenario", "small", "small, bulk, mixed, churn, idle, sip-message, sip-invite or e2e-large")
	path := fs.String("path", loadgen.TwoHop, "MSRP path: two-hop (both sides AUTH), one-hop (only the receiver AUTHs)\nor direct (no relay: the tool's own ceiling)")
	relayAddr := fs.String("relay", envOr(e, "PARLEY_BENCH_RELAY", "127.0.0.1:2855"), "MSRP relay host:port (env PARLEY_BENCH_RELAY)")
	users := fs.String("user", envOr(e, "PARLEY_BENCH_USERS", "alice:alice-secret,bob:bob-secret"), "relay accounts user:password, comma-separated; senders take the even entries,\nreceivers the odd ones (env PARLEY_BENCH_USERS)")
	sessions := fs.Int("sessions", 0, "sending sessions (churn: workers; idle: sessions held)\n(default 100 small, 4 bulk/mixed, 8 churn, 1000 idle)")
	window := fs.Int("window", 0, "messages outstanding per session, end to end (default 8, bulk/mixed 16)")
	size := fs.Int("size", 0, "body octets per message, one chunk (default 100; bulk/mixed 8192;\ne2e-large: the one message, default 1 GiB)")
	count := fs.Uint64("count", 0, "stop after this many messages (0: no bound)")
	duration := fs.Duration("duration", 10*time.Second, "stop sending after this long")
	warmup := fs.Duration("warmup", 0, "discard what is received during this first period")
	drain := fs.Duration("drain", 5*time.Second, "wait this long for outstanding messages at the end")
	rate := fs.Float64("rate", 0, "pace sending to this many messages/s in total (0: as fast as the window allows)")
	chatSessions := fs.Int("chat-sessions", 20, "mixed: chat sessions")
	chatRate := fs.Float64("chat-rate", 10, "mixed: messages/s per chat session")
	chatSize := fs.Int("chat-size", 100, "mixed: chat message octets")
	churnMsgs := fs.Int("churn-messages", 4, "churn: messages per session before it closes")
	perConn := fs.Int("sessions-per-conn", 1, "idle: AUTHs (sessions) per connection")
	settle := fs.Duration("settle", 15*time.Second, "idle: wait this long before reading the relay's memory")
	pids := fs.String("pid", "", "the target's process id(s), comma-separated, descendants included:\nidle reads their memory; other MSRP and SIP scenarios their CPU time per operation")
	expires := fs.Duration("expires", 0, "AUTH Expires asked for (default 600s; churn 60s)")
	sipServer := fs.String("sip-server", "127.0.0.1:5060", "sip-message, sip-invite: registrar and proxy host:port")
	sipDomain := fs.String("sip-domain", "", "sip-*: AOR domain (default the server's host)")
	sipTransport := fs.String("sip-transport", "udp", "sip-*: udp or tcp")
	sipUsers := fs.String("sip-user", "", "sip-*: accounts user:password, comma-separated, two per pair\n(caller, then callee)")
	pairs := fs.Int("pairs", 8, "sip-*: concurrent sender→receiver pairs, one request or call at a time each")
	useTLS := fs.Bool("tls", false, "msrps: TLS to the relay (RFC 4976 §9.2)")
	tlsCA := fs.String("tls-ca", "", "with --tls: PEM file of the certificate(s) to trust for the relay\n(default the system roots)")
	check := fs.Bool("check", false, "e2e-large: exit status 1 when a target is missed")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "no progress line on stderr")
	allowRemote := fs.Bool("allow-remote", false, "allow a target that is not a loopback address")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("bench takes no arguments, got %q", fs.Arg(0))}
	}
	usage := func(err error) error { return &exitError{code: 2, err: err} }
	var pidList []int
	for _, p := range strings.FieldsFunc(*pids, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return usage(fmt.Errorf("--pid %q: not a process id", p))
		}
		pidList = append(pidList, n)
	}
	var res *loadgen.Result
	var err error
	progress := e.stderr
	if *quiet {
		progress = nil
	}
	if *scenario == loadgen.Large {
		res, err = loadgen.RunLarge(ctx, loadgen.LargeConfig{Size: int64(*size), Progress: progress})
		if err != nil {
			return err
		}
	} else if sipScen, isSIP := strings.CutPrefix(*scenario, "sip-"); isSIP {
		if err := checkLoopback(*sipServer, *allowRemote); err != nil {
			return usage(fmt.Errorf("--sip-server: %w", err))
		}
		us, err := parseUsers(*sipUsers)
		if err != nil {
			return usage(fmt.Errorf("--sip-user: %w", err))
		}
		var su []loadgen.SIPUser
		for _, u := range us {
			su = append(su, loadgen.SIPUser{User: u.Username, Password: u.Password})
		}
		res, err = loadgen.RunSIP(ctx, loadgen.SIPConfig{Scenario: sipScen, Server: *sipServer, Domain: *sipDomain, Transport: *sipTransport,
			Users: su, Pairs: *pairs, Size: *size, Count: *count, Duration: *duration, Warmup: *warmup,
			Progress: progress, PIDs: pidList})
		if err != nil && res == nil {
			if errors.Is(err, loadgen.ErrConfig) {
				return usage(err)
			}
			return err
		}
	} else {
		cfg := loadgen.MSRPConfig{Scenario: *scenario, Mode: *path, Relay: *relayAddr, Sessions: *sessions,
			Window: *window, Size: *size, Count: *count, Duration: *duration, Warmup: *warmup, Drain: *drain,
			Rate: *rate, ChatSessions: *chatSessions, ChatRate: *chatRate, ChatSize: *chatSize,
			ChurnMessages: *churnMsgs, SessionsPerConn: *perConn, Settle: *settle, Expires: *expires,
			Progress: progress}
		if *useTLS {
			cfg.TLS = &tls.Config{}
			if *tlsCA != "" {
				pemb, err := os.ReadFile(*tlsCA)
				if err != nil {
					return usage(fmt.Errorf("--tls-ca: %w", err))
				}
				cfg.TLS.RootCAs = x509.NewCertPool()
				if !cfg.TLS.RootCAs.AppendCertsFromPEM(pemb) {
					return usage(fmt.Errorf("--tls-ca %s: no PEM certificate", *tlsCA))
				}
			}
		}
		if *path != loadgen.Direct {
			if err := checkLoopback(*relayAddr, *allowRemote); err != nil {
				return usage(fmt.Errorf("--relay: %w", err))
			}
			if cfg.Users, err = parseUsers(*users); err != nil {
				return usage(fmt.Errorf("--user: %w", err))
			}
		}
		cfg.PIDs = pidList
		res, err = loadgen.RunMSRP(ctx, cfg)
		if err != nil && res == nil {
			if errors.Is(err, loadgen.ErrConfig) {
				return usage(err)
			}
			return err
		}
	}
	if *jsonOut {
		if werr := res.WriteJSON(e.stdout); werr != nil {
			return werr
		}
	} else if werr := res.WriteTable(e.stdout); werr != nil {
		return werr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if l := res.Large; *check && l != nil && (!l.RatioMet || !l.RSSMet) {
		return fmt.Errorf("bench: e2e-large missed a target: %.2f× raw TCP (want ≥ %.2f×), peak RSS %.1f MiB (want ≤ %.0f MiB)",
			l.Ratio, l.MinRatio, float64(l.PeakRSS)/(1<<20), float64(l.MaxRSS)/(1<<20))
	}
	return nil
}

func parseUsers(s string) ([]msrp.Credentials, error) {
	var out []msrp.Credentials
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		u, p, ok := strings.Cut(f, ":")
		if !ok || u == "" {
			return nil, fmt.Errorf("%q: want user:password", f)
		}
		out = append(out, msrp.Credentials{Username: u, Password: p})
	}
	if len(out) == 0 {
		return nil, errors.New("no accounts given")
	}
	return out, nil
}

// checkLoopback refuses targets off this machine unless allowed.
func checkLoopback(addr string, allow bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if allow {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address; pass --allow-remote to load another machine", host)
	}
	return nil
}
