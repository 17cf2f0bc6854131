package iscomposing

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

type splitReader struct {
	b   []byte
	rng *rand.Rand
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(1+r.rng.IntN(len(r.b)), len(p))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.xml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		for _, r := range []io.Reader{
			iotest.OneByteReader(bytes.NewReader(data)),
			&splitReader{data, rand.New(rand.NewPCG(uint64(len(data)), 7))},
		} {
			s2, err2 := Read(r)
			if (err == nil) != (err2 == nil) || err == nil && !equal(s, s2) {
				t.Fatalf("split read: %+v, %v; Parse: %+v, %v", s2, err2, s, err)
			}
		}
		if err != nil {
			return
		}
		if s.State != Active && s.State != Idle {
			t.Fatalf("state %v", s.State)
		}
		if (s.StateToken == "active") != (s.State == Active) {
			t.Fatalf("token %q read as %v", s.StateToken, s.State)
		}
		// Encode → decode keeps the values (the token becomes canonical).
		back, err := Parse(s.Marshal())
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, s.Marshal())
		}
		if back.State != s.State || !back.LastActive.Equal(s.LastActive) || back.Refresh != s.Refresh {
			t.Fatalf("round trip %+v -> %+v", s, back)
		}
		if bytes.IndexFunc([]byte(s.ContentType), func(r rune) bool { return r == 0xFFFD }) < 0 && back.ContentType != s.ContentType {
			t.Fatalf("content type %q -> %q", s.ContentType, back.ContentType)
		}
	})
}
