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

	"github.com/parley-im/parley/sipua"
)

// SIPUser is one account on the SIP server under test.
type SIPUser struct {
	User, Password string
}

// SIPConfig configures a SIP pager-mode run (RFC 3428): Pairs sender and
// receiver UAs (package sipua, over sipgo) register with the server,
// then each sender sends MESSAGEs to its receiver through the server's
// proxy, one at a time (RFC 3428 §9: no overlapping MESSAGEs to one
// target), as fast as they are answered.
type SIPConfig struct {
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
	// Size is the text/plain body size; default 100.
	Size int
	// Count, Duration, Warmup and Progress are as in MSRPConfig.
	Count         uint64
	Duration      time.Duration
	Warmup        time.Duration
	Progress      io.Writer
	ProgressEvery time.Duration
}

// RunSIP runs the MESSAGE scenario. Class "msg" counts MESSAGEs answered
// 200 whose body reached the receiving UA; latency is from sending the
// MESSAGE to its final response (digest challenge included).
func RunSIP(ctx context.Context, cfg SIPConfig) (*Result, error) {
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
	var (
		received atomic.Uint64
		uas      []*sipua.UA
		mu       sync.Mutex
		errs     = map[string]uint64{}
	)
	count := func(s string) {
		mu.Lock()
		errs[s]++
		mu.Unlock()
	}
	defer func() {
		for _, ua := range uas {
			ua.Close()
		}
	}()
	start := time.Now()
	newUA := func(u SIPUser, recv bool) (*sipua.UA, error) {
		c := sipua.Config{AOR: "sip:" + u.User + "@" + cfg.Domain, Password: u.Password, Registrar: uri,
			OutboundProxy: uri, Listen: []sipua.Listen{{Transport: cfg.Transport, Addr: "127.0.0.1:0"}}, PagerLimit: -1}
		if recv {
			c.OnMessage = func(*sipua.Message) { received.Add(1) }
		}
		ua, err := sipua.New(c)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		uas = append(uas, ua)
		mu.Unlock()
		if err := ua.Start(ctx); err != nil {
			return nil, err
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := ua.Register(rctx); err != nil {
			return nil, fmt.Errorf("REGISTER %s: %w", c.AOR, err)
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
		issued, ok atomic.Uint64
		okAll      atomic.Uint64 // ok, warm-up included, to compare with received
		wg         sync.WaitGroup
		hist       Histogram
		lastDone   atomic.Int64
	)
	start = time.Now()
	runCtx, stop := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration)
	defer stop()
	if cfg.Progress != nil {
		go func() {
			t := time.NewTicker(cfg.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
					fmt.Fprintf(cfg.Progress, "loadgen: %5.1fs  MESSAGE sent %d  answered 200 %d  received %d\n",
						time.Since(start).Seconds(), issued.Load(), ok.Load(), received.Load())
				}
			}
		}()
	}
	for i := range cfg.Pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h Histogram
			defer func() {
				mu.Lock()
				hist.Merge(&h)
				mu.Unlock()
			}()
			for runCtx.Err() == nil {
				if cfg.Count > 0 && issued.Add(1) > cfg.Count {
					stop()
					return
				} else if cfg.Count == 0 {
					issued.Add(1)
				}
				t0 := time.Now()
				mctx, cancel := context.WithTimeout(ctx, 32*time.Second)
				res, err := senders[i].SendMessage(mctx, targets[i], "text/plain", body)
				cancel()
				switch {
				case err != nil:
					var se *sipua.StatusError
					if errors.As(err, &se) {
						count("status " + strconv.Itoa(se.Code))
					} else {
						count("error: " + shortErr(err))
					}
				case res.Disposition != sipua.Delivered:
					count("not delivered: " + res.Disposition.String())
				default:
					okAll.Add(1)
					now := time.Since(start)
					if now >= cfg.Warmup {
						h.Record(time.Since(t0))
						ok.Add(1)
						lastDone.Store(int64(now))
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Duration(lastDone.Load()) - cfg.Warmup
	// Receivers may see a MESSAGE a little after its 200 went out.
	deadline := time.Now().Add(2 * time.Second)
	for received.Load() < okAll.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if d := okAll.Load(); received.Load() < d {
		errs["answered 200 but not received"] += d - received.Load()
	}
	res := &Result{Scenario: "message", Target: cfg.Server, Mode: "sip-message/" + cfg.Transport, Sessions: cfg.Pairs,
		Window: 1, ChunkSize: cfg.Size, Elapsed: elapsed, Errors: errs}
	res.Classes = append(res.Classes, newClass("msg", ok.Load(), ok.Load()*uint64(cfg.Size), &hist, elapsed))
	return res, ctx.Err()
}
