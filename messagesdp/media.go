package messagesdp

// Media is one m=message media description with the attributes that MSRP
// (RFC 4975 §8) and the seed CPIM transport (draft-campbell-simple-cpimmsg-
// sessions-00 §4) define. It is transport-neutral: Path holds URIs as
// strings so this package depends on no transport package.
//
// Field names are a contract with the transports and the SIP user agent:
// add fields freely, rename none.
type Media struct {
	// Proto is the m-line protocol: ProtoMSRP, ProtoMSRPS, ProtoCPIMTCP or
	// ProtoCPIMTLS (other values are kept as received).
	Proto string
	// Port is the m-line port. Zero rejects the stream (RFC 3264 §6); an
	// active endpoint uses 9 (RFC 6135 §4).
	Port int
	// Address is the connection address of the c-line that applies to this
	// media description (media-level, else session-level), e.g. "127.0.0.1".
	Address string
	// Formats is the m-line format list: ["*"] for MSRP, MIME types for the
	// seed transport.
	Formats []string

	// Path holds the a=path URIs in order (RFC 4975 §8.2), leftmost first.
	Path []string
	// AcceptTypes and AcceptWrappedTypes hold a=accept-types and
	// a=accept-wrapped-types (RFC 4975 §8.6).
	AcceptTypes        []string
	AcceptWrappedTypes []string
	// MaxSize is a=max-size in octets, 0 when absent (RFC 4975 §8.6).
	MaxSize int64
	// Setup is a=setup (RFC 4145 §4, RFC 6135): "active", "passive",
	// "actpass", "holdconn", or "" when absent.
	Setup string
	// Direction is the seed draft's a=direction (both, active, passive),
	// or "" when absent.
	Direction string
	// URI is the seed draft's a=uri, or "" when absent.
	URI string
	// Fingerprint is a=fingerprint (RFC 4572), e.g. "sha-256 AB:CD:…", or "".
	Fingerprint string
	// Mode is the direction attribute: "sendrecv", "sendonly", "recvonly",
	// "inactive", or "" when absent (RFC 4975 §8.9).
	Mode string

	// Attributes holds every other a= line of the media description, in
	// order, so that a parsed description re-serialises without loss.
	// Typed attributes (path, accept-types, …) never appear here, except
	// a second and later a=fingerprint (RFC 8122 allows several).
	Attributes []Attribute

	// parsed is set by ParseMedia: the original lines, so that fields left
	// unchanged re-serialise byte for byte and in their original order.
	parsed *parsedMedia
}

// Attribute is one a= line: "a=Key:Value", or "a=Key" when Value is "".
type Attribute struct {
	Key, Value string
}

// Protocols of the m=message lines Parley speaks.
const (
	ProtoMSRP    = "TCP/MSRP"     // RFC 4975 §8.1
	ProtoMSRPS   = "TCP/TLS/MSRP" // RFC 4975 §8.1
	ProtoCPIMTCP = "cpim/tcp"     // draft-campbell-simple-cpimmsg-sessions-00 §4.1
	ProtoCPIMTLS = "cpim/tls"
)
