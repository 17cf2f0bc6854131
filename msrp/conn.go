package msrp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is one MSRP transport connection (RFC 4975 §5.4, §7.3). Several
// sessions to the same host, port and scheme share one Conn. A Conn runs
// over any net.Conn: one goroutine reads frames and dispatches them, one
// goroutine owns writing (see the chunk scheduler in sender.go).
//
// Conns are created by Endpoint.Dial (active side) and by Endpoint.Serve
// or Endpoint.ServeConn (passive side); their goroutines belong to the
// Endpoint.
type Conn struct {
	ep         *Endpoint
	nc         net.Conn
	key        string // reuse key of dialed connections, "" for accepted ones
	secure     bool
	remoteAddr string
	peerCert   *x509.Certificate
	r          *Reader
	q          *scheduler
	headBuf    []byte      // writer goroutine scratch
	sockOff    int64       // octets written to nc (writer goroutine)
	flushHooks []flushHook // writer goroutine; pending from hookHead on
	hookHead   int
	ctrlSpare  []byte     // writer goroutine: the control buffer not in the queue
	hookSpare  []ctrlHook // writer goroutine
	rf         Frame      // reader goroutine: the frame being read
	respBuf    Frame      // reader goroutine: scratch response
	// unboundFails counts requests refused in a row while no session used
	// the connection (reader goroutine).
	unboundFails int
	log          *slog.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	shutdown atomic.Bool  // close once the write queue is empty
	lastSend atomic.Int64 // unix nanoseconds of the last socket write
	failOnce sync.Once

	mu       sync.Mutex
	sessions map[string]*Session // by local session-id
	txns     map[string]*txn
	// Transaction timers: every timer has the same duration, so deadlines
	// come in the order timers start. tq holds the started transactions in
	// that order (from tqHead on; answered ones are dropped lazily) and one
	// timer per connection fires at the earliest deadline (RFC 4975
	// §7.1.1), instead of a runtime timer per transaction.
	tq      []*txn
	tqHead  int
	txTimer *time.Timer
	txArmed bool
	refs    int
	idle    *time.Timer
	err     error
	closed  bool // fail has run: no new transactions
}

// txnResult is what a RoundTrip waiter receives.
type txnResult struct {
	f   *Frame
	err error
}

// txn is one outstanding request on a connection (RFC 4975 §7.1.1).
type txn struct {
	c     *Conn
	tid   string
	m     *outMsg // SEND chunk of a message, or nil
	start int64   // first octet of the chunk (1-based)
	n     int64   // octets in the chunk
	resp  chan txnResult
	// deadline is when the timer expires, set once the last byte is
	// on the socket (guarded by c.mu).
	deadline time.Time
	// live: t is in c.txns, awaiting its response (guarded by c.mu); it
	// spares the timer queue map lookups.
	live bool
}

func newConn(ep *Endpoint, nc net.Conn, key string) *Conn {
	c := &Conn{
		ep:         ep,
		nc:         nc,
		key:        key,
		remoteAddr: nc.RemoteAddr().String(),
		q:          newScheduler(),
		done:       make(chan struct{}),
		sessions:   make(map[string]*Session),
		txns:       make(map[string]*txn),
	}
	if tc, ok := nc.(*tls.Conn); ok {
		c.secure = true
		if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 {
			c.peerCert = st.PeerCertificates[0]
		}
	}
	c.log = ep.log.With("conn", c.remoteAddr)
	c.r = NewReader(nc, ep.cfg.Limits)
	c.ctx, c.cancel = context.WithCancelCause(ep.ctx)
	return c
}

// start launches the connection's goroutines, owned by the endpoint. It is
// called by Endpoint.addConn with the endpoint's lock held, so that no
// goroutine starts once Close has begun.
func (c *Conn) start() {
	var wg sync.WaitGroup
	wg.Add(2)
	c.ep.wg.Go(func() { defer wg.Done(); c.readLoop() })
	c.ep.wg.Go(func() { defer wg.Done(); c.writeLoop() })
	if ka := c.ep.cfg.KeepAlive; ka > 0 {
		wg.Add(1)
		c.ep.wg.Go(func() { defer wg.Done(); c.keepAlive(ka) })
	}
	c.ep.wg.Go(func() {
		wg.Wait()
		close(c.done)
	})
	c.mu.Lock()
	if c.refs == 0 {
		c.armIdleLocked()
	}
	c.mu.Unlock()
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Secure reports whether the connection runs over TLS (msrps).
func (c *Conn) Secure() bool { return c.secure }

// PeerCertificate returns the peer's leaf certificate on a TLS connection,
// or nil.
func (c *Conn) PeerCertificate() *x509.Certificate { return c.peerCert }

// Done is closed once the connection has ended and its goroutines exited.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open or after
// an orderly close.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection at once, failing every session on it.
func (c *Conn) Close() error {
	c.fail(ErrConnClosed)
	return nil
}

// Release gives back the reference obtained from Endpoint.Dial. The
// connection is closed after Config.IdleTimeout once no session and no
// caller uses it (RFC 4975 §5.4: SHOULD NOT close a connection that
// sessions still use).
func (c *Conn) Release() { c.release() }

func (c *Conn) acquire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.shutdown.Load() || c.ctx.Err() != nil {
		return false
	}
	c.refs++
	if c.idle != nil {
		c.idle.Stop()
		c.idle = nil
	}
	return true
}

func (c *Conn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refs > 0 {
		c.refs--
	}
	if c.refs == 0 {
		c.armIdleLocked()
	}
}

func (c *Conn) armIdleLocked() {
	if c.idle != nil {
		c.idle.Stop()
		c.idle = nil
	}
	if c.closed {
		return
	}
	d := c.ep.idleTimeout
	c.idle = time.AfterFunc(d, func() {
		c.mu.Lock()
		idle := c.refs == 0 && !c.closed
		if idle {
			// No session may take the connection from now on.
			c.shutdown.Store(true)
		}
		c.mu.Unlock()
		if idle {
			c.ep.forgetConn(c)
			c.q.signal()
		}
	})
}

// fail ends the connection with err (nil for an orderly close): every
// session on it fails, every waiting transaction gets err.
func (c *Conn) fail(err error) {
	c.failOnce.Do(func() {
		cause := err
		if cause == nil {
			cause = ErrConnClosed
		}
		c.mu.Lock()
		c.closed = true
		if err != nil && !errors.Is(err, ErrConnClosed) {
			c.err = err
		}
		txns := c.txns
		c.txns = map[string]*txn{}
		for _, t := range txns {
			t.live = false
		}
		sessions := make([]*Session, 0, len(c.sessions))
		for _, s := range c.sessions {
			sessions = append(sessions, s)
		}
		if c.idle != nil {
			c.idle.Stop()
		}
		c.mu.Unlock()
		c.cancel(cause)
		_ = c.nc.Close()
		c.ep.forgetConn(c)
		c.mu.Lock()
		if c.txTimer != nil {
			c.txTimer.Stop()
		}
		c.txArmed = false
		clear(c.tq)
		c.tq, c.tqHead = nil, 0
		c.mu.Unlock()
		for _, t := range txns {
			if t.resp != nil {
				t.resp <- txnResult{err: cause}
			}
		}
		if len(sessions) > 0 {
			lost := fmt.Errorf("%w: %s: %w", ErrConnLost, c.remoteAddr, cause)
			for _, s := range sessions {
				s.fail(lost)
			}
		}
		if err != nil && !errors.Is(err, ErrConnClosed) && !errors.Is(err, ErrEndpointClosed) {
			c.log.Debug("msrp connection failed", "err", err)
		}
	})
}

func (c *Conn) addSession(s *Session) {
	c.mu.Lock()
	c.sessions[s.id] = s
	c.mu.Unlock()
}

func (c *Conn) removeSession(s *Session) {
	c.mu.Lock()
	if c.sessions[s.id] == s {
		delete(c.sessions, s.id)
	}
	c.mu.Unlock()
}

// newChunkTxn registers the transaction of one SEND chunk. With
// Failure-Report "no" nothing will answer it, so it is not registered
// (§7.1.2); with "partial" only errors will (its timer just forgets it).
func (c *Conn) newChunkTxn(tid string, m *outMsg, start, n int64) *txn {
	t := &txn{c: c, tid: tid, m: m, start: start, n: n}
	if m.failure == "no" {
		return t
	}
	c.mu.Lock()
	c.txns[tid] = t
	t.live = true
	c.mu.Unlock()
	return t
}

// startTimer starts the transaction timer once the request's last byte has
// been handed to the socket (RFC 4975 §7.1.1: 30 s after the last byte).
func (t *txn) startTimer() {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.live || c.closed {
		return // already answered, or not registered (Failure-Report no)
	}
	d := c.ep.txTimeout
	t.deadline = time.Now().Add(d)
	if live := len(c.tq) - c.tqHead; live > 2*len(c.txns)+64 {
		// Answered transactions piled up behind an unanswered one:
		// drop them so that the queue stays proportional to the live ones.
		q := c.tq[:0]
		for _, x := range c.tq[c.tqHead:] {
			if x.live {
				q = append(q, x)
			}
		}
		clear(c.tq[len(q):])
		c.tq, c.tqHead = q, 0
	}
	c.tq = append(c.tq, t)
	if !c.txArmed {
		c.txArmed = true
		if c.txTimer == nil {
			c.txTimer = time.AfterFunc(d, c.onTxTimer)
		} else {
			c.txTimer.Reset(d)
		}
	}
}

// popTQLocked removes the head of the timer queue.
func (c *Conn) popTQLocked() {
	c.tq[c.tqHead] = nil
	c.tqHead++
	switch {
	case c.tqHead == len(c.tq):
		c.tq, c.tqHead = c.tq[:0], 0
	case c.tqHead >= 256 && 2*c.tqHead >= len(c.tq):
		n := copy(c.tq, c.tq[c.tqHead:])
		clear(c.tq[n:])
		c.tq, c.tqHead = c.tq[:n], 0
	}
}

// trimTQLocked drops answered transactions from the head of the queue.
func (c *Conn) trimTQLocked() {
	for c.tqHead < len(c.tq) {
		if c.tq[c.tqHead].live {
			return
		}
		c.popTQLocked()
	}
}

// onTxTimer expires every transaction past its deadline and re-arms the
// timer for the next one.
func (c *Conn) onTxTimer() {
	c.mu.Lock()
	now := time.Now()
	var expired []*txn
	for c.tqHead < len(c.tq) {
		t := c.tq[c.tqHead]
		if !t.live {
			c.popTQLocked()
			continue
		}
		if t.deadline.After(now) {
			break
		}
		delete(c.txns, t.tid)
		t.live = false
		expired = append(expired, t)
		c.popTQLocked()
	}
	if c.tqHead < len(c.tq) && !c.closed {
		c.txTimer.Reset(c.tq[c.tqHead].deadline.Sub(now))
	} else {
		c.txArmed = false
	}
	c.mu.Unlock()
	for _, t := range expired {
		t.expire()
	}
}

// expire reports that no response came within the timer; t has been
// removed from c.txns.
func (t *txn) expire() {
	c := t.c
	err := fmt.Errorf("%w: no response to %s within %v", ErrTimeout, t.tid, c.ep.txTimeout)
	if t.resp != nil {
		t.resp <- txnResult{err: err}
		return
	}
	if t.m == nil {
		return
	}
	if t.m.failure == "partial" {
		// No error within the timer: no news is good news (§7.1.2).
		t.m.s.settle(t.m)
		return
	}
	t.m.s.chunkTimedOut(t.m, err)
}

func (c *Conn) dropTxn(t *txn) {
	c.mu.Lock()
	if t.live {
		delete(c.txns, t.tid)
		t.live = false
		c.trimTQLocked()
	}
	c.mu.Unlock()
}

// RoundTrip sends a request other than a SEND with a body — an AUTH
// (RFC 4976 §5), a NICKNAME (RFC 7701), an extension method or a bodiless
// SEND — and waits for its response. A TID is chosen when req.TID is
// empty. The request must not be a REPORT (never answered, §7.1.2) and must
// not carry Failure-Report "no" or "partial". The body, if any, is at most
// 10240 octets and needs req.ContentType (§7.1). Responses other than 200
// are returned as a Frame, not as an error; errors mean no response came:
// the transaction timer expired (ErrTimeout), ctx ended, or the connection
// failed.
func (c *Conn) RoundTrip(ctx context.Context, req *Frame, body []byte) (*Frame, error) {
	switch {
	case !req.IsRequest():
		return nil, errors.New("msrp: RoundTrip: not a request")
	case req.Method == MethodREPORT:
		return nil, errors.New("msrp: RoundTrip: REPORT requests are never answered")
	case req.FailureReportMode() != "yes":
		return nil, errors.New("msrp: RoundTrip: Failure-Report must be yes to get a response")
	case len(body) > 10240:
		return nil, fmt.Errorf("msrp: RoundTrip: body of %d octets exceeds 10240", len(body))
	case body != nil && req.ContentType == "":
		return nil, errors.New("msrp: RoundTrip: body without Content-Type")
	case body == nil && req.ContentType != "":
		body = []byte{}
	}
	f := *req
	f.Flag = FlagEnd
	if f.TID == "" {
		f.TID = pickTID(body)
	} else if ContainsEndLine(body, f.TID) {
		return nil, errors.New("msrp: RoundTrip: body contains the request's end-line")
	}
	t := &txn{c: c, tid: f.TID, resp: make(chan txnResult, 1)}
	c.mu.Lock()
	if c.closed || c.ctx.Err() != nil {
		err := c.errLocked()
		c.mu.Unlock()
		return nil, err
	}
	if _, dup := c.txns[f.TID]; dup {
		c.mu.Unlock()
		return nil, fmt.Errorf("msrp: RoundTrip: transaction %s already in progress", f.TID)
	}
	c.txns[f.TID] = t
	t.live = true
	c.mu.Unlock()
	c.q.pushFrame(&f, body, t)
	select {
	case r := <-t.resp:
		return r.f, r.err
	case <-ctx.Done():
		c.dropTxn(t)
		return nil, context.Cause(ctx)
	}
}

func (c *Conn) errLocked() error {
	if c.err != nil {
		return c.err
	}
	if err := context.Cause(c.ctx); err != nil {
		return err
	}
	return ErrConnClosed
}

// sendFrame queues a complete frame (response or REPORT).
func (c *Conn) sendFrame(f *Frame, body []byte) {
	if c.ctx.Err() != nil {
		return
	}
	c.q.pushFrame(f, body, nil)
}

// respond answers req with code if RFC 4975 §7.1.2 allows it: never for a
// REPORT, never for Failure-Report "no", only errors for "partial".
func (c *Conn) respond(req *Frame, code int, comment string) {
	if !mayRespond(req, code) {
		return
	}
	// Respond's frame, built in scratch space: it is encoded at once and
	// may alias req's paths (reader goroutine).
	if comment == "" {
		comment = StatusText(code)
	}
	resp := &c.respBuf
	*resp = Frame{TID: req.TID, StatusCode: code, Comment: comment, MessageID: req.MessageID, Flag: FlagEnd}
	if req.Method == MethodSEND {
		if len(req.FromPath) > 0 {
			resp.ToPath = req.FromPath[:1:1]
		}
		resp.ByteRange, resp.HasByteRange = req.ByteRange, req.HasByteRange
	} else {
		resp.ToPath = req.FromPath
	}
	if len(req.ToPath) > 0 {
		resp.FromPath = req.ToPath[:1:1]
	}
	c.sendFrame(resp, nil)
	*resp = Frame{}
}

// respondMalformed answers a request that the Reader refused with se
// (400, 413: RFC 4975 §7.1.1, §10.2; FINDINGS F1). Its partial frame may
// lack the paths the response is addressed with (Reader keeps those that
// parsed, wherever they were). A missing or unparseable From-Path is
// replaced by the To-Path of the session that sent it: the one its To-Path
// names, if that session is bound to c, else the one session bound to c
// if there is exactly one. A missing To-Path is replaced likewise by that
// session's own URI. Without such a session the request cannot be
// answered and is dropped: the response would go nowhere (Check refuses
// a frame without paths).
func (c *Conn) respondMalformed(f *Frame, se *StatusError) {
	if len(f.FromPath) > 0 && len(f.ToPath) > 0 {
		c.respond(f, se.Code, se.Comment)
		return
	}
	s := c.senderSession(f)
	if s == nil {
		return
	}
	s.mu.Lock()
	peer := s.toPath
	s.mu.Unlock()
	// A copy: f's slices belong to the reader (ReadFrameInto reuses them).
	g := *f
	if len(g.FromPath) == 0 {
		g.FromPath = peer
	}
	if len(g.ToPath) == 0 {
		g.ToPath = s.fromPath
	}
	if len(g.FromPath) == 0 {
		return // the session has no peer yet
	}
	c.respond(&g, se.Code, se.Comment)
}

// senderSession returns the session bound to c that request f, which
// misses a path, comes from: the one its To-Path names, else the only
// session bound to c; nil if there is none or several.
func (c *Conn) senderSession(f *Frame) *Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(f.ToPath) > 0 {
		u := f.ToPath[0]
		if s := c.sessions[u.SessionID]; s != nil && s.localURI.Equal(u) {
			return s
		}
	}
	if len(c.sessions) != 1 {
		return nil
	}
	for _, s := range c.sessions {
		return s
	}
	return nil
}

// readLoop is the reader goroutine of c.
func (c *Conn) readLoop() {
	// One Frame is reused for every frame read (ReadFrameInto): nothing
	// may keep a reference to it or its paths after it is handled.
	f := &c.rf
	defer func() {
		// The connection has ended: its 64 KiB read buffer goes, even if
		// the application still holds c (FINDINGS F9).
		c.r = nil
		c.rf, c.respBuf = Frame{}, Frame{}
	}()
	for {
		if !c.waitRoom() {
			c.fail(nil)
			return
		}
		err := c.r.ReadFrameInto(f)
		if err != nil {
			var se *StatusError
			if errors.As(err, &se) {
				// Delimited but bad (400, 413): answer and go on (§7.3.1).
				if f.IsRequest() {
					c.respondMalformed(f, se)
				}
				continue
			}
			if c.ctx.Err() != nil {
				c.fail(nil)
			} else if errors.Is(err, io.EOF) {
				c.fail(fmt.Errorf("msrp: %s closed the connection: %w", c.remoteAddr, err))
			} else {
				c.fail(fmt.Errorf("msrp: reading from %s: %w", c.remoteAddr, err))
			}
			return
		}
		if !f.IsRequest() {
			if err := c.drainBody(); err != nil {
				c.fail(err)
				return
			}
			c.handleResponse(f)
			continue
		}
		var herr error
		switch f.Method {
		case MethodSEND:
			herr = c.handleSEND(f)
		case MethodREPORT:
			herr = c.handleREPORT(f)
		default:
			// §12: unknown (or, at an endpoint, unsupported) methods get 501.
			herr = c.drainBody()
			c.respond(f, 501, "")
		}
		if herr != nil {
			c.fail(herr)
			return
		}
	}
}

// waitRoom blocks the reader goroutine while the write queue holds more
// than maxCtrlQueue octets of control frames (back-pressure, FINDINGS F10):
// nothing more is read, so nothing more is answered, until the writer has
// drained it. A peer that never reads is closed by the write deadline
// (TransactionTimeout), which fails the connection and ends c.ctx. It
// reports false once the connection is ending.
func (c *Conn) waitRoom() bool {
	for c.q.pending() > maxCtrlQueue {
		select {
		case <-c.q.room:
		case <-c.ctx.Done():
			return false
		}
	}
	return c.ctx.Err() == nil
}

// drainBody reads and discards the rest of the current frame's body.
func (c *Conn) drainBody() error {
	_, err := c.drainBodyN()
	return err
}

// drainBodyN is drainBody returning how many body octets it read.
func (c *Conn) drainBodyN() (int64, error) {
	var n int64
	for {
		seg, err := c.r.NextBodySegment()
		n += int64(len(seg))
		if err == io.EOF {
			return n, nil
		}
		if _, ok := errors.AsType[*StatusError](err); ok {
			return n, nil // over a limit: the next ReadFrame skips the rest
		}
		if err != nil {
			return n, fmt.Errorf("msrp: reading body from %s: %w", c.remoteAddr, err)
		}
	}
}

func (c *Conn) handleResponse(f *Frame) {
	c.mu.Lock()
	t := c.txns[f.TID]
	if t != nil {
		delete(c.txns, f.TID)
		t.live = false
		c.trimTQLocked()
	}
	c.mu.Unlock()
	if t == nil {
		c.log.Debug("msrp response for unknown transaction", "tid", f.TID, "code", f.StatusCode)
		return
	}
	if t.resp != nil {
		t.resp <- txnResult{f: f.Clone()} // f is the reader's, reused
		return
	}
	if t.m != nil {
		t.m.s.chunkResponse(t, f)
	}
}

// route finds the session a request is for (RFC 4975 §5.4, §7.3): its
// To-Path (a single URI at an endpoint) must name a session bound to this
// connection, or an advertised session not yet bound, which the request
// then binds to this connection. It returns 481 for an unknown session and
// 506 for one bound to another connection.
func (c *Conn) route(f *Frame) (*Session, int) {
	if len(f.ToPath) != 1 {
		return nil, 481
	}
	u := f.ToPath[0]
	c.mu.Lock()
	s := c.sessions[u.SessionID]
	c.mu.Unlock()
	if s != nil {
		if !s.localURI.Equal(u) {
			return nil, 481
		}
		return s, 0
	}
	s = c.ep.lookupSession(u)
	if s == nil {
		return nil, 481
	}
	return s, s.bindInbound(c)
}

// maxUnboundFailures is how many requests in a row a connection that no
// session uses may have refused (481, 506) before it is closed: such a
// peer is guessing session-ids or flooding, not talking to a session
// (RFC 4976 §6.1 gives relays the same advice; FINDINGS F10).
const maxUnboundFailures = 16

// ErrTooManyFailures ends a connection that no session uses after
// maxUnboundFailures refused requests in a row.
var ErrTooManyFailures = errors.New("msrp: too many refused requests on a connection with no session")

func (c *Conn) handleSEND(f *Frame) error {
	s, code := c.route(f)
	if code != 0 {
		if err := c.drainBody(); err != nil {
			return err
		}
		c.respond(f, code, "")
		c.mu.Lock()
		unbound := len(c.sessions) == 0 && c.refs == 0
		c.mu.Unlock()
		if !unbound {
			c.unboundFails = 0
			return nil
		}
		if c.unboundFails++; c.unboundFails >= maxUnboundFailures {
			return fmt.Errorf("%w: %d requests in a row for no session from %s", ErrTooManyFailures, c.unboundFails, c.remoteAddr)
		}
		return nil
	}
	c.unboundFails = 0
	return s.recvSEND(c, f)
}

func (c *Conn) handleREPORT(f *Frame) error {
	// The body of a REPORT is informational only (§7.1.2).
	if err := c.drainBody(); err != nil {
		return err
	}
	s, code := c.route(f)
	if code != 0 {
		return nil // REPORTs are never answered, not even with 481.
	}
	s.recvREPORT(f)
	return nil
}

// keepAlive sends a bodiless SEND (RFC 4975 §7.1.1) on every session of c
// once nothing was written for d; a missing response within the
// transaction timeout fails the connection, so that a peer that vanished
// without closing the socket is noticed even when nothing is being sent.
func (c *Conn) keepAlive(d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, c.lastSend.Load())) < d {
			continue
		}
		c.mu.Lock()
		var ss []*Session
		for _, s := range c.sessions {
			ss = append(ss, s)
		}
		c.mu.Unlock()
		for _, s := range ss {
			s.mu.Lock()
			ok := s.opened && !s.ended
			s.mu.Unlock()
			if !ok {
				continue
			}
			req := &Frame{Method: MethodSEND, ToPath: s.toPath, FromPath: s.fromPath, MessageID: NewMessageID()}
			resp, err := c.RoundTrip(c.ctx, req, nil)
			if err != nil {
				if c.ctx.Err() == nil {
					c.fail(fmt.Errorf("msrp: keep-alive to %s: %w", c.remoteAddr, err))
				}
				return
			}
			switch resp.StatusCode {
			case 481:
				s.fail(ErrSessionUnknown)
			case 506:
				s.fail(ErrSessionBound)
			}
		}
	}
}
