package cpim

import (
	"bytes"
	"unicode/utf8"
)

// unescape decodes the escape sequences of RFC 3862 §2.3 in a header value:
// \\ \" \' \b \t \n \r and \uXXXX (UCS-2, four hex digits; a valid UTF-16
// surrogate pair becomes one character, a lone surrogate U+FFFD). §2.3.1:
// any other backslash sequence stands for the character after the
// backslash, and an isolated backslash at the end of the value is ignored.
func unescape(v []byte) string {
	i := bytes.IndexByte(v, '\\')
	if i < 0 {
		return string(v)
	}
	out := make([]byte, 0, len(v))
	out = append(out, v[:i]...)
	for i < len(v) {
		c := v[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 == len(v) { // isolated trailing backslash: ignored
			break
		}
		switch n := v[i+1]; n {
		case 'b':
			out = append(out, '\b')
			i += 2
		case 't':
			out = append(out, '\t')
			i += 2
		case 'n':
			out = append(out, '\n')
			i += 2
		case 'r':
			out = append(out, '\r')
			i += 2
		case 'u':
			r, ok := hex4(v[i+2:])
			if !ok { // not \uXXXX: the character after the backslash
				out = append(out, 'u')
				i += 2
				break
			}
			i += 6
			if r >= 0xD800 && r <= 0xDBFF && i+1 < len(v) && v[i] == '\\' && v[i+1] == 'u' {
				if lo, ok := hex4(v[i+2:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			out = utf8.AppendRune(out, r) // lone surrogates become U+FFFD
		default: // \\ \" \' and unknown escapes: the next character
			_, size := utf8.DecodeRune(v[i+1:])
			out = append(out, v[i+1:i+1+size]...)
			i += 1 + size
		}
	}
	return string(out)
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends s with the escapes RFC 3862 §2.3.1 requires of a
// generator: backslash, backspace, tab, linefeed and carriage return by
// their special sequences, any other control character (U+0000–U+001F,
// U+007F) as \u00XX, and quote (when non-zero) as \" inside a string
// delimited by that quote. Every other character is copied unescaped.
func appendEscaped(b []byte, s string, quote byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case quote != 0 && c == quote:
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendValue appends a header value escaped for §2.3.1. Leading and
// trailing spaces are written as \u0020: §2.2 forbids whitespace at the end
// of a line, and a receiver that tolerates several spaces after the colon
// (as Parse does) would drop leading ones.
func appendValue(b []byte, s string) []byte {
	lead := 0
	for lead < len(s) && s[lead] == ' ' {
		lead++
	}
	trail := len(s)
	for trail > lead && s[trail-1] == ' ' {
		trail--
	}
	for range lead {
		b = append(b, `\u0020`...)
	}
	b = appendEscaped(b, s[lead:trail], 0)
	for range len(s) - trail {
		b = append(b, `\u0020`...)
	}
	return b
}
