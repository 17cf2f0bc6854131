package cpimtransport

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/parley-im/parley/session"
)

// pipePair opens a session between a (offerer, passive) and b (answerer,
// active, WantReceipts) over an in-memory network, inside a synctest
// bubble, and returns b's session as the sender and a's as the receiver:
// the active side's messages need no proof of the connection first.
func pipePair(t *testing.T) (sender, receiver session.Session) {
	t.Helper()
	pn := newPipeNet()
	a, err := NewEndpoint(Config{Host: "10.0.0.1", Dial: pn.dialer("10.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewEndpoint(Config{Host: "10.0.0.2", Dial: pn.dialer("10.0.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	go a.Serve(pn.listen("10.0.0.1:7000"))
	go b.Serve(pn.listen("10.0.0.2:7000"))
	synctest.Wait()
	ctx := context.Background()
	off, err := a.Offer(ctx, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := b.Answer(ctx, off.Media(), session.Options{WantReceipts: true})
	if err != nil {
		t.Fatal(err)
	}
	var errB error
	var wg sync.WaitGroup
	wg.Go(func() { sender, errB = ans.Open(ctx) })
	receiver, err = off.Open(ctx, ans.Media())
	wg.Wait()
	if err != nil || errB != nil {
		t.Fatalf("Open: offerer %v, answerer %v", err, errB)
	}
	return sender, receiver
}

// TestReportedMessageIsReceived: a message the receiver reported
// delivered (§6.3) is returned by Receive, even when the session ends
// right after the report. The receiving application reads nothing until
// its queue is full and one more message has arrived; then the session is
// closed. Every message the sender saw Delivered must come out of
// Receive, which drains what was queued before it reports the end. (The
// receiver used to report first and queue afterwards, and dropped the
// message when the session ended in between; with a full queue that was
// certain.)
func TestReportedMessageIsReceived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sa, sb := pipePair(t)
		ctx := context.Background()
		room := cap(sb.(*sess).in)
		var ds []*session.Delivery
		for i := range room + 1 {
			d, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("m" + strconv.Itoa(i))})
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		synctest.Wait()
		delivered := 0
		for _, d := range ds {
			if d.Result().Outcome == session.Delivered {
				delivered++
			}
		}
		if delivered != room {
			t.Errorf("%d of %d messages reported delivered while the receiver's queue holds %d", delivered, len(ds), room)
		}
		sb.Close()
		synctest.Wait()
		got := map[string]bool{}
		for {
			m, err := sb.Receive(ctx)
			if err != nil {
				if !errors.Is(err, session.ErrClosed) {
					t.Fatalf("Receive: %v", err)
				}
				break
			}
			got[m.ID] = true
		}
		if len(got) != room {
			t.Errorf("Receive returned %d messages after the end, want the %d queued", len(got), room)
		}
		for _, d := range ds {
			if d.Result().Outcome == session.Delivered && !got[d.ID()] {
				t.Errorf("MsgID %s reported delivered but never received", d.ID())
			}
		}
		sa.Close()
	})
}

// TestFullQueueReportsWhenReceived: a message that finds the receiver's
// queue full is reported once Receive has made room for it
// (back-pressure, not loss), and Receive then returns it.
func TestFullQueueReportsWhenReceived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sender, receiver := pipePair(t)
		ctx := context.Background()
		room := cap(receiver.(*sess).in)
		var ds []*session.Delivery
		for i := range room + 1 {
			d, err := sender.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("m" + strconv.Itoa(i))})
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		synctest.Wait()
		last := ds[room]
		if r := last.Result(); r.Outcome != session.Pending {
			t.Fatalf("message %s: %+v before the queue had room", last.ID(), r)
		}
		for i := range room + 1 {
			m, err := receiver.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := strconv.Itoa(i + 1); m.ID != want {
				t.Fatalf("Receive: MsgID %s, want %s", m.ID, want)
			}
		}
		for _, d := range ds {
			if r, err := d.Wait(ctx); err != nil || r.Outcome != session.Delivered {
				t.Fatalf("message %s: %+v, %v", d.ID(), r, err)
			}
		}
		sender.Close()
		receiver.Close()
	})
}
