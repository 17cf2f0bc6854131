package sipua

import (
	"context"

	"github.com/parley-im/parley/session"
)

// endpointMedia adapts session endpoints to Media through package
// session's negotiator: one m=message line per endpoint in the offer
// (OfferAll), and the answerer keeps the line it prefers (AnswerOffer,
// prefer nil = session.DefaultPreference).
func endpointMedia(eps []session.Endpoint, prefer []string) Media {
	return &negotiator{eps: eps, prefer: prefer}
}

type negotiator struct {
	eps    []session.Endpoint
	prefer []string
}

func (n *negotiator) Offer(ctx context.Context, opts session.Options) (MediaOffer, error) {
	mo, err := session.OfferAll(ctx, n.eps, opts)
	if err != nil {
		return nil, err
	}
	return mo, nil
}

func (n *negotiator) Answer(ctx context.Context, offer []byte, opts session.Options) (MediaAnswer, error) {
	ma, err := session.AnswerOffer(ctx, n.eps, offer, opts, n.prefer)
	if err != nil {
		return nil, err
	}
	return ma, nil
}
