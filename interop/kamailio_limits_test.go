package interop

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// printable returns n deterministic printable octets without CR or LF
// (the raw reader splits on lines).
func printable(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = 'a' + byte(x%26)
	}
	return b
}

func sendChunk(tid, toPath, from, msgID string, start, total int, chunk []byte, last bool) []byte {
	flag := "+"
	if last {
		flag = "$"
	}
	return []byte(fmt.Sprintf("MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\nSuccess-Report: yes\r\nByte-Range: %d-%d/%d\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n-------%s%s\r\n",
		tid, toPath, from, msgID, start, start+len(chunk)-1, total, chunk, tid, flag))
}

// TestKamailioRawChunked10MB relays a 10 MiB message in 8 KiB chunks
// between two raw clients on the two-hop path, with Kamailio answering each
// chunk and the receiver's success REPORT coming back through it. It shows
// the path the Parley endpoint needs once it caps its chunks, and gives an
// anchor figure for the relay's throughput.
func TestKamailioRawChunked10MB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 10 MiB through Kamailio")
	}
	k := startKamailio(t, kamailioOptions{})
	a := dialRaw(t, k.Addr, "msrp://127.0.0.1:40001/bigalice0001;tcp")
	b := dialRaw(t, k.Addr, "msrp://127.0.0.1:40002/bigbob000001;tcp")
	ua, ub := authRaw(t, k, a, "alice"), authRaw(t, k, b, "bob")

	const total, chunk = 10 << 20, 8 << 10
	body := printable(total, 7)
	toPath := ua + " " + ub + " " + b.Self
	start := time.Now()

	// A's reader: one 200 per chunk from the relay, then the REPORT.
	type aResult struct {
		oks    int
		report *rawFrame
		err    error
	}
	aDone := make(chan aResult, 1)
	go func() {
		var r aResult
		for r.report == nil {
			f, err := a.read(60 * time.Second)
			if err != nil {
				r.err = err
				break
			}
			switch {
			case f.Code == 200:
				r.oks++
			case f.Method == "REPORT":
				r.report = f
			default:
				r.err = fmt.Errorf("unexpected frame at A:\n%s", f)
			}
			if r.err != nil {
				break
			}
		}
		aDone <- r
	}()
	// A's writer.
	wDone := make(chan error, 1)
	go func() {
		for i, off := 0, 0; off < total; i, off = i+1, off+chunk {
			end := min(off+chunk, total)
			frame := sendChunk("big"+strconv.Itoa(i)+"x", toPath, a.Self, "bigmsg0001", off+1, total, body[off:end], end == total)
			if _, err := a.c.Write(frame); err != nil {
				wDone <- err
				return
			}
		}
		wDone <- nil
	}()

	// B reassembles in order and checks every Byte-Range and byte.
	got := 0
	var last *rawFrame
	for got < total {
		f, err := b.read(60 * time.Second)
		if err != nil {
			t.Fatalf("B after %d bytes: %v", got, err)
		}
		if f.Method != "SEND" {
			t.Fatalf("B got:\n%s", f)
		}
		want := fmt.Sprintf("%d-%d/%d", got+1, got+len(f.Body), total)
		if f.Get("Byte-Range") != want || f.Body != string(body[got:got+len(f.Body)]) {
			t.Fatalf("chunk at %d: Byte-Range %q (want %q), body ok %v", got, f.Get("Byte-Range"), want, f.Body == string(body[got:got+len(f.Body)]))
		}
		got += len(f.Body)
		last = f
		if _, err := b.c.Write([]byte(fmt.Sprintf("MSRP %s 200 OK\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n", f.TID, ub, b.Self, f.TID))); err != nil {
			t.Fatal(err)
		}
	}
	if last.Flag != '$' {
		t.Fatalf("last chunk flag %c", last.Flag)
	}
	b.write(fmt.Sprintf("MSRP bigrep01 REPORT\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: bigmsg0001\r\nByte-Range: 1-%d/%d\r\nStatus: 000 200 OK\r\n-------bigrep01$\r\n", last.Get("From-Path"), b.Self, total, total))
	if err := <-wDone; err != nil {
		t.Fatalf("A writing: %v", err)
	}
	r := <-aDone
	if r.err != nil {
		t.Fatalf("A: %v (after %d 200s)", r.err, r.oks)
	}
	el := time.Since(start)
	if n := (total + chunk - 1) / chunk; r.oks != n || r.report.Get("Status") != "000 200 OK" {
		t.Fatalf("A got %d 200s (want %d) and REPORT:\n%s", r.oks, n, r.report)
	}
	t.Logf("10 MiB in %d-byte chunks through Kamailio (two hops on one instance) in %v: %.1f MB/s", chunk, el, float64(total)/el.Seconds()/1e6)
}

// TestKamailioRawFrameSizes records what Kamailio 5.6.3 does with a single
// SEND of growing size on the two-hop path: which sizes are relayed, which
// get no answer, and when it closes the connection.
func TestKamailioRawFrameSizes(t *testing.T) {
	k := startKamailio(t, kamailioOptions{})
	type outcome struct {
		resp     string // the response to A, or "-" / "closed"
		relayed  bool
		aClosed  bool
		bodySize int
	}
	var results []outcome
	for i, n := range []int{8 << 10, 10 << 10, 11 << 10, 12 << 10, 16 << 10, 32 << 10, 70 << 10} {
		a := dialRaw(t, k.Addr, fmt.Sprintf("msrp://127.0.0.1:40001/sizealice%03d;tcp", i))
		b := dialRaw(t, k.Addr, fmt.Sprintf("msrp://127.0.0.1:40002/sizebob%05d;tcp", i))
		ua, ub := authRaw(t, k, a, "alice"), authRaw(t, k, b, "bob")
		o := outcome{bodySize: n, resp: "-"}
		if _, err := a.c.Write(sendChunk("size"+strconv.Itoa(i)+"x", ua+" "+ub+" "+b.Self, a.Self, "sizemsg"+strconv.Itoa(i), 1, n, printable(n, uint32(i)), true)); err != nil {
			t.Fatal(err)
		}
		if f, err := a.read(2 * time.Second); err == nil {
			o.resp = strconv.Itoa(f.Code)
		} else if errors.Is(err, io.EOF) || isReset(err) {
			o.resp, o.aClosed = "closed", true
		}
		if f, err := b.read(time.Second); err == nil && f.Method == "SEND" && len(f.Body) == n {
			o.relayed = true
		}
		results = append(results, o)
	}
	var tbl strings.Builder
	for _, o := range results {
		fmt.Fprintf(&tbl, "\n  body %6d: response to sender %-6s relayed %-5v sender connection closed %v", o.bodySize, o.resp, o.relayed, o.aClosed)
	}
	t.Logf("single-frame SEND sizes through Kamailio:%s", tbl.String())
	// What Parley relies on: 8 KiB chunks pass (the interop chunk size).
	if r := results[0]; r.resp != "200" || !r.relayed {
		t.Errorf("an 8 KiB chunk was not relayed: %+v", r)
	}
	// And what the notes say of frames beyond the 64 KiB TCP buffer.
	if r := results[len(results)-1]; r.relayed || !r.aClosed {
		t.Errorf("a 70 KiB frame: %+v, want the connection closed", r)
	}
	if !k.Alive() {
		t.Fatal("kamailio died")
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && strings.Contains(err.Error(), "reset")
}
