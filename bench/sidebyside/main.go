// Command sidebyside runs the same load (package internal/loadgen) against
// Kamailio's msrp relay and Parley's relay (bench/relayd), and Kamailio's
// SIP proxy against "parley serve" (MESSAGE and INVITE/BYE rates), all on
// loopback, and prints a table of the figures with Parley/Kamailio ratios. bench/side-by-side.sh builds
// the binaries and calls it; see BENCHMARKS.md for the figures and how
// to read them.
//
// The processes under test are started on CPU 1 and the load generator
// runs on CPU 0 (taskset, when the machine has two CPUs or more), so both
// relays get one core and the generator never competes with them.
//
// Scenarios half-load-wire and light-wire measure the relays' own
// latency on the wire: probe sessions (MSRPConfig.ProbeRate, --probe-rate
// messages per second, on fixed local ports) run beside the half-load-2hop
// pace, or alone, while dumpcap captures their ports on lo; AnalyzeWire
// pairs each probe SEND entering the relay with the same message leaving
// it, by the kernel's capture times, so the load generator's own
// queueing is not in the figure. Without dumpcap these rows are reported
// as not measured; with CI=true a missing dumpcap fails the run.
//
// How Kamailio is started and stopped is taken from package interop
// (interop/peers_test.go: startKamailio, process.stop): foreground (-DD
// -E), its own process group, a run directory with a pid file, ready when
// its port accepts TCP, SIGTERM then SIGKILL to the group.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/parley-im/parley/internal/loadgen"
	"github.com/parley-im/parley/msrp"
)

var (
	smoke     = flag.Bool("smoke", false, "run each scenario for about 1 s with small sizes (CI: checks the runner still works)")
	binDir    = flag.String("bin", "", "directory holding the relayd and parley binaries (built by side-by-side.sh)")
	outJSON   = flag.String("json", "", "also write every result to this JSON file (with --repeat N: one file per round, -1 … -N before the extension)")
	repeat    = flag.Int("repeat", 1, "run the selected scenarios this many rounds, one after another, then print each ratio's median and range over the rounds\n(on a shared machine one round's ratio can be off by 30 %: the range shows the noise)")
	only      = flag.String("only", "", "comma-separated scenario names to run (default all)")
	duration  = flag.Duration("duration", 10*time.Second, "measured time per scenario (after a 2 s warm-up)")
	idleN     = flag.Int("idle-sessions", 10000, "sessions held by the idle scenario")
	pin       = flag.Bool("pin", runtime.NumCPU() >= 2, "pin the targets to CPU 1 and this program to CPU 0")
	skipSIP   = flag.Bool("skip-sip", false, "skip the SIP comparisons (sip-message, sip-invite)")
	largeSize = flag.Int64("large-size", 1<<30, "message size of the e2e-large run (Parley alone; --smoke: 64 MiB)")
	kamailioB = flag.String("kamailio", "kamailio", "Kamailio binary")
	probeRate = flag.Float64("probe-rate", 1000, "probe messages per second of the wire-latency scenarios (half-load-wire, light-wire)")
	halfRate  = flag.Float64("half-rate", 0, "pace half-load-2hop and half-load-wire at this many msgs/s on both targets instead of half of each one's small-2hop rate")
	keepCapt  = flag.String("keep-capture", "", "keep each wire scenario's capture as DIR/<scenario>-<target>.pcap (to check it with tshark)")
	targetLog = flag.String("target-log", "", "copy each target's output (stdout and stderr) to DIR/<scenario>-<target>.log")
	relaydEnv envList
)

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string     { return strings.Join(*e, " ") }
func (e *envList) Set(v string) error { *e = append(*e, v); return nil }

func init() {
	flag.Var(&relaydEnv, "relayd-env", "KEY=VALUE added to Parley's relay's environment (repeatable), e.g. GODEBUG=gctrace=1 with --target-log")
}

// target is one system under test.
type target struct {
	name string
	proc *proc
	addr string // MSRP relay or SIP host:port
	dir  string
}

func main() {
	flag.Parse()
	// sipgo logs a few lines to its package-global logger (see
	// cmd/parley/main.go).
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *repeat < 1 {
		fmt.Fprintln(os.Stderr, "sidebyside: --repeat must be at least 1")
		os.Exit(2)
	}
	var rounds [][]row
	for i := 1; i <= *repeat; i++ {
		if *repeat > 1 {
			fmt.Fprintf(os.Stderr, "\n==== round %d of %d\n", i, *repeat)
		}
		rows, err := run(ctx, roundJSON(*outJSON, i, *repeat))
		if err != nil {
			fmt.Fprintln(os.Stderr, "sidebyside:", err)
			os.Exit(1)
		}
		rounds = append(rounds, rows)
	}
	if len(rounds) > 1 {
		printSummary(os.Stdout, summarize(rounds))
	}
}

// roundJSON is the JSON file of round i of n: path itself for one
// round, else with "-i" before its extension.
func roundJSON(path string, i, n int) string {
	if path == "" || n == 1 {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + strconv.Itoa(i) + ext
}

// ratioSummary is one scenario and metric over several rounds.
type ratioSummary struct {
	Scenario, Metric, Better string
	Ratios                   []float64 // Parley/Kamailio per round, sorted
	Kamailio, Parley         []float64 // the values per round, sorted
}

// summarize groups the rows of all rounds by scenario and metric, in the
// order they first appear. Parley-only rows carry no ratio.
func summarize(rounds [][]row) []ratioSummary {
	var out []ratioSummary
	idx := map[string]int{}
	for _, rows := range rounds {
		for _, r := range rows {
			k := r.Scenario + "\x00" + r.Metric
			i, ok := idx[k]
			if !ok {
				i = len(out)
				idx[k] = i
				out = append(out, ratioSummary{Scenario: r.Scenario, Metric: r.Metric, Better: r.Better})
			}
			s := &out[i]
			s.Parley = append(s.Parley, r.Parley)
			if !r.ParleyOnly {
				s.Kamailio = append(s.Kamailio, r.Kamailio)
				if r.Kamailio > 0 {
					s.Ratios = append(s.Ratios, r.Parley/r.Kamailio)
				}
			}
		}
	}
	for i := range out {
		slices.Sort(out[i].Ratios)
		slices.Sort(out[i].Kamailio)
		slices.Sort(out[i].Parley)
	}
	return out
}

// median of sorted v (the mean of the middle two for an even count); 0
// for none.
func median(v []float64) float64 {
	switch n := len(v); {
	case n == 0:
		return 0
	case n%2 == 1:
		return v[n/2]
	default:
		return (v[n/2-1] + v[n/2]) / 2
	}
}

func printSummary(w io.Writer, sums []ratioSummary) {
	fmt.Fprintf(w, "\nover the rounds (median, min–max)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tmetric\tKamailio\tParley\tParley/Kamailio\trange\trounds\tbetter\t")
	for _, s := range sums {
		k, ratio, rng := "-", "-", "-"
		if len(s.Kamailio) > 0 {
			k = fmt.Sprintf("%.4g", median(s.Kamailio))
		}
		if n := len(s.Ratios); n > 0 {
			ratio = fmt.Sprintf("%.2f×", median(s.Ratios))
			rng = fmt.Sprintf("%.2f–%.2f×", s.Ratios[0], s.Ratios[n-1])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4g\t%s\t%s\t%d\t%s\t\n", s.Scenario, s.Metric, k, median(s.Parley), ratio, rng,
			len(s.Parley), s.Better)
	}
	tw.Flush()
}

type row struct {
	Scenario, Metric string
	Better           string // "higher" or "lower"
	Kamailio, Parley float64
	// ParleyOnly rows have no Kamailio counterpart (msrps).
	ParleyOnly bool
	// CPU is each target's CPU time per operation of its first class
	// (message, call, churned session), from /proc over the measured
	// period: comparable even when the load generator limits the rate.
	CPU     map[string]time.Duration
	Results map[string]*loadgen.Result
}

// record files one target's result in the row.
func (r *row) record(kind string, res *loadgen.Result, v float64) {
	if kind == "kamailio" {
		r.Kamailio = v
	} else {
		r.Parley = v
	}
	if r.CPU == nil {
		r.CPU = map[string]time.Duration{}
	}
	if len(res.Classes) > 0 {
		r.CPU[kind] = res.CPUPerOp(res.Classes[0].Name)
	}
	r.Results[kind] = res
}

// run runs the selected scenarios once, prints their table and returns
// its rows; jsonPath, when set, receives every result.
func run(ctx context.Context, jsonPath string) ([]row, error) {
	if *binDir == "" {
		return nil, errors.New("--bin is required (run bench/side-by-side.sh)")
	}
	if *pin {
		// Pin this process (the load generator); targets are pinned at
		// start. Go's GOMAXPROCS was set at start from the old mask, so
		// set it again.
		if err := exec.Command("taskset", "-a", "-p", "-c", "0", strconv.Itoa(os.Getpid())).Run(); err != nil {
			fmt.Fprintln(os.Stderr, "sidebyside: taskset failed, running unpinned:", err)
			*pin = false
		} else {
			runtime.GOMAXPROCS(1)
		}
	}
	dur, warm := *duration, 2*time.Second
	idle, settle := *idleN, 15*time.Second
	if *smoke {
		dur, warm, idle, settle = time.Second, 200*time.Millisecond, 200, time.Second
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s != "" {
			want[s] = true
		}
	}
	enabled := func(s string) bool { return len(want) == 0 || want[s] }
	users := []msrp.Credentials{{Username: "alice", Password: "alice-secret"}, {Username: "bob", Password: "bob-secret"}}
	var rows []row
	var all []map[string]any
	var notes []string // printed after the table

	type scen struct {
		name, metric, better string
		cfg                  loadgen.MSRPConfig
		pick                 func(*loadgen.Result) float64
	}
	// Wire scenarios capture the probes' ports and take their figure from
	// the relay's wire latency (AnalyzeWire); their pick is not used.
	isWire := map[string]bool{"half-load-wire": true, "light-wire": true}
	// msrps: Parley's relay only (Kamailio's benchmark config has no TLS
	// listener), with a self-signed certificate the load tool trusts.
	certDir, err := os.MkdirTemp("", "sidebyside-tls")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(certDir)
	clientTLS, err := writeCert(certDir)
	if err != nil {
		return nil, err
	}
	tlsOn := func(c *loadgen.MSRPConfig) { c.TLS = clientTLS }
	msgRate := func(r *loadgen.Result) float64 { return r.Class("msg").Rate }
	mbps := func(r *loadgen.Result) float64 { return r.Class("msg").MBPerSec }
	p99 := func(class string) func(*loadgen.Result) float64 {
		return func(r *loadgen.Result) float64 { return float64(r.Class(class).Latency.P99) / 1e3 }
	}
	base := loadgen.MSRPConfig{Users: users, Duration: dur, Warmup: warm, Drain: 5 * time.Second}
	with := func(f func(*loadgen.MSRPConfig)) loadgen.MSRPConfig { c := base; f(&c); return c }
	scens := []scen{
		{"small-2hop", "msgs/s", "higher", with(func(c *loadgen.MSRPConfig) { c.Scenario, c.Mode = loadgen.Small, loadgen.TwoHop }), msgRate},
		{"small-1hop", "msgs/s", "higher", with(func(c *loadgen.MSRPConfig) { c.Scenario, c.Mode = loadgen.Small, loadgen.OneHop }), msgRate},
		{"bulk-8k-2hop", "MB/s", "higher", with(func(c *loadgen.MSRPConfig) { c.Scenario, c.Mode, c.Size = loadgen.Bulk, loadgen.TwoHop, 8192 }), mbps},
		{"bulk-8k-1hop", "MB/s", "higher", with(func(c *loadgen.MSRPConfig) { c.Scenario, c.Mode, c.Size = loadgen.Bulk, loadgen.OneHop, 8192 }), mbps},
		// Light load: 10 sessions, one message outstanding each, 1000
		// msgs/s in total: the latency floor of relay plus tool.
		{"light-2hop", "p99 µs", "lower", with(func(c *loadgen.MSRPConfig) {
			c.Scenario, c.Mode, c.Sessions, c.Window, c.Rate = loadgen.Small, loadgen.TwoHop, 10, 1, 1000
		}), p99("msg")},
		{"half-load-2hop", "p99 µs", "lower", with(func(c *loadgen.MSRPConfig) { c.Scenario, c.Mode = loadgen.Small, loadgen.TwoHop }), p99("msg")},
		// The relay's own latency at half load, from a capture of probe
		// sessions beside the half-load-2hop pace (see wireRows), and the
		// same probes alone: the floor.
		{"half-load-wire", "wire p99 µs", "lower", with(func(c *loadgen.MSRPConfig) {
			c.Scenario, c.Mode, c.ProbeRate = loadgen.Small, loadgen.TwoHop, *probeRate
		}), nil},
		{"light-wire", "wire p99 µs", "lower", with(func(c *loadgen.MSRPConfig) {
			c.Scenario, c.Mode, c.ProbeRate, c.ProbeOnly = loadgen.Small, loadgen.TwoHop, *probeRate, true
		}), nil},
		// Chat latency beside bulk traffic paced to the same 3000 × 8 KiB/s
		// (24.6 MB/s) on both relays, so the chat competes with equal
		// bulk load; mixed-chat-full lets bulk run flat out.
		{"mixed-chat", "chat p99 µs", "lower", with(func(c *loadgen.MSRPConfig) {
			c.Scenario, c.Mode, c.Rate = loadgen.Mixed, loadgen.TwoHop, 3000
		}), p99("chat")},
		{"mixed-chat-full", "chat p99 µs", "lower", with(func(c *loadgen.MSRPConfig) { c.Scenario, c.Mode = loadgen.Mixed, loadgen.TwoHop }), p99("chat")},
		{"churn", "sessions/s", "higher", with(func(c *loadgen.MSRPConfig) { c.Scenario, c.Mode = loadgen.Churn, loadgen.TwoHop }),
			func(r *loadgen.Result) float64 { return r.Class("session").Rate }},
		{"idle", "B/session (PSS)", "lower", with(func(c *loadgen.MSRPConfig) {
			c.Scenario, c.Mode, c.Sessions, c.Settle = loadgen.Idle, loadgen.TwoHop, idle, settle
		}), func(r *loadgen.Result) float64 { return r.Idle.PerSessionPSS }},
		// The same, but Parley's relay is asked (SIGUSR1) to collect and
		// return freed memory before the measurement: the floor its live
		// data needs. Kamailio is measured as in "idle".
		{"idle-freed", "B/session (PSS)", "lower", with(func(c *loadgen.MSRPConfig) {
			c.Scenario, c.Mode, c.Sessions, c.Settle = loadgen.Idle, loadgen.TwoHop, idle, settle
		}), func(r *loadgen.Result) float64 { return r.Idle.PerSessionPSS }},
		// The small and bulk two-hop loads over msrps (Parley only).
		{"small-2hop-tls", "msgs/s", "higher", with(func(c *loadgen.MSRPConfig) { c.Scenario, c.Mode = loadgen.Small, loadgen.TwoHop; tlsOn(c) }), msgRate},
		{"bulk-8k-2hop-tls", "MB/s", "higher", with(func(c *loadgen.MSRPConfig) {
			c.Scenario, c.Mode, c.Size = loadgen.Bulk, loadgen.TwoHop, 8192
			tlsOn(c)
		}), mbps},
	}
	if *smoke {
		for i := range scens {
			if scens[i].cfg.Scenario == loadgen.Small {
				scens[i].cfg.Sessions = 20
			}
		}
	}
	fullRate := map[string]float64{}
	for _, sc := range scens {
		if !enabled(sc.name) {
			continue
		}
		rw := row{Scenario: sc.name, Metric: sc.metric, Better: sc.better, Results: map[string]*loadgen.Result{}}
		var wires map[string]*loadgen.WireResult
		if isWire[sc.name] {
			if _, err := exec.LookPath("dumpcap"); err != nil {
				if os.Getenv("CI") == "true" {
					return nil, fmt.Errorf("%s: %w", sc.name, loadgen.ErrNoDumpcap)
				}
				notes = append(notes, fmt.Sprintf("%s: NOT MEASURED: %v", sc.name, loadgen.ErrNoDumpcap))
				continue
			}
			wires = map[string]*loadgen.WireResult{}
		}
		waits := map[string]string{}
		kinds := []string{"kamailio", "parley"}
		cert := ""
		if sc.cfg.TLS != nil {
			kinds, cert, rw.ParleyOnly = []string{"parley"}, certDir, true
		}
		for _, kind := range kinds {
			t, err := startMSRP(ctx, kind, cert)
			if err != nil {
				return nil, err
			}
			cfg := sc.cfg
			cfg.Relay = t.addr
			cfg.PIDs = []int{t.proc.pid()}
			if sc.name == "idle-freed" && kind == "parley" {
				pid := t.proc.pid()
				cfg.BeforeMeasure = func() {
					_ = syscall.Kill(pid, syscall.SIGUSR1)
					time.Sleep(2 * time.Second)
				}
			}
			if sc.name == "half-load-2hop" || sc.name == "half-load-wire" {
				r := fullRate[kind]
				if r == 0 {
					r = 10000
				}
				cfg.Rate = r / 2
				if *halfRate > 0 {
					cfg.Rate = *halfRate
				}
			}
			var wc *wireCapture
			if wires != nil {
				wc = &wireCapture{ctx: ctx, name: sc.name + "-" + kind, relay: t.addr, warmup: warm}
				cfg.ProbeReady = wc.start
			}
			fmt.Fprintf(os.Stderr, "== %s on %s (%s)\n", sc.name, kind, t.addr)
			wait0, runs0 := schedWait(t.proc.pid())
			start := time.Now()
			res, err := loadgen.RunMSRP(ctx, cfg)
			wait1, runs1 := schedWait(t.proc.pid())
			wall := time.Since(start)
			var wire *loadgen.WireResult
			if wc != nil {
				var werr error
				wire, werr = wc.finish()
				if err == nil {
					err = werr
				}
			}
			t.keepLog(sc.name)
			t.stop()
			if err != nil {
				if wc != nil && errors.Is(err, errCapture) && os.Getenv("CI") != "true" {
					notes = append(notes, fmt.Sprintf("%s on %s: NOT MEASURED: %v", sc.name, kind, err))
					continue
				}
				return nil, fmt.Errorf("%s on %s: %w", sc.name, kind, err)
			}
			res.Target = kind + " " + res.Target
			res.WriteTable(os.Stderr)
			if sc.name == "small-2hop" {
				fullRate[kind] = res.Class("msg").Rate
			}
			entry := map[string]any{"scenario": sc.name, "target": kind, "rate_limit": cfg.Rate, "result": res}
			if wire != nil {
				fmt.Fprintf(os.Stderr, "%s\ncapture: ports %v, %d packets received, %d dropped\n", wire, wc.ports, wc.stats.Received, wc.stats.Dropped)
				wires[kind] = wire
				entry["wire"] = wire
				entry["probe_ports"] = wc.ports
				entry["capture"] = wc.stats
				entry["probe_rate"] = cfg.ProbeRate
				// Whole run (set-up, warm-up, sending, drain): a share,
				// not a per-message figure.
				entry["runqueue_wait_s"] = (wait1 - wait0).Seconds()
				entry["runqueue_wall_s"] = wall.Seconds()
				entry["runqueue_runs"] = runs1 - runs0
				mean := time.Duration(0)
				if runs1 > runs0 {
					mean = (wait1 - wait0) / time.Duration(runs1-runs0)
				}
				waits[kind] = fmt.Sprintf("relay waited for its CPU %.0f ms over the %.1f s run (%.1f%%), %d runs, %s per run",
					float64(wait1-wait0)/1e6, wall.Seconds(), 100*float64(wait1-wait0)/float64(wall), runs1-runs0, mean)
				fmt.Fprintln(os.Stderr, waits[kind])
				rw.record(kind, res, us(wire.Latency.P99))
				if *smoke && os.Getenv("CI") == "true" && wire.Matched == 0 {
					return nil, fmt.Errorf("%s on %s: no probe found in the capture: %s", sc.name, kind, wire)
				}
			} else {
				rw.record(kind, res, sc.pick(res))
			}
			all = append(all, entry)
		}
		if wires != nil {
			if len(wires) < 2 {
				continue
			}
			rows = append(rows, wireRows(rw, wires)...)
			for _, kind := range []string{"kamailio", "parley"} {
				w := wires[kind]
				notes = append(notes, fmt.Sprintf("%s on %s: %s; %s", sc.name, kind, w, waits[kind]))
				if w.UnmatchedFraction() > 0.01 || w.Gaps > 0 {
					notes = append(notes, fmt.Sprintf("%s on %s: WARNING: %.2f%% of probes unmatched, %d gaps: the figures are suspect",
						sc.name, kind, 100*w.UnmatchedFraction(), w.Gaps))
				}
			}
			continue
		}
		rows = append(rows, rw)
	}
	// SIP: MESSAGE rate and whole-call (INVITE, 200, ACK, BYE, 200) rate
	// through each proxy, 8 caller→callee pairs over UDP.
	for _, sc := range []struct{ name, scenario, metric, class string }{
		{"sip-message", loadgen.SIPMessage, "MESSAGE/s", "msg"},
		{"sip-invite", loadgen.SIPInvite, "calls/s", "call"},
	} {
		if *skipSIP || !enabled(sc.name) {
			continue
		}
		rw := row{Scenario: sc.name, Metric: sc.metric, Better: "higher", Results: map[string]*loadgen.Result{}}
		pairs := 8
		var su []loadgen.SIPUser
		for i := 1; i <= 2*pairs; i++ {
			su = append(su, loadgen.SIPUser{User: "u" + strconv.Itoa(i), Password: "bench-secret"})
		}
		for _, kind := range []string{"kamailio", "parley"} {
			t, err := startSIP(ctx, kind, su)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "== %s on %s (%s)\n", sc.name, kind, t.addr)
			res, err := loadgen.RunSIP(ctx, loadgen.SIPConfig{Scenario: sc.scenario, Server: t.addr, Users: su, Pairs: pairs,
				Duration: dur, Warmup: warm, Progress: os.Stderr, PIDs: []int{t.proc.pid()}})
			t.stop()
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", sc.name, kind, err)
			}
			res.Target = kind + " " + res.Target
			res.WriteTable(os.Stderr)
			rw.record(kind, res, res.Class(sc.class).Rate)
			all = append(all, map[string]any{"scenario": sc.name, "target": kind, "result": res})
		}
		rows = append(rows, rw)
	}
	printTable(os.Stdout, rows)
	for _, n := range notes {
		fmt.Fprintln(os.Stdout, n)
	}
	if enabled(loadgen.Large) {
		size := *largeSize
		if *smoke {
			size = 64 << 20
		}
		res, raw, err := runLarge(ctx, size)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stdout, "\nParley alone, endpoint to endpoint, one %d-octet message (no Kamailio counterpart):\n%s", size, res)
		all = append(all, map[string]any{"scenario": loadgen.Large, "target": "parley", "result": raw})
	}
	if jsonPath != "" {
		b, err := json.MarshalIndent(map[string]any{"machine": machine(), "pinned": *pin, "smoke": *smoke,
			"duration_s": dur.Seconds(), "warmup_s": warm.Seconds(), "runs": all}, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(jsonPath, b, 0o644); err != nil {
			return nil, err
		}
	}
	for _, rw := range rows {
		for k, r := range rw.Results {
			if n := r.ErrorCount(); n > 0 && !*smoke {
				fmt.Fprintf(os.Stderr, "note: %s on %s had %d errors: %v\n", rw.Scenario, k, n, r.Errors)
			}
		}
	}
	return rows, nil
}

func printTable(w io.Writer, rows []row) {
	fmt.Fprintf(w, "\nside by side (%s)\n", machine())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tmetric\tKamailio\tParley\tParley/Kamailio\tbetter\tCPU/op Kamailio\tCPU/op Parley\t")
	cpu := func(d time.Duration) string {
		if d <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	}
	for _, r := range rows {
		ratio, k := "-", "-"
		if !r.ParleyOnly {
			k = fmt.Sprintf("%.4g", r.Kamailio)
		}
		if r.Kamailio > 0 {
			ratio = fmt.Sprintf("%.2f×", r.Parley/r.Kamailio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4g\t%s\t%s\t%s\t%s\t\n", r.Scenario, r.Metric, k, r.Parley, ratio, r.Better,
			cpu(r.CPU["kamailio"]), cpu(r.CPU["parley"]))
	}
	tw.Flush()
}

func machine() string {
	load, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(load))
	la := ""
	if len(f) >= 3 {
		la = strings.Join(f[:3], " ")
	}
	return fmt.Sprintf("%d CPUs, %s, load average %s, pinned=%v", runtime.NumCPU(), runtime.Version(), la, *pin)
}

// proc is a started process in its own process group.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  *os.File
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func startProc(dir, name string, args ...string) (*proc, error) {
	return startProcEnv(dir, nil, name, args...)
}

// startProcEnv is startProc with env added to the process's environment.
func startProcEnv(dir string, env []string, name string, args ...string) (*proc, error) {
	if *pin {
		args = append([]string{"-c", "1", name}, args...)
		name = "taskset"
	}
	out, err := os.Create(filepath.Join(dir, "output.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), out: out}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM to the group, then SIGKILL after 5 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
	}
	p.out.Close()
}

func (t *target) stop() {
	t.proc.stop()
	os.RemoveAll(t.dir)
}

func freePort(network string) (int, error) {
	if network == "udp" {
		// A port free for both UDP and TCP (SIP listens on both).
		for range 50 {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				return 0, err
			}
			port := pc.LocalAddr().(*net.UDPAddr).Port
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
			pc.Close()
			if err == nil {
				l.Close()
				return port, nil
			}
		}
		return 0, errors.New("no port free for both UDP and TCP")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP waits until addr accepts connections or p exits.
func waitTCP(ctx context.Context, p *proc, addr, log string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-p.done:
			b, _ := os.ReadFile(log)
			return fmt.Errorf("process exited:\n%s", b)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return fmt.Errorf("%s not accepting after 20 s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeCert makes a self-signed certificate for 127.0.0.1, writes it and
// its key as cert.pem and key.pem in dir (for relayd --tls-cert/--tls-key)
// and returns a client configuration that trusts it.
func writeCert(dir string) (*tls.Config, error) {
	cert, err := msrp.SelfSignedCertificate("127.0.0.1")
	if err != nil {
		return nil, err
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	return &tls.Config{RootCAs: roots}, nil
}

// startMSRP starts a relay of kind; Parley's serves msrps with the
// certificate in certDir when certDir is set.
func startMSRP(ctx context.Context, kind, certDir string) (*target, error) {
	dir, err := os.MkdirTemp("", "sidebyside-"+kind)
	if err != nil {
		return nil, err
	}
	port, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var p *proc
	switch kind {
	case "kamailio":
		cfg, err := filepath.Abs("bench/kamailio/msrp-relay.cfg")
		if err != nil {
			return nil, err
		}
		p, err = startProc(dir, *kamailioB, "-f", cfg, "-DD", "-E", "-w", dir, "-P", filepath.Join(dir, "kamailio.pid"),
			"-l", "tcp:"+addr, "-A", `CTL_SOCK="unix:`+filepath.Join(dir, "kamailio.ctl")+`"`, "-m", "1024", "-M", "16")
		if err != nil {
			return nil, err
		}
	default:
		args := []string{"--listen", addr}
		if certDir != "" {
			args = append(args, "--tls-cert", filepath.Join(certDir, "cert.pem"), "--tls-key", filepath.Join(certDir, "key.pem"))
		}
		p, err = startProcEnv(dir, relaydEnv, filepath.Join(*binDir, "relayd"), args...)
		if err != nil {
			return nil, err
		}
	}
	if err := waitTCP(ctx, p, addr, filepath.Join(dir, "output.log")); err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	// With --pin, taskset exec()s the target, so the pid (and process
	// group) started is the target's own.
	time.Sleep(300 * time.Millisecond) // let the workers settle before baselines
	return &target{name: kind, proc: p, addr: addr, dir: dir}, nil
}

func startSIP(ctx context.Context, kind string, users []loadgen.SIPUser) (*target, error) {
	dir, err := os.MkdirTemp("", "sidebyside-sip-"+kind)
	if err != nil {
		return nil, err
	}
	port, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var p *proc
	switch kind {
	case "kamailio":
		cfg, err := filepath.Abs("bench/kamailio/sip-proxy.cfg")
		if err != nil {
			return nil, err
		}
		p, err = startProc(dir, *kamailioB, "-f", cfg, "-DD", "-E", "-w", dir, "-P", filepath.Join(dir, "kamailio.pid"),
			"-l", "udp:"+addr, "-l", "tcp:"+addr, "-m", "256", "-M", "16")
		if err != nil {
			return nil, err
		}
	default:
		bin := filepath.Join(*binDir, "parley")
		for _, u := range users {
			cmd := exec.Command(bin, "user", "add", u.User, "--password", u.Password, "--data-dir", dir, "--domain", "127.0.0.1")
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("parley user add: %v: %s", err, out)
			}
		}
		p, err = startProc(dir, bin, "serve", "--sip", "udp:"+addr+",tcp:"+addr, "--data-dir", dir,
			"--domain", "127.0.0.1", "--msrp-relay", "off", "--http", "off", "--history=false", "--log-level", "error")
		if err != nil {
			return nil, err
		}
	}
	if err := waitTCP(ctx, p, addr, filepath.Join(dir, "output.log")); err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	time.Sleep(300 * time.Millisecond)
	return &target{name: kind, proc: p, addr: addr, dir: dir}, nil
}

// runLarge runs "parley bench --scenario e2e-large" in a process of its
// own, so that the peak RSS it reports is the transfer's alone. It is not
// pinned: raw TCP and MSRP are measured under the same conditions, both
// ends in that process.
func runLarge(ctx context.Context, size int64) (*loadgen.LargeResult, json.RawMessage, error) {
	fmt.Fprintf(os.Stderr, "== %s, %d octets\n", loadgen.Large, size)
	cmd := exec.CommandContext(ctx, filepath.Join(*binDir, "parley"), "bench", "--scenario", loadgen.Large,
		"--size", strconv.FormatInt(size, 10), "--json")
	cmd.Stderr = os.Stderr
	if *pin {
		// Undo this process's pinning for the child.
		cmd = exec.CommandContext(ctx, "taskset", append([]string{"-c", "0-" + strconv.Itoa(runtime.NumCPU()-1)}, cmd.Args...)...)
		cmd.Stderr = os.Stderr
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", loadgen.Large, err)
	}
	var res struct {
		Large *loadgen.LargeResult `json:"large"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Large == nil {
		return nil, nil, fmt.Errorf("%s: no result (%v) in %s", loadgen.Large, err, out)
	}
	return res.Large, out, nil
}

// errCapture marks a failure of the packet capture itself (dumpcap would
// not start or stop): outside CI such a row is reported as not measured.
var errCapture = errors.New("capture")

// wireCapture runs dumpcap on the probe ports of one wire scenario run
// (MSRPConfig.ProbeReady) and analyses the capture afterwards.
type wireCapture struct {
	ctx    context.Context
	name   string // <scenario>-<target>, for --keep-capture
	relay  string // the relay's host:port
	warmup time.Duration
	dir    string
	ports  []int
	capt   *loadgen.Capture
	stats  loadgen.CaptureStats
}

func (w *wireCapture) start(ports []int) error {
	dir, err := os.MkdirTemp("", "sidebyside-wire")
	if err != nil {
		return err
	}
	w.dir, w.ports = dir, ports
	// The capture runs on this process's CPU (the load generator's): the
	// kernel stamps packets as they are sent, whenever dumpcap reads them.
	c, err := loadgen.StartCapture(w.ctx, "lo", ports, filepath.Join(dir, "probes.pcap"))
	if err != nil {
		return fmt.Errorf("%w: %w", errCapture, err)
	}
	w.capt = c
	return nil
}

// finish stops the capture and analyses it; it removes the capture file.
func (w *wireCapture) finish() (*loadgen.WireResult, error) {
	if w.dir != "" {
		defer os.RemoveAll(w.dir)
	}
	if w.capt == nil {
		return nil, nil // the run failed before the probes were ready
	}
	st, err := w.capt.Stop()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCapture, err)
	}
	w.stats = st
	_, port, err := net.SplitHostPort(w.relay)
	if err != nil {
		return nil, err
	}
	pn, err := strconv.Atoi(port)
	if err != nil {
		return nil, err
	}
	res, err := loadgen.AnalyzeWireFile(w.capt.Path, loadgen.WireConfig{RelayPort: pn, Keep: loadgen.ProbeFilter(w.warmup)})
	if *keepCapt != "" {
		if rerr := os.Rename(w.capt.Path, filepath.Join(*keepCapt, w.name+".pcap")); rerr != nil {
			fmt.Fprintln(os.Stderr, "sidebyside: --keep-capture:", rerr)
		}
	}
	return res, err
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// wireRows are the table rows of a wire scenario: the relay's wire p50,
// p99 and p99.9, and the load generator's own end-to-end p99 of the same
// probes, for contrast.
func wireRows(base row, wires map[string]*loadgen.WireResult) []row {
	var rows []row
	add := func(metric string, v func(kind string) float64) {
		r := base
		r.Metric = metric
		r.Kamailio, r.Parley = v("kamailio"), v("parley")
		rows = append(rows, r)
	}
	add("wire p50 µs", func(k string) float64 { return us(wires[k].Latency.P50) })
	add("wire p99 µs", func(k string) float64 { return us(wires[k].Latency.P99) })
	add("wire p99.9 µs", func(k string) float64 { return us(wires[k].Latency.P999) })
	add("tool probe p99 µs", func(k string) float64 {
		if c := base.Results[k].Class("probe"); c != nil {
			return us(c.Latency.P99)
		}
		return 0
	})
	return rows
}

// keepLog copies the target's output to --target-log, if set.
func (t *target) keepLog(scenario string) {
	if *targetLog == "" {
		return
	}
	b, err := os.ReadFile(filepath.Join(t.dir, "output.log"))
	if err == nil {
		err = os.WriteFile(filepath.Join(*targetLog, scenario+"-"+t.name+".log"), b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside: --target-log:", err)
	}
}

// schedWait returns the time the threads of pid and its descendants have
// spent runnable but waiting for a CPU and the number of times they were
// put on one (the second and third fields of
// /proc/<pid>/task/<tid>/schedstat).
// Over a run, it shows how much of a relay's latency is scheduling: time
// its CPU gave to other processes.
func schedWait(pid int) (time.Duration, int64) {
	var total time.Duration
	var n int64
	seen := map[int]bool{}
	var walk func(p int)
	walk = func(p int) {
		if seen[p] {
			return
		}
		seen[p] = true
		dir := "/proc/" + strconv.Itoa(p) + "/task"
		tasks, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, t := range tasks {
			if b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat")); err == nil {
				if f := strings.Fields(string(b)); len(f) >= 3 {
					v, err1 := strconv.ParseInt(f[1], 10, 64)
					c, err2 := strconv.ParseInt(f[2], 10, 64)
					if err1 == nil && err2 == nil {
						total += time.Duration(v)
						n += c
					}
				}
			}
			if b, err := os.ReadFile(filepath.Join(dir, t.Name(), "children")); err == nil {
				for _, c := range strings.Fields(string(b)) {
					if cp, err := strconv.Atoi(c); err == nil {
						walk(cp)
					}
				}
			}
		}
	}
	walk(pid)
	return total, n
}
