package msrp

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

type chunk struct {
	br   ByteRange
	data string
	flag Flag
}

// feed writes each chunk in segments of seg octets, as the endpoint does
// while a chunk streams, then ends it.
func feed(t *testing.T, a *Assembly, chunks []chunk, seg int) error {
	t.Helper()
	for _, c := range chunks {
		if err := a.BeginChunk(c.br); err != nil {
			return err
		}
		var got int64
		for i := 0; i < len(c.data); i += seg {
			p := []byte(c.data[i:min(i+seg, len(c.data))])
			if err := a.Write(c.br.Start+got, p); err != nil {
				return err
			}
			got += int64(len(p))
		}
		if err := a.EndChunk(c.br, got, c.flag); err != nil {
			return err
		}
	}
	return nil
}

func TestAssembly(t *testing.T) {
	U := Unknown
	tests := []struct {
		name     string
		chunks   []chunk
		complete bool
		total    int64
		want     string // message when complete
		received int64
		ranges   []ByteRange
	}{
		{name: "whole message", chunks: []chunk{{ByteRange{1, 8, 8}, "abcdEFGH", '$'}}, complete: true, total: 8, want: "abcdEFGH", received: 8},
		{name: "RFC 4975 §5.1", chunks: []chunk{{ByteRange{1, U, 8}, "abcd", '+'}, {ByteRange{5, 8, 8}, "EFGH", '$'}},
			complete: true, total: 8, want: "abcdEFGH", received: 8},
		{name: "out of order, $ first", chunks: []chunk{{ByteRange{5, 8, 8}, "EFGH", '$'}, {ByteRange{1, U, 8}, "abcd", '+'}},
			complete: true, total: 8, want: "abcdEFGH", received: 8},
		{name: "first chunk missing", chunks: []chunk{{ByteRange{5, 8, 8}, "EFGH", '$'}},
			total: 8, received: 4, ranges: []ByteRange{{5, 8, 8}}},
		{name: "$ not yet seen", chunks: []chunk{{ByteRange{1, U, U}, "abcd", '+'}, {ByteRange{5, U, U}, "EFGH", '+'}},
			total: U, received: 8, ranges: []ByteRange{{1, 8, U}}},
		{name: "duplicate", chunks: []chunk{{ByteRange{1, U, 8}, "abcd", '+'}, {ByteRange{1, U, 8}, "abcd", '+'}, {ByteRange{5, 8, 8}, "EFGH", '$'}},
			complete: true, total: 8, want: "abcdEFGH", received: 8},
		{name: "overlap: last received wins", chunks: []chunk{{ByteRange{1, 6, 8}, "abcdef", '+'}, {ByteRange{4, 8, 8}, "DEFGH", '$'}},
			complete: true, total: 8, want: "abcDEFGH", received: 8},
		{name: "overlap spanning several ranges", chunks: []chunk{{ByteRange{1, 2, 10}, "ab", '+'}, {ByteRange{5, 6, 10}, "ef", '+'},
			{ByteRange{9, 10, 10}, "ij", '$'}, {ByteRange{2, 9, 10}, "BCDEFGHI", '+'}},
			complete: true, total: 10, want: "aBCDEFGHIj", received: 10},
		{name: "gaps", chunks: []chunk{{ByteRange{1, 2, 10}, "ab", '+'}, {ByteRange{5, 6, 10}, "ef", '+'}, {ByteRange{9, 10, 10}, "ij", '$'}},
			total: 10, received: 6, ranges: []ByteRange{{1, 2, 10}, {5, 6, 10}, {9, 10, 10}}},
		{name: "adjacent ranges merge", chunks: []chunk{{ByteRange{3, 4, 6}, "cd", '+'}, {ByteRange{1, 2, 6}, "ab", '+'}, {ByteRange{5, 6, 6}, "ef", '$'}},
			complete: true, total: 6, want: "abcdef", received: 6},
		{name: "interrupted chunk shorter than range-end", chunks: []chunk{{ByteRange{1, 8, 8}, "abc", '+'}, {ByteRange{4, 8, 8}, "dEFGH", '$'}},
			complete: true, total: 8, want: "abcdEFGH", received: 8},
		{name: "empty message 1-0/0", chunks: []chunk{{ByteRange{1, 0, 0}, "", '$'}}, complete: true, total: 0, want: "", received: 0},
		{name: "unknown total, $ defines it", chunks: []chunk{{ByteRange{1, U, U}, "abcd", '+'}, {ByteRange{5, U, U}, "EF", '$'}},
			complete: true, total: 6, want: "abcdEF", received: 6},
		// RFC 4975 §11.4: the second chunk claims 138-148/148 but carries 10
		// octets; the "$" chunk defines the total (§7.3.1), 147.
		{name: "RFC 4975 §11.4 ranges", chunks: []chunk{{ByteRange{1, 137, 148}, string(bytes.Repeat([]byte("c"), 137)), '+'},
			{ByteRange{138, 148, 148}, "1234567890", '$'}},
			complete: true, total: 147, want: string(bytes.Repeat([]byte("c"), 137)) + "1234567890", received: 147},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, seg := range []int{1, 3, 1 << 20} {
				buf := NewMemoryBuffer(1 << 20)
				a := NewAssembly(buf, 1<<20)
				if err := feed(t, a, tt.chunks, seg); err != nil {
					t.Fatalf("seg %d: %v", seg, err)
				}
				if a.Complete() != tt.complete || a.Total() != tt.total || a.Received() != tt.received {
					t.Fatalf("seg %d: complete %v total %d received %d; want %v %d %d", seg, a.Complete(), a.Total(), a.Received(), tt.complete, tt.total, tt.received)
				}
				if tt.complete {
					if got := string(buf.Bytes()[:tt.total]); got != tt.want {
						t.Errorf("seg %d: message %q, want %q", seg, got, tt.want)
					}
					if tt.total > 0 {
						if r := a.Ranges(); len(r) != 1 || r[0] != (ByteRange{1, tt.total, tt.total}) {
							t.Errorf("ranges %v", r)
						}
					}
				} else if got := a.Ranges(); !equalRanges(got, tt.ranges) {
					t.Errorf("seg %d: ranges %v, want %v", seg, got, tt.ranges)
				}
			}
		})
	}
}

func equalRanges(a, b []ByteRange) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAssemblyErrors(t *testing.T) {
	U := Unknown
	tests := []struct {
		name   string
		max    int64
		chunks []chunk
		code   int
		want   error
	}{
		{"declared total over max", 10, []chunk{{ByteRange{1, U, 11}, "a", '+'}}, 413, ErrMessageTooLarge},
		{"data over max, total unknown", 4, []chunk{{ByteRange{1, U, U}, "abcde", '+'}}, 413, ErrMessageTooLarge},
		{"start far beyond max", 100, []chunk{{ByteRange{1000000, U, U}, "a", '+'}}, 413, ErrMessageTooLarge},
		{"data beyond total", 100, []chunk{{ByteRange{1, U, 3}, "abcd", '+'}}, 400, ErrBeyondTotal},
		{"conflicting totals", 100, []chunk{{ByteRange{1, U, 8}, "ab", '+'}, {ByteRange{3, U, 9}, "cd", '+'}}, 400, ErrBeyondTotal},
		{"data beyond $", 100, []chunk{{ByteRange{3, 4, U}, "cd", '$'}, {ByteRange{1, U, U}, "abcde", '+'}}, 400, ErrBeyondTotal},
		{"earlier data beyond $", 100, []chunk{{ByteRange{5, U, U}, "efgh", '+'}, {ByteRange{1, U, U}, "ab", '$'}}, 400, ErrBeyondTotal},
		{"two different $", 100, []chunk{{ByteRange{1, U, U}, "ab", '$'}, {ByteRange{1, U, U}, "abc", '$'}}, 400, ErrBeyondTotal},
		{"invalid range", 100, []chunk{{ByteRange{0, U, U}, "ab", '+'}}, 400, ErrBadByteRange},
		{"data after abort", 100, []chunk{{ByteRange{1, U, U}, "ab", '#'}, {ByteRange{3, U, U}, "cd", '+'}}, 400, ErrMessageAborted},
	}
	for _, tt := range tests {
		a := NewAssembly(NewMemoryBuffer(tt.max), tt.max)
		err := feed(t, a, tt.chunks, 2)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != tt.code || !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %d %v", tt.name, err, tt.code, tt.want)
		}
		if a.Complete() {
			t.Errorf("%s: complete after error", tt.name)
		}
	}
	// Without BeginChunk, Write alone enforces maxSize before writing.
	buf := NewMemoryBuffer(0)
	a := NewAssembly(buf, 8)
	if err := a.Write(6, []byte("abcd")); !errors.Is(err, ErrMessageTooLarge) || buf.Len() != 0 {
		t.Errorf("Write over max: %v, buffer %d", err, buf.Len())
	}
	if err := a.Write(7, []byte("a")); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("error not sticky: %v", err)
	}
	if err := NewAssembly(buf, 8).EndChunk(ByteRange{maxRangeValue, Unknown, Unknown}, 1<<62, FlagEnd); !errors.Is(err, ErrBadByteRange) {
		t.Errorf("EndChunk with an overflowing length: %v", err)
	}
	if err := NewAssembly(buf, 0).EndChunk(ByteRange{maxRangeValue, Unknown, Unknown}, 2, FlagEnd); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("EndChunk past the 18-digit bound: %v", err)
	}
	if err := NewAssembly(buf, 8).Write(0, []byte("a")); !errors.Is(err, ErrBadByteRange) {
		t.Errorf("Write at 0: %v", err)
	}
}

func TestAssemblyAbort(t *testing.T) {
	a := NewAssembly(NewMemoryBuffer(0), 0)
	if err := feed(t, a, []chunk{{ByteRange{1, Unknown, 8}, "abcd", '#'}}, 4); err != nil {
		t.Fatal(err)
	}
	if !a.Aborted() || a.Complete() || a.Received() != 4 {
		t.Errorf("aborted %v complete %v received %d", a.Aborted(), a.Complete(), a.Received())
	}
}

func TestAssemblyFragments(t *testing.T) {
	a := NewAssembly(NewMemoryBuffer(0), 0)
	for i := int64(0); i < MaxFragments; i++ {
		if err := a.Write(1+2*i, []byte("x")); err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
	}
	// Filling a gap still works at the limit: it merges two fragments.
	if err := a.Write(2, []byte("y")); err != nil || len(a.Ranges()) != MaxFragments-1 {
		t.Fatalf("gap fill at the fragment limit: %v, %d ranges", err, len(a.Ranges()))
	}
	if err := a.Write(10000, []byte("x")); err != nil {
		t.Fatalf("back to the limit: %v", err)
	}
	if err := a.Write(20000, []byte("x")); !errors.Is(err, ErrTooFragmented) {
		t.Fatalf("over the limit: %v", err)
	}
	if a.Received() != MaxFragments+2 {
		t.Errorf("received %d", a.Received())
	}
}

// TestAssemblyRandom delivers a random message in random, overlapping,
// shuffled chunks and compares with the original.
func TestAssemblyRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for iter := 0; iter < 200; iter++ {
		msg := make([]byte, 1+rng.IntN(5000))
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		n := int64(len(msg))
		var chunks []chunk
		for pos := int64(1); pos <= n; {
			l := 1 + rng.Int64N(min(n-pos+1, 700))
			if back := rng.Int64N(50); rng.IntN(3) == 0 && pos-back >= 1 {
				pos -= back // overlap the previous chunk
				l += back
			}
			end := pos + l - 1
			chunks = append(chunks, chunk{ByteRange{pos, end, n}, string(msg[pos-1 : end]), '+'})
			pos = end + 1
		}
		chunks[len(chunks)-1].flag = '$'
		rng.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
		buf := NewMemoryBuffer(n)
		a := NewAssembly(buf, n)
		if err := feed(t, a, chunks, 1+rng.IntN(300)); err != nil {
			t.Fatal(err)
		}
		if !a.Complete() || a.Received() != n || !bytes.Equal(buf.Bytes(), msg) {
			t.Fatalf("iter %d: complete %v received %d/%d equal %v", iter, a.Complete(), a.Received(), n, bytes.Equal(buf.Bytes(), msg))
		}
	}
}

func TestMemoryBuffer(t *testing.T) {
	m := NewMemoryBuffer(10)
	if _, err := m.WriteAt([]byte("cd"), 2); err != nil || m.Len() != 4 {
		t.Fatal(err, m.Len())
	}
	m.WriteAt([]byte("ab"), 0)
	if string(m.Bytes()) != "abcd" {
		t.Errorf("%q", m.Bytes())
	}
	if _, err := m.WriteAt([]byte("x"), 10); !errors.Is(err, ErrMessageTooLarge) || m.Len() != 4 {
		t.Errorf("over limit: %v len %d", err, m.Len())
	}
	if _, err := m.WriteAt([]byte("x"), -1); err == nil {
		t.Errorf("negative offset accepted")
	}
	if cap(m.Bytes()) > 10 {
		t.Errorf("grew past the limit: cap %d", cap(m.Bytes()))
	}
}
