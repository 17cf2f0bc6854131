package msrp

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

// loopReader serves data over and over, as a socket delivering an endless
// stream of the same frames would. Each Read copies, as a socket read does.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off += n
	if l.off == len(l.data) {
		l.off = 0
	}
	return n, nil
}

// benchBody returns n octets of pseudo-random binary data (a file
// transfer), or with adversarial set, text that repeats "\r\n-----" every
// 23 octets so that every line end is a partial end-line match.
func benchBody(n int, adversarial bool) []byte {
	if adversarial {
		return bytes.Repeat([]byte("0123456789abcdef\r\n-----"), n/23+1)[:n]
	}
	if n < 0 { // text: CRLF lines of about 70 octets
		line := []byte("The quick brown fox jumps over the lazy dog; MSRP -- RFC 4975 text.\r\n")
		return bytes.Repeat(line, -n/len(line)+1)[:-n]
	}
	rng := rand.New(rand.NewPCG(1, 2))
	body := make([]byte, n)
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	return body
}

func benchFrames(b *testing.B, bodySize int, count int, adversarial bool) []byte {
	return benchFramesPaths(b, bodySize, count, adversarial, false)
}

// benchFramesPaths builds count SENDs; with distinctPaths each has its own
// To-Path and From-Path (many sessions multiplexed on one connection).
func benchFramesPaths(b *testing.B, bodySize int, count int, adversarial, distinctPaths bool) []byte {
	body := benchBody(bodySize, adversarial)
	var wire []byte
	for i := 0; i < count; i++ {
		f := sampleSEND(b)
		f.TID = NewTransactionID()
		if distinctPaths {
			f.ToPath[0].SessionID = NewSessionID()
			f.FromPath[0].SessionID = NewSessionID()
		}
		f.ByteRange = ByteRange{1, int64(len(body)), int64(len(body))}
		wire = AppendFrame(wire, f, body)
	}
	return wire
}

// BenchmarkReadLargeChunk reads SENDs with 64 KiB bodies through
// NextBodySegment (zero-copy). MB/s is body throughput.
func BenchmarkReadLargeChunk(b *testing.B) {
	const size = 64 << 10
	r := NewReader(&loopReader{data: benchFrames(b, size, 16, false)}, Limits{})
	b.SetBytes(size)
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if _, err := r.ReadFrame(); err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			seg, err := r.NextBodySegment()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += len(seg)
		}
		if n != size {
			b.Fatalf("body %d", n)
		}
	}
	reportCPU(b, start)
}

// BenchmarkReadLargeChunkAdversarial is BenchmarkReadLargeChunk over a
// body full of partial end-line matches.
func BenchmarkReadLargeChunkAdversarial(b *testing.B) {
	const size = 64 << 10
	r := NewReader(&loopReader{data: benchFrames(b, size, 16, true)}, Limits{})
	b.SetBytes(size)
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if _, err := r.ReadFrame(); err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.NextBodySegment()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	reportCPU(b, start)
}

// BenchmarkReadLargeChunkText is BenchmarkReadLargeChunk over CRLF text.
func BenchmarkReadLargeChunkText(b *testing.B) {
	const size = 64 << 10
	r := NewReader(&loopReader{data: benchFrames(b, -size, 16, false)}, Limits{})
	b.SetBytes(size)
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if _, err := r.ReadFrame(); err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.NextBodySegment()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	reportCPU(b, start)
}

// BenchmarkReadLargeChunkCopy is BenchmarkReadLargeChunk through Read into
// a 32 KiB buffer (io.Reader users pay one more copy).
func BenchmarkReadLargeChunkCopy(b *testing.B) {
	const size = 64 << 10
	r := NewReader(&loopReader{data: benchFrames(b, size, 16, false)}, Limits{})
	buf := make([]byte, 32<<10)
	b.SetBytes(size)
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if _, err := r.ReadFrame(); err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	reportCPU(b, start)
}

// BenchmarkReadSmallSend reads SENDs with 100-octet bodies: one frame per
// iteration (ns/op is per frame).
func BenchmarkReadSmallSend(b *testing.B) {
	benchReadSmall(b, benchFrames(b, 100, 64, false))
}

// BenchmarkReadSmallSendManySessions is BenchmarkReadSmallSend with a
// different To-Path and From-Path on every frame, so the Reader's path
// cache never hits.
func BenchmarkReadSmallSendManySessions(b *testing.B) {
	benchReadSmall(b, benchFramesPaths(b, 100, 64, false, true))
}

func benchReadSmall(b *testing.B, data []byte) {
	r := NewReader(&loopReader{data: data}, Limits{})
	b.SetBytes(int64(len(data) / 64))
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		f, err := r.ReadFrame()
		if err != nil {
			b.Fatal(err)
		}
		seg, err := r.NextBodySegment()
		if err != nil || len(seg) != 100 {
			b.Fatal(len(seg), err)
		}
		if _, err := r.NextBodySegment(); err != io.EOF || f.Flag != FlagEnd {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkReadSmallSendInto is BenchmarkReadSmallSend through
// ReadFrameInto, reusing one Frame.
func BenchmarkReadSmallSendInto(b *testing.B) {
	data := benchFrames(b, 100, 64, false)
	r := NewReader(&loopReader{data: data}, Limits{})
	var f Frame
	b.SetBytes(int64(len(data) / 64))
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if err := r.ReadFrameInto(&f); err != nil {
			b.Fatal(err)
		}
		seg, err := r.NextBodySegment()
		if err != nil || len(seg) != 100 {
			b.Fatal(len(seg), err)
		}
		if _, err := r.NextBodySegment(); err != io.EOF || f.Flag != FlagEnd {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkAppendFrame encodes a SEND with a 100-octet body into a reused
// buffer.
func BenchmarkAppendFrame(b *testing.B) {
	f := sampleSEND(b)
	body := bytes.Repeat([]byte("x"), 100)
	buf := AppendFrame(nil, f, body)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		buf = AppendFrame(buf[:0], f, body)
	}
	reportCPU(b, start)
}

// BenchmarkWriteFrame writes a checked SEND with a 100-octet body through
// a Writer.
func BenchmarkWriteFrame(b *testing.B) {
	f := sampleSEND(b)
	body := bytes.Repeat([]byte("x"), 100)
	w := NewWriter(io.Discard)
	b.SetBytes(int64(len(AppendFrame(nil, f, body))))
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if err := w.WriteFrame(f, body); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkAssembly64K writes 64 KiB chunks in order into an Assembly
// over a preallocated destination.
func BenchmarkAssembly64K(b *testing.B) {
	const size = 64 << 10
	seg := make([]byte, size)
	dst := &discardAt{}
	b.SetBytes(size)
	b.ReportAllocs()
	a := NewAssembly(dst, 0)
	var pos int64 = 1
	start := processCPU()
	for b.Loop() {
		if err := a.Write(pos, seg); err != nil {
			b.Fatal(err)
		}
		pos += size
	}
	reportCPU(b, start)
}

type discardAt struct{}

func (discardAt) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }
