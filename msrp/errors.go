package msrp

import (
	"errors"
	"strconv"
)

// Errors returned by the codec fall in two classes, mirroring the split
// between an MSRP transaction response and a dead connection:
//
//   - *StatusError: the frame was delimited (its end-line was found), so the
//     stream is still in sync. The caller may answer the request with
//     Code (unless it is a response, a REPORT, or Failure-Report is "no")
//     and keep reading.
//   - anything else (*ProtocolError, io.EOF, io.ErrUnexpectedEOF, an error
//     of the underlying reader): the framing is lost or the peer is gone;
//     close the connection.
//
// Both wrap one of the sentinels below, so errors.Is(err, ErrBadByteRange)
// works whichever class carries it.

// Sentinel errors. Each names one condition; they are wrapped by
// *StatusError or *ProtocolError and are never returned bare by Reader.
var (
	// ErrLineTooLong: a start line or header line exceeds
	// Limits.MaxLineLength. Fatal before the tid is known, 413 after.
	ErrLineTooLong = errors.New("msrp: line too long")
	// ErrTooManyHeaders: more header lines than Limits.MaxHeaders (413).
	ErrTooManyHeaders = errors.New("msrp: too many header lines")
	// ErrHeaderTooLarge: the start line and headers together exceed
	// Limits.MaxHeaderBytes (413).
	ErrHeaderTooLarge = errors.New("msrp: header section too large")
	// ErrChunkTooLarge: a SEND body exceeds Limits.MaxChunkSize (413).
	ErrChunkTooLarge = errors.New("msrp: chunk body too large")
	// ErrBodyTooLarge: a non-SEND body exceeds Limits.MaxNonSendBody,
	// 10240 octets by default (RFC 4975 §7.1) (413).
	ErrBodyTooLarge = errors.New("msrp: non-SEND body too large")
	// ErrBadStartLine: the first line is not "MSRP SP tid SP method" or
	// "MSRP SP tid SP code [SP comment]" (RFC 4975 §9). Fatal when no tid
	// could be read, 400 otherwise.
	ErrBadStartLine = errors.New("msrp: malformed start line")
	// ErrBadTID: the transaction identifier is not an ident of 4 to 32
	// characters (RFC 4975 §9). Fatal: the end-line cannot be found.
	ErrBadTID = errors.New("msrp: malformed transaction identifier")
	// ErrBadEndLine: a line beginning with seven hyphens is not this
	// frame's end-line, or an end-line is malformed. Fatal.
	ErrBadEndLine = errors.New("msrp: malformed or foreign end-line")
	// ErrBadLineEnd: a header line is not terminated by CRLF (400).
	ErrBadLineEnd = errors.New("msrp: header line not terminated by CRLF")
	// ErrBadHeader: a header line has no colon, a bad name, or control
	// characters in its value (400).
	ErrBadHeader = errors.New("msrp: malformed header line")
	// ErrMissingPath: To-Path or From-Path is absent, or they are not the
	// first two headers in that order (RFC 4975 §7.1, §9) (400).
	ErrMissingPath = errors.New("msrp: To-Path and From-Path must be the first two headers")
	// ErrDuplicateHeader: a header that may appear once appears twice (400).
	ErrDuplicateHeader = errors.New("msrp: duplicate header")
	// ErrBadURI: a URI in To-Path or From-Path is malformed (RFC 4975 §6,
	// §9) (400).
	ErrBadURI = errors.New("msrp: malformed MSRP URI")
	// ErrBadMessageID: the Message-ID value is not an ident (400).
	ErrBadMessageID = errors.New("msrp: malformed Message-ID")
	// ErrBadByteRange: the Byte-Range value is malformed or inconsistent
	// (RFC 4975 §7.1.1, §9, §14.5) (400).
	ErrBadByteRange = errors.New("msrp: malformed Byte-Range")
	// ErrBadStatus: the Status value is malformed (RFC 4975 §9) (400).
	ErrBadStatus = errors.New("msrp: malformed Status")
	// ErrBadReportValue: Success-Report or Failure-Report has a value
	// outside yes/no(/partial) (RFC 4975 §9) (400).
	ErrBadReportValue = errors.New("msrp: malformed Success-Report or Failure-Report")
	// ErrBadContentType: the Content-Type value is not type/subtype (400).
	ErrBadContentType = errors.New("msrp: malformed Content-Type")
	// ErrContentTypeNotLast: a header follows Content-Type, or a frame with
	// Content-Type has no blank line (RFC 4975 §7.1) (400).
	ErrContentTypeNotLast = errors.New("msrp: Content-Type must be the last header before the body")
	// ErrMissingContentType: a blank line (a body) without Content-Type
	// (RFC 4975 §7.1) (400).
	ErrMissingContentType = errors.New("msrp: body without Content-Type")
	// ErrEndLineInBody: a body to be sent contains the frame's end-line
	// (RFC 4975 §7.1); choose another tid or interrupt the chunk there.
	ErrEndLineInBody = errors.New("msrp: body contains the end-line")
	// ErrInvalidFrame: a frame handed to Writer violates RFC 4975 §9.
	ErrInvalidFrame = errors.New("msrp: invalid frame")
)

// StatusError reports a frame that was read to its end-line but is
// malformed or over a limit. The stream is still in sync: answer the
// request with Code (RFC 4975 §7.2, subject to Failure-Report, and never
// for responses or REPORTs) and keep reading.
type StatusError struct {
	// Code is the MSRP response code to answer with: 400 (malformed) or
	// 413 (over a limit).
	Code int
	// Comment is a short reason phrase suitable for the response line.
	Comment string
	// Err is the sentinel describing the condition, if any.
	Err error
}

func (e *StatusError) Error() string {
	s := "msrp: " + strconv.Itoa(e.Code)
	if e.Comment != "" {
		s += " " + e.Comment
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the sentinel.
func (e *StatusError) Unwrap() error { return e.Err }

// ProtocolError reports input after which the framing of the stream is
// lost (no tid, a foreign end-line, a line too long before the tid). The
// connection must be closed.
type ProtocolError struct {
	// Offset is the number of bytes consumed from the stream when the
	// error was detected.
	Offset int64
	// Detail is a short human-readable description, possibly empty.
	Detail string
	// Err is the sentinel describing the condition.
	Err error
}

func (e *ProtocolError) Error() string {
	s := "msrp: protocol error at offset " + strconv.FormatInt(e.Offset, 10)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Unwrap returns the sentinel.
func (e *ProtocolError) Unwrap() error { return e.Err }

func badRequest(err error, comment string) *StatusError {
	return &StatusError{Code: 400, Comment: comment, Err: err}
}

func tooLarge(err error) *StatusError {
	return &StatusError{Code: 413, Comment: "Request Entity Too Large", Err: err}
}
