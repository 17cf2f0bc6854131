package cpim

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Setters. Each one renders only the lines it adds or changes, in the
// canonical form of RFC 3862 §3.6 (one SP after the colon, CRLF, escapes
// of §2.3.1); every other line keeps its bytes. New headers go after the
// existing ones. When a header's namespace has no usable prefix at that
// point, a setter first appends an NS declaration (§3.4): the conventional
// prefix ("imdn" for NSIMDN, "cpim" for NSCPIM after the default namespace
// was changed) if it is free, else ns1, ns2, …

// SetFrom sets the From header (§4.1), replacing any existing one.
func (m *Message) SetFrom(a Address) error {
	if err := a.validate(); err != nil {
		return err
	}
	return m.set(NSCPIM, "From", "", a.appendTo)
}

// AddTo adds a To header (§4.2).
func (m *Message) AddTo(a Address) error {
	if err := a.validate(); err != nil {
		return err
	}
	return m.add(NSCPIM, "To", "", a.appendTo)
}

// AddCC adds a courtesy-copy header, spelt cc as RFC 3862 §4.3 does.
func (m *Message) AddCC(a Address) error {
	if err := a.validate(); err != nil {
		return err
	}
	return m.add(NSCPIM, "cc", "", a.appendTo)
}

// SetDateTime sets the DateTime header (§4.4) to t in RFC 3339 form, with
// fractional seconds only when t has them, replacing any existing one.
func (m *Message) SetDateTime(t time.Time) {
	_ = m.set(NSCPIM, "DateTime", "", func(b []byte) []byte { return t.AppendFormat(b, time.RFC3339Nano) })
}

// AddSubject adds a Subject header (§4.5) with an optional language tag
// (§3.3; "" for none). Several Subjects, one per language, are allowed.
func (m *Message) AddSubject(lang, text string) error {
	params := ""
	if lang != "" {
		if !validLang(lang) {
			return fmt.Errorf("%w: language tag %q", ErrInvalid, lang)
		}
		params = ";lang=" + lang
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("%w: Subject is not UTF-8", ErrInvalid)
	}
	return m.add(NSCPIM, "Subject", params, func(b []byte) []byte { return appendValue(b, text) })
}

// AddNS appends a namespace declaration, NS: prefix <uri> (§4.6); prefix
// "" declares the default namespace for the headers after it. Set and Add
// declare prefixes on their own, so this is only needed to choose them.
func (m *Message) AddNS(prefix, uri string) error {
	if prefix != "" && !validName(prefix) {
		return fmt.Errorf("%w: namespace prefix %q", ErrInvalid, prefix)
	}
	if !validURI(uri) {
		return fmt.Errorf("%w: namespace URI %q", ErrInvalid, uri)
	}
	f := render("", "NS", "", func(v []byte) []byte {
		if prefix != "" {
			v = append(append(v, prefix...), ' ')
		}
		return append(append(append(v, '<'), uri...), '>')
	})
	f.ns, f.decl, f.declPrefix, f.declURI = NSCPIM, true, prefix, uri
	m.fields = append(m.fields, f)
	return nil
}

// AddRequire lists header name of namespace ns (or a feature token) in the
// Require header (§4.7), creating it or, if one exists, replacing it by a
// single Require header after the existing headers that lists its old
// names and the new one.
func (m *Message) AddRequire(ns, name string) error {
	if !validName(name) {
		return fmt.Errorf("%w: header name %q", ErrInvalid, name)
	}
	old, err := m.Require()
	if err != nil {
		return err
	}
	names := append(old, HeaderName{ns, name})
	pres := make([]string, len(names))
	for i, h := range names {
		if pres[i], err = m.prefixFor(h.NS); err != nil {
			return err
		}
	}
	m.Del(NSCPIM, "Require")
	return m.add(NSCPIM, "Require", "", func(v []byte) []byte {
		for i, h := range names {
			if i > 0 {
				v = append(v, ',', ' ')
			}
			if pres[i] != "" {
				v = append(append(v, pres[i]...), '.')
			}
			v = append(v, h.Name...)
		}
		return v
	})
}

// Set sets header name of namespace ns to value: the first such header
// keeps its place and prefix and gets the new value (and loses its
// parameters), later ones are removed; without one the header is added.
// The value is escaped as §2.3.1 requires (and leading or trailing spaces
// as \u0020, see §2.2). NS headers are managed with AddNS.
func (m *Message) Set(ns, name, value string) error {
	if err := checkValue(ns, name, value); err != nil {
		return err
	}
	return m.set(ns, name, "", func(b []byte) []byte { return appendValue(b, value) })
}

// Add appends a header named name in namespace ns with the given value,
// escaped as §2.3.1 requires.
func (m *Message) Add(ns, name, value string) error {
	if err := checkValue(ns, name, value); err != nil {
		return err
	}
	return m.add(ns, name, "", func(b []byte) []byte { return appendValue(b, value) })
}

// Del removes every header named name in namespace ns. NS headers are
// never removed (later headers depend on them).
func (m *Message) Del(ns, name string) {
	ns, name = canon(ns, name)
	if ns == NSCPIM && name == "NS" {
		return
	}
	out := m.fields[:0]
	for _, f := range m.fields {
		if !f.is(ns, name) {
			out = append(out, f)
		}
	}
	clear(m.fields[len(out):])
	m.fields = out
}

func checkValue(ns, name, value string) error {
	if !validName(name) {
		return fmt.Errorf("%w: header name %q", ErrInvalid, name)
	}
	if ns == NSCPIM && name == "NS" {
		return fmt.Errorf("%w: use AddNS for NS headers", ErrInvalid)
	}
	if !validURI(ns) {
		return fmt.Errorf("%w: namespace URI %q", ErrInvalid, ns)
	}
	if !utf8.ValidString(value) {
		return fmt.Errorf("%w: value of %s is not UTF-8", ErrInvalid, name)
	}
	return nil
}

func (m *Message) set(ns, name, params string, value func([]byte) []byte) error {
	ns, name = canon(ns, name)
	for i := range m.fields {
		f := &m.fields[i]
		if !f.is(ns, name) {
			continue
		}
		nf := render("", string(f.name()), params, value)
		nf.ns = f.ns
		*f = nf
		// Remove the later ones.
		out := m.fields[:i+1]
		for _, g := range m.fields[i+1:] {
			if !g.is(ns, name) {
				out = append(out, g)
			}
		}
		clear(m.fields[len(out):])
		m.fields = out
		return nil
	}
	return m.add(ns, name, params, value)
}

func (m *Message) add(ns, name, params string, value func([]byte) []byte) error {
	pre, err := m.prefixFor(ns)
	if err != nil {
		return err
	}
	f := render(pre, name, params, value)
	f.ns = ns
	m.fields = append(m.fields, f)
	return nil
}

// render builds a canonical header line, [prefix "."] name ":" params SP
// value CRLF, and its offsets; value appends the encoded value.
func render(prefix, name, params string, value func([]byte) []byte) field {
	line := make([]byte, 0, 64+len(prefix)+len(name)+len(params))
	if prefix != "" {
		line = append(append(line, prefix...), '.')
	}
	line = append(line, name...)
	line = append(line, ':')
	line = append(line, params...)
	line = append(line, ' ')
	line = value(line)
	n := len(line)
	line = append(line, crlf...)
	f, msg := lexField(line, n)
	if msg != "" { // the setters validate their arguments first
		panic("cpim: internal error rendering header: " + msg)
	}
	return f
}

// prefixFor returns the prefix for namespace ns at the end of the headers
// ("" for the default namespace), appending an NS declaration when needed.
func (m *Message) prefixFor(ns string) (string, error) {
	pre, ok := m.prefixAtEnd(ns)
	if !ok {
		pre = m.freePrefix(ns)
		if err := m.AddNS(pre, ns); err != nil {
			return "", err
		}
	}
	return pre, nil
}

// prefixAtEnd returns a prefix bound to ns at the end of the headers ("" if
// ns is the default namespace there).
func (m *Message) prefixAtEnd(ns string) (string, bool) {
	def, _ := m.resolveAt(len(m.fields), "")
	if def == ns {
		return "", true
	}
	for i := len(m.fields) - 1; i >= 0; i-- {
		f := &m.fields[i]
		if !f.decl || f.declPrefix == "" || f.declURI != ns {
			continue
		}
		if uri, _ := m.resolveAt(len(m.fields), f.declPrefix); uri == ns {
			return f.declPrefix, true
		}
	}
	return "", false
}

func (m *Message) freePrefix(ns string) string {
	used := func(p string) bool {
		for i := range m.fields {
			if f := &m.fields[i]; f.decl && f.declPrefix == p {
				return true
			}
		}
		return false
	}
	switch ns {
	case NSIMDN:
		if !used("imdn") {
			return "imdn"
		}
	case NSCPIM:
		if !used("cpim") {
			return "cpim"
		}
	}
	for n := 1; ; n++ {
		if p := "ns" + strconv.Itoa(n); !used(p) {
			return p
		}
	}
}

// validLang accepts an RFC 3066 Language-tag: 1*8ALPHA *("-" 1*8(ALPHA/DIGIT)).
func validLang(s string) bool {
	n := 0
	first := true
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '-' {
			if n == 0 || n > 8 {
				return false
			}
			n, first = 0, false
			continue
		}
		if !isAlpha(s[i]) && (first || !isDigit(s[i])) {
			return false
		}
		n++
	}
	return true
}

// SetContent replaces the encapsulated MIME object (§2.4) by one with the
// given Content-Type and body. Add more MIME headers with
// AddContentHeader.
func (m *Message) SetContent(contentType string, body []byte) error {
	if err := checkMIME("Content-Type", contentType); err != nil {
		return err
	}
	if contentType == "" {
		return fmt.Errorf("%w: empty Content-Type", ErrInvalid)
	}
	e := make([]byte, 0, len(contentType)+len(body)+18)
	e = append(e, "Content-Type: "...)
	e = append(e, contentType...)
	e = append(e, "\r\n\r\n"...)
	e = append(e, body...)
	m.entity = e
	m.mime = []mimeField{{nameStart: 0, nameEnd: len("Content-Type"), valEnd: len(e) - len(body) - 4}}
	m.bodyStart = len(e) - len(body)
	m.hasEntity = true
	if len(m.sep) == 0 {
		m.sep = crlf
	}
	return nil
}

// AddContentHeader adds a header to the encapsulated MIME object, after
// its other headers (e.g. Content-Disposition: notification for an IMDN,
// RFC 5438 §7.2.1.1). Call SetContent first.
func (m *Message) AddContentHeader(name, value string) error {
	if !m.hasEntity {
		return fmt.Errorf("%w: AddContentHeader before SetContent", ErrInvalid)
	}
	if err := checkMIME(name, value); err != nil {
		return err
	}
	e := m.entity
	// Insert after the line end of the last MIME header.
	ve := m.mime[len(m.mime)-1].valEnd
	ins := ve
	if ins < len(e) && e[ins] == '\r' {
		ins++
	}
	if ins < len(e) && e[ins] == '\n' {
		ins++
	}
	line := name + ": " + value + "\r\n"
	ne := make([]byte, 0, len(e)+len(line)+4)
	ne = append(ne, e[:ins]...)
	if ins == ve { // the input ended inside the last header line
		ne = append(ne, crlf...)
	}
	start := len(ne)
	ne = append(ne, line...)
	shift := len(ne) - ins
	if m.bodyStart <= ins { // no blank line: the input ended after the headers
		ne = append(ne, crlf...)
		shift = len(ne) - m.bodyStart
	}
	ne = append(ne, e[ins:]...)
	m.bodyStart += shift
	m.mime = append(m.mime, mimeField{nameStart: start, nameEnd: start + len(name), valEnd: start + len(line) - 2})
	m.entity = ne
	return nil
}

func checkMIME(name, value string) error {
	if name == "" {
		return fmt.Errorf("%w: empty MIME header name", ErrInvalid)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return fmt.Errorf("%w: MIME header name %q", ErrInvalid, name)
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '\r' || c == '\n' || c == 0 {
			return fmt.Errorf("%w: line break in MIME header %s", ErrInvalid, name)
		}
	}
	return nil
}
