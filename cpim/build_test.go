package cpim

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files written by the build tests")

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", name, got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestBuildRFC3862Example(t *testing.T) {
	// Rebuild the §5.1 example with the setters: the same bytes come out
	// (apart from the MIME header spelling, which is ours).
	m := New()
	must(t, m.SetFrom(Address{"MR SANDERS", "im:piglet@100akerwood.com"}))
	must(t, m.AddTo(Address{"Depressed Donkey", "im:eeyore@100akerwood.com"}))
	m.SetDateTime(time.Date(2000, 12, 13, 13, 40, 0, 0, time.FixedZone("", -8*3600)))
	must(t, m.AddSubject("", "the weather will be fine today"))
	must(t, m.AddSubject("fr", "beau temps prevu pour aujourd'hui"))
	must(t, m.AddNS("MyFeatures", "mid:MessageFeatures@id.foo.com"))
	must(t, m.AddRequire("mid:MessageFeatures@id.foo.com", "VitalMessageOption"))
	must(t, m.Add("mid:MessageFeatures@id.foo.com", "VitalMessageOption", "Confirmation-requested"))
	must(t, m.Add("mid:MessageFeatures@id.foo.com", "WackyMessageOption", "Use-silly-font"))
	must(t, m.SetContent("text/xml; charset=utf-8", []byte("<body>\r\nHere is the text of my message.\r\n</body>")))
	must(t, m.AddContentHeader("Content-ID", "<1234567890@foo.com>"))
	want := bytes.Replace(mustRead(t, "rfc3862-5.1.cpim"), []byte("Content-type"), []byte("Content-Type"), 1)
	if got := m.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("built:\n got %q\nwant %q", got, want)
	}
}

func TestBuildIMDN(t *testing.T) {
	m := New()
	anon := Address{URI: "sip:anonymous@anonymous.invalid"}
	must(t, m.SetFrom(anon))
	must(t, m.AddTo(anon))
	must(t, m.Set(NSIMDN, IMDNMessageID, "Kn9sl3Pe0o")) // declares NS: imdn
	m.SetDateTime(time.Date(2026, 11, 30, 9, 15, 2, 123e6, time.UTC))
	must(t, m.Set(NSIMDN, IMDNDispositionNotification, "positive-delivery, display"))
	must(t, m.SetContent("text/plain;charset=UTF-8", []byte("Hello world!")))
	must(t, m.AddContentHeader("Content-Length", "12"))
	// Same bytes as the golden request written by hand.
	if got, want := m.Bytes(), mustRead(t, "imdn-request.cpim"); !bytes.Equal(got, want) {
		t.Errorf("built:\n got %q\nwant %q", got, want)
	}
}

func TestBuildEscapes(t *testing.T) {
	m := New()
	must(t, m.SetFrom(Address{"Tab\tand \"quotes\" \\ é", "im:a@example.com"}))
	must(t, m.AddTo(Address{URI: "im:b@example.com"}))
	must(t, m.AddSubject("", "line1\nline2\r\b'\x01\x7f☺😀 \"q\" \\"))
	must(t, m.SetContent("text/plain", nil))
	checkGolden(t, "build-escapes.cpim", m.Bytes())
	p, err := Parse(m.Bytes())
	must(t, err)
	if s, _ := p.Subject(""); s != "line1\nline2\r\b'\x01\x7f☺😀 \"q\" \\" {
		t.Errorf("Subject = %q", s)
	}
	if f, _ := p.From(); f.Name != "Tab\tand \"quotes\" \\ é" {
		t.Errorf("From = %+v", f)
	}
}

// TestBuildParse: whatever the setters build parses back to the same
// values (the build → parse half of the round-trip property).
func TestBuildParse(t *testing.T) {
	names := []string{"", "Alice", "Alice Liddell", "O'Brien", "Smith, John", "\"Q\"", "tab\there", "back\\slash", "Zoë", "a  b", " lead", "trail ", "ctl\x00\x1f\x7f"}
	texts := []string{"", " lead", "trail ", "  both  ", " ", "plain", "tab\t", "nl\nnl", "cr\r", "\\", "\"", "'", "\b", "\x00\x1b\x7f", "ünïcødé ☺", "trailing\\", "\\u0041"}
	for i, name := range names {
		text := texts[i%len(texts)]
		m := New()
		from := Address{name, "sip:alice@example.com"}
		must(t, m.SetFrom(from))
		must(t, m.AddTo(Address{URI: "sip:bob@example.com"}))
		must(t, m.AddCC(Address{name, "sip:carol@example.com"}))
		must(t, m.AddSubject("en-GB", text))
		must(t, m.Set("urn:example:ext", "Note", text))
		must(t, m.Set(NSIMDN, IMDNMessageID, "id-1"))
		must(t, m.SetContent("text/plain", []byte(text)))
		p, err := Parse(m.Bytes())
		if err != nil {
			t.Fatalf("%q/%q: %v\n%q", name, text, err, m.Bytes())
		}
		wantName := name // token names and quoted names alike come back exactly
		got, err := p.From()
		if err != nil || got.Name != wantName || got.URI != from.URI {
			t.Errorf("From(%q) = %+v, %v", name, got, err)
		}
		if cc, err := p.CC(); err != nil || len(cc) != 1 || cc[0].Name != wantName {
			t.Errorf("CC(%q) = %+v, %v", name, cc, err)
		}
		if s, ok := p.Subject("en-gb"); !ok || s != text {
			t.Errorf("Subject(%q) = %q", text, s)
		}
		if v, ok := p.Get("urn:example:ext", "Note"); !ok || v != text {
			t.Errorf("Note(%q) = %q", text, v)
		}
		if v, _ := p.Get(NSIMDN, IMDNMessageID); v != "id-1" {
			t.Errorf("Message-ID = %q", v)
		}
		if string(p.Body()) != text {
			t.Errorf("Body = %q", p.Body())
		}
		if !bytes.Equal(p.Bytes(), m.Bytes()) {
			t.Error("re-serialised bytes differ")
		}
	}
}

// TestModifyRerendersOnlyChanges: setting a header on a parsed message
// changes that line and nothing else.
func TestModifyRerendersOnlyChanges(t *testing.T) {
	in := mustRead(t, "sloppy.cpim")
	m, err := Parse(in)
	must(t, err)
	must(t, m.SetFrom(Address{"Alice", "sip:alice@example.org"}))
	want := bytes.Replace(in, []byte("From:<sip:alice@example.com>\r\n"), []byte("From: Alice <sip:alice@example.org>\r\n"), 1)
	if got := m.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("after SetFrom:\n got %q\nwant %q", got, want)
	}
	// A new header goes after the existing ones, NS first.
	c := m.Clone()
	must(t, c.Set(NSIMDN, IMDNMessageID, "abc"))
	want2 := bytes.Replace(want, []byte("\r\n\r\nContent-Type"), []byte("\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: abc\r\n\r\nContent-Type"), 1)
	if got := c.Bytes(); !bytes.Equal(got, want2) {
		t.Errorf("after Set:\n got %q\nwant %q", got, want2)
	}
	if got := m.Bytes(); !bytes.Equal(got, want) {
		t.Error("Clone shares its headers with the original")
	}
	// Set on an existing prefixed header keeps the sender's prefix.
	n, err := Parse(mustRead(t, "imdn-nosep.cpim"))
	must(t, err)
	must(t, n.Set(NSIMDN, IMDNMessageID, "new"))
	if !bytes.Contains(n.Bytes(), []byte("\r\nx.Message-ID: new\r\n")) || bytes.Contains(n.Bytes(), []byte("NS: imdn")) {
		t.Errorf("Set with sender prefix:\n%q", n.Bytes())
	}
	// Del then Bytes: the line is gone, the rest intact.
	n.Del(NSIMDN, IMDNDispositionNotification)
	if bytes.Contains(n.Bytes(), []byte("Disposition")) {
		t.Error("Del left the header")
	}
	if _, err := Parse(n.Bytes()); err != nil {
		t.Error(err)
	}
}

func TestSetReplacesAll(t *testing.T) {
	m, err := Parse([]byte("Subject: a\r\nTo: <im:x@y>\r\nSubject: b\r\n\r\nContent-Type: a/b\r\n\r\n"))
	must(t, err)
	must(t, m.Set(NSCPIM, "Subject", "c"))
	if got := string(m.Bytes()); got != "Subject: c\r\nTo: <im:x@y>\r\n\r\nContent-Type: a/b\r\n\r\n" {
		t.Errorf("got %q", got)
	}
}

func TestPrefixChoice(t *testing.T) {
	// imdn is taken by another URI: ns1 is declared.
	m, err := Parse([]byte("NS: imdn <urn:example:not-imdn>\r\n\r\nContent-Type: a/b\r\n\r\n"))
	must(t, err)
	must(t, m.Set(NSIMDN, IMDNMessageID, "1"))
	must(t, m.Set("urn:example:not-imdn", "H", "2"))
	want := "NS: imdn <urn:example:not-imdn>\r\nNS: ns1 <urn:ietf:params:imdn>\r\nns1.Message-ID: 1\r\nimdn.H: 2\r\n\r\nContent-Type: a/b\r\n\r\n"
	if got := string(m.Bytes()); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Default namespace changed: standard headers need a cpim prefix.
	d := New()
	must(t, d.AddNS("", "urn:example:def"))
	must(t, d.Set("urn:example:def", "Local", "x"))
	must(t, d.AddTo(Address{URI: "im:a@b"}))
	must(t, d.AddCC(Address{URI: "im:c@d"}))
	must(t, d.SetContent("a/b", nil))
	want = "NS: <urn:example:def>\r\nLocal: x\r\nNS: cpim <urn:ietf:params:cpim-headers:>\r\ncpim.To: <im:a@b>\r\ncpim.cc: <im:c@d>\r\n\r\nContent-Type: a/b\r\n\r\n"
	if got := string(d.Bytes()); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	p, err := Parse(d.Bytes())
	must(t, err)
	if to, _ := p.To(); len(to) != 1 || to[0].URI != "im:a@b" {
		t.Errorf("To = %v", to)
	}
	if v, _ := p.Get("urn:example:def", "Local"); v != "x" {
		t.Errorf("Local = %q", v)
	}
	// A prefix rebound to another URI is not reused.
	r := New()
	must(t, r.AddNS("a", "urn:one"))
	must(t, r.AddNS("a", "urn:two"))
	must(t, r.Add("urn:one", "h", "1"))
	must(t, r.SetContent("a/b", nil))
	if got := string(r.Bytes()); !strings.Contains(got, "NS: ns1 <urn:one>\r\nns1.h: 1\r\n") {
		t.Errorf("got %q", got)
	}
}

func TestAddRequireMerges(t *testing.T) {
	m := New()
	must(t, m.AddRequire(NSIMDN, IMDNDispositionNotification))
	must(t, m.AddRequire("urn:example:f", "Feature"))
	must(t, m.SetContent("a/b", nil))
	p, err := Parse(m.Bytes())
	must(t, err)
	req, err := p.Require()
	must(t, err)
	want := []HeaderName{{NSIMDN, IMDNDispositionNotification}, {"urn:example:f", "Feature"}}
	if !slices.Equal(req, want) {
		t.Errorf("Require = %v\n%q", req, m.Bytes())
	}
	if n := len(p.Values(NSCPIM, "Require")); n != 1 {
		t.Errorf("%d Require headers", n)
	}
}

func TestSetterErrors(t *testing.T) {
	m := New()
	tests := []struct {
		name string
		err  error
	}{
		{"bad URI", m.SetFrom(Address{URI: "not a uri"})},
		{"empty URI", m.AddTo(Address{})},
		{"URI with >", m.AddCC(Address{URI: "sip:a>b"})},
		{"name not UTF-8", m.SetFrom(Address{"\xff", "sip:a@b"})},
		{"bad lang", m.AddSubject("en_GB", "x")},
		{"long lang", m.AddSubject("abcdefghi", "x")},
		{"subject not UTF-8", m.AddSubject("", "\xff")},
		{"bad prefix", m.AddNS("a.b", "urn:x")},
		{"bad NS URI", m.AddNS("a", "x")},
		{"bad header name", m.Set("urn:x", "a b", "v")},
		{"dotted header name", m.Set("urn:x", "a.b", "v")},
		{"NS via Set", m.Set(NSCPIM, "NS", "<urn:x>")},
		{"bad namespace", m.Add("relative", "h", "v")},
		{"value not UTF-8", m.Add("urn:x", "h", "\xc3")},
		{"bad Require name", m.AddRequire("urn:x", "")},
		{"empty content type", m.SetContent("", nil)},
		{"CRLF in content type", m.SetContent("text/plain\r\nX: y", nil)},
		{"content header first", m.AddContentHeader("X", "y")},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, tt.err)
		}
	}
	if len(m.fields) != 0 {
		t.Errorf("failed setters left %d headers", len(m.fields))
	}
	must(t, m.SetContent("a/b", nil))
	if err := m.AddContentHeader("Bad:Name", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("AddContentHeader bad name: %v", err)
	}
	if err := m.AddContentHeader("X", "a\nb"); !errors.Is(err, ErrInvalid) {
		t.Errorf("AddContentHeader LF: %v", err)
	}
}

func TestAddContentHeaderParsed(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"To: <im:a@b>\r\n\r\nContent-Type: a/b\r\n\r\nbody", "To: <im:a@b>\r\n\r\nContent-Type: a/b\r\nX: y\r\n\r\nbody"},
		{"To: <im:a@b>\n\nContent-Type: a/b\n\nbody", "To: <im:a@b>\n\nContent-Type: a/b\nX: y\r\n\nbody"},
		{"To: <im:a@b>\r\n\r\nContent-Type: a/b\r\n", "To: <im:a@b>\r\n\r\nContent-Type: a/b\r\nX: y\r\n\r\n"},
		{"To: <im:a@b>\r\n\r\nContent-Type: a/b", "To: <im:a@b>\r\n\r\nContent-Type: a/b\r\nX: y\r\n\r\n"},
		{"To: <im:a@b>\r\nContent-Type: a/b\r\n\r\nbody", "To: <im:a@b>\r\nContent-Type: a/b\r\nX: y\r\n\r\nbody"},
	} {
		m, err := Parse([]byte(tt.in))
		must(t, err)
		must(t, m.AddContentHeader("X", "y"))
		if got := string(m.Bytes()); got != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.in, got, tt.want)
		}
		p, err := Parse(m.Bytes())
		must(t, err)
		if v, _ := p.ContentHeader("x"); v != "y" || string(p.Body()) != string(m.Body()) || p.ContentType() != "a/b" {
			t.Errorf("%q: re-parse X=%q body %q", tt.in, v, p.Body())
		}
		if v, _ := m.ContentHeader("x"); v != "y" {
			t.Errorf("%q: X=%q", tt.in, v)
		}
	}
}

func TestSetContentOnParsed(t *testing.T) {
	m, err := Parse(mustRead(t, "imdn-nosep.cpim"))
	must(t, err)
	must(t, m.SetContent("message/imdn+xml", []byte("<imdn/>")))
	must(t, m.AddContentHeader("Content-Disposition", "notification"))
	p, err := Parse(m.Bytes())
	must(t, err)
	if p.ContentType() != "message/imdn+xml" || string(p.Body()) != "<imdn/>" {
		t.Errorf("got %q", m.Bytes())
	}
	if !bytes.Contains(m.Bytes(), []byte("2026-11-30T09:15:02Z\r\n\r\nContent-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n\r\n<imdn/>")) {
		t.Errorf("no separator added: %q", m.Bytes())
	}
}

func TestZeroMessage(t *testing.T) {
	var m Message
	if got := string(m.Bytes()); got != "\r\n" || m.Len() != 2 {
		t.Errorf("zero Message = %q", got)
	}
	must(t, m.AddTo(Address{URI: "im:a@b"}))
	must(t, m.SetContent("text/plain", []byte("hi")))
	if got := string(m.Bytes()); got != "To: <im:a@b>\r\n\r\nContent-Type: text/plain\r\n\r\nhi" || m.Len() != len(got) {
		t.Errorf("got %q", got)
	}
	if got := string(m.AppendHeader(nil)) + string(m.Entity()); got != string(m.Bytes()) {
		t.Errorf("AppendHeader+Entity = %q", got)
	}
	var buf bytes.Buffer
	if n, err := m.WriteTo(&buf); err != nil || n != int64(m.Len()) || buf.String() != string(m.Bytes()) {
		t.Errorf("WriteTo = %d, %v", n, err)
	}
}
