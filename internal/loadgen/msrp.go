package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/msrp"
)

// MSRP paths (RFC 4976 §5.1).
const (
	// TwoHop: A and B both AUTH with the relay; A's SENDs carry To-Path
	// A's Use-Path, B's Use-Path, B. On one relay this is the standard
	// path of two clients of the same relay.
	TwoHop = "two-hop"
	// OneHop: only B AUTHs; A connects to the relay without a session and
	// sends To-Path B's Use-Path, B (one side relayed).
	OneHop = "one-hop"
	// Direct: no relay; A connects to a listener of the load generator
	// (B) itself. It measures the load generator's own ceiling.
	Direct = "direct"
)

// MSRP scenarios.
const (
	Small = "small" // small SENDs (Size, default 100 B) over many sessions
	Bulk  = "bulk"  // large single-chunk SENDs (Size = chunk size)
	Mixed = "mixed" // Bulk sessions plus paced chat sessions, chat latency measured apart
	Churn = "churn" // sessions opened (dial, AUTH), used for a few messages and closed
	Idle  = "idle"  // sessions opened and held; the target's memory per session
)

// MSRPConfig configures an MSRP run. Zero values mean the documented
// defaults.
type MSRPConfig struct {
	// Scenario is Small, Bulk, Mixed, Churn or Idle.
	Scenario string
	// Mode is TwoHop, OneHop or Direct (Idle and Churn need a relay).
	Mode string
	// Relay is the relay's host:port (not used with Direct). Its URI in
	// AUTH is msrp://Relay;tcp.
	Relay string
	// Users are the credentials used round robin: A sides take even
	// entries, B sides odd ones (one entry serves both). Required with a
	// relay.
	Users []msrp.Credentials
	// Expires is the lifetime asked for in AUTH; default 600 s (60 s for
	// Churn, so a relay that keeps sessions until they expire is not
	// flooded).
	Expires time.Duration
	// Sessions is the number of sending sessions (Churn: concurrent
	// workers; Idle: sessions held). Default 100 (Bulk, Mixed: 4; Churn:
	// 8; Idle: 1000).
	Sessions int
	// Window is the number of messages a session may have outstanding,
	// sent but not yet received at B (end to end: a relay's 200 is only
	// hop by hop, RFC 4976 §6.4.1). Default 8 (Bulk: 16).
	Window int
	// Size is the body size of each message in octets, sent as one chunk
	// with Byte-Range 1-Size/Size. Default 100 (Bulk, Mixed: 8192; keep
	// it ≤ 8 KiB when the target is Kamailio, which cannot handle frames
	// from about 11 KB).
	Size int
	// Count bounds the number of messages sent (0: no bound); Duration
	// bounds the sending time (default 10 s). The run stops at whichever
	// comes first, then waits up to Drain (default 5 s) for outstanding
	// messages; those still missing count as "timeout" errors.
	Count    uint64
	Duration time.Duration
	Drain    time.Duration
	// Warmup is discarded from the figures: messages received before it
	// has passed are not counted.
	Warmup time.Duration
	// Rate, when positive, paces the sending sessions to this many
	// messages per second in total (open loop within the window).
	Rate float64
	// ChatSessions, ChatRate (messages per second per session) and
	// ChatSize configure the chat side of Mixed. Defaults 20, 10, 100.
	ChatSessions int
	ChatRate     float64
	ChatSize     int
	// ChurnMessages is the number of messages each churned session sends
	// before it closes. Default 4.
	ChurnMessages int
	// SessionsPerConn is the number of AUTHs (sessions) on each connection
	// in Idle. Default 1 (one client, one connection).
	SessionsPerConn int
	// Settle is how long Idle waits after the last session opened before
	// it measures memory. Default 15 s (Parley's relay gives back idle
	// read buffers after 10 s).
	Settle time.Duration
	// PIDs are the target's processes; their descendants are included
	// (Kamailio forks workers). Idle reads their memory; the other
	// scenarios, when PIDs are given, their CPU time over the measured
	// period (Result.TargetCPU).
	PIDs []int
	// BeforeMeasure, if set, is called by Idle just before it reads the
	// target's memory after Settle (the side-by-side runner uses it to ask
	// Parley's relay to return freed memory to the OS).
	BeforeMeasure func()
	// Progress, when set, receives a progress line every ProgressEvery
	// (default 1 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Dial opens connections; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ProbeRate, when positive, adds ProbeSessions probe session pairs
	// (default 4) on the same path, sending 100-octet SENDs (Small's
	// shape, whatever the scenario) paced to ProbeRate messages per second in
	// total, window 8, with Message-IDs starting "probe-" (ProbeFilter
	// selects them). Their connections are bound to fixed local ports on
	// the loopback address, ProbePortBase, ProbePortBase+1, … (A and B of
	// pair i: base+2i and base+2i+1; 0: the first free block of 21000,
	// 22000, … 31000, below Linux's ephemeral range), so that a capture
	// filter can select probe traffic alone (AnalyzeWire measures the
	// relay's latency from it). The probes are class "probe" of the
	// result, timed by the load generator like the others. They need a
	// relay path and plain TCP, and run with Small, Bulk and Mixed.
	// ProbeOnly runs the probes without the scenario's own sessions.
	ProbeRate     float64
	ProbeSessions int
	ProbePortBase int
	ProbeOnly     bool
	// ProbeReady, if set, is called with the probe ports once the probe
	// sessions are open, before any message is sent (the side-by-side
	// runner starts its capture there); an error ends the run.
	ProbeReady func(ports []int) error
	// TLS, when set, makes every connection to the relay msrps (RFC 4975
	// §6, RFC 4976 §9.2): TLS from the first byte, with this client
	// configuration (RootCAs to verify the relay; ServerName defaults to
	// the relay's host), and msrps URIs for the relay and the clients.
	// Not with Direct.
	TLS *tls.Config
}

// ErrConfig is wrapped by every error about a configuration that cannot
// run (unknown scenario or path, missing relay or credentials, …).
var ErrConfig = errors.New("loadgen: bad configuration")

func (c *MSRPConfig) defaults() error {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	switch c.Scenario {
	case Small:
		def(&c.Sessions, 100)
		def(&c.Size, 100)
		def(&c.Window, 8)
	case Bulk, Mixed:
		def(&c.Sessions, 4)
		def(&c.Size, 8192)
		def(&c.Window, 16)
	case Churn:
		def(&c.Sessions, 8)
		def(&c.Size, 100)
		def(&c.ChurnMessages, 4)
		c.Window = c.ChurnMessages
		if c.Expires <= 0 {
			c.Expires = 60 * time.Second
		}
	case Idle:
		def(&c.Sessions, 1000)
		def(&c.SessionsPerConn, 1)
		if c.Settle <= 0 {
			c.Settle = 15 * time.Second
		}
	default:
		return fmt.Errorf("%w: unknown MSRP scenario %q (small, bulk, mixed, churn, idle)", ErrConfig, c.Scenario)
	}
	def(&c.ChatSessions, 20)
	def(&c.ChatSize, 100)
	if c.ChatRate <= 0 {
		c.ChatRate = 10
	}
	if c.Expires <= 0 {
		c.Expires = 600 * time.Second
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = 5 * time.Second
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = time.Second
	}
	if c.Mode == "" {
		c.Mode = TwoHop
	}
	switch c.Mode {
	case TwoHop, OneHop:
		if c.Relay == "" {
			return fmt.Errorf("%w: a relay address is needed for the %s path", ErrConfig, c.Mode)
		}
		if len(c.Users) == 0 {
			return fmt.Errorf("%w: relay credentials (Users) are needed", ErrConfig)
		}
	case Direct:
		if c.Scenario == Churn || c.Scenario == Idle {
			return fmt.Errorf("%w: scenario %s measures a relay; it has no direct mode", ErrConfig, c.Scenario)
		}
		if c.TLS != nil {
			return fmt.Errorf("%w: TLS is for connections to a relay; the direct path is plain TCP", ErrConfig)
		}
	default:
		return fmt.Errorf("%w: unknown MSRP path %q (two-hop, one-hop, direct)", ErrConfig, c.Mode)
	}
	if c.Size < 0 || c.Size > 64<<20 {
		return fmt.Errorf("%w: message size %d out of range", ErrConfig, c.Size)
	}
	if c.ProbeRate > 0 || c.ProbeOnly {
		def(&c.ProbeSessions, 4)
		switch {
		case c.ProbeRate <= 0:
			return fmt.Errorf("%w: ProbeOnly needs a ProbeRate", ErrConfig)
		case c.Mode == Direct:
			return fmt.Errorf("%w: probes measure a relay; the direct path has none", ErrConfig)
		case c.TLS != nil:
			return fmt.Errorf("%w: probes are plain TCP (a capture of msrps cannot be read)", ErrConfig)
		case c.Scenario != Small && c.Scenario != Bulk && c.Scenario != Mixed:
			return fmt.Errorf("%w: probes run with small, bulk and mixed, not %s", ErrConfig, c.Scenario)
		case c.ProbePortBase < 0 || c.ProbePortBase+2*c.ProbeSessions > 65536:
			return fmt.Errorf("%w: probe port base %d for %d sessions", ErrConfig, c.ProbePortBase, c.ProbeSessions)
		}
	}
	if c.Dial == nil {
		d := &net.Dialer{}
		c.Dial = d.DialContext
	}
	return nil
}

// classState is the shared state of one traffic class.
type classState struct {
	name      string
	delivered atomic.Uint64 // received at B after the warm-up
	bytes     atomic.Uint64
	sent      atomic.Uint64
	mu        sync.Mutex
	hist      Histogram // merged from the receivers' own histograms
}

func (cs *classState) merge(h *Histogram) {
	cs.mu.Lock()
	cs.hist.Merge(h)
	cs.mu.Unlock()
}

// runner is one MSRP run.
type runner struct {
	cfg    MSRPConfig
	start  time.Time
	warmup time.Duration
	relay  msrp.URI
	tls    *tls.Config // client TLS to the relay, nil for plain TCP

	errMu sync.Mutex
	errs  map[string]uint64

	lastRecv atomic.Int64 // since start
	issued   atomic.Uint64
	stopping atomic.Bool

	mu      sync.Mutex
	conns   map[*wconn]struct{}
	ln      net.Listener     // Direct mode's B listener
	bySess  map[string]*pair // direct mode: B's session id → pair
	readers sync.WaitGroup
	pairs   []*pair
}

func (r *runner) count(what string) {
	r.errMu.Lock()
	r.errs[what]++
	r.errMu.Unlock()
}

func (r *runner) errorCount() uint64 {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	var n uint64
	for _, v := range r.errs {
		n += v
	}
	return n
}

// pair is one sending session A and its receiving session B.
type pair struct {
	r    *runner
	cls  *classState
	a, b *wconn
	head []byte // To-Path and From-Path lines of A's SENDs
	sem  chan struct{}
	ids  idGen
	body []byte
	rate float64 // messages per second, 0 = unpaced
	bURI msrp.URI
	mid  string // Message-ID prefix: "" for "m", probePrefix+"m" for probes
}

// probePrefix starts the Message-IDs of probe messages.
const probePrefix = "probe-"

// release gives back one window slot (a message was received or failed).
func (p *pair) release() {
	select {
	case <-p.sem:
	default:
	}
}

var filler = []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

func makeBody(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = filler[i%len(filler)]
	}
	return b
}

// appendSend appends one whole SEND (RFC 4975 §7.1): the head is built
// from the precomputed paths, the Message-ID carries the send time (base
// 36 nanoseconds since the start of the run) so that B can compute the
// latency without any shared table.
func (p *pair) appendSend(b []byte, ts time.Duration) []byte {
	b = append(b, "MSRP "...)
	tidStart := len(b)
	b = p.ids.appendNext(b)
	tid := b[tidStart:]
	tidLen := len(tid)
	b = append(b, " SEND\r\n"...)
	b = append(b, p.head...)
	b = append(b, "Message-ID: "...)
	if p.mid == "" {
		b = append(b, 'm')
	} else {
		b = append(b, p.mid...)
	}
	b = strconv.AppendUint(b, uint64(ts), 36)
	b = append(b, '.')
	b = strconv.AppendUint(b, p.ids.n, 36)
	b = append(b, "\r\nByte-Range: 1-"...)
	n := uint64(len(p.body))
	b = strconv.AppendUint(b, n, 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, n, 10)
	b = append(b, "\r\nContent-Type: text/plain\r\n\r\n"...)
	b = append(b, p.body...)
	b = append(b, "\r\n-------"...)
	b = append(b, b[tidStart:tidStart+tidLen]...)
	return append(b, "$\r\n"...)
}

// sendTime parses the send time out of a Message-ID made by appendSend.
func sendTime(mid string) (time.Duration, bool) {
	mid = strings.TrimPrefix(mid, probePrefix)
	if len(mid) < 3 || mid[0] != 'm' {
		return 0, false
	}
	dot := strings.IndexByte(mid, '.')
	if dot < 2 {
		return 0, false
	}
	v, err := strconv.ParseUint(mid[1:dot], 36, 63)
	if err != nil {
		return 0, false
	}
	return time.Duration(v), true
}

// sendLoop sends until ctx ends, keeping at most Window messages
// outstanding.
func (p *pair) sendLoop(ctx context.Context, stop context.CancelFunc) {
	r := p.r
	var sent uint64
	for ctx.Err() == nil {
		if p.rate > 0 {
			now := time.Since(r.start)
			next := time.Duration(float64(sent) / p.rate * 1e9)
			if next > now {
				t := time.NewTimer(next - now)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
				continue
			}
		}
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if max := r.cfg.Count; max > 0 && r.issued.Add(1) > max {
			p.release()
			stop()
			return
		}
		ts := time.Since(r.start)
		if err := p.a.send(func(b []byte) []byte { return p.appendSend(b, ts) }); err != nil {
			p.release()
			if !r.stopping.Load() {
				r.count("conn: " + shortErr(err))
			}
			return
		}
		p.cls.sent.Add(1)
		sent++
	}
}

func shortErr(err error) string {
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Err != nil {
		err = ne.Err
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// appendOK appends the 200 response to a SEND (RFC 4975 §7.2): To-Path is
// the previous hop, From-Path this hop's URI.
func appendOK(b []byte, f *msrp.Frame) []byte {
	b = append(b, "MSRP "...)
	b = append(b, f.TID...)
	b = append(b, " 200 OK\r\nTo-Path: "...)
	b = f.FromPath[0].AppendTo(b)
	b = append(b, "\r\nFrom-Path: "...)
	b = f.ToPath[0].AppendTo(b)
	b = append(b, "\r\n-------"...)
	b = append(b, f.TID...)
	return append(b, "$\r\n"...)
}

// readLoop reads every frame of c until it fails. p is the pair whose A
// or B side c is; nil for connections accepted in Direct mode (the pair is
// found by B's session id). Latencies go into a histogram owned by this
// goroutine and merged into the class at the end.
func (r *runner) readLoop(c *wconn, p *pair) {
	defer r.readers.Done()
	var (
		f     msrp.Frame
		h     Histogram
		hcls  *classState
		delta uint64
		bytes uint64
	)
	flush := func() {
		if hcls != nil {
			hcls.delivered.Add(delta)
			hcls.bytes.Add(bytes)
			hcls.merge(&h)
		}
	}
	defer flush()
	for {
		err := c.r.ReadFrameInto(&f)
		if err != nil {
			var se *msrp.StatusError
			if errors.As(err, &se) {
				r.count("unparsable frame: " + strconv.Itoa(se.Code))
				continue
			}
			if !r.stopping.Load() && !c.quiet.Load() && !errors.Is(err, net.ErrClosed) {
				r.count("conn: " + shortErr(err))
			}
			// A failed connection loses what was outstanding on it.
			if p != nil && p.b == c {
				for len(p.sem) > 0 {
					p.release()
					if !r.stopping.Load() && !c.quiet.Load() {
						r.count("lost with connection")
					}
				}
			}
			return
		}
		n := 0
		if f.HasBody() {
			for {
				seg, err := c.r.NextBodySegment()
				if err != nil {
					if err == io.EOF {
						break
					}
					var se *msrp.StatusError
					if !errors.As(err, &se) {
						if !r.stopping.Load() {
							r.count("conn: " + shortErr(err))
						}
						return
					}
					r.count("oversized frame")
					break
				}
				n += len(seg)
			}
		}
		if !f.IsRequest() {
			// On A: the relay's hop-by-hop response. Anything but 200
			// means the message will not arrive.
			if f.StatusCode != msrp.StatusOK {
				if !r.stopping.Load() {
					r.count("status " + strconv.Itoa(f.StatusCode))
				}
				if p != nil {
					p.release()
				}
			}
			continue
		}
		switch f.Method {
		case msrp.MethodSEND:
			q := p
			if q == nil && len(f.ToPath) > 0 {
				r.mu.Lock()
				q = r.bySess[f.ToPath[len(f.ToPath)-1].SessionID]
				r.mu.Unlock()
				p = q
			}
			if f.FailureReportMode() == "yes" && len(f.FromPath) > 0 && len(f.ToPath) > 0 {
				c.send(func(b []byte) []byte { return appendOK(b, &f) })
			}
			if q == nil {
				r.count("SEND for an unknown session")
				continue
			}
			if hcls == nil {
				hcls = q.cls
			}
			now := time.Since(r.start)
			counted := now >= r.warmup
			if counted {
				bytes += uint64(n)
			}
			switch f.Flag {
			case msrp.FlagEnd:
				if ts, ok := sendTime(f.MessageID); ok && counted {
					h.Record(now - ts)
					delta++
				}
				r.lastRecv.Store(int64(now))
				q.release()
			case msrp.FlagAbort:
				r.count("aborted chunk")
				q.release()
			}
			// Publish the counters in small batches.
			if delta >= 16 || len(q.sem) == 0 {
				q.cls.delivered.Add(delta)
				q.cls.bytes.Add(bytes)
				delta, bytes = 0, 0
			}
		case msrp.MethodREPORT:
			if f.HasStatus && f.Status.Code != msrp.StatusOK {
				if !r.stopping.Load() {
					r.count("REPORT " + strconv.Itoa(f.Status.Code))
				}
				if p != nil && p.a == c {
					p.release()
				}
			}
		default:
			r.count("unexpected " + f.Method)
		}
	}
}
