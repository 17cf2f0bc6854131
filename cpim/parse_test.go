package cpim

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGolden parses the golden wire files and checks what the accessors
// return, and that Append reproduces every octet.
func TestGolden(t *testing.T) {
	tests := []struct {
		file        string
		from        Address
		to          []Address
		cc          []Address
		dateTime    string // RFC 3339, "" for none
		subjects    []Subject
		contentType string
		body        string
		get         map[HeaderName]string
		require     []HeaderName
	}{
		{
			file:     "rfc3862-5.1.cpim",
			from:     Address{"MR SANDERS", "im:piglet@100akerwood.com"},
			to:       []Address{{"Depressed Donkey", "im:eeyore@100akerwood.com"}},
			dateTime: "2000-12-13T13:40:00-08:00",
			subjects: []Subject{
				{"", "the weather will be fine today"},
				{"fr", "beau temps prevu pour aujourd'hui"},
			},
			contentType: "text/xml; charset=utf-8",
			body:        "<body>\r\nHere is the text of my message.\r\n</body>",
			get: map[HeaderName]string{
				{"mid:MessageFeatures@id.foo.com", "VitalMessageOption"}: "Confirmation-requested",
				{"mid:MessageFeatures@id.foo.com", "WackyMessageOption"}: "Use-silly-font",
			},
			require: []HeaderName{{"mid:MessageFeatures@id.foo.com", "VitalMessageOption"}},
		},
		{
			file:     "rfc3862-headers.cpim",
			from:     Address{"", "im:piglet@100akerwood.com"},
			to:       []Address{{"Pooh Bear", "im:pooh@100akerwood.com"}},
			cc:       []Address{{"Winnie the Pooh", "im:pooh@100akerwood.com"}, {"", "im:tigger@100akerwood.com"}},
			dateTime: "2001-02-02T10:48:54-05:00",
			subjects: []Subject{{"en", "Eeyore's feeling very depressed today"}},
			get: map[HeaderName]string{
				{"http://id.acme.widgets/wily-headers/", "runner-trap"}: "set",
			},
			contentType: "text/plain; charset=utf-8",
			body:        "This is my encapsulated text message content",
		},
		{
			file:        "imdn-request.cpim",
			from:        Address{"", "sip:anonymous@anonymous.invalid"},
			to:          []Address{{"", "sip:anonymous@anonymous.invalid"}},
			dateTime:    "2026-11-30T09:15:02.123Z",
			contentType: "text/plain;charset=UTF-8",
			body:        "Hello world!",
			get: map[HeaderName]string{
				{NSIMDN, IMDNMessageID}:               "Kn9sl3Pe0o",
				{NSIMDN, IMDNDispositionNotification}: "positive-delivery, display",
			},
		},
		{
			file:        "imdn-nosep.cpim",
			from:        Address{"", "sip:anonymous@anonymous.invalid"},
			to:          []Address{{"", "sip:anonymous@anonymous.invalid"}},
			dateTime:    "2026-11-30T09:15:02Z",
			contentType: "text/plain;charset=UTF-8",
			body:        "hi",
			get: map[HeaderName]string{
				{NSIMDN, IMDNMessageID}:               "34jk324j",
				{NSIMDN, IMDNDispositionNotification}: "positive-delivery",
			},
		},
		{
			file:        "sloppy.cpim",
			from:        Address{"", "sip:alice@example.com"},
			to:          []Address{{`Bob "the builder"`, "sip:bob@example.com"}},
			cc:          []Address{{"", "sip:carol@example.com"}},
			subjects:    []Subject{{"de", "Grüße"}},
			contentType: "text/plain",
			body:        "x",
		},
		{
			file:        "lf-only.cpim",
			from:        Address{"", "sip:alice@example.com"},
			to:          []Address{{"", "sip:bob@example.com"}},
			contentType: "text/plain",
			body:        "line1\r\nline2\n",
		},
		{
			file:        "extra-blank.cpim",
			from:        Address{"", "sip:alice@example.com"},
			to:          []Address{{"", "sip:bob@example.com"}},
			contentType: "text/plain",
			body:        "x",
		},
		{
			file:        "escapes.cpim",
			from:        Address{"Tab\tand \"quotes\" \\ é", "im:a@example.com"},
			to:          []Address{{"", "im:b@example.com"}},
			subjects:    []Subject{{"", "line1\nline2\r\b'q☺😀 end"}},
			contentType: "text/plain",
			body:        "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in := mustRead(t, tt.file)
			m, err := Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Append(nil); !bytes.Equal(got, in) {
				t.Errorf("Append:\n got %q\nwant %q", got, in)
			}
			if m.Len() != len(in) {
				t.Errorf("Len = %d, want %d", m.Len(), len(in))
			}
			from, err := m.From()
			if err != nil || from != tt.from {
				t.Errorf("From = %+v, %v; want %+v", from, err, tt.from)
			}
			to, err := m.To()
			if err != nil || !slices.Equal(to, tt.to) {
				t.Errorf("To = %+v, %v; want %+v", to, err, tt.to)
			}
			cc, err := m.CC()
			if err != nil || !slices.Equal(cc, tt.cc) {
				t.Errorf("CC = %+v, %v; want %+v", cc, err, tt.cc)
			}
			dt, err := m.DateTime()
			if tt.dateTime == "" {
				if !errors.Is(err, ErrNoHeader) {
					t.Errorf("DateTime error = %v, want ErrNoHeader", err)
				}
			} else if want, _ := time.Parse(time.RFC3339Nano, tt.dateTime); err != nil || !dt.Equal(want) {
				t.Errorf("DateTime = %v, %v; want %v", dt, err, want)
			}
			if got := m.Subjects(); !slices.Equal(got, tt.subjects) {
				t.Errorf("Subjects = %q, want %q", got, tt.subjects)
			}
			if got := m.ContentType(); got != tt.contentType {
				t.Errorf("ContentType = %q, want %q", got, tt.contentType)
			}
			if got := string(m.Body()); got != tt.body {
				t.Errorf("Body = %q, want %q", got, tt.body)
			}
			for k, want := range tt.get {
				if got, ok := m.Get(k.NS, k.Name); !ok || got != want {
					t.Errorf("Get(%v) = %q, %v; want %q", k, got, ok, want)
				}
			}
			req, err := m.Require()
			if err != nil || !slices.Equal(req, tt.require) {
				t.Errorf("Require = %v, %v; want %v", req, err, tt.require)
			}
			// Parse what Append produced: the same message.
			again, err := Parse(m.Bytes())
			if err != nil || !bytes.Equal(again.Bytes(), in) {
				t.Errorf("re-parse: %v", err)
			}
		})
	}
}

func TestSubjectLang(t *testing.T) {
	m, err := Parse(mustRead(t, "rfc3862-5.1.cpim"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		lang, want string
		ok         bool
	}{
		{"", "the weather will be fine today", true},
		{"i-default", "the weather will be fine today", true},
		{"fr", "beau temps prevu pour aujourd'hui", true},
		{"FR", "beau temps prevu pour aujourd'hui", true},
		{"de", "", false},
	} {
		if got, ok := m.Subject(tt.lang); got != tt.want || ok != tt.ok {
			t.Errorf("Subject(%q) = %q, %v; want %q, %v", tt.lang, got, ok, tt.want, tt.ok)
		}
	}
}

// TestNamespaceByURI: headers are identified by namespace URI and name,
// whatever prefix the sender chose (§3.4).
func TestNamespaceByURI(t *testing.T) {
	tests := []struct {
		name string
		hdrs string
		ns   string
		key  string
		want string // "" means absent
	}{
		{"imdn prefix", "NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: 1\r\n", NSIMDN, "Message-ID", "1"},
		{"x prefix", "NS: x <urn:ietf:params:imdn>\r\nx.Message-ID: 2\r\n", NSIMDN, "Message-ID", "2"},
		{"prefix is not the namespace", "NS: imdn <urn:example:other>\r\nimdn.Message-ID: 3\r\n", NSIMDN, "Message-ID", ""},
		{"same prefix, other URI", "NS: imdn <urn:example:other>\r\nimdn.Message-ID: 3\r\n", "urn:example:other", "Message-ID", "3"},
		{"default namespace changed", "NS: <urn:ietf:params:imdn>\r\nMessage-ID: 4\r\n", NSIMDN, "Message-ID", "4"},
		{"unprefixed is cpim-headers", "Message-ID: 5\r\n", NSCPIM, "Message-ID", "5"},
		{"unprefixed is not imdn", "Message-ID: 5\r\n", NSIMDN, "Message-ID", ""},
		{"redeclared prefix applies after", "NS: a <urn:one>\r\na.h: 1\r\nNS: a <urn:two>\r\na.h: 2\r\n", "urn:two", "h", "2"},
		{"earlier binding kept before", "NS: a <urn:one>\r\na.h: 1\r\nNS: a <urn:two>\r\na.h: 2\r\n", "urn:one", "h", "1"},
		{"names are case-sensitive", "NS: a <urn:one>\r\na.Header: 1\r\n", "urn:one", "header", ""},
		{"prefixes are case-sensitive", "NS: a <urn:one>\r\nNS: A <urn:two>\r\nA.h: 1\r\n", "urn:one", "h", ""},
		{"no space before <", "NS: y<urn:ietf:params:imdn>\r\ny.Message-ID: 6\r\n", NSIMDN, "Message-ID", "6"},
		{"From after default change is not From", "NS: <urn:one>\r\nFrom: <im:a@b>\r\n", NSCPIM, "From", ""},
		{"cpim prefix after default change", "NS: <urn:one>\r\nNS: c <urn:ietf:params:cpim-headers:>\r\nc.From: <im:a@b>\r\n", NSCPIM, "From", "<im:a@b>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.hdrs + "\r\nContent-Type: text/plain\r\n\r\n"
			m, err := Parse([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := m.Get(tt.ns, tt.key)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("Get(%q, %q) = %q, %v; want %q", tt.ns, tt.key, got, ok, tt.want)
			}
		})
	}
}

func TestCCSpellings(t *testing.T) {
	in := "cc: <im:a@x>\r\nCC: <im:b@x>\r\nCc: <im:c@x>\r\n\r\nContent-Type: text/plain\r\n\r\n"
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := m.CC()
	if err != nil || len(cc) != 3 {
		t.Fatalf("CC = %v, %v", cc, err)
	}
	if got := m.Values(NSCPIM, "CC"); len(got) != 3 {
		t.Errorf("Values(CC) = %q", got)
	}
	// Other names stay case-sensitive (§2.2).
	m2, err := Parse([]byte("from: <im:a@x>\r\n\r\nContent-Type: text/plain\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.From(); !errors.Is(err, ErrNoHeader) {
		t.Errorf("from: read as From: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	const ent = "\r\nContent-Type: text/plain\r\n\r\nbody"
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error
		line int
	}{
		{"empty", "", Limits{}, ErrTruncated, 1},
		{"headers only", "From: <im:a@b>\r\n", Limits{}, ErrTruncated, 2},
		{"unterminated header", "From: <im:a@b>", Limits{}, ErrTruncated, 1},
		{"no colon", "From <im:a@b>" + ent, Limits{}, ErrSyntax, 1},
		{"space in name", "To: <im:a@b>\r\nMy Header: x" + ent, Limits{}, ErrSyntax, 2},
		{"empty name", ": x" + ent, Limits{}, ErrSyntax, 1},
		{"leading space", " From: <im:a@b>" + ent, Limits{}, ErrSyntax, 1},
		{"control char", "Subject: a\tb" + ent, Limits{}, ErrSyntax, 1},
		{"bare CR", "Subject: a\rb" + ent, Limits{}, ErrSyntax, 1},
		{"two dots", "a.b.c: x" + ent, Limits{}, ErrSyntax, 1},
		{"empty local name", "NS: a <urn:x>\r\na.: x" + ent, Limits{}, ErrSyntax, 2},
		{"separator in name", "a/b: x" + ent, Limits{}, ErrSyntax, 1},
		{"bad param", "Subject:;lang fr x" + ent, Limits{}, ErrSyntax, 1},
		{"unterminated param", "Subject:;x=\"ab x" + ent, Limits{}, ErrSyntax, 1},
		{"unknown prefix", "imdn.Message-ID: 1" + ent, Limits{}, ErrUnknownPrefix, 1},
		{"prefix used before NS", "x.Message-ID: 1\r\nNS: x <urn:ietf:params:imdn>" + ent, Limits{}, ErrUnknownPrefix, 1},
		{"NS without URI", "NS: x" + ent, Limits{}, ErrBadNS, 1},
		{"NS relative URI", "NS: x <foo>" + ent, Limits{}, ErrBadNS, 1},
		{"NS garbage after", "NS: x <urn:a> y" + ent, Limits{}, ErrBadNS, 1},
		{"no content type", "From: <im:a@b>\r\n\r\nContent-ID: <1@x>\r\n\r\nbody", Limits{}, ErrNoContentType, 3},
		{"no entity headers", "From: <im:a@b>\r\n\r\n\r\nbody", Limits{}, ErrSyntax, 4},
		{"empty entity", "From: <im:a@b>\r\n\r\n", Limits{}, ErrNoContentType, 3},
		{"bad MIME name", "From: <im:a@b>\r\n\r\nContent Type: x\r\n\r\n", Limits{}, ErrSyntax, 3},
		{"MIME continuation first", "From: <im:a@b>\r\n\r\n x: y\r\n\r\n", Limits{}, ErrSyntax, 3},
		{"line too long", "Subject: " + strings.Repeat("a", 100) + ent, Limits{MaxLineLength: 64}, ErrHeaderTooLong, 1},
		{"unterminated too long", "Subject: " + strings.Repeat("a", 100), Limits{MaxLineLength: 64}, ErrHeaderTooLong, 1},
		{"MIME line too long", "From: <im:a@b>\r\n\r\nContent-Type: " + strings.Repeat("a", 100) + "\r\n\r\n", Limits{MaxLineLength: 64}, ErrHeaderTooLong, 3},
		{"too many CPIM headers", strings.Repeat("To: <im:a@b>\r\n", 5) + ent, Limits{MaxHeaderLines: 4}, ErrTooManyHeaders, 5},
		{"too many MIME headers", "To: <im:a@b>\r\n\r\nContent-Type: a\r\n x\r\n y\r\n z\r\n\r\n", Limits{MaxHeaderLines: 4}, ErrTooManyHeaders, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseWithLimits([]byte(tt.in), tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v (message %v), want %v", err, m, tt.want)
			}
			pe, ok := errors.AsType[*ParseError](err)
			if !ok {
				t.Fatalf("err %T is not a *ParseError", err)
			}
			if pe.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", pe.Line, tt.line, err)
			}
			if !strings.HasPrefix(err.Error(), "cpim: line ") || strings.Count(err.Error(), "cpim:") != 1 {
				t.Errorf("message %q", err)
			}
		})
	}
}

// TestLimitsAccept: inputs right at the limits parse.
func TestLimitsAccept(t *testing.T) {
	lim := Limits{MaxLineLength: 64, MaxHeaderLines: 4}
	in := "Subject: " + strings.Repeat("a", 64-9) + "\r\nTo: <im:a@b>\r\n\r\nContent-Type: a\r\n b\r\n\r\nbody"
	if _, err := ParseWithLimits([]byte(in), lim); err != nil {
		t.Fatal(err)
	}
}

func TestAccessorErrors(t *testing.T) {
	const ent = "\r\nContent-Type: text/plain\r\n\r\n"
	tests := []struct {
		name string
		in   string
		call func(m *Message) error
		want error
	}{
		{"no From", "To: <im:a@b>" + ent, func(m *Message) error { _, err := m.From(); return err }, ErrNoHeader},
		{"two From", "From: <im:a@b>\r\nFrom: <im:c@d>" + ent, func(m *Message) error { _, err := m.From(); return err }, ErrRepeated},
		{"From without brackets name", "From: Alice" + ent, func(m *Message) error { _, err := m.From(); return err }, ErrBadAddress},
		{"From unterminated quote", "From: \"Alice <im:a@b>" + ent, func(m *Message) error { _, err := m.From(); return err }, ErrBadAddress},
		{"From junk after >", "From: <im:a@b> x" + ent, func(m *Message) error { _, err := m.From(); return err }, ErrBadAddress},
		{"From empty URI", "From: Alice <>" + ent, func(m *Message) error { _, err := m.From(); return err }, ErrBadAddress},
		{"From URI with backslash", "From: <sip:a\\b@c>" + ent, func(m *Message) error { _, err := m.From(); return err }, ErrBadAddress},
		{"From relative URI", "From: <alice>" + ent, func(m *Message) error { _, err := m.From(); return err }, ErrBadAddress},
		{"bad To", "To: <im:a@b>\r\nTo: x" + ent, func(m *Message) error { _, err := m.To(); return err }, ErrBadAddress},
		{"bad DateTime", "DateTime: yesterday" + ent, func(m *Message) error { _, err := m.DateTime(); return err }, ErrBadDateTime},
		{"two DateTime", "DateTime: 2001-02-02T10:48:54Z\r\nDateTime: 2001-02-02T10:48:54Z" + ent, func(m *Message) error { _, err := m.DateTime(); return err }, ErrRepeated},
		{"Require unknown prefix", "Require: z.Foo" + ent, func(m *Message) error { _, err := m.Require(); return err }, ErrUnknownPrefix},
		{"Require prefix declared later", "Require: z.Foo\r\nNS: z <urn:z>" + ent, func(m *Message) error { _, err := m.Require(); return err }, ErrUnknownPrefix},
		{"Require bad name", "Require: a b" + ent, func(m *Message) error { _, err := m.Require(); return err }, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.call(m); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDateTimeForms(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"2001-02-01T12:16:49-05:00", "2001-02-01T17:16:49Z"},
		{"2001-02-01t12:16:49z", "2001-02-01T12:16:49Z"},
		{"2026-11-30T09:15:02.123456Z", "2026-11-30T09:15:02.123456Z"},
	} {
		m, err := Parse([]byte("DateTime: " + tt.in + "\r\n\r\nContent-Type: a/b\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.DateTime()
		if err != nil || got.UTC().Format(time.RFC3339Nano) != tt.want {
			t.Errorf("DateTime(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestAddressForms(t *testing.T) {
	tests := []struct {
		in   string
		want Address
		out  string // String() of the result
	}{
		{"<im:pooh@100akerwood.com>", Address{"", "im:pooh@100akerwood.com"}, "<im:pooh@100akerwood.com>"},
		{"Winnie the Pooh <im:pooh@100akerwood.com>", Address{"Winnie the Pooh", "im:pooh@100akerwood.com"}, "Winnie the Pooh <im:pooh@100akerwood.com>"},
		{"Winnie<im:pooh@x>", Address{"Winnie", "im:pooh@x"}, "Winnie <im:pooh@x>"},
		{`"Pooh, Winnie" <im:pooh@x>`, Address{"Pooh, Winnie", "im:pooh@x"}, `"Pooh, Winnie" <im:pooh@x>`},
		{`"a \"b\" \\c" <im:x@y>`, Address{`a "b" \c`, "im:x@y"}, `"a \"b\" \\c" <im:x@y>`},
		{`"" <im:x@y>`, Address{"", "im:x@y"}, "<im:x@y>"},
		{"Zoë Ünal <sip:z@x>", Address{"Zoë Ünal", "sip:z@x"}, "Zoë Ünal <sip:z@x>"},
		{"sip:bare@example.com", Address{"", "sip:bare@example.com"}, "<sip:bare@example.com>"},
		{"<sip:a@b;transport=tcp?x=y>", Address{"", "sip:a@b;transport=tcp?x=y"}, "<sip:a@b;transport=tcp?x=y>"},
	}
	for _, tt := range tests {
		got, err := ParseAddress(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.out {
			t.Errorf("String(%+v) = %q, want %q", got, s, tt.out)
		}
	}
	// Names that are not tokens are quoted and escaped.
	a := Address{"Tab\there \"q\" (x)", "im:a@b"}
	if s := a.String(); s != `"Tab\there \"q\" (x)" <im:a@b>` {
		t.Errorf("String = %s", s)
	}
	if back, err := ParseAddress(a.String()); err != nil || back != a {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}

func TestHeadersIteration(t *testing.T) {
	m, err := Parse(mustRead(t, "rfc3862-5.1.cpim"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for h := range m.Headers() {
		names = append(names, h.Prefix+"|"+h.Name+"|"+h.Lang)
		if h.Name == "WackyMessageOption" && (h.NS != "mid:MessageFeatures@id.foo.com" || h.Value != "Use-silly-font" || string(h.Raw) != "MyFeatures.WackyMessageOption: Use-silly-font\r\n") {
			t.Errorf("header %+v", h)
		}
	}
	want := []string{"|From|", "|To|", "|DateTime|", "|Subject|", "|Subject|fr", "|NS|", "|Require|", "MyFeatures|VitalMessageOption|", "MyFeatures|WackyMessageOption|"}
	if !slices.Equal(names, want) {
		t.Errorf("headers = %q", names)
	}
	var mime []string
	for k, v := range m.ContentHeaders() {
		mime = append(mime, k+"="+v)
	}
	if !slices.Equal(mime, []string{"Content-type=text/xml; charset=utf-8", "Content-ID=<1234567890@foo.com>"}) {
		t.Errorf("content headers = %q", mime)
	}
	if v, ok := m.ContentHeader("content-id"); !ok || v != "<1234567890@foo.com>" {
		t.Errorf("ContentHeader(content-id) = %q, %v", v, ok)
	}
	ns := map[string]string{}
	for p, u := range m.Namespaces() {
		ns[p] = u
	}
	if len(ns) != 1 || ns["MyFeatures"] != "mid:MessageFeatures@id.foo.com" {
		t.Errorf("Namespaces = %v", ns)
	}
}

func TestFoldedMIMEHeader(t *testing.T) {
	in := "From: <im:a@b>\r\n\r\nContent-Type: multipart/mixed;\r\n\tboundary=xyz\r\n\r\n--xyz--"
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.ContentType(); got != "multipart/mixed;\tboundary=xyz" {
		t.Errorf("ContentType = %q", got)
	}
	if !bytes.Equal(m.Bytes(), []byte(in)) {
		t.Error("round trip")
	}
}

// TestMIMEHeadersAtEOF: an entity whose headers run to the end of the input
// (an empty body with or without the final line end) is accepted.
func TestMIMEHeadersAtEOF(t *testing.T) {
	for _, in := range []string{
		"From: <im:a@b>\r\n\r\nContent-Type: text/plain\r\n",
		"From: <im:a@b>\r\n\r\nContent-Type: text/plain",
	} {
		m, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if m.ContentType() != "text/plain" || len(m.Body()) != 0 || string(m.Bytes()) != in {
			t.Errorf("%q: ContentType %q body %q", in, m.ContentType(), m.Body())
		}
	}
}

// TestMixedLineEnds: CRLF and bare LF mixed in one message (deviation),
// and the body's own line ends untouched.
func TestMixedLineEnds(t *testing.T) {
	in := "From: <im:a@b>\r\nTo: <im:c@d>\n\r\nContent-Type: a/b\n\tfolded\r\n\nbody\r\nmore\n"
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if to, _ := m.To(); len(to) != 1 || to[0].URI != "im:c@d" {
		t.Errorf("To = %v", to)
	}
	if m.ContentType() != "a/b\tfolded" || string(m.Body()) != "body\r\nmore\n" || string(m.Bytes()) != in {
		t.Errorf("ContentType %q body %q", m.ContentType(), m.Body())
	}
}

func TestRead(t *testing.T) {
	in := mustRead(t, "imdn-request.cpim")
	m, err := Read(bytes.NewReader(in), Limits{})
	if err != nil || !bytes.Equal(m.Bytes(), in) {
		t.Fatalf("Read: %v", err)
	}
	if _, err := Read(bytes.NewReader(in), Limits{MaxSize: int64(len(in) - 1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxSize: err = %v", err)
	}
	if _, err := Read(bytes.NewReader(in), Limits{MaxSize: int64(len(in))}); err != nil {
		t.Errorf("MaxSize exact: err = %v", err)
	}
}
