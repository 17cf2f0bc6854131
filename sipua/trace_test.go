package sipua

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// traceLog collects traced messages.
type traceLog struct {
	mu   sync.Mutex
	msgs []TraceMessage
}

func (l *traceLog) add(m TraceMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m.Msg = bytes.Clone(m.Msg)
	l.msgs = append(l.msgs, m)
}

// find waits for a message in direction dir whose start line begins with
// start.
func (l *traceLog) find(t *testing.T, dir Direction, start string) TraceMessage {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		for _, m := range l.msgs {
			if m.Dir == dir && bytes.HasPrefix(m.Msg, []byte(start)) {
				l.mu.Unlock()
				return m
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %v message starting %q traced", dir, start)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTrace(t *testing.T) {
	for _, tr := range []string{UDP, TCP} {
		t.Run(tr, func(t *testing.T) {
			var bobLog, aliceLog traceLog
			box := newInbox()
			bob := testUA(t, Config{AOR: "sip:bob@example.com", OnMessage: box.on, Trace: bobLog.add}, tr)
			alice := testUA(t, Config{Trace: aliceLog.add}, tr)
			if _, err := alice.SendMessage(ctxT(t, 10*time.Second), bob.URI(tr), "text/plain", []byte("traced hello")); err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
			box.next(t)
			in := bobLog.find(t, Received, "MESSAGE sip:bob@")
			if in.Transport != strings.ToUpper(tr) || in.Local != bob.Addr(tr) || in.Remote == "" {
				t.Errorf("received MESSAGE traced as %s %s <- %s", in.Transport, in.Local, in.Remote)
			}
			if !bytes.HasSuffix(in.Msg, []byte("\r\n\r\ntraced hello")) {
				t.Errorf("received MESSAGE = %q, want the whole message with its body", in.Msg)
			}
			// Bob answers on the connection alice opened (TCP, which he
			// accepted) or his UDP socket: both are traced.
			out := bobLog.find(t, Sent, "SIP/2.0 200")
			if out.Remote != in.Remote {
				t.Errorf("200 sent to %s, MESSAGE came from %s", out.Remote, in.Remote)
			}
			aliceLog.find(t, Received, "SIP/2.0 200")
		})
	}
}

// TestTraceStream splits a stream of SIP messages at random points.
func TestTraceStream(t *testing.T) {
	msgs := []string{
		"INVITE sip:bob@example.com SIP/2.0\r\nContent-Length: 5\r\n\r\nhello",
		"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n",
		"MESSAGE sip:bob@example.com SIP/2.0\r\nl: 3\r\n\r\nabc",
		"ACK sip:bob@example.com SIP/2.0\r\n\r\n", // no Content-Length: no body
		"BYE sip:bob@example.com SIP/2.0\r\ncontent-length:  2 \r\n\r\n\r\n",
	}
	stream := strings.Join(msgs, "\r\n\r\n") // keep-alives between messages
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 1))
		var got []string
		s := &traceStream{t: newTracer(func(m TraceMessage) { got = append(got, string(m.Msg)) }), dir: Received}
		b := []byte(stream)
		for len(b) > 0 {
			n := 1 + r.IntN(min(len(b), 40))
			s.feed(b[:n])
			b = b[n:]
		}
		if strings.Join(got, "|") != strings.Join(msgs, "|") {
			t.Fatalf("seed %d: got %q", seed, got)
		}
		if !s.idle() {
			t.Errorf("seed %d: stream not idle at a message boundary", seed)
		}
	}
}

// TestTraceStreamOversized: a message beyond maxTraceMessage is passed on
// as its header and the stream resynchronises at the next message.
func TestTraceStreamOversized(t *testing.T) {
	var got []string
	s := &traceStream{t: newTracer(func(m TraceMessage) { got = append(got, string(m.Msg)) }), dir: Received}
	head := "MESSAGE sip:b@x SIP/2.0\r\nContent-Length: 2000000\r\n\r\n"
	s.feed([]byte(head))
	for range 20 {
		s.feed(make([]byte, 100000))
	}
	next := "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
	s.feed([]byte(next))
	if len(got) != 2 || got[0] != head || got[1] != next {
		t.Fatalf("got %d messages: %.80q", len(got), got)
	}
}

func FuzzTraceStream(f *testing.F) {
	f.Add([]byte("INVITE sip:b@x SIP/2.0\r\nContent-Length: 3\r\n\r\nabcSIP/2.0 200 OK\r\n\r\n"), uint64(1))
	f.Add([]byte("\r\n\r\nX\r\nl: 99999999999999999999\r\n\r\n"), uint64(2))
	f.Add([]byte("A\r\nContent-Length: -4\r\n\r\nB\r\n\r\n"), uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		// The messages found must not depend on how the stream is split.
		whole := traceAll(data, nil)
		r := rand.New(rand.NewPCG(seed, 7))
		split := traceAll(data, r)
		if strings.Join(whole, "\x00") != strings.Join(split, "\x00") {
			t.Fatalf("whole %q, split %q", whole, split)
		}
		n := 0
		for _, m := range whole {
			n += len(m)
		}
		if n > len(data) {
			t.Fatalf("traced %d octets out of %d", n, len(data))
		}
	})
}

func traceAll(data []byte, r *rand.Rand) []string {
	var got []string
	s := &traceStream{t: newTracer(func(m TraceMessage) { got = append(got, string(m.Msg)) }), dir: Received}
	for len(data) > 0 {
		n := len(data)
		if r != nil {
			n = 1 + r.IntN(len(data))
		}
		s.feed(data[:n])
		data = data[n:]
	}
	return got
}
