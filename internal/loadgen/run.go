package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/parley-im/parley/msrp"
)

// RunMSRP runs one MSRP scenario and returns what it measured. It stops
// by itself after cfg.Count messages or cfg.Duration, whichever comes
// first, or when ctx ends (the figures so far are returned then, with
// ctx's error).
func RunMSRP(ctx context.Context, cfg MSRPConfig) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, errs: map[string]uint64{}, bySess: map[string]*pair{}, conns: map[*wconn]struct{}{}}
	if cfg.Mode != Direct {
		host, port, err := net.SplitHostPort(cfg.Relay)
		if err != nil {
			return nil, fmt.Errorf("%w: relay address: %w", ErrConfig, err)
		}
		pn, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("%w: relay port: %w", ErrConfig, err)
		}
		r.relay = msrp.URI{Secure: cfg.TLS != nil, Host: host, Port: pn, Transport: "tcp"}
		if cfg.TLS != nil {
			r.tls = cfg.TLS.Clone()
			if r.tls.ServerName == "" {
				r.tls.ServerName = host
			}
		}
	}
	defer r.closeAll()
	switch cfg.Scenario {
	case Churn:
		return r.runChurn(ctx)
	case Idle:
		return r.runIdle(ctx)
	}
	return r.runSteady(ctx)
}

func (r *runner) track(c *wconn) {
	r.mu.Lock()
	r.conns[c] = struct{}{}
	r.mu.Unlock()
}

func (r *runner) untrack(c *wconn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

func (r *runner) closeAll() {
	r.stopping.Store(true)
	r.mu.Lock()
	if r.ln != nil {
		r.ln.Close()
	}
	conns := r.conns
	r.conns = map[*wconn]struct{}{}
	r.mu.Unlock()
	for c := range conns {
		c.close()
	}
	r.readers.Wait()
}

func (r *runner) dial(ctx context.Context, addr string) (*wconn, error) {
	return r.dialFrom(ctx, addr, 0)
}

// dialFrom connects to addr; from local port lport on the loopback
// address when lport > 0 (probe connections), else through cfg.Dial.
func (r *runner) dialFrom(ctx context.Context, addr string, lport int) (*wconn, error) {
	var nc net.Conn
	var err error
	if lport > 0 {
		nc, err = dialFrom(ctx, addr, lport)
	} else {
		nc, err = r.cfg.Dial(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if r.tls != nil {
		tc := tls.Client(nc, r.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	c := newWconn(nc)
	r.track(c)
	return c, nil
}

// auth obtains a Use-Path for a fresh session id on c (RFC 4976 §5.1).
func (r *runner) auth(ctx context.Context, c *wconn, user int) (self msrp.URI, usePath []msrp.URI, err error) {
	self = c.local
	self.SessionID = msrp.NewSessionID()
	cred := r.cfg.Users[user%len(r.cfg.Users)]
	ra, err := msrp.Authenticate(ctx, roundTripper{c}, r.relay, cred, msrp.AuthOptions{From: self, Expires: r.cfg.Expires})
	if err != nil {
		return self, nil, err
	}
	return self, ra.UsePath, nil
}

func appendPathLine(b []byte, name string, p []msrp.URI) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = msrp.AppendPath(b, p)
	return append(b, "\r\n"...)
}

// pairSpec is what setupPairs needs to know about a class of pairs.
type pairSpec struct {
	cls          *classState
	size, window int
	rate         float64 // per pair
	ln           net.Listener
	// portBase > 0 binds A and B of pair i to local ports portBase+2i and
	// portBase+2i+1 (probes); mid is the Message-ID prefix.
	portBase int
	mid      string
}

// newPair sets up one session pair on the configured path and starts its
// connections' goroutines.
func (r *runner) newPair(ctx context.Context, idx int, cls *classState, size, window int, rate float64, ln net.Listener) (*pair, error) {
	return r.newPairSpec(ctx, idx, 0, pairSpec{cls: cls, size: size, window: window, rate: rate, ln: ln})
}

// newPairSpec is newPair for pair i of a class described by sp.
func (r *runner) newPairSpec(ctx context.Context, idx, i int, sp pairSpec) (*pair, error) {
	p := &pair{r: r, cls: sp.cls, sem: make(chan struct{}, sp.window), ids: newIDGen(), body: makeBody(sp.size), rate: sp.rate, mid: sp.mid}
	ln := sp.ln
	aPort, bPort := 0, 0
	if sp.portBase > 0 {
		aPort, bPort = sp.portBase+2*i, sp.portBase+2*i+1
	}
	var toPath []msrp.URI
	var aURI msrp.URI
	switch r.cfg.Mode {
	case Direct:
		a, err := r.dial(ctx, ln.Addr().String())
		if err != nil {
			return nil, err
		}
		p.a = a
		aURI = a.local
		aURI.SessionID = msrp.NewSessionID()
		ta := ln.Addr().(*net.TCPAddr)
		p.bURI = msrp.URI{Host: ta.IP.String(), Port: ta.Port, SessionID: msrp.NewSessionID(), Transport: "tcp"}
		r.mu.Lock()
		r.bySess[p.bURI.SessionID] = p
		r.mu.Unlock()
		toPath = []msrp.URI{p.bURI}
	default:
		b, err := r.dialFrom(ctx, r.relay.HostPort(), bPort)
		if err != nil {
			return nil, err
		}
		p.b = b
		bSelf, bUse, err := r.auth(ctx, b, 2*idx+1)
		if err != nil {
			return nil, fmt.Errorf("AUTH for B: %w", err)
		}
		p.bURI = bSelf
		a, err := r.dialFrom(ctx, r.relay.HostPort(), aPort)
		if err != nil {
			return nil, err
		}
		p.a = a
		if r.cfg.Mode == TwoHop {
			aSelf, aUse, err := r.auth(ctx, a, 2*idx)
			if err != nil {
				return nil, fmt.Errorf("AUTH for A: %w", err)
			}
			aURI = aSelf
			toPath = append(append(append(toPath, aUse...), bUse...), bSelf)
		} else {
			aURI = a.local
			aURI.SessionID = msrp.NewSessionID()
			toPath = append(append(toPath, bUse...), bSelf)
		}
	}
	p.head = appendPathLine(nil, "To-Path", toPath)
	p.head = appendPathLine(p.head, "From-Path", []msrp.URI{aURI})
	for _, c := range []*wconn{p.a, p.b} {
		if c == nil {
			continue
		}
		c.start()
		r.readers.Add(1)
		go r.readLoop(c, p)
	}
	return p, nil
}

// listen starts B's listener for Direct mode.
func (r *runner) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	r.readers.Add(1)
	go func() {
		defer r.readers.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := newWconn(nc)
			r.track(c)
			if r.stopping.Load() {
				c.close()
				continue
			}
			c.start()
			r.readers.Add(1)
			go r.readLoop(c, nil)
		}
	}()
	return ln, nil
}

// setupPairs creates n pairs of class cls with bounded concurrency.
func (r *runner) setupPairs(ctx context.Context, n int, sp pairSpec) ([]*pair, error) {
	pairs := make([]*pair, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	base := len(r.pairs)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pairs[i], errs[i] = r.newPairSpec(ctx, base+i, i, sp)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("loadgen: session setup: %w", err)
	}
	r.pairs = append(r.pairs, pairs...)
	return pairs, nil
}

// progress prints a line every ProgressEvery until ctx ends.
func (r *runner) progress(ctx context.Context, classes []*classState) {
	if r.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	var last uint64
	lastT := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var d, sent uint64
			for _, c := range classes {
				d += c.delivered.Load()
				sent += c.sent.Load()
			}
			out := 0
			for _, p := range r.pairs {
				out += len(p.sem)
			}
			rate := float64(d-last) / now.Sub(lastT).Seconds()
			last, lastT = d, now
			fmt.Fprintf(r.cfg.Progress, "loadgen: %5.1fs  sent %d  received %d (%.0f/s)  outstanding %d  errors %d\n",
				time.Since(r.start).Seconds(), sent, d, rate, out, r.errorCount())
		}
	}
}

// runSteady runs Small, Bulk and Mixed.
func (r *runner) runSteady(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	var ln net.Listener
	if cfg.Mode == Direct {
		var err error
		if ln, err = r.listen(); err != nil {
			return nil, err
		}
		defer ln.Close()
	}
	name := "msg"
	if cfg.Scenario == Mixed {
		name = "bulk"
	}
	var classes []*classState
	if !cfg.ProbeOnly {
		main := &classState{name: name}
		classes = append(classes, main)
		rate := 0.0
		if cfg.Rate > 0 {
			rate = cfg.Rate / float64(cfg.Sessions)
		}
		if _, err := r.setupPairs(ctx, cfg.Sessions, pairSpec{cls: main, size: cfg.Size, window: cfg.Window, rate: rate, ln: ln}); err != nil {
			return nil, err
		}
		if cfg.Scenario == Mixed {
			chat := &classState{name: "chat"}
			classes = append(classes, chat)
			if _, err := r.setupPairs(ctx, cfg.ChatSessions, pairSpec{cls: chat, size: cfg.ChatSize, window: 1, rate: cfg.ChatRate, ln: ln}); err != nil {
				return nil, err
			}
		}
	}
	if cfg.ProbeRate > 0 {
		probe := &classState{name: "probe"}
		classes = append(classes, probe)
		probePorts, err := r.setupProbes(ctx, probe)
		if err != nil {
			return nil, err
		}
		if cfg.ProbeReady != nil {
			if err := cfg.ProbeReady(probePorts); err != nil {
				return nil, fmt.Errorf("loadgen: probes: %w", err)
			}
		}
	}
	r.start = time.Now()
	r.warmup = cfg.Warmup
	meter := startCPU(cfg.PIDs, cfg.Warmup)
	sendCtx, stop := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration)
	defer stop()
	progCtx, stopProg := context.WithCancel(ctx)
	go r.progress(progCtx, classes)
	var wg sync.WaitGroup
	for _, p := range r.pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.sendLoop(sendCtx, stop)
		}()
	}
	wg.Wait()
	sendEnd := time.Since(r.start)
	cpu, cpuWall := meter.stop()
	r.drain(ctx)
	stopProg()
	r.closeAll()
	elapsed := time.Duration(r.lastRecv.Load()) - r.warmup
	if elapsed <= 0 {
		elapsed = sendEnd - r.warmup
	}
	res := &Result{Scenario: cfg.Scenario, Target: r.targetName(ln), Mode: cfg.Mode, Sessions: cfg.Sessions,
		Window: cfg.Window, ChunkSize: cfg.Size, Elapsed: elapsed, Errors: r.errs, TargetCPU: cpu, TargetCPUWall: cpuWall}
	if cfg.ProbeOnly {
		res.Sessions = 0
	}
	for _, c := range classes {
		res.Classes = append(res.Classes, newClass(c.name, c.delivered.Load(), c.bytes.Load(), &c.hist, elapsed))
	}
	if c := res.Class("chat"); c != nil {
		// The chat rate is paced; its count matters, its rate less so.
		c.MBPerSec = float64(c.Bytes) / elapsed.Seconds() / 1e6
	}
	return res, ctx.Err()
}

func (r *runner) targetName(ln net.Listener) string {
	if ln != nil {
		return ln.Addr().String() + " (load generator itself)"
	}
	return r.cfg.Relay
}

// drain waits up to Drain for outstanding messages, then counts the rest
// as timeouts.
func (r *runner) drain(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.Drain)
	for {
		out := 0
		for _, p := range r.pairs {
			out += len(p.sem)
		}
		if out == 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.errMu.Lock()
			r.errs["timeout"] += uint64(out)
			r.errMu.Unlock()
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
