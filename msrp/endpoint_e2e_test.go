package msrp

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/session"
)

// randReader is a deterministic pseudo-random byte source.
func randReader(seed uint64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	return rand.NewChaCha8(s)
}

// fileSink stores large incoming messages in files under dir.
type fileSink struct {
	dir   string
	mu    sync.Mutex
	files map[string]*os.File
}

func (fs *fileSink) sink(info session.Info) (io.WriterAt, error) {
	f, err := os.Create(filepath.Join(fs.dir, info.ID))
	if err != nil {
		return nil, err
	}
	fs.mu.Lock()
	fs.files[info.ID] = f
	fs.mu.Unlock()
	return f, nil
}

func (fs *fileSink) close() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.files {
		f.Close()
	}
}

// TestBulkWithSmallMessagesInterleaved sends a 100 MB binary message with
// success reports while small messages flow on the same connection: the
// small ones arrive before the big one completes (RFC 4975 §7.1.1
// interruption and fair interleaving), the big one streams to a file and
// is Delivered once the REPORT covers every byte.
func TestBulkWithSmallMessagesInterleaved(t *testing.T) {
	size := int64(100 << 20)
	if testing.Short() {
		size = 16 << 20
	}
	fs := &fileSink{dir: t.TempDir(), files: map[string]*os.File{}}
	defer fs.close()
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{WantReceipts: true}, session.Options{Sink: fs.sink})
	// A second session on the same connection carries more small traffic.
	sa2, sb2 := pair(t, a, b, session.Options{}, session.Options{})
	if sa.Conn() != sa2.Conn() {
		t.Fatal("sessions do not share the connection")
	}
	ctx := testCtx(t)

	h := sha256.New()
	src := io.TeeReader(io.LimitReader(randReader(1), size), h)
	big, err := sa.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream", BodyReader: src, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if sent, _ := big.Progress(); sent > 1<<20 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	const small = 20
	for i := range small {
		s, r := sa, sb
		if i%2 == 1 {
			s, r = sa2, sb2
		}
		body := []byte{'m', byte('a' + i)}
		if _, err := s.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: body}); err != nil {
			t.Fatal(err)
		}
		in := recv(t, r)
		if !bytes.Equal(in.Body, body) {
			t.Fatalf("small %d: got %q (size %d): the big message completed first", i, in.Body, in.Size)
		}
	}
	if sent, _ := big.Progress(); sent == size {
		t.Logf("warning: the big message was fully sent while small ones flowed")
	}
	select {
	case <-big.Done():
		t.Fatalf("big message done before the small ones were received: %+v", big.Result())
	default:
	}
	in := recv(t, sb)
	if in.Size != size || in.Body != nil {
		t.Fatalf("big: size %d, body in memory %v", in.Size, in.Body != nil)
	}
	if r := wait(t, big); r.Outcome != session.Delivered {
		t.Fatalf("big: %+v", r)
	}
	fs.mu.Lock()
	f := fs.files[in.ID]
	fs.mu.Unlock()
	rh := sha256.New()
	if _, err := io.Copy(rh, io.NewSectionReader(f, 0, size+1)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rh.Sum(nil), h.Sum(nil)) {
		t.Fatal("received file differs from what was sent")
	}
}

// TestManyConcurrentMessages: several goroutines send on two sessions at
// once; every message arrives intact.
func TestManyConcurrentMessages(t *testing.T) {
	a := newTestEndpoint(t, Config{ChunkSize: 4096}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{WantReceipts: true}, session.Options{})
	ctx := testCtx(t)
	const senders, each = 4, 25
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				n := 100 + (g*each+i)*997%50000
				body := bytes.Repeat([]byte{byte(g), byte(i)}, n/2)
				d, err := sa.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream", Body: body, ID: "m" + string(rune('a'+g)) + "x" + string(rune('a'+i)) + "zz"})
				if err != nil {
					t.Error(err)
					return
				}
				if r := wait(t, d); r.Outcome != session.Delivered {
					t.Errorf("%s: %+v", d.ID(), r)
				}
			}
		})
	}
	for range senders * each {
		in := recv(t, sb)
		g, i := in.ID[1]-'a', in.ID[3]-'a'
		for j := 0; j+1 < len(in.Body); j += 2 {
			if in.Body[j] != g || in.Body[j+1] != i {
				t.Fatalf("%s: corrupt body at %d", in.ID, j)
			}
		}
	}
	wg.Wait()
}

// TestUnknownSizeSpillsToSink: a message whose total is not known in
// advance starts in memory and moves to the Sink once it outgrows
// MaxInMemory.
func TestUnknownSizeSpillsToSink(t *testing.T) {
	fs := &fileSink{dir: t.TempDir(), files: map[string]*os.File{}}
	defer fs.close()
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{}, session.Options{Sink: fs.sink, MaxInMemory: 1 << 20})
	ctx := testCtx(t)
	for _, size := range []int{1000, 3<<20 + 17} {
		body := make([]byte, size)
		io.ReadFull(randReader(uint64(size)), body)
		if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream", BodyReader: bytes.NewReader(body), Size: -1}); err != nil {
			t.Fatal(err)
		}
		in := recv(t, sb)
		if in.Size != int64(size) {
			t.Fatalf("size %d, want %d", in.Size, size)
		}
		if size < 1<<20 {
			if !bytes.Equal(in.Body, body) {
				t.Fatal("small message not in memory")
			}
			continue
		}
		if in.Body != nil {
			t.Fatal("large message kept in memory")
		}
		fs.mu.Lock()
		f := fs.files[in.ID]
		fs.mu.Unlock()
		got := make([]byte, size+1)
		n, _ := f.ReadAt(got, 0)
		if n != size || !bytes.Equal(got[:n], body) {
			t.Fatalf("file holds %d octets, differs", n)
		}
	}
}
