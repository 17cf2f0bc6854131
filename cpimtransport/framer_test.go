package cpimtransport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// event is one result of Reader.ReadMessage, in a comparable form.
type event struct {
	msg       string // content, when err is ""
	err       string // "garbage", "toolarge", "eof", "truncated", "toomuch"
	discarded int64  // for garbage
}

func (e event) String() string {
	if e.err == "" {
		return fmt.Sprintf("msg(%q)", e.msg)
	}
	if e.err == "garbage" {
		return fmt.Sprintf("garbage(%d)", e.discarded)
	}
	return e.err
}

func classify(err error) event {
	var fe *FrameError
	switch {
	case errors.As(err, &fe) && errors.Is(err, ErrGarbage):
		return event{err: "garbage", discarded: fe.Discarded}
	case errors.Is(err, ErrMessageTooLarge):
		return event{err: "toolarge"}
	case err == io.EOF:
		return event{err: "eof"}
	case errors.Is(err, ErrTruncated):
		return event{err: "truncated"}
	case errors.Is(err, ErrTooMuchGarbage):
		return event{err: "toomuch"}
	}
	return event{err: "other: " + err.Error()}
}

// readAll reads events until a non-recoverable error.
func readAll(r *Reader) []event {
	var evs []event
	for i := 0; i < 10000; i++ {
		b, err := r.ReadMessage(nil)
		if err != nil {
			evs = append(evs, classify(err))
			if !Recoverable(err) {
				return evs
			}
			continue
		}
		evs = append(evs, event{msg: string(b)})
	}
	panic("reader does not terminate")
}

func frame(msg string) string { return string(AppendFrame(nil, []byte(msg))) }

func TestReader(t *testing.T) {
	const m1 = "From: <im:a@x>\r\nTo: <im:b@y>\r\nMsgID: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhello"
	const m2 = "From: <im:a@x>\r\nTo: <im:b@y>\r\nMsgID: 2\r\n\r\nContent-Type: text/plain\r\n\r\nworld"
	small := &ReaderOptions{MaxMessageSize: 10, MaxGarbage: 100}
	tests := []struct {
		name string
		in   string
		opts *ReaderOptions
		want []event
	}{
		{"empty", "", nil, []event{{err: "eof"}}},
		{"one", frame(m1), nil, []event{{msg: m1}, {err: "eof"}}},
		{"two", frame(m1) + frame(m2), nil, []event{{msg: m1}, {msg: m2}, {err: "eof"}}},
		{"empty message", frame(""), nil, []event{{msg: ""}, {err: "eof"}}},
		{"blank lines between are not garbage", "\r\n" + frame(m1) + "\r\n\r\n" + frame(m2) + "\r\n", nil,
			[]event{{msg: m1}, {msg: m2}, {err: "eof"}}},
		{"garbage before first", "junk\r\nmore junk\r\n" + frame(m1), nil,
			[]event{{err: "garbage", discarded: 17}, {msg: m1}, {err: "eof"}}},
		{"garbage between", frame(m1) + "xyz\r\n" + frame(m2), nil,
			[]event{{msg: m1}, {err: "garbage", discarded: 5}, {msg: m2}, {err: "eof"}}},
		{"garbage without newline before header", "abc" + frame(m1), nil,
			// The envelope is found in the middle of the line.
			[]event{{err: "garbage", discarded: 3}, {msg: m1}, {err: "eof"}}},
		{"trailing garbage", frame(m1) + "tail", nil, []event{{msg: m1}, {err: "eof"}}},
		{"case-insensitive names, params, spacing",
			"content-type:Message/CPIM ; charset=utf-8\r\nCONTENT-LENGTH:   5 \r\n\r\nabcde", nil,
			[]event{{msg: "abcde"}, {err: "eof"}}},
		{"bare LF envelope", "Content-Type: message/cpim\nContent-Length: 3\n\nabc", nil,
			[]event{{msg: "abc"}, {err: "eof"}}},
		{"content-type not followed by length", "Content-Type: message/cpim\r\nX: y\r\n" + frame(m1), nil,
			[]event{{err: "garbage", discarded: 28 + 6}, {msg: m1}, {err: "eof"}}},
		{"third outer header", "Content-Type: message/cpim\r\nContent-Length: 5\r\nX: y\r\n\r\nabcde" + frame(m1), nil,
			[]event{{err: "garbage", discarded: int64(len("Content-Type: message/cpim\r\nContent-Length: 5\r\nX: y\r\n\r\nabcde"))}, {msg: m1}, {err: "eof"}}},
		{"wrong header order", "Content-Length: 5\r\nContent-Type: message/cpim\r\n\r\nabcde" + frame(m1), nil,
			[]event{{err: "garbage", discarded: int64(len("Content-Length: 5\r\nContent-Type: message/cpim\r\n\r\nabcde"))}, {msg: m1}, {err: "eof"}}},
		{"other content type", "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi" + frame(m1), nil,
			[]event{{err: "garbage", discarded: int64(len("Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"))}, {msg: m1}, {err: "eof"}}},
		{"bad length", "Content-Type: message/cpim\r\nContent-Length: -1\r\n\r\n" + frame(m1), nil,
			[]event{{err: "garbage", discarded: 28 + 20 + 2}, {msg: m1}, {err: "eof"}}},
		{"length overflow", "Content-Type: message/cpim\r\nContent-Length: 99999999999999999999\r\n\r\n" + frame(m1), nil,
			[]event{{err: "garbage", discarded: 28 + 38 + 2}, {msg: m1}, {err: "eof"}}},
		{"too large is skipped", frame("0123456789A") + frame("ok"), small,
			[]event{{err: "toolarge"}, {msg: "ok"}, {err: "eof"}}},
		{"truncated body", "Content-Type: message/cpim\r\nContent-Length: 50\r\n\r\nshort", nil,
			[]event{{err: "truncated"}}},
		{"truncated envelope", "Content-Type: message/cpim\r\nContent-Len", nil, []event{{err: "truncated"}}},
		{"too much garbage", strings.Repeat("garbage line\r\n", 20) + frame("ok"), small,
			[]event{{err: "toomuch"}}},
		{"long line is garbage", strings.Repeat("x", 5000) + "\r\n" + frame("ok"), nil,
			[]event{{err: "garbage", discarded: 5002}, {msg: "ok"}, {err: "eof"}}},
		// §6.1: Content-Length is authoritative. Too short: the tail of the
		// first message is lost as garbage, then the stream resynchronises.
		{"content-length too short",
			"Content-Type: message/cpim\r\nContent-Length: 10\r\n\r\n" + m1 + frame(m2), nil,
			[]event{{msg: m1[:10]}, {err: "garbage", discarded: int64(len(m1) - 10)}, {msg: m2}, {err: "eof"}}},
		// Too long: the first message swallows the start of the second,
		// whose remains are garbage; the third arrives intact.
		{"content-length too long",
			fmt.Sprintf("Content-Type: message/cpim\r\nContent-Length: %d\r\n\r\n", len(m1)+40) + m1 + frame(m2) + frame("third"), nil,
			[]event{
				{msg: m1 + frame(m2)[:40]},
				{err: "garbage", discarded: int64(len(frame(m2)) - 40)},
				{msg: "third"}, {err: "eof"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []struct {
				name string
				wrap func(io.Reader) io.Reader
			}{
				{"whole", func(r io.Reader) io.Reader { return r }},
				{"onebyte", iotest.OneByteReader},
				{"half", iotest.HalfReader},
			} {
				got := readAll(NewReader(split.wrap(strings.NewReader(tt.in)), tt.opts))
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("%s:\n got %v\nwant %v", split.name, got, tt.want)
				}
			}
		})
	}
}

func TestReaderStreaming(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10000)
	in := AppendFrame(nil, body)
	in = AppendFrame(in, []byte("next"))
	r := NewReader(bytes.NewReader(in), nil)
	n, err := r.Next()
	if err != nil || n != int64(len(body)) {
		t.Fatalf("Next = %d, %v", n, err)
	}
	// Read part of the body only; Next must skip the rest.
	buf := make([]byte, 100)
	if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, body[:100]) {
		t.Fatalf("partial read: %v", err)
	}
	got, err := r.ReadMessage(nil)
	if err != nil || string(got) != "next" {
		t.Fatalf("ReadMessage after partial read = %q, %v", got, err)
	}
	if r.Messages() != 2 || r.Discarded() != 0 || r.Offset() != int64(len(in)) {
		t.Errorf("Messages %d Discarded %d Offset %d", r.Messages(), r.Discarded(), r.Offset())
	}
	if _, err := r.Read(buf); err != io.EOF {
		t.Errorf("Read past message = %v, want io.EOF", err)
	}
}

func TestReaderTooLargeNoAllocation(t *testing.T) {
	// A Content-Length far beyond the limit is rejected before anything is
	// allocated, and the huge body is skipped as it streams by.
	hdr := "Content-Type: message/cpim\r\nContent-Length: 1000000000000\r\n\r\n"
	r := NewReader(io.MultiReader(strings.NewReader(hdr), iotest.ErrReader(io.ErrUnexpectedEOF)), nil)
	_, err := r.Next()
	var fe *FrameError
	if !errors.As(err, &fe) || !errors.Is(err, ErrMessageTooLarge) || fe.Length != 1000000000000 {
		t.Fatalf("Next = %v", err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("Read of a skipped message = %d, %v", n, err)
	}
	if _, err := r.Next(); Recoverable(err) || err == nil {
		t.Fatalf("Next after stream error = %v, want a connection error", err)
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteMessage([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessageFrom(4, strings.NewReader("defgh")); err != nil {
		t.Fatal(err)
	}
	if w.Buffered() == 0 {
		t.Error("nothing buffered before Flush")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "Content-Type: message/cpim\r\nContent-Length: 3\r\n\r\nabc" +
		"Content-Type: message/cpim\r\nContent-Length: 4\r\n\r\ndefg"
	if buf.String() != want {
		t.Errorf("got %q\nwant %q", buf.String(), want)
	}
	if err := w.WriteMessageFrom(10, strings.NewReader("short")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short body: %v", err)
	}
}

// splitReader returns the input in pieces whose sizes come from rng.
// TestReaderGarbageWithoutLineEnds (F5): MaxGarbage holds for octets that
// never end a line, delivered in small pieces on a stream that stays open:
// Next gives up with ErrTooMuchGarbage instead of waiting for a line end.
func TestReaderGarbageWithoutLineEnds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		piece int
	}{{"1000-octet writes", 1000}, {"one-octet writes", 1}, {"one write", 70 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pr.Close()
			go func() {
				data := bytes.Repeat([]byte("g"), 70<<10)
				for len(data) > 0 {
					n := min(tc.piece, len(data))
					if _, err := pw.Write(data[:n]); err != nil {
						return
					}
					data = data[n:]
				}
				// The stream stays open: no EOF to end the line.
			}()
			r := NewReader(pr, nil)
			done := make(chan error, 1)
			go func() {
				_, err := r.Next()
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrTooMuchGarbage) || Recoverable(err) {
					t.Fatalf("Next = %v, want the fatal ErrTooMuchGarbage", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Next still waiting for a line end")
			}
			if d := r.Discarded(); d <= DefaultMaxGarbage || d > DefaultMaxGarbage+DefaultMaxHeaderLine+32<<10 {
				t.Errorf("Discarded = %d, want just over %d", d, DefaultMaxGarbage)
			}
			if _, err := r.Next(); !errors.Is(err, ErrTooMuchGarbage) {
				t.Errorf("second Next = %v, want the same error", err)
			}
		})
	}
	// Below the limit, a long run without line ends followed by an
	// envelope is still one recoverable garbage report.
	in := strings.Repeat("g", 40<<10) + frame("ok")
	evs := readAll(NewReader(iotest.OneByteReader(strings.NewReader(in)), nil))
	if got := fmt.Sprint(evs); got != fmt.Sprintf(`[garbage(%d) msg("ok") eof]`, 40<<10) {
		t.Errorf("events %s", got)
	}
}

type splitReader struct {
	b   []byte
	rng *rand.Rand
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := 1 + s.rng.IntN(min(len(s.b), 64))
	n = min(n, len(p))
	copy(p, s.b[:n])
	s.b = s.b[n:]
	return n, nil
}

func FuzzReader(f *testing.F) {
	f.Add([]byte(frame("From: <im:a@x>\r\nTo: <im:b@y>\r\nMsgID: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhi")), uint64(1))
	f.Add([]byte("junk\r\n"+frame("x")+"Content-Type: message/cpim\r\nContent-Length: 2\r\n\r\n"), uint64(2))
	f.Add([]byte("Content-Type: message/cpim\r\nContent-Length: 3\r\nX: y\r\n\r\nabc"+frame("")), uint64(3))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		opts := &ReaderOptions{MaxMessageSize: 1 << 16, MaxHeaderLine: 128, MaxGarbage: 4096}
		whole := readAll(NewReader(bytes.NewReader(in), opts))
		split := readAll(NewReader(&splitReader{b: in, rng: rand.New(rand.NewPCG(seed, seed>>1))}, opts))
		if fmt.Sprint(whole) != fmt.Sprint(split) {
			t.Fatalf("split reads differ:\nwhole %v\nsplit %v", whole, split)
		}
		one := readAll(NewReader(iotest.OneByteReader(bytes.NewReader(in)), opts))
		if fmt.Sprint(whole) != fmt.Sprint(one) {
			t.Fatalf("one-byte reads differ:\nwhole %v\none   %v", whole, one)
		}
		// Round trip: re-framing the messages read yields the same messages.
		var out []byte
		var msgs []string
		for _, e := range whole {
			if e.err == "" {
				out = AppendFrame(out, []byte(e.msg))
				msgs = append(msgs, e.msg)
			}
		}
		var again []string
		for _, e := range readAll(NewReader(bytes.NewReader(out), opts)) {
			if e.err == "" {
				again = append(again, e.msg)
			} else if e.err != "eof" {
				t.Fatalf("re-framed stream: %v", e)
			}
		}
		if fmt.Sprint(msgs) != fmt.Sprint(again) {
			t.Fatalf("round trip differs")
		}
	})
}

func FuzzParseReport(f *testing.F) {
	f.Add([]byte("Original-MsgID: 7\r\nAction: failed\r\nStatus: 5.6.1\r\n"))
	f.Add([]byte("original-msgid :  12 \nX-Ext: y\n"))
	f.Add([]byte("Original-MsgID:\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseReport(in)
		if err != nil {
			if !errors.Is(err, ErrBadReport) {
				t.Fatalf("error %v does not wrap ErrBadReport", err)
			}
			return
		}
		if r.OriginalMsgID <= 0 {
			t.Fatalf("accepted Original-MsgID %d", r.OriginalMsgID)
		}
		_ = r.Result()
		if strings.ContainsAny(r.Action+r.Status, "\r\n") {
			return // not re-encodable; ParseReport trims, so this cannot happen
		}
		again, err := ParseReport(AppendReport(nil, r))
		if err != nil || again != r {
			t.Fatalf("round trip: %+v → %+v, %v", r, again, err)
		}
	})
}
