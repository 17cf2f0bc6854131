package sipserver

import (
	"sync"
	"time"
)

// Defaults of the authentication throttle (Config.MaxAuthFailures,
// Config.AuthFailureInterval).
const (
	DefaultMaxAuthFailures     = 10
	DefaultAuthFailureInterval = 30 * time.Second
)

// maxThrottled bounds each table of the throttle (source IPs, AORs).
const maxThrottled = 65536

// throttle limits failed digest authentications per source IP address
// and per AOR (FINDINGS.md F12) with token buckets: each key may fail
// burst times in a row, and earns one more attempt every interval. A
// key whose bucket is empty is refused (503 with Retry-After) without
// its credentials being checked, so that guessing goes no faster than
// the refill, whichever addresses the guesser uses. AORs that do not
// exist are throttled alike, so throttling tells nothing about which
// users exist.
type throttle struct {
	burst    float64
	interval time.Duration
	now      func() time.Time // tests replace it

	mu   sync.Mutex
	ips  map[string]*bucket
	aors map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

func newThrottle(burst int, interval time.Duration) *throttle {
	if burst <= 0 {
		return nil
	}
	return &throttle{burst: float64(burst), interval: interval, now: time.Now,
		ips: map[string]*bucket{}, aors: map[string]*bucket{}}
}

// level returns the tokens of b at now (b may be nil: a full bucket).
func (t *throttle) level(b *bucket, now time.Time) float64 {
	if b == nil {
		return t.burst
	}
	return min(t.burst, b.tokens+float64(now.Sub(b.at))/float64(t.interval))
}

// blocked reports whether an authentication attempt from ip for aor must
// be refused, and when the next one may be made.
func (t *throttle) blocked(ip, aor string) (time.Duration, bool) {
	if t == nil {
		return 0, false
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	lv := min(t.level(t.ips[ip], now), t.level(t.aors[aor], now))
	if lv >= 1 {
		return 0, false
	}
	return time.Duration((1 - lv) * float64(t.interval)), true
}

// failed takes one token from the buckets of ip and aor.
func (t *throttle) failed(ip, aor string) {
	if t == nil {
		return
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.take(t.ips, ip, now)
	t.take(t.aors, aor, now)
}

func (t *throttle) take(m map[string]*bucket, key string, now time.Time) {
	b, ok := m[key]
	if !ok {
		if len(m) >= maxThrottled {
			t.sweepLocked(m, now)
		}
		for k := range m { // still full: forget an arbitrary key
			if len(m) < maxThrottled {
				break
			}
			delete(m, k)
		}
		b = &bucket{tokens: t.burst, at: now}
		m[key] = b
	}
	b.tokens = max(0, t.level(b, now)-1)
	b.at = now
}

// sweep forgets the buckets that have refilled (they are as good as
// absent).
func (t *throttle) sweep() {
	if t == nil {
		return
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked(t.ips, now)
	t.sweepLocked(t.aors, now)
}

func (t *throttle) sweepLocked(m map[string]*bucket, now time.Time) {
	for k, b := range m {
		if t.level(b, now) >= t.burst {
			delete(m, k)
		}
	}
}

// size returns the number of tracked IPs and AORs (tests).
func (t *throttle) size() (int, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ips), len(t.aors)
}
