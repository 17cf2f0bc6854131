package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what one run measured. It is encoded as JSON by WriteJSON
// (durations in microseconds, rates per second) and as a table by
// WriteTable.
type Result struct {
	Scenario string `json:"scenario"`
	// Target is the address driven; Mode the path ("two-hop", "one-hop",
	// "direct", "sip-message", "sip-invite").
	Target string `json:"target"`
	Mode   string `json:"mode"`
	// Sessions, Window and ChunkSize echo the configuration.
	Sessions  int `json:"sessions"`
	Window    int `json:"window,omitempty"`
	ChunkSize int `json:"chunk_size,omitempty"`
	// Elapsed is the measured time, from the first message sent to the
	// last one accounted for.
	Elapsed time.Duration `json:"-"`
	// Classes holds one line per kind of traffic: "msg" for the single
	// class of small, bulk and SIP runs, "bulk" and "chat" for mixed,
	// "session" (setup of a whole session) for churn.
	Classes []Class `json:"classes"`
	// Errors counts failures by cause: "status 481", "timeout" (sent but
	// never accounted for when the run ended), "conn" (a connection
	// failed), …
	Errors map[string]uint64 `json:"errors,omitempty"`
	// Idle is set by the idle scenario.
	Idle *IdleResult `json:"idle,omitempty"`
	// Large is set by the e2e-large scenario (RunLarge).
	Large *LargeResult `json:"large,omitempty"`
	// TargetCPU is the CPU time (user + system) the target's processes
	// used over TargetCPUWall, from the end of the warm-up to the end of
	// sending; zero when no PIDs were given.
	TargetCPU     time.Duration `json:"-"`
	TargetCPUWall time.Duration `json:"-"`
}

// CPUPerOp returns the target's CPU time per operation of class: its CPU
// rate divided by the class's rate (0 when either is unknown). It stays
// comparable between targets when the load generator limits the rate.
func (r *Result) CPUPerOp(class string) time.Duration {
	c := r.Class(class)
	if c == nil || c.Rate <= 0 || r.TargetCPUWall <= 0 {
		return 0
	}
	return time.Duration(float64(r.TargetCPU) / r.TargetCPUWall.Seconds() / c.Rate)
}

// Class is the outcome of one kind of traffic.
type Class struct {
	Name     string  `json:"name"`
	Count    uint64  `json:"count"`
	Bytes    uint64  `json:"bytes"`
	Rate     float64 `json:"per_sec"`
	MBPerSec float64 `json:"mb_per_sec"`
	Latency  Latency `json:"latency_us"`
	hist     *Histogram
}

// Latency summarises a Histogram; JSON values are microseconds.
type Latency struct {
	Min, P50, P90, P99, P999, Max, Mean time.Duration
}

// MarshalJSON writes microseconds with 0.1 µs resolution.
func (l Latency) MarshalJSON() ([]byte, error) {
	us := func(d time.Duration) float64 { return float64(d/100) / 10 }
	return json.Marshal(map[string]float64{
		"min": us(l.Min), "p50": us(l.P50), "p90": us(l.P90), "p99": us(l.P99),
		"p99.9": us(l.P999), "max": us(l.Max), "mean": us(l.Mean),
	})
}

// IdleResult is the memory the target used for the sessions held open.
type IdleResult struct {
	Sessions    int `json:"sessions"`
	Connections int `json:"connections"`
	// PIDs are the processes measured (the target and its descendants).
	PIDs []int `json:"pids"`
	// Before and After are the summed RSS and PSS (kB of /proc) before the
	// sessions were opened and after they settled.
	RSSBeforeKB, RSSAfterKB int64 `json:"-"`
	PSSBeforeKB, PSSAfterKB int64 `json:"-"`
	// PerSessionRSS and PerSessionPSS are (After-Before)/Sessions in bytes.
	PerSessionRSS float64       `json:"bytes_per_session_rss"`
	PerSessionPSS float64       `json:"bytes_per_session_pss"`
	Settle        time.Duration `json:"-"`
}

// MarshalJSON adds the kB figures and the settle time.
func (r *IdleResult) MarshalJSON() ([]byte, error) {
	type plain IdleResult
	return json.Marshal(struct {
		*plain
		RSSBefore int64   `json:"rss_before_kb"`
		RSSAfter  int64   `json:"rss_after_kb"`
		PSSBefore int64   `json:"pss_before_kb"`
		PSSAfter  int64   `json:"pss_after_kb"`
		Settle    float64 `json:"settle_s"`
	}{(*plain)(r), r.RSSBeforeKB, r.RSSAfterKB, r.PSSBeforeKB, r.PSSAfterKB, r.Settle.Seconds()})
}

// MarshalJSON adds elapsed seconds.
func (r *Result) MarshalJSON() ([]byte, error) {
	type plain Result
	var cpu map[string]float64
	if r.TargetCPUWall > 0 {
		cpu = map[string]float64{"cpu_s": r.TargetCPU.Seconds(), "wall_s": r.TargetCPUWall.Seconds(),
			"cores": r.TargetCPU.Seconds() / r.TargetCPUWall.Seconds()}
		for _, c := range r.Classes {
			if d := r.CPUPerOp(c.Name); d > 0 {
				cpu["us_per_"+c.Name] = float64(d/100) / 10
			}
		}
	}
	return json.Marshal(struct {
		*plain
		ElapsedS  float64            `json:"elapsed_s"`
		TargetCPU map[string]float64 `json:"target_cpu,omitempty"`
	}{(*plain)(r), r.Elapsed.Seconds(), cpu})
}

// Class returns the class named name, or nil.
func (r *Result) Class(name string) *Class {
	for i := range r.Classes {
		if r.Classes[i].Name == name {
			return &r.Classes[i]
		}
	}
	return nil
}

// ErrorCount returns the total of Errors.
func (r *Result) ErrorCount() uint64 {
	var n uint64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// newClass summarises h, count and bytes over elapsed.
func newClass(name string, count, bytes uint64, h *Histogram, elapsed time.Duration) Class {
	c := Class{Name: name, Count: count, Bytes: bytes, hist: h}
	if s := elapsed.Seconds(); s > 0 {
		c.Rate = float64(count) / s
		c.MBPerSec = float64(bytes) / s / 1e6
	}
	if h != nil {
		c.Latency = Latency{Min: h.Min(), P50: h.Quantile(0.5), P90: h.Quantile(0.9), P99: h.Quantile(0.99),
			P999: h.Quantile(0.999), Max: h.Max(), Mean: h.Mean()}
	}
	return c
}

// WriteJSON writes r as one indented JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// fmtDur prints a latency with three significant digits in a unit that
// suits it.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.3gs", d.Seconds())
	}
}

// WriteTable writes r as a human-readable table.
func (r *Result) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s, %s to %s, %d sessions", r.Scenario, r.Mode, r.Target, r.Sessions)
	if r.Window > 0 {
		fmt.Fprintf(&b, ", window %d", r.Window)
	}
	if r.ChunkSize > 0 {
		fmt.Fprintf(&b, ", %d B per message", r.ChunkSize)
	}
	fmt.Fprintf(&b, ", %.2f s\n", r.Elapsed.Seconds())
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\tcount\trate/s\tMB/s\tp50\tp99\tp99.9\tmax\t")
	for _, c := range r.Classes {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%s\t%s\t%s\t%s\t\n", c.Name, c.Count, c.Rate, c.MBPerSec,
			fmtDur(c.Latency.P50), fmtDur(c.Latency.P99), fmtDur(c.Latency.P999), fmtDur(c.Latency.Max))
	}
	tw.Flush()
	if r.Idle != nil {
		i := r.Idle
		fmt.Fprintf(&b, "idle: %d sessions on %d connections, pids %v, settle %s\n", i.Sessions, i.Connections, i.PIDs, i.Settle)
		fmt.Fprintf(&b, "  RSS %d kB -> %d kB: %.0f B/session; PSS %d kB -> %d kB: %.0f B/session\n",
			i.RSSBeforeKB, i.RSSAfterKB, i.PerSessionRSS, i.PSSBeforeKB, i.PSSAfterKB, i.PerSessionPSS)
	}
	if r.Large != nil {
		b.WriteString(r.Large.String())
	}
	if r.TargetCPUWall > 0 && len(r.Classes) > 0 {
		c := r.Classes[0]
		fmt.Fprintf(&b, "target CPU: %.2f s over %.2f s (%.2f cores), %s per %s\n", r.TargetCPU.Seconds(),
			r.TargetCPUWall.Seconds(), r.TargetCPU.Seconds()/r.TargetCPUWall.Seconds(), fmtDur(r.CPUPerOp(c.Name)), c.Name)
	}
	if len(r.Errors) == 0 {
		b.WriteString("errors: none\n")
	} else {
		b.WriteString("errors:")
		for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
			fmt.Fprintf(&b, " %s=%d", k, r.Errors[k])
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String is the two-line summary of the figures and verdicts.
func (l *LargeResult) String() string {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	reset := "reset before the transfer"
	if !l.PeakReset {
		reset = "since the process started"
	}
	return fmt.Sprintf("raw loopback TCP: %.1f MB/s before, %.1f MB/s after; MSRP %.1f MB/s = %.2f× the faster (target ≥ %.2f×: %s)\n"+
		"CPU: raw %.2f s / %.2f s, MSRP %.2f s: MSRP has %.2f× raw TCP's efficiency\n"+
		"peak RSS (VmHWM, %s): %.1f MiB (target ≤ %.0f MiB: %s)\n",
		l.RawMBps[0], l.RawMBps[1], l.MSRPMBps, l.Ratio, l.MinRatio, verdict(l.RatioMet),
		l.RawCPU[0], l.RawCPU[1], l.MSRPCPU, l.CPURatio,
		reset, float64(l.PeakRSS)/(1<<20), float64(l.MaxRSS)/(1<<20), verdict(l.RSSMet))
}
