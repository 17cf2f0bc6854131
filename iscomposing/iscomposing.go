package iscomposing

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ContentType is the media type of an isComposing status message (§8.1).
const ContentType = "application/im-iscomposing+xml"

// Namespace is the XML namespace of the isComposing elements (§6, §8.2).
const Namespace = "urn:ietf:params:xml:ns:im-iscomposing"

// DefaultRefresh is how long a receiver keeps a composer active when the
// last "active" message had no <refresh> element (§3.2, §3.3).
const DefaultRefresh = 120 * time.Second

// MaxSize is the largest document Parse and Read accept. A status message
// is a few hundred octets; anything near this is abuse.
const MaxSize = 64 << 10

// Errors returned by Parse and Read, wrapped with detail; test with
// errors.Is. Each one means the body is not a usable isComposing document
// (a receiver answers 400, or ignores it: it is only a hint).
var (
	ErrSyntax         = errors.New("iscomposing: malformed XML")
	ErrNotIsComposing = errors.New("iscomposing: root element is not isComposing")
	ErrNoState        = errors.New("iscomposing: no <state> element")
	ErrBadValue       = errors.New("iscomposing: bad element value")
	ErrTooLarge       = errors.New("iscomposing: document too large")
)

// State is the composer's state (§3.1).
type State int

const (
	// Idle: not composing. Every state token other than "active" reads as
	// Idle (§3.4).
	Idle State = iota
	// Active: composing a content message.
	Active
)

// String returns the state token: "idle" or "active".
func (s State) String() string {
	if s == Active {
		return "active"
	}
	return "idle"
}

// Status is an isComposing status message (§3.4, §6).
type Status struct {
	State State
	// LastActive is when the user last added or edited content; zero if
	// absent.
	LastActive time.Time
	// ContentType hints at what is being composed: a media type ("audio")
	// or type/subtype ("text/html"); "" if absent.
	ContentType string
	// Refresh is the interval after which the composer resends an active
	// status, in whole seconds; 0 if absent (the receiver then assumes
	// DefaultRefresh).
	Refresh time.Duration
	// StateToken is the <state> token as received ("" when built); State
	// reads any unknown token as Idle.
	StateToken string
}

// Parse decodes an isComposing document. Elements from other namespaces
// (the schema's xs:any) and unknown elements are ignored; a root element
// without a namespace is accepted as a tolerated deviation.
func Parse(b []byte) (Status, error) {
	if len(b) > MaxSize {
		return Status{}, fmt.Errorf("%w: %d octets", ErrTooLarge, len(b))
	}
	return decode(bytes.NewReader(b))
}

// Read reads an isComposing document from r, at most MaxSize octets, and
// decodes it.
func Read(r io.Reader) (Status, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return Status{}, fmt.Errorf("iscomposing: read: %w", err)
	}
	return Parse(b)
}

func decode(r io.Reader) (Status, error) {
	d := xml.NewDecoder(r)
	var s Status
	depth := 0
	field := -1 // index in names of the element being read, at depth 2
	var texts [4][]byte
	var seen [4]bool
	names := [4]string{"state", "lastactive", "contenttype", "refresh"}
	rootSeen := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Status{}, fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1:
				if rootSeen {
					return Status{}, fmt.Errorf("%w: second root element", ErrSyntax)
				}
				rootSeen = true
				if t.Name.Local != "isComposing" || t.Name.Space != Namespace && t.Name.Space != "" {
					return Status{}, fmt.Errorf("%w: {%s}%s", ErrNotIsComposing, t.Name.Space, t.Name.Local)
				}
			case depth == 2 && (t.Name.Space == Namespace || t.Name.Space == ""):
				for i, n := range names {
					if t.Name.Local == n {
						if seen[i] {
							return Status{}, fmt.Errorf("%w: <%s> repeated", ErrBadValue, n)
						}
						seen[i] = true
						field = i
					}
				}
			}
		case xml.EndElement:
			if depth == 2 {
				field = -1
			}
			depth--
		case xml.CharData:
			if depth == 2 && field >= 0 {
				texts[field] = append(texts[field], t...)
			}
		}
	}
	if !rootSeen {
		return Status{}, fmt.Errorf("%w: no root element", ErrSyntax)
	}
	if !seen[0] {
		return Status{}, ErrNoState
	}
	s.StateToken = trimmed(texts[0])
	if s.StateToken == "active" {
		s.State = Active
	}
	if seen[1] {
		v := trimmed(texts[1])
		t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(v)) // xs:dateTime, RFC 3339 form
		if err != nil {
			return Status{}, fmt.Errorf("%w: lastactive %q", ErrBadValue, v)
		}
		s.LastActive = t
	}
	if seen[2] {
		s.ContentType = trimmed(texts[2])
	}
	if seen[3] {
		v := trimmed(texts[3])
		n, err := strconv.ParseUint(v, 10, 32) // xs:positiveInteger, seconds
		if err != nil || n == 0 {
			return Status{}, fmt.Errorf("%w: refresh %q", ErrBadValue, v)
		}
		s.Refresh = time.Duration(n) * time.Second
	}
	return s, nil
}

// Append appends s as an isComposing document (§5, §6) to b. Refresh is
// written in whole seconds, rounded up; LastActive in RFC 3339 form.
func (s Status) Append(b []byte) []byte {
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<isComposing xmlns="`+Namespace+`"><state>`...)
	b = append(b, s.State.String()...)
	b = append(b, "</state>"...)
	if !s.LastActive.IsZero() {
		b = append(b, "<lastactive>"...)
		b = s.LastActive.AppendFormat(b, time.RFC3339Nano)
		b = append(b, "</lastactive>"...)
	}
	if s.ContentType != "" {
		b = append(b, "<contenttype>"...)
		b = appendXMLText(b, s.ContentType)
		b = append(b, "</contenttype>"...)
	}
	if s.Refresh > 0 {
		sec := int64(math.Ceil(s.Refresh.Seconds()))
		b = append(b, "<refresh>"...)
		b = strconv.AppendInt(b, sec, 10)
		b = append(b, "</refresh>"...)
	}
	return append(b, "</isComposing>\n"...)
}

// Marshal returns s as an isComposing document.
func (s Status) Marshal() []byte { return s.Append(nil) }

func trimmed(b []byte) string { return string(bytes.TrimSpace(b)) }

// appendXMLText appends s as XML character data: markup characters and
// line ends as references, characters XML 1.0 does not allow (§2.2 of XML)
// and invalid UTF-8 as U+FFFD.
func appendXMLText(b []byte, s string) []byte {
	for _, r := range s { // invalid UTF-8 yields utf8.RuneError, U+FFFD
		switch {
		case r == '&':
			b = append(b, "&amp;"...)
		case r == '<':
			b = append(b, "&lt;"...)
		case r == '>':
			b = append(b, "&gt;"...)
		case r == '\t':
			b = append(b, "&#x9;"...)
		case r == '\n':
			b = append(b, "&#xA;"...)
		case r == '\r':
			b = append(b, "&#xD;"...)
		case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			b = utf8.AppendRune(b, utf8.RuneError)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}
