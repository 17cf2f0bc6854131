package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

// SIP scenarios.
const (
	// SIPMessage: pager-mode MESSAGEs (RFC 3428), one outstanding per pair.
	SIPMessage = "message"
	// SIPInvite: whole session-mode calls, INVITE with an m=message MSRP
	// offer → 200 → ACK → BYE → 200, one call at a time per pair.
	SIPInvite = "invite"
)

// SIPUser is one account on the SIP server under test.
type SIPUser struct {
	User, Password string
}

// SIPConfig configures a SIP run. Pairs caller and callee UAs (package
// sipua, over sipgo) register with the server; then each caller, one
// request at a time, either sends MESSAGEs to its callee through the
// server's proxy (SIPMessage, RFC 3428 §9: no overlapping MESSAGEs to one
// target) or places whole calls to it (SIPInvite), as fast as they are
// answered.
type SIPConfig struct {
	// Scenario is SIPMessage (default) or SIPInvite.
	Scenario string
	// Server is the registrar and outbound proxy, host:port.
	Server string
	// Domain is the AOR domain; default the Server's host.
	Domain string
	// Transport is udp or tcp; default udp.
	Transport string
	// Users are taken in pairs: senders even entries, receivers odd ones.
	// At least 2·Pairs entries are needed (a receiver must be a distinct
	// registration).
	Users []SIPUser
	// Pairs is the number of concurrent sender→receiver pairs; default 8.
	Pairs int
	// Size is the text/plain body size of SIPMessage; default 100.
	Size int
	// Count, Duration, Warmup and Progress are as in MSRPConfig (Count
	// counts MESSAGEs or calls).
	Count         uint64
	Duration      time.Duration
	Warmup        time.Duration
	Progress      io.Writer
	ProgressEvery time.Duration
	// PIDs, if set, are the server's processes (descendants included):
	// their CPU time over the measured period goes in Result.TargetCPU.
	PIDs []int
}

// sipRun is the state shared by the scenarios' workers.
type sipRun struct {
	cfg      SIPConfig
	start    time.Time
	issued   atomic.Uint64
	ok       atomic.Uint64 // counted after the warm-up
	okAll    atomic.Uint64 // warm-up included, to compare with the callee's count
	received atomic.Uint64 // MESSAGEs or calls seen by the callees
	lastDone atomic.Int64

	mu   sync.Mutex
	errs map[string]uint64
}

func (r *sipRun) count(s string) {
	r.mu.Lock()
	r.errs[s]++
	r.mu.Unlock()
}

// countErr files err under its SIP status ("INVITE status 404") or a
// short cause.
func (r *sipRun) countErr(method string, err error) {
	var se *sipua.StatusError
	if errors.As(err, &se) {
		r.count(method + " status " + strconv.Itoa(se.Code))
		return
	}
	r.count(method + " error: " + shortErr(err))
}

// next reports whether another request may be issued (Count not reached);
// when it is reached it stops the run.
func (r *sipRun) next(stop context.CancelFunc) bool {
	if r.cfg.Count == 0 {
		r.issued.Add(1)
		return true
	}
	if r.issued.Add(1) > r.cfg.Count {
		stop()
		return false
	}
	return true
}

// done records one success that took d; it reports whether it fell after
// the warm-up (and was counted).
func (r *sipRun) done() bool {
	r.okAll.Add(1)
	now := time.Since(r.start)
	if now < r.cfg.Warmup {
		return false
	}
	r.ok.Add(1)
	r.lastDone.Store(int64(now))
	return true
}

// RunSIP runs a SIP scenario.
//
// SIPMessage: class "msg" counts MESSAGEs answered 200 whose body reached
// the receiving UA; latency is from sending the MESSAGE to its final
// response (digest challenge included).
//
// SIPInvite: every UA has an MSRP endpoint (package msrp, TCP on
// loopback); callees answer every call at once. Class "call" counts calls
// completed (INVITE answered 200, ACK sent, the MSRP session opened, BYE
// answered 200); its rate is calls/s and its latency the setup time, from
// the INVITE to the session being open (407 challenge, 200, ACK and the
// MSRP connection and binding SEND, RFC 4975 §5.4). Class "bye" has the
// BYE round trip. A call counts only if its callee saw it end by the BYE.
func RunSIP(ctx context.Context, cfg SIPConfig) (*Result, error) {
	if cfg.Scenario == "" {
		cfg.Scenario = SIPMessage
	}
	if cfg.Scenario != SIPMessage && cfg.Scenario != SIPInvite {
		return nil, fmt.Errorf("%w: unknown SIP scenario %q (want %s or %s)", ErrConfig, cfg.Scenario, SIPMessage, SIPInvite)
	}
	if cfg.Pairs <= 0 {
		cfg.Pairs = 8
	}
	if cfg.Size <= 0 {
		cfg.Size = 100
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = time.Second
	}
	if cfg.Transport == "" {
		cfg.Transport = sipua.UDP
	}
	if len(cfg.Users) < 2*cfg.Pairs {
		return nil, fmt.Errorf("%w: %d SIP pairs need %d accounts, got %d", ErrConfig, cfg.Pairs, 2*cfg.Pairs, len(cfg.Users))
	}
	host, _, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("%w: SIP server address: %w", ErrConfig, err)
	}
	if cfg.Domain == "" {
		cfg.Domain = host
	}
	uri := "sip:" + cfg.Server
	if cfg.Transport != sipua.UDP {
		uri += ";transport=" + cfg.Transport
	}
	invite := cfg.Scenario == SIPInvite
	r := &sipRun{cfg: cfg, errs: map[string]uint64{}}
	var (
		uas     []*sipua.UA
		eps     []*msrp.Endpoint
		watches sync.WaitGroup // callee goroutines waiting for each call's end
	)
	defer func() {
		for _, ua := range uas {
			ua.Close()
		}
		watches.Wait()
		for _, ep := range eps {
			ep.Close()
		}
	}()
	newUA := func(u SIPUser, recv bool) (*sipua.UA, error) {
		c := sipua.Config{AOR: "sip:" + u.User + "@" + cfg.Domain, Password: u.Password, Registrar: uri,
			OutboundProxy: uri, Listen: []sipua.Listen{{Transport: cfg.Transport, Addr: "127.0.0.1:0"}}, PagerLimit: -1}
		if invite {
			ep, err := msrp.NewEndpoint(msrp.Config{Host: "127.0.0.1"})
			if err != nil {
				return nil, err
			}
			r.mu.Lock()
			eps = append(eps, ep)
			r.mu.Unlock()
			if _, err := ep.Listen(ctx, "tcp", "127.0.0.1:0"); err != nil {
				return nil, err
			}
			c.Endpoints = []session.Endpoint{ep}
			if recv {
				c.AutoAnswer = true
				c.OnCall = func(call *sipua.Call) {
					watches.Add(1)
					go func() {
						defer watches.Done()
						<-call.Done()
						if errors.Is(call.Err(), sipua.ErrRemoteHangup) {
							r.received.Add(1)
						}
					}()
				}
			}
		} else if recv {
			c.OnMessage = func(*sipua.Message) { r.received.Add(1) }
		}
		ua, err := sipua.New(c)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		uas = append(uas, ua)
		r.mu.Unlock()
		// Start listens and registers (Config.Registrar is set).
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := ua.Start(sctx); err != nil {
			return nil, fmt.Errorf("start and REGISTER %s: %w", c.AOR, err)
		}
		return ua, nil
	}
	senders := make([]*sipua.UA, cfg.Pairs)
	targets := make([]string, cfg.Pairs)
	for i := range cfg.Pairs {
		if senders[i], err = newUA(cfg.Users[2*i], false); err != nil {
			return nil, err
		}
		if _, err = newUA(cfg.Users[2*i+1], true); err != nil {
			return nil, err
		}
		targets[i] = "sip:" + cfg.Users[2*i+1].User + "@" + cfg.Domain
	}
	body := makeBody(cfg.Size)
	var (
		wg            sync.WaitGroup
		hist, byeHist Histogram
	)
	r.start = time.Now()
	meter := startCPU(cfg.PIDs, cfg.Warmup)
	runCtx, stop := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration)
	defer stop()
	if cfg.Progress != nil {
		what, answered, seen := "MESSAGE sent", "answered 200", "received"
		if invite {
			what, answered, seen = "calls started", "completed", "ended at callee"
		}
		go func() {
			t := time.NewTicker(cfg.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
					fmt.Fprintf(cfg.Progress, "loadgen: %5.1fs  %s %d  %s %d  %s %d  errors %d\n",
						time.Since(r.start).Seconds(), what, r.issued.Load(), answered, r.ok.Load(), seen, r.received.Load(), r.errorCount())
				}
			}
		}()
	}
	for i := range cfg.Pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h, hb Histogram
			defer func() {
				r.mu.Lock()
				hist.Merge(&h)
				byeHist.Merge(&hb)
				r.mu.Unlock()
			}()
			for runCtx.Err() == nil && r.next(stop) {
				if invite {
					r.call(ctx, senders[i], targets[i], &h, &hb)
				} else {
					r.message(ctx, senders[i], targets[i], body, &h)
				}
			}
		}()
	}
	wg.Wait()
	cpu, cpuWall := meter.stop()
	elapsed := time.Duration(r.lastDone.Load()) - cfg.Warmup
	// Receivers may see a MESSAGE (or the BYE) a little after the final
	// response went out.
	deadline := time.Now().Add(2 * time.Second)
	for r.received.Load() < r.okAll.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if d, got := r.okAll.Load(), r.received.Load(); got < d {
		if invite {
			r.errs["completed but the callee saw no BYE"] += d - got
		} else {
			r.errs["answered 200 but not received"] += d - got
		}
	}
	res := &Result{Scenario: cfg.Scenario, Target: cfg.Server, Mode: "sip-" + cfg.Scenario + "/" + cfg.Transport,
		Sessions: cfg.Pairs, Window: 1, Elapsed: elapsed, Errors: r.errs, TargetCPU: cpu, TargetCPUWall: cpuWall}
	if invite {
		res.Classes = append(res.Classes, newClass("call", r.ok.Load(), 0, &hist, elapsed),
			newClass("bye", r.ok.Load(), 0, &byeHist, elapsed))
	} else {
		res.ChunkSize = cfg.Size
		res.Classes = append(res.Classes, newClass("msg", r.ok.Load(), r.ok.Load()*uint64(cfg.Size), &hist, elapsed))
	}
	return res, ctx.Err()
}

func (r *sipRun) errorCount() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n uint64
	for _, c := range r.errs {
		n += c
	}
	return n
}

// message sends one MESSAGE and records its outcome.
func (r *sipRun) message(ctx context.Context, ua *sipua.UA, target string, body []byte, h *Histogram) {
	t0 := time.Now()
	mctx, cancel := context.WithTimeout(ctx, 32*time.Second)
	res, err := ua.SendMessage(mctx, target, "text/plain", body)
	cancel()
	switch {
	case err != nil:
		r.countErr("MESSAGE", err)
	case res.Disposition != sipua.Delivered:
		r.count("not delivered: " + res.Disposition.String())
	default:
		if r.done() {
			h.Record(time.Since(t0))
		}
	}
}

// call places one call and hangs it up at once: INVITE (challenged 407 by
// a server that authenticates, answered by the callee's 200), ACK, the
// MSRP session opened, then BYE.
func (r *sipRun) call(ctx context.Context, ua *sipua.UA, target string, setup, bye *Histogram) {
	t0 := time.Now()
	ictx, cancel := context.WithTimeout(ctx, 32*time.Second)
	defer cancel()
	c, err := ua.Invite(ictx, target, sipua.InviteOptions{})
	if err != nil {
		r.countErr("INVITE", err)
		return
	}
	d := time.Since(t0)
	t1 := time.Now()
	if err := c.Hangup(ictx); err != nil {
		r.countErr("BYE", err)
		return
	}
	db := time.Since(t1)
	if r.done() {
		setup.Record(d)
		bye.Record(db)
	}
}
