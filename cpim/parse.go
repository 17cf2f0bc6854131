package cpim

import (
	"bytes"
	"fmt"
)

// ParseWithLimits parses a message/cpim object (RFC 3862 §2: CPIM headers,
// blank line, encapsulated MIME object), enforcing lim while it scans. The
// Message refers to b without copying it. Errors are *ParseError.
func ParseWithLimits(b []byte, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	// One allocation holds the Message and room for a typical number of
	// headers.
	a := new(struct {
		m      Message
		fields [8]field
		mime   [4]mimeField
		decls  [4]decl
	})
	m := &a.m
	m.hasEntity = true
	m.mime = a.mime[:0]
	p := parser{b: b, lim: lim, defNS: NSCPIM, fields: a.fields[:0]}
	p.decls = a.decls[:0]
	if err := p.parse(m); err != nil {
		return nil, err
	}
	return m, nil
}

type decl struct{ prefix, uri string }

type parser struct {
	b      []byte
	lim    Limits
	line   int // number of the line being parsed, 1-based
	nhdr   int // header lines seen
	defNS  string
	decls  []decl // NS declarations with a prefix, in order
	fields []field
}

func (p *parser) errf(err error, format string, args ...any) error {
	if format != "" {
		err = fmt.Errorf("%w: "+format, append([]any{err}, args...)...)
	}
	return &ParseError{Line: p.line, Err: err}
}

// nextLine finds the line starting at pos. end excludes the line end (CRLF,
// or a bare LF: a tolerated deviation from §2.2); next is the start of the
// following line. lf is false when the input ends without a line end. No
// more than MaxLineLength+2 octets are scanned.
func (p *parser) nextLine(pos int) (end, next int, lf bool, err error) {
	max := p.lim.MaxLineLength
	w := p.b[pos:]
	if len(w) > max+2 {
		w = w[:max+2]
	}
	i := bytes.IndexByte(w, '\n')
	if i < 0 {
		if len(p.b)-pos > max {
			return 0, 0, false, p.errf(ErrHeaderTooLong, "more than %d octets", max)
		}
		return len(p.b), len(p.b), false, nil
	}
	end = pos + i
	if i > 0 && p.b[end-1] == '\r' {
		end--
	}
	if end-pos > max {
		return 0, 0, false, p.errf(ErrHeaderTooLong, "more than %d octets", max)
	}
	return end, pos + i + 1, true, nil
}

func (p *parser) countHeader() error {
	p.nhdr++
	if p.nhdr > p.lim.MaxHeaderLines {
		return p.errf(ErrTooManyHeaders, "more than %d", p.lim.MaxHeaderLines)
	}
	return nil
}

func (p *parser) parse(m *Message) error {
	pos := 0
	// CPIM message headers (§2.2, §3).
	entStart := -1
	for {
		p.line++
		if pos >= len(p.b) {
			return p.errf(ErrTruncated, "input ends in the CPIM headers")
		}
		end, next, lf, err := p.nextLine(pos)
		if err != nil {
			return err
		}
		if !lf {
			return p.errf(ErrTruncated, "input ends in the CPIM headers")
		}
		if end == pos { // the blank separator line
			sepStart := pos
			pos = next
			// Deviation: extra blank lines before the MIME headers
			// (boghe#76). An entity cannot start with a blank line (it
			// needs a Content-Type), so this accepts only what would
			// otherwise be rejected.
			for pos < len(p.b) {
				e, n, lf, err := p.nextLine(pos)
				if err != nil || !lf || e != pos {
					break
				}
				p.line++
				pos = n
			}
			m.sep = p.b[sepStart:pos]
			entStart = pos
			p.line++
			break
		}
		// Deviation: no blank line between the CPIM headers and the MIME
		// headers (IMDN draft examples, some RCS clients). A line whose
		// name starts with "Content-" (any case) begins the entity.
		if len(p.fields) > 0 && isContentLine(p.b[pos:end]) {
			m.sep = p.b[pos:pos]
			entStart = pos
			break
		}
		if err := p.countHeader(); err != nil {
			return err
		}
		f, err := p.lexField(p.b[pos:next], end-pos)
		if err != nil {
			return err
		}
		if err := p.resolve(&f); err != nil {
			return err
		}
		p.fields = append(p.fields, f)
		pos = next
	}
	m.fields = p.fields
	m.entity = p.b[entStart:]
	return p.parseEntity(m, entStart)
}

func isContentLine(l []byte) bool {
	const c = "content-"
	return len(l) > len(c) && bytes.EqualFold(l[:len(c)], []byte(c)) && bytes.IndexByte(l, ':') > len(c)
}

// lexField splits one CPIM header line (§3.6: Header-name ":" *(";"
// Parameter) SP Header-value CRLF). n is the length without the line end.
func (p *parser) lexField(line []byte, n int) (field, error) {
	f, msg := lexField(line, n)
	if msg != "" {
		return f, p.errf(ErrSyntax, "%s", msg)
	}
	return f, nil
}

// lexField is the parser-independent part of lexField, shared with the
// setters; it returns a non-empty message on error.
func lexField(line []byte, n int) (f field, msg string) {
	c := line[:n]
	f.line = line
	f.dot = -1
	// §2.2: no whitespace at the start of a line (so no folding), and no
	// control characters anywhere (they must be escaped, §2.3).
	for _, x := range c {
		if x < 0x20 || x == 0x7f {
			return f, fmt.Sprintf("control character %#02x", x)
		}
	}
	if c[0] == ' ' {
		return f, "leading whitespace (CPIM headers are never folded)"
	}
	// §3.1, §3.6: Header-name = [ Name-prefix "." ] Name.
	i := 0
	for i < len(c) && c[i] != ':' {
		switch {
		case isNameChar(c[i]):
		case c[i] == '.' && f.dot < 0 && i > 0:
			f.dot = i
		default:
			if c[i] == ' ' && bytes.IndexByte(c[i:], ':') >= 0 {
				return f, fmt.Sprintf("space in header name %q", c[:i])
			}
			return f, fmt.Sprintf("bad header name %q", c[:min(i+1, 64)])
		}
		i++
	}
	if i == len(c) {
		return f, fmt.Sprintf("no colon in %q", c[:min(len(c), 64)])
	}
	if i == 0 || f.dot == i-1 {
		return f, fmt.Sprintf("bad header name %q", c[:i])
	}
	f.nameEnd = i
	i++
	// §3.3, §3.6: *( ";" Parameter ), Parameter = Param-name "=" Param-value.
	for i < len(c) && c[i] == ';' {
		i++
		s := i
		for i < len(c) && isNameChar(c[i]) {
			i++
		}
		if i == s || i == len(c) || c[i] != '=' {
			return f, fmt.Sprintf("bad parameter in %q", c[:min(len(c), 64)])
		}
		i++
		s = i
		if i < len(c) && c[i] == '"' { // String
			i++
			for i < len(c) && c[i] != '"' {
				if c[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(c) {
				return f, "unterminated quoted parameter value"
			}
			i++
		} else { // Token / Number
			for i < len(c) && isTokenChar(c[i]) {
				i++
			}
		}
		if i == s {
			return f, fmt.Sprintf("empty parameter value in %q", c[:min(len(c), 64)])
		}
	}
	f.paramEnd = i
	// §2.2 wants exactly one SP here. Deviation: none or several are
	// accepted. Trailing spaces (§2.2: none allowed) are left out of the
	// value as well; the raw line keeps them.
	for i < len(c) && c[i] == ' ' {
		i++
	}
	f.valStart = i
	e := len(c)
	for e > i && c[e-1] == ' ' {
		e--
	}
	f.valEnd = e
	return f, ""
}

// resolve finds the namespace of f's name where it stands (§3.4: a
// declaration precedes every use of its prefix and applies to the headers
// after it) and records NS declarations (§4.6).
func (p *parser) resolve(f *field) error {
	switch {
	case f.dot < 0 && string(f.local()) == "NS":
		// An unprefixed NS is always the declaration of §4.6, even after
		// NS: <uri> changed the default namespace: otherwise no prefix
		// could be declared from then on unless one had been bound to
		// urn:ietf:params:cpim-headers: before.
		f.ns = NSCPIM
	case f.dot < 0:
		f.ns = p.defNS
	default:
		pre := f.prefix()
		found := false
		for i := len(p.decls) - 1; i >= 0; i-- {
			if p.decls[i].prefix == string(pre) {
				f.ns, found = p.decls[i].uri, true
				break
			}
		}
		if !found {
			return p.errf(ErrUnknownPrefix, "%q", pre)
		}
	}
	if f.ns != NSCPIM || string(f.local()) != "NS" {
		return nil
	}
	pre, uri, ok := parseNS(f.rawValue())
	if !ok {
		return p.errf(ErrBadNS, "%q", f.rawValue())
	}
	f.decl, f.declPrefix, f.declURI = true, pre, uri
	if pre == "" {
		p.defNS = uri
	} else {
		p.decls = append(p.decls, decl{pre, uri})
	}
	return nil
}

// parseNS parses an NS value: [ Name-prefix ] "<" URI ">" (§4.6). The
// space between prefix and '<' may be missing or repeated.
func parseNS(v []byte) (prefix, uri string, ok bool) {
	i := 0
	for i < len(v) && isNameChar(v[i]) {
		i++
	}
	pre := v[:i]
	for i < len(v) && v[i] == ' ' {
		i++
	}
	if len(v)-i < 3 || v[i] != '<' || v[len(v)-1] != '>' {
		return "", "", false
	}
	u := intern(v[i+1 : len(v)-1])
	if !validURI(u) {
		return "", "", false
	}
	return intern(pre), u, true
}

// parseEntity parses the headers of the encapsulated MIME object (RFC 3862
// §2.4, RFC 2045): case-insensitive names, folding allowed, a blank line,
// then the body, which is opaque.
func (p *parser) parseEntity(m *Message, entStart int) error {
	entLine := p.line
	pos := entStart
	for {
		if pos >= len(p.b) { // headers end with the input: empty body
			m.bodyStart = len(m.entity)
			break
		}
		end, next, _, err := p.nextLine(pos)
		if err != nil {
			return err
		}
		if end == pos {
			m.bodyStart = next - entStart
			break
		}
		if err := p.countHeader(); err != nil {
			return err
		}
		c := p.b[pos:end]
		if c[0] == ' ' || c[0] == '\t' { // folded continuation (RFC 5322 §2.2.3)
			if len(m.mime) == 0 {
				return p.errf(ErrSyntax, "continuation line before the first MIME header")
			}
			m.mime[len(m.mime)-1].valEnd = end - entStart
		} else {
			colon := bytes.IndexByte(c, ':')
			if colon <= 0 {
				return p.errf(ErrSyntax, "no colon in MIME header %q", c[:min(len(c), 64)])
			}
			for _, x := range c[:colon] { // RFC 5322 §3.6.8 ftext
				if x <= ' ' || x >= 0x7f {
					return p.errf(ErrSyntax, "bad MIME header name %q", c[:colon])
				}
			}
			m.mime = append(m.mime, mimeField{
				nameStart: pos - entStart,
				nameEnd:   pos - entStart + colon,
				valEnd:    end - entStart,
			})
		}
		p.line++
		pos = next
	}
	if m.mimeIndex("Content-Type") < 0 {
		p.line = entLine
		return p.errf(ErrNoContentType, "")
	}
	return nil
}

// intern returns the usual namespace URIs and prefixes without allocating.
func intern(b []byte) string {
	for _, s := range [...]string{NSIMDN, "imdn", NSCPIM, "cpim", ""} {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}
