package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// pgListener owns one dedicated PostgreSQL connection that LISTENs on the
// channels the hub has listeners for, and feeds the notifications to the
// hub. Its goroutine is started by the first Listen and stopped by close.
// When the connection breaks (server restart, network), it reconnects with
// backoff, LISTENs again and sends the "" resync marker to every listener,
// since notifications sent in between are lost (PostgreSQL does not queue
// them for absent listeners).
//
// State: mu guards want, reqs, started and stopWait; the connection is used
// only by the loop goroutine.
type pgListener struct {
	cfg *pgx.ConnConfig
	hub *hub

	mu       sync.Mutex
	want     map[string]bool // channels that should be LISTENed
	reqs     []listenReq     // LISTEN/UNLISTEN waiting for the loop
	started  bool
	stopWait context.CancelFunc // interrupts WaitForNotification

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

type listenReq struct {
	channel string
	listen  bool
	reply   chan error // nil for UNLISTEN
}

func newPGListener(cfg *pgx.ConnConfig, h *hub) *pgListener {
	c := cfg.Copy()
	// Interrupting WaitForNotification must not send a cancel request to the
	// server (the default handler does), which could hit the next LISTEN.
	c.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second // a Listen waiting on a dead host fails in time
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &pgListener{cfg: c, hub: h, want: map[string]bool{}, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// listen is called by the hub (with the hub's lock held) for a channel's
// first listener. It waits until the LISTEN is active, so a Notify made
// after Listen returns is delivered.
func (l *pgListener) listen(ctx context.Context, channel string) error {
	reply := make(chan error, 1)
	l.mu.Lock()
	if l.ctx.Err() != nil {
		l.mu.Unlock()
		return ErrClosed
	}
	l.want[channel] = true
	l.reqs = append(l.reqs, listenReq{channel: channel, listen: true, reply: reply})
	if !l.started {
		l.started = true
		go l.loop()
	}
	l.wakeLocked()
	l.mu.Unlock()
	select {
	case err := <-reply:
		if err != nil {
			l.mu.Lock()
			delete(l.want, channel)
			l.mu.Unlock()
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return ErrClosed
	}
}

// unlisten is called by the hub (lock held) when a channel's last listener
// leaves. It does not wait.
func (l *pgListener) unlisten(channel string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.want, channel)
	l.reqs = append(l.reqs, listenReq{channel: channel})
	l.wakeLocked()
}

func (l *pgListener) wakeLocked() {
	if l.stopWait != nil {
		l.stopWait()
	}
}

func (l *pgListener) close() error {
	l.mu.Lock()
	started := l.started
	l.cancel()
	l.mu.Unlock()
	if started {
		<-l.done
	}
	return nil
}

func (l *pgListener) loop() {
	defer close(l.done)
	backoff := 50 * time.Millisecond
	first := true
	for l.ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(l.ctx, l.cfg)
		if err != nil {
			l.failRequests(fmt.Errorf("store: listen connect: %w", err))
			select {
			case <-time.After(backoff):
			case <-l.ctx.Done():
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		err = l.serve(conn, !first)
		first = false
		conn.Close(context.Background())
		if err != nil && l.ctx.Err() == nil {
			// Lost the connection: reconnect at once.
			continue
		}
	}
	l.failRequests(ErrClosed)
}

// failRequests answers pending LISTEN requests with err while disconnected.
// The channels stay wanted and are LISTENed after the reconnect; the caller
// of Listen gets the error.
func (l *pgListener) failRequests(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.reqs {
		if r.reply != nil {
			r.reply <- err
		}
	}
	l.reqs = nil
}

func listenSQL(channel string, listen bool) string {
	if listen {
		return "LISTEN " + pgx.Identifier{channel}.Sanitize()
	}
	return "UNLISTEN " + pgx.Identifier{channel}.Sanitize()
}

// serve runs on one connection until it fails or the listener is closed.
func (l *pgListener) serve(conn *pgx.Conn, reconnected bool) error {
	l.mu.Lock()
	chans := make([]string, 0, len(l.want))
	for ch := range l.want {
		chans = append(chans, ch)
	}
	l.mu.Unlock()
	for _, ch := range chans {
		if _, err := conn.Exec(l.ctx, listenSQL(ch, true)); err != nil {
			return err
		}
	}
	if reconnected {
		l.hub.resync()
	}
	for {
		l.mu.Lock()
		reqs := l.reqs
		l.reqs = nil
		var waitCtx context.Context
		if len(reqs) == 0 {
			var cancel context.CancelFunc
			waitCtx, cancel = context.WithCancel(l.ctx)
			l.stopWait = cancel
		}
		l.mu.Unlock()

		if len(reqs) > 0 {
			for i, r := range reqs {
				_, err := conn.Exec(l.ctx, listenSQL(r.channel, r.listen))
				if r.reply != nil {
					r.reply <- err
				}
				if err != nil && conn.IsClosed() {
					// Requeue the rest for the next connection.
					l.mu.Lock()
					l.reqs = append(reqs[i+1:len(reqs):len(reqs)], l.reqs...)
					l.mu.Unlock()
					return err
				}
			}
			continue
		}

		n, err := conn.WaitForNotification(waitCtx)
		l.mu.Lock()
		l.stopWait()
		l.stopWait = nil
		l.mu.Unlock()
		if err != nil {
			if l.ctx.Err() != nil {
				return nil
			}
			if waitCtx.Err() != nil && !conn.IsClosed() {
				continue // woken up for a request
			}
			return err
		}
		l.hub.publish(n.Channel, n.Payload)
	}
}
