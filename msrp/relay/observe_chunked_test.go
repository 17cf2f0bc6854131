package relay

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// chunk is one SEND of message id carrying body at Byte-Range start-…/total.
func chunk(to []msrp.URI, from msrp.URI, id, body string, start, total int64, flag msrp.Flag) *msrp.Frame {
	f := send(to, from, id, body)
	f.ByteRange = msrp.ByteRange{Start: start, End: start + int64(len(body)) - 1, Total: total}
	f.Flag = flag
	return f
}

func TestOnMessageChunked(t *testing.T) {
	var log eventLog
	s, _ := startRelay(t, Config{OnMessage: log.on})
	a, b, ra, rb := pairRaw(t, s)
	to := []msrp.URI{ra, rb, b.self}
	deliver := func(f *msrp.Frame, body string) {
		t.Helper()
		a.write(f, []byte(body))
		if r, _ := a.read(); r.StatusCode != 200 {
			t.Fatalf("%s: %d", f.MessageID, r.StatusCode)
		}
		if r, got := b.read(); r.MessageID != f.MessageID || string(got) != body {
			t.Fatalf("delivered %+v %q", r, got)
		}
	}
	n := 0
	check := func(id string, want func(MessageEvent) bool) {
		t.Helper()
		n++
		log.wait(t, n)
		if evs := log.byID(id); len(evs) != 1 || !want(evs[0]) {
			t.Fatalf("%s: %+v", id, evs)
		}
	}

	// Three chunks, interleaved with a one-chunk message: one event each,
	// the chunked one after its last chunk, with its whole body.
	deliver(chunk(to, a.self, "three", "aaaa", 1, 12, msrp.FlagMore), "aaaa")
	deliver(chunk(to, a.self, "three", "bbbb", 5, 12, msrp.FlagMore), "bbbb")
	deliver(send(to, a.self, "between", "x"), "x")
	check("between", func(ev MessageEvent) bool { return string(ev.Body) == "x" && ev.Complete && ev.Chunks == 1 })
	deliver(chunk(to, a.self, "three", "cccc", 9, 12, msrp.FlagEnd), "cccc")
	check("three", func(ev MessageEvent) bool {
		return string(ev.Body) == "aaaabbbbcccc" && ev.Size == 12 && ev.Complete && !ev.Aborted && ev.Chunks == 3 &&
			ev.FromUser == "alice" && ev.ToUser == "bob" && ev.ContentType == "text/plain"
	})

	// Aborted ('#' on the second chunk): reported as such, without body.
	deliver(chunk(to, a.self, "abort", "dddd", 1, 8, msrp.FlagMore), "dddd")
	deliver(chunk(to, a.self, "abort", "ee", 5, 8, msrp.FlagAbort), "ee")
	check("abort", func(ev MessageEvent) bool { return ev.Aborted && !ev.Complete && ev.Body == nil && ev.Size == 8 })

	// A gap between chunks: not Complete, no body, its size.
	deliver(chunk(to, a.self, "gapped", "ffff", 1, 12, msrp.FlagMore), "ffff")
	deliver(chunk(to, a.self, "gapped", "hhhh", 9, 12, msrp.FlagEnd), "hhhh")
	check("gapped", func(ev MessageEvent) bool { return !ev.Complete && ev.Body == nil && ev.Size == 12 })

	// 1 MiB in 16 chunks: its size, no body (over ObserveMaxBody).
	const mib, parts = 1 << 20, 16
	part := strings.Repeat("z", mib/parts)
	for i := range parts {
		fl := msrp.FlagMore
		if i == parts-1 {
			fl = msrp.FlagEnd
		}
		deliver(chunk(to, a.self, "onemib", part, int64(i*len(part)+1), mib, fl), part)
	}
	check("onemib", func(ev MessageEvent) bool {
		return ev.Complete && ev.Body == nil && ev.Size == mib && ev.Chunks == parts
	})

	// A later chunk whose first one was not seen: not reported.
	deliver(chunk(to, a.self, "orphan", "gggg", 5, 8, msrp.FlagEnd), "gggg")
	deliver(send(to, a.self, "after", "y"), "y")
	check("after", func(ev MessageEvent) bool { return string(ev.Body) == "y" })
	if evs := log.byID("orphan"); len(evs) != 0 {
		t.Fatalf("orphan: %+v", evs)
	}
	if h := s.obsHeld.Load(); h != 0 {
		t.Fatalf("%d octets still held", h)
	}
}

// Many chunked messages left unfinished: the per-connection and global
// bounds hold, and a closed connection gives everything back.
func TestOnMessageChunkedBounds(t *testing.T) {
	var log eventLog
	const maxBody, pending, held = 1 << 10, 4, 3000
	s, _ := startRelay(t, Config{OnMessage: log.on, ObserveMaxBody: maxBody, ObserveMaxPending: pending, ObserveMaxHeld: held})
	a, b, ra, rb := pairRaw(t, s)
	to := []msrp.URI{ra, rb, b.self}
	body := strings.Repeat("q", 600)
	for i := range 40 {
		f := chunk(to, a.self, fmt.Sprint("msg-m", i), body, 1, 1200, msrp.FlagMore)
		a.write(f, []byte(body))
		if r, _ := a.read(); r.StatusCode != 200 {
			t.Fatal(r.StatusCode)
		}
		b.read()
		if h := s.obsHeld.Load(); h > held {
			t.Fatalf("%d octets held, bound %d", h, held)
		}
	}
	// A second connection also in assembly: the global bound holds.
	c, d, rc, rd := pairRaw(t, s)
	for i := range 20 {
		f := chunk([]msrp.URI{rc, rd, d.self}, c.self, fmt.Sprint("msg-n", i), body, 1, 1200, msrp.FlagMore)
		c.write(f, []byte(body))
		if r, _ := c.read(); r.StatusCode != 200 {
			t.Fatal(r.StatusCode)
		}
		d.read()
		if h := s.obsHeld.Load(); h > held {
			t.Fatalf("%d octets held, bound %d", h, held)
		}
	}
	s.mu.RLock()
	for cn := range s.conns {
		if cn.obs != nil && len(cn.obs.asm) > pending {
			t.Errorf("%d messages in assembly on one connection, bound %d", len(cn.obs.asm), pending)
		}
	}
	s.mu.RUnlock()
	// The last 4 of m…: complete them; the evicted ones are not reported.
	for i := 36; i < 40; i++ {
		f := chunk(to, a.self, fmt.Sprint("msg-m", i), body, 601, 1200, msrp.FlagEnd)
		a.write(f, []byte(body))
		a.read()
		b.read()
	}
	evs := log.wait(t, 4)
	for _, ev := range evs {
		if !ev.Complete || ev.Size != 1200 || ev.Body != nil && !bytes.Equal(ev.Body, []byte(body+body)) {
			t.Fatalf("%+v", ev)
		}
	}
	if log.byID("msg-m0") != nil {
		t.Fatal("evicted message reported")
	}
	a.nc.Close()
	c.nc.Close()
	for deadline := time.Now().Add(5 * time.Second); s.obsHeld.Load() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d octets held after the connections closed", s.obsHeld.Load())
		}
	}
}
