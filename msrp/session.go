package msrp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// Errors of the MSRP endpoint. Those carried by Session.Err and by failed
// Deliveries wrap one of them.
var (
	// ErrConnLost: the transport connection of the session failed (RFC
	// 4975 §5.4: a connection failure fails every session on it; recovery
	// needs a new SDP exchange).
	ErrConnLost = errors.New("msrp: connection lost")
	// ErrConnClosed: the connection was closed locally.
	ErrConnClosed = errors.New("msrp: connection closed")
	// ErrEndpointClosed: the Endpoint was closed.
	ErrEndpointClosed = errors.New("msrp: endpoint closed")
	// ErrTimeout: no response arrived within Config.TransactionTimeout of
	// the last byte sent (RFC 4975 §7.1.1).
	ErrTimeout = errors.New("msrp: transaction timed out")
	// ErrSessionUnknown: the peer answered 481: it has no such session
	// (§7.3). The session has failed.
	ErrSessionUnknown = errors.New("msrp: peer does not know the session (481)")
	// ErrSessionBound: the peer answered 506: the session is bound to
	// another connection (§5.4).
	ErrSessionBound = errors.New("msrp: session bound to another connection (506)")
	// ErrFingerprint: the peer's TLS certificate does not match the
	// a=fingerprint of its SDP (RFC 4975 §14.4, RFC 4572).
	ErrFingerprint = errors.New("msrp: peer certificate does not match a=fingerprint")
	// ErrNotOpen: Send on a session whose Open has not completed.
	ErrNotOpen = errors.New("msrp: session not open")
	// ErrDirection: the SDP direction attributes (sendonly, recvonly,
	// inactive) do not let this side send regular content (RFC 4975 §8.9).
	ErrDirection = errors.New("msrp: SDP direction does not allow sending messages")
)

const (
	maxIncomingInFlight = 64       // messages being reassembled per session
	maxSeenIDs          = 4096     // Message-IDs remembered for duplicate detection
	maxQueued           = 1024     // received messages waiting for Receive
	maxQueuedBytes      = 32 << 20 // in-memory bodies waiting for Receive
	defaultMaxInMemory  = 1 << 20
	// defaultReportTimeout is Config.ReportTimeout's default.
	defaultReportTimeout = 2 * time.Minute
)

// Session is one MSRP session (RFC 4975 §5): it implements session.Session.
// Its methods are safe for concurrent use.
type Session struct {
	ep        *Endpoint
	id        string // local session-id
	localURI  URI
	localPath []URI // the a=path we advertised
	fromPath  []URI // From-Path of our requests
	opts      session.Options
	accept    []string
	local     *messagesdp.Media
	relay     *Relay
	// failureReport is the Failure-Report of our SENDs (§7.1.2).
	failureReport string

	bound chan struct{} // closed when a connection is bound

	lastType atomic.Pointer[string] // last ContentType Send validated

	// Set by Open before any message is queued; read-only afterwards.
	toPath   []URI
	remote   *messagesdp.Media
	remoteFP string

	mu      sync.Mutex
	conn    *Conn
	opened  bool
	out     map[string]*outMsg
	refused map[string]bool // types the peer answered 415 for
	queue   []*session.Incoming
	queued  int64 // octets of in-memory bodies in queue
	qwake   chan struct{}
	qspace  chan struct{}
	done    chan struct{}
	err     error
	ended   bool

	// Receive state, owned by the reader goroutine of the bound Conn.
	in       map[string]*inMsg
	seen     map[string]struct{}
	seenRing []string // the last maxSeenIDs Message-IDs, oldest at seenNext
	seenNext int
	rejected map[string]int // Message-ID -> code answered
}

// inMsg is a message being reassembled (RFC 4975 §7.3.1).
type inMsg struct {
	id          string
	contentType string
	asm         *Assembly
	mem         *MemoryBuffer // nil when the body goes to the Sink
	spill       *spillBody    // unknown size: memory first, then the Sink
	success     bool
	acked       bool // a chunk of it was answered 200 (§7.1.4)
}

func newSession(ep *Endpoint, id string, local URI, opts session.Options) *Session {
	s := &Session{
		ep:       ep,
		id:       id,
		localURI: local,
		fromPath: []URI{local},
		opts:     opts,
		accept:   opts.AcceptTypes,
		bound:    make(chan struct{}),
		out:      make(map[string]*outMsg),
		refused:  make(map[string]bool),
		qwake:    make(chan struct{}, 1),
		qspace:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		in:       make(map[string]*inMsg),
		seen:     make(map[string]struct{}),
		rejected: make(map[string]int),
	}
	if s.accept == nil {
		s.accept = defaultAcceptTypes
	}
	if s.opts.MaxInMemory <= 0 {
		s.opts.MaxInMemory = ep.cfg.MaxInMemory
	}
	return s
}

// defaultAcceptTypes are accepted when Options.AcceptTypes is nil.
var defaultAcceptTypes = []string{"text/plain", "message/cpim", "*"}

// Local returns the local media description.
func (s *Session) Local() *messagesdp.Media { return s.local }

// Remote returns the peer's media description.
func (s *Session) Remote() *messagesdp.Media {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remote
}

// LocalURI returns the session's own MSRP URI (the last URI of a=path).
func (s *Session) LocalURI() URI { return s.localURI }

// Conn returns the connection the session is bound to, or nil: before it
// is bound, and once the session has ended (an ended Session keeps no
// reference to its connection, so that keeping ended sessions around does
// not keep their connections' buffers; FINDINGS F9).
func (s *Session) Conn() *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended: nil while it runs and after Close.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the session: messages being sent are aborted ('#'), pending
// deliveries fail with session.ErrClosed, and the connection is released.
func (s *Session) Close() error {
	s.end(nil)
	return nil
}

// fail ends the session with err.
func (s *Session) fail(err error) { s.end(err) }

func (s *Session) end(err error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.err = err
	outs := s.out
	s.out = map[string]*outMsg{}
	c := s.conn
	s.conn = nil // see Conn
	close(s.done)
	s.mu.Unlock()

	cause := err
	if cause == nil {
		cause = session.ErrClosed
	}
	for _, m := range outs {
		m.abort(cause)
		s.completeMsg(m, session.Result{Outcome: session.Failed, Err: cause})
	}
	s.ep.forgetSession(s)
	if c != nil {
		c.removeSession(s)
		c.release()
	}
	if err != nil {
		s.ep.log.Debug("msrp session failed", "session", s.id, "err", err)
	}
}

// bindInbound binds s to c on the first request c carries for it (RFC 4975
// §5.4). It returns 0, or the response code to refuse the request with.
func (s *Session) bindInbound(c *Conn) int {
	s.mu.Lock()
	switch {
	case s.ended:
		s.mu.Unlock()
		return 481
	case s.conn == c:
		s.mu.Unlock()
		return 0
	case s.conn != nil:
		s.mu.Unlock()
		return 506
	}
	if s.remoteFP != "" {
		if err := checkFingerprint(c, s.remoteFP); err != nil {
			s.mu.Unlock()
			s.fail(err)
			return 403
		}
	}
	if !c.acquire() {
		s.mu.Unlock()
		return 481
	}
	s.conn = c
	c.addSession(s)
	close(s.bound)
	s.mu.Unlock()
	return 0
}

// bindOutbound binds s to a connection it dialed (or its relay's); the
// caller holds a reference on c which the session takes over.
func (s *Session) bindOutbound(c *Conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		c.release()
		return s.closedErrLocked()
	}
	if s.conn != nil {
		c.release()
		if s.conn != c {
			return errors.New("msrp: session already bound to another connection")
		}
		return nil
	}
	s.conn = c
	c.addSession(s)
	close(s.bound)
	return nil
}

func (s *Session) closedErrLocked() error {
	if s.err != nil {
		return fmt.Errorf("%w: %w", session.ErrClosed, s.err)
	}
	return session.ErrClosed
}

// Send queues m and returns a Delivery tracking it (RFC 4975 §7.1.1). A
// body held in memory is sent from there; a BodyReader is read ahead in
// bounded memory while the message is chunked, interleaved with other
// traffic on the connection. With m.Size ≥ 0 exactly Size octets are read
// (the source need not reach EOF; a shorter one aborts the message with
// '#'); with Size -1 the source is read to EOF. Send checks the peer's
// accept-types, accept-wrapped-types, max-size, earlier 415s and the SDP
// direction (§8.6, §8.9, §10.6) and fails at once when they forbid m.
func (s *Session) Send(ctx context.Context, m *session.Outgoing) (*session.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("msrp: Send: nil message")
	}
	ctype, body, rd, size := m.ContentType, m.Body, m.BodyReader, m.Size
	if m.CPIM != nil {
		var err error
		if ctype, body, rd, size, err = wrapCPIM(m); err != nil {
			return nil, err
		}
	}
	if ctype == "" {
		return nil, errors.New("msrp: Send: empty ContentType")
	}
	if last := s.lastType.Load(); last == nil || *last != ctype {
		if _, _, err := mime.ParseMediaType(ctype); err != nil {
			return nil, fmt.Errorf("msrp: Send: bad ContentType %q: %w", ctype, err)
		}
		if strings.ContainsAny(ctype, "\r\n") {
			return nil, fmt.Errorf("msrp: Send: bad ContentType %q", ctype)
		}
		s.lastType.Store(&ctype) // checked: skip the parse for the next message of this type
	}
	if rd == nil {
		size = int64(len(body))
		if body == nil {
			body = []byte{}
		}
	} else if size < 0 {
		size = Unknown
	}
	id := m.ID
	if id == "" {
		id = nextMessageID()
	} else if !ValidIdent(id) {
		return nil, fmt.Errorf("msrp: Send: Message-ID %q is not an ident (RFC 4975 §9)", id)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.ended:
		return nil, s.closedErrLocked()
	case !s.opened:
		return nil, ErrNotOpen
	case !s.mayPost(ctype, m):
		return nil, fmt.Errorf("%w (local %q, remote %q)", ErrDirection, s.local.Mode, s.remote.Mode)
	case s.refused[refusalKey(ctype, m)]:
		return nil, fmt.Errorf("%w: %s (peer answered 415)", session.ErrTypeNotAccepted, refusalKey(ctype, m))
	case s.remote != nil && !peerAccepts(s.remote, ctype):
		return nil, fmt.Errorf("%w: %s", session.ErrTypeNotAccepted, ctype)
	case m.CPIM != nil && s.remote != nil && !peerAcceptsWrapped(s.remote, innerType(m)):
		return nil, fmt.Errorf("%w: %s inside message/cpim", session.ErrTypeNotAccepted, innerType(m))
	case s.remote != nil && s.remote.MaxSize > 0 && size > s.remote.MaxSize:
		return nil, fmt.Errorf("%w: %d > %d", session.ErrTooLarge, size, s.remote.MaxSize)
	case s.out[id] != nil:
		return nil, fmt.Errorf("msrp: Send: message %s is already being sent", id)
	}
	om := &outMsg{
		s:           s,
		id:          id,
		contentType: ctype,
		total:       size,
		typeKey:     refusalKey(ctype, m),
		success:     s.opts.WantReceipts && !m.NoReceipt,
		failure:     s.failureReport,
		d:           session.NewDelivery(id, size),
	}
	c := s.conn
	if rd != nil {
		om.feed = newFeeder()
		s.ep.wg.Go(func() { om.feed.run(rd, size, c.q.signal) })
	} else {
		om.data = body
	}
	s.out[id] = om
	c.q.pushStream(om)
	return om.d, nil
}

// Cancel aborts the sending of the message tracked by d: the chunk being
// written ends with '#' (RFC 4975 §7.1) and d fails with an error.
func (s *Session) Cancel(d *session.Delivery) {
	s.mu.Lock()
	m := s.out[d.ID()]
	s.mu.Unlock()
	if m == nil || m.d != d {
		return
	}
	m.abort(errStopped)
	s.completeMsg(m, session.Result{Outcome: session.Failed, Err: errStopped})
	if c := s.Conn(); c != nil {
		c.q.signal()
	}
}

// completeMsg finishes m's delivery once.
func (s *Session) completeMsg(m *outMsg, r session.Result) {
	s.mu.Lock()
	if m.finished {
		s.mu.Unlock()
		return
	}
	m.finished = true
	if s.out[m.id] == m {
		delete(s.out, m.id)
	}
	if m.reportTimer != nil {
		m.reportTimer.Stop()
	}
	s.mu.Unlock()
	m.d.Complete(r)
}

// chunkWritten records that a chunk of m is about to be answered.
func (s *Session) chunkWritten(m *outMsg, last bool) {
	s.mu.Lock()
	if m.failure == "yes" {
		m.outstanding++ // only "yes" brings a 200 to wait for
	}
	if last {
		m.lastSent = true
	}
	var r session.Result
	ok := false
	if last && m.failure == "no" {
		// Nothing will come back but success REPORTs, if asked for.
		r, ok = s.settleLocked(m)
	}
	s.mu.Unlock()
	if ok {
		s.completeMsg(m, r)
	}
}

// msgStopped is called by the writer after it dropped a stopped message.
func (s *Session) msgStopped(m *outMsg, err error) {
	if err == nil {
		err = errStopped
	}
	s.completeMsg(m, session.Result{Outcome: session.Failed, Err: err})
}

// settleLocked completes m if every byte is accounted for: answered with
// 200 (Sent) or, when success reports were asked for, confirmed by REPORTs
// (Delivered) (RFC 4975 §7.1.2).
func (s *Session) settleLocked(m *outMsg) (session.Result, bool) {
	if m.finished || !m.lastSent {
		return session.Result{}, false
	}
	if m.success {
		if m.acked.covers(m.total) {
			return session.Result{Outcome: session.Delivered}, true
		}
		if m.outstanding == 0 && m.reportTimer == nil && s.ep.reportWait > 0 {
			// Every chunk is answered: wait ReportTimeout for the
			// REPORTs (a Parley choice, see Config.ReportTimeout).
			m.reportTimer = time.AfterFunc(s.ep.reportWait, func() { s.reportTimedOut(m) })
		}
		return session.Result{}, false
	}
	if m.outstanding == 0 {
		return session.Result{Outcome: session.Sent}, true
	}
	return session.Result{}, false
}

// reportTimedOut completes m as Sent when its success REPORTs did not
// cover it within Config.ReportTimeout.
func (s *Session) reportTimedOut(m *outMsg) {
	s.mu.Lock()
	if m.finished {
		s.mu.Unlock()
		return
	}
	comment := fmt.Sprintf("no success report within %v: %d of %d octets confirmed", s.ep.reportWait, m.acked.size(), m.total)
	s.mu.Unlock()
	s.completeMsg(m, session.Result{Outcome: session.Sent, Comment: comment})
}

func (s *Session) settle(m *outMsg) {
	s.mu.Lock()
	r, ok := s.settleLocked(m)
	s.mu.Unlock()
	if ok {
		s.completeMsg(m, r)
	}
}

// chunkResponse handles the response to one chunk (RFC 4975 §7.2, §10).
func (s *Session) chunkResponse(t *txn, f *Frame) {
	m := t.m
	s.mu.Lock()
	if m.failure == "yes" {
		m.outstanding--
	}
	s.mu.Unlock()
	code := f.StatusCode
	if code == 200 {
		s.settle(m)
		return
	}
	r := session.Result{Outcome: session.Failed, Status: code, Comment: f.Comment}
	switch code {
	case 413: // §10: send no more chunks, interrupt the current one.
		r.Err = fmt.Errorf("%w: peer answered 413 %s", session.ErrTooLarge, f.Comment)
	case 415: // §10: stop using this type in the session.
		s.mu.Lock()
		s.refused[m.typeKey] = true
		s.mu.Unlock()
		r.Err = fmt.Errorf("%w: peer answered 415 for %s", session.ErrTypeNotAccepted, m.contentType)
	case 408: // §10: treat as a local timeout.
		r.Outcome = session.TimedOut
		r.Err = fmt.Errorf("%w: 408 from the network", ErrTimeout)
	case 481:
		r.Err = ErrSessionUnknown
	case 506:
		r.Err = ErrSessionBound
	default:
		r.Err = fmt.Errorf("msrp: peer answered %d %s", code, f.Comment)
	}
	if code == 413 || code == 481 || code == 506 {
		m.abortQuiet(r.Err)
	} else {
		m.abort(r.Err)
	}
	s.completeMsg(m, r)
	if code == 481 || code == 506 {
		s.fail(r.Err)
	}
	if c := s.Conn(); c != nil {
		c.q.signal()
	}
}

// chunkTimedOut handles a chunk transaction without a response.
func (s *Session) chunkTimedOut(m *outMsg, err error) {
	m.abort(err)
	s.completeMsg(m, session.Result{Outcome: session.TimedOut, Err: err})
	if c := s.Conn(); c != nil {
		c.q.signal()
	}
}

// recvREPORT correlates a REPORT with a message being sent (§7.1.2).
func (s *Session) recvREPORT(f *Frame) {
	if !f.HasStatus || f.MessageID == "" {
		return
	}
	s.mu.Lock()
	m := s.out[f.MessageID]
	if m == nil {
		s.mu.Unlock()
		return // §7.1.2: ignore REPORTs for unknown messages.
	}
	if f.Status.Code == 200 {
		br := f.ByteRange
		if !f.HasByteRange {
			br = ByteRange{Start: 1, End: m.total, Total: m.total}
		}
		end := br.End
		if end == Unknown {
			end = br.Total
		}
		if end == Unknown && m.lastSent {
			end = m.total
		}
		if end != Unknown {
			m.acked.add(br.Start, end)
			m.d.SetConfirmed(m.acked.size())
		}
		r, ok := s.settleLocked(m)
		s.mu.Unlock()
		if ok {
			s.completeMsg(m, r)
		}
		return
	}
	s.mu.Unlock()
	// A failure REPORT: the message failed; abort what is still being sent.
	err := fmt.Errorf("msrp: failure report %03d %d %s", f.Status.Namespace, f.Status.Code, f.Status.Comment)
	r := session.Result{Outcome: session.Failed, Status: f.Status.Code, Comment: f.Status.Comment, Err: err}
	if f.Status.Code == 408 {
		r.Outcome = session.TimedOut
	}
	if f.Status.Code == 413 {
		m.abortQuiet(err) // §10.5: no further chunks, even in a REPORT
	} else {
		m.abort(err)
	}
	s.completeMsg(m, r)
	if c := s.Conn(); c != nil {
		c.q.signal()
	}
}

// refusalKey names what a 415 refuses (§10.6): the type, or for a
// CPIM-wrapped message the container with the wrapped type.
func refusalKey(ctype string, m *session.Outgoing) string {
	if m.CPIM != nil {
		return baseType(ctype) + " " + baseType(innerType(m))
	}
	return baseType(ctype)
}

// mayPost reports whether the direction attributes allow sending m (RFC
// 4975 §8.9): they restrict regular content only, so IMDNs and
// is-composing indications still flow. Called with s.mu held.
func (s *Session) mayPost(ctype string, m *session.Outgoing) bool {
	local, remote := "", ""
	if s.local != nil {
		local = s.local.Mode
	}
	if s.remote != nil {
		remote = s.remote.Mode
	}
	if local != "recvonly" && local != "inactive" && remote != "sendonly" && remote != "inactive" {
		return true
	}
	t := baseType(ctype)
	if t == cpimType && m.CPIM != nil {
		t = baseType(innerType(m))
	}
	return t == "message/imdn+xml" || t == "application/im-iscomposing+xml"
}

// Receive returns the next complete message from the peer. Messages
// queued (and so answered 200) before the session ended are returned
// before the end is.
func (s *Session) Receive(ctx context.Context) (*session.Incoming, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			in := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.queued -= int64(len(in.Body))
			s.mu.Unlock()
			select {
			case s.qspace <- struct{}{}:
			default:
			}
			return in, nil
		}
		if s.ended {
			err := s.closedErrLocked()
			s.mu.Unlock()
			return nil, err
		}
		s.mu.Unlock()
		select {
		case <-s.qwake:
		case <-s.done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// enqueue hands a received message to Receive. When maxQueued messages or
// maxQueuedBytes of bodies wait, it blocks the connection's reader (TCP
// back-pressure) until the application receives one or the session ends.
// It reports whether in was queued: false when the session or the
// connection ended first.
func (s *Session) enqueue(c *Conn, in *session.Incoming) bool {
	for {
		s.mu.Lock()
		if s.ended {
			s.mu.Unlock()
			return false
		}
		n := int64(len(in.Body))
		if len(s.queue) == 0 || len(s.queue) < maxQueued && s.queued+n <= maxQueuedBytes {
			s.queue = append(s.queue, in)
			s.queued += n
			s.mu.Unlock()
			select {
			case s.qwake <- struct{}{}:
			default:
			}
			return true
		}
		s.mu.Unlock()
		select {
		case <-s.qspace:
		case <-s.done:
		case <-c.ctx.Done():
			return false
		}
	}
}

// recvSEND receives one SEND chunk for s from c (RFC 4975 §7.3.1): checks
// type and size for a new message, writes the body into the message's
// Assembly, answers per Failure-Report, and hands complete messages to
// Receive, with a success REPORT when asked for (§7.1.2).
func (s *Session) recvSEND(c *Conn, f *Frame) error {
	if !f.HasBody() {
		// A bodiless SEND binds the connection or keeps it alive (§5.4).
		c.respond(f, 200, "OK")
		return nil
	}
	id := f.MessageID
	if id == "" {
		if err := c.drainBody(); err != nil {
			return err
		}
		c.respond(f, 400, "Message-ID required")
		return nil
	}
	if code, ok := s.rejected[id]; ok {
		if err := c.drainBody(); err != nil {
			return err
		}
		c.respond(f, code, "")
		return nil
	}
	br := f.ByteRange
	if !f.HasByteRange {
		br = ByteRange{Start: 1, End: Unknown, Total: Unknown}
	}
	im := s.in[id]
	// Fast path: a new message whole in this chunk (1-N/N or 1-*/N),
	// small and acceptable, is read straight into its body, without an
	// Assembly. Anything unexpected (a '+' or '#' flag, a short or long
	// body, a reader limit) hands the octets read to the general path
	// below, which then decides exactly as if it had read them itself.
	var (
		pre    []byte // body octets the fast path read (at most Total+1)
		preGot int64  // how many it read in all
		preErr error  // the reader's *StatusError, if any
		fast   bool
	)
	if im == nil && br.Start == 1 && br.Total != Unknown && br.Total <= s.ep.fastWhole &&
		br.Total <= s.opts.MaxInMemory && (s.opts.MaxSize <= 0 || br.Total <= s.opts.MaxSize) &&
		len(s.in) < maxIncomingInFlight && typeAccepted(f.ContentType, s.accept) {
		buf := make([]byte, br.Total+1)
		n, err := c.readBodyInto(buf)
		if _, ok := errors.AsType[*StatusError](err); err != nil && !ok {
			return err
		}
		if err == nil && n == br.Total && f.Flag == FlagEnd {
			s.deliver(c, f, id, f.ContentType, buf[:n:n], n, n, f.WantsSuccessReport(), nil)
			return nil
		}
		pre, preGot, preErr, fast = buf[:min(n, br.Total+1)], n, err, true
	}
	if im == nil {
		var code int
		var comment string
		if im, code, comment = s.newIncoming(f, br); code != 0 {
			n, err := c.drainBodyN()
			if err != nil {
				return err
			}
			s.failIncoming(c, f, br, n+preGot, nil, code, comment)
			return nil
		}
	}
	// §14.5: check the Byte-Range before reading the body.
	if err := im.asm.BeginChunk(br); err != nil {
		n, derr := c.drainBodyN()
		if derr != nil {
			return derr
		}
		s.failIncoming(c, f, br, n, im, statusCode(err), "")
		return nil
	}
	var (
		got  int64
		werr error
	)
	if fast {
		got, werr = preGot, preErr
		if werr == nil {
			werr = im.asm.Write(br.Start, pre)
		}
	}
	for !fast {
		seg, err := c.r.NextBodySegment()
		if err == io.EOF {
			break
		}
		if se, ok := errors.AsType[*StatusError](err); ok {
			werr = se // chunk over the reader's limit; rest skipped later
			break
		}
		if err != nil {
			return fmt.Errorf("msrp: reading SEND body: %w", err)
		}
		if werr == nil {
			werr = im.asm.Write(br.Start+got, seg)
		}
		got += int64(len(seg))
	}
	if werr != nil {
		s.failIncoming(c, f, br, got, im, statusCode(werr), failComment(werr))
		return nil
	}
	if f.Flag == FlagAbort {
		// §7.1: the sender abandoned the message: discard it.
		delete(s.in, id)
		c.respond(f, 200, "OK")
		return nil
	}
	if err := im.asm.EndChunk(br, got, f.Flag); err != nil {
		s.failIncoming(c, f, br, got, im, statusCode(err), "")
		return nil
	}
	if !im.asm.Complete() {
		c.respond(f, 200, "OK")
		im.acked = im.acked || mayRespond(f, 200)
		return nil
	}
	delete(s.in, id)
	total := im.asm.Total()
	mem := im.mem
	if im.spill != nil && im.spill.sink == nil {
		mem = im.spill.mem
	}
	var body []byte
	if mem != nil {
		body = mem.Bytes()[:total]
		if body == nil {
			body = []byte{}
		}
	}
	s.deliver(c, f, id, im.contentType, body, total, got, im.success, im)
	return nil
}

// maxFastWhole bounds the messages that recvSEND's fast path reads
// straight into their body; each Endpoint copies it when created (a
// variable for the differential test).
var maxFastWhole int64 = 64 << 10

// readBodyInto reads the current frame's body into buf, and reports how
// many octets the body had (octets beyond len(buf) are read and dropped).
// A *StatusError means the reader's limit cut the body; other errors are
// fatal for the connection.
func (c *Conn) readBodyInto(buf []byte) (int64, error) {
	var n int64
	for {
		seg, err := c.r.NextBodySegment()
		if err == io.EOF {
			return n, nil
		}
		if se, ok := errors.AsType[*StatusError](err); ok {
			return n, se // over the reader's limit; the rest is skipped later
		}
		if err != nil {
			return n, fmt.Errorf("msrp: reading SEND body: %w", err)
		}
		if n < int64(len(buf)) {
			copy(buf[n:], seg)
		}
		n += int64(len(seg))
	}
}

// deliver hands a complete message to Receive (RFC 4975 §7.3.1): body is
// nil when it went to the Sink. It parses a message/cpim body held in
// memory and checks the type inside it (§8.6), queues the message, and
// then answers the last chunk f (got octets) and sends the success REPORT
// asked for (§7.1.3). A
// message/cpim body that does not parse is not delivered: the last chunk
// is answered 400 and, as for any failure, a failure REPORT follows when
// an earlier chunk was answered 200 or Failure-Report is partial
// (failIncoming; FINDINGS F2). im is nil for a message read whole by the
// fast path.
func (s *Session) deliver(c *Conn, f *Frame, id, ctype string, body []byte, total, got int64, success bool, im *inMsg) {
	br := f.ByteRange
	if !f.HasByteRange {
		br = ByteRange{Start: 1, End: Unknown, Total: Unknown}
	}
	in := &session.Incoming{
		ID:          id,
		ContentType: ctype,
		Size:        total,
		Received:    time.Now(),
		Body:        body,
	}
	if body != nil {
		var err error
		if in.CPIM, err = parseCPIM(in.ContentType, in.Body); err != nil {
			s.failIncoming(c, f, br, got, im, 400, "Malformed CPIM")
			return
		}
		// §8.6: a type inside the container must be in accept-types or
		// accept-wrapped-types.
		if in.CPIM != nil {
			if inner := in.CPIM.ContentType(); inner != "" && !typeAccepted(inner, s.accept) && !typeAccepted(inner, s.opts.AcceptWrappedTypes) {
				s.failIncoming(c, f, br, got, im, 415, "Unsupported Media Type inside message/cpim")
				return
			}
		}
	}
	in.Duplicate = s.markSeen(id)
	// Queued first, answered then: a 200 on the last chunk and a success
	// REPORT stand for a message Receive returns, even if the session ends
	// right after (Receive drains the queue before it reports the end). A
	// full queue holds the answer back with the reader (back-pressure).
	if !s.enqueue(c, in) {
		// The session ended meanwhile (§7.3.1: no such session), or the
		// connection did and nothing can be answered.
		c.respond(f, 481, "Session ended")
		return
	}
	c.respond(f, 200, "OK")
	if success {
		// §7.1.2: a success REPORT covering every byte received.
		rep := Frame{
			TID:          nextTID(),
			Method:       MethodREPORT,
			ToPath:       f.FromPath,
			FromPath:     s.fromPath,
			MessageID:    id,
			HasByteRange: true,
			ByteRange:    ByteRange{Start: 1, End: total, Total: total},
			HasStatus:    true,
			Status:       Status{Namespace: 0, Code: 200, Comment: "OK"},
			Flag:         FlagEnd,
		}
		c.sendFrame(&rep, nil)
	}
}

// failIncoming fails the message of chunk f (im is nil when it was
// refused on its first chunk): it answers the chunk with code as
// Failure-Report allows (§7.1.4, §7.2) and remembers the refusal for later
// chunks. It also sends a failure REPORT when one is due:
//
//   - Failure-Report "partial": no 200 was ever sent, so the REPORT is the
//     end-to-end word on the failure; relays that lose error responses
//     (Kamailio 5.6.3, see interop/README.md) still carry it;
//   - "yes" (or absent) once an earlier chunk of the message was answered
//     200: the sender was told those octets were received, and now learns
//     that the message as a whole failed (§7.1.4: "MAY send a 200 OK ...
//     and then send a failure REPORT request when the error is detected");
//   - "yes" for a request that came through a relay (From-Path of more
//     than one URI): the error response only reaches the relay, which
//     RFC 4976 §6.4.3 asks to turn it into a failure REPORT but which may
//     not (Kamailio 5.6.3 drops it, having answered 200 itself); a second
//     REPORT from a relay that does is ignored by the sender (§7.1.2);
//   - never with "no" (§7.1.4: MUST NOT).
//
// The REPORT's Byte-Range takes the range-start and total of the chunk
// and computes the range-end from the got octets actually received
// (§7.1.4).
func (s *Session) failIncoming(c *Conn, f *Frame, br ByteRange, got int64, im *inMsg, code int, comment string) {
	if im != nil {
		delete(s.in, im.id)
	}
	s.reject(f.MessageID, code)
	c.respond(f, code, comment)
	switch f.FailureReportMode() {
	case "partial":
	case "yes":
		if (im == nil || !im.acked) && len(f.FromPath) <= 1 {
			return
		}
	default:
		return
	}
	if comment == "" {
		comment = StatusText(code)
	}
	rep := &Frame{
		TID:          nextTID(),
		Method:       MethodREPORT,
		ToPath:       f.FromPath,
		FromPath:     s.fromPath,
		MessageID:    f.MessageID,
		HasByteRange: true,
		ByteRange:    ByteRange{Start: br.Start, End: br.Start + got - 1, Total: br.Total},
		HasStatus:    true,
		Status:       Status{Namespace: 0, Code: code, Comment: comment},
		Flag:         FlagEnd,
	}
	c.sendFrame(rep, nil)
}

// failComment is the comment phrase for a failed chunk write: the
// destination's failure for a Sink error, none for a status error.
func failComment(err error) string {
	if _, ok := errors.AsType[*StatusError](err); ok {
		return ""
	}
	return "Cannot store message"
}

// newIncoming starts reassembling a new message, or returns the response
// code to refuse it with (RFC 4975 §7.3.1, §8.6: 415 for a type not in
// accept-types, 413 for a size over max-size).
func (s *Session) newIncoming(f *Frame, br ByteRange) (*inMsg, int, string) {
	if !typeAccepted(f.ContentType, s.accept) {
		return nil, 415, "Unsupported Media Type"
	}
	if s.opts.MaxSize > 0 && br.Total > s.opts.MaxSize {
		return nil, 413, "Message larger than max-size"
	}
	if len(s.in) >= maxIncomingInFlight {
		return nil, 413, "Too many messages in progress"
	}
	im := &inMsg{id: f.MessageID, contentType: f.ContentType, success: f.WantsSuccessReport()}
	limit := s.opts.MaxSize
	memMax := s.opts.MaxInMemory
	if br.Total != Unknown && br.Total > memMax && s.opts.Sink != nil {
		dst, err := s.opts.Sink(session.Info{ID: f.MessageID, ContentType: f.ContentType, Size: br.Total})
		if err != nil || dst == nil {
			return nil, 413, "Cannot store message"
		}
		im.asm = NewAssembly(dst, limit)
	} else if br.Total == Unknown && s.opts.Sink != nil {
		info := session.Info{ID: f.MessageID, ContentType: f.ContentType, Size: -1}
		im.spill = &spillBody{mem: NewMemoryBuffer(memMax), max: memMax, open: func() (io.WriterAt, error) { return s.opts.Sink(info) }}
		im.asm = NewAssembly(im.spill, limit)
	} else {
		if br.Total != Unknown && br.Total > memMax {
			return nil, 413, "Message too large"
		}
		if limit == 0 || limit > memMax {
			limit = memMax
		}
		im.mem = NewMemoryBuffer(limit)
		im.asm = NewAssembly(im.mem, limit)
	}
	s.in[im.id] = im
	return im, 0, ""
}

func (s *Session) reject(id string, code int) {
	if len(s.rejected) >= maxSeenIDs {
		clear(s.rejected)
	}
	s.rejected[id] = code
}

// markSeen records id and reports whether it was already delivered
// (RFC 4975 §5.4: duplicates are flagged, not hidden).
func (s *Session) markSeen(id string) bool {
	if _, ok := s.seen[id]; ok {
		return true
	}
	s.seen[id] = struct{}{}
	if len(s.seenRing) < maxSeenIDs {
		s.seenRing = append(s.seenRing, id)
		return false
	}
	delete(s.seen, s.seenRing[s.seenNext])
	s.seenRing[s.seenNext] = id
	s.seenNext = (s.seenNext + 1) % maxSeenIDs
	return false
}

// spillBody holds an incoming message of unknown size in memory until it
// outgrows MaxInMemory, then moves it to the Sink and goes on there.
type spillBody struct {
	mem  *MemoryBuffer
	max  int64
	sink io.WriterAt
	open func() (io.WriterAt, error)
}

func (b *spillBody) WriteAt(p []byte, off int64) (int, error) {
	if b.sink == nil && off+int64(len(p)) <= b.max {
		return b.mem.WriteAt(p, off)
	}
	if b.sink == nil {
		dst, err := b.open()
		if err != nil {
			return 0, err
		}
		if dst == nil {
			return 0, errors.New("msrp: Sink returned no destination")
		}
		if held := b.mem.Bytes(); len(held) > 0 {
			if _, err := dst.WriteAt(held, 0); err != nil {
				return 0, err
			}
		}
		b.sink, b.mem = dst, nil
	}
	return b.sink.WriteAt(p, off)
}

// rangeSet is a set of 1-based inclusive octet ranges.
type rangeSet struct {
	r    [][2]int64 // sorted, disjoint, non-adjacent
	seen bool       // add was called at least once
}

func (rs *rangeSet) add(start, end int64) {
	rs.seen = true
	if start < 1 || end < start {
		return
	}
	out := rs.r[:0:0]
	placed := false
	for _, x := range rs.r {
		switch {
		case x[1]+1 < start:
			out = append(out, x)
		case end+1 < x[0]:
			if !placed {
				out = append(out, [2]int64{start, end})
				placed = true
			}
			out = append(out, x)
		default:
			start, end = min(start, x[0]), max(end, x[1])
		}
	}
	if !placed {
		out = append(out, [2]int64{start, end})
	}
	rs.r = out
}

// covers reports whether the set covers 1..total (an empty message is
// covered once any report for it arrived).
func (rs *rangeSet) covers(total int64) bool {
	if total == 0 {
		return rs.seen
	}
	return len(rs.r) == 1 && rs.r[0][0] == 1 && rs.r[0][1] >= total
}

func (rs *rangeSet) size() int64 {
	var n int64
	for _, x := range rs.r {
		n += x[1] - x[0] + 1
	}
	return n
}

// statusCode returns the response code for a reassembly error: that of a
// *StatusError, else 413 (the destination failed: stop sending, §10).
func statusCode(err error) int {
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.Code
	}
	return 413
}
