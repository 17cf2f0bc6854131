package messagesdp_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/parley-im/parley/messagesdp"
)

func TestParseFileSelector(t *testing.T) {
	tests := []struct {
		in   string
		want *messagesdp.FileSelector // nil: error
	}{
		{ // RFC 5547 §6, Figure 2
			`name:"My cool picture.jpg" type:image/jpeg size:32349 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E`,
			&messagesdp.FileSelector{Name: "My cool picture.jpg", Type: "image/jpeg", Size: 32349,
				Hashes: []messagesdp.FileHash{{Algorithm: "sha-1", Value: "72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E"}}},
		},
		{"", &messagesdp.FileSelector{Size: -1}}, // capability query (§8.5)
		{`size:0`, &messagesdp.FileSelector{Size: 0}},
		{`name:"a%22b%2Fc%25.txt"`, &messagesdp.FileSelector{Name: `a"b/c%.txt`, Size: -1}},
		{`type:text/plain;charset="utf-8";format="flowed"`, &messagesdp.FileSelector{Type: `text/plain;charset="utf-8";format="flowed"`, Size: -1}},
		{`hash:sha-1:AA hash:sha-256:BB:CC`, &messagesdp.FileSelector{Size: -1,
			Hashes: []messagesdp.FileHash{{Algorithm: "sha-1", Value: "AA"}, {Algorithm: "sha-256", Value: "BB:CC"}}}},
		{`  size:5  name:"x"`, &messagesdp.FileSelector{Name: "x", Size: 5}},
		{`name:x`, nil},
		{`name:""`, nil},
		{`name:"open`, nil},
		{`name:"a%2"`, nil},
		{`name:"a%zz"`, nil},
		{`name:"a"size:1`, nil},
		{`size:-1`, nil},
		{`size:1x`, nil},
		{`size:99999999999999999999`, nil},
		{`size:1 size:2`, nil},
		{`type:text`, nil},
		{`type:text/plain;charset=utf-8`, nil},
		{`type:text/plain;="x"`, nil},
		{`hash:sha-1`, nil},
		{`hash:sha-1:A`, nil},
		{`hash:sha-1:AA:`, nil},
		{`hash:sha-1:GG`, nil},
		{`colour:blue`, nil},
		{`blue`, nil},
	}
	for _, tt := range tests {
		got, err := messagesdp.ParseFileSelector(tt.in)
		if tt.want == nil {
			if !errors.Is(err, messagesdp.ErrInvalid) {
				t.Errorf("ParseFileSelector(%q) = %+v, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFileSelector(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		back, err := messagesdp.ParseFileSelector(got.String())
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("round trip of %q via %q: %+v, %v", tt.in, got.String(), back, err)
		}
	}
}

func TestFileSelectorNameEncoding(t *testing.T) {
	f := &messagesdp.FileSelector{Name: "../etc/pass\"wd\r\n%\\x", Size: -1}
	if got, want := f.String(), `name:"..%2Fetc%2Fpass%22wd%0D%0A%25%5Cx"`; got != want {
		t.Errorf("String = %s, want %s", got, want)
	}
}

func TestMediaFileSelector(t *testing.T) {
	d, err := messagesdp.Parse(golden(t, "file-transfer.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	m := d.Streams[0].Media
	fs, err := m.FileSelector()
	if err != nil {
		t.Fatal(err)
	}
	if fs.Name != "My cool picture.jpg" || fs.Size != 32349 || fs.Type != "image/jpeg" || len(fs.Hashes) != 1 {
		t.Errorf("FileSelector = %+v", fs)
	}
	if id, ok := m.Attribute("File-Transfer-Id"); !ok || id != "vBnG916bdberum2fFEABR1FR3ExZMUrd" {
		t.Errorf("file-transfer-id %q %v", id, ok)
	}
	if m.CEMA() {
		t.Error("CEMA on a file transfer line")
	}
	fs.Size = 100
	m.SetAttribute("file-selector", fs.String())
	m.SetAttribute("msrp-cema", "")
	if !m.CEMA() {
		t.Error("CEMA after SetAttribute")
	}
	back, err := messagesdp.Parse(d.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := back.Streams[0].Media.FileSelector(); got == nil || got.Size != 100 {
		t.Errorf("after round trip: %+v", got)
	}
	none := &messagesdp.Media{}
	if fs, err := none.FileSelector(); fs != nil || err != nil {
		t.Errorf("no file-selector: %v, %v", fs, err)
	}
}
