package cpim

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// splitReader returns its data in pieces of random length.
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

var fuzzLimits = Limits{MaxHeaderLines: 64, MaxLineLength: 1024, MaxSize: 1 << 20}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.cpim"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m *Message
		var err error
		allocs := testing.AllocsPerRun(1, func() { m, err = ParseWithLimits(data, fuzzLimits) })

		// Split delivery: the same outcome however the input arrives.
		seed := uint64(len(data))
		if len(data) > 0 {
			seed = seed<<8 | uint64(data[0])
		}
		for _, r := range []io.Reader{
			iotest.OneByteReader(bytes.NewReader(data)),
			&splitReader{data, rand.New(rand.NewPCG(seed, 1))},
		} {
			m2, err2 := Read(r, fuzzLimits)
			if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
				t.Fatalf("Read split: %v, Parse: %v", err2, err)
			}
			if err == nil && !bytes.Equal(m2.Bytes(), data) {
				t.Fatal("Read split: different bytes")
			}
		}

		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error %v (%T) is not a *ParseError with a line", err, err)
			}
			return
		}
		// Bounded work: the limits held and allocation is linear in the
		// number of header lines, not in the input size.
		lines := len(m.fields) + len(m.mime)
		if lines > fuzzLimits.MaxHeaderLines {
			t.Fatalf("%d header lines parsed, limit %d", lines, fuzzLimits.MaxHeaderLines)
		}
		for i := range m.fields {
			if len(m.fields[i].line) > fuzzLimits.MaxLineLength+2 {
				t.Fatalf("line of %d octets parsed", len(m.fields[i].line))
			}
		}
		if max := float64(4*lines + 16); allocs > max {
			t.Fatalf("Parse made %v allocations for %d header lines", allocs, lines)
		}
		// Round-trip identity.
		if got := m.Append(nil); !bytes.Equal(got, data) {
			t.Fatalf("Append:\n got %q\nwant %q", got, data)
		}
		if m.Len() != len(data) {
			t.Fatalf("Len = %d, want %d", m.Len(), len(data))
		}
		// Every accessor works (errors allowed, panics not).
		_, _ = m.From()
		_, _ = m.To()
		_, _ = m.CC()
		_, _ = m.DateTime()
		_, _ = m.Require()
		_ = m.Subjects()
		_, _ = m.Subject("")
		_ = m.ContentType()
		for h := range m.Headers() {
			if v, ok := m.Get(h.NS, h.Name); !ok {
				t.Fatalf("Get(%q, %q) missing a header Headers listed", h.NS, h.Name)
			} else if h.Value != v && len(m.Values(h.NS, h.Name)) == 1 {
				t.Fatalf("Get = %q, Headers says %q", v, h.Value)
			}
		}
		for range m.ContentHeaders() {
		}
		// Modifying a parsed message always yields valid message/cpim.
		c := m.Clone()
		if err := c.Set(NSIMDN, IMDNMessageID, "fuzz\tid"); err != nil {
			t.Fatal(err)
		}
		if err := c.AddContentHeader("X-Fuzz", "1"); err != nil {
			t.Fatal(err)
		}
		p, err := Parse(c.Bytes())
		if err != nil {
			t.Fatalf("modified message does not parse: %v\n%q", err, c.Bytes())
		}
		if v, _ := p.Get(NSIMDN, IMDNMessageID); v != "fuzz\tid" {
			t.Fatalf("Message-ID = %q", v)
		}
		if !bytes.Equal(p.Body(), m.Body()) || p.ContentType() != m.ContentType() {
			t.Fatalf("modification changed the entity: %q", c.Bytes())
		}
		if !bytes.Equal(m.Bytes(), data) {
			t.Fatal("modifying the clone changed the original")
		}
	})
}

// FuzzBuild: whatever the setters accept parses back to the same values.
func FuzzBuild(f *testing.F) {
	f.Add("Alice", "sip:alice@example.com", "hello", "fr", "urn:example:x", "H", "v")
	f.Add(" \"q\" ", "im:a@b", "\t\\u0041 ", "", "urn:ietf:params:imdn", "Message-ID", " ")
	f.Fuzz(func(t *testing.T, name, uri, subject, lang, ns, hname, value string) {
		m := New()
		if m.SetFrom(Address{name, uri}) != nil || m.AddSubject(lang, subject) != nil ||
			m.Set(ns, hname, value) != nil || m.AddCC(Address{name, uri}) != nil || m.SetContent("text/plain", []byte(value)) != nil {
			return // rejected arguments are fine; accepted ones must round-trip
		}
		p, err := Parse(m.Bytes())
		if err != nil {
			t.Fatalf("built message does not parse: %v\n%q", err, m.Bytes())
		}
		if !bytes.Equal(p.Bytes(), m.Bytes()) {
			t.Fatal("re-serialised bytes differ")
		}
		if from, err := p.From(); err != nil || from != (Address{name, uri}) {
			t.Fatalf("From = %+v, %v; want %+v", from, err, Address{name, uri})
		}
		if cc, err := p.CC(); err != nil || len(cc) != 1 || cc[0] != (Address{name, uri}) {
			t.Fatalf("CC = %+v, %v", cc, err)
		}
		if s, ok := p.Subject(lang); !ok || s != subject {
			t.Fatalf("Subject(%q) = %q, %v; want %q", lang, s, ok, subject)
		}
		if v, ok := p.Get(ns, hname); !ok || v != value {
			t.Fatalf("Get(%q, %q) = %q, %v; want %q", ns, hname, v, ok, value)
		}
	})
}
