package cpimtransport

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/parley-im/parley/session"
)

type memWriterAt struct {
	mu  sync.Mutex
	buf []byte
}

func (w *memWriterAt) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if need := int(off) + len(p); need > len(w.buf) {
		w.buf = append(w.buf, make([]byte, need-len(w.buf))...)
	}
	copy(w.buf[off:], p)
	return len(p), nil
}

func TestLargeMessageToSink(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
	sink := &memWriterAt{}
	var info session.Info
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	sa, sb := connect(t, a, b, session.Options{WantReceipts: true}, session.Options{
		AcceptTypes: []string{"application/octet-stream"},
		MaxInMemory: 64 << 10,
		Sink: func(i session.Info) (io.WriterAt, error) {
			info = i
			return sink, nil
		},
	})
	// Streamed from a reader with a known size.
	d, err := sa.Send(context.Background(), &session.Outgoing{ContentType: "application/octet-stream",
		BodyReader: bytes.NewReader(big), Size: int64(len(big))})
	if err != nil {
		t.Fatal(err)
	}
	m := recv(t, sb)
	if m.Body != nil || m.Size != int64(len(big)) || !bytes.Equal(sink.buf, big) {
		t.Fatalf("Body %d octets, Size %d, sink %d octets (equal %v)", len(m.Body), m.Size, len(sink.buf), bytes.Equal(sink.buf, big))
	}
	if info.Size != int64(len(big)) || info.ContentType != "application/octet-stream" || info.ID != "1" {
		t.Errorf("Sink info %+v", info)
	}
	if r := wait(t, d); r.Outcome != session.Delivered {
		t.Errorf("outcome %v", r.Outcome)
	}
	sent, _ := d.Progress()
	if sent < int64(len(big)) {
		t.Errorf("Progress sent %d", sent)
	}
}

func TestLargeMessageWithoutSink(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	sa, sb := connect(t, a, b, session.Options{WantReceipts: true}, session.Options{MaxInMemory: 1000})
	d := send(t, sa, string(bytes.Repeat([]byte("x"), 300<<10)))
	if r := wait(t, d); r.Outcome != session.Failed || r.Status != 413 {
		t.Errorf("result %+v, want failed 413", r)
	}
	// The connection is still framed: the next message arrives.
	send(t, sa, "small")
	if m := recv(t, sb); string(m.Body) != "small" {
		t.Errorf("got %q", m.Body)
	}
}
