package cpim

import (
	"fmt"
	"iter"
	"strings"
	"time"
)

// HeaderName identifies a CPIM header: the URI of its namespace and its name
// within that namespace (RFC 3862 §3.4). The prefix a sender chose is not
// part of it: `x.Message-ID` after `NS: x <urn:ietf:params:imdn>` and
// `imdn.Message-ID` after `NS: imdn <urn:ietf:params:imdn>` are both
// HeaderName{NSIMDN, "Message-ID"}.
type HeaderName struct {
	NS   string
	Name string
}

// String returns the name in Clark notation, {ns}name.
func (h HeaderName) String() string { return "{" + h.NS + "}" + h.Name }

// Header is one CPIM header as Headers reports it.
type Header struct {
	// Prefix is the namespace prefix as written, "" for none.
	Prefix string
	// NS and Name identify the header (see HeaderName). Name is as written
	// (so "CC" stays "CC").
	NS, Name string
	// Params holds the raw parameters between the colon and the value,
	// e.g. ";lang=fr" (§3.3); Lang is the decoded lang parameter.
	Params, Lang string
	// Value is the value with escapes decoded (§2.3).
	Value string
	// Raw is the whole line as on the wire, line end included.
	Raw []byte
}

// Headers returns the CPIM headers in order.
func (m *Message) Headers() iter.Seq[Header] {
	return func(yield func(Header) bool) {
		for i := range m.fields {
			f := &m.fields[i]
			h := Header{
				Prefix: string(f.prefix()),
				NS:     f.ns,
				Name:   string(f.local()),
				Params: string(f.params()),
				Value:  unescape(f.rawValue()),
				Raw:    f.line,
			}
			h.Lang, _ = param(f.params(), "lang")
			if !yield(h) {
				return
			}
		}
	}
}

// Get returns the decoded value of the first header named name in
// namespace ns (§3.4: matched by namespace URI, whatever prefix the
// sender used). Names are case-sensitive (§2.2), except that any case of
// "cc" matches in NSCPIM.
func (m *Message) Get(ns, name string) (string, bool) {
	ns, name = canon(ns, name)
	for i := range m.fields {
		if m.fields[i].is(ns, name) {
			return unescape(m.fields[i].rawValue()), true
		}
	}
	return "", false
}

// Values returns the decoded values of every header named name in
// namespace ns, in order.
func (m *Message) Values(ns, name string) []string {
	ns, name = canon(ns, name)
	var vs []string
	for i := range m.fields {
		if m.fields[i].is(ns, name) {
			vs = append(vs, unescape(m.fields[i].rawValue()))
		}
	}
	return vs
}

func canon(ns, name string) (string, string) {
	if ns == NSCPIM && strings.EqualFold(name, "cc") {
		name = "cc"
	}
	return ns, name
}

// single returns the raw value of a header that may occur only once.
func (m *Message) single(name string) ([]byte, error) {
	var v []byte
	n := 0
	for i := range m.fields {
		if m.fields[i].is(NSCPIM, name) {
			if n++; n > 1 {
				return nil, fmt.Errorf("cpim: %s: %w", name, ErrRepeated)
			}
			v = m.fields[i].rawValue()
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("cpim: %s: %w", name, ErrNoHeader)
	}
	return v, nil
}

// From returns the sender (§4.1). It fails with ErrNoHeader, ErrRepeated
// or ErrBadAddress.
func (m *Message) From() (Address, error) {
	v, err := m.single("From")
	if err != nil {
		return Address{}, err
	}
	a, err := ParseAddress(string(v))
	if err != nil {
		return Address{}, fmt.Errorf("cpim: From: %w", err)
	}
	return a, nil
}

// To returns the recipients (§4.2), none if there is no To header.
func (m *Message) To() ([]Address, error) { return m.addresses("To") }

// CC returns the courtesy-copy recipients (§4.3), from headers spelt cc
// (as the RFC does) or in any other case (CC, as MSRP's prose does).
func (m *Message) CC() ([]Address, error) { return m.addresses("cc") }

func (m *Message) addresses(name string) ([]Address, error) {
	var as []Address
	for i := range m.fields {
		if m.fields[i].is(NSCPIM, name) {
			a, err := ParseAddress(string(m.fields[i].rawValue()))
			if err != nil {
				return nil, fmt.Errorf("cpim: %s: %w", name, err)
			}
			as = append(as, a)
		}
	}
	return as, nil
}

// DateTime returns the DateTime header (§4.4), an RFC 3339 date-time. It
// fails with ErrNoHeader, ErrRepeated or ErrBadDateTime.
func (m *Message) DateTime() (time.Time, error) {
	v, err := m.single("DateTime")
	if err != nil {
		return time.Time{}, err
	}
	s := unescape(v)
	// RFC 3339 §5.6 allows lowercase t and z.
	t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("cpim: DateTime %q: %w: %v", s, ErrBadDateTime, err)
	}
	return t, nil
}

// Subject is one Subject header (§4.5): its language (§3.3; "" when no
// lang parameter is given, meaning i-default) and decoded text.
type Subject struct {
	Lang, Text string
}

// Subjects returns every Subject header in order.
func (m *Message) Subjects() []Subject {
	var ss []Subject
	for i := range m.fields {
		f := &m.fields[i]
		if f.is(NSCPIM, "Subject") {
			lang, _ := param(f.params(), "lang")
			ss = append(ss, Subject{Lang: lang, Text: unescape(f.rawValue())})
		}
	}
	return ss
}

// Subject returns the text of the Subject in language lang, compared
// case-insensitively (RFC 3066 tags). lang "" or "i-default" selects a
// Subject without a lang parameter or with lang=i-default (§3.3).
func (m *Message) Subject(lang string) (string, bool) {
	def := lang == "" || strings.EqualFold(lang, "i-default")
	for _, s := range m.Subjects() {
		if strings.EqualFold(s.Lang, lang) || def && (s.Lang == "" || strings.EqualFold(s.Lang, "i-default")) {
			return s.Text, true
		}
	}
	return "", false
}

// Require returns the header names and feature tokens listed by the
// Require headers (§3.5, §4.7), with prefixes resolved where each Require
// header stands. A receiver that does not implement one of them cannot
// process the message correctly.
func (m *Message) Require() ([]HeaderName, error) {
	var hs []HeaderName
	for i := range m.fields {
		f := &m.fields[i]
		if !f.is(NSCPIM, "Require") {
			continue
		}
		for item := range strings.SplitSeq(unescape(f.rawValue()), ",") {
			item = strings.Trim(item, " ")
			pre, name, ok := strings.Cut(item, ".")
			if !ok {
				pre, name = "", item
			}
			if !validName(name) || ok && !validName(pre) {
				return nil, fmt.Errorf("cpim: Require: %w: bad header name %q", ErrSyntax, item)
			}
			ns, found := m.resolveAt(i, pre)
			if !found {
				return nil, fmt.Errorf("cpim: Require: %w: %q", ErrUnknownPrefix, pre)
			}
			hs = append(hs, HeaderName{NS: ns, Name: name})
		}
	}
	return hs, nil
}

// resolveAt resolves prefix ("" for the default namespace) in the scope of
// the header at index i: the NS declarations before it (§3.4).
func (m *Message) resolveAt(i int, prefix string) (string, bool) {
	for j := i - 1; j >= 0; j-- {
		if f := &m.fields[j]; f.decl && f.declPrefix == prefix {
			return f.declURI, true
		}
	}
	if prefix == "" {
		return NSCPIM, true
	}
	return "", false
}

// Namespaces returns the NS declarations in order, as prefix → URI pairs
// ("" is a default-namespace declaration).
func (m *Message) Namespaces() iter.Seq2[string, string] {
	return func(yield func(prefix, uri string) bool) {
		for i := range m.fields {
			if f := &m.fields[i]; f.decl && !yield(f.declPrefix, f.declURI) {
				return
			}
		}
	}
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

// param returns the decoded value of parameter name in raw parameters
// (";a=b;lang=fr"); parameter names are case-sensitive (§3.6).
func param(params []byte, name string) (string, bool) {
	for len(params) > 0 && params[0] == ';' {
		params = params[1:]
		eq := 0
		for eq < len(params) && params[eq] != '=' {
			eq++
		}
		if eq == len(params) {
			return "", false
		}
		k := params[:eq]
		params = params[eq+1:]
		var v []byte
		if len(params) > 0 && params[0] == '"' {
			i := 1
			for i < len(params) && params[i] != '"' {
				if params[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(params) {
				return "", false
			}
			v, params = params[1:i], params[i+1:]
			if string(k) == name {
				return unescape(v), true
			}
			continue
		}
		i := 0
		for i < len(params) && params[i] != ';' {
			i++
		}
		v, params = params[:i], params[i:]
		if string(k) == name {
			return string(v), true
		}
	}
	return "", false
}
