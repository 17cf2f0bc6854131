package msrp

// This file holds the wire-level types shared by the codec (reader.go,
// writer.go) and the endpoint (conn.go, session.go). Field names are a
// contract between those files: add fields freely, rename none.

// Method names used in request start lines (RFC 4975 §7, RFC 4976 §5,
// RFC 7701 §6). Methods are case-sensitive uppercase tokens (§9).
const (
	MethodSEND     = "SEND"
	MethodREPORT   = "REPORT"
	MethodAUTH     = "AUTH"
	MethodNICKNAME = "NICKNAME"
)

// Flag is the continuation flag that ends the end-line of every MSRP
// request and response (RFC 4975 §7.1, §9).
type Flag byte

// End-line flags (RFC 4975 §7.1).
const (
	FlagEnd   Flag = '$' // the last chunk of the message
	FlagMore  Flag = '+' // more chunks of the same message follow
	FlagAbort Flag = '#' // the sender abandoned the message
)

// Unknown stands in a ByteRange for the "*" of RFC 4975 §9: an end or total
// that the sender did not know when it wrote the chunk.
const Unknown int64 = -1

// ByteRange is the value of a Byte-Range header (RFC 4975 §7.1.1, §9).
// Start and End are 1-based and inclusive; End and Total are Unknown for
// "*". An empty message is 1-0/0.
type ByteRange struct {
	Start, End, Total int64
}

// Status is the value of the Status header carried by REPORT requests
// (RFC 4975 §9): a namespace (000 means "read the code as an MSRP response
// code"), a three-digit code and an optional comment.
type Status struct {
	Namespace int
	Code      int
	Comment   string
}

// Header is one header line of a frame, in wire order. Names are kept as
// received; compare them with strings.EqualFold where the RFC is silent.
type Header struct {
	Name, Value string
}

// Frame is the head of one MSRP request or response: its start line and
// headers (RFC 4975 §7, §9). The body, if any, is streamed separately by
// Reader and Writer so that a chunk of any size needs no more memory than
// the caller chooses to give it.
//
// Headers with a typed field below are parsed into it and do not appear in
// Headers; every other header (MIME headers of the body such as Content-ID,
// relay headers such as Use-Path, Expires, WWW-Authenticate, extension
// headers) is kept in Headers in wire order.
type Frame struct {
	// TID is the transaction identifier of the start line and end-line.
	TID string
	// Method is the request method; empty for a response. On a partial
	// frame that a Reader returned with a *StatusError it is the start
	// line's token as read, which may be no valid method (see Reader).
	Method string
	// StatusCode is the response code; zero for a request.
	StatusCode int
	// Comment is the response's reason phrase, if any.
	Comment string

	ToPath   []URI
	FromPath []URI

	MessageID string
	// ByteRange is meaningful only when HasByteRange is true.
	ByteRange    ByteRange
	HasByteRange bool
	// SuccessReport and FailureReport hold the header values as sent
	// ("yes", "no", "partial"), or "" when absent. Use the methods on Frame
	// for the RFC 4975 §7.1.2 defaults.
	SuccessReport string
	FailureReport string
	// Status is meaningful only when HasStatus is true (REPORT requests).
	Status    Status
	HasStatus bool

	// Headers holds every other header, in wire order.
	Headers []Header

	// ContentType is the body's Content-Type. It is empty if and only if
	// the frame has no body: RFC 4975 §7.1 makes Content-Type mandatory for
	// a body, and a bodiless request (no blank line) is distinct from one
	// whose body is empty.
	ContentType string

	// Flag is the end-line flag. On frames read by a Reader it is valid
	// once the body has been read to io.EOF (at once for bodiless frames).
	Flag Flag
}

// IsRequest reports whether f is a request (it has a method).
func (f *Frame) IsRequest() bool { return f.Method != "" }

// HasBody reports whether f carries a body (possibly empty).
func (f *Frame) HasBody() bool { return f.ContentType != "" }

// Header returns the value of the first header in f.Headers whose name
// matches name case-insensitively, and whether there was one.
func (f *Frame) Header(name string) (string, bool) {
	for _, h := range f.Headers {
		if equalFoldASCII(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// WantsSuccessReport reports whether the sender asked for success REPORTs;
// an absent Success-Report header means "no" (RFC 4975 §7.1.2).
func (f *Frame) WantsSuccessReport() bool { return f.SuccessReport == "yes" }

// FailureReportMode returns the Failure-Report value with the RFC 4975
// §7.1.2 default applied: "yes" when the header is absent.
func (f *Frame) FailureReportMode() string {
	if f.FailureReport == "" {
		return "yes"
	}
	return f.FailureReport
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// Clone returns a copy of f that shares no slice storage with it: use it
// to keep a frame read with Reader.ReadFrameInto beyond the next read.
func (f *Frame) Clone() *Frame {
	g := *f
	g.ToPath = cloneURIs(f.ToPath)
	g.FromPath = cloneURIs(f.FromPath)
	if f.Headers != nil {
		g.Headers = append([]Header(nil), f.Headers...)
	}
	return &g
}

func cloneURIs(p []URI) []URI {
	if p == nil {
		return nil
	}
	q := make([]URI, len(p))
	for i, u := range p {
		q[i] = u
		if u.Params != nil {
			q[i].Params = append([]string(nil), u.Params...)
		}
	}
	return q
}
