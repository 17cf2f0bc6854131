package iscomposing

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func BenchmarkParse(b *testing.B) {
	in, err := os.ReadFile(filepath.Join("testdata", "rfc3994-active.xml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	s := Status{State: Active, ContentType: "text/plain", Refresh: 90 * time.Second}
	buf := s.Append(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = s.Append(buf[:0])
	}
}
