package relay

import (
	"math/rand/v2"
	"testing"
)

// TestPendingTxnsModel drives pendingTxns and a map with the same random
// adds (increasing tid numbers with gaps, as conn.newTID mints them) and
// takes (in order, out of order, unknown and huge numbers, repeats), and
// checks that they agree, that the window never spans more than
// pendingSpan, and that an old unanswered entry survives being pushed
// out of the window.
func TestPendingTxnsModel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		seed   uint64
		steps  int
		stuck  bool // one early transaction is answered only at the end
		window int  // how far behind the newest a take usually reaches
	}{
		{"in order", 1, 20000, false, 4},
		{"out of order", 2, 20000, false, 300},
		{"stuck head", 3, 3 * pendingSpan, true, 8},
		{"stuck head, wide", 4, 3 * pendingSpan, true, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(tc.seed, 0))
			var p pendingTxns
			model := map[uint64]*txn{}
			var next uint64 = 1
			var stuck *txn
			check := func(n uint64) {
				t.Helper()
				want := model[n]
				delete(model, n)
				if got := p.take(n); got != want {
					t.Fatalf("take(%d) = %v, want %v", n, got, want)
				}
				if p.len() != len(model) {
					t.Fatalf("len %d, model %d", p.len(), len(model))
				}
			}
			for i := 0; i < tc.steps; i++ {
				if r.IntN(3) > 0 {
					next += 1 + uint64(r.IntN(2)) // a gap: an untracked request
					x := &txn{n: next}
					if tc.stuck && stuck == nil {
						stuck = x
					}
					p.add(x)
					model[x.n] = x
				} else {
					back := uint64(r.IntN(tc.window) + 1)
					if back > next {
						back = next
					}
					if n := next - back + 1; stuck == nil || n != stuck.n {
						check(n)
					}
				}
				if span := uint64(len(p.win) - p.head); span > pendingSpan {
					t.Fatalf("window spans %d tid numbers", span)
				}
				if r.IntN(1000) == 0 {
					check(next + 1 + uint64(r.IntN(1<<20))) // not minted yet
					check(1<<64 - 1)
				}
			}
			if stuck != nil {
				if len(p.over) == 0 {
					t.Fatal("the stuck transaction was never pushed out of the window")
				}
				check(stuck.n)
			}
			seen := 0
			p.each(func(x *txn) {
				if model[x.n] != x {
					t.Fatalf("each: %d not in the model", x.n)
				}
				seen++
			})
			if seen != len(model) {
				t.Fatalf("each saw %d, model has %d", seen, len(model))
			}
			for n := range model {
				check(n)
			}
			if p.len() != 0 || len(p.win)-p.head != 0 {
				t.Fatalf("not empty at the end: len %d, window %d", p.len(), len(p.win)-p.head)
			}
		})
	}
}
