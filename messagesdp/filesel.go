package messagesdp

import (
	"fmt"
	"strconv"
	"strings"
)

// Attribute returns the value of the first attribute of m.Attributes named
// key (case-insensitive) and whether there is one. Typed attributes are in
// their fields, not here.
func (m *Media) Attribute(key string) (string, bool) {
	for _, a := range m.Attributes {
		if strings.EqualFold(a.Key, key) {
			return a.Value, true
		}
	}
	return "", false
}

// SetAttribute sets the value of the first attribute named key (case-
// insensitive), or appends one. A value of "" writes a flag attribute
// ("a=key").
func (m *Media) SetAttribute(key, value string) {
	for i, a := range m.Attributes {
		if strings.EqualFold(a.Key, key) {
			m.Attributes[i].Value = value
			return
		}
	}
	m.Attributes = append(m.Attributes, Attribute{Key: key, Value: value})
}

// CEMA reports whether m carries a=msrp-cema (RFC 6714 §4). This package
// applies none of the CEMA connection rules.
func (m *Media) CEMA() bool {
	_, ok := m.Attribute("msrp-cema")
	return ok
}

// FileSelector is the value of a=file-selector (RFC 5547 §6), which
// describes the file of a file-transfer m-line.
type FileSelector struct {
	// Name is the file name, percent-decoded; "" when absent. It comes
	// from the peer: sanitise it before any file-system use (RFC 5547 §6).
	Name string
	// Size is the file size in octets, -1 when absent.
	Size int64
	// Type is the MIME type with its parameters as written
	// (type/subtype;attr="value"), "" when absent.
	Type string
	// Hashes lists the hash selectors in order (RFC 5547 §6 allows
	// several).
	Hashes []FileHash
}

// FileHash is one hash selector: an algorithm from the IANA Hash Function
// Textual Names registry ("sha-1") and colon-separated hex octets.
type FileHash struct {
	Algorithm, Value string
}

// FileSelector parses m's a=file-selector. It returns nil and no error when
// there is none.
func (m *Media) FileSelector() (*FileSelector, error) {
	v, ok := m.Attribute("file-selector")
	if !ok {
		return nil, nil
	}
	return ParseFileSelector(v)
}

// ParseFileSelector parses the value of a=file-selector (RFC 5547 §6):
// selectors name:"…", size:N, type:t/s;p="v" and hash:alg:HH:HH…,
// separated by spaces. An empty value (a capability query, RFC 5547 §8.5)
// gives a selector with nothing set. Errors wrap ErrInvalid.
func ParseFileSelector(v string) (*FileSelector, error) {
	f := &FileSelector{Size: -1}
	bad := func(why string) (*FileSelector, error) {
		return nil, fmt.Errorf("%w: a=file-selector:%s: %s (RFC 5547 §6)", ErrInvalid, v, why)
	}
	seen := make(map[string]bool)
	for rest := v; ; {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			break
		}
		name, val, ok := strings.Cut(rest, ":")
		if !ok {
			return bad("selector without ':'")
		}
		name = strings.ToLower(name)
		if name != "hash" && seen[name] {
			return bad("more than one " + name + " selector")
		}
		seen[name] = true
		var end int
		switch name {
		case "name":
			if !strings.HasPrefix(val, `"`) {
				return bad("name is not quoted")
			}
			q := strings.IndexByte(val[1:], '"')
			if q < 1 {
				return bad("name is empty or unterminated")
			}
			decoded, err := percentDecode(val[1 : 1+q])
			if err != nil {
				return bad(err.Error())
			}
			f.Name = decoded
			end = q + 2
		case "size":
			end = strings.IndexByte(val, ' ')
			if end < 0 {
				end = len(val)
			}
			s := val[:end]
			n, err := strconv.ParseInt(s, 10, 64)
			if s == "" || strings.Trim(s, "0123456789") != "" || err != nil {
				return bad("size is not a number of octets")
			}
			f.Size = n
		case "type":
			n, err := scanFileType(val)
			if err != nil {
				return bad(err.Error())
			}
			f.Type, end = val[:n], n
		case "hash":
			end = strings.IndexByte(val, ' ')
			if end < 0 {
				end = len(val)
			}
			alg, hex, ok := strings.Cut(val[:end], ":")
			if !ok || checkWord("hash algorithm", alg) != nil || !isHexOctets(hex) {
				return bad("hash is not algorithm:HH:HH…")
			}
			f.Hashes = append(f.Hashes, FileHash{Algorithm: alg, Value: hex})
		default:
			return bad("unknown selector " + name)
		}
		rest = val[end:]
		if rest != "" && rest[0] != ' ' {
			return bad("selectors must be separated by spaces")
		}
	}
	return f, nil
}

// scanFileType returns the length of a filetype-selector value:
// type "/" subtype *(";" attribute "=" DQUOTE value-string DQUOTE).
func scanFileType(v string) (int, error) {
	i := 0
	for i < len(v) && v[i] != ' ' && v[i] != ';' {
		i++
	}
	t, s, ok := strings.Cut(v[:i], "/")
	if !ok || t == "" || s == "" || strings.ContainsAny(s, "/\"") {
		return 0, fmt.Errorf("type %q is not type/subtype", v[:i])
	}
	for i < len(v) && v[i] == ';' {
		eq := strings.IndexByte(v[i:], '=')
		if eq < 2 || strings.ContainsAny(v[i+1:i+eq], " \";") {
			return 0, fmt.Errorf("type parameter without attribute=\"value\"")
		}
		i += eq + 1
		if i >= len(v) || v[i] != '"' {
			return 0, fmt.Errorf("type parameter value is not quoted")
		}
		q := strings.IndexByte(v[i+1:], '"')
		if q < 1 {
			return 0, fmt.Errorf("type parameter value is empty or unterminated")
		}
		if _, err := percentDecode(v[i+1 : i+1+q]); err != nil {
			return 0, err
		}
		i += q + 2
	}
	return i, nil
}

// isHexOctets accepts hash-value = 2HEXDIG *(":" 2HEXDIG).
func isHexOctets(s string) bool {
	if s == "" {
		return false
	}
	for p := range strings.SplitSeq(s, ":") {
		if len(p) != 2 || !isHex(p[0]) || !isHex(p[1]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// percentDecode decodes filename-string: bytes other than NUL, CR, LF and
// '"', with '%' only as "%" HEXDIG HEXDIG.
func percentDecode(s string) (string, error) {
	if strings.ContainsAny(s, "\x00\r\n") {
		return "", fmt.Errorf("NUL, CR or LF in a quoted value")
	}
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", fmt.Errorf("bad percent-encoding in %q", s)
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	return b.String(), nil
}

// percentEncodeName encodes a file name for the name selector: NUL, CR,
// LF, '"' and '%' as the grammar demands, and '/' and '\' so that the name
// carries no directory structure (RFC 5547 §6).
func percentEncodeName(s string) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0, '\r', '\n', '"', '%', '/', '\\':
			b.WriteByte('%')
			b.WriteByte(hexdigits[c>>4])
			b.WriteByte(hexdigits[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// String returns f as the value of a=file-selector, selectors in the order
// name, type, size, hash (the order of RFC 5547's example).
func (f *FileSelector) String() string {
	var parts []string
	if f.Name != "" {
		parts = append(parts, `name:"`+percentEncodeName(f.Name)+`"`)
	}
	if f.Type != "" {
		parts = append(parts, "type:"+f.Type)
	}
	if f.Size >= 0 {
		parts = append(parts, "size:"+strconv.FormatInt(f.Size, 10))
	}
	for _, h := range f.Hashes {
		parts = append(parts, "hash:"+h.Algorithm+":"+h.Value)
	}
	return strings.Join(parts, " ")
}
