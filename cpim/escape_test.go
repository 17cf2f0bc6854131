package cpim

import (
	"testing"
	"unicode/utf8"
)

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{`plain`, "plain"},
		{`a\\b`, `a\b`},
		{`\"q\"`, `"q"`},
		{`\'`, `'`},
		{`\b\t\n\r`, "\b\t\n\r"},
		{`\u0041\u00e9\u00E9`, "Aéé"},
		{`\u263a`, "☺"},
		{`\uD83D\uDE00`, "😀"},       // surrogate pair
		{`\uD83D`, "\uFFFD"},        // lone high surrogate
		{`\uDE00x`, "\uFFFDx"},      // lone low surrogate
		{`\uD83Dx`, "\uFFFDx"},      // high surrogate, no pair
		{`\uD83D\u0041`, "\uFFFDA"}, // high surrogate, not followed by a low one
		{`\u12`, "u12"},             // not four hex digits: the next character
		{`\u12g4`, "u12g4"},
		{`\q`, "q"},     // unknown escape: the next character
		{`\é`, "é"},     // ... which may be multi-octet
		{`end\`, "end"}, // isolated trailing backslash: ignored
		{`\`, ""},
		{`\\\`, `\`},
		{"\\\xff", "\xff"}, // invalid UTF-8 after a backslash is kept
	}
	for _, tt := range tests {
		if got := unescape([]byte(tt.in)); got != tt.want {
			t.Errorf("unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscape(t *testing.T) {
	tests := []struct {
		in    string
		quote byte
		want  string
	}{
		{"plain ☺", 0, "plain ☺"},
		{"\\ \b \t \n \r", 0, `\\ \b \t \n \r`},
		{"\x00\x07\x0b\x0c\x0e\x1f\x7f", 0, `\u0000\u0007\u000b\u000c\u000e\u001f\u007f`},
		{`"q" 'q'`, 0, `"q" 'q'`}, // quotes are escaped only inside strings
		{`"q" 'q'`, '"', `\"q\" 'q'`},
	}
	for _, tt := range tests {
		if got := string(appendEscaped(nil, tt.in, tt.quote)); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAppendValue(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"a b", "a b"},
		{" a", `\u0020a`},
		{"a  ", `a\u0020\u0020`},
		{"  ", `\u0020\u0020`},
		{"\t a\n ", `\t a\n\u0020`},
	} {
		if got := string(appendValue(nil, tt.in)); got != tt.want {
			t.Errorf("appendValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestEscapeRoundTrip: every UTF-8 string survives escape → unescape, and
// the escaped form has no control characters.
func TestEscapeRoundTrip(t *testing.T) {
	var all []rune
	for r := rune(0); r < 0x300; r++ {
		all = append(all, r)
	}
	all = append(all, '☺', 0x1F600, 0xFFFD, 0x10FFFF)
	for _, r := range all {
		s := "a" + string(r) + "b"
		for _, q := range []byte{0, '"'} {
			e := appendEscaped(nil, s, q)
			for _, c := range e {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("escape(%q) = %q has a control character", s, e)
				}
			}
			if got := unescape(e); got != s {
				t.Fatalf("round trip %q -> %q -> %q", s, e, got)
			}
		}
	}
}

func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`\u0041`, `\uD83D\uDE00`, `\`, `\q`, "a\\\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u := unescape([]byte(s))
		if utf8.ValidString(s) && !utf8.ValidString(u) {
			t.Fatalf("unescape(%q) = %q is not UTF-8", s, u)
		}
		if len(u) > 3*len(s) {
			t.Fatalf("unescape grew %d -> %d", len(s), len(u))
		}
		if utf8.ValidString(s) {
			if back := unescape(appendEscaped(nil, s, '"')); back != s {
				t.Fatalf("escape round trip %q -> %q", s, back)
			}
		}
	})
}
