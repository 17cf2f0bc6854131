package sipua

import (
	"context"
	"errors"

	"github.com/parley-im/parley/session"
)

// endpointMedia adapts session endpoints to Media through package
// session's negotiator (OfferAll / AnswerOffer).
//
// TEMPORARY: session/negotiate.go has not landed yet; until it does this
// adapter reports that negotiation is unavailable.
func endpointMedia(eps []session.Endpoint) Media { return pendingNegotiator{} }

type pendingNegotiator struct{}

var errNegotiatorPending = errors.New("sipua: session negotiation (session.OfferAll) not available in this build")

func (pendingNegotiator) Offer(context.Context, session.Options) (MediaOffer, error) {
	return nil, errNegotiatorPending
}

func (pendingNegotiator) Answer(context.Context, []byte, session.Options) (MediaAnswer, error) {
	return nil, errNegotiatorPending
}
