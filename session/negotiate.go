package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/parley-im/parley/messagesdp"
)

// DefaultPreference returns the answerer's proto preference when
// AnswerOffer is given none: MSRP first (RFC 4975), TLS before TCP, then
// the seed draft's CPIM transport.
func DefaultPreference() []string {
	return []string{
		messagesdp.ProtoMSRPS, messagesdp.ProtoMSRP,
		messagesdp.ProtoCPIMTLS, messagesdp.ProtoCPIMTCP,
	}
}

// errDone is returned by Open after Open or Cancel already ran.
var errDone = errors.New("session: negotiation already opened or cancelled")

// MultiOffer is an SDP offer with one m=message line per Endpoint, so that
// the answerer can pick the transport (RFC 3264 §5, §6). Its methods are
// safe for concurrent use; Open and Cancel take effect once.
type MultiOffer struct {
	offers []Offer
	desc   *messagesdp.Description
	sdp    []byte

	mu   sync.Mutex
	done bool
}

// OfferAll asks every endpoint, in order, for an Offer and builds one SDP
// with their m=message lines in that order (the order is the offerer's
// preference). If an endpoint fails, the offers already made are
// cancelled and the error is returned: pass only the endpoints to offer.
func OfferAll(ctx context.Context, endpoints []Endpoint, opts Options) (*MultiOffer, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("session: OfferAll with no endpoint")
	}
	mo := &MultiOffer{}
	media := make([]*messagesdp.Media, 0, len(endpoints))
	for i, ep := range endpoints {
		if err := context.Cause(ctx); err != nil {
			mo.cancelAll()
			return nil, err
		}
		o, err := ep.Offer(ctx, opts)
		if err != nil {
			mo.cancelAll()
			return nil, fmt.Errorf("session: endpoint %d (%s): offer: %w", i, strings.Join(ep.Protocols(), ","), err)
		}
		mo.offers = append(mo.offers, o)
		media = append(media, o.Media())
	}
	d, err := messagesdp.Build(media...)
	if err != nil {
		mo.cancelAll()
		return nil, fmt.Errorf("session: building the offer: %w", err)
	}
	mo.desc = d
	mo.sdp = d.Marshal()
	return mo, nil
}

// SDP returns the offer's SDP body.
func (mo *MultiOffer) SDP() []byte { return slices.Clone(mo.sdp) }

// Description returns the offer as built, for callers that need the
// m-lines (it must not be modified).
func (mo *MultiOffer) Description() *messagesdp.Description { return mo.desc }

// Open completes the negotiation with the answer's SDP: it opens the
// accepted m-line (port ≠ 0) with the Offer of its Endpoint and cancels
// every other Offer. The answer must keep the offer's m-lines in number
// and order (RFC 3264 §6); if it accepts several m=message lines, the
// first in offer order is opened and the others are left unused. A
// malformed answer gives an error wrapping messagesdp.ErrSyntax or
// messagesdp.ErrInvalid, one that rejects every line an error wrapping
// ErrNotAcceptable. Every Offer is cancelled on error, except one whose
// Open failed.
func (mo *MultiOffer) Open(ctx context.Context, answerSDP []byte) (Session, error) {
	if !mo.finish() {
		return nil, errDone
	}
	idx, remote, err := mo.pick(answerSDP)
	if err != nil {
		mo.cancelLocked(-1)
		return nil, err
	}
	mo.cancelLocked(idx)
	s, err := mo.offers[idx].Open(ctx, remote)
	if err != nil {
		return nil, fmt.Errorf("session: opening %s: %w", remote.Proto, err)
	}
	return s, nil
}

// pick finds the accepted m-line of an answer.
func (mo *MultiOffer) pick(answerSDP []byte) (int, *messagesdp.Media, error) {
	ans, err := messagesdp.Parse(answerSDP)
	if err != nil {
		return 0, nil, fmt.Errorf("session: answer: %w", err)
	}
	if len(ans.Streams) != len(mo.offers) {
		return 0, nil, fmt.Errorf("session: answer has %d m-lines for %d offered (RFC 3264 §6): %w",
			len(ans.Streams), len(mo.offers), messagesdp.ErrInvalid)
	}
	var errs []error
	for i, s := range ans.Streams {
		offered := mo.desc.Streams[i].Media
		switch {
		case s.Err != nil:
			if s.Other != nil && s.Other.MediaName.Port.Value != 0 {
				errs = append(errs, s.Err)
			}
			continue
		case s.Media == nil:
			if s.Other.MediaName.Port.Value != 0 {
				errs = append(errs, fmt.Errorf("m-line %d: m=%s answers an m=message offer: %w", i, s.Other.MediaName.Media, messagesdp.ErrInvalid))
			}
			continue
		case s.Media.Port == 0:
			continue
		case !strings.EqualFold(s.Media.Proto, offered.Proto):
			errs = append(errs, fmt.Errorf("m-line %d: proto %s answers %s: %w", i, s.Media.Proto, offered.Proto, messagesdp.ErrInvalid))
			continue
		}
		return i, s.Media, nil
	}
	if len(errs) > 0 {
		return 0, nil, fmt.Errorf("session: answer: %w", errors.Join(errs...))
	}
	return 0, nil, fmt.Errorf("session: answer rejects every m=message line: %w", ErrNotAcceptable)
}

// Cancel cancels every Offer, if Open has not run. It is idempotent.
func (mo *MultiOffer) Cancel() {
	if mo.finish() {
		mo.cancelLocked(-1)
	}
}

// finish marks mo done and reports whether this call did it; the caller
// then owns the offers.
func (mo *MultiOffer) finish() bool {
	mo.mu.Lock()
	defer mo.mu.Unlock()
	if mo.done {
		return false
	}
	mo.done = true
	return true
}

// cancelLocked cancels every offer but the one at index keep; the caller
// owns the offers (OfferAll, or after finish).
func (mo *MultiOffer) cancelLocked(keep int) {
	for i, o := range mo.offers {
		if i != keep {
			o.Cancel()
		}
	}
}

func (mo *MultiOffer) cancelAll() { mo.cancelLocked(-1) }

// MultiAnswer is the answer to a multi-line offer: one m=message line is
// accepted by one Endpoint, every other m-line is rejected with port 0.
// Its methods are safe for concurrent use; Open and Cancel take effect
// once.
type MultiAnswer struct {
	answer Answer
	index  int
	remote *messagesdp.Media
	sdp    []byte

	mu   sync.Mutex
	done bool
}

// AnswerOffer answers an SDP offer. It ranks the offered m=message lines
// by the position of their proto in prefer (DefaultPreference when nil;
// protos not listed come last), then by offer order, and asks the first
// Endpoint serving that proto to Answer; a line or endpoint that cannot
// accept is skipped for the next. The SDP answer keeps the offer's m-lines
// in number and order, with every line but the chosen one rejected (port
// 0), including non-message lines (RFC 3264 §6).
//
// When nothing can be accepted the error wraps ErrNotAcceptable (the SIP
// UA answers 488, RFC 4975 §8.6); a malformed offer gives an error
// wrapping messagesdp.ErrSyntax (400).
func AnswerOffer(ctx context.Context, endpoints []Endpoint, offerSDP []byte, opts Options, prefer []string) (*MultiAnswer, error) {
	offer, err := messagesdp.Parse(offerSDP)
	if err != nil {
		return nil, fmt.Errorf("session: offer: %w", err)
	}
	if prefer == nil {
		prefer = DefaultPreference()
	}
	type candidate struct {
		index int
		media *messagesdp.Media
		rank  int
	}
	var cands []candidate
	var errs []error
	for i, s := range offer.Streams {
		switch {
		case s.Err != nil:
			errs = append(errs, s.Err)
			continue
		case s.Media == nil || s.Media.Port == 0:
			continue
		}
		rank := slices.IndexFunc(prefer, func(p string) bool { return strings.EqualFold(p, s.Media.Proto) })
		if rank < 0 {
			rank = len(prefer)
		}
		cands = append(cands, candidate{index: i, media: s.Media, rank: rank})
	}
	slices.SortStableFunc(cands, func(a, b candidate) int { return a.rank - b.rank })

	for _, c := range cands {
		for _, ep := range endpoints {
			if err := context.Cause(ctx); err != nil {
				return nil, err
			}
			if err := messagesdp.Acceptable(c.media, ep.Protocols(), opts.AcceptTypes); err != nil {
				if !slices.ContainsFunc(ep.Protocols(), func(p string) bool { return strings.EqualFold(p, c.media.Proto) }) {
					continue // not this endpoint's proto: no need to report
				}
				errs = append(errs, fmt.Errorf("m-line %d: %w", c.index, err))
				continue
			}
			a, err := ep.Answer(ctx, c.media, opts)
			if err != nil {
				errs = append(errs, fmt.Errorf("m-line %d (%s): %w", c.index, c.media.Proto, err))
				continue
			}
			d, err := messagesdp.NewAnswer(offer, map[int]*messagesdp.Media{c.index: a.Media()})
			if err != nil {
				a.Cancel()
				errs = append(errs, fmt.Errorf("m-line %d (%s): endpoint answer: %w", c.index, c.media.Proto, err))
				continue
			}
			return &MultiAnswer{answer: a, index: c.index, remote: c.media, sdp: d.Marshal()}, nil
		}
	}
	if len(errs) == 0 {
		if len(cands) == 0 {
			errs = append(errs, errors.New("no m=message line with a port"))
		} else {
			errs = append(errs, errors.New("no endpoint serves the offered protos"))
		}
	}
	return nil, fmt.Errorf("session: no acceptable m=message line: %w: %w", ErrNotAcceptable, errors.Join(errs...))
}

// SDP returns the answer's SDP body.
func (ma *MultiAnswer) SDP() []byte { return slices.Clone(ma.sdp) }

// Index returns the position of the accepted m-line in the offer.
func (ma *MultiAnswer) Index() int { return ma.index }

// Remote returns the accepted offered media.
func (ma *MultiAnswer) Remote() *messagesdp.Media { return ma.remote }

// Local returns the answering media.
func (ma *MultiAnswer) Local() *messagesdp.Media { return ma.answer.Media() }

// Open completes the session with the chosen Endpoint's Answer (connects,
// or waits for the peer, per the negotiated roles).
func (ma *MultiAnswer) Open(ctx context.Context) (Session, error) {
	if !ma.finish() {
		return nil, errDone
	}
	s, err := ma.answer.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: opening %s: %w", ma.remote.Proto, err)
	}
	return s, nil
}

// Cancel releases the Answer, if Open has not run (e.g. the INVITE was
// cancelled or the ACK never came). It is idempotent.
func (ma *MultiAnswer) Cancel() {
	if ma.finish() {
		ma.answer.Cancel()
	}
}

// finish marks ma done and reports whether this call did it.
func (ma *MultiAnswer) finish() bool {
	ma.mu.Lock()
	defer ma.mu.Unlock()
	if ma.done {
		return false
	}
	ma.done = true
	return true
}
