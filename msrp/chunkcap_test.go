package msrp

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"
	"testing/iotest"

	"github.com/parley-im/parley/session"
)

// TestMaxChunkSize: with Config.MaxChunkSize no chunk body is longer than
// the cap, whatever the message size and source; chunks over 2048 octets
// are interruptible (n-*/total), chunks resume at the next octet (RFC 4975
// §5.1, §7.1), the last octet goes in the '$' chunk (no empty chunk past
// the total) and the body arrives intact.
func TestMaxChunkSize(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cap      int
		size     int
		streamed bool
	}{
		{"8k cap, 100k in memory", 8 << 10, 100_000, false},
		{"8k cap, exact multiple", 8 << 10, 8 * 8 << 10, false},
		{"8k cap, streamed", 8 << 10, 300_000, true},
		{"8k cap, streamed one byte reads", 8 << 10, 20_000, true},
		{"1000 cap, known range-ends", 1000, 5000, false},
		{"2048 cap, exact", 2048, 4096, false},
		{"cap larger than message", 1 << 20, 70_000, false},
		{"small message", 8 << 10, 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestEndpoint(t, Config{MaxChunkSize: tc.cap}, true)
			p, s := newRawActive(t, a, session.Options{})
			body := make([]byte, tc.size)
			rand.Read(body)
			o := &session.Outgoing{ContentType: "application/octet-stream", Body: body}
			if tc.streamed {
				var r = bytes.NewReader(body)
				o = &session.Outgoing{ContentType: "application/octet-stream", BodyReader: r, Size: int64(tc.size)}
				if tc.size < 100_000 {
					o.BodyReader = iotest.OneByteReader(r)
				}
			}
			d, err := s.Send(testCtx(t), o)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			chunks := 0
			for {
				f, b := p.read()
				if f.Method != MethodSEND || f.MessageID != d.ID() {
					t.Fatalf("got %s %s", f.Method, f.MessageID)
				}
				p.respond(f, 200)
				chunks++
				br := f.ByteRange
				switch {
				case len(b) > tc.cap:
					t.Fatalf("chunk of %d octets over the cap %d", len(b), tc.cap)
				case len(b) == 0:
					t.Fatalf("empty chunk %v flag %c", br, f.Flag)
				case br.Start != int64(len(got))+1 || br.Total != int64(tc.size):
					t.Fatalf("Byte-Range %v after %d octets", br, len(got))
				case len(b) > maxUninterruptible && br.End != Unknown:
					t.Fatalf("chunk of %d octets with range-end %d (§7.1)", len(b), br.End)
				case br.End != Unknown && br.End != br.Start+int64(len(b))-1:
					t.Fatalf("Byte-Range %v for %d octets", br, len(b))
				}
				got = append(got, b...)
				if f.Flag == FlagEnd {
					break
				}
				if f.Flag != FlagMore {
					t.Fatalf("flag %c", f.Flag)
				}
			}
			if !bytes.Equal(got, body) {
				t.Fatalf("body differs (%d vs %d octets)", len(got), len(body))
			}
			if min := (tc.size + tc.cap - 1) / tc.cap; chunks < min {
				t.Fatalf("%d chunks, want at least %d", chunks, min)
			}
			if r := wait(t, d); r.Outcome != session.Sent {
				t.Fatalf("outcome %v (%v)", r.Outcome, r.Err)
			}
		})
	}
}

func TestMaxChunkSizeNegative(t *testing.T) {
	if _, err := NewEndpoint(Config{MaxChunkSize: -1}); err == nil {
		t.Fatal("negative MaxChunkSize accepted")
	}
}

// TestMaxChunkSizeEndToEnd: two endpoints with a small cap exchange a
// message of many chunks with a success report.
func TestMaxChunkSizeEndToEnd(t *testing.T) {
	a := newTestEndpoint(t, Config{MaxChunkSize: 4096}, false)
	b := newTestEndpoint(t, Config{MaxChunkSize: 4096}, true)
	sa, sb := pair(t, a, b, session.Options{WantReceipts: true}, session.Options{WantReceipts: true})
	body := []byte(fmt.Sprint(make([]int, 200_000)))
	d, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if in := recv(t, sb); !bytes.Equal(in.Body, body) {
		t.Fatalf("body differs")
	}
	if r := wait(t, d); r.Outcome != session.Delivered {
		t.Fatalf("outcome %v (%v)", r.Outcome, r.Err)
	}
}

// TestChunkSizeFloor: a ChunkSize under 2048 is raised to 2048, so that
// interleaved messages never go out in chunks under 2048 octets but the
// last (RFC 4975 §7.1: SHOULD NOT).
func TestChunkSizeFloor(t *testing.T) {
	a := newTestEndpoint(t, Config{ChunkSize: 100}, true)
	p, s := newRawActive(t, a, session.Options{})
	const size = 4 << 20
	ids := map[string]bool{}
	for i := range 2 {
		d, err := s.Send(testCtx(t), &session.Outgoing{ContentType: "application/octet-stream", Body: bytes.Repeat([]byte{byte('A' + i)}, size)})
		if err != nil {
			t.Fatal(err)
		}
		ids[d.ID()] = true
	}
	got := map[string]int64{}
	for done := 0; done < 2; {
		f, body := p.read()
		if !ids[f.MessageID] {
			t.Fatalf("unexpected %s %s", f.Method, f.MessageID)
		}
		p.respond(f, 200)
		got[f.MessageID] += int64(len(body))
		if f.Flag == FlagEnd {
			done++
			continue
		}
		if len(body) < maxUninterruptible {
			t.Fatalf("non-final chunk of %d octets", len(body))
		}
	}
	for id, n := range got {
		if n != size {
			t.Fatalf("%s: %d octets", id, n)
		}
	}
}
