package msrp

import (
	"errors"
	"testing"
)

func TestParseByteRange(t *testing.T) {
	U := Unknown
	good := []struct {
		in   string
		want ByteRange
	}{
		{"1-25/25", ByteRange{1, 25, 25}},
		{"1-*/8", ByteRange{1, U, 8}},
		{"5-8/8", ByteRange{5, 8, 8}},
		{"1-*/*", ByteRange{1, U, U}},
		{"1-0/0", ByteRange{1, 0, 0}}, // §7.1.1 empty message
		{"5-4/*", ByteRange{5, 4, U}}, // empty chunk at position 5
		{"9-8/8", ByteRange{9, 8, 8}}, // empty chunk just past the end
		{"9-*/8", ByteRange{9, U, 8}}, // interrupted chunk at the end
		{"138-148/148", ByteRange{138, 148, 148}},
		{"1-999999999999999999/999999999999999999", ByteRange{1, 999999999999999999, 999999999999999999}},
		{"0001-0002/0003", ByteRange{1, 2, 3}},
	}
	for _, tt := range good {
		got, err := ParseByteRange(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseByteRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		"", "1", "1-", "1-2", "1-2/", "-1-2/3", "0-0/0", "0-1/1", "2-0/5", "1-5/3", "10-*/8", "10-9/8",
		"1-2/3x", " 1-2/3", "1-2 /3", "1-*/-1", "*-2/3", "1-2/**", "1-+2/3",
		"1-*/9223372036854775808", "1-*/1000000000000000000", "9223372036854775807-*/*",
		"99999999999999999999999-*/*", "1-18446744073709551617/*",
	} {
		if got, err := ParseByteRange(in); !errors.Is(err, ErrBadByteRange) {
			t.Errorf("ParseByteRange(%q) = %v, %v; want ErrBadByteRange", in, got, err)
		}
	}
}

func TestByteRangeString(t *testing.T) {
	for _, s := range []string{"1-25/25", "1-*/8", "1-*/*", "1-0/0", "138-148/148"} {
		r, err := ParseByteRange(s)
		if err != nil || r.String() != s {
			t.Errorf("round trip %q: %q %v", s, r.String(), err)
		}
	}
}

func TestParseStatus(t *testing.T) {
	good := []struct {
		in   string
		want Status
	}{
		{"000 200 OK", Status{0, 200, "OK"}},
		{"000 413", Status{0, 413, ""}},
		{"000 408 Request Timeout", Status{0, 408, "Request Timeout"}},
		{"001  200  two spaces", Status{1, 200, "two spaces"}},
		{"000 200 Ünïcode", Status{0, 200, "Ünïcode"}},
	}
	for _, tt := range good {
		got, err := ParseStatus(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseStatus(%q) = %+v, %v", tt.in, got, err)
		}
	}
	for _, in := range []string{"", "000", "000 ", "00 200", "0000 200", "000 20", "000 2000", "000 200x", "abc 200", "000 200 a\x01b", "000\t200"} {
		if got, err := ParseStatus(in); !errors.Is(err, ErrBadStatus) {
			t.Errorf("ParseStatus(%q) = %+v, %v", in, got, err)
		}
	}
	if s := (Status{0, 200, "OK"}).String(); s != "000 200 OK" {
		t.Errorf("String = %q", s)
	}
	if s := (Status{0, 413, ""}).String(); s != "000 413" {
		t.Errorf("String = %q", s)
	}
}

func TestValidText(t *testing.T) {
	for s, want := range map[string]bool{
		"":                               true,
		"plain ascii text, long enough":  true,
		"tab\there and more octets":      true,
		"ünïcödé and more octets here":   true,
		"control \x01 in the middle....": false,
		"0123456789abcdef\x7f":           false,
		"0123456789abcde\r":              false,
		"\n0123456789abcdef":             false,
		"01234567\x1f":                   false,
	} {
		if got := validText(s); got != want {
			t.Errorf("validText(%q) = %v", s, got)
		}
	}
}
