package msrp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/parley-im/parley/session"
)

// peerLog records what the endpoint sends a raw peer: the status of the
// response to each SEND (by Message-ID) and the success REPORTs.
type peerLog struct {
	mu       sync.Mutex
	answered map[string]int  // Message-ID -> response code
	reported map[string]bool // Message-IDs of 200 REPORTs
}

// collect reads p's connection until it fails, as the peer's reader.
func (l *peerLog) collect(p *rawPeer) {
	for {
		f, err := p.r.ReadFrame()
		if err != nil {
			return
		}
		if _, err := io.ReadAll(p.r); err != nil {
			return
		}
		l.mu.Lock()
		switch {
		case !f.IsRequest():
			l.answered[f.MessageID] = f.StatusCode
		case f.Method == MethodREPORT && f.Status.Code == 200:
			l.reported[f.MessageID] = true
		}
		l.mu.Unlock()
	}
}

func (l *peerLog) count(code int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.answered {
		if c == code {
			n++
		}
	}
	return n
}

// fillQueue makes a raw peer send maxQueued+1 one-chunk messages asking
// for success REPORTs to a session that receives none, and returns their
// Message-IDs and the log of what the session answered.
func fillQueue(t *testing.T) (*Session, *rawPeer, []string, *peerLog) {
	t.Helper()
	_, s, p := pipeSession(t, Config{})
	l := &peerLog{answered: map[string]int{}, reported: map[string]bool{}}
	go l.collect(p)
	var ids []string
	for i := range maxQueued + 1 {
		id := fmt.Sprintf("queued%05d", i)
		ids = append(ids, id)
		body := fmt.Sprintf("m%d", i)
		p.chunk(id, ByteRange{1, int64(len(body)), int64(len(body))}, FlagEnd, body,
			func(f *Frame) { f.SuccessReport = "yes" })
	}
	synctest.Wait()
	return s, p, ids, l
}

// TestAnsweredMessageIsReceived: a message answered 200 and reported
// delivered (RFC 4975 §7.1.2) is returned by Receive, even when the
// session ends right after. The application reads nothing until the
// queue is full and one more message has arrived; then the session is
// closed. Every message answered 200 or reported must come out of
// Receive, which drains what was queued before it reports the end. (The
// session used to answer first and queue afterwards, and dropped the
// message when it ended in between; with a full queue that was certain.)
func TestAnsweredMessageIsReceived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _, ids, l := fillQueue(t)
		if n := l.count(200); n != maxQueued {
			t.Errorf("%d of %d messages answered 200 while the queue holds %d", n, len(ids), maxQueued)
		}
		s.Close()
		synctest.Wait()
		got := map[string]bool{}
		for {
			m, err := s.Receive(context.Background())
			if err != nil {
				if !errors.Is(err, session.ErrClosed) {
					t.Fatalf("Receive: %v", err)
				}
				break
			}
			got[m.ID] = true
		}
		if len(got) != maxQueued {
			t.Errorf("Receive returned %d messages after the end, want the %d queued", len(got), maxQueued)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, id := range ids {
			if (l.answered[id] == 200 || l.reported[id]) && !got[id] {
				t.Errorf("%s answered %d (REPORT %v) but never received", id, l.answered[id], l.reported[id])
			}
		}
	})
}

// TestFullQueueAnswersWhenReceived: the message that finds the queue full
// is answered, and reported, once Receive has made room (back-pressure,
// not loss); Receive returns every message in order.
func TestFullQueueAnswersWhenReceived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _, ids, l := fillQueue(t)
		last := ids[maxQueued]
		l.mu.Lock()
		code, rep := l.answered[last], l.reported[last]
		l.mu.Unlock()
		if code != 0 || rep {
			t.Fatalf("%s answered %d (REPORT %v) before the queue had room", last, code, rep)
		}
		for _, id := range ids {
			m, err := s.Receive(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if m.ID != id {
				t.Fatalf("Receive: %s, want %s", m.ID, id)
			}
		}
		synctest.Wait()
		l.mu.Lock()
		code, rep = l.answered[last], l.reported[last]
		nrep := len(l.reported)
		l.mu.Unlock()
		if code != 200 || !rep || nrep != len(ids) {
			t.Fatalf("%s answered %d (REPORT %v); %d REPORTs for %d messages", last, code, rep, nrep, len(ids))
		}
		s.Close()
	})
}
