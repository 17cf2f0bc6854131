package iscomposing

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseGolden(t *testing.T) {
	tests := []struct {
		file string
		want Status
	}{
		{"rfc3994-active.xml", Status{State: Active, ContentType: "text/plain", Refresh: 90 * time.Second, StateToken: "active"}},
		{"rfc3994-idle.xml", Status{State: Idle, LastActive: time.Date(2003, 1, 27, 10, 43, 0, 0, time.UTC), ContentType: "audio", StateToken: "idle"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(got, tt.want) {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
			// Build → parse gives the same values (StateToken aside).
			back, err := Parse(got.Marshal())
			if err != nil || !equal(back, got) {
				t.Errorf("round trip = %+v, %v", back, err)
			}
		})
	}
}

func equal(a, b Status) bool {
	return a.State == b.State && a.LastActive.Equal(b.LastActive) && a.ContentType == b.ContentType &&
		a.Refresh == b.Refresh && a.StateToken == b.StateToken
}

func TestParse(t *testing.T) {
	const open = `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">`
	tests := []struct {
		name string
		in   string
		want Status
		err  error
	}{
		{"minimal", open + `<state>active</state></isComposing>`, Status{State: Active, StateToken: "active"}, nil},
		{"unknown state is idle", open + `<state>typing-furiously</state></isComposing>`, Status{State: Idle, StateToken: "typing-furiously"}, nil},
		{"state case-sensitive", open + `<state>ACTIVE</state></isComposing>`, Status{State: Idle, StateToken: "ACTIVE"}, nil},
		{"whitespace trimmed", open + "<state>\n  active\n</state><refresh> 60 </refresh></isComposing>", Status{State: Active, StateToken: "active", Refresh: time.Minute}, nil},
		{"other namespace ignored", open + `<state>idle</state><x:foo xmlns:x="urn:x"><state>active</state></x:foo></isComposing>`, Status{State: Idle, StateToken: "idle"}, nil},
		{"unknown element ignored", open + `<state>idle</state><mood>happy</mood></isComposing>`, Status{State: Idle, StateToken: "idle"}, nil},
		{"prefixed namespace", `<ic:isComposing xmlns:ic="urn:ietf:params:xml:ns:im-iscomposing"><ic:state>active</ic:state></ic:isComposing>`, Status{State: Active, StateToken: "active"}, nil},
		{"no namespace tolerated", `<isComposing><state>active</state></isComposing>`, Status{State: Active, StateToken: "active"}, nil},
		{"entities", open + `<state>active</state><contenttype>text/x-&amp;</contenttype></isComposing>`, Status{State: Active, StateToken: "active", ContentType: "text/x-&"}, nil},
		{"lastactive offset", open + `<state>idle</state><lastactive>2003-01-27T11:43:00+01:00</lastactive></isComposing>`, Status{State: Idle, StateToken: "idle", LastActive: time.Date(2003, 1, 27, 10, 43, 0, 0, time.UTC)}, nil},
		{"no state", open + `<refresh>60</refresh></isComposing>`, Status{}, ErrNoState},
		{"state in wrong namespace", open + `<state xmlns="urn:x">active</state></isComposing>`, Status{}, ErrNoState},
		{"wrong root", `<presence xmlns="urn:ietf:params:xml:ns:pidf"/>`, Status{}, ErrNotIsComposing},
		{"wrong root namespace", `<isComposing xmlns="urn:x"><state>active</state></isComposing>`, Status{}, ErrNotIsComposing},
		{"empty", ``, Status{}, ErrSyntax},
		{"not XML", `hello`, Status{}, ErrSyntax},
		{"unclosed", open + `<state>active</state>`, Status{}, ErrSyntax},
		{"two roots", open + `<state>active</state></isComposing><isComposing/>`, Status{}, ErrSyntax},
		{"latin-1 declared", `<?xml version="1.0" encoding="ISO-8859-1"?>` + open + `<state>active</state></isComposing>`, Status{}, ErrSyntax},
		{"zero refresh", open + `<state>active</state><refresh>0</refresh></isComposing>`, Status{}, ErrBadValue},
		{"negative refresh", open + `<state>active</state><refresh>-5</refresh></isComposing>`, Status{}, ErrBadValue},
		{"huge refresh", open + `<state>active</state><refresh>99999999999</refresh></isComposing>`, Status{}, ErrBadValue},
		{"bad lastactive", open + `<state>idle</state><lastactive>yesterday</lastactive></isComposing>`, Status{}, ErrBadValue},
		{"repeated state", open + `<state>idle</state><state>active</state></isComposing>`, Status{}, ErrBadValue},
		{"too large", open + `<state>idle</state>` + strings.Repeat(" ", MaxSize) + `</isComposing>`, Status{}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && !equal(got, tt.want) {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMarshal(t *testing.T) {
	tests := []struct {
		in   Status
		want string
	}{
		{Status{}, `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>idle</state></isComposing>` + "\n"},
		{Status{State: Active, ContentType: "text/<plain>&", Refresh: 1500 * time.Millisecond, LastActive: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)},
			`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><lastactive>2026-01-02T03:04:05.006Z</lastactive><contenttype>text/&lt;plain&gt;&amp;</contenttype><refresh>2</refresh></isComposing>` + "\n"},
	}
	for _, tt := range tests {
		if got := string(tt.in.Marshal()); got != tt.want {
			t.Errorf("Marshal(%+v):\n got %s\nwant %s", tt.in, got, tt.want)
		}
		if got := tt.in.Append([]byte("x")); !bytes.Equal(got[1:], tt.in.Marshal()) || got[0] != 'x' {
			t.Error("Append does not append")
		}
	}
}

func TestXMLText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"text/plain", "text/plain"},
		{"a<b>&c", "a&lt;b&gt;&amp;c"},
		{"\t\n\r", "&#x9;&#xA;&#xD;"},
		{"\x00\x1f", "\uFFFD\uFFFD"},
		{"\xff", "\uFFFD"},
		{"\uFFFE\uFFFF ☺", "\uFFFD\uFFFD ☺"},
	} {
		if got := string(appendXMLText(nil, tt.in)); got != tt.want {
			t.Errorf("appendXMLText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// What it writes parses back.
	s := Status{ContentType: "a\tb<&>\x01"}
	back, err := Parse(s.Marshal())
	if err != nil || back.ContentType != "a\tb<&>\uFFFD" {
		t.Errorf("round trip = %q, %v", back.ContentType, err)
	}
}

func TestRead(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "rfc3994-active.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := Read(bytes.NewReader(b)); err != nil || s.State != Active {
		t.Fatalf("Read = %+v, %v", s, err)
	}
	if _, err := Read(strings.NewReader(strings.Repeat(" ", MaxSize+1))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Read too large: %v", err)
	}
}
