package loadgen

import (
	"context"
	"sync"
	"time"
)

// runChurn runs Sessions workers, each opening a session pair (dial and
// AUTH both sides, or B only on the one-hop path), sending ChurnMessages
// messages through it, waiting for them at B and closing both
// connections, over and over. Class "session" is the whole life of one
// pair (setup, messages, close), "setup" the dial and AUTH part, "msg" the
// messages.
func (r *runner) runChurn(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	msg := &classState{name: "msg"}
	r.start = time.Now()
	r.warmup = cfg.Warmup
	meter := startCPU(cfg.PIDs, cfg.Warmup)
	runCtx, stop := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration)
	defer stop()
	progCtx, stopProg := context.WithCancel(ctx)
	defer stopProg()
	go r.progress(progCtx, []*classState{msg})

	var (
		mu            sync.Mutex
		setupH, lifeH Histogram
		sessions      uint64
		wg            sync.WaitGroup
	)
	for w := range cfg.Sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sh, lh Histogram
			var n uint64
			defer func() {
				mu.Lock()
				setupH.Merge(&sh)
				lifeH.Merge(&lh)
				sessions += n
				mu.Unlock()
			}()
			for i := 0; runCtx.Err() == nil; i++ {
				if cfg.Count > 0 && r.issued.Load() >= cfg.Count {
					stop()
					return
				}
				t0 := time.Now()
				// A session under way is finished even when the run ends.
				p, err := r.newPair(ctx, w*1_000_000+i, msg, cfg.Size, cfg.ChurnMessages, 0, nil)
				if err != nil {
					if ctx.Err() == nil {
						r.count("setup: " + shortErr(err))
						time.Sleep(10 * time.Millisecond)
					}
					r.closePair(p)
					continue
				}
				setup := time.Since(t0)
				for range cfg.ChurnMessages {
					p.sem <- struct{}{}
					r.issued.Add(1)
					ts := time.Since(r.start)
					if err := p.a.send(func(b []byte) []byte { return p.appendSend(b, ts) }); err != nil {
						p.release()
						r.count("conn: " + shortErr(err))
						break
					}
					msg.sent.Add(1)
				}
				// Wait for every message at B (bounded by Drain).
				deadline := time.Now().Add(cfg.Drain)
				for len(p.sem) > 0 && time.Now().Before(deadline) {
					time.Sleep(200 * time.Microsecond)
				}
				if k := len(p.sem); k > 0 {
					r.errMu.Lock()
					r.errs["timeout"] += uint64(k)
					r.errMu.Unlock()
				}
				r.closePair(p)
				if time.Since(r.start) >= r.warmup {
					sh.Record(setup)
					lh.Record(time.Since(t0))
					n++
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(r.start) - r.warmup
	cpu, cpuWall := meter.stop()
	stopProg()
	r.closeAll()
	res := &Result{Scenario: cfg.Scenario, Target: cfg.Relay, Mode: cfg.Mode, Sessions: cfg.Sessions,
		Window: cfg.ChurnMessages, ChunkSize: cfg.Size, Elapsed: elapsed, Errors: r.errs, TargetCPU: cpu, TargetCPUWall: cpuWall}
	res.Classes = append(res.Classes,
		newClass("session", sessions, 0, &lifeH, elapsed),
		newClass("setup", sessions, 0, &setupH, elapsed),
		newClass("msg", msg.delivered.Load(), msg.bytes.Load(), &msg.hist, elapsed))
	return res, ctx.Err()
}

// closePair closes a churned pair's connections and forgets them.
func (r *runner) closePair(p *pair) {
	if p == nil {
		return
	}
	for _, c := range []*wconn{p.a, p.b} {
		if c != nil {
			c.closeQuiet()
			r.untrack(c)
		}
	}
}
