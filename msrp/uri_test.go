package msrp

import (
	"errors"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		in   string
		want URI
		str  string // String(), "" = same as in
	}{
		{in: "msrp://host.example.com:8493/asfd34;tcp", want: URI{Host: "host.example.com", Port: 8493, SessionID: "asfd34", Transport: "tcp"}},
		{in: "msrps://relay.example.com;tcp", want: URI{Secure: true, Host: "relay.example.com", Transport: "tcp"}},
		{in: "MSRPS://Bob@Relay.Example.COM:2855;TCP", want: URI{Secure: true, User: "Bob", Host: "Relay.Example.COM", Port: 2855, Transport: "TCP"},
			str: "msrps://Bob@Relay.Example.COM:2855;TCP"},
		{in: "msrp://[2001:db8::1]:7777/a+b=c/d;tcp;foo=bar;baz", want: URI{Host: "2001:db8::1", Port: 7777, SessionID: "a+b=c/d", Transport: "tcp", Params: []string{"foo=bar", "baz"}}},
		{in: "msrp://192.0.2.1:1/s%2F;ws", want: URI{Host: "192.0.2.1", Port: 1, SessionID: "s%2F", Transport: "ws"}},
		{in: "msrp://ho%41st:65535/x;tcp", want: URI{Host: "ho%41st", Port: 65535, SessionID: "x", Transport: "tcp"}},
		{in: "msrp://[fe80::1%25eth0]:9/x;tcp", want: URI{Host: "fe80::1%25eth0", Port: 9, SessionID: "x", Transport: "tcp"}},
	}
	for _, tt := range tests {
		got, err := ParseURI(tt.in)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tt.in, err)
			continue
		}
		if got.String() != tt.want.String() || got.Secure != tt.want.Secure || got.User != tt.want.User ||
			got.Host != tt.want.Host || got.Port != tt.want.Port || got.SessionID != tt.want.SessionID ||
			got.Transport != tt.want.Transport || len(got.Params) != len(tt.want.Params) {
			t.Errorf("ParseURI(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if got.String() != str {
			t.Errorf("ParseURI(%q).String() = %q, want %q", tt.in, got.String(), str)
		}
	}
}

func TestParseURIErrors(t *testing.T) {
	for _, in := range []string{
		"", "msrp:", "msrp://", "http://host:1/x;tcp", "msrp://host:1/x", "msrp://host:1/x;", "msrp://host:1/;tcp",
		"msrp://:1/x;tcp", "msrp://host:/x;tcp", "msrp://host:0/x;tcp", "msrp://host:65536/x;tcp", "msrp://host:12a/x;tcp",
		"msrp://host:123456/x;tcp", "msrp://[::1/x;tcp", "msrp://[::1]x:1/x;tcp", "msrp://[1.2.3.4]:1/x;tcp",
		"msrp://[zz::1]:1/x;tcp", "msrp://user:pw@host:1/x;tcp", "msrp://@host:1/x;tcp", "msrp://ho st:1/x;tcp",
		"msrp://host:1/x y;tcp", "msrp://host:1/x;t-cp", "msrp://host:1/x;tcp;", "msrp://host:1/x;tcp;a=b=c",
		"msrp://host:1/x;tcp;a b", "msrp://h%4:1/x;tcp", "msrp://host:1/x%;tcp", "msrp://host:1/x#y;tcp",
		"msrp://ho\x00st:1/x;tcp",
	} {
		if u, err := ParseURI(in); err == nil || !errors.Is(err, ErrBadURI) {
			t.Errorf("ParseURI(%q) = %+v, %v; want ErrBadURI", in, u, err)
		}
	}
}

// TestURIEqual is the RFC 4975 §6.1 comparison table.
func TestURIEqual(t *testing.T) {
	tests := []struct {
		a, b string
		eq   bool
		rule string
	}{
		{"msrp://h.example.com:1/s;tcp", "msrp://h.example.com:1/s;tcp", true, "identical"},
		{"MSRP://h.example.com:1/s;tcp", "msrp://h.example.com:1/s;tcp", true, "1: scheme case-insensitive"},
		{"msrps://h.example.com:1/s;tcp", "msrp://h.example.com:1/s;tcp", false, "1: scheme must match"},
		{"msrp://H.Example.COM:1/s;tcp", "msrp://h.example.com:1/s;tcp", true, "2: host case-insensitive"},
		{"msrp://%68.example.com:1/s;tcp", "msrp://h.example.com:1/s;tcp", true, "2: percent-decoded host"},
		{"msrp://%48.example.com:1/s;tcp", "msrp://h.example.com:1/s;tcp", true, "2: percent-decoded, then case-insensitive"},
		{"msrp://alice@h.example.com:1/s;tcp", "msrp://bob@h.example.com:1/s;tcp", true, "2: userinfo ignored"},
		{"msrp://alice@h.example.com:1/s;tcp", "msrp://h.example.com:1/s;tcp", true, "2: userinfo ignored (absent)"},
		{"msrp://other.example.com:1/s;tcp", "msrp://h.example.com:1/s;tcp", false, "2: different host"},
		{"msrp://[2001:db8::1]:1/s;tcp", "msrp://[2001:DB8:0:0:0:0:0:1]:1/s;tcp", true, "2: IPv6 address equivalence"},
		{"msrp://[::ffff:192.0.2.1]:1/s;tcp", "msrp://192.0.2.1:1/s;tcp", false, "2: v4-mapped is another address"},
		{"msrp://192.0.2.1:1/s;tcp", "msrp://192.0.2.2:1/s;tcp", false, "2: different IPv4"},
		{"msrp://h.example.com:1/s;tcp", "msrp://h.example.com:2/s;tcp", false, "3: port must match"},
		{"msrp://h.example.com:2855/s;tcp", "msrp://h.example.com/s;tcp", false, "3: explicit port never equals absent"},
		{"msrp://h.example.com/s;tcp", "msrp://h.example.com/s;tcp", true, "3: both absent"},
		{"msrp://h.example.com:1/abc;tcp", "msrp://h.example.com:1/ABC;tcp", false, "4: session-id case-sensitive"},
		{"msrp://h.example.com:1/abc;tcp", "msrp://h.example.com:1;tcp", false, "4: present never equals absent"},
		{"msrp://h.example.com:1/%61bc;tcp", "msrp://h.example.com:1/abc;tcp", false, "4: session-id compared as is"},
		{"msrp://h.example.com:1/s;tcp", "msrp://h.example.com:1/s;TCP", true, "5: transport case-insensitive"},
		{"msrp://h.example.com:1/s;tcp", "msrp://h.example.com:1/s;ws", false, "5: different transport"},
		{"msrp://h.example.com:1/s;tcp;a=b", "msrp://h.example.com:1/s;tcp", true, "other parameters ignored"},
	}
	for _, tt := range tests {
		a, b := mustURI(t, tt.a), mustURI(t, tt.b)
		if got := a.Equal(b); got != tt.eq {
			t.Errorf("%s: Equal(%q, %q) = %v, want %v", tt.rule, tt.a, tt.b, got, tt.eq)
		}
		if got := b.Equal(a); got != tt.eq {
			t.Errorf("%s: Equal not symmetric for %q, %q", tt.rule, tt.a, tt.b)
		}
	}
}

func TestParsePath(t *testing.T) {
	p, err := ParsePath("  msrps://r1.example.com:2855/a;tcp  msrp://bob.example.com:8888/9di4eae923wzd;tcp ")
	if err != nil || len(p) != 2 || p[0].Host != "r1.example.com" || p[1].SessionID != "9di4eae923wzd" {
		t.Fatalf("ParsePath = %+v, %v", p, err)
	}
	if got := FormatPath(p); got != "msrps://r1.example.com:2855/a;tcp msrp://bob.example.com:8888/9di4eae923wzd;tcp" {
		t.Errorf("FormatPath = %q", got)
	}
	for _, in := range []string{"", "   ", "msrp://a:1/x;tcp bogus"} {
		if _, err := ParsePath(in); !errors.Is(err, ErrBadURI) {
			t.Errorf("ParsePath(%q) err = %v, want ErrBadURI", in, err)
		}
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"msrp://h.example.com:8888/x;tcp": "h.example.com:8888",
		"msrp://[2001:db8::1]:9/x;tcp":    "[2001:db8::1]:9",
		"msrp://[fe80::1%25eth0]:9/x;tcp": "[fe80::1%eth0]:9",
		"msrps://relay.example.com;tcp":   "relay.example.com",
	} {
		if got := mustURI(t, in).HostPort(); got != want {
			t.Errorf("HostPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		for _, id := range []string{NewTransactionID(), NewMessageID(), NewSessionID()} {
			if !ValidIdent(id) {
				t.Fatalf("%q is not an ident", id)
			}
			if seen[id] {
				t.Fatalf("duplicate id %q", id)
			}
			seen[id] = true
		}
	}
	if n := len(NewSessionID()) * 5; n < 80 {
		t.Errorf("session-id carries %d bits, want ≥ 80 (RFC 4975 §14.1)", n)
	}
	if n := len(NewTransactionID()) * 5; n < 64 {
		t.Errorf("tid carries %d bits, want ≥ 64 (RFC 4975 §7.1)", n)
	}
	u := URI{Host: "h", Port: 1, SessionID: NewSessionID(), Transport: "tcp"}
	if _, err := ParseURI(u.String()); err != nil {
		t.Errorf("session-id not URI-safe: %v", err)
	}
	for _, bad := range []string{"abc", "-abcd", "abcd!", "a23456789012345678901234567890123"} {
		if ValidIdent(bad) {
			t.Errorf("ValidIdent(%q) = true", bad)
		}
	}
	for _, good := range []string{"abcd", "a.b-c+d%e=f", "a2345678901234567890123456789012"} {
		if !ValidIdent(good) {
			t.Errorf("ValidIdent(%q) = false", good)
		}
	}
}
