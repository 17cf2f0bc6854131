package sipserver

import (
	"github.com/emiago/sipgo/sip"
)

// validateRequest checks what RFC 3261 requires of every request before
// the proxy or registrar looks at it (§8.1.1 mandatory header fields,
// §8.2 UAS behaviour, §16.3 step 1 "reasonable syntax"): exactly one
// Call-ID, From, To and CSeq, a From tag (§8.1.1.3), a CSeq method equal
// to the request method (§8.1.1.5), a top Via, at most one Max-Forwards,
// and no control characters other than HTAB in any header value
// (§25.1: TEXT-UTF8 and the token rules admit none). A missing
// Max-Forwards is accepted: §16.3 step 3 lets a proxy pass such a request
// and branchFor adds one.
//
// It returns "" for a valid request, else the reason for the 400
// (FINDINGS.md F7: such requests used to be stored and forwarded).
func validateRequest(req *sip.Request) string {
	var callIDs, froms, tos, cseqs, vias, maxFwds int
	for _, h := range req.Headers() {
		// The parsed headers are checked field by field: serialising
		// them would cost allocations on every request.
		bad := false
		switch v := h.(type) {
		case *sip.CallIDHeader:
			callIDs++
			bad = badText(string(*v))
		case *sip.FromHeader:
			froms++
			bad = badText(v.DisplayName) || badURI(&v.Address) || badParams(v.Params)
		case *sip.ToHeader:
			tos++
			bad = badText(v.DisplayName) || badURI(&v.Address) || badParams(v.Params)
		case *sip.CSeqHeader:
			cseqs++
			bad = badText(string(v.MethodName))
		case *sip.ViaHeader:
			vias++
			bad = badText(v.ProtocolName) || badText(v.ProtocolVersion) || badText(v.Transport) || badText(v.Host) || badParams(v.Params)
		case *sip.MaxForwardsHeader:
			maxFwds++ // a number
		case *sip.ContentLengthHeader:
			// a number
		case *sip.ContactHeader:
			bad = badText(v.DisplayName) || badURI(&v.Address) || badParams(v.Params)
		case *sip.RouteHeader:
			bad = badURI(&v.Address)
		case *sip.RecordRouteHeader:
			bad = badURI(&v.Address)
		case *sip.ContentTypeHeader:
			bad = badText(string(*v))
		default:
			bad = badText(h.Value()) // generic headers: the raw value
		}
		if bad || badText(h.Name()) {
			return "control character in " + headerLabel(h.Name())
		}
	}
	switch {
	case callIDs == 0:
		return "no Call-ID"
	case callIDs > 1:
		return "more than one Call-ID"
	case froms != 1:
		return "not exactly one From"
	case tos != 1:
		return "not exactly one To"
	case cseqs == 0:
		return "no CSeq"
	case cseqs > 1:
		return "more than one CSeq"
	case vias == 0:
		return "no Via"
	case maxFwds > 1:
		return "more than one Max-Forwards"
	}
	if cs := req.CSeq(); cs == nil || cs.MethodName != req.Method {
		return "CSeq method does not match the request method"
	}
	if tag, ok := req.From().Params.Get("tag"); !ok || tag == "" {
		return "From has no tag"
	}
	if badURI(&req.Recipient) {
		return "control character in the Request-URI"
	}
	return ""
}

// headerLabel names a header for a reason phrase: its name when that is a
// short token, else "a header" (the name is the sender's).
func headerLabel(name string) string {
	if len(name) == 0 || len(name) > 32 {
		return "a header"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "a header"
		}
	}
	return "the " + name + " header"
}

func badURI(u *sip.Uri) bool {
	return badText(u.Scheme) || badText(u.Raw()) || badText(u.User) || badText(u.Password) || badText(u.Host) ||
		badParams(u.UriParams) || badParams(u.Headers)
}

func badParams(ps sip.HeaderParams) bool {
	for _, p := range ps {
		if badText(p.K) || badText(p.V) {
			return true
		}
	}
	return false
}

// badText reports whether v holds a control character other than HTAB
// (or DEL).
func badText(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}
