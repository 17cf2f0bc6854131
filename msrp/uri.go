package msrp

// URI is an MSRP or MSRPS URI (RFC 4975 §6, §9):
//
//	msrp://[userinfo@]host[:port][/session-id];transport*(;param)
type URI struct {
	// Secure is true for the msrps scheme (TLS on this hop, §6).
	Secure bool
	// User is the userinfo, if any; it is ignored by Equal (§6.1).
	User string
	// Host is a domain name, an IPv4 address or an IPv6 address without
	// brackets.
	Host string
	// Port is the explicit port, or 0 when the URI has none.
	Port int
	// SessionID is the path part without the leading '/', or "".
	SessionID string
	// Transport is the transport parameter, e.g. "tcp" or "ws".
	Transport string
	// Params holds further ";name[=value]" parameters, in order, without
	// the leading ';'.
	Params []string
}
