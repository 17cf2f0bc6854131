package cpimtransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// maxEarly bounds the messages kept for an offer before its Open.
const maxEarly = 64

// defaultMaxInMemory is Options.MaxInMemory's default.
const defaultMaxInMemory = 1 << 20

// maxUnsizedBody bounds a BodyReader of unknown size, which must be read
// into memory because Content-Length comes first (§5).
const maxUnsizedBody = 64 << 20

type offer struct{ s *sess }

func (o *offer) Media() *messagesdp.Media { return o.s.local.Clone() }
func (o *offer) Cancel()                  { o.s.Close() }

// Open completes the session with the peer's answer. The answer must use
// the offered proto and carry an a=uri.
func (o *offer) Open(ctx context.Context, answer *messagesdp.Media) (session.Session, error) {
	s := o.s
	if err := checkRemote(answer, []string{s.local.Proto}); err != nil {
		s.Close()
		return nil, err
	}
	e := s.e
	e.mu.Lock()
	if s.remote != nil {
		e.mu.Unlock()
		return nil, errors.New("cpimtransport: Open called twice")
	}
	s.peerReports = wantsReports(answer.Formats)
	s.remote = answer.Clone()
	early := s.early
	s.early = nil
	e.mu.Unlock()
	// Messages that arrived before the answer: those from the peer now
	// known are processed as if they had just arrived, others discarded.
	for _, em := range early {
		from, _ := em.m.From()
		if from.URI != answer.URI {
			e.logDiscard(em.c, "From does not match the session", "from", from.URI)
			continue
		}
		e.mu.Lock()
		if s.conn.Load() == nil && em.c.acceptable(s) {
			e.bind(s, em.c, true)
		}
		bound := s.conn.Load() == em.c
		e.mu.Unlock()
		if !bound {
			e.logDiscard(em.c, "session is bound to another connection")
			continue
		}
		s.receive(em.c, em.m, em.msgID, nil)
	}
	return e.open(ctx, s, true)
}

type answer struct{ s *sess }

func (a *answer) Media() *messagesdp.Media { return a.s.local.Clone() }
func (a *answer) Cancel()                  { a.s.Close() }

// Open completes the session: it connects to the offerer, or waits for the
// offerer to connect.
func (a *answer) Open(ctx context.Context) (session.Session, error) {
	return a.s.e.open(ctx, a.s, false)
}

type earlyMsg struct {
	c     *conn
	m     *cpim.Message
	msgID int64
}

// sess is one CPIM transport session: the pair of a=uri tokens (§3, §4.2)
// on one connection.
type sess struct {
	e     *Endpoint
	local *messagesdp.Media
	opts  session.Options

	// Guarded by Endpoint.mu.
	remote     *messagesdp.Media
	confirmed  bool
	early      []earlyMsg
	startSeq   int64       // Endpoint.connSeq when the session was created
	opened     time.Time   // when Open completed
	guessTimer *time.Timer // see Endpoint.guessLocked

	conn atomic.Pointer[conn]

	// bmu guards changes of conn and the backlog: messages sent by a
	// passive side before its peer's connection is proven. changed is
	// closed (and replaced) when the binding changes or the backlog
	// shrinks; backlogTimer fails messages that waited ReceiptTimeout.
	bmu          sync.Mutex
	backlog      []*outFrame
	changed      chan struct{}
	backlogTimer *time.Timer
	backlogArmed bool

	peerReports bool // the peer listed message/im-delivery-status (§6.3); set before Open returns
	wantReports bool

	in   chan *session.Incoming
	done chan struct{}

	mu      sync.Mutex
	open    bool
	closed  bool
	err     error
	nextOut int64 // last MsgID sent (§5)
	inHigh  int64 // highest MsgID received
	pending map[int64]*pendingDelivery
}

type pendingDelivery struct {
	d     *session.Delivery
	timer *time.Timer
}

func newSess(e *Endpoint, local *messagesdp.Media, opts session.Options) *sess {
	return &sess{
		e: e, local: local, opts: opts,
		wantReports: wantsReports(local.Formats),
		changed:     make(chan struct{}),
		in:          make(chan *session.Incoming, 64),
		done:        make(chan struct{}),
		pending:     map[int64]*pendingDelivery{},
	}
}

var _ session.Session = (*sess)(nil)

func (s *sess) secure() bool { return messagesdp.IsSecure(s.local.Proto) }

// passive reports whether the peer connects to us (Endpoint.mu held, or
// after Open).
func (s *sess) passive() bool {
	return !messagesdp.IsActive(s.local, s.remote, s.isOfferer())
}

// notifyLocked wakes Sends waiting on a full backlog (bmu held).
func (s *sess) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// expireBacklog fails the messages that waited ReceiptTimeout in the
// backlog without a proven connection.
func (s *sess) expireBacklog() {
	timeout := s.e.cfg.ReceiptTimeout
	now := time.Now()
	var expired []*outFrame
	s.mu.Lock()
	s.bmu.Lock()
	if s.conn.Load() == nil {
		keep := s.backlog[:0]
		for _, f := range s.backlog {
			if now.Sub(f.queued) >= timeout {
				expired = append(expired, f)
			} else {
				keep = append(keep, f)
			}
		}
		clear(s.backlog[len(keep):])
		s.backlog = keep
	}
	s.backlogArmed = len(s.backlog) > 0
	if s.backlogArmed {
		s.backlogTimer.Reset(time.Until(s.backlog[0].queued.Add(timeout)))
	}
	if len(expired) > 0 {
		s.notifyLocked()
	}
	s.bmu.Unlock()
	for _, f := range expired {
		if p := s.pending[f.msgID]; p != nil && p.d == f.d {
			delete(s.pending, f.msgID)
		}
	}
	s.mu.Unlock()
	for _, f := range expired {
		f.d.Complete(session.Result{Outcome: session.TimedOut,
			Err: fmt.Errorf("cpimtransport: MsgID %d: no connection from the peer proven within %v", f.msgID, timeout)})
	}
}

func (s *sess) isOfferer() bool {
	return s.local.Setup == messagesdp.SetupActpass || s.local.Direction == messagesdp.DirectionBoth
}

func (s *sess) holdEarly(c *conn, m *cpim.Message, msgID int64) bool {
	if len(s.early) >= maxEarly {
		return false
	}
	s.early = append(s.early, earlyMsg{c: c, m: m, msgID: msgID})
	return true
}

func (s *sess) markOpen() {
	s.mu.Lock()
	s.open = true
	s.mu.Unlock()
}

func (s *sess) isOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

func (s *sess) Local() *messagesdp.Media { return s.local.Clone() }

func (s *sess) Remote() *messagesdp.Media {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.remote.Clone()
}

func (s *sess) Done() <-chan struct{} { return s.done }

func (s *sess) ended() bool { return isDone(s.done) }

func (s *sess) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *sess) endErr() error {
	if err := s.Err(); err != nil {
		return err
	}
	return session.ErrClosed
}

// Close ends the session. Pending deliveries fail with session.ErrClosed.
// A connection this side dialed is closed when no session uses it any
// more; an accepted one after Config.IdleTimeout.
func (s *sess) Close() error {
	s.finish(nil)
	return nil
}

// end ends the session because of a transport failure.
func (s *sess) end(err error) { s.finish(err) }

func (s *sess) finish(err error) {
	e := s.e
	e.mu.Lock()
	if e.sessions[s.local.URI] == s {
		delete(e.sessions, s.local.URI)
	}
	idle := e.release(s)
	s.conn.Store(nil)
	if s.guessTimer != nil {
		s.guessTimer.Stop()
	}
	e.mu.Unlock()
	s.bmu.Lock()
	if s.backlogTimer != nil {
		s.backlogTimer.Stop()
	}
	s.bmu.Unlock()
	if idle != nil {
		idle.close(errors.New("cpimtransport: no session left"))
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.err = err
	pend := s.pending
	s.pending = nil
	close(s.done)
	s.mu.Unlock()
	cause := err
	if cause == nil {
		cause = session.ErrClosed
	}
	for _, p := range pend {
		if p.timer != nil {
			p.timer.Stop()
		}
		p.d.Complete(session.Result{Outcome: session.Failed, Err: cause})
	}
}

// Receive returns the next message; reports are consumed by the session
// and never returned. Messages queued (and so reported delivered) before
// the session ended are returned before the end is.
func (s *sess) Receive(ctx context.Context) (*session.Incoming, error) {
	select {
	case m := <-s.in:
		return m, nil
	default:
	}
	select {
	case m := <-s.in:
		return m, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-s.done:
		select {
		case m := <-s.in:
			return m, nil
		default:
		}
		if err := s.Err(); err != nil {
			return nil, fmt.Errorf("%w: %w", session.ErrClosed, err)
		}
		return nil, session.ErrClosed
	}
}

// Send queues m (§5): a CPIM message To the peer's a=uri, From our own,
// with the next MsgID. A set m.ID must be a MsgID already sent on this
// session: the message is then resent under it, and the receiver flags it
// as a duplicate.
func (s *sess) Send(ctx context.Context, m *session.Outgoing) (*session.Delivery, error) {
	if m == nil {
		return nil, errors.New("cpimtransport: nil message")
	}
	ct := m.ContentType
	if ct == "" {
		if m.CPIM != nil && len(m.Body) == 0 && m.BodyReader == nil {
			ct = m.CPIM.ContentType()
		} else {
			ct = TypePlain
		}
	}
	if strings.ContainsAny(ct, "\r\n") {
		return nil, fmt.Errorf("cpimtransport: bad Content-Type %q", ct)
	}
	if strings.EqualFold(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]), TypeDeliveryStatus) {
		return nil, fmt.Errorf("cpimtransport: %s is generated by the transport (§6.3)", TypeDeliveryStatus)
	}
	remote := s.Remote()
	if remote == nil || !s.isOpen() {
		return nil, errors.New("cpimtransport: session not open")
	}
	if !messagesdp.MatchType(ct, remote.Formats) {
		return nil, fmt.Errorf("%w: %s not in %v", session.ErrTypeNotAccepted, ct, remote.Formats)
	}
	body, r, n := m.Body, m.BodyReader, int64(len(m.Body))
	if r != nil {
		n = m.Size
		if n < 0 {
			b, err := io.ReadAll(io.LimitReader(r, maxUnsizedBody+1))
			if err != nil {
				return nil, fmt.Errorf("cpimtransport: reading body: %w", err)
			}
			if len(b) > maxUnsizedBody {
				return nil, fmt.Errorf("%w: body of unknown size beyond %d octets", session.ErrTooLarge, maxUnsizedBody)
			}
			body, r, n = b, nil, int64(len(b))
		}
	}
	if remote.MaxSize > 0 && n > remote.MaxSize {
		// The peer's a=max-size (RFC 4975 §8.6, which this transport
		// borrows): refuse before sending anything.
		return nil, fmt.Errorf("%w: %d octets, the peer's a=max-size is %d", session.ErrTooLarge, n, remote.MaxSize)
	}
	resend := int64(0)
	if m.ID != "" {
		id, err := strconv.ParseInt(m.ID, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("cpimtransport: ID %q is not a MsgID (§3: a positive integer)", m.ID)
		}
		resend = id
	}

	// Flow control: wait for room in the connection's queue. Without a
	// connection yet, the backlog is bounded by the same number, and a
	// full backlog waits for the peer's connection.
	c := s.conn.Load()
	for c == nil {
		s.bmu.Lock()
		c = s.conn.Load()
		full := c == nil && len(s.backlog) >= s.e.cfg.SendQueue
		changed := s.changed
		s.bmu.Unlock()
		if !full {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-s.done:
			return nil, s.closedErr()
		}
	}
	if c != nil {
		select {
		case c.credits <- struct{}{}:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-c.done:
			return nil, s.closedErr()
		case <-s.done:
			return nil, s.closedErr()
		}
	}
	release := func() {
		if c != nil {
			<-c.credits
		}
	}

	queued := false
	defer func() {
		if queued {
			// After s.mu is released (lock order): a passive side sending
			// first may bind to the only candidate connection.
			s.e.mu.Lock()
			s.e.guessLocked(s)
			s.e.mu.Unlock()
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		release()
		return nil, closedErr(s.err)
	}
	id := resend
	if id == 0 {
		id = s.nextOut + 1
	} else if id > s.nextOut {
		release()
		return nil, fmt.Errorf("cpimtransport: ID %d was never sent on this session", id)
	}
	head, err := s.appendMessage(nil, id, ct, m.CPIM, body, n)
	if err != nil {
		release()
		return nil, err
	}
	d := session.NewDelivery(strconv.FormatInt(id, 10), n)
	f := &outFrame{head: head, r: r, s: s, d: d, msgID: id,
		expect: s.wantReports && !m.NoReceipt}
	if r != nil {
		f.n = n
	}
	if f.expect {
		if old := s.pending[id]; old != nil {
			// A resend supersedes the earlier attempt's wait.
			if old.timer != nil {
				old.timer.Stop()
			}
			old.d.Complete(session.Result{Outcome: session.Failed, Err: errors.New("cpimtransport: superseded by a resend")})
		}
		s.pending[id] = &pendingDelivery{d: d}
	}
	s.bmu.Lock()
	now := s.conn.Load()
	switch {
	case now == nil && len(s.backlog) >= s.e.cfg.SendQueue:
		err = fmt.Errorf("cpimtransport: the peer has not connected yet and %d messages are waiting", len(s.backlog))
	case now == nil:
		f.queued = time.Now()
		s.backlog = append(s.backlog, f)
		queued = true
		if !s.backlogArmed {
			// Bounded wait for a proven connection (docs/seed-choices.md §4).
			s.backlogArmed = true
			if s.backlogTimer == nil {
				s.backlogTimer = time.AfterFunc(s.e.cfg.ReceiptTimeout, s.expireBacklog)
			} else {
				s.backlogTimer.Reset(s.e.cfg.ReceiptTimeout)
			}
		}
	default:
		f.credit = now == c && c != nil
		err = now.push(f)
	}
	s.bmu.Unlock()
	if !f.credit {
		release()
	}
	if err != nil {
		delete(s.pending, id)
		return nil, err
	}
	if resend == 0 {
		s.nextOut = id
	}
	return d, nil
}

func (s *sess) closedErr() error { return closedErr(s.Err()) }

func closedErr(err error) error {
	if err != nil {
		return fmt.Errorf("%w: %w", session.ErrClosed, err)
	}
	return session.ErrClosed
}

// appendMessage appends the framed message (s.mu held): the outer envelope
// (§5), the CPIM headers From, To and MsgID, the inner MIME headers and,
// when r is nil, the body. n is the body length.
func (s *sess) appendMessage(b []byte, id int64, ct string, tmpl *cpim.Message, body []byte, n int64) ([]byte, error) {
	local, remote := s.local.URI, s.remote.URI
	if tmpl == nil {
		// The common case, written directly: the tokens were checked by
		// checkToken and ct has no line break.
		var digits [20]byte
		hl := len("From: <>\r\nTo: <>\r\nMsgID: \r\n\r\nContent-Type: \r\n\r\n") +
			len(local) + len(remote) + len(ct) + len(strconv.AppendInt(digits[:0], id, 10))
		b = AppendEnvelope(b, int64(hl)+n)
		b = append(b, "From: <"...)
		b = append(b, local...)
		b = append(b, ">\r\nTo: <"...)
		b = append(b, remote...)
		b = append(b, ">\r\nMsgID: "...)
		b = strconv.AppendInt(b, id, 10)
		b = append(b, "\r\n\r\nContent-Type: "...)
		b = append(b, ct...)
		b = append(b, "\r\n\r\n"...)
		if int64(len(body)) == n {
			b = append(b, body...)
		}
		return b, nil
	}
	// A template: its headers (Subject, DateTime, NS, …) are kept; From,
	// To and MsgID are the session's (§5).
	m := tmpl.Clone()
	if err := m.SetFrom(cpim.Address{URI: local}); err != nil {
		return nil, err
	}
	m.Del(cpim.NSCPIM, "To")
	if err := m.AddTo(cpim.Address{URI: remote}); err != nil {
		return nil, err
	}
	if err := m.Set(cpim.NSCPIM, "MsgID", strconv.FormatInt(id, 10)); err != nil {
		return nil, err
	}
	inline := int64(len(body)) == n
	if len(body) > 0 || !inline || m.ContentType() == "" {
		b := body
		if !inline {
			b = nil
		}
		if err := m.SetContent(ct, b); err != nil {
			return nil, err
		}
	}
	obj := m.Bytes()
	extra := int64(0)
	if !inline {
		extra = n
	}
	b = AppendEnvelope(b, int64(len(obj))+extra)
	return append(b, obj...), nil
}

// armTimer starts the receipt timer of a written message (§6.3).
func (s *sess) armTimer(id int64, d *session.Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[id]
	if p == nil || p.d != d {
		return // already reported, or the session ended
	}
	timeout := s.e.cfg.ReceiptTimeout
	p.timer = time.AfterFunc(timeout, func() {
		s.mu.Lock()
		if s.pending[id] == p {
			delete(s.pending, id)
		}
		s.mu.Unlock()
		d.Complete(session.Result{Outcome: session.TimedOut,
			Err: fmt.Errorf("cpimtransport: no delivery report for MsgID %d within %v", id, timeout)})
	})
}

// streamBody is a large body still on the connection: head has arrived,
// the rest (size octets in all) is read from r.
type streamBody struct {
	head []byte
	r    io.Reader
	size int64
}

func (s *sess) maxInMemory() int64 {
	if s.opts.MaxInMemory > 0 {
		return s.opts.MaxInMemory
	}
	return defaultMaxInMemory
}

// receive processes a message matched to s on c (§6.2, §6.3). For a large
// message, m holds the headers only and sb the body on its way.
func (s *sess) receive(c *conn, m *cpim.Message, msgID int64, sb *streamBody) {
	e := s.e
	ct := m.ContentType()
	isReport := messagesdp.MatchType(ct, []string{TypeDeliveryStatus})

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		e.logDiscard(c, "session closed")
		return
	}
	dup := false
	if msgID > 0 {
		switch {
		case msgID <= s.inHigh:
			dup = true
			e.st.duplicates.Add(1)
			e.log.Info("cpim duplicate MsgID", "session", s.local.URI, "msgid", msgID, "highest", s.inHigh)
		case msgID > s.inHigh+1:
			e.st.gaps.Add(1)
			e.log.Info("cpim MsgID gap", "session", s.local.URI, "msgid", msgID, "expected", s.inHigh+1)
		}
		if msgID > s.inHigh {
			s.inHigh = msgID
		}
	}
	if isReport && sb == nil {
		// §6.3: never a report about a report.
		e.st.reportsReceived.Add(1)
		rep, err := ParseReport(m.Body())
		if err != nil {
			s.mu.Unlock()
			e.log.Info("cpim bad delivery report", "session", s.local.URI, "err", err)
			return
		}
		p := s.pending[rep.OriginalMsgID]
		if p != nil && rep.Final() {
			delete(s.pending, rep.OriginalMsgID)
			if p.timer != nil {
				p.timer.Stop()
			}
		}
		s.mu.Unlock()
		if p != nil && rep.Final() {
			p.d.SetConfirmed(p.d.Size())
			p.d.Complete(rep.Result())
		}
		return
	}

	body := m.Body()
	size := int64(len(body))
	if sb != nil {
		size = sb.size
	}
	maxMem := s.maxInMemory()
	status := StatusOK
	switch {
	case isReport: // a report too large to be one
		status = StatusTooBig
	case !messagesdp.MatchType(ct, s.local.Formats):
		status = StatusMediaNotSupported
	case s.opts.MaxSize > 0 && size > s.opts.MaxSize,
		size > maxMem && s.opts.Sink == nil:
		status = StatusTooBig
	}
	if status != StatusOK {
		err := s.reportLocked(c, msgID, status)
		s.mu.Unlock()
		if errors.Is(err, errReportOverflow) {
			c.close(err)
			return
		}
		e.st.rejected.Add(1)
		e.log.Info("cpim message rejected", "session", s.local.URI, "msgid", msgID, "type", ct, "size", size, "status", status)
		return
	}

	inc := &session.Incoming{
		ContentType: ct,
		Body:        body,
		Size:        size,
		CPIM:        m,
		Duplicate:   dup,
	}
	if msgID > 0 {
		inc.ID = strconv.FormatInt(msgID, 10)
	}
	if size <= maxMem {
		s.deliverLocked(c, inc, msgID)
		return
	}
	// A body for the Sink is reported once written.
	s.mu.Unlock()
	err := s.sink(inc, sb)
	if err != nil {
		e.log.Info("cpim sink failed", "session", s.local.URI, "msgid", msgID, "err", err)
		s.mu.Lock()
		rerr := s.reportLocked(c, msgID, StatusSinkFailed)
		s.mu.Unlock()
		if errors.Is(rerr, errReportOverflow) {
			c.close(rerr)
		}
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		e.logDiscard(c, "session closed")
		return
	}
	s.deliverLocked(c, inc, msgID)
}

// deliverLocked hands inc to Receive and only then reports it delivered
// (§6.3) (s.mu held; released on return). A success report thus always
// stands for a message in s.in, which Receive returns even after the
// session has ended. A full s.in blocks the connection's reader until
// Receive makes room (back-pressure; s.mu released meanwhile); if the
// session or connection ends first the message is dropped unreported, and
// the sender's receipt timer, or the end of its session, tells it so.
func (s *sess) deliverLocked(c *conn, inc *session.Incoming, msgID int64) {
	inc.Received = time.Now()
	select {
	case s.in <- inc:
	default:
		s.mu.Unlock()
		select {
		case s.in <- inc:
		case <-s.done:
			s.e.logDiscard(c, "session closed")
			return
		case <-c.done:
			return
		}
		s.mu.Lock()
	}
	err := s.reportLocked(c, msgID, StatusOK)
	s.mu.Unlock()
	if errors.Is(err, errReportOverflow) {
		c.close(err)
	}
}

// reportLocked sends the report on msgID when the peer asked for reports
// (s.mu held).
func (s *sess) reportLocked(c *conn, msgID int64, status string) error {
	if !s.peerReports || msgID <= 0 {
		return nil
	}
	rep := Report{OriginalMsgID: msgID, Action: ActionDelivered, Status: status}
	if status != StatusOK {
		rep.Action = ActionFailed
	}
	return s.sendReportLocked(c, rep)
}

// sink writes a large body to the application's Sink: from memory, or
// streamed from the connection in bounded memory.
func (s *sess) sink(inc *session.Incoming, sb *streamBody) error {
	w, err := s.opts.Sink(session.Info{ID: inc.ID, ContentType: inc.ContentType, Size: inc.Size})
	if err != nil {
		return err
	}
	inc.Body = nil
	if sb == nil {
		_, err := w.WriteAt(inc.CPIM.Body(), 0)
		return err
	}
	if _, err := w.WriteAt(sb.head, 0); err != nil {
		return err
	}
	off := int64(len(sb.head))
	buf := make([]byte, 32<<10)
	for off < sb.size {
		n, err := sb.r.Read(buf[:min(int64(len(buf)), sb.size-off)])
		if n > 0 {
			if _, werr := w.WriteAt(buf[:n], off); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if err != nil {
			if off < sb.size {
				return err
			}
			break
		}
	}
	return nil
}

// sendReportLocked queues a delivery report (s.mu held): a CPIM message of
// the session with the next MsgID (§6.3).
func (s *sess) sendReportLocked(c *conn, rep Report) error {
	id := s.nextOut + 1
	body := AppendReport(nil, rep)
	head, err := s.appendMessage(nil, id, TypeDeliveryStatus, nil, body, int64(len(body)))
	if err != nil {
		return err
	}
	if err := c.push(&outFrame{head: head, s: s, msgID: id, report: true}); err != nil {
		return err
	}
	s.nextOut = id
	s.e.st.reportsSent.Add(1)
	return nil
}
