package cpim

import (
	"testing"
	"time"
)

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"imdn-request.cpim", "rfc3862-5.1.cpim"} {
		in := mustRead(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := Parse(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseAccess parses and reads what a session layer reads from
// every message: From, To, DateTime, imdn.Message-ID, Content-Type, body.
func BenchmarkParseAccess(b *testing.B) {
	in := mustRead(b, "imdn-request.cpim")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		m, err := Parse(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.From(); err != nil {
			b.Fatal(err)
		}
		if _, err := m.To(); err != nil {
			b.Fatal(err)
		}
		if _, err := m.DateTime(); err != nil {
			b.Fatal(err)
		}
		if _, ok := m.Get(NSIMDN, IMDNMessageID); !ok {
			b.Fatal("no Message-ID")
		}
		_ = m.ContentType()
		_ = m.Body()
	}
}

func BenchmarkBuild(b *testing.B) {
	anon := Address{URI: "sip:anonymous@anonymous.invalid"}
	now := time.Date(2026, 11, 30, 9, 15, 2, 123e6, time.UTC)
	body := []byte("Hello world!")
	var out []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(mustRead(b, "imdn-request.cpim"))))
	for b.Loop() {
		m := New()
		_ = m.SetFrom(anon)
		_ = m.AddTo(anon)
		_ = m.Set(NSIMDN, IMDNMessageID, "Kn9sl3Pe0o")
		m.SetDateTime(now)
		_ = m.Set(NSIMDN, IMDNDispositionNotification, "positive-delivery, display")
		_ = m.SetContent("text/plain;charset=UTF-8", body)
		_ = m.AddContentHeader("Content-Length", "12")
		out = m.Append(out[:0])
	}
}

// BenchmarkAppend re-serialises a parsed message into a reused buffer.
func BenchmarkAppend(b *testing.B) {
	in := mustRead(b, "imdn-request.cpim")
	m, err := Parse(in)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]byte, 0, len(in))
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		out = m.Append(out[:0])
	}
}
