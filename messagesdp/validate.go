package messagesdp

import (
	"fmt"
	"strconv"
	"strings"
)

// IsMSRP reports whether proto is an MSRP proto: TCP/MSRP or TCP/TLS/MSRP
// (RFC 4975 §8.1), or any other ".../MSRP".
func IsMSRP(proto string) bool {
	return len(proto) > 5 && strings.EqualFold(proto[len(proto)-5:], "/MSRP")
}

// IsCPIM reports whether proto is the seed draft's cpim/tcp or cpim/tls
// (draft-campbell-simple-cpimmsg-sessions-00 §4.1).
func IsCPIM(proto string) bool {
	return strings.EqualFold(proto, ProtoCPIMTCP) || strings.EqualFold(proto, ProtoCPIMTLS)
}

// IsSecure reports whether proto runs over TLS (TCP/TLS/MSRP, cpim/tls).
func IsSecure(proto string) bool {
	return strings.EqualFold(proto, ProtoMSRPS) || strings.EqualFold(proto, ProtoCPIMTLS)
}

// Types returns the types m accepts as root bodies: a=accept-types for
// MSRP (RFC 4975 §8.6), the fmt list for the seed transport (§4.1).
func (m *Media) Types() []string {
	if IsCPIM(m.Proto) {
		return m.Formats
	}
	return m.AcceptTypes
}

// Validate checks m against RFC 4975 §8 (MSRP protos) or the seed draft §4
// (cpim protos), and checks that every value can be written as SDP. A
// rejected line (Port 0) only needs well-formed values. Errors wrap
// ErrInvalid.
func (m *Media) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	if err := checkWord("proto", m.Proto); err != nil {
		return err
	}
	if m.Port < 0 || m.Port > 65535 {
		return bad("port %d out of range", m.Port)
	}
	if len(m.Formats) == 0 {
		return bad("empty fmt list")
	}
	for _, f := range m.Formats {
		if err := checkWord("fmt", f); err != nil {
			return err
		}
	}
	if m.Address != "" {
		if err := checkWord("address", m.Address); err != nil {
			return err
		}
	}
	for _, l := range []struct {
		name string
		v    []string
	}{{keyPath, m.Path}, {keyAcceptTypes, m.AcceptTypes}, {keyAcceptWrapped, m.AcceptWrappedTypes}} {
		for _, v := range l.v {
			if err := checkWord("a="+l.name+" entry", v); err != nil {
				return err
			}
		}
	}
	if m.MaxSize < 0 {
		return bad("negative max-size %d", m.MaxSize)
	}
	switch m.Setup {
	case "", SetupActive, SetupPassive, SetupActpass, SetupHoldconn:
	default:
		return bad("a=setup:%s: want active, passive, actpass or holdconn", m.Setup)
	}
	switch m.Direction {
	case "", DirectionBoth, DirectionActive, DirectionPassive:
	default:
		return bad("a=direction:%s: want both, active or passive", m.Direction)
	}
	switch m.Mode {
	case "", ModeSendRecv, ModeSendOnly, ModeRecvOnly, ModeInactive:
	default:
		return bad("mode %q: want sendrecv, sendonly, recvonly or inactive", m.Mode)
	}
	if m.Fingerprint != "" {
		if strings.ContainsAny(m.Fingerprint, "\r\n\x00") || len(splitList(m.Fingerprint)) != 2 {
			return bad("a=fingerprint:%q: want a hash function and a fingerprint", m.Fingerprint)
		}
	}
	if m.URI != "" {
		if err := checkWord("a=uri", m.URI); err != nil {
			return err
		}
	}
	for _, a := range m.Attributes {
		if err := checkAttribute(a); err != nil {
			return err
		}
		if k := typedKey(a.Key, a.Value); k != "" && (k != keyFingerprint || m.Fingerprint == "") {
			return bad("a=%s belongs in its field, not in Attributes", a.Key)
		}
	}

	switch {
	case IsMSRP(m.Proto):
		// RFC 4975 §8.1: the format list MUST be "*".
		if len(m.Formats) != 1 || m.Formats[0] != "*" {
			return bad("%s fmt list is %q, must be \"*\" (RFC 4975 §8.1)", m.Proto, strings.Join(m.Formats, " "))
		}
		if m.Port == 0 {
			return nil
		}
		// RFC 4975 §8.2: a=path with MSRP URIs carrying explicit ports.
		if len(m.Path) == 0 {
			return bad("%s media without a=path (RFC 4975 §8.2)", m.Proto)
		}
		for _, u := range m.Path {
			if err := CheckPathURI(u); err != nil {
				return err
			}
		}
		// RFC 4975 §8.6: accept-types is mandatory.
		if len(m.AcceptTypes) == 0 {
			return bad("%s media without a=accept-types (RFC 4975 §8.6)", m.Proto)
		}
	case IsCPIM(m.Proto):
		if m.Port == 0 {
			return nil
		}
		// Seed draft §4.1: text/plain MUST be listed explicitly.
		plain := false
		for _, f := range m.Formats {
			if strings.EqualFold(baseType(f), "text/plain") {
				plain = true
			}
		}
		if !plain {
			return bad("%s fmt list %q lacks text/plain (seed draft §4.1)", m.Proto, strings.Join(m.Formats, " "))
		}
		// Seed draft §4.2: each endpoint MUST include a=uri.
		if m.URI == "" {
			return bad("%s media without a=uri (seed draft §4.2)", m.Proto)
		}
	}
	if m.Port != 0 && m.Address == "" {
		return bad("no c= address for an accepted m=message line (RFC 4566 §5.7)")
	}
	return nil
}

// checkWord accepts a non-empty value without whitespace or control
// characters: one SDP field or list entry.
func checkWord(what, v string) error {
	if v == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("%w: %s %q contains space or control character", ErrInvalid, what, v)
		}
	}
	return nil
}

// checkAttribute accepts an a= line that reads back as the same key and
// value: pion splits at the first ':' after position 0.
func checkAttribute(a Attribute) error {
	if a.Key == "" || strings.ContainsAny(a.Key+a.Value, "\r\n\x00") {
		return fmt.Errorf("%w: attribute %q:%q is empty or contains CR, LF or NUL", ErrInvalid, a.Key, a.Value)
	}
	if i := strings.IndexByte(a.Key, ':'); i > 0 || (i == 0 && a.Value != "") {
		return fmt.Errorf("%w: attribute name %q contains ':'", ErrInvalid, a.Key)
	}
	return nil
}

// CheckPathURI checks the syntax of an a=path URI superficially (RFC 4975
// §6, §8.2, §9): scheme msrp or msrps, an authority with an explicit port,
// an optional session-id and a transport parameter. Package msrp parses
// URIs fully.
func CheckPathURI(u string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: a=path URI %q: %s (RFC 4975 §8.2)", ErrInvalid, u, why)
	}
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || !(strings.EqualFold(scheme, "msrp") || strings.EqualFold(scheme, "msrps")) {
		return bad("scheme is not msrp:// or msrps://")
	}
	end := strings.IndexAny(rest, "/;")
	if end < 0 {
		return bad("no ;transport parameter")
	}
	authority := rest[:end]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		authority = authority[at+1:]
	}
	var host, port string
	if strings.HasPrefix(authority, "[") {
		i := strings.IndexByte(authority, ']')
		if i < 0 {
			return bad("unterminated IPv6 literal")
		}
		host, port = authority[1:i], authority[i+1:]
		if !strings.HasPrefix(port, ":") {
			return bad("no explicit port")
		}
		port = port[1:]
	} else {
		var found bool
		host, port, found = strings.Cut(authority, ":")
		if !found {
			return bad("no explicit port")
		}
	}
	if host == "" {
		return bad("empty host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strings.Trim(port, "0123456789") != "" {
		return bad("port is not a number from 1 to 65535")
	}
	rest = rest[end:]
	if strings.HasPrefix(rest, "/") {
		i := strings.IndexByte(rest, ';')
		if i < 0 {
			return bad("no ;transport parameter")
		}
		if i == 1 {
			return bad("empty session-id")
		}
		rest = rest[i:]
	}
	transport, _, _ := strings.Cut(rest[1:], ";")
	if transport == "" {
		return bad("empty transport parameter")
	}
	return nil
}
