package sipua

import (
	"bytes"
	"context"
	"strconv"
	"strings"

	"github.com/parley-im/parley/session"
)

// Media is the session layer as the UA uses it: it turns SDP bodies into
// message sessions (RFC 3264 offer/answer of m=message lines, RFC 4975 §8).
// The UA never looks inside the session; it only carries SDP in INVITE,
// 200 and ACK. Config.Endpoints is adapted to this interface by the
// package session negotiator; set Config.Media to plug in another one.
type Media interface {
	// Offer prepares a session as offerer and returns the SDP offer.
	Offer(ctx context.Context, opts session.Options) (MediaOffer, error)
	// Answer prepares a session as answerer for a remote SDP offer. It
	// returns an error wrapping session.ErrNotAcceptable when nothing in
	// the offer can be accepted; the UA then answers 488.
	Answer(ctx context.Context, offer []byte, opts session.Options) (MediaAnswer, error)
}

// MediaOffer is a session being set up by the offerer.
type MediaOffer interface {
	SDP() []byte
	// Open completes the session with the peer's SDP answer.
	Open(ctx context.Context, answer []byte) (session.Session, error)
	// Cancel releases what the offer reserved when Open will not be called.
	Cancel()
}

// MediaAnswer is a session being set up by the answerer.
type MediaAnswer interface {
	SDP() []byte
	Open(ctx context.Context) (session.Session, error)
	Cancel()
}

// MediaSummary describes one m= line of an SDP offer, for showing an
// incoming session to the user before accepting it.
type MediaSummary struct {
	Media       string   // "message"
	Port        int      // 0: stream rejected
	Proto       string   // e.g. "TCP/MSRP", "TCP/TLS/MSRP", "cpim/tcp"
	AcceptTypes []string // a=accept-types
	MaxSize     int64    // a=max-size, 0 when absent
}

// summarizeSDP extracts the m= lines of an SDP body. It is tolerant: it
// never fails, it skips what it cannot read (the session layer does the
// strict parsing; this is for display only).
func summarizeSDP(body []byte) []MediaSummary {
	var out []MediaSummary
	for line := range bytes.Lines(body) {
		l := strings.TrimRight(string(line), "\r\n")
		switch {
		case strings.HasPrefix(l, "m="):
			f := strings.Fields(l[2:])
			if len(f) < 3 {
				continue
			}
			port, _ := strconv.Atoi(strings.SplitN(f[1], "/", 2)[0])
			out = append(out, MediaSummary{Media: f[0], Port: port, Proto: f[2]})
		case len(out) > 0 && strings.HasPrefix(l, "a=accept-types:"):
			out[len(out)-1].AcceptTypes = strings.Fields(l[len("a=accept-types:"):])
		case len(out) > 0 && strings.HasPrefix(l, "a=max-size:"):
			n, err := strconv.ParseInt(strings.TrimSpace(l[len("a=max-size:"):]), 10, 64)
			if err == nil && n > 0 {
				out[len(out)-1].MaxSize = n
			}
		}
	}
	return out
}
