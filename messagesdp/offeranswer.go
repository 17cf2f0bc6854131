package messagesdp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
)

// Values of a=setup (RFC 4145 §4).
const (
	SetupActive   = "active"
	SetupPassive  = "passive"
	SetupActpass  = "actpass"
	SetupHoldconn = "holdconn"
)

// Values of the seed draft's a=direction (§4.3, early COMEDIA).
const (
	DirectionBoth    = "both"
	DirectionActive  = "active"
	DirectionPassive = "passive"
)

// Direction attributes (RFC 4566 §6); for MSRP they restrict SENDs of
// regular content only (RFC 4975 §8.9).
const (
	ModeSendRecv = "sendrecv"
	ModeSendOnly = "sendonly"
	ModeRecvOnly = "recvonly"
	ModeInactive = "inactive"
)

// baseType returns a media type without parameters and surrounding space.
func baseType(t string) string {
	t, _, _ = strings.Cut(t, ";")
	return strings.TrimSpace(t)
}

// MatchType reports whether the media type t is allowed by the list
// accepted (RFC 4975 §8.6): an entry "*" allows any type, "type/*" any
// subtype of type, and an entry with parameters matches the same type
// without them. Parameters of t are ignored too; comparison is
// case-insensitive. t may itself be "type/*", which "*" and "type/*"
// allow.
func MatchType(t string, accepted []string) bool {
	t = baseType(t)
	tt, _, _ := strings.Cut(t, "/")
	for _, a := range accepted {
		a = baseType(a)
		switch {
		case a == "*":
			return true
		case strings.HasSuffix(a, "/*"):
			if strings.EqualFold(tt, a[:len(a)-2]) && tt != "*" {
				return true
			}
		case strings.EqualFold(t, a) && t != "*":
			return true
		}
	}
	return false
}

// isWildcard reports whether t is "*" or "type/*".
func isWildcard(t string) bool {
	t = baseType(t)
	return t == "*" || strings.HasSuffix(t, "/*")
}

// IntersectTypes returns the types both sides can use, in the offerer's
// order: each offered type that supported allows (MatchType), and, for an
// offered wildcard that supported does not cover whole, the supported
// types that fall under it. Duplicates are dropped; nil means nothing in
// common.
func IntersectTypes(offered, supported []string) []string {
	var out []string
	add := func(t string) {
		for _, o := range out {
			if strings.EqualFold(baseType(o), baseType(t)) {
				return
			}
		}
		out = append(out, t)
	}
	for _, o := range offered {
		if MatchType(o, supported) {
			add(o)
			continue
		}
		if isWildcard(o) {
			for _, s := range supported {
				if MatchType(s, []string{o}) {
					add(s)
				}
			}
		}
	}
	return out
}

// Acceptable reports whether this side can accept the offered media: the
// stream is not rejected (port ≠ 0), its proto is one of supportedProtos
// (case-insensitive), it is valid (Validate), and at least one of its root
// types (Types) is among supportedTypes (nil supportedTypes accepts any
// type). The error wraps ErrNotAcceptable, and ErrInvalid for an invalid
// offer; the SIP layer answers 488 when no m-line is acceptable (RFC 4975
// §8.6).
func Acceptable(offer *Media, supportedProtos []string, supportedTypes []string) error {
	if offer == nil {
		return fmt.Errorf("%w: no media", ErrNotAcceptable)
	}
	if offer.Port == 0 {
		return fmt.Errorf("%w: %s stream is rejected (port 0)", ErrNotAcceptable, offer.Proto)
	}
	if !slices.ContainsFunc(supportedProtos, func(p string) bool { return strings.EqualFold(p, offer.Proto) }) {
		return fmt.Errorf("%w: proto %s not supported (have %s)", ErrNotAcceptable, offer.Proto, strings.Join(supportedProtos, ", "))
	}
	if err := offer.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotAcceptable, err)
	}
	if supportedTypes != nil && IntersectTypes(offer.Types(), supportedTypes) == nil {
		return fmt.Errorf("%w: none of the offered types %q is supported", ErrNotAcceptable, strings.Join(offer.Types(), " "))
	}
	return nil
}

// Reject returns the answer that rejects the offered stream: port 0, the
// same proto and fmt list, nothing else (RFC 3264 §6).
func Reject(offer *Media) *Media {
	return &Media{Proto: offer.Proto, Port: 0, Formats: slices.Clone(offer.Formats)}
}

// RejectOther returns the answer that rejects any other offered m-line
// (audio, video, …): port 0, same media, proto and formats (RFC 3264 §6).
func RejectOther(offer *sdp.MediaDescription) *sdp.MediaDescription {
	return &sdp.MediaDescription{MediaName: sdp.MediaName{
		Media:   offer.MediaName.Media,
		Port:    sdp.RangedPort{Value: 0},
		Protos:  slices.Clone(offer.MediaName.Protos),
		Formats: slices.Clone(offer.MediaName.Formats),
	}}
}

// AnswerSetup returns the a=setup value for an answer to an offer with
// a=setup offer ("" when absent); canListen says whether this side can
// accept an incoming connection (not behind a NAT). Rules:
//
//   - active → passive; passive → active (RFC 4145 §4.1);
//   - actpass → passive when canListen, else active (RFC 6135 §4.1:
//     SHOULD be passive when not behind a NAT);
//   - absent → passive: the offerer connects (RFC 4975 §8.5, RFC 4145
//     §4.1 default), and RFC 6135 §4.1 wants a=setup in every answer;
//   - holdconn is never used by MSRP and is ignored (RFC 6135 §4.1), so it
//     is treated as absent.
//
// When the answer must be passive but this side cannot listen, the error
// wraps ErrNotAcceptable; an unknown value gives an error wrapping
// ErrInvalid.
func AnswerSetup(offer string, canListen bool) (string, error) {
	switch strings.ToLower(strings.TrimSpace(offer)) {
	case SetupPassive:
		return SetupActive, nil
	case SetupActpass:
		if canListen {
			return SetupPassive, nil
		}
		return SetupActive, nil
	case SetupActive, "", SetupHoldconn:
		if !canListen {
			return "", fmt.Errorf("%w: offerer connects (a=setup:%s) but this side cannot accept connections", ErrNotAcceptable, offer)
		}
		return SetupPassive, nil
	}
	return "", fmt.Errorf("%w: a=setup:%s: want active, passive or actpass", ErrInvalid, offer)
}

// AnswerDirection returns the seed draft's a=direction for an answer to an
// offer with a=direction offer ("" when absent, taken as "both"), for the
// cpim/tcp and cpim/tls protos (seed draft §4.3, which follows the early
// COMEDIA draft): active → passive; passive → active; both → passive when
// canListen (the offerer connects, as in MSRP), else active. The seed's
// own example answers "both" with active; both answers are valid.
// Errors wrap ErrNotAcceptable (the answer must listen but cannot) or
// ErrInvalid (unknown value).
func AnswerDirection(offer string, canListen bool) (string, error) {
	switch strings.ToLower(strings.TrimSpace(offer)) {
	case DirectionPassive:
		return DirectionActive, nil
	case DirectionBoth, "":
		if canListen {
			return DirectionPassive, nil
		}
		return DirectionActive, nil
	case DirectionActive:
		if !canListen {
			return "", fmt.Errorf("%w: offerer connects (a=direction:active) but this side cannot accept connections", ErrNotAcceptable)
		}
		return DirectionPassive, nil
	}
	return "", fmt.Errorf("%w: a=direction:%s: want both, active or passive", ErrInvalid, offer)
}

// IsActive reports whether this side opens the connection, given the
// local and remote media of a completed exchange and which side offered.
// In order of precedence:
//
//  1. a=setup (RFC 4145 §4, RFC 6135 §4): a local active or passive
//     decides; else a remote active or passive decides the other way;
//  2. the seed draft's a=direction (§4.3): likewise, local then remote;
//     both ends at "both" fall through;
//  3. the default of RFC 4975 §8.5: the offerer connects. An answer
//     without a=setup to an actpass offer is passive by the RFC 4145 §4.1
//     default, which agrees.
//
// holdconn counts as absent (RFC 6135 §4.1).
func IsActive(local, remote *Media, weAreOfferer bool) bool {
	var ls, rs, ld, rd string
	if local != nil {
		ls, ld = local.Setup, local.Direction
	}
	if remote != nil {
		rs, rd = remote.Setup, remote.Direction
	}
	switch {
	case ls == SetupActive:
		return true
	case ls == SetupPassive:
		return false
	case rs == SetupActive:
		return false
	case rs == SetupPassive:
		return true
	case ld == DirectionActive:
		return true
	case ld == DirectionPassive:
		return false
	case rd == DirectionActive:
		return false
	case rd == DirectionPassive:
		return true
	}
	return weAreOfferer
}
