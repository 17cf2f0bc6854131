package messagesdp_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-im/parley/messagesdp"
)

// crlf turns a readable LF text into SDP with CRLF line ends.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func golden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// want is the expected typed content of one stream; a nil Media means a
// non-message (or refused) m-line whose media name is Other.
type want struct {
	Media *messagesdp.Media
	Other string
}

func TestParseGolden(t *testing.T) {
	tests := []struct {
		file    string
		session string // session-level c= address
		streams []want
	}{
		{"rfc4975-8.2-offer.sdp", "alice.example.com", []want{{Media: &messagesdp.Media{
			Proto: "TCP/MSRP", Port: 7394, Address: "alice.example.com", Formats: []string{"*"},
			AcceptTypes: []string{"text/plain"},
			Path:        []string{"msrp://alice.example.com:7394/2s93i9ek2a;tcp"},
		}}}},
		{"rfc4975-8.7-offer.sdp", "alice.example.com", []want{{Media: &messagesdp.Media{
			Proto: "TCP/MSRP", Port: 7394, Address: "alice.example.com", Formats: []string{"*"},
			AcceptTypes: []string{"message/cpim", "text/plain", "text/html"},
			Path:        []string{"msrp://alice.example.com:7394/2s93i93idj;tcp"},
		}}}},
		{"rfc4975-8.7-answer.sdp", "bob.example.com", []want{{Media: &messagesdp.Media{
			Proto: "TCP/MSRP", Port: 8493, Address: "bob.example.com", Formats: []string{"*"},
			AcceptTypes: []string{"message/cpim", "text/plain"},
			Path:        []string{"msrp://bob.example.com:8493/si438dsaodes;tcp"},
		}}}},
		{"rfc4975-11.1-offer.sdp", "alicepc.example.com", []want{{Media: &messagesdp.Media{
			Proto: "TCP/MSRP", Port: 7777, Address: "alicepc.example.com", Formats: []string{"*"},
			AcceptTypes: []string{"text/plain"},
			Path:        []string{"msrp://alicepc.example.com:7777/iau39soe2843z;tcp"},
		}}}},
		{"rfc4975-11.1-answer.sdp", "bob.example.com", []want{{Media: &messagesdp.Media{
			Proto: "TCP/MSRP", Port: 8888, Address: "bob.example.com", Formats: []string{"*"},
			AcceptTypes: []string{"text/plain"},
			Path:        []string{"msrp://bob.example.com:8888/9di4eae923wzd;tcp"},
		}}}},
		{"seed-4.3-offer.sdp", "alice.example.com", []want{{Media: &messagesdp.Media{
			Proto: "cpim/tcp", Port: 7394, Address: "alice.example.com", Formats: []string{"text/plain"},
			Direction: "both", URI: "im:2s93i9@alice.example.com",
		}}}},
		{"seed-4.3-answer.sdp", "bob.example.com", []want{{Media: &messagesdp.Media{
			Proto: "cpim/tcp", Port: 8493, Address: "bob.example.com", Formats: []string{"text/plain"},
			Direction: "active", URI: "im:849ro3@bob.example.com",
		}}}},
		{"seed-4.1-tls.sdp", "host.example.com", []want{{Media: &messagesdp.Media{
			Proto: "cpim/tls", Port: 8937, Address: "host.example.com",
			Formats:   []string{"text/plain", "text/html", "message/im-delivery-status"},
			Direction: "passive", URI: "im:e9eu7fe@foo.example.com",
		}}}},
		{"rcs-offer.sdp", "10.0.0.5", []want{{Media: &messagesdp.Media{
			Proto: "TCP/TLS/MSRP", Port: 9, Address: "10.0.0.5", Formats: []string{"*"},
			AcceptTypes:        []string{"message/cpim", "application/im-iscomposing+xml"},
			AcceptWrappedTypes: []string{"text/plain", "message/imdn+xml", "application/vnd.gsma.rcs-ft-http+xml"},
			Setup:              "actpass",
			Fingerprint:        "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF",
			Path:               []string{"msrps://10.0.0.5:9/hjdtr2k8h7wq;tcp"},
			Mode:               "sendrecv",
			Attributes:         []messagesdp.Attribute{{Key: "msrp-cema"}},
		}}}},
		{"rcs-answer.sdp", "192.0.2.20", []want{{Media: &messagesdp.Media{
			Proto: "TCP/TLS/MSRP", Port: 2855, Address: "192.0.2.20", Formats: []string{"*"},
			AcceptTypes:        []string{"message/cpim", "application/im-iscomposing+xml"},
			AcceptWrappedTypes: []string{"text/plain", "message/imdn+xml"},
			Setup:              "passive",
			Fingerprint:        "sha-256 19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B",
			Path:               []string{"msrps://192.0.2.20:2855/a8sdj3k2lqpw;tcp"},
			MaxSize:            1048576,
			Mode:               "sendrecv",
			Attributes:         []messagesdp.Attribute{{Key: "msrp-cema"}},
		}}}},
		{"relay-ipv6.sdp", "2001:db8::1", []want{
			{Media: &messagesdp.Media{
				Proto: "TCP/TLS/MSRP", Port: 2855, Address: "2001:db8::1", Formats: []string{"*"},
				AcceptTypes: []string{"message/cpim", "text/plain", "*"},
				Path: []string{"msrps://relay.example.net:2855/r8sjw92k;tcp",
					"msrps://[2001:db8::1]:49152/aa8x0q3vz;tcp"},
				Mode: "recvonly",
			}},
			{Media: &messagesdp.Media{Proto: "TCP/MSRP", Port: 0, Address: "2001:db8::1", Formats: []string{"*"}}},
		}},
		{"multi-offer.sdp", "192.0.2.1", []want{
			{Other: "audio"},
			{Media: &messagesdp.Media{
				Proto: "TCP/MSRP", Port: 7394, Address: "192.0.2.1", Formats: []string{"*"},
				AcceptTypes: []string{"message/cpim", "text/plain"},
				Path:        []string{"msrp://192.0.2.1:7394/2s93i93idj;tcp"},
			}},
			{Media: &messagesdp.Media{
				Proto: "cpim/tcp", Port: 7395, Address: "192.0.2.2",
				Formats:   []string{"text/plain", "message/im-delivery-status"},
				Direction: "both", URI: "im:2s93i9@alice.example.com",
			}},
		}},
		{"file-transfer.sdp", "host.atlanta.example.com", []want{{Media: &messagesdp.Media{
			Proto: "TCP/MSRP", Port: 7654, Address: "host.atlanta.example.com", Formats: []string{"*"},
			AcceptTypes:        []string{"message/cpim"},
			AcceptWrappedTypes: []string{"*"},
			Path:               []string{"msrp://host.atlanta.example.com:7654/jshA7we;tcp"},
			Mode:               "sendonly", // inherited from the session level
			Attributes: []messagesdp.Attribute{
				{Key: "file-selector", Value: `name:"My cool picture.jpg" type:image/jpeg size:32349 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E`},
				{Key: "file-transfer-id", Value: "vBnG916bdberum2fFEABR1FR3ExZMUrd"},
				{Key: "file-disposition", Value: "attachment"},
				{Key: "file-date", Value: `creation:"Mon, 15 May 2006 15:01:31 +0300"`},
				{Key: "file-icon", Value: "cid:id2@alicepc.example.com"},
				{Key: "file-range", Value: "1-32349"},
			},
		}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in := golden(t, tt.file)
			d, err := messagesdp.Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Address != tt.session {
				t.Errorf("session address %q, want %q", d.Address, tt.session)
			}
			if len(d.Streams) != len(tt.streams) {
				t.Fatalf("%d streams, want %d", len(d.Streams), len(tt.streams))
			}
			for i, w := range tt.streams {
				s := d.Streams[i]
				if s.Err != nil {
					t.Errorf("stream %d: %v", i, s.Err)
				}
				if w.Media == nil {
					if s.Other == nil || s.Other.MediaName.Media != w.Other {
						t.Errorf("stream %d: got %+v, want other m=%s", i, s, w.Other)
					}
					continue
				}
				if !s.Media.Equal(w.Media) {
					t.Errorf("stream %d:\n got %+v\nwant %+v", i, *s.Media, *w.Media)
				}
			}
			// Byte-for-byte round trip, twice: the o= line must not change.
			for range 2 {
				if out := d.Marshal(); !bytes.Equal(out, in) {
					t.Errorf("round trip differs:\n got %q\nwant %q", out, in)
				}
			}
		})
	}
}

func TestParseStreamIndexes(t *testing.T) {
	d, err := messagesdp.Parse(golden(t, "multi-offer.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	var protos []string
	for _, m := range d.Messages() {
		idx = append(idx, m.Index)
		protos = append(protos, m.Media.Proto)
	}
	if !reflect.DeepEqual(idx, []int{1, 2}) || !reflect.DeepEqual(protos, []string{"TCP/MSRP", "cpim/tcp"}) {
		t.Errorf("Messages: indexes %v protos %v", idx, protos)
	}
	if got := d.Streams[0].Other.Attributes[0].Value; got != "0 PCMU/8000" {
		t.Errorf("audio attribute %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		sdp  string
		want error
	}{
		{"empty", "", messagesdp.ErrSyntax},
		{"version only", "v=0\n", messagesdp.ErrSyntax},
		{"no t-line", "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\n", messagesdp.ErrSyntax},
		{"bad version", "v=1\no=- 1 1 IN IP4 h\ns=-\nt=0 0\n", messagesdp.ErrSyntax},
		{"bare CR", "v=0\ro=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", messagesdp.ErrSyntax},
		{"NUL", "v=0\no=- 1 1 IN IP4 h\ns=-\x00\nt=0 0\n", messagesdp.ErrSyntax},
		{"attribute before t", "v=0\no=- 1 1 IN IP4 h\ns=-\na=x\nt=0 0\n", messagesdp.ErrSyntax},
		{"too large", "v=0\n" + strings.Repeat("a=x\n", messagesdp.MaxDescriptionSize/4), messagesdp.ErrSyntax},
		{"bad port", "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\nm=message 70000 TCP/MSRP *\n", messagesdp.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := messagesdp.Parse([]byte(tt.sdp))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, %v; want error %v", d, err, tt.want)
			}
		})
	}
}

// An m=message line that breaks RFC 4975 §8 does not fail Parse: it stays
// in Stream.Other with Err set, so the answerer can reject just that line.
func TestParseMediaErrors(t *testing.T) {
	const head = "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\n"
	const path = "a=path:msrp://h:1/s;tcp\n"
	tests := []struct {
		name, media, want string
	}{
		{"msrp fmt", "m=message 1 TCP/MSRP text/plain\na=accept-types:*\n" + path, `must be "*"`},
		{"msrp two fmts", "m=message 1 TCP/MSRP * *\na=accept-types:*\n" + path, `must be "*"`},
		{"no path", "m=message 1 TCP/MSRP *\na=accept-types:*\n", "without a=path"},
		{"no accept-types", "m=message 1 TCP/MSRP *\n" + path, "without a=accept-types"},
		{"empty path", "m=message 1 TCP/MSRP *\na=accept-types:*\na=path: \n", "no URI"},
		{"path no port", "m=message 1 TCP/MSRP *\na=accept-types:*\na=path:msrp://h/s;tcp\n", "no explicit port"},
		{"path bad port", "m=message 1 TCP/MSRP *\na=accept-types:*\na=path:msrp://h:0/s;tcp\n", "port is not"},
		{"path v6 no port", "m=message 1 TCP/MSRP *\na=accept-types:*\na=path:msrp://[::1]/s;tcp\n", "no explicit port"},
		{"path scheme", "m=message 1 TCP/MSRP *\na=accept-types:*\na=path:sip://h:1/s;tcp\n", "scheme"},
		{"path no transport", "m=message 1 TCP/MSRP *\na=accept-types:*\na=path:msrp://h:1/s\n", "transport"},
		{"path empty transport", "m=message 1 TCP/MSRP *\na=accept-types:*\na=path:msrp://h:1/s;\n", "transport"},
		{"path empty session", "m=message 1 TCP/MSRP *\na=accept-types:*\na=path:msrp://h:1/;tcp\n", "session-id"},
		{"two paths", "m=message 1 TCP/MSRP *\na=accept-types:*\n" + path + path, "more than one a=path"},
		{"two modes", "m=message 1 TCP/MSRP *\na=accept-types:*\n" + path + "a=sendonly\na=recvonly\n", "more than one"},
		{"max-size", "m=message 1 TCP/MSRP *\na=accept-types:*\n" + path + "a=max-size:-5\n", "not a number"},
		{"max-size overflow", "m=message 1 TCP/MSRP *\na=accept-types:*\n" + path + "a=max-size:99999999999999999999\n", "out of range"},
		{"setup", "m=message 1 TCP/MSRP *\na=accept-types:*\n" + path + "a=setup:sideways\n", "want active"},
		{"fingerprint", "m=message 1 TCP/TLS/MSRP *\na=accept-types:*\na=path:msrps://h:1/s;tcp\na=fingerprint:sha-256\n", "hash function"},
		{"cpim no text/plain", "m=message 1 cpim/tcp text/html\na=uri:im:x@h\n", "lacks text/plain"},
		{"cpim no uri", "m=message 1 cpim/tcp text/plain\n", "without a=uri"},
		{"cpim direction", "m=message 1 cpim/tcp text/plain\na=uri:im:x@h\na=direction:up\n", "want both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := messagesdp.Parse([]byte(head + tt.media))
			if err != nil {
				t.Fatal(err)
			}
			s := d.Streams[0]
			if s.Media != nil || s.Other == nil || !errors.Is(s.Err, messagesdp.ErrInvalid) {
				t.Fatalf("stream = %+v, want refused with ErrInvalid", s)
			}
			if !strings.Contains(s.Err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", s.Err, tt.want)
			}
			// The refused line is still written back unchanged.
			if out := d.Marshal(); !bytes.Equal(out, crlf(head+tt.media)) {
				t.Errorf("round trip:\n got %q\nwant %q", out, crlf(head+tt.media))
			}
		})
	}
}

// A rejected line (port 0) needs no path or accept-types (RFC 3264 §6).
func TestParseRejectedLine(t *testing.T) {
	d, err := messagesdp.Parse(crlf("v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\nm=message 0 TCP/MSRP *\nm=message 0 cpim/tcp text/html\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range d.Streams {
		if s.Media == nil || s.Media.Port != 0 {
			t.Errorf("stream %d: %+v (%v)", i, s, s.Err)
		}
	}
}

// Parse accepts LF line ends and a missing final line end; Marshal writes
// the canonical CRLF form.
func TestParseLenientLineEnds(t *testing.T) {
	in := string(golden(t, "rfc4975-8.2-offer.sdp"))
	lf := strings.TrimSuffix(strings.ReplaceAll(in, "\r\n", "\n"), "\n")
	d, err := messagesdp.Parse([]byte(lf))
	if err != nil {
		t.Fatal(err)
	}
	if out := d.Marshal(); string(out) != in {
		t.Errorf("got %q, want %q", out, in)
	}
}

// Attribute names compare case-insensitively; the original spelling is
// kept on output.
func TestParseAttributeCase(t *testing.T) {
	in := crlf("v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\nm=message 9 TCP/MSRP *\na=Accept-Types:text/plain\na=PATH:msrp://h:9/s;tcp\na=Setup:Active\n")
	d, err := messagesdp.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Streams[0].Media
	if m == nil {
		t.Fatal(d.Streams[0].Err)
	}
	if m.Setup != "active" || len(m.Path) != 1 || m.AcceptTypes[0] != "text/plain" {
		t.Errorf("got %+v", *m)
	}
	if out := d.Marshal(); !bytes.Equal(out, in) {
		t.Errorf("round trip: %q", out)
	}
}

// Session-level a=setup, a=fingerprint and direction flags apply to media
// without their own (RFC 4145 §4, RFC 4572 §5, RFC 4566 §6); they are not
// copied to media level on output. Further fingerprints stay in Attributes.
func TestParseSessionLevelInheritance(t *testing.T) {
	in := crlf("v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\na=setup:actpass\na=fingerprint:sha-1 AA:BB\na=recvonly\n" +
		"m=message 9 TCP/TLS/MSRP *\nc=IN IP4 h\na=accept-types:*\na=path:msrps://h:9/s;tcp\na=fingerprint:sha-256 CC:DD\na=fingerprint:sha-1 EE\n" +
		"m=image 5000 udptl t38\n")
	d, err := messagesdp.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Streams[0].Media
	if m == nil {
		t.Fatal(d.Streams[0].Err)
	}
	want := &messagesdp.Media{
		Proto: "TCP/TLS/MSRP", Port: 9, Address: "h", Formats: []string{"*"},
		AcceptTypes: []string{"*"}, Path: []string{"msrps://h:9/s;tcp"},
		Setup: "actpass", Mode: "recvonly", Fingerprint: "sha-256 CC:DD",
		Attributes: []messagesdp.Attribute{{Key: "fingerprint", Value: "sha-1 EE"}},
	}
	if !m.Equal(want) {
		t.Errorf("got %+v\nwant %+v", *m, *want)
	}
	if o := d.Streams[1].Other; o == nil || o.MediaName.Media != "image" || strings.Join(o.MediaName.Protos, "/") != "udptl" {
		t.Errorf("m=image stream: %+v", d.Streams[1])
	}
	if out := d.Marshal(); !bytes.Equal(out, in) {
		t.Errorf("round trip:\n got %q\nwant %q", out, in)
	}
	if s := d.Session(); s == nil || len(s.Attributes) != 3 || s.MediaDescriptions != nil {
		t.Errorf("Session() = %+v", s)
	}
}
