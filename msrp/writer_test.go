package msrp

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sampleSEND(t testing.TB) *Frame {
	return &Frame{TID: "d93kswow", Method: MethodSEND, ToPath: path1(t, uBob), FromPath: path1(t, uAlicePC),
		MessageID: "12339sdqwer", ByteRange: ByteRange{1, 16, 16}, HasByteRange: true, ContentType: "text/plain", Flag: FlagEnd}
}

func TestWriterGolden(t *testing.T) {
	data := mustRead(t, "rfc4975-s11.1-basic-session.msrp")
	frames, err := readAllFrames(t, bytes.NewReader(data), Limits{}, true)
	if err != io.EOF {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := NewWriter(&out)
	for _, fr := range frames {
		if err := w.WriteFrame(fr.f, fr.body); err != nil {
			t.Fatal(err)
		}
	}
	if out.Len() != 0 {
		t.Errorf("Writer wrote before Flush")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("Writer output differs:\n got %q\nwant %q", out.Bytes(), data)
	}
}

func TestWriteFrameLargeBody(t *testing.T) {
	f := sampleSEND(t)
	body := bytes.Repeat([]byte("0123456789\r\n------"), 10000)
	f.ByteRange = ByteRange{1, int64(len(body)), int64(len(body))}
	var out bytes.Buffer
	w := NewWriter(&out)
	if err := w.WriteFrame(f, body); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if want := AppendFrame(nil, f, body); !bytes.Equal(out.Bytes(), want) {
		t.Errorf("large frame differs from AppendFrame")
	}
}

func TestWriteFrameChecks(t *testing.T) {
	tests := []struct {
		name string
		mod  func(f *Frame)
		body string
		want error
	}{
		{"bad tid", func(f *Frame) { f.TID = "abc" }, "x", ErrInvalidFrame},
		{"lower method", func(f *Frame) { f.Method = "send" }, "x", ErrInvalidFrame},
		{"no to-path", func(f *Frame) { f.ToPath = nil }, "x", ErrInvalidFrame},
		{"bad message-id", func(f *Frame) { f.MessageID = "a b" }, "x", ErrInvalidFrame},
		{"bad byte-range", func(f *Frame) { f.ByteRange = ByteRange{0, 1, 1} }, "x", ErrInvalidFrame},
		{"bad report", func(f *Frame) { f.SuccessReport = "maybe" }, "x", ErrInvalidFrame},
		{"crlf in header", func(f *Frame) { f.Headers = []Header{{"X-A", "a\r\nb"}} }, "x", ErrInvalidFrame},
		{"typed header in Headers", func(f *Frame) { f.Headers = []Header{{"content-type", "a/b"}} }, "x", ErrInvalidFrame},
		{"bad content-type", func(f *Frame) { f.ContentType = "text" }, "x", ErrInvalidFrame},
		{"bad flag", func(f *Frame) { f.Flag = '!' }, "x", ErrInvalidFrame},
		{"body without content-type", func(f *Frame) { f.ContentType = "" }, "x", ErrInvalidFrame},
		{"response with body", func(f *Frame) { f.Method = ""; f.StatusCode = 200 }, "x", ErrInvalidFrame},
		{"end-line in body", func(f *Frame) {}, "a\r\n-------d93kswow$\r\nb", ErrEndLineInBody},
		{"end-line in body, any flag", func(f *Frame) {}, "-------d93kswow#", ErrEndLineInBody},
	}
	for _, tt := range tests {
		f := sampleSEND(t)
		tt.mod(f)
		var out bytes.Buffer
		w := NewWriter(&out)
		if err := w.WriteFrame(f, []byte(tt.body)); !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
		w.Flush()
		if out.Len() != 0 {
			t.Errorf("%s: wrote %q despite the error", tt.name, out.Bytes())
		}
	}
}

func TestContainsEndLine(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{"", false},
		{"-------abcd", false},
		{"-------abcd$", true},
		{"x-------abcd+y", true},
		{"-------abcde$", false},
		{"------abcd$", false},
		{"-------abcd-------abcd#", true},
		{"--------abcd$", true},
	}
	for _, tt := range tests {
		if got := ContainsEndLine([]byte(tt.body), "abcd"); got != tt.want {
			t.Errorf("ContainsEndLine(%q) = %v", tt.body, got)
		}
	}
}

// TestWriterStream streams a body in small writes and checks that an
// end-line split across writes is caught and the chunk interrupted there.
func TestWriterStream(t *testing.T) {
	f := sampleSEND(t)
	f.ByteRange = ByteRange{1, Unknown, Unknown}
	var out bytes.Buffer
	w := NewWriter(&out)
	if err := w.WriteHead(f); err != nil {
		t.Fatal(err)
	}
	body := "hello ---" + "----d93ks" + "wow" + "$ tail"
	parts := []string{"hello ---", "----d93ks", "wow", "$ tail"}
	written := 0
	var stopErr error
	for _, p := range parts {
		n, err := w.Write([]byte(p))
		written += n
		if err != nil {
			stopErr = err
			break
		}
	}
	if !errors.Is(stopErr, ErrEndLineInBody) {
		t.Fatalf("stream err %v, want ErrEndLineInBody", stopErr)
	}
	if want := strings.Index(body, "$"); written != want {
		t.Errorf("accepted %d octets, want %d (up to the flag)", written, want)
	}
	if err := w.WriteEndLine(FlagMore); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	frames, err := readAllFrames(t, bytes.NewReader(out.Bytes()), Limits{}, false)
	if err != io.EOF || len(frames) != 1 || frames[0].err != nil {
		t.Fatalf("re-read: %+v %v", frames, err)
	}
	if got := string(frames[0].body); got != body[:written] || frames[0].f.Flag != FlagMore {
		t.Errorf("body %q flag %c, want %q +", got, frames[0].f.Flag, body[:written])
	}
}

func TestWriterStreamPlain(t *testing.T) {
	f := sampleSEND(t)
	var out bytes.Buffer
	w := NewWriter(&out)
	w.WriteHead(f)
	body := strings.Repeat("abc-------d93kswowX", 5000)
	for i := 0; i < len(body); i += 777 {
		if _, err := w.Write([]byte(body[i:min(i+777, len(body))])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteEndLine(FlagEnd); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if want := AppendFrame(nil, f, []byte(body)); !bytes.Equal(out.Bytes(), want) {
		t.Errorf("streamed frame differs from AppendFrame")
	}
	// Bodiless WriteHead writes the end-line at once.
	out.Reset()
	f.ContentType = ""
	if err := w.WriteHead(f); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if !bytes.HasSuffix(out.Bytes(), []byte("Byte-Range: 1-16/16\r\n-------d93kswow$\r\n")) {
		t.Errorf("bodiless head %q", out.Bytes())
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrInvalidFrame) {
		t.Errorf("Write after bodiless head: %v", err)
	}
}

// TestWriterStreamRandom streams random bodies, some with an end-line
// planted, in random pieces: the Writer must stop exactly before the flag
// of the first end-line, and what it wrote must read back as that prefix.
func TestWriterStreamRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	f := sampleSEND(t)
	alphabet := "-d93kswow$+#\r\nx"
	for iter := 0; iter < 2000; iter++ {
		body := make([]byte, rng.IntN(200))
		for i := range body {
			body[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if rng.IntN(2) == 0 && len(body) > 20 {
			copy(body[rng.IntN(len(body)-17):], "-------d93kswow+")
		}
		want := len(body)
		if i := endLineIndex(body, f.TID); i >= 0 {
			want = i + 7 + len(f.TID)
		}
		var out bytes.Buffer
		w := NewWriter(&out)
		if err := w.WriteHead(f); err != nil {
			t.Fatal(err)
		}
		written := 0
		var werr error
		for rest := body; len(rest) > 0 && werr == nil; {
			n := min(len(rest), 1+rng.IntN(25))
			var k int
			k, werr = w.Write(rest[:n])
			written += k
			rest = rest[n:]
		}
		if written != want || (want < len(body)) != errors.Is(werr, ErrEndLineInBody) {
			t.Fatalf("body %q: wrote %d (%v), want %d", body, written, werr, want)
		}
		if err := w.WriteEndLine(FlagMore); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		g := *f
		g.Flag = FlagMore
		if exp := AppendFrame(nil, &g, body[:want]); !bytes.Equal(out.Bytes(), exp) {
			t.Fatalf("body %q: output\n%q\nwant\n%q", body, out.Bytes(), exp)
		}
		frames, err := readAllFrames(t, bytes.NewReader(out.Bytes()), Limits{}, true)
		if err != io.EOF || len(frames) != 1 || !bytes.Equal(frames[0].body, body[:want]) {
			t.Fatalf("body %q: read back %+v %v", body, frames, err)
		}
	}
}
