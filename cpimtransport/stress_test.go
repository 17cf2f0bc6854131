package cpimtransport

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/session"
)

// TestConcurrentSessions runs several sessions sharing one connection,
// sending in both directions at once with receipts, and checks that every
// message arrives once, in order, and every delivery is confirmed.
func TestConcurrentSessions(t *testing.T) {
	const sessions, perSide = 4, 300
	a := newLoopback(t, Config{SendQueue: 16})
	b := newLoopback(t, Config{SendQueue: 16})
	type pair struct{ x, y session.Session }
	var ps []pair
	for range sessions {
		x, y := connect(t, a, b, session.Options{WantReceipts: true}, session.Options{WantReceipts: true})
		ps = append(ps, pair{x, y})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4*sessions)
	for i, p := range ps {
		for dir, ss := range [][2]session.Session{{p.x, p.y}, {p.y, p.x}} {
			from, to := ss[0], ss[1]
			wg.Add(2)
			go func() {
				defer wg.Done()
				var ds []*session.Delivery
				for n := range perSide {
					d, err := from.Send(ctx, &session.Outgoing{Body: []byte(fmt.Sprint(i, dir, n))})
					if err != nil {
						errs <- fmt.Errorf("session %d dir %d (%s) message %d: %w", i, dir, from.Local().Direction, n, err)
						return
					}
					ds = append(ds, d)
				}
				for _, d := range ds {
					r, err := d.Wait(ctx)
					if err != nil || r.Outcome != session.Delivered {
						errs <- fmt.Errorf("session %d dir %d: %v %v", i, dir, r.Outcome, err)
						return
					}
				}
			}()
			go func() {
				defer wg.Done()
				for n := range perSide {
					m, err := to.Receive(ctx)
					if err != nil {
						errs <- err
						return
					}
					if string(m.Body) != fmt.Sprint(i, dir, n) || m.Duplicate {
						errs <- fmt.Errorf("session %d dir %d: got %q (dup %v), want %q", i, dir, m.Body, m.Duplicate, fmt.Sprint(i, dir, n))
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, e := range []*Endpoint{a, b} {
		if st := e.Stats(); st.Gaps != 0 || st.Duplicates != 0 || st.Unmatched != 0 || st.ReportsSent != sessions*perSide {
			t.Errorf("stats %+v", st)
		}
	}
}
