package cpim

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Parse wraps the syntax ones in a *ParseError that names
// the offending line; accessors and setters wrap the others with %w. Test
// with errors.Is.
//
// Every error from Parse or Read means the object is not acceptable
// message/cpim: a receiver answers 400 (MSRP and SIP alike). Whether the
// encapsulated Content-Type is one the receiver supports (415) is for the
// caller to decide from ContentType.
var (
	// ErrSyntax: a header line does not follow RFC 3862 §3.6 (no colon, a
	// bad header name, a control character, a malformed parameter, leading
	// whitespace).
	ErrSyntax = errors.New("cpim: syntax error")
	// ErrHeaderTooLong: a header line is longer than Limits.MaxLineLength.
	ErrHeaderTooLong = errors.New("cpim: header line too long")
	// ErrTooManyHeaders: more header lines than Limits.MaxHeaderLines.
	ErrTooManyHeaders = errors.New("cpim: too many header lines")
	// ErrTooLarge: Read saw more than Limits.MaxSize octets.
	ErrTooLarge = errors.New("cpim: message too large")
	// ErrUnknownPrefix: a header name uses a namespace prefix that no
	// earlier NS header declared (RFC 3862 §3.4).
	ErrUnknownPrefix = errors.New("cpim: undeclared namespace prefix")
	// ErrBadNS: an NS header value is not [prefix] <absolute-URI> (§4.6).
	ErrBadNS = errors.New("cpim: malformed NS header")
	// ErrTruncated: the input ended inside the CPIM headers, before the
	// encapsulated MIME object.
	ErrTruncated = errors.New("cpim: no encapsulated MIME object")
	// ErrNoContentType: the encapsulated MIME object has no Content-Type
	// header (§2.4).
	ErrNoContentType = errors.New("cpim: encapsulated object has no Content-Type")

	// ErrNoHeader: an accessor found no header of that name.
	ErrNoHeader = errors.New("cpim: header not present")
	// ErrRepeated: a header that may occur once (From, DateTime) occurs
	// more than once.
	ErrRepeated = errors.New("cpim: header repeated")
	// ErrBadAddress: a From, To or cc value is not [Formal-name] <URI>
	// (§4.1–4.3).
	ErrBadAddress = errors.New("cpim: malformed address")
	// ErrBadDateTime: a DateTime value is not an RFC 3339 date-time (§4.4).
	ErrBadDateTime = errors.New("cpim: malformed DateTime")
	// ErrInvalid: a setter was given a value that cannot be written as
	// valid message/cpim (a bad header name, prefix, URI or language tag,
	// invalid UTF-8, a line break in a MIME header).
	ErrInvalid = errors.New("cpim: invalid argument")
)

// ParseError reports where Parse or Read rejected its input. Line is
// 1-based and counts the lines of the message/cpim object (the first CPIM
// header is line 1). Err wraps one of the sentinel errors.
type ParseError struct {
	Line int
	Err  error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("cpim: line %d: %s", e.Line, strings.TrimPrefix(e.Err.Error(), "cpim: "))
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }
