package cpimtransport

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/session"
)

// maxQueuedReports bounds the reports waiting to be written on one
// connection; a peer that sends without ever reading loses its connection
// beyond it.
const maxQueuedReports = 4096

var errReportOverflow = errors.New("cpimtransport: peer does not read its delivery reports")

// conn is one TCP or TLS connection carrying any number of sessions in
// both directions (§2). A reader goroutine frames and dispatches incoming
// messages; a writer goroutine drains the write queue.
type conn struct {
	e        *Endpoint
	nc       net.Conn
	secure   bool
	inbound  bool
	key      connKey
	seq      int64
	accepted time.Time         // when the connection was set up
	peer     *x509.Certificate // TLS peer certificate, if any

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	credits chan struct{} // Send flow control

	// Guarded by Endpoint.mu.
	sessions map[*sess]struct{}
	idle     *time.Timer

	mu      sync.Mutex // guards the write queue
	queue   []*outFrame
	reports int
	wake    chan struct{}

	closeOnce sync.Once
	err       error
}

// outFrame is one queued message: head (envelope, CPIM and MIME headers,
// and the body when in memory), then n octets of body from r if r is set.
type outFrame struct {
	head   []byte
	r      io.Reader
	n      int64
	s      *sess
	d      *session.Delivery
	msgID  int64
	queued time.Time // entered a session's backlog
	credit bool      // holds a credit of conn.credits
	report bool
	expect bool // a delivery report will complete d
}

func (e *Endpoint) newConn(nc net.Conn, secure, inbound bool, key connKey) *conn {
	c := &conn{
		e: e, nc: nc, secure: secure, inbound: inbound, key: key,
		accepted: time.Now(),
		done:     make(chan struct{}),
		credits:  make(chan struct{}, e.cfg.SendQueue),
		sessions: map[*sess]struct{}{},
		wake:     make(chan struct{}, 1),
	}
	c.peer = peerCert(nc)
	c.ctx, c.cancel = context.WithCancelCause(e.ctx)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		nc.Close()
		return nil
	}
	e.connSeq++
	c.seq = e.connSeq
	e.conns[c] = struct{}{}
	if inbound {
		c.idle = time.AfterFunc(e.cfg.IdleTimeout, c.idleExpired)
		// A passive session binds to a connection that proves to be its
		// peer's by its certificate. Otherwise a new candidate makes a
		// guessed binding ambiguous (it waits for proof again), and may
		// become the only candidate of a session that must send first.
		for _, s := range e.sessions {
			cur := s.conn.Load()
			switch {
			case s.remote == nil || !s.passive():
			case cur == nil && e.provenBy(s, c):
				e.bind(s, c, true)
			case cur == nil:
				e.guessLocked(s)
			case !s.confirmed && e.candidate(s, c):
				e.log.Info("cpim: second connection from the peer's address, waiting for proof", "session", s.local.URI, "remote", c.nc.RemoteAddr())
				e.unbind(s)
			}
		}
	}
	// Counted under e.mu so that Close, which sets e.closed under it,
	// waits for both loops.
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		c.writeLoop()
	}()
	go func() {
		defer e.wg.Done()
		c.readLoop()
	}()
	return c
}

func (c *conn) isClosed() bool { return isDone(c.done) }

// acceptable reports whether s may use c: same TLS-ness, and the peer
// certificate matches the session's a=fingerprint when it has one.
func (c *conn) acceptable(s *sess) bool {
	if c.secure != s.secure() {
		return false
	}
	if s.remote != nil && s.remote.Fingerprint != "" {
		return c.peer != nil && matchFingerprint(s.remote.Fingerprint, c.peer)
	}
	return true
}

// unref drops s from c (Endpoint.mu held) and reports whether c is now
// unused. An accepted connection left unused is closed after IdleTimeout.
func (c *conn) unref(s *sess) bool {
	if _, ok := c.sessions[s]; !ok {
		return false
	}
	delete(c.sessions, s)
	if len(c.sessions) > 0 {
		return false
	}
	if c.inbound && c.idle != nil {
		c.idle.Reset(c.e.cfg.IdleTimeout)
	}
	return true
}

func (c *conn) stopIdle() {
	if c.idle != nil {
		c.idle.Stop()
	}
}

func (c *conn) idleExpired() {
	c.e.mu.Lock()
	unused := len(c.sessions) == 0
	c.e.mu.Unlock()
	if unused {
		c.close(errors.New("cpimtransport: idle connection"))
	}
}

// close tears the connection down once: sessions confirmed on it end with
// cause; sessions bound to it only by address go back to waiting.
func (c *conn) close(cause error) {
	c.closeOnce.Do(func() {
		c.err = cause
		c.cancel(cause)
		close(c.done)
		c.nc.Close()
		if c.idle != nil {
			c.idle.Stop()
		}
		e := c.e
		var ended []*sess
		e.mu.Lock()
		delete(e.conns, c)
		if e.dialed[c.key] == c {
			delete(e.dialed, c.key)
		}
		for s := range c.sessions {
			if s.conn.Load() == c {
				// A session proven on c ends; one whose binding was a guess
				// goes back to waiting for its peer.
				s.bmu.Lock()
				s.conn.Store(nil)
				s.notifyLocked()
				s.bmu.Unlock()
				if s.confirmed {
					ended = append(ended, s)
				}
			}
		}
		clear(c.sessions)
		// Fewer candidates: a session that must send first may now have
		// exactly one.
		e.reguessLocked()
		e.mu.Unlock()
		c.mu.Lock()
		q := c.queue
		c.queue = nil
		c.mu.Unlock()
		for _, f := range q {
			if f.d != nil {
				f.d.Complete(session.Result{Outcome: session.Failed, Err: cause})
			}
		}
		err := cause
		if errors.Is(err, io.EOF) {
			err = errPeerClosed
		}
		for _, s := range ended {
			s.end(fmt.Errorf("cpimtransport: connection to %v lost: %w", c.nc.RemoteAddr(), err))
		}
	})
}

// push queues f for writing. Reports are not flow controlled (the reader
// must never block on its own connection's writes) but bounded.
func (c *conn) push(f *outFrame) error {
	c.mu.Lock()
	if c.isClosed() {
		c.mu.Unlock()
		return fmt.Errorf("%w: connection closed", session.ErrClosed)
	}
	if f.report {
		if c.reports >= maxQueuedReports {
			c.mu.Unlock()
			return errReportOverflow
		}
		c.reports++
	}
	c.queue = append(c.queue, f)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

func (c *conn) writeLoop() {
	w := NewWriter(c.nc)
	var written []*outFrame
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		for {
			c.mu.Lock()
			q := c.queue
			c.queue = nil
			c.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, f := range q {
				if f.s != nil && f.s.ended() {
					// Session.Close fails what was not written yet.
					c.drop(f)
					continue
				}
				if err := c.writeFrame(w, f); err != nil {
					c.fail(written, q, f, err)
					return
				}
				written = append(written, f)
				if f.r != nil || w.Buffered() > 64<<10 {
					if err := w.Flush(); err != nil {
						c.fail(written, q, f, err)
						return
					}
					c.finish(written)
					written = written[:0]
				}
			}
		}
		if err := w.Flush(); err != nil {
			c.fail(written, nil, nil, err)
			return
		}
		c.finish(written)
		written = written[:0]
	}
}

func (c *conn) writeFrame(w *Writer, f *outFrame) error {
	if _, err := w.bw.Write(f.head); err != nil {
		return err
	}
	if f.r != nil {
		n, err := io.CopyN(w.bw, f.r, f.n)
		if err == io.EOF || err == nil && n < f.n {
			// The envelope promised more octets than the body had: the
			// stream can no longer be framed (§6.1).
			return fmt.Errorf("cpimtransport: body ended after %d of %d octets: %w", n, f.n, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// drop discards a queued frame of a closed session.
func (c *conn) drop(f *outFrame) {
	if f.credit {
		<-c.credits
	}
	if f.report {
		c.mu.Lock()
		c.reports--
		c.mu.Unlock()
	}
	if f.d != nil {
		f.d.Complete(session.Result{Outcome: session.Failed, Err: session.ErrClosed})
	}
}

// finish completes the deliveries of frames now written to the socket.
func (c *conn) finish(fs []*outFrame) {
	for _, f := range fs {
		if f.credit {
			<-c.credits
		}
		if f.report {
			c.mu.Lock()
			c.reports--
			c.mu.Unlock()
		}
		if f.d == nil {
			continue
		}
		f.d.AddSent(int64(len(f.head)) + f.n)
		if f.expect {
			f.s.armTimer(f.msgID, f.d)
		} else {
			f.d.Complete(session.Result{Outcome: session.Sent})
		}
	}
}

func (c *conn) fail(written, q []*outFrame, at *outFrame, err error) {
	err = fmt.Errorf("cpimtransport: writing to %v: %w", c.nc.RemoteAddr(), err)
	for _, f := range written {
		if f.d != nil {
			f.d.Complete(session.Result{Outcome: session.Failed, Err: err})
		}
	}
	rest := false
	for _, f := range q {
		if f == at {
			rest = true
		}
		if rest && f.d != nil {
			f.d.Complete(session.Result{Outcome: session.Failed, Err: err})
		}
	}
	c.close(err)
}

func (c *conn) readLoop() {
	e := c.e
	r := NewReader(c.nc, &e.cfg.Reader)
	for {
		n, err := r.Next()
		if err != nil {
			if Recoverable(err) {
				var fe *FrameError
				errors.As(err, &fe)
				e.st.garbage.Add(fe.Discarded)
				e.st.resyncs.Add(1)
				if errors.Is(err, ErrMessageTooLarge) {
					e.st.rejected.Add(1)
				}
				e.log.Info("cpim framing", "remote", c.nc.RemoteAddr(), "err", err)
				continue
			}
			if !isEOF(err) {
				e.log.Info("cpim connection error", "remote", c.nc.RemoteAddr(), "err", err)
			}
			c.close(err)
			return
		}
		e.st.messages.Add(1)
		if err := c.readMessage(r, n); err != nil {
			c.close(err)
			return
		}
		if c.isClosed() {
			return
		}
	}
}

// streamThreshold is the message size above which the headers are read
// first, so that a large body can go to a Sink without being held in
// memory.
const streamThreshold = 256 << 10

// readMessage reads the n-octet message framed by r and dispatches it.
// The returned error is a connection error.
func (c *conn) readMessage(r *Reader, n int64) error {
	if n <= streamThreshold {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		c.dispatch(buf)
		return nil
	}
	prefix := make([]byte, streamThreshold)
	if _, err := io.ReadFull(r, prefix); err != nil {
		return err
	}
	// A large message must show its CPIM and MIME headers in the first
	// streamThreshold octets; the rest is then read only if its session
	// takes it, so memory stays bounded whatever Content-Length says.
	bs := entityBodyStart(prefix)
	if bs < 0 {
		c.e.logDiscard(c, "headers of a large message exceed the limit", "limit", streamThreshold)
		return nil // the rest is skipped by the next Next
	}
	m, err := cpim.Parse(prefix[:bs])
	if err != nil || m.ContentType() == "" {
		c.e.logDiscard(c, "not message/cpim", "err", err)
		return nil
	}
	// Without the blank line between CPIM and MIME headers (seen in real
	// traffic, and tolerated by cpim.Parse) the second blank line found
	// is inside the body: what the parser took as body belongs to it.
	bs -= len(m.Body())
	s, msgID, ok := c.match(m, true)
	if !ok {
		return nil // the rest is skipped by the next Next
	}
	size := n - int64(bs)
	if size <= s.maxInMemory() {
		full := growLen(prefix, int(n-streamThreshold))
		if _, err := io.ReadFull(r, full[streamThreshold:]); err != nil {
			return err
		}
		if m, err = cpim.Parse(full); err != nil {
			c.e.logDiscard(c, "not message/cpim", "err", err)
			return nil
		}
		s.receive(c, m, msgID, nil)
		return nil
	}
	s.receive(c, m, msgID, &streamBody{head: prefix[bs:], r: r, size: size})
	return r.err
}

// entityBodyStart returns the offset of the encapsulated body in a
// message/cpim prefix (after the CPIM headers' and the MIME headers' blank
// lines), or -1.
func entityBodyStart(b []byte) int {
	off := 0
	for range 2 {
		i := bytes.Index(b[off:], []byte("\r\n\r\n"))
		if i < 0 {
			return -1
		}
		off += i + 4
	}
	return off
}

// dispatch parses one message and hands it to its session (§6.2).
func (c *conn) dispatch(b []byte) {
	m, err := cpim.Parse(b)
	if err != nil {
		c.e.logDiscard(c, "not message/cpim", "err", err)
		return
	}
	if s, msgID, ok := c.match(m, false); ok {
		s.receive(c, m, msgID, nil)
	}
}

// match finds the session of m on c (§6.2), binding it when the message
// proves which connection carries it. ok is false when the message was
// discarded (or held until an offer's Open).
func (c *conn) match(m *cpim.Message, partial bool) (s *sess, msgID int64, ok bool) {
	e := c.e
	from, err := m.From()
	if err != nil {
		e.logDiscard(c, "no usable From", "err", err)
		return nil, 0, false
	}
	tos, err := m.To()
	if err != nil || len(tos) != 1 {
		e.logDiscard(c, "not exactly one To", "err", err)
		return nil, 0, false
	}
	if v, ok := m.Get(cpim.NSCPIM, "MsgID"); ok {
		msgID, err = strconv.ParseInt(v, 10, 64)
		if err != nil || msgID <= 0 {
			e.logDiscard(c, "bad MsgID", "msgid", v)
			return nil, 0, false
		}
	}
	to := tos[0].URI

	e.mu.Lock()
	s = e.sessions[to]
	if s == nil {
		e.mu.Unlock()
		e.logDiscard(c, "no session", "from", from.URI, "to", to)
		return nil, 0, false
	}
	if s.remote == nil {
		// An offer whose answer has not reached Open yet: the peer may
		// already be sending. Keep the message until Open names the peer
		// (only whole messages: a streamed body cannot wait).
		ok := !partial && s.holdEarly(c, m, msgID)
		e.mu.Unlock()
		if !ok {
			e.logDiscard(c, "too many messages before the answer", "to", to)
		}
		return nil, 0, false
	}
	if from.URI != s.remote.URI {
		e.mu.Unlock()
		e.logDiscard(c, "From does not match the session", "from", from.URI, "to", to)
		return nil, 0, false
	}
	if cur := s.conn.Load(); cur != c {
		// §6.2: the session must be associated with this connection. A
		// binding guessed from the source address yields to proof.
		if (cur != nil && s.confirmed) || !c.acceptable(s) {
			e.mu.Unlock()
			e.logDiscard(c, "session is bound to another connection", "to", to)
			return nil, 0, false
		}
		e.bind(s, c, true)
		e.reguessLocked()
	} else if !s.confirmed {
		s.confirmed = true
		// c now carries a proven session: a reuse candidate (§2) for the
		// peer's other sessions.
		e.reguessLocked()
	}
	e.mu.Unlock()
	return s, msgID, true
}
