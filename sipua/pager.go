package sipua

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/session"
)

// Mode says how a message travelled.
type Mode int

// Modes.
const (
	// PagerMode: a SIP MESSAGE request (RFC 3428).
	PagerMode Mode = iota + 1
	// LargeMessageMode: a short session (INVITE, one message, BYE) because
	// the body exceeded the pager limit (RFC 3428 §9).
	LargeMessageMode
)

func (m Mode) String() string {
	switch m {
	case PagerMode:
		return "pager"
	case LargeMessageMode:
		return "large-message"
	}
	return "unknown"
}

// Disposition is what the recipient side said about a sent message.
type Disposition int

// Dispositions.
const (
	// Delivered: the recipient's UA accepted the message (200 OK, RFC 3428
	// §7). In large-message mode: the session reported Delivered (a
	// success report) or Sent (every byte acknowledged by the next MSRP
	// hop, which is the recipient when no relay is in the path);
	// PagerResult.Session has the exact outcome.
	Delivered Disposition = iota + 1
	// AcceptedForLater: a store-and-forward server took it for later
	// delivery (202 Accepted); delivery is not known (RFC 3428 §7).
	AcceptedForLater
)

func (d Disposition) String() string {
	switch d {
	case Delivered:
		return "delivered"
	case AcceptedForLater:
		return "accepted for later delivery"
	}
	return "unknown"
}

// PagerResult is the outcome of SendMessage.
type PagerResult struct {
	Mode        Mode
	Disposition Disposition
	// Status and Reason are the final SIP response (to the MESSAGE, or to
	// the INVITE in large-message mode).
	Status int
	Reason string
	// Session is the session delivery result in large-message mode.
	Session session.Result
}

// Message is an incoming instant message.
type Message struct {
	Mode        Mode
	From, To    Party
	ContentType string
	Body        []byte
	// Subject, Date and CallID are the SIP headers, "" when absent. In
	// large-message mode they come from the INVITE.
	Subject, Date, CallID string
	// Session is the session message in large-message mode, else nil.
	Session  *session.Incoming
	Received time.Time
}

// SendMessage sends body of contentType (text/plain, message/cpim, …) to
// target. A body up to the pager limit goes in one MESSAGE; a larger one
// in a short session (large-message mode), transparently. Messages to one
// target are sent one at a time in call order: RFC 3428 §9 forbids
// overlapping out-of-dialog MESSAGEs to one URI. The result tells 200
// (Delivered) from 202 (AcceptedForLater).
func (ua *UA) SendMessage(ctx context.Context, target, contentType string, body []byte) (PagerResult, error) {
	u, err := parseTarget(target)
	if err != nil {
		return PagerResult{}, err
	}
	if err := checkContentType(contentType); err != nil {
		return PagerResult{}, err
	}
	q := ua.queue(queueKey(u))
	defer ua.releaseQueue(queueKey(u), q)
	if err := q.acquire(ctx); err != nil {
		return PagerResult{}, fmt.Errorf("sipua: MESSAGE %s: %w: %w", target, ErrCanceled, err)
	}
	defer q.release()

	large := ua.pagerMax > 0 && len(body) > ua.pagerMax
	if !large {
		req, transport, err := ua.newRequest(sip.MESSAGE, u)
		if err != nil {
			return PagerResult{}, fmt.Errorf("sipua: MESSAGE %s: %w", target, err)
		}
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
		req.SetBody(body)
		switched := false
		if transport == UDP && estimateSize(req) > 1300 {
			// RFC 3261 §18.1.1 / RFC 3428 §9: a request over 1300 bytes
			// needs a congestion-controlled transport: TCP to the same
			// host and port (every RFC 3261 UA listens on both). sipgo
			// does not switch by itself (it fails with
			// ErrUDPMTUCongestion).
			if _, ok := ua.contact(TCP); ok {
				req.SetTransport("TCP")
				switched = true
			} else if ua.pagerMax > 0 && ua.media != nil {
				large = true
			}
		}
		if !large {
			res, err := ua.sendPager(ctx, req, target)
			var se *StatusError
			if err == nil || !switched || errors.As(err, &se) || ctx.Err() != nil || ua.media == nil || ua.pagerMax <= 0 {
				return res, err
			}
			// TCP did not connect: carry the message in a session.
			ua.log.Debug("MESSAGE over TCP failed; using large-message mode", "target", target, "err", err)
		}
	}
	if ua.pagerMax < 0 {
		return PagerResult{}, fmt.Errorf("sipua: MESSAGE %s: body of %d bytes too large for pager mode", target, len(body))
	}
	return ua.sendLarge(ctx, u, target, "", &session.Outgoing{ContentType: contentType, Body: body}, nil, 0)
}

func estimateSize(req *sip.Request) int {
	// Via, Max-Forwards, Call-ID, CSeq and Content-Length are added by
	// sipgo later; 250 bytes covers them.
	return len(req.String()) + 250
}

func (ua *UA) sendPager(ctx context.Context, req *sip.Request, target string) (PagerResult, error) {
	res, err := ua.doAuth(ctx, req)
	var se *StatusError
	if errors.As(err, &se) {
		return PagerResult{}, err
	}
	if err != nil {
		if ctx.Err() != nil {
			return PagerResult{}, fmt.Errorf("sipua: MESSAGE %s: %w: %w", target, ErrCanceled, context.Cause(ctx))
		}
		return PagerResult{}, classify("MESSAGE "+target, err)
	}
	r := PagerResult{Mode: PagerMode, Status: res.StatusCode, Reason: res.Reason}
	switch {
	case res.StatusCode == 202:
		r.Disposition = AcceptedForLater
	case res.IsSuccess():
		r.Disposition = Delivered
	default:
		return r, statusError("MESSAGE", target, res)
	}
	return r, nil
}

// LargeMessageFeatureTag is the feature tag that marks a large-message-mode
// INVITE (OMA CPM / RCS "largemsg" ICSI): the UA puts it in the INVITE's
// Accept-Contact ("*;" + LargeMessageFeatureTag), and a receiving UA that
// sees it delivers the session's message(s) to OnMessage like pager
// messages and needs no Accept.
const LargeMessageFeatureTag = `+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.largemsg"`

const largeMessageTag = LargeMessageFeatureTag

// LargeMessage is a message for SendLarge, whose body is streamed through
// a large-message-mode session rather than held in memory.
type LargeMessage struct {
	// ContentType is the type of Body, e.g. "text/plain" or
	// "application/octet-stream"; with CPIM set it is the type of the
	// entity inside the CPIM wrapper.
	ContentType string
	// Body is read as the message goes out; Size is its length in octets,
	// -1 when unknown (a receiver may then hold the whole body in memory
	// and refuse it beyond its limit, so give the size when known).
	Body io.Reader
	Size int64
	// CPIM, if set, is wrapped around the body (session.Outgoing.CPIM).
	CPIM *cpim.Message
	// Subject is put in the INVITE's Subject header.
	Subject string
	// Progress, if set, is called in SendLarge's goroutine with the octets
	// written so far and Size, every ProgressInterval (default 200 ms)
	// while the message goes out, and once more when the outcome is known.
	Progress         func(sent, total int64)
	ProgressInterval time.Duration
}

// SendLarge sends m to target in large-message mode whatever its size:
// INVITE with the LargeMessageFeatureTag, the body streamed through the
// session (session.Outgoing.BodyReader), then BYE once the outcome is
// known. Like SendMessage it waits for its turn among the messages to
// target and reports Delivered when the session reported Delivered or
// Sent (PagerResult.Session has which). Failures wrap the errors of Invite,
// ErrRejected (the session refused the message, e.g. 413 too large or
// session.ErrTooLarge before sending), ErrTimeout or ErrCanceled.
func (ua *UA) SendLarge(ctx context.Context, target string, m *LargeMessage) (PagerResult, error) {
	if m == nil || m.Body == nil {
		return PagerResult{}, errors.New("sipua: SendLarge needs a LargeMessage with a Body")
	}
	u, err := parseTarget(target)
	if err != nil {
		return PagerResult{}, err
	}
	if err := checkContentType(m.ContentType); err != nil {
		return PagerResult{}, err
	}
	if ua.media == nil {
		return PagerResult{}, errNoMedia
	}
	size := m.Size
	if size < 0 {
		size = -1
	}
	q := ua.queue(queueKey(u))
	defer ua.releaseQueue(queueKey(u), q)
	if err := q.acquire(ctx); err != nil {
		return PagerResult{}, fmt.Errorf("sipua: large message to %s: %w: %w", target, ErrCanceled, err)
	}
	defer q.release()
	out := &session.Outgoing{ContentType: m.ContentType, BodyReader: m.Body, Size: size, CPIM: m.CPIM}
	return ua.sendLarge(ctx, u, target, m.Subject, out, m.Progress, m.ProgressInterval)
}

func checkContentType(contentType string) error {
	if contentType == "" || strings.ContainsAny(contentType, "\r\n") {
		return fmt.Errorf("sipua: invalid content type %q", contentType)
	}
	if _, _, err := mime.ParseMediaType(contentType); err != nil {
		return fmt.Errorf("sipua: invalid content type %q: %w", contentType, err)
	}
	return nil
}

func (ua *UA) sendLarge(ctx context.Context, u sip.Uri, target, subject string, out *session.Outgoing, progress func(sent, total int64), every time.Duration) (PagerResult, error) {
	call, err := ua.invite(ctx, u, target, InviteOptions{Subject: subject, largeMessage: true})
	if err != nil {
		return PagerResult{Mode: LargeMessageMode}, err
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	defer call.Hangup(hctx)
	r := PagerResult{Mode: LargeMessageMode, Status: call.status, Reason: call.reason}
	d, err := call.Session().Send(ctx, out)
	if err != nil {
		if errors.Is(err, session.ErrTooLarge) || errors.Is(err, session.ErrTypeNotAccepted) {
			return r, fmt.Errorf("sipua: large message to %s: %w: %w", target, ErrRejected, err)
		}
		return r, fmt.Errorf("sipua: large message to %s: %w", target, err)
	}
	res, err := waitDelivery(ctx, d, progress, every)
	if err != nil {
		return r, fmt.Errorf("sipua: large message to %s: %w: %w", target, ErrCanceled, err)
	}
	r.Session = res
	switch res.Outcome {
	case session.Delivered, session.Sent:
		r.Disposition = Delivered
		return r, nil
	case session.TimedOut:
		return r, fmt.Errorf("sipua: large message to %s: %w: %w", target, ErrTimeout, res.Err)
	}
	return r, fmt.Errorf("sipua: large message to %s: %w: status %d %s: %v", target, ErrRejected, res.Status, res.Comment, res.Err)
}

// waitDelivery waits for d's outcome, reporting progress (when set) every
// interval and once at the end.
func waitDelivery(ctx context.Context, d *session.Delivery, progress func(sent, total int64), every time.Duration) (session.Result, error) {
	if progress == nil {
		return d.Wait(ctx)
	}
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-d.Done():
			sent, _ := d.Progress()
			progress(sent, d.Size())
			return d.Result(), nil
		case <-t.C:
			sent, _ := d.Progress()
			progress(sent, d.Size())
		case <-ctx.Done():
			return session.Result{Outcome: session.Pending}, context.Cause(ctx)
		}
	}
}

// onMessage handles an incoming MESSAGE (RFC 3428 §7, §8): 415 for a body
// type not accepted, else the application gets it and we answer 200 (no
// Contact, no body).
func (ua *UA) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	ct := headerValue(req, "Content-Type")
	if ct == "" && len(req.Body()) > 0 {
		ct = "text/plain" // RFC 3261 §7.4.1 default is application/sdp, but a MESSAGE body without a type is text in practice
	}
	if len(req.Body()) > 0 && !typeAccepted(ct, ua.acceptTyp) {
		ua.respond(tx, req, 415, "Unsupported Media Type", sip.NewHeader("Accept", strings.Join(ua.acceptTyp, ", ")))
		return
	}
	if len(req.Body()) > 0 && isCPIM(ct) {
		// RFC 3862 §3 (and package cpim's contract): a message/cpim body
		// that does not parse is malformed; answer 400 rather than hand
		// the application a body whose sender identity it cannot read.
		if _, err := cpim.Parse(req.Body()); err != nil {
			ua.respond(tx, req, 400, "Bad Request", sip.NewHeader("Warning", `399 parley "malformed message/cpim body"`))
			return
		}
	}
	if ua.cfg.OnMessage == nil {
		ua.respond(tx, req, 480, "Temporarily Unavailable")
		return
	}
	ua.cfg.OnMessage(&Message{
		Mode:        PagerMode,
		From:        fromParty(req.From()),
		To:          toParty(req.To()),
		ContentType: ct,
		Body:        req.Body(),
		Subject:     headerValue(req, "Subject"),
		Date:        headerValue(req, "Date"),
		CallID:      headerValue(req, "Call-ID"),
		Received:    time.Now(),
	})
	ua.respond(tx, req, 200, "OK")
}

// isCPIM reports whether a Content-Type (parameters ignored) is message/cpim.
func isCPIM(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "message/cpim"
}

// typeAccepted matches a Content-Type (parameters ignored) against a list
// that may hold "type/*" and "*/*" (RFC 4975 §8.6 rules).
func typeAccepted(ct string, accept []string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	major, minor, ok := strings.Cut(mt, "/")
	if !ok || major == "" || minor == "" {
		return false
	}
	for _, a := range accept {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "*" || a == "*/*" || a == mt || a == major+"/*" {
			return true
		}
		if am, _, err := mime.ParseMediaType(a); err == nil && am == mt {
			return true
		}
	}
	return false
}

// queueKey normalises a target for the per-URI queue: scheme, user, host
// (case-insensitive) and port; parameters do not make another target.
func queueKey(u sip.Uri) string {
	return u.Scheme + ":" + u.User + "@" + strings.ToLower(u.Host) + ":" + fmt.Sprint(u.Port)
}

func (ua *UA) queue(key string) *fifo {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	q := ua.queues[key]
	if q == nil {
		q = &fifo{}
		ua.queues[key] = q
	}
	q.refs++
	return q
}

func (ua *UA) releaseQueue(key string, q *fifo) {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	q.refs--
	if q.refs == 0 && ua.queues[key] == q {
		delete(ua.queues, key)
	}
}

// fifo is a first-come first-served lock: waiters get it in arrival order.
type fifo struct {
	refs int // guarded by UA.mu

	mu      sync.Mutex
	busy    bool
	waiters []chan struct{}
}

func (f *fifo) acquire(ctx context.Context) error {
	f.mu.Lock()
	if !f.busy {
		f.busy = true
		f.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	f.waiters = append(f.waiters, ch)
	f.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		f.mu.Lock()
		for i, w := range f.waiters {
			if w == ch {
				f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
				f.mu.Unlock()
				return context.Cause(ctx)
			}
		}
		f.mu.Unlock()
		// We were handed the lock while giving up: pass it on.
		f.release()
		return context.Cause(ctx)
	}
}

func (f *fifo) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waiters) > 0 {
		ch := f.waiters[0]
		f.waiters = f.waiters[1:]
		close(ch)
		return
	}
	f.busy = false
}

var errNoMedia = errors.New("sipua: no session transport configured (Config.Endpoints or Config.Media)")
