package cpimtransport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/parley-im/parley/session"
)

func benchMessage(size int) []byte {
	return []byte("From: <im:aaaaaaaaaaaaaaaaaaaaaaaaaa@127.0.0.1>\r\nTo: <im:bbbbbbbbbbbbbbbbbbbbbbbbbb@127.0.0.1>\r\nMsgID: 12345\r\n\r\nContent-Type: text/plain\r\n\r\n" +
		string(bytes.Repeat([]byte("x"), size)))
}

// loopReader replays buf forever.
type loopReader struct {
	buf []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.buf[l.off:])
	l.off = (l.off + n) % len(l.buf)
	return n, nil
}

func BenchmarkFramerRead(b *testing.B) {
	for _, size := range []int{16, 1024, 64 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			msg := benchMessage(size)
			var stream []byte
			for range 16 {
				stream = AppendFrame(stream, msg)
			}
			r := NewReader(&loopReader{buf: stream}, nil)
			dst := make([]byte, 0, len(msg))
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				dst, err = r.ReadMessage(dst[:0])
				if err != nil || len(dst) != len(msg) {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFramerWrite(b *testing.B) {
	for _, size := range []int{16, 1024, 64 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			msg := benchMessage(size)
			w := NewWriter(io.Discard)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.WriteMessage(msg); err != nil {
					b.Fatal(err)
				}
			}
			w.Flush()
		})
	}
}

// BenchmarkLoopbackThroughput sends messages over a real loopback TCP
// connection between two Endpoints and waits for each to be received.
// Small messages report msgs/s; 64 KiB ones MB/s.
func BenchmarkLoopbackThroughput(b *testing.B) {
	for _, tc := range []struct {
		name string
		size int
	}{{"small", 32}, {"64KiB", 64 << 10}} {
		b.Run(tc.name, func(b *testing.B) {
			a := newLoopback(b, Config{})
			c := newLoopback(b, Config{})
			sa, sb := connect(b, a, c, session.Options{}, session.Options{})
			body := bytes.Repeat([]byte("y"), tc.size)
			ctx := context.Background()
			done := make(chan error, 1)
			n := 0
			b.SetBytes(int64(tc.size))
			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				for {
					if _, err := sb.Receive(ctx); err != nil {
						done <- err
						return
					}
				}
			}()
			for b.Loop() {
				if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: body}); err != nil {
					b.Fatal(err)
				}
				n++
			}
			// Wait for the last message: a reply proves every earlier one
			// was read, since the connection is in order.
			sa.Close()
			sb.Close()
			<-done
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
