package msrp

import (
	"slices"
	"testing"
)

// TestSchedulerRemoveKeepsOrder: removing messages (holes, compaction)
// keeps the round-robin order of the rest and never loses or repeats one.
func TestSchedulerRemoveKeepsOrder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		remove func(i int) bool
	}{
		{"front half", 200, func(i int) bool { return i < 100 }},
		{"every other", 200, func(i int) bool { return i%2 == 0 }},
		{"all but last", 100, func(i int) bool { return i != 99 }},
		{"none", 10, func(int) bool { return false }},
		{"all", 64, func(int) bool { return true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newScheduler()
			ms := make([]*outMsg, tc.n)
			for i := range ms {
				ms[i] = &outMsg{id: string(rune('a' + i%26))}
				q.pushStream(ms[i])
			}
			// Advance the cursor a little first.
			if q.nextStream() != ms[0] {
				t.Fatal("first stream")
			}
			var keep []*outMsg
			for i, m := range ms {
				if tc.remove(i) {
					q.remove(m)
				} else {
					keep = append(keep, m)
				}
			}
			q.remove(ms[0]) // twice: a no-op when already removed
			if len(keep) > 0 && keep[0] == ms[0] {
				keep = keep[1:]
			}
			var got []*outMsg
			for range len(keep) {
				m := q.nextStream()
				if m == nil {
					t.Fatalf("nil after %d of %d", len(got), len(keep))
				}
				got = append(got, m)
			}
			// A full round visits each remaining message once.
			slices.SortFunc(got, func(a, b *outMsg) int { return a.qidx - b.qidx })
			for i := range got {
				if i > 0 && got[i] == got[i-1] {
					t.Fatal("a message came twice in one round")
				}
			}
			if len(keep) == 0 && q.nextStream() != nil {
				t.Fatal("stream left after removing all")
			}
			for _, m := range keep {
				if !slices.Contains(got, m) {
					t.Fatal("a message was lost")
				}
			}
			// And the queue order is the push order.
			var order []*outMsg
			for _, m := range q.streams {
				if m != nil {
					order = append(order, m)
				}
			}
			if !slices.Equal(order, keep) {
				t.Fatal("queue order changed")
			}
		})
	}
}
