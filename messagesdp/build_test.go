package messagesdp_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/messagesdp"
	"github.com/pion/sdp/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// checkGolden compares got with testdata/name, rewriting it under -update.
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
		t.Errorf("%s differs:\n got %q\nwant %q", name, got, want)
	}
}

// fixOrigin replaces the random origin of a built description so that
// output can be compared with a golden file.
func fixOrigin(d *messagesdp.Description, user string, id uint64) {
	d.Origin.Username = user
	d.Origin.SessionID = id
	d.Origin.SessionVersion = id
}

func TestBuildGolden(t *testing.T) {
	tests := []struct {
		file  string
		media []*messagesdp.Media
	}{
		{"build-msrp.sdp", []*messagesdp.Media{{
			Proto: messagesdp.ProtoMSRP, Port: 7394, Address: "alice.example.com", Formats: []string{"*"},
			AcceptTypes: []string{"message/cpim", "text/plain", "text/html"},
			Path:        []string{"msrp://alice.example.com:7394/2s93i93idj;tcp"},
		}}},
		{"build-rcs.sdp", []*messagesdp.Media{{
			Proto: messagesdp.ProtoMSRPS, Port: 9, Address: "10.0.0.5", Formats: []string{"*"},
			AcceptTypes:        []string{"message/cpim", "application/im-iscomposing+xml"},
			AcceptWrappedTypes: []string{"text/plain", "message/imdn+xml"},
			MaxSize:            1 << 20,
			Setup:              messagesdp.SetupActpass,
			Fingerprint:        "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF",
			Path:               []string{"msrps://10.0.0.5:9/hjdtr2k8h7wq;tcp"},
			Mode:               messagesdp.ModeSendRecv,
			Attributes:         []messagesdp.Attribute{{Key: "msrp-cema"}},
		}}},
		{"build-both.sdp", []*messagesdp.Media{
			{
				Proto: messagesdp.ProtoMSRP, Port: 2855, Address: "192.0.2.1", Formats: []string{"*"},
				AcceptTypes: []string{"message/cpim", "text/plain"},
				Path:        []string{"msrp://192.0.2.1:2855/k2j3h4g5;tcp"},
				Setup:       messagesdp.SetupActpass,
			},
			{
				Proto: messagesdp.ProtoCPIMTCP, Port: 7395, Address: "192.0.2.1",
				Formats:   []string{"text/plain", "message/im-delivery-status"},
				Direction: messagesdp.DirectionBoth, URI: "im:2s93i9@alice.example.com",
			},
			{
				// Another address gets its own media-level c= line.
				Proto: messagesdp.ProtoCPIMTLS, Port: 7396, Address: "2001:db8::7",
				Formats:   []string{"text/plain"},
				Direction: messagesdp.DirectionPassive, URI: "im:x8s7d6@alice.example.com",
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d, err := messagesdp.Build(tt.media...)
			if err != nil {
				t.Fatal(err)
			}
			if d.Origin.SessionID == 0 || d.Origin.SessionID != d.Origin.SessionVersion || d.Origin.UnicastAddress != tt.media[0].Address {
				t.Errorf("origin %+v", d.Origin)
			}
			fixOrigin(d, "alice", 2890844526)
			out := d.Marshal()
			checkGolden(t, tt.file, out)
			back, err := messagesdp.Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range tt.media {
				if got := back.Streams[i].Media; !got.Equal(m) {
					t.Errorf("stream %d: parsed back %+v (%v), want %+v", i, got, back.Streams[i].Err, m)
				}
			}
		})
	}
}

// RFC 4975 §8.4 and RFC 3264 §8: an unchanged description keeps its o=
// line; any change increments the version once.
func TestMarshalVersion(t *testing.T) {
	d, err := messagesdp.Parse(golden(t, "rcs-offer.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	v := d.Origin.SessionVersion
	steps := []struct {
		name   string
		change func()
		bump   bool
	}{
		{"unchanged", func() {}, false},
		{"new path", func() { d.Streams[0].Media.Path = []string{"msrps://10.0.0.5:9/newsession1;tcp"} }, true},
		{"unchanged after change", func() {}, false},
		{"same value again", func() { d.Streams[0].Media.Path = []string{"msrps://10.0.0.5:9/newsession1;tcp"} }, false},
		{"session attribute", func() { d.Attributes = append(d.Attributes, messagesdp.Attribute{Key: "x-test"}) }, true},
		{"origin only", func() { d.Origin.Username = "bob" }, false},
	}
	for _, s := range steps {
		s.change()
		d.Marshal()
		if s.bump {
			v++
		}
		if d.Origin.SessionVersion != v {
			t.Errorf("%s: version %d, want %d", s.name, d.Origin.SessionVersion, v)
		}
	}
}

// Changing a parsed media rewrites only the changed lines, in place; new
// lines follow the original ones.
func TestMarshalChangedInPlace(t *testing.T) {
	d, err := messagesdp.Parse(golden(t, "rcs-offer.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	m := d.Streams[0].Media
	m.Setup = messagesdp.SetupActive
	m.Port = 2855
	m.MaxSize = 4096
	m.Mode = ""
	m.Attributes = append(m.Attributes, messagesdp.Attribute{Key: "x-new", Value: "1"})
	want := strings.ReplaceAll(string(golden(t, "rcs-offer.sdp")), "3917421935 3917421935", "3917421935 3917421936")
	want = strings.Replace(want, "m=message 9 ", "m=message 2855 ", 1)
	want = strings.Replace(want, "a=setup:actpass", "a=setup:active", 1)
	want = strings.Replace(want, "a=sendrecv\r\n", "a=max-size:4096\r\na=x-new:1\r\n", 1)
	if out := d.Marshal(); string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// MediaDescription stands alone: values inherited from the session level
// are written at media level, with a media-level c= line.
func TestMediaDescriptionStandalone(t *testing.T) {
	d, err := messagesdp.Parse(golden(t, "file-transfer.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	md := d.Streams[0].Media.MediaDescription()
	if md.ConnectionInformation == nil || md.ConnectionInformation.Address.Address != "host.atlanta.example.com" {
		t.Errorf("c= %+v", md.ConnectionInformation)
	}
	if v, ok := md.Attribute("sendonly"); !ok || v != "" {
		t.Errorf("sendonly not written: %+v", md.Attributes)
	}
	if v, _ := md.Attribute("file-selector"); !strings.HasPrefix(v, `name:"My cool picture.jpg"`) {
		t.Errorf("file-selector %q", v)
	}
	if md.MediaTitle == nil || *md.MediaTitle != "This is my latest picture" {
		t.Errorf("i= %v", md.MediaTitle)
	}
	back, err := messagesdp.ParseMedia(md, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(d.Streams[0].Media) {
		t.Errorf("ParseMedia(MediaDescription()) = %+v", back)
	}
}

func TestValidate(t *testing.T) {
	ok := func() *messagesdp.Media {
		return &messagesdp.Media{
			Proto: messagesdp.ProtoMSRP, Port: 9, Address: "h", Formats: []string{"*"},
			AcceptTypes: []string{"text/plain"}, Path: []string{"msrp://h:9/s;tcp"},
		}
	}
	tests := []struct {
		name   string
		change func(m *messagesdp.Media)
		want   string // "" for valid
	}{
		{"valid", func(*messagesdp.Media) {}, ""},
		{"v6 path", func(m *messagesdp.Media) { m.Path = []string{"msrp://user@[::1]:9/s;ws;x=y"} }, ""},
		{"path without session-id", func(m *messagesdp.Media) { m.Path = []string{"msrp://relay.example:2855;tcp"} }, ""},
		{"CRLF in path", func(m *messagesdp.Media) { m.Path = []string{"msrp://h:9/s;tcp\r\na=evil"} }, "control character"},
		{"space in type", func(m *messagesdp.Media) { m.AcceptTypes = []string{"text/plain text/html"} }, "space"},
		{"empty fmt", func(m *messagesdp.Media) { m.Formats = nil }, "empty fmt"},
		{"port range", func(m *messagesdp.Media) { m.Port = 65536 }, "out of range"},
		{"no address", func(m *messagesdp.Media) { m.Address = "" }, "no c= address"},
		{"rejected needs little", func(m *messagesdp.Media) { *m = messagesdp.Media{Proto: "TCP/MSRP", Formats: []string{"*"}} }, ""},
		{"typed key in Attributes", func(m *messagesdp.Media) { m.Attributes = []messagesdp.Attribute{{Key: "path", Value: "x"}} }, "belongs in its field"},
		{"mode in Attributes", func(m *messagesdp.Media) { m.Attributes = []messagesdp.Attribute{{Key: "sendonly"}} }, "belongs in its field"},
		{"second fingerprint", func(m *messagesdp.Media) {
			m.Fingerprint = "sha-256 AA"
			m.Attributes = []messagesdp.Attribute{{Key: "fingerprint", Value: "sha-1 BB"}}
		}, ""},
		{"lone extra fingerprint", func(m *messagesdp.Media) {
			m.Attributes = []messagesdp.Attribute{{Key: "fingerprint", Value: "sha-1 BB"}}
		}, "belongs in its field"},
		{"colon in key", func(m *messagesdp.Media) { m.Attributes = []messagesdp.Attribute{{Key: "a:b"}} }, "contains ':'"},
		{"empty key", func(m *messagesdp.Media) { m.Attributes = []messagesdp.Attribute{{Value: "v"}} }, "empty"},
		{"LF in value", func(m *messagesdp.Media) { m.Attributes = []messagesdp.Attribute{{Key: "k", Value: "a\nb"}} }, "CR, LF"},
		{"bad mode", func(m *messagesdp.Media) { m.Mode = "send" }, "mode"},
		{"bad setup", func(m *messagesdp.Media) { m.Setup = "Active" }, "a=setup"},
		{"negative max-size", func(m *messagesdp.Media) { m.MaxSize = -1 }, "max-size"},
		{"unknown proto is kept", func(m *messagesdp.Media) {
			*m = messagesdp.Media{Proto: "TCP/BFCP", Port: 5, Address: "h", Formats: []string{"*"}}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok()
			tt.change(m)
			err := m.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v", err)
			case tt.want != "" && (!errors.Is(err, messagesdp.ErrInvalid) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
			if _, berr := messagesdp.Build(m); (berr == nil) != (err == nil) {
				t.Errorf("Build error %v disagrees with Validate %v", berr, err)
			}
		})
	}
}

// Marshal never lets a value start a new line, even when Validate was
// skipped.
func TestMarshalNoInjection(t *testing.T) {
	d, err := messagesdp.Build(&messagesdp.Media{
		Proto: messagesdp.ProtoMSRP, Port: 9, Address: "h", Formats: []string{"*"},
		AcceptTypes: []string{"text/plain"}, Path: []string{"msrp://h:9/s;tcp"},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Streams[0].Media.URI = "im:x\r\nm=audio 1 RTP/AVP 0"
	d.Attributes = []messagesdp.Attribute{{Key: "k\n", Value: "v\r\nc=IN IP4 evil"}}
	if err := d.Validate(); err == nil {
		t.Error("Validate accepted CRLF")
	}
	back, err := messagesdp.Parse(d.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Streams) != 1 || back.Address != "h" {
		t.Errorf("injected lines: %+v", back)
	}
}

func TestNewAnswer(t *testing.T) {
	offer, err := messagesdp.Parse(golden(t, "multi-offer.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	mine := &messagesdp.Media{
		Proto: messagesdp.ProtoMSRP, Port: 8493, Address: "192.0.2.9", Formats: []string{"*"},
		AcceptTypes: []string{"message/cpim", "text/plain"},
		Path:        []string{"msrp://192.0.2.9:8493/si438dsaodes;tcp"},
		Setup:       messagesdp.SetupPassive,
	}
	ans, err := messagesdp.NewAnswer(offer, map[int]*messagesdp.Media{1: mine})
	if err != nil {
		t.Fatal(err)
	}
	fixOrigin(ans, "bob", 2890844730)
	out := ans.Marshal()
	checkGolden(t, "multi-answer.sdp", out)
	back, err := messagesdp.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Streams) != len(offer.Streams) {
		t.Fatalf("%d m-lines, want %d (RFC 3264 §6)", len(back.Streams), len(offer.Streams))
	}
	if back.Streams[0].Other.MediaName.Port.Value != 0 || back.Streams[2].Media.Port != 0 || !back.Streams[1].Media.Equal(mine) {
		t.Errorf("answer streams %+v", back.Streams)
	}

	for name, acc := range map[string]map[int]*messagesdp.Media{
		"audio index":  {0: mine},
		"out of range": {3: mine},
		"invalid":      {1: {Proto: "TCP/MSRP", Port: 1, Formats: []string{"*"}}},
	} {
		if _, err := messagesdp.NewAnswer(offer, acc); !errors.Is(err, messagesdp.ErrInvalid) {
			t.Errorf("%s: NewAnswer = %v, want ErrInvalid", name, err)
		}
	}
}

// Every change to a parsed media survives Marshal and Parse: unchanged
// lines are reused, changed ones regenerated, in every golden file.
func TestMarshalChanges(t *testing.T) {
	changes := []struct {
		name string
		fn   func(d *messagesdp.Description, m *messagesdp.Media)
	}{
		{"port", func(_ *messagesdp.Description, m *messagesdp.Media) { m.Port = 1234 }},
		{"address", func(_ *messagesdp.Description, m *messagesdp.Media) { m.Address = "198.51.100.7" }},
		{"address v6", func(_ *messagesdp.Description, m *messagesdp.Media) { m.Address = "2001:db8::99" }},
		{"session address", func(d *messagesdp.Description, _ *messagesdp.Media) { d.Address = "203.0.113.1" }},
		{"path", func(_ *messagesdp.Description, m *messagesdp.Media) {
			if m.Path != nil {
				m.Path = append([]string{"msrp://relay.example:2855/r1;tcp"}, m.Path...)
			}
		}},
		{"accept-types", func(_ *messagesdp.Description, m *messagesdp.Media) {
			if m.AcceptTypes != nil {
				m.AcceptTypes = []string{"text/plain"}
			}
		}},
		{"wrapped types", func(_ *messagesdp.Description, m *messagesdp.Media) { m.AcceptWrappedTypes = []string{"text/html"} }},
		{"no wrapped types", func(_ *messagesdp.Description, m *messagesdp.Media) { m.AcceptWrappedTypes = nil }},
		{"max-size", func(_ *messagesdp.Description, m *messagesdp.Media) { m.MaxSize = 77 }},
		{"no max-size", func(_ *messagesdp.Description, m *messagesdp.Media) { m.MaxSize = 0 }},
		{"setup", func(_ *messagesdp.Description, m *messagesdp.Media) { m.Setup = messagesdp.SetupPassive }},
		{"fingerprint", func(_ *messagesdp.Description, m *messagesdp.Media) { m.Fingerprint = "sha-1 01:02" }},
		{"mode", func(_ *messagesdp.Description, m *messagesdp.Media) { m.Mode = messagesdp.ModeInactive }},
		{"uri", func(_ *messagesdp.Description, m *messagesdp.Media) {
			if m.URI != "" {
				m.URI = "im:new@example.com"
			}
		}},
		{"direction", func(_ *messagesdp.Description, m *messagesdp.Media) { m.Direction = messagesdp.DirectionActive }},
		{"formats", func(_ *messagesdp.Description, m *messagesdp.Media) {
			if messagesdp.IsCPIM(m.Proto) {
				m.Formats = append(m.Formats, "text/html")
			}
		}},
		{"drop first extra", func(_ *messagesdp.Description, m *messagesdp.Media) {
			if len(m.Attributes) > 0 {
				m.Attributes = m.Attributes[1:]
			}
		}},
		{"add extra", func(_ *messagesdp.Description, m *messagesdp.Media) {
			m.Attributes = append(m.Attributes, messagesdp.Attribute{Key: "x-extra", Value: "v"})
		}},
		{"reject", func(d *messagesdp.Description, m *messagesdp.Media) { *m = *messagesdp.Reject(m) }},
		{"everything", func(d *messagesdp.Description, m *messagesdp.Media) {
			m.Port, m.Setup, m.MaxSize, m.Direction = 4321, messagesdp.SetupActive, 5, messagesdp.DirectionPassive
			m.Attributes = append(m.Attributes, messagesdp.Attribute{Key: "x-extra"})
		}},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		for _, c := range changes {
			t.Run(filepath.Base(file)+"/"+c.name, func(t *testing.T) {
				d, err := messagesdp.Parse(golden(t, filepath.Base(file)))
				if err != nil {
					t.Fatal(err)
				}
				for _, im := range d.Messages() {
					c.fn(d, im.Media)
				}
				if err := d.Validate(); err != nil {
					t.Skipf("change makes this file invalid: %v", err)
				}
				out := d.Marshal()
				back, err := messagesdp.Parse(out)
				if err != nil {
					t.Fatalf("Parse(Marshal) = %v\n%s", err, out)
				}
				for _, im := range d.Messages() {
					got, want := back.Streams[im.Index].Media, im.Media.Clone()
					// An empty field means "not at media level": the
					// session-level value applies after parsing.
					inh, err := messagesdp.ParseMedia(&sdp.MediaDescription{MediaName: sdp.MediaName{
						Media: "message", Protos: []string{"TCP", "MSRP"}, Formats: []string{"*"}}}, back.Session())
					if err != nil {
						t.Fatal(err)
					}
					if want.Address == "" {
						want.Address = inh.Address
					}
					if want.Mode == "" {
						want.Mode = inh.Mode
					}
					if want.Setup == "" {
						want.Setup = inh.Setup
					}
					if want.Fingerprint == "" {
						want.Fingerprint = inh.Fingerprint
					}
					if !got.Equal(want) {
						t.Errorf("m-line %d:\n got %+v (%v)\nwant %+v\n%s", im.Index, got, back.Streams[im.Index].Err, want, out)
					}
				}
			})
		}
	}
}
