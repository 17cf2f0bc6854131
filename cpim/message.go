package cpim

import (
	"bytes"
	"fmt"
	"io"
	"iter"
	"strings"
)

// Namespace URIs and header names used with Get, Values, Set and Add.
const (
	// NSCPIM is the namespace of the headers RFC 3862 §4 defines, and the
	// default namespace of unprefixed header names (§7.2; the URI printed
	// in §6 is a typo).
	NSCPIM = "urn:ietf:params:cpim-headers:"
	// NSIMDN is the namespace of the RFC 5438 (IMDN) headers; senders
	// conventionally bind it to the prefix "imdn" (§5), receivers accept
	// any prefix.
	NSIMDN = "urn:ietf:params:imdn"

	// IMDNMessageID is the imdn.Message-ID header (RFC 5438 §6.3): a
	// unique message identifier, at least 64 random bits recommended.
	IMDNMessageID = "Message-ID"
	// IMDNDispositionNotification is the imdn.Disposition-Notification
	// header (RFC 5438 §6.2): a comma-separated list of positive-delivery,
	// negative-delivery, processing and display.
	IMDNDispositionNotification = "Disposition-Notification"
	// IMDNRecordRoute is the imdn.IMDN-Record-Route header (RFC 5438 §6.5).
	IMDNRecordRoute = "IMDN-Record-Route"
	// IMDNRoute is the imdn.IMDN-Route header (RFC 5438 §6.6).
	IMDNRoute = "IMDN-Route"
	// IMDNOriginalTo is the imdn.Original-To header (RFC 5438 §6.4).
	IMDNOriginalTo = "Original-To"
)

// Limits bounds the work and memory of Parse and Read; they are enforced
// while parsing, before anything is allocated for an offending line. A zero
// field takes its default. RFC 3862 §2.2 asks for no line-length limit; the
// defaults are far above anything seen in real traffic.
type Limits struct {
	// MaxHeaderLines caps the CPIM header lines plus the header lines
	// (continuations included) of the encapsulated MIME object.
	// Default 256.
	MaxHeaderLines int
	// MaxLineLength caps one header line in octets, line end excluded.
	// Default 16384.
	MaxLineLength int
	// MaxSize caps the whole object read by Read. Parse ignores it (its
	// input is already in memory). Default 16 MiB.
	MaxSize int64
}

// Default limits.
const (
	DefaultMaxHeaderLines       = 256
	DefaultMaxLineLength        = 16 << 10
	DefaultMaxSize        int64 = 16 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderLines <= 0 {
		l.MaxHeaderLines = DefaultMaxHeaderLines
	}
	if l.MaxLineLength <= 0 {
		l.MaxLineLength = DefaultMaxLineLength
	}
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	return l
}

// Message is a message/cpim object (RFC 3862 §2): the CPIM message headers
// ("h:" in the RFC's examples), a blank separator line, and the
// encapsulated MIME object ("e:"), with its own headers and body. The
// outer MIME headers ("m:", Content-Type: message/cpim) belong to the
// carrying protocol (the MSRP or SIP Content-Type) and are not part of it.
//
// A parsed Message keeps every input line as it was received and in order,
// so Append reproduces the input byte for byte (§2.2: processors MUST
// preserve every octet and the order; signatures depend on it). Setters
// re-render only the lines they change or add.
//
// The zero Message is empty and ready for use, like New. A Message is not
// safe for concurrent use while it is being modified; concurrent reads are
// fine.
type Message struct {
	fields    []field
	sep       []byte // separator line(s) between CPIM headers and entity
	entity    []byte // encapsulated MIME object: headers, blank line, body
	mime      []mimeField
	bodyStart int // offset of the body in entity
	hasEntity bool
}

// field is one CPIM header line. Offsets index line.
type field struct {
	line     []byte // the whole line, line end included
	nameEnd  int    // index of the ':' that ends the name
	dot      int    // index of the prefix separator '.' in the name, or -1
	paramEnd int    // parameters are line[nameEnd+1:paramEnd]
	valStart int
	valEnd   int    // trailing spaces and the line end excluded
	ns       string // namespace URI the name resolved to where it stands
	// An NS header (§4.6) records its declaration.
	decl       bool
	declPrefix string // "" declares the default namespace
	declURI    string
}

func (f *field) name() []byte { return f.line[:f.nameEnd] }
func (f *field) local() []byte {
	return f.line[f.dot+1 : f.nameEnd] // dot is -1 without a prefix
}
func (f *field) prefix() []byte {
	if f.dot < 0 {
		return nil
	}
	return f.line[:f.dot]
}
func (f *field) params() []byte   { return f.line[f.nameEnd+1 : f.paramEnd] }
func (f *field) rawValue() []byte { return f.line[f.valStart:f.valEnd] }

// is reports whether f is the header name in namespace ns. RFC 3862 §4.3
// spells courtesy copy "cc"; any case of it is accepted in NSCPIM.
func (f *field) is(ns, name string) bool {
	if f.ns != ns {
		return false
	}
	l := f.local()
	if string(l) == name {
		return true
	}
	return ns == NSCPIM && name == "cc" && len(l) == 2 && l[0]|0x20 == 'c' && l[1]|0x20 == 'c'
}

// mimeField is one header of the encapsulated MIME object, continuation
// lines included. Offsets index Message.entity.
type mimeField struct {
	nameStart, nameEnd int
	valEnd             int // line end of the last line excluded
}

var crlf = []byte("\r\n")

// New returns an empty Message to be filled with the setters.
func New() *Message { return &Message{fields: make([]field, 0, 8)} }

// Parse parses a message/cpim object with the default Limits. The Message
// refers to b without copying it: the caller must not modify b afterwards
// (copy it first when the buffer is reused).
func Parse(b []byte) (*Message, error) { return ParseWithLimits(b, Limits{}) }

// Read reads a whole message/cpim object from r, up to EOF and at most
// lim.MaxSize octets, and parses it.
func Read(r io.Reader, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	b, err := io.ReadAll(io.LimitReader(r, lim.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("cpim: read: %w", err)
	}
	if int64(len(b)) > lim.MaxSize {
		return nil, fmt.Errorf("%w: more than %d octets", ErrTooLarge, lim.MaxSize)
	}
	return ParseWithLimits(b, lim)
}

// Append appends the message in wire form to b and returns the result. For
// a parsed, unmodified Message that is exactly the parsed input.
func (m *Message) Append(b []byte) []byte {
	return append(m.AppendHeader(b), m.entity...)
}

// AppendHeader appends the CPIM headers and the separator line, everything
// before Entity, to b. A caller streaming a large body writes
// AppendHeader, then the MIME headers, a blank line and the body, instead
// of copying the body into the Message with SetContent.
func (m *Message) AppendHeader(b []byte) []byte {
	for i := range m.fields {
		b = append(b, m.fields[i].line...)
	}
	if m.sep == nil && !m.hasEntity {
		return append(b, crlf...)
	}
	return append(b, m.sep...)
}

// Bytes returns the message in wire form; see Append.
func (m *Message) Bytes() []byte { return m.Append(make([]byte, 0, m.Len())) }

// Len returns the length of the wire form in octets (the size an MSRP
// Byte-Range counts, RFC 4975 §13).
func (m *Message) Len() int {
	n := len(m.sep) + len(m.entity)
	if m.sep == nil && !m.hasEntity {
		n = 2
	}
	for i := range m.fields {
		n += len(m.fields[i].line)
	}
	return n
}

// WriteTo writes the wire form to w.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(m.Bytes())
	return int64(n), err
}

// Clone returns a copy of m that can be modified without affecting m. The
// copies share the (immutable) line bytes and body.
func (m *Message) Clone() *Message {
	c := *m
	c.fields = append([]field(nil), m.fields...)
	c.mime = append([]mimeField(nil), m.mime...)
	return &c
}

// Entity returns the encapsulated MIME object as on the wire: its headers,
// the blank line and the body (RFC 3862 §2.4). It aliases the Message.
func (m *Message) Entity() []byte { return m.entity }

// Body returns the body of the encapsulated MIME object. It aliases the
// Message and the parsed input.
func (m *Message) Body() []byte { return m.entity[m.bodyStart:] }

// ContentType returns the Content-Type of the encapsulated MIME object
// (RFC 3862 §2.4), unfolded and trimmed; "" if there is none.
func (m *Message) ContentType() string {
	v, _ := m.ContentHeader("Content-Type")
	return v
}

// ContentHeader returns the first header of the encapsulated MIME object
// with the given name, compared case-insensitively as MIME requires,
// unfolded and trimmed.
func (m *Message) ContentHeader(name string) (string, bool) {
	i := m.mimeIndex(name)
	if i < 0 {
		return "", false
	}
	f := m.mime[i]
	return unfold(m.entity[f.nameEnd+1 : f.valEnd]), true
}

func (m *Message) mimeIndex(name string) int {
	for i, f := range m.mime {
		if strings.EqualFold(string(m.entity[f.nameStart:f.nameEnd]), name) {
			return i
		}
	}
	return -1
}

// ContentHeaders returns the headers of the encapsulated MIME object in
// order, as name (as written) and unfolded value.
func (m *Message) ContentHeaders() iter.Seq2[string, string] {
	return func(yield func(name, value string) bool) {
		for _, f := range m.mime {
			if !yield(string(m.entity[f.nameStart:f.nameEnd]), unfold(m.entity[f.nameEnd+1:f.valEnd])) {
				return
			}
		}
	}
}

// unfold removes the line breaks of folded MIME header lines (RFC 5322
// §2.2.3) and trims surrounding whitespace.
func unfold(v []byte) string {
	v = bytes.Trim(v, " \t")
	if bytes.IndexByte(v, '\n') < 0 {
		return string(v)
	}
	out := make([]byte, 0, len(v))
	for _, c := range v {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return string(bytes.Trim(out, " \t"))
}
