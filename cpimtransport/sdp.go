package cpimtransport

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// Media types with a meaning of their own in the format list.
const (
	// TypePlain is the type every endpoint MUST accept and list (§4.1).
	TypePlain = "text/plain"
	// TypeDeliveryStatus is the delivery report format (§6.3); listing it
	// asks the peer for a report on every message.
	TypeDeliveryStatus = "message/im-delivery-status"
	// TypeCPIM lets the payload itself be a message/cpim object, which is
	// how user identities travel when From/To are session tokens.
	TypeCPIM = "message/cpim"
)

// activePort is the m-line port of a side that will not accept a
// connection (RFC 6135 §4 uses 9, the discard port).
const activePort = 9

var uriEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewSessionURI returns a fresh a=uri value (§4.2): "im:" followed by 128
// random bits and "@host". Being random it is globally unique, as the
// session relay mechanism of §7 requires.
func NewSessionURI(host string) string {
	var b [16]byte
	rand.Read(b[:])
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "im:" + uriEncoding.EncodeToString(b[:]) + "@" + host
}

// localFormats returns the m-line format list for opts (§4.1): text/plain
// first and always, then the requested types, then message/im-delivery-
// status when receipts are wanted (§6.3).
func localFormats(opts session.Options) []string {
	types := opts.AcceptTypes
	if types == nil {
		types = []string{TypePlain, TypeCPIM}
	}
	out := []string{TypePlain}
	add := func(t string) {
		t = strings.TrimSpace(t)
		if t == "" || strings.ContainsAny(t, " \t\r\n") {
			return
		}
		// Wildcards ("text/*", "*") are passed through: the draft's
		// format list holds MIME types and says nothing of them, and
		// matching treats them as RFC 4975 §8.6 does.
		if strings.EqualFold(t, TypeDeliveryStatus) {
			return // only WantReceipts lists it
		}
		for _, o := range out {
			if strings.EqualFold(o, t) {
				return
			}
		}
		out = append(out, t)
	}
	for _, t := range types {
		add(t)
	}
	// In a CPIM transport session every payload is already wrapped in
	// message/cpim, so "wrapped" types are simply accepted types.
	for _, t := range opts.AcceptWrappedTypes {
		add(t)
	}
	if opts.WantReceipts {
		out = append(out, TypeDeliveryStatus)
	}
	return out
}

// wantsReports reports whether a format list asks for delivery reports.
func wantsReports(formats []string) bool {
	return slices.ContainsFunc(formats, func(f string) bool {
		f, _, _ = strings.Cut(f, ";")
		return strings.EqualFold(strings.TrimSpace(f), TypeDeliveryStatus)
	})
}

// checkRemote checks a peer's media description for use by this endpoint.
func checkRemote(m *messagesdp.Media, protos []string) error {
	if m == nil {
		return fmt.Errorf("%w: no media", session.ErrNotAcceptable)
	}
	if !slices.ContainsFunc(protos, func(p string) bool { return strings.EqualFold(p, m.Proto) }) {
		return fmt.Errorf("%w: proto %q not served", session.ErrNotAcceptable, m.Proto)
	}
	if m.Port == 0 {
		return fmt.Errorf("%w: stream rejected (port 0)", session.ErrNotAcceptable)
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("%w: %w", session.ErrNotAcceptable, err)
	}
	if err := checkToken(m.URI); err != nil {
		return fmt.Errorf("%w: a=uri: %w", session.ErrNotAcceptable, err)
	}
	if m.Setup == messagesdp.SetupHoldconn {
		return fmt.Errorf("%w: a=setup:holdconn", session.ErrNotAcceptable)
	}
	return nil
}

// checkToken checks that a session URI can be written in a CPIM From or To
// header as <uri>.
func checkToken(u string) error {
	if u == "" {
		return fmt.Errorf("empty URI")
	}
	if !strings.Contains(u, ":") {
		return fmt.Errorf("%q is not an absolute URI", u)
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c == '<' || c == '>' || c == '"' || c >= 0x7f {
			return fmt.Errorf("%q has a character not allowed in a CPIM address", u)
		}
	}
	return nil
}

// roleFor returns the a=direction and a=setup an answerer uses toward an
// offer (§4.3 and RFC 4145 §4.1). canListen says whether this side has a
// listener. An offer of "both" (or actpass, or nothing) is answered with
// active: the answerer connects, as in the §4.3 example, and needs no
// reachable listener.
func roleFor(offer *messagesdp.Media, canListen bool) (direction, setup string, err error) {
	remoteActive := offer.Setup == messagesdp.SetupActive ||
		offer.Setup == "" && offer.Direction == messagesdp.DirectionActive
	remotePassive := offer.Setup == messagesdp.SetupPassive ||
		offer.Setup == "" && offer.Direction == messagesdp.DirectionPassive
	switch {
	case remoteActive:
		if !canListen {
			return "", "", fmt.Errorf("%w: the offerer wants to connect and this endpoint has no listener", session.ErrNotAcceptable)
		}
		return messagesdp.DirectionPassive, messagesdp.SetupPassive, nil
	case remotePassive:
		return messagesdp.DirectionActive, messagesdp.SetupActive, nil
	}
	return messagesdp.DirectionActive, messagesdp.SetupActive, nil
}

// Fingerprint returns the a=fingerprint value of a DER certificate:
// "sha-256" and the colon-separated upper-case hex digest (RFC 4572 §5).
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	b.WriteString("sha-256 ")
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// matchFingerprint reports whether cert matches the a=fingerprint value fp.
// Only sha-256 is supported; any other hash function fails.
func matchFingerprint(fp string, cert *x509.Certificate) bool {
	alg, val, ok := strings.Cut(strings.TrimSpace(fp), " ")
	if !ok || !strings.EqualFold(alg, "sha-256") || cert == nil {
		return false
	}
	want := Fingerprint(cert.Raw)[len("sha-256 "):]
	return subtle.ConstantTimeCompare([]byte(strings.ToUpper(strings.TrimSpace(val))), []byte(want)) == 1
}

// sameHost reports whether the connection's remote address is the host of
// a c-line address (an IP literal; host names never match).
func sameHost(remote net.Addr, cline string) bool {
	if remote == nil {
		return false
	}
	ap, err := netip.ParseAddrPort(remote.String())
	if err != nil {
		return false
	}
	want, err := netip.ParseAddr(strings.Trim(cline, "[]"))
	if err != nil {
		return false
	}
	return ap.Addr().Unmap() == want.Unmap()
}
