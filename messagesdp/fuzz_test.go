package messagesdp_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/parley-im/parley/messagesdp"
)

// FuzzParse feeds random SDP text to Parse. It must never panic; on
// success the Marshal output must parse again to the same content and be
// a fixed point of Parse+Marshal. The seed corpus is every golden file in
// testdata/ plus testdata/fuzz/FuzzParse/.
//
// Parse takes a complete body (SIP delivers SDP whole, framed by
// Content-Length), so there is no split-delivery variant; line-end
// variants (LF, missing final CRLF) are covered by the corpus.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.sdp"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := messagesdp.Parse(in)
		if err != nil {
			return
		}
		out := d.Marshal()
		d2, err := messagesdp.Parse(out)
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n in: %q\nout: %q", err, in, out)
		}
		sameDescription(t, d, d2)
		if out2 := d2.Marshal(); !bytes.Equal(out, out2) {
			t.Fatalf("Marshal is not a fixed point:\n in: %q\nout: %q\nout2: %q", in, out, out2)
		}
		// Marshal of an unchanged description is stable (RFC 4975 §8.4).
		if again := d.Marshal(); !bytes.Equal(out, again) {
			t.Fatalf("second Marshal differs:\n%q\n%q", out, again)
		}
	})
}

func sameDescription(t *testing.T, a, b *messagesdp.Description) {
	t.Helper()
	if a.Origin != b.Origin || a.Address != b.Address || a.SessionName != b.SessionName ||
		!reflect.DeepEqual(a.Attributes, b.Attributes) || len(a.Streams) != len(b.Streams) {
		t.Fatalf("session differs:\n%+v\n%+v", a, b)
	}
	for i := range a.Streams {
		sa, sb := a.Streams[i], b.Streams[i]
		switch {
		case sa.Media != nil:
			if !sa.Media.Equal(sb.Media) {
				t.Fatalf("stream %d differs:\n%+v\n%+v", i, sa.Media, sb.Media)
			}
		case !reflect.DeepEqual(sa.Other, sb.Other) || (sa.Err == nil) != (sb.Err == nil):
			t.Fatalf("stream %d differs:\n%+v\n%+v", i, sa, sb)
		}
	}
}

// FuzzFileSelector: ParseFileSelector never panics, and String output
// parses back to the same selector.
func FuzzFileSelector(f *testing.F) {
	for _, s := range []string{
		`name:"My cool picture.jpg" type:image/jpeg size:32349 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E`,
		`type:text/plain;charset="utf-8" name:"a%22b"`, `size:0`, ``, `hash:sha-1:AA hash:md5:BB`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fs, err := messagesdp.ParseFileSelector(in)
		if err != nil {
			return
		}
		out := fs.String()
		back, err := messagesdp.ParseFileSelector(out)
		if err != nil {
			t.Fatalf("String output %q does not parse: %v (in %q)", out, err, in)
		}
		if !reflect.DeepEqual(fs, back) {
			t.Fatalf("round trip differs:\n%+v\n%+v", fs, back)
		}
	})
}
