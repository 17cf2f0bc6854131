package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runIdle opens Sessions relay sessions (AUTH, SessionsPerConn per
// connection), holds them for Settle and reports how much the target's
// processes grew per session.
func (r *runner) runIdle(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	if len(cfg.PIDs) == 0 {
		return nil, fmt.Errorf("%w: the idle scenario needs the target's process id (--pid)", ErrConfig)
	}
	pids := WithDescendants(cfg.PIDs)
	before, err := Memory(pids)
	if err != nil {
		return nil, err
	}
	nconn := (cfg.Sessions + cfg.SessionsPerConn - 1) / cfg.SessionsPerConn
	setup := &classState{name: "auth"}
	r.start = time.Now()
	progCtx, stopProg := context.WithCancel(ctx)
	defer stopProg()
	go r.progressIdle(progCtx, setup)
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 32)
		mu   sync.Mutex
		hist Histogram
	)
	left := cfg.Sessions
	for i := range nconn {
		k := min(cfg.SessionsPerConn, left)
		left -= k
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			c, err := r.dial(ctx, r.relay.HostPort())
			if err != nil {
				r.count("dial: " + shortErr(err))
				return
			}
			var h Histogram
			for j := range k {
				t0 := time.Now()
				if _, _, err := r.auth(ctx, c, i*cfg.SessionsPerConn+j); err != nil {
					r.count("AUTH: " + shortErr(err))
					break
				}
				h.Record(time.Since(t0))
				setup.delivered.Add(1)
			}
			mu.Lock()
			hist.Merge(&h)
			mu.Unlock()
			c.start()
			r.readers.Add(1)
			go r.readLoop(c, nil)
		}()
	}
	wg.Wait()
	opened := setup.delivered.Load()
	elapsed := time.Since(r.start)
	if err := sleepCtx(ctx, cfg.Settle); err != nil {
		return nil, err
	}
	if cfg.BeforeMeasure != nil {
		cfg.BeforeMeasure()
	}
	pids = WithDescendants(cfg.PIDs)
	after, err := Memory(pids)
	if err != nil {
		return nil, err
	}
	stopProg()
	r.closeAll()
	idle := &IdleResult{Sessions: int(opened), Connections: nconn, PIDs: pids,
		RSSBeforeKB: before.RSSKB, RSSAfterKB: after.RSSKB, PSSBeforeKB: before.PSSKB, PSSAfterKB: after.PSSKB,
		Settle: cfg.Settle}
	if opened > 0 {
		idle.PerSessionRSS = float64(after.RSSKB-before.RSSKB) * 1024 / float64(opened)
		idle.PerSessionPSS = float64(after.PSSKB-before.PSSKB) * 1024 / float64(opened)
	}
	res := &Result{Scenario: cfg.Scenario, Target: cfg.Relay, Mode: cfg.Mode, Sessions: cfg.Sessions,
		Elapsed: elapsed, Errors: r.errs, Idle: idle}
	res.Classes = append(res.Classes, newClass("auth", opened, 0, &hist, elapsed))
	return res, nil
}

func (r *runner) progressIdle(ctx context.Context, setup *classState) {
	if r.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fmt.Fprintf(r.cfg.Progress, "loadgen: %5.1fs  sessions open %d of %d  errors %d\n",
				time.Since(r.start).Seconds(), setup.delivered.Load(), r.cfg.Sessions, r.errorCount())
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Mem is the memory of a set of processes, in kB as /proc reports it.
type Mem struct {
	// RSSKB is the sum of VmRSS (/proc/PID/status): shared pages are
	// counted once per process that maps them.
	RSSKB int64
	// PSSKB is the sum of Pss (/proc/PID/smaps_rollup): shared pages are
	// divided among the processes sharing them, so the sum is the set's
	// real footprint (Kamailio's workers share its memory pool). Zero when
	// smaps_rollup cannot be read.
	PSSKB int64
}

// Memory sums the memory of pids.
func Memory(pids []int) (Mem, error) {
	var m Mem
	for _, pid := range pids {
		rss, err := procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
		if err != nil {
			return m, fmt.Errorf("loadgen: memory of pid %d: %w", pid, err)
		}
		m.RSSKB += rss
		if pss, err := procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:"); err == nil {
			m.PSSKB += pss
		}
	}
	return m, nil
}

// procField returns the kB value of the line starting with key.
func procField(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line[len(key):])
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in %s", strings.TrimSuffix(key, ":"), path)
}

// WithDescendants returns pids and every process descended from them
// (read from /proc/*/stat), each once.
func WithDescendants(pids []int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name is parenthesised and may hold spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], pid)
	}
	seen := map[int]bool{}
	var out []int
	var walk func(int)
	walk = func(p int) {
		if seen[p] {
			return
		}
		seen[p] = true
		out = append(out, p)
		for _, c := range children[p] {
			walk(c)
		}
	}
	for _, p := range pids {
		walk(p)
	}
	return out
}
