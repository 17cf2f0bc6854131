package sipua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// ErrRemoteHangup is Call.Err after the peer ended the call with BYE.
var ErrRemoteHangup = errors.New("call ended by the peer")

// InviteOptions tune one outgoing invitation.
type InviteOptions struct {
	// Subject is sent in the Subject header.
	Subject string
	// Session, if set, replaces Config.SessionOptions for this call.
	Session *session.Options

	largeMessage bool
}

// Call is an established message session with its SIP dialog (RFC 3261
// §12). Its methods are safe for concurrent use.
type Call struct {
	ua        *UA
	key       dialogKey
	outbound  bool
	local     Party
	remote    Party
	subject   string
	status    int // final INVITE response (outbound calls)
	reason    string
	transport string
	uac       *sipgo.DialogClientSession
	uas       *sipgo.DialogServerSession
	acks      chan uint32 // CSeq numbers of ACKs for our re-INVITE 2xx

	mu        sync.Mutex
	sess      session.Session
	changed   chan struct{} // closed and replaced when sess changes
	localSDP  []byte
	remoteSDP []byte
	ending    bool
	// remoteCSeq is the peer's last in-dialog CSeq (RFC 3261 §12.2.2).
	remoteCSeq     uint32
	haveRemoteCSeq bool
	reinvites      atomic.Int32 // re-INVITEs received, for tests
	// byeSeen is set when the peer's BYE arrives, before sipgo's ReadBye
	// ends the dialog (which makes a pending RespondSDP fail).
	byeSeen atomic.Bool
	err     error
	done    chan struct{}
}

func newCall(ua *UA, key dialogKey, transport string) *Call {
	return &Call{ua: ua, key: key, transport: transport, acks: make(chan uint32, 8), changed: make(chan struct{}), done: make(chan struct{})}
}

// Session returns the current message session. A re-INVITE from the peer
// (a new path after a reconnect, RFC 4975 §8.4) replaces it: the old one
// is then closed, so an application whose Receive fails with
// session.ErrClosed while the call is not Done should fetch the new one.
func (c *Call) Session() session.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// Remote returns the peer (the To of an outgoing call, the From of an
// incoming one).
func (c *Call) Remote() Party { return c.remote }

// Local returns our side of the call.
func (c *Call) Local() Party { return c.local }

// Subject returns the Subject header of the INVITE, "" when absent.
func (c *Call) Subject() string { return c.subject }

// Outbound reports whether we sent the INVITE.
func (c *Call) Outbound() bool { return c.outbound }

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Err says why the call ended: nil after Hangup, ErrRemoteHangup after the
// peer's BYE, or the session's failure.
func (c *Call) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Hangup ends the call: BYE to the peer (RFC 3261 §15.1), then the session
// is closed. It is idempotent; a second call waits for the first.
func (c *Call) Hangup(ctx context.Context) error {
	return c.end(ctx, nil, true)
}

func (c *Call) end(ctx context.Context, cause error, sendBye bool) error {
	c.mu.Lock()
	if c.ending {
		c.mu.Unlock()
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	c.ending = true
	s := c.sess
	c.mu.Unlock()

	var err error
	if sendBye {
		switch {
		case c.uac != nil:
			err = c.uac.Bye(ctx)
		case c.uas != nil:
			err = c.uas.Bye(ctx)
		}
		if err != nil {
			err = c.byeError(err)
		}
	}
	if s != nil {
		if errors.Is(cause, ErrRemoteHangup) {
			c.drain(s)
		} else {
			s.Close()
		}
	}
	c.ua.removeCall(c)
	c.mu.Lock()
	c.err = cause
	c.mu.Unlock()
	close(c.done)
	return err
}

func (c *Call) byeError(err error) error {
	if res := dialogResponse(err); res != nil {
		if res.StatusCode == 481 {
			return nil // the peer already forgot the dialog: it is over either way
		}
		return statusError("BYE", c.remote.URI, res)
	}
	return classify("BYE "+c.remote.URI, err)
}

// dialogResponse extracts the failure response from a sipgo dialog error.
// sipgo returns ErrDialogResponse as a pointer from WaitAnswer and as a
// value from Bye, so both forms are tried.
func dialogResponse(err error) *sip.Response {
	var p *sipgo.ErrDialogResponse
	if errors.As(err, &p) && p != nil {
		return p.Res
	}
	var v sipgo.ErrDialogResponse
	if errors.As(err, &v) {
		return v.Res
	}
	return nil
}

func (c *Call) setSession(s session.Session, localSDP, remoteSDP []byte) (old session.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old = c.sess
	c.sess = s
	c.localSDP = localSDP
	c.remoteSDP = remoteSDP
	close(c.changed)
	c.changed = make(chan struct{})
	return old
}

// sessionGrace is how long a call outlives a session that ended by itself
// before we send BYE: a peer that reconnects re-INVITEs with a new path
// within it (RFC 4975 §8.4).
var sessionGrace = 5 * time.Second

// watch ends the call (BYE) when its session ends and no re-INVITE
// replaces it within sessionGrace.
func (c *Call) watch() {
	defer c.ua.wg.Done()
	for {
		c.mu.Lock()
		s, changed := c.sess, c.changed
		c.mu.Unlock()
		select {
		case <-c.done:
			return
		case <-c.ua.ctx.Done():
			return
		case <-changed:
			continue
		case <-s.Done():
		}
		t := time.NewTimer(sessionGrace)
		select {
		case <-c.done:
			t.Stop()
			return
		case <-c.ua.ctx.Done():
			t.Stop()
			return
		case <-changed:
			t.Stop()
			continue
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(c.ua.ctx, 5*time.Second)
		cause := s.Err()
		if cause == nil {
			cause = session.ErrClosed
		}
		c.end(ctx, fmt.Errorf("sipua: message session ended: %w", cause), true)
		cancel()
		return
	}
}

// drainGrace is how long a session outlives the peer's BYE when the peer
// has not closed it by then: messages the peer sent just before its BYE
// may still be on the wire (the BYE travels on another connection and can
// overtake them). Buffered messages stay receivable after the Close.
var drainGrace = 2 * time.Second

// openGrace is how long a session Open may go on after the peer's BYE: the
// peer may have sent messages into the session before hanging up, and
// they reach the application only if the session opens.
var openGrace = 5 * time.Second

// drain closes s once the peer has closed it (its transport connection
// ends), after drainGrace, or when the UA closes, whichever comes first.
// Until then the transport keeps reading, so messages sent before the
// peer's BYE still arrive; Receive returns them, also after the Close.
func (c *Call) drain(s session.Session) {
	ua := c.ua
	ua.mu.Lock()
	closed := ua.closed
	if !closed {
		ua.wg.Add(1)
	}
	ua.mu.Unlock()
	if closed {
		s.Close()
		return
	}
	go func() {
		defer ua.wg.Done()
		t := time.NewTimer(drainGrace)
		defer t.Stop()
		select {
		case <-s.Done():
		case <-t.C:
		case <-ua.ctx.Done():
		}
		s.Close()
	}()
}

// openContext bounds a session Open by d and by the call: the Open is
// abandoned when we end the call, and openGrace after the peer's BYE (the
// peer may have sent messages into the session before hanging up, RFC
// 3261 §15: a BYE ends the dialog, not what was already delivered).
func (c *Call) openContext(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, d)
	stop := make(chan struct{})
	go func() {
		select {
		case <-c.done:
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
		if c.endedBy(ErrRemoteHangup) {
			t := time.NewTimer(openGrace)
			defer t.Stop()
			select {
			case <-t.C:
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
		}
		cancel()
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() { close(stop) })
		cancel()
	}
}

// endedBy reports whether the call has ended with cause.
func (c *Call) endedBy(cause error) bool {
	select {
	case <-c.done:
		return errors.Is(c.Err(), cause)
	default:
		return false
	}
}

// start installs the first session and starts its watcher. When the call
// has already ended (the peer's BYE came while the session opened) the
// session is still installed, so that the messages the peer sent before
// its BYE can be received, and drained (see drain); start then reports
// false.
func (c *Call) start(s session.Session, localSDP, remoteSDP []byte) bool {
	c.mu.Lock()
	c.sess, c.localSDP, c.remoteSDP = s, localSDP, remoteSDP
	if c.ending {
		c.mu.Unlock()
		c.drain(s)
		return false
	}
	c.mu.Unlock()
	c.ua.mu.Lock()
	closed := c.ua.closed
	if !closed {
		c.ua.wg.Add(1)
	}
	c.ua.mu.Unlock()
	if !closed {
		go c.watch()
	}
	return true
}

func (ua *UA) sessionOptions(local, remote string, override *session.Options) session.Options {
	o := ua.cfg.SessionOptions
	if override != nil {
		o = *override
	}
	o.LocalURI = local
	o.RemoteURI = remote
	return o
}

// Invite sets up a message session with target: INVITE with the SDP offer
// from the session layer, then (on 200) ACK and the session is opened.
// Provisional responses are never relied on (sipgo may lose them). When
// ctx ends before the answer, the INVITE is cancelled (RFC 3261 §9.1) and
// the error wraps ErrCanceled. Failures wrap ErrNotAcceptable (488),
// ErrBusy (486), ErrDeclined (603), ErrNotFound, ErrUnavailable,
// ErrAuthFailed, ErrTimeout or ErrTLSVerify.
func (ua *UA) Invite(ctx context.Context, target string, opts InviteOptions) (*Call, error) {
	u, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	return ua.invite(ctx, u, target, opts)
}

func (ua *UA) invite(ctx context.Context, u sip.Uri, target string, opts InviteOptions) (*Call, error) {
	if ua.media == nil {
		return nil, errNoMedia
	}
	if strings.ContainsAny(opts.Subject, "\r\n") {
		return nil, errors.New("sipua: Subject may not contain line breaks")
	}
	req, transport, err := ua.newRequest(sip.INVITE, u)
	if err != nil {
		return nil, fmt.Errorf("sipua: INVITE %s: %w", target, err)
	}
	contact, _ := ua.contact(transport)
	ch := contact
	req.AppendHeader(&ch)
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, MESSAGE, OPTIONS"))
	if opts.Subject != "" {
		req.AppendHeader(sip.NewHeader("Subject", opts.Subject))
	}
	if opts.largeMessage {
		req.AppendHeader(sip.NewHeader("Accept-Contact", "*;"+largeMessageTag))
	}
	off, err := ua.media.Offer(ctx, ua.sessionOptions(ua.aor.String(), target, opts.Session))
	if err != nil {
		return nil, fmt.Errorf("sipua: INVITE %s: preparing the offer: %w", target, err)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(off.SDP())

	dua := &sipgo.DialogUA{Client: ua.cli, ContactHDR: contact}
	dlg, err := dua.WriteInvite(ctx, req)
	if err != nil {
		off.Cancel()
		return nil, classify("INVITE "+target, err)
	}
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{Username: ua.username, Password: ua.cfg.Password})
	if err != nil {
		off.Cancel()
		if res := dlg.InviteResponse; res != nil && res.IsSuccess() {
			// The 200 crossed our CANCEL (RFC 3261 §9.1, §15): confirm
			// the dialog and end it at once.
			bctx, cancel := context.WithTimeout(ua.ctx, 5*time.Second)
			if dlg.Ack(bctx) == nil {
				dlg.Bye(bctx)
			}
			cancel()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sipua: INVITE %s: %w: %w", target, ErrCanceled, context.Cause(ctx))
		}
		if res := dialogResponse(err); res != nil {
			return nil, statusError("INVITE", target, res)
		}
		return nil, classify("INVITE "+target, err)
	}
	res := dlg.InviteResponse
	ft, _ := req.From().Params.Get("tag")
	tt, _ := res.To().Params.Get("tag")
	c := newCall(ua, dialogKey{callID: req.CallID().Value(), local: ft, remote: tt}, transport)
	c.uac, c.outbound, c.subject = dlg, true, opts.Subject
	c.local = fromParty(req.From())
	c.remote = toParty(res.To())
	c.status, c.reason = res.StatusCode, res.Reason
	if err := ua.addCall(c); err != nil {
		off.Cancel()
		dlg.Ack(ctx)
		c.end(ctx, err, true)
		return nil, err
	}
	if err := dlg.Ack(ctx); err != nil {
		off.Cancel()
		c.end(ctx, err, true)
		return nil, classify("ACK "+target, err)
	}
	if ct := headerValue(res, "Content-Type"); len(res.Body()) == 0 || !strings.HasPrefix(strings.ToLower(ct), "application/sdp") {
		off.Cancel()
		c.end(ctx, nil, true)
		return nil, fmt.Errorf("sipua: INVITE %s: the 200 OK carries no SDP answer", target)
	}
	octx, ocancel := c.openContext(ctx, 30*time.Second)
	s, err := off.Open(octx, res.Body())
	ocancel()
	if err != nil {
		c.end(context.WithoutCancel(ctx), err, true)
		if errors.Is(err, session.ErrNotAcceptable) {
			return nil, fmt.Errorf("sipua: INVITE %s: %w: %w", target, ErrNotAcceptable, err)
		}
		return nil, fmt.Errorf("sipua: INVITE %s: opening the session: %w", target, err)
	}
	// When the peer hung up while the session opened, the call is returned
	// already Done (Err is ErrRemoteHangup): its session still holds what
	// the peer sent before its BYE.
	c.start(s, off.SDP(), res.Body())
	return c, nil
}

// Incoming is a session invitation waiting for the application's answer.
type Incoming struct {
	From, To Party
	Subject  string
	CallID   string
	// Media summarises the offered m= lines; SDP is the offer itself.
	Media []MediaSummary
	SDP   []byte

	decide   chan decision
	finished chan struct{} // closed when the invitation is answered or gone
	canceled chan struct{} // closed when the caller cancelled
}

type decision struct {
	ctx    context.Context
	code   int // 0: accept
	result chan acceptResult
}

type acceptResult struct {
	call *Call
	err  error
}

// Accept answers 200 with the SDP answer, waits for the ACK and opens the
// session. It fails with ErrCanceled if the caller cancelled meanwhile.
func (in *Incoming) Accept(ctx context.Context) (*Call, error) {
	return in.answer(ctx, 0)
}

// Decline refuses the invitation with code: 486 Busy Here, 603 Decline
// (the default for 0), 480 Temporarily Unavailable, or any 4xx-6xx.
func (in *Incoming) Decline(code int) error {
	if code == 0 {
		code = 603
	}
	if code < 400 || code > 699 {
		return fmt.Errorf("sipua: Decline: %d is not a failure status", code)
	}
	_, err := in.answer(context.Background(), code)
	return err
}

// Canceled is closed when the caller cancels the invitation (CANCEL).
func (in *Incoming) Canceled() <-chan struct{} { return in.canceled }

func (in *Incoming) answer(ctx context.Context, code int) (*Call, error) {
	d := decision{ctx: ctx, code: code, result: make(chan acceptResult, 1)}
	select {
	case in.decide <- d:
	case <-in.finished:
		select {
		case <-in.canceled:
			return nil, fmt.Errorf("sipua: %w: the caller cancelled the invitation", ErrCanceled)
		default:
		}
		return nil, errors.New("sipua: the invitation was already answered or has expired")
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	r := <-d.result
	return r.call, r.err
}

// answerErrorCode is the final response to an INVITE or re-INVITE whose
// offer could not be answered: 400 for an offer that is not a well-formed
// SDP (RFC 3261 §21.4.1: the request is malformed), 488 for one that is
// well-formed but unacceptable (RFC 4975 §8.6, RFC 3261 §21.4.26), 500 for
// our own failures.
func answerErrorCode(err error) int {
	switch {
	case errors.Is(err, messagesdp.ErrSyntax):
		return 400
	case errors.Is(err, session.ErrNotAcceptable):
		return 488
	}
	return 500
}

var reasons = map[int]string{
	400: "Bad Request",
	480: "Temporarily Unavailable", 486: "Busy Here", 487: "Request Terminated",
	488: "Not Acceptable Here", 500: "Server Internal Error", 600: "Busy Everywhere",
	603: "Decline", 606: "Not Acceptable", 404: "Not Found", 403: "Forbidden", 415: "Unsupported Media Type",
}

func reasonFor(code int) string {
	if r, ok := reasons[code]; ok {
		return r
	}
	switch code / 100 {
	case 4:
		return "Request Failure"
	case 5:
		return "Server Failure"
	}
	return "Global Failure"
}

// onInvite handles INVITE: a re-INVITE within a dialog, or a new
// invitation offered to the application.
func (ua *UA) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if _, inDialog := inDialogKey(req); inDialog {
		c := ua.lookupCall(req)
		if c == nil {
			ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
			return
		}
		c.onReinvite(req, tx)
		return
	}
	if req.Contact() == nil || req.From() == nil || req.CallID() == nil {
		ua.respond(tx, req, 400, "Bad Request")
		return
	}
	if ua.media == nil {
		ua.respond(tx, req, 488, "Not Acceptable Here", sip.NewHeader("Warning", `399 parley "no message session transport configured"`))
		return
	}
	if len(req.Body()) == 0 {
		// An offerless INVITE would need our offer in the 200 and the
		// answer in the ACK (RFC 3264 §4); not supported.
		ua.respond(tx, req, 488, "Not Acceptable Here", sip.NewHeader("Warning", `399 parley "INVITE without SDP offer not supported"`))
		return
	}
	if ct := headerValue(req, "Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/sdp") {
		ua.respond(tx, req, 415, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
		return
	}
	transport := strings.ToLower(req.Transport())
	contact, ok := ua.contact(transport)
	if !ok {
		ua.respond(tx, req, 500, "Server Internal Error")
		return
	}
	dua := &sipgo.DialogUA{Client: ua.cli, ContactHDR: contact}
	dlg, err := dua.ReadInvite(req, tx)
	if err != nil {
		ua.respond(tx, req, 400, "Bad Request")
		return
	}
	defer dlg.Close()
	inv := dlg.InviteRequest
	lt, _ := inv.To().Params.Get("tag")
	rt, _ := inv.From().Params.Get("tag")
	c := newCall(ua, dialogKey{callID: inv.CallID().Value(), local: lt, remote: rt}, transport)
	c.uas = dlg
	c.remoteCSeq, c.haveRemoteCSeq = inv.CSeq().SeqNo, true
	c.local = toParty(inv.To())
	c.remote = fromParty(inv.From())
	c.subject = headerValue(req, "Subject")

	actx, cancel := context.WithTimeout(ua.ctx, 30*time.Second)
	ans, err := ua.media.Answer(actx, req.Body(), ua.sessionOptions(ua.aor.String(), c.remote.URI, nil))
	cancel()
	if err != nil {
		code := answerErrorCode(err)
		ua.log.Info("rejecting INVITE", "from", c.remote.URI, "code", code, "err", err)
		dlg.Respond(code, reasonFor(code), nil)
		return
	}
	in := &Incoming{
		From: c.remote, To: c.local, Subject: c.subject, CallID: c.key.callID,
		Media: summarizeSDP(req.Body()), SDP: req.Body(),
		decide: make(chan decision), finished: make(chan struct{}), canceled: make(chan struct{}),
	}
	defer close(in.finished)

	large := ua.cfg.OnMessage != nil && strings.Contains(headerValue(req, "Accept-Contact"), "largemsg")
	var d decision
	switch {
	case large || ua.cfg.AutoAnswer:
		d = decision{ctx: ua.ctx}
	case ua.cfg.OnInvite == nil:
		ans.Cancel()
		dlg.Respond(480, reasonFor(480), nil)
		return
	default:
		if err := dlg.Respond(180, "Ringing", nil); err != nil {
			ans.Cancel()
			return
		}
		ua.wg.Add(1)
		go func() {
			defer ua.wg.Done()
			ua.cfg.OnInvite(in)
		}()
		t := time.NewTimer(ua.cfg.RingTimeout)
		select {
		case d = <-in.decide:
			t.Stop()
		case <-dlg.Context().Done():
			// CANCEL: sipgo already answered 200 to it and 487 to us.
			t.Stop()
			close(in.canceled)
			ans.Cancel()
			return
		case <-t.C:
			ans.Cancel()
			dlg.Respond(480, reasonFor(480), nil)
			return
		case <-ua.ctx.Done():
			t.Stop()
			ans.Cancel()
			dlg.Respond(480, reasonFor(480), nil)
			return
		}
	}
	reply := func(call *Call, err error) {
		if d.result != nil {
			d.result <- acceptResult{call, err}
		}
	}
	if d.code != 0 {
		ans.Cancel()
		reply(nil, dlg.Respond(d.code, reasonFor(d.code), nil))
		return
	}
	if err := ua.addCall(c); err != nil {
		ans.Cancel()
		dlg.Respond(480, reasonFor(480), nil)
		reply(nil, err)
		return
	}
	// The session is opened while the 200 waits for its ACK: a passive
	// transport (MSRP's answerer) must be ready once the answer is out
	// (RFC 4975 §5.4: the peer's binding SEND may beat the ACK), and a
	// quick peer may send its message and hang up before the ACK is
	// handled; an Open that started late would find the session already
	// ended by the peer.
	octx, ocancel := c.openContext(d.ctx, 30*time.Second)
	defer ocancel()
	type opened struct {
		s   session.Session
		err error
	}
	openc := make(chan opened, 1)
	go func() {
		s, err := ans.Open(octx)
		openc <- opened{s, err}
	}()
	// RespondSDP sends the 200 and returns once the ACK came (or timer H).
	// sipgo runs each request in its own goroutine, so the peer's BYE can
	// overtake its ACK: a BYE proves the ACK was sent (RFC 3261 §15), and
	// the session may hold messages already.
	ackErr := dlg.RespondSDP(ans.SDP())
	if ackErr != nil && !c.byeSeen.Load() {
		ocancel()
		if r := <-openc; r.s != nil {
			r.s.Close()
		}
		ans.Cancel()
		ua.removeCall(c)
		if dlg.Context().Err() != nil {
			close(in.canceled)
			ackErr = fmt.Errorf("%w: %w", ErrCanceled, ackErr)
		}
		reply(nil, fmt.Errorf("sipua: answering INVITE from %s: %w", c.remote.URI, ackErr))
		return
	}
	r := <-openc
	ocancel()
	s, err := r.s, r.err
	if err != nil {
		bctx, cancel := context.WithTimeout(ua.ctx, 5*time.Second)
		c.end(bctx, err, true)
		cancel()
		reply(nil, fmt.Errorf("sipua: opening the session with %s: %w", c.remote.URI, err))
		return
	}
	// A false start means the peer hung up while the session opened: the
	// call is over, but the session still holds (and until drained keeps
	// receiving) what the peer sent before its BYE, so it goes to the
	// application all the same: to OnMessage in large-message mode, else
	// with the (already Done) Call.
	live := c.start(s, ans.SDP(), req.Body())
	reply(c, nil)
	switch {
	case large && !live:
		ua.deliverLarge(c, s, req)
	case large:
		ua.wg.Add(1)
		go func() {
			defer ua.wg.Done()
			ua.deliverLarge(c, s, req)
			// The sender hangs up after its message; its session often
			// ends before its BYE arrives. Crossing BYEs would only make
			// 481s (and race the sender's teardown of the SIP
			// connection), so the BYE is left to the sender for a while.
			t := time.NewTimer(drainGrace)
			defer t.Stop()
			select {
			case <-c.done:
			case <-ua.ctx.Done():
			case <-t.C:
				hctx, cancel := context.WithTimeout(ua.ctx, 5*time.Second)
				c.Hangup(hctx)
				cancel()
			}
		}()
	case ua.cfg.AutoAnswer:
		ua.wg.Add(1)
		go func() {
			defer ua.wg.Done()
			ua.cfg.OnCall(c)
		}()
	}
}

// deliverLarge hands the message(s) of an incoming large-message-mode
// session to OnMessage until the session ends (the sender sends BYE after
// its message) or two minutes pass.
func (ua *UA) deliverLarge(c *Call, s session.Session, req *sip.Request) {
	ctx, cancel := context.WithTimeout(ua.ctx, 2*time.Minute)
	defer cancel()
	for {
		m, err := s.Receive(ctx)
		if err != nil {
			return
		}
		ua.cfg.OnMessage(&Message{
			Mode: LargeMessageMode, From: c.remote, To: c.local,
			ContentType: m.ContentType, Body: m.Body, Subject: c.subject,
			Date: headerValue(req, "Date"), CallID: c.key.callID, Session: m, Received: m.Received,
		})
	}
}

func (ua *UA) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c := ua.lookupCall(req)
	if c == nil {
		return // ACK for a non-2xx is absorbed by the transaction layer
	}
	if c.uas != nil {
		c.uas.ReadAck(req, tx)
	}
	if cs := req.CSeq(); cs != nil {
		select {
		case c.acks <- cs.SeqNo:
		default:
		}
	}
}

func (ua *UA) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := ua.lookupCall(req)
	if c == nil {
		ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.byeSeen.Store(true)
	var err error
	if c.uac != nil {
		err = c.uac.ReadBye(req, tx)
	} else {
		err = c.uas.ReadBye(req, tx)
	}
	if err != nil {
		ua.log.Debug("BYE", "err", err)
		if errors.Is(err, sipgo.ErrDialogInvalidCseq) {
			ua.respond(tx, req, 500, "Server Internal Error")
			return
		}
	}
	ctx, cancel := context.WithTimeout(ua.ctx, time.Second)
	defer cancel()
	c.end(ctx, ErrRemoteHangup, false)
}

// checkRemoteCSeq enforces RFC 3261 §12.2.2: the peer's requests within
// the dialog carry increasing CSeq numbers. For a dialog we created the
// remote sequence number is empty until the peer's first request (§12.1.2),
// so a callee may count from 1. sipgo's Dialog.ReadRequest seeds its copy
// from the INVITE's CSeq when the INVITE already has one and accepts an
// equal number; the UA keeps its own strict copy rather than depend on
// when sipgo fills in the CSeq. Tested with sipp re-INVITEing with CSeq 1.
func (c *Call) checkRemoteCSeq(n uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.haveRemoteCSeq && n <= c.remoteCSeq {
		return false
	}
	c.remoteCSeq, c.haveRemoteCSeq = n, true
	return true
}

// onReinvite handles a re-INVITE (RFC 3261 §14.2): an unchanged offer is
// answered with the unchanged answer (a session refresh); a new offer (for
// example a new MSRP path after a reconnect, RFC 4975 §8.4) is negotiated
// through the session layer as a new session that replaces the old one
// once open. An offer the session layer cannot accept gets 488 and the
// current session stays. An offerless re-INVITE also gets 488.
func (c *Call) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	ua := c.ua
	if !c.checkRemoteCSeq(req.CSeq().SeqNo) {
		// RFC 3261 §12.2.2: an old or repeated CSeq; §14.2 asks for 500
		// with Retry-After when a re-INVITE overlaps another.
		ua.respond(tx, req, 500, "Server Internal Error", sip.NewHeader("Retry-After", "1"))
		return
	}
	if c.uas != nil {
		// Keep sipgo's copy in step: its ReadAck compares against it.
		c.uas.ReadRequest(req, tx)
	}
	c.reinvites.Add(1)
	body := req.Body()
	if len(body) == 0 {
		ua.respond(tx, req, 488, "Not Acceptable Here", sip.NewHeader("Warning", `399 parley "re-INVITE without SDP offer not supported"`))
		return
	}
	c.mu.Lock()
	same := bytes.Equal(body, c.remoteSDP)
	local := c.localSDP
	c.mu.Unlock()
	if same {
		c.respondReinvite(req, tx, local)
		return
	}
	actx, cancel := context.WithTimeout(ua.ctx, 30*time.Second)
	defer cancel()
	ans, err := ua.media.Answer(actx, body, ua.sessionOptions(ua.aor.String(), c.remote.URI, nil))
	if err != nil {
		code := answerErrorCode(err)
		ua.respond(tx, req, code, reasonFor(code))
		return
	}
	if !c.respondReinvite(req, tx, ans.SDP()) {
		ans.Cancel()
		return
	}
	s, err := ans.Open(actx)
	if err != nil {
		ua.log.Warn("re-INVITE: opening the new session failed; ending the call", "err", err)
		bctx, cancel := context.WithTimeout(ua.ctx, 5*time.Second)
		c.end(bctx, fmt.Errorf("sipua: re-INVITE: %w", err), true)
		cancel()
		return
	}
	if old := c.setSession(s, ans.SDP(), body); old != nil {
		old.Close()
	}
}

// respondReinvite sends 200 with sdp and waits for the ACK, resending the
// 200 over UDP (RFC 3261 §13.3.1.4). It reports whether the ACK came.
func (c *Call) respondReinvite(req *sip.Request, tx sip.ServerTransaction, sdp []byte) bool {
	res := sip.NewSDPResponseFromRequest(req, sdp)
	if ct, ok := c.ua.contact(c.transport); ok {
		res.AppendHeader(&ct)
	}
	if err := tx.Respond(res); err != nil {
		return false
	}
	cseq := req.CSeq().SeqNo
	interval := sip.T1
	deadline := time.NewTimer(64 * sip.T1)
	defer deadline.Stop()
	resend := time.NewTimer(interval)
	defer resend.Stop()
	for {
		select {
		case n := <-c.acks:
			if n == cseq {
				return true
			}
		case <-resend.C:
			if !sip.IsReliable(req.Transport()) {
				tx.Respond(res)
			}
			interval = min(2*interval, sip.T2)
			resend.Reset(interval)
		case <-deadline.C:
			return false
		case <-c.done:
			return false
		case <-c.ua.ctx.Done():
			return false
		}
	}
}
