package relay

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/parley-im/parley/msrp"
)

// TestEndLineInBodyRechunks: a body that happens to contain the end-line
// of the tid the relay mints for the next hop (RFC 4975 §7.1) is cut
// there with '+' and continued in a new SEND with the next Byte-Range.
func TestEndLineInBodyRechunks(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a, b, ra, rb := pairRaw(t, s)
	s.mu.RLock()
	bc := s.grantFor(rb.SessionID).owner
	s.mu.RUnlock()
	bc.wmu.Lock()
	bc.tidPrefix, bc.tidN = "fixedtid", 99
	bc.wmu.Unlock()
	next := "fixedtid" + strconv.FormatUint(100, 36)
	body := []byte("before\r\n-------" + next + "$\r\nafter the fake end-line")
	a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "rechunked", string(body)), body)
	f1, b1 := b.read()
	f2, b2 := b.read()
	if f1.TID != next || f1.Flag != msrp.FlagMore || f2.TID == next || f2.Flag != msrp.FlagEnd {
		t.Fatalf("chunks %s%c %s%c", f1.TID, f1.Flag, f2.TID, f2.Flag)
	}
	if !bytes.Equal(append(b1, b2...), body) || f2.ByteRange.Start != int64(len(b1))+1 || f2.MessageID != "rechunked" {
		t.Fatalf("%q + %q, second range %+v", b1, b2, f2.ByteRange)
	}
	if f, _ := a.read(); f.StatusCode != 200 {
		t.Fatal(f.StatusCode)
	}
}

// naiveFind is the reference for findEndLine over a whole stream.
func naiveFind(stream, pat []byte) int {
	for i := 0; i+len(pat) < len(stream); i++ {
		if bytes.Equal(stream[i:i+len(pat)], pat) && isFlag(stream[i+len(pat)]) {
			return i + len(pat)
		}
	}
	return -1
}

// splitFind runs findEndLine over stream cut at the given points, as
// streamBody does, and returns the stream offset of the first cut.
func splitFind(stream, pat []byte, cuts []int) int {
	var tail []byte
	var buf [64]byte
	off := 0
	for _, end := range append(cuts, len(stream)) {
		if end < off || end > len(stream) {
			continue
		}
		seg := stream[off:end]
		if i := findEndLine(tail, seg, pat); i >= 0 {
			return off + i
		}
		tail = keepTail(buf[:0], tail, seg, len(pat))
		off = end
	}
	return -1
}

func FuzzFindEndLine(f *testing.F) {
	f.Add([]byte("abc-------tid1$def"), uint64(1))
	f.Add([]byte("-------tid1+"), uint64(7))
	f.Add([]byte("-------tid1-------tid1#"), uint64(3))
	f.Add([]byte("------tid1$"), uint64(9))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		pat := []byte("-------tid1")
		r := rand.New(rand.NewPCG(seed, seed))
		var cuts []int
		for range r.IntN(8) {
			if len(stream) > 0 {
				cuts = append(cuts, r.IntN(len(stream)+1))
			}
		}
		// sort cuts
		for i := range cuts {
			for j := i + 1; j < len(cuts); j++ {
				if cuts[j] < cuts[i] {
					cuts[i], cuts[j] = cuts[j], cuts[i]
				}
			}
		}
		if got, want := splitFind(stream, pat, cuts), naiveFind(stream, pat); got != want {
			t.Fatalf("cuts %v: got %d want %d", cuts, got, want)
		}
	})
}
