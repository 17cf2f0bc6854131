package msrp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// readAllSmall is readAllFrames with a Reader whose buffer starts at
// first octets and is released between frames whenever it is empty.
func readAllSmall(t *testing.T, rd io.Reader, lim Limits, first int) ([]readResult, error) {
	t.Helper()
	r := NewReaderSize(rd, lim, first)
	var out []readResult
	for {
		r.Release()
		f, err := r.ReadFrame()
		if err != nil {
			var se *StatusError
			if errors.As(err, &se) {
				out = append(out, readResult{f: f, err: err})
				continue
			}
			return out, err
		}
		res := readResult{f: f}
		if f.HasBody() {
			res.body = []byte{}
			for {
				seg, err := r.NextBodySegment()
				if err == io.EOF {
					break
				}
				if err != nil {
					return out, err
				}
				res.body = append(res.body, seg...)
			}
		}
		out = append(out, res)
	}
}

// bigHead returns a SEND whose header block is about n octets.
func bigHead(tid string, n int) string {
	var b strings.Builder
	b.WriteString("MSRP " + tid + " SEND\r\n" + paths + "Message-ID: m1234567\r\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "X-Pad-%d: %s\r\n", i, strings.Repeat("p", 900))
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nbody of " + tid + "\r\n-------" + tid + "$\r\n")
	return b.String()
}

// TestReaderSizeGrowsForHeads: heads larger than the first buffer, up to
// the limits, parse as with NewReader, whole and split; over the limits
// they fail the same way; the stream stays in sync.
func TestReaderSizeGrowsForHeads(t *testing.T) {
	in := okFrame + bigHead("big11111", 20<<10) + okFrame + bigHead("big22222", 5000) + okFrame
	over := okFrame + bigHead("over1111", 40<<10) + okFrame // over MaxHeaderBytes (32 KiB)
	for name, data := range map[string]string{"within": in, "over": over} {
		want, werr := readAllFrames(t, strings.NewReader(data), Limits{}, true)
		for _, first := range []int{0, MinReaderBuffer, 2 << 10, 4 << 10} {
			for vname, mk := range readerVariants([]byte(data)) {
				got, err := readAllSmall(t, mk(), Limits{}, first)
				if !sameErr(err, werr) || len(got) != len(want) {
					t.Fatalf("%s/%d/%s: %d frames, %v; want %d, %v", name, first, vname, len(got), err, len(want), werr)
				}
				for i := range want {
					if !reflect.DeepEqual(got[i].f, want[i].f) || !bytes.Equal(got[i].body, want[i].body) || !sameErr(got[i].err, want[i].err) {
						t.Fatalf("%s/%d/%s frame %d:\n got %+v %q %v\nwant %+v %q %v", name, first, vname, i, got[i].f, got[i].body, got[i].err, want[i].f, want[i].body, want[i].err)
					}
				}
			}
		}
		if name == "over" && (len(want) != 3 || !errors.Is(want[1].err, ErrHeaderTooLarge)) {
			t.Fatalf("over: %+v", want)
		}
		if name == "within" && (len(want) != 5 || want[1].err != nil || len(want[1].f.Headers) < 20) {
			t.Fatalf("within: %+v", want)
		}
	}
}

// TestReaderSizeGrowsForBodies: a Reader starting small reaches the
// largest buffer, and so 64 KiB zero-copy segments, on a stream of large
// chunks; small frames alone do not grow it.
func TestReaderSizeGrowsForBodies(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KiB
	frame := string(AppendFrame(nil, sampleSEND(t), body))
	r := NewReaderSize(strings.NewReader(frame), Limits{}, MinReaderBuffer)
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	largest, total := 0, 0
	for {
		seg, err := r.NextBodySegment()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		largest, total = max(largest, len(seg)), total+len(seg)
	}
	if total != len(body) || largest < readerBufferSize-256 || len(r.br.buf) != readerBufferSize {
		t.Fatalf("body %d octets, largest segment %d, buffer %d", total, largest, len(r.br.buf))
	}

	small := strings.Repeat(okFrame, 100)
	r = NewReaderSize(iotest.HalfReader(strings.NewReader(small)), Limits{}, 2<<10)
	for {
		f, err := r.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(r); err != nil || string(b) != "fine" || f.Flag != FlagEnd {
			t.Fatalf("%q %v", b, err)
		}
	}
	if len(r.br.buf) > 4<<10 {
		t.Fatalf("small frames grew the buffer to %d", len(r.br.buf))
	}
}

// TestReaderRelease: Release gives the buffer back only when nothing is
// buffered, and reading goes on after it.
func TestReaderRelease(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewReaderSize(pr, Limits{}, 4<<10)
	go func() {
		pw.Write([]byte(okFrame + okFrame)) // two frames in one read
		pw.Write([]byte(okFrame))
		pw.Close()
	}()
	if r.Release() != true || r.br.buf != nil {
		t.Fatal("fresh reader: nothing to release")
	}
	for i := range 3 {
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatal(i, err)
		}
		if r.Release() {
			t.Fatalf("frame %d: released with its body buffered", i)
		}
		if b, err := io.ReadAll(r); err != nil || string(b) != "fine" || f.Flag != FlagEnd {
			t.Fatalf("frame %d: %q %v", i, b, err)
		}
		if got, want := r.Release(), i != 0; got != want {
			t.Fatalf("after frame %d: Release %v, buffered %d", i, got, r.Buffered())
		}
		if r.Buffered() == 0 && r.br.buf != nil {
			t.Fatalf("after frame %d: buffer kept", i)
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatal(err)
	}
}
