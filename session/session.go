package session

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/messagesdp"
)

// Session is one established message session, whatever carries it: an
// MSRP session (RFC 4975) or a CPIM transport session (draft-campbell-
// simple-cpimmsg-sessions-00). Its methods are safe for concurrent use.
type Session interface {
	// Send queues m for delivery and returns at once with a Delivery that
	// tracks its outcome. It fails only if the session is closed or m is
	// invalid (for example a type the peer did not accept).
	Send(ctx context.Context, m *Outgoing) (*Delivery, error)
	// Receive returns the next message from the peer. It returns an error
	// wrapping ErrClosed once the session has ended and every received
	// message has been returned.
	Receive(ctx context.Context) (*Incoming, error)
	// Local and Remote return the media descriptions the session was
	// negotiated with.
	Local() *messagesdp.Media
	Remote() *messagesdp.Media
	// Close ends the session: pending deliveries fail with ErrClosed, the
	// transport connection is released (closed when no other session uses
	// it). Close is idempotent.
	Close() error
	// Done is closed when the session has ended, by Close, by the peer or
	// by a transport failure; Err then says why (nil after Close).
	Done() <-chan struct{}
	Err() error
}

// Endpoint is a transport that can create sessions through SDP offer/answer.
// A SIP user agent holds one Endpoint per transport it offers.
type Endpoint interface {
	// Protocols lists the m-line protos this endpoint serves, preferred
	// first (e.g. "TCP/MSRP", "TCP/TLS/MSRP", or "cpim/tcp").
	Protocols() []string
	// Offer prepares a session as the offerer and returns the local media
	// description to put in the SDP offer.
	Offer(ctx context.Context, opts Options) (Offer, error)
	// Answer prepares a session as the answerer for a remote offer. It
	// returns an error wrapping ErrNotAcceptable when nothing in the offer
	// can be accepted (the SIP layer answers 488, RFC 4975 §8.6).
	Answer(ctx context.Context, remote *messagesdp.Media, opts Options) (Answer, error)
}

// Offer is a session being set up by the offerer.
type Offer interface {
	// Media is the local media description for the SDP offer.
	Media() *messagesdp.Media
	// Open completes the session with the peer's answer: it connects (or
	// waits for the peer to connect, per the negotiated roles) and returns
	// once the session can carry messages.
	Open(ctx context.Context, answer *messagesdp.Media) (Session, error)
	// Cancel releases what Offer reserved, if Open will never be called.
	Cancel()
}

// Answer is a session being set up by the answerer.
type Answer interface {
	// Media is the local media description for the SDP answer.
	Media() *messagesdp.Media
	// Open completes the session (connects, or waits for the peer).
	Open(ctx context.Context) (Session, error)
	// Cancel releases what Answer reserved, if Open will never be called.
	Cancel()
}

// Options tune a session at offer/answer time. The zero value is usable.
type Options struct {
	// LocalURI names the local user (a SIP or IM URI); it becomes CPIM From
	// where the transport needs one.
	LocalURI string
	// RemoteURI names the remote user; it becomes CPIM To where needed.
	RemoteURI string
	// AcceptTypes are the MIME types this side accepts; nil means the
	// transport's defaults (text/plain, message/cpim and wildcards).
	AcceptTypes []string
	// AcceptWrappedTypes are types accepted only inside message/cpim.
	AcceptWrappedTypes []string
	// MaxSize is the largest message this side accepts, 0 for no limit.
	MaxSize int64
	// WantReceipts asks the peer to confirm delivery of every message
	// (MSRP Success-Report, or the seed's message/im-delivery-status).
	WantReceipts bool
	// Sink, if set, is asked where to put the body of each incoming
	// message whose size exceeds MaxInMemory, so that large messages stream
	// to a file in bounded memory.
	Sink func(info Info) (io.WriterAt, error)
	// MaxInMemory is the largest body held in memory; 0 means 1 MiB.
	MaxInMemory int64
}

// Info describes an incoming message before its body has arrived.
type Info struct {
	ID          string
	ContentType string
	// Size is the total size in octets, or -1 when not yet known.
	Size int64
}

// Outgoing is a message to send.
type Outgoing struct {
	// ContentType is the type of Body on the wire, e.g. "text/plain" or
	// "message/cpim".
	ContentType string
	// Body holds the whole body; or set BodyReader (and Size, -1 when
	// unknown) to stream a large body without holding it in memory.
	Body       []byte
	BodyReader io.Reader
	Size       int64
	// CPIM, if set, is wrapped around Body (or sent as it is when Body is
	// empty and the CPIM message carries its own entity).
	CPIM *cpim.Message
	// ID is the message identifier to use; empty means a fresh random one.
	// Resent messages keep their ID (RFC 4975 §5.4 duplicates).
	ID string
	// NoReceipt sends the message without asking for a delivery report,
	// even if the session asks for receipts by default.
	NoReceipt bool
}

// Incoming is a message received from the peer.
//
// ContentType and Body are the message as the transport carried it. Over
// MSRP that is the SEND body, which is often message/cpim (RFC 4975 §13);
// CPIM then holds the parsed wrapper and Body the whole CPIM object. Over
// the seed transport every message is framed as a CPIM object whose From
// and To are session tokens (draft-campbell-simple-cpimmsg-sessions-00
// §3), so the wrapper is framing rather than content: ContentType and Body
// are the encapsulated entity and CPIM the envelope. Content returns the
// application content either way.
type Incoming struct {
	ID          string
	ContentType string
	// Body holds the body when it was kept in memory; nil when it went to
	// the Sink.
	Body []byte
	// Size is the body size in octets.
	Size int64
	// CPIM is the parsed CPIM wrapper, if the message had one.
	CPIM *cpim.Message
	// Duplicate is true when a message with the same ID was already
	// delivered on this session (RFC 4975 §5.4: flag, don't hide).
	Duplicate bool
	// Received is when the last byte arrived.
	Received time.Time
}

// Content returns the application content of m: the entity inside a
// message/cpim wrapper when ContentType is message/cpim and the wrapper
// was parsed, else ContentType and Body as they are.
func (m *Incoming) Content() (contentType string, body []byte) {
	if m.CPIM != nil && isCPIM(m.ContentType) {
		return m.CPIM.ContentType(), m.CPIM.Body()
	}
	return m.ContentType, m.Body
}

func isCPIM(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "message/cpim")
}

// Outcome is the final state of a Delivery.
type Outcome int

// Outcomes of a delivery.
const (
	// Pending: no final outcome yet.
	Pending Outcome = iota
	// Delivered: the peer confirmed receipt of every byte (success report
	// or delivery-status receipt).
	Delivered
	// Sent: every byte was sent and no confirmation was asked for (or the
	// transport only confirms the first hop, as MSRP's 200 does).
	Sent
	// Failed: the peer, a relay or the transport reported an error; Result
	// carries the status.
	Failed
	// TimedOut: no response came within the transport's timer (RFC 4975
	// §7.1.1: 30 s after the last byte sent).
	TimedOut
)

func (o Outcome) String() string {
	switch o {
	case Pending:
		return "pending"
	case Delivered:
		return "delivered"
	case Sent:
		return "sent"
	case Failed:
		return "failed"
	case TimedOut:
		return "timed out"
	}
	return "unknown"
}

// Result is the outcome of a Delivery.
type Result struct {
	Outcome Outcome
	// Status is the protocol status behind a Failed outcome (e.g. 413,
	// 481), or 0.
	Status  int
	Comment string
	// Err is the underlying error for Failed and TimedOut, else nil.
	Err error
}

// Delivery tracks one sent message. Transports create it with NewDelivery
// and finish it with Complete; applications wait on Done.
type Delivery struct {
	id   string
	size int64

	mu       sync.Mutex
	sent     int64
	acked    int64
	result   Result
	done     chan struct{}
	finished bool
}

// NewDelivery returns a pending Delivery for message id of size octets
// (-1 when unknown).
func NewDelivery(id string, size int64) *Delivery {
	return &Delivery{id: id, size: size, done: make(chan struct{})}
}

// ID returns the message identifier.
func (d *Delivery) ID() string { return d.id }

// Size returns the message size, -1 when unknown.
func (d *Delivery) Size() int64 { return d.size }

// Done is closed when the outcome is final.
func (d *Delivery) Done() <-chan struct{} { return d.done }

// Result returns the outcome; Outcome is Pending until Done is closed.
func (d *Delivery) Result() Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.result
}

// Wait blocks until the outcome is final or ctx ends.
func (d *Delivery) Wait(ctx context.Context) (Result, error) {
	select {
	case <-d.done:
		return d.Result(), nil
	case <-ctx.Done():
		return Result{Outcome: Pending}, context.Cause(ctx)
	}
}

// Progress returns the octets sent so far and the octets the peer has
// confirmed (by success reports), for progress displays.
func (d *Delivery) Progress() (sent, confirmed int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sent, d.acked
}

// AddSent records n more octets written to the transport.
func (d *Delivery) AddSent(n int64) {
	d.mu.Lock()
	d.sent += n
	d.mu.Unlock()
}

// SetConfirmed records that the peer confirmed n octets in all.
func (d *Delivery) SetConfirmed(n int64) {
	d.mu.Lock()
	if n > d.acked {
		d.acked = n
	}
	d.mu.Unlock()
}

// Complete sets the final outcome. Only the first call has an effect; it
// reports whether this call was the one that completed d.
func (d *Delivery) Complete(r Result) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.finished {
		return false
	}
	d.finished = true
	d.result = r
	close(d.done)
	return true
}

// Errors shared by every transport.
var (
	// ErrClosed: the session has ended.
	ErrClosed = errors.New("session closed")
	// ErrNotAcceptable: the remote offer has nothing this side accepts
	// (SIP 488).
	ErrNotAcceptable = errors.New("no acceptable media")
	// ErrTypeNotAccepted: the message's type is not among the peer's
	// accept-types.
	ErrTypeNotAccepted = errors.New("content type not accepted by peer")
	// ErrTooLarge: the message exceeds the peer's max-size.
	ErrTooLarge = errors.New("message larger than peer's max-size")
)
