package cpimtransport

import (
	"context"
	"strings"
	"time"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/messagesdp"
)

// DefaultObserveMaxBody bounds RelayMessage.Body by default.
const DefaultObserveMaxBody = 64 << 10

// RelayMessage describes a message the Relay forwarded or queued for its
// destination (RelayConfig.OnMessage).
type RelayMessage struct {
	// From and To are the transport CPIM From and To: the a=uri tokens
	// of the sender's and the recipient's endpoints (docs/seed-choices.md
	// §1), which name the session, not the users.
	From, To string
	// Sender and Recipient are the parties the proxy named for those
	// endpoints when it installed the session (InstallFor), "" if it did
	// not.
	Sender, Recipient string
	// InnerFrom and InnerTo are the From and first To URIs of a nested
	// message/cpim content (the way an application puts its users on the
	// wire, docs/seed-choices.md §1), "" otherwise. They are the sender's
	// claim: nothing in the transport checks them.
	InnerFrom, InnerTo string
	// MsgID is the transport MsgID (§5); ContentType the type of the
	// transport message's content (TypeDeliveryStatus for a delivery
	// report, §6.3).
	MsgID, ContentType string
	// Body is the content when it is at most RelayConfig.ObserveMaxBody
	// octets, else nil. It is valid only during the call.
	Body []byte
	// Size is the content's size in octets.
	Size int64
	// Time is when the relay read the message.
	Time time.Time
}

// Parties names the users behind a session's two endpoints, as the proxy
// that installs it knows them (the From and To of the INVITE): Offerer
// for the offer's a=uri, Answerer for the answer's.
type Parties struct {
	Offerer, Answerer string
}

// InstallFor is Install, and records the session's parties for
// RelayMessage.Sender and Recipient.
func (r *Relay) InstallFor(ctx context.Context, offer, answer *messagesdp.Media, p Parties) (*messagesdp.Media, *RelaySession, error) {
	return r.install(ctx, offer, answer, p)
}

// observe builds the RelayMessage of a routed message m (its transport
// CPIM object content) and calls OnMessage. It runs on the reading
// connection's goroutine, without r.mu.
func (r *Relay) observe(m *cpim.Message, from, to string, src, dst *relayLeg, at time.Time) {
	ev := RelayMessage{From: from, To: to, ContentType: m.ContentType(), Time: at}
	if src != nil {
		ev.Sender = src.party
	}
	if dst != nil {
		ev.Recipient = dst.party
	}
	ev.MsgID, _ = m.Get(cpim.NSCPIM, "MsgID")
	body := m.Body()
	ev.Size = int64(len(body))
	if max := r.cfg.ObserveMaxBody; max >= 0 && len(body) <= max {
		ev.Body = body
	}
	if ct, _, _ := strings.Cut(ev.ContentType, ";"); strings.EqualFold(strings.TrimSpace(ct), "message/cpim") {
		if in, err := cpim.Parse(body); err == nil {
			if a, err := in.From(); err == nil {
				ev.InnerFrom = a.URI
			}
			if as, err := in.To(); err == nil && len(as) > 0 {
				ev.InnerTo = as[0].URI
			}
		}
	}
	r.cfg.OnMessage(ev)
}
