package msrp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/session"
)

// discardSink is an io.WriterAt that keeps nothing: benchmarks measure the
// transport, not a disk.
type discardSink struct{ n atomic.Int64 }

func (d *discardSink) WriteAt(p []byte, off int64) (int, error) {
	d.n.Add(int64(len(p)))
	return len(p), nil
}

// BenchmarkLoopbackSmall: 100-octet messages over one loopback TCP
// connection, up to 256 outstanding (a window), 200 responses counted.
func BenchmarkLoopbackSmall(b *testing.B) {
	a := newTestEndpoint(b, Config{}, false)
	e := newTestEndpoint(b, Config{}, true)
	sa, sb := pair(b, a, e, session.Options{}, session.Options{})
	ctx := context.Background()
	body := bytes.Repeat([]byte("x"), 100)
	window := make(chan *session.Delivery, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := range window {
			<-d.Done()
			if d.Result().Outcome != session.Sent {
				b.Error(d.Result())
			}
		}
	}()
	go func() {
		for {
			if _, err := sb.Receive(ctx); err != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	start := time.Now()
	n := 0
	for b.Loop() {
		d, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: body})
		if err != nil {
			b.Fatal(err)
		}
		window <- d
		n++
	}
	close(window)
	<-done
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkLoopbackBulk: large messages end to end over loopback TCP: the
// sender chunks from memory, the receiver reassembles into a Sink.
func BenchmarkLoopbackBulk(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		b.Run(strconv.Itoa(size>>20)+"MiB", func(b *testing.B) {
			benchBulk(b, size, false)
		})
	}
	b.Run("64MiB-reports", func(b *testing.B) { benchBulk(b, 64<<20, true) })
}

func benchBulk(b *testing.B, size int, receipts bool) {
	a := newTestEndpoint(b, Config{}, false)
	e := newTestEndpoint(b, Config{}, true)
	var sink discardSink
	sa, sb := pair(b, a, e, session.Options{WantReceipts: receipts}, session.Options{
		MaxInMemory: 1, Sink: func(session.Info) (io.WriterAt, error) { return &sink, nil }})
	ctx := context.Background()
	body := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		d, err := sa.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream", Body: body})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sb.Receive(ctx); err != nil {
			b.Fatal(err)
		}
		<-d.Done()
		if o := d.Result().Outcome; o != session.Sent && o != session.Delivered {
			b.Fatal(d.Result())
		}
	}
}

// BenchmarkLoopback1GBRSS streams one 1 GB message from an io.Reader to a
// Sink over loopback and reports the process's peak RSS (VmHWM): memory
// stays bounded whatever the message size. Run it alone:
//
//	go test -run '^$' -bench Loopback1GBRSS -benchtime 1x ./msrp/
func BenchmarkLoopback1GBRSS(b *testing.B) {
	const size = 1 << 30
	a := newTestEndpoint(b, Config{}, false)
	e := newTestEndpoint(b, Config{}, true)
	var sink discardSink
	sa, sb := pair(b, a, e, session.Options{WantReceipts: true}, session.Options{
		Sink: func(session.Info) (io.WriterAt, error) { return &sink, nil }})
	ctx := context.Background()
	runtime.GC()
	b.SetBytes(size)
	for b.Loop() {
		d, err := sa.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream", BodyReader: io.LimitReader(zeroReader{}, size), Size: size})
		if err != nil {
			b.Fatal(err)
		}
		in, err := sb.Receive(ctx)
		if err != nil || in.Size != size {
			b.Fatal(in, err)
		}
		<-d.Done()
		if d.Result().Outcome != session.Delivered {
			b.Fatal(d.Result())
		}
	}
	if hwm, ok := vmHWM(); ok {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
	}
}

// BenchmarkLoopbackBulkTLS: 16 MiB messages over msrps (TLS 1.3,
// self-signed certificates verified by a=fingerprint).
func BenchmarkLoopbackBulkTLS(b *testing.B) {
	ca, err := SelfSignedCertificate("a.invalid")
	if err != nil {
		b.Fatal(err)
	}
	cb, err := SelfSignedCertificate("b.invalid")
	if err != nil {
		b.Fatal(err)
	}
	a := newTestEndpoint(b, Config{Certificate: &ca}, false)
	e := newTestEndpoint(b, Config{Certificate: &cb}, false)
	if _, err := e.ListenTLS(context.Background(), "tcp", "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	var sink discardSink
	sa, sb := pair(b, a, e, session.Options{}, session.Options{
		MaxInMemory: 1, Sink: func(session.Info) (io.WriterAt, error) { return &sink, nil }})
	if !sa.Conn().Secure() {
		b.Fatal("not TLS")
	}
	ctx := context.Background()
	body := make([]byte, 16<<20)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		d, err := sa.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream", Body: body})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sb.Receive(ctx); err != nil {
			b.Fatal(err)
		}
		<-d.Done()
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// vmHWM returns the peak resident set size from /proc/self/status.
func vmHWM() (int64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
