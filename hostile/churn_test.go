package hostile

import (
	"context"
	"runtime"
	"testing"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
)

// pairSessions sets up one session from offerer a to answerer b.
func pairSessions(t testing.TB, ctx context.Context, a, b *msrp.Endpoint) (session.Session, session.Session) {
	t.Helper()
	off, err := a.Offer(ctx, session.Options{})
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	ans, err := b.Answer(ctx, off.Media(), session.Options{})
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	type res struct {
		s   session.Session
		err error
	}
	ch := make(chan res, 1)
	go func() { s, err := ans.Open(ctx); ch <- res{s, err} }()
	sa, err := off.Open(ctx, ans.Media())
	if err != nil {
		t.Fatalf("offer Open: %v", err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatalf("answer Open: %v", r.err)
	}
	return sa, r.s
}

// TestChurnSessions opens and closes 10,000 MSRP sessions against one
// listening endpoint, each carrying one message, and checks with counts,
// not timings, that goroutines come back to where they were and the heap
// stays bounded: no per-session state outlives its session.
func TestChurnSessions(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	ctx := testCtx(t)
	a, err := msrp.NewEndpoint(msrp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _ := newEndpoint(t, msrp.Config{})
	// Warm up: the shared connection and its goroutines exist afterwards.
	sa, sb := pairSessions(t, ctx, a, b)
	sa.Close()
	sb.Close()
	g0 := runtime.NumGoroutine()
	h0 := heapAlloc()
	body := []byte("churn")
	for i := range n {
		sa, sb := pairSessions(t, ctx, a, b)
		if i%10 == 0 {
			d, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: body})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sb.Receive(ctx); err != nil {
				t.Fatal(err)
			}
			if r, err := d.Wait(ctx); err != nil || r.Outcome == session.Failed {
				t.Fatalf("message %d: %+v %v", i, r, err)
			}
		}
		if i%2 == 0 { // either side may close first
			sa.Close()
			sb.Close()
		} else {
			sb.Close()
			sa.Close()
		}
		if i == n/2 {
			if g := runtime.NumGoroutine(); g > g0+50 {
				t.Fatalf("goroutines growing: %d at the start, %d after %d sessions", g0, g, i)
			}
		}
	}
	if g := settleGoroutines(g0 + 2); g > g0+2 {
		t.Errorf("goroutines: %d before %d sessions, %d after", g0, n, g)
	}
	if h1 := heapAlloc(); h1 > h0+16<<20 {
		t.Errorf("heap: %d before %d sessions, %d after", h0, n, h1)
	}
}

// TestChurnConnections opens 1,000 raw connections, each binding its own
// session and leaving abruptly (no BYE, socket closed), against one
// endpoint: sessions fail, connections go, goroutines come back.
func TestChurnConnections(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	ep, addr := newEndpoint(t, msrp.Config{})
	rs := openRawSession(t, ep, addr, answerOpts)
	rs.peer.close()
	<-rs.sess.Done()
	g0 := runtime.NumGoroutine()
	h0 := heapAlloc()
	for range n {
		rs := openRawSessionManual(t, ep, addr, answerOpts)
		rs.peer.close()
		<-rs.sess.Done()
		rs.close()
	}
	if g := settleGoroutines(g0 + 2); g > g0+2 {
		t.Errorf("goroutines: %d before %d connections, %d after", g0, n, g)
	}
	if h1 := heapAlloc(); h1 > h0+16<<20 {
		t.Errorf("heap: %d before, %d after", h0, h1)
	}
}
