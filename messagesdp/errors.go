package messagesdp

import "errors"

// Errors returned by this package. Every error wraps one of them; test with
// errors.Is.
var (
	// ErrSyntax: the SDP text is not a well-formed session description
	// (RFC 4566 §5), or exceeds MaxDescriptionSize. A SIP UA answers 400.
	ErrSyntax = errors.New("messagesdp: malformed SDP")
	// ErrInvalid: an m=message media description breaks a rule of RFC 4975
	// §8 or of the seed draft §4 (missing a=path, fmt not "*", …), or a
	// typed attribute has a malformed value.
	ErrInvalid = errors.New("messagesdp: invalid m=message media")
	// ErrNotAcceptable: nothing in an offer can be accepted (unsupported
	// proto, no common type, impossible connection role). A SIP UA answers
	// 488 (RFC 4975 §8.6).
	ErrNotAcceptable = errors.New("messagesdp: media not acceptable")
)
