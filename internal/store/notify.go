package store

import (
	"context"
	"fmt"
	"sync"
)

// hub fans notifications out to in-process listeners. The SQLite backend
// uses it alone; the PostgreSQL backend feeds it from its LISTEN connection.
// All sends happen with mu held, so a listener channel is never sent to
// after it is closed, and overflow handling (drop the oldest, push the ""
// resync marker) never blocks. first is called without mu held (it may wait
// for the PostgreSQL listener, which itself publishes into the hub); last is
// called with mu held and must not block.
type hub struct {
	mu     sync.Mutex
	topics map[string]*topic
	closed bool
	first  func(ctx context.Context, channel string) error
	last   func(channel string)
}

// topic is one channel's listeners; ready is closed once first has
// returned, with its error in err.
type topic struct {
	subs  map[*subscription]struct{}
	ready chan struct{}
	err   error
}

type subscription struct {
	channel string
	c       chan string
	stop    func() bool
}

func newHub() *hub { return &hub{topics: map[string]*topic{}} }

func validChannel(channel string) error {
	if channel == "" || len(channel) > MaxChannel {
		return fmt.Errorf("%w: channel name must be 1..%d bytes", ErrInvalid, MaxChannel)
	}
	for i := 0; i < len(channel); i++ {
		if c := channel[i]; c < 0x21 || c > 0x7e || c == '"' {
			return fmt.Errorf("%w: channel name %q: printable ASCII without quotes or spaces only", ErrInvalid, channel)
		}
	}
	return nil
}

func validPayload(payload string) error {
	if payload == "" || len(payload) > MaxPayload {
		return fmt.Errorf("%w: payload must be 1..%d bytes", ErrInvalid, MaxPayload)
	}
	for i := 0; i < len(payload); i++ {
		if payload[i] == 0 {
			return fmt.Errorf("%w: payload contains NUL", ErrInvalid)
		}
	}
	return nil
}

func (h *hub) subscribe(ctx context.Context, channel string) (<-chan string, error) {
	if err := validChannel(channel); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	t := h.topics[channel]
	isFirst := t == nil
	if isFirst {
		t = &topic{subs: map[*subscription]struct{}{}, ready: make(chan struct{})}
		h.topics[channel] = t
	}
	s := &subscription{channel: channel, c: make(chan string, ListenBuffer), stop: func() bool { return false }}
	t.subs[s] = struct{}{}
	h.mu.Unlock()

	var err error
	if isFirst {
		if h.first != nil {
			err = h.first(ctx, channel)
		}
		h.mu.Lock()
		t.err = err
		close(t.ready)
		h.mu.Unlock()
	} else {
		select {
		case <-t.ready:
			h.mu.Lock()
			err = t.err
			h.mu.Unlock()
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		h.unsubscribe(s)
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := t.subs[s]; !ok { // closed meanwhile
		return nil, ErrClosed
	}
	s.stop = context.AfterFunc(ctx, func() { h.unsubscribe(s) })
	return s.c, nil
}

func (h *hub) unsubscribe(s *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[s.channel]
	if t == nil {
		return
	}
	if _, ok := t.subs[s]; !ok {
		return
	}
	delete(t.subs, s)
	close(s.c)
	if len(t.subs) == 0 {
		delete(h.topics, s.channel)
		if h.last != nil && !h.closed {
			h.last(s.channel)
		}
	}
}

func deliver(c chan string, payload string) {
	select {
	case c <- payload:
		return
	default:
	}
	// Full: drop the oldest and tell the listener it missed something.
	select {
	case <-c:
	default:
	}
	select {
	case c <- "":
	default:
	}
}

func (h *hub) publish(channel, payload string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.topics[channel]; t != nil {
		for s := range t.subs {
			deliver(s.c, payload)
		}
	}
}

// resync sends the "" marker to every listener.
func (h *hub) resync() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.topics {
		for s := range t.subs {
			deliver(s.c, "")
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for ch, t := range h.topics {
		for s := range t.subs {
			s.stop()
			close(s.c)
			delete(t.subs, s)
		}
		delete(h.topics, ch)
	}
}
