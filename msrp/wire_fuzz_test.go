package msrp

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fuzzLimits keep memory per frame small while fuzzing.
var fuzzLimits = Limits{MaxLineLength: 512, MaxHeaders: 16, MaxHeaderBytes: 2048, MaxChunkSize: 1 << 16, MaxNonSendBody: 1024}

func addGoldenSeeds(f *testing.F, add func(data []byte)) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.msrp"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(data)
	}
}

// FuzzReader feeds arbitrary input, split at random points, to the
// Reader. Properties: no panic; every error is a *StatusError carrying a
// frame or a fatal error; reading whole and reading split give the same
// frames, bodies and errors; every frame read without error re-encodes
// (AppendFrame) to bytes that read back as the same frame and body.
func FuzzReader(f *testing.F) {
	addGoldenSeeds(f, func(data []byte) { f.Add(data, uint64(1)) })
	f.Add([]byte(okFrame+okFrame), uint64(2))
	f.Add([]byte("MSRP abcd1234 SEND\r\n"+paths+"Content-Type: a/b\r\n\r\n\r\n-------abcd12345$\r\n-------abcd1234\r\n\r\n-------abcd1234+\r\n"), uint64(3))
	f.Add([]byte("MSRP abcd1234 SEND\r\nFrom-Path: x\r\n\r\n-------abcd1234X\r\n\r\n-------abcd1234#\r\n"+okFrame), uint64(4))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		whole, werr := fuzzRead(t, bytes.NewReader(data))
		split, serr := fuzzRead(t, &splitReader{data: data, rng: rand.New(rand.NewPCG(seed, seed>>7))})
		if !sameErr(werr, serr) || len(whole) != len(split) {
			t.Fatalf("whole: %d frames, %v; split: %d frames, %v", len(whole), werr, len(split), serr)
		}
		into, ierr := readAllFramesInto(&splitReader{data: data, rng: rand.New(rand.NewPCG(seed>>3, seed))})
		if !sameErr(werr, ierr) || len(whole) != len(into) {
			t.Fatalf("whole: %d frames, %v; ReadFrameInto: %d frames, %v", len(whole), werr, len(into), ierr)
		}
		for i := range into {
			if !reflect.DeepEqual(whole[i].f, into[i].f) || !bytes.Equal(whole[i].body, into[i].body) || !sameErr(whole[i].err, into[i].err) {
				t.Fatalf("frame %d: ReadFrame %+v, ReadFrameInto %+v", i, whole[i].f, into[i].f)
			}
		}
		for i := range whole {
			w, s := whole[i], split[i]
			if !reflect.DeepEqual(w.f, s.f) || !bytes.Equal(w.body, s.body) || !sameErr(w.err, s.err) {
				t.Fatalf("frame %d differs:\nwhole %+v %q %v\nsplit %+v %q %v", i, w.f, w.body, w.err, s.f, s.body, s.err)
			}
			if w.err != nil {
				continue
			}
			if err := w.f.Check(); err != nil {
				t.Fatalf("frame %d read without error fails Check: %v\n%+v", i, err, w.f)
			}
			enc := AppendFrame(nil, w.f, w.body)
			again, err := fuzzRead(t, bytes.NewReader(enc))
			if err != io.EOF || len(again) != 1 || again[0].err != nil {
				t.Fatalf("frame %d: re-encoding %q reads as %+v, %v", i, enc, again, err)
			}
			if !reflect.DeepEqual(again[0].f, w.f) || !bytes.Equal(again[0].body, w.body) {
				t.Fatalf("frame %d: round trip differs:\n got %+v %q\nwant %+v %q", i, again[0].f, again[0].body, w.f, w.body)
			}
		}
	})
}

func fuzzRead(t *testing.T, rd io.Reader) ([]readResult, error) {
	res, err := readAllFrames(t, rd, fuzzLimits, true)
	var se *StatusError
	if errors.As(err, &se) {
		// Body over a limit: recoverable, but readAllFrames stops there.
		return res, err
	}
	return res, err
}

// readAllFramesInto is readAllFrames through ReadFrameInto with one
// reused Frame, cloned after each read. Its Reader starts with the
// smallest buffer, which heads must grow, and releases it between frames
// whenever it is empty.
func readAllFramesInto(rd io.Reader) ([]readResult, error) {
	r := NewReaderSize(rd, fuzzLimits, MinReaderBuffer)
	var f Frame
	var out []readResult
	for {
		r.Release()
		err := r.ReadFrameInto(&f)
		var se *StatusError
		if err != nil && !errors.As(err, &se) {
			return out, err
		}
		res := readResult{err: err}
		if err == nil && f.HasBody() {
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
		g := f
		g.ToPath = cloneSlice(f.ToPath)
		g.FromPath = cloneSlice(f.FromPath)
		g.Headers = cloneSlice(f.Headers)
		res.f = &g
		out = append(out, res)
	}
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T{}, s...)
}

// sameErr compares errors by class and text.
func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// FuzzParseURI: a parsed URI formats to a string that parses to an equal
// URI with the same string form.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		uAtlanta, uBiloxi, uAlicePC, uBob, "msrps://relay.example.com;tcp", "MSRPS://Bob@Relay.Example.COM:2855;TCP",
		"msrp://[2001:db8::1]:7777/a+b=c/d;tcp;foo=bar;baz", "msrp://ho%41st:65535/x;tcp", "msrp://[fe80::1%25eth0]:9/x;tcp",
		"msrp://user:pw@h:1/x;tcp", "msrp://h:0/x;tcp", "msrp://[::1/x;tcp",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			if !errors.Is(err, ErrBadURI) {
				t.Fatalf("error %v does not wrap ErrBadURI", err)
			}
			return
		}
		if !u.Equal(u) {
			t.Fatalf("%q not equal to itself", s)
		}
		str := u.String()
		v, err := ParseURI(str)
		if err != nil {
			t.Fatalf("%q formats as %q which does not parse: %v", s, str, err)
		}
		if !v.Equal(u) || v.String() != str || v.User != u.User || !reflect.DeepEqual(v.Params, u.Params) {
			t.Fatalf("round trip %q -> %q -> %+v, want %+v", s, str, v, u)
		}
		_ = u.HostPort()
	})
}

// FuzzParseByteRange: accepted ranges satisfy the bounds and round-trip.
func FuzzParseByteRange(f *testing.F) {
	for _, s := range []string{"1-25/25", "1-*/8", "1-0/0", "1-*/*", "138-148/148", "0-1/1", "1-5/3", "1-*/99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseByteRange(s)
		if err != nil {
			return
		}
		if r.Start < 1 || (r.End != Unknown && (r.End < r.Start-1 || r.Total != Unknown && r.End > r.Total)) ||
			(r.Total != Unknown && r.Start-1 > r.Total) {
			t.Fatalf("%q accepted as out-of-bounds %+v", s, r)
		}
		r2, err := ParseByteRange(r.String())
		if err != nil || r2 != r {
			t.Fatalf("round trip %q -> %q -> %+v, %v", s, r.String(), r2, err)
		}
	})
}

// FuzzParseStatus: accepted values round-trip.
func FuzzParseStatus(f *testing.F) {
	for _, s := range []string{"000 200 OK", "000 413", "001  200  x", "00 200"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStatus(s)
		if err != nil {
			return
		}
		st2, err := ParseStatus(st.String())
		if err != nil || st2 != st {
			t.Fatalf("round trip %q -> %q -> %+v, %v", s, st.String(), st2, err)
		}
	})
}

// FuzzReassembly drives an Assembly with chunks decoded from the input
// and checks it against a byte-by-byte model: received octets and their
// values (last write wins), Received, Complete and bounds.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{1, 4, '+', 5, 4, '$'})
	f.Add([]byte{5, 4, '$', 1, 4, '+'})
	f.Add([]byte{1, 6, '+', 4, 5, '$', 2, 2, '+'})
	f.Add([]byte{1, 3, '#', 4, 1, '+'})
	f.Add([]byte{200, 100, '+', 1, 255, '$'})
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 300
		a := NewAssembly(NewMemoryBuffer(max), max)
		buf := a.dst.(*MemoryBuffer)
		var model [max + 1]int // octet value + 1 at each position; 0: not received
		count := int64(0)
		var final int64 = Unknown
		var val byte
		check := func() {
			for p := 1; p <= max; p++ {
				if model[p] != 0 && int(buf.Bytes()[p-1]) != model[p]-1 {
					t.Fatalf("octet %d is %d, model %d", p, buf.Bytes()[p-1], model[p]-1)
				}
			}
		}
		for len(data) >= 3 {
			start, n, flag := int64(data[0])+1, int64(data[1]), Flag(data[2])
			data = data[3:]
			br := ByteRange{Start: start, End: Unknown, Total: Unknown}
			var err error
			for i := int64(0); i < n && err == nil; i += 7 {
				seg := make([]byte, min(7, n-i))
				for k := range seg {
					val++
					seg[k] = val
				}
				if err = a.Write(start+i, seg); err == nil {
					for k, c := range seg {
						p := start + i + int64(k)
						if model[p] == 0 {
							count++
						}
						model[p] = int(c) + 1
					}
				}
			}
			if err == nil {
				err = a.EndChunk(br, n, flag)
			}
			if err != nil {
				var se *StatusError
				if !errors.As(err, &se) || (se.Code != 400 && se.Code != 413) {
					t.Fatalf("error %v is not a 400/413 StatusError", err)
				}
				if a.Complete() {
					t.Fatalf("complete after error")
				}
				check()
				return
			}
			if flag == FlagEnd {
				final = start + n - 1
			}
			if count != a.Received() {
				t.Fatalf("received %d, model %d", a.Received(), count)
			}
			want := !a.Aborted() && final != Unknown && count == final
			for p := int64(1); want && p <= final; p++ {
				want = model[p] != 0
			}
			if a.Complete() != want {
				t.Fatalf("Complete %v, model %v (final %d, %d octets)", a.Complete(), want, final, count)
			}
		}
		check()
	})
}

// FuzzFrameBody is the anti-smuggling property: any body that
// ContainsEndLine accepts for a tid, framed by AppendFrame, reads back as
// exactly that one frame with exactly that body, however the bytes are
// split; and a Writer streaming the body in pieces stops right before the
// flag of the first end-line in it, if any.
func FuzzFrameBody(f *testing.F) {
	f.Add([]byte("hello"), uint64(1))
	f.Add([]byte("-------d93kswow$"), uint64(2))
	f.Add([]byte("\r\n-------d93kswow"), uint64(3))
	f.Add([]byte("-------d93kswow\r\n-------d93kswow+\r\n"), uint64(4))
	f.Add([]byte("\r"), uint64(5))
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		fr := sampleSEND(t)
		fr.Flag = FlagMore
		rng := rand.New(rand.NewPCG(seed, 1))
		cut := len(body)
		if i := endLineIndex(body, fr.TID); i >= 0 {
			cut = i + 7 + len(fr.TID)
		} else {
			wire := AppendFrame(nil, fr, body)
			got, err := readAllFrames(t, &splitReader{data: wire, rng: rng}, Limits{}, true)
			if err != io.EOF || len(got) != 1 || got[0].err != nil || !bytes.Equal(got[0].body, body) || got[0].f.Flag != FlagMore {
				t.Fatalf("body %q framed as %q reads back as %+v, %v", body, wire, got, err)
			}
		}
		var out bytes.Buffer
		w := NewWriter(&out)
		if err := w.WriteHead(fr); err != nil {
			t.Fatal(err)
		}
		written := 0
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(40))
			k, err := w.Write(rest[:n])
			written += k
			if err != nil {
				if !errors.Is(err, ErrEndLineInBody) {
					t.Fatal(err)
				}
				break
			}
			rest = rest[n:]
		}
		if written != cut {
			t.Fatalf("body %q: Writer accepted %d octets, want %d", body, written, cut)
		}
		w.WriteEndLine(FlagMore)
		w.Flush()
		got, err := readAllFrames(t, bytes.NewReader(out.Bytes()), Limits{}, true)
		if err != io.EOF || len(got) != 1 || !bytes.Equal(got[0].body, body[:cut]) {
			t.Fatalf("body %q: streamed frame reads back as %+v, %v", body, got, err)
		}
	})
}
