package msrp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection with small
// socket buffers (no autotuning), so that a large write blocks on a peer
// that reads slowly.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   *net.TCPConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.AcceptTCP()
		ch <- res{c, err}
	}()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		client.Close()
		t.Fatal(r.err)
	}
	server = r.c
	t.Cleanup(func() { client.Close(); server.Close() })
	if err := client.SetWriteBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	if err := server.SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	return client, server
}

// slowRead reads everything from c, step octets per pause, until EOF or
// an error, and returns what it read.
func slowRead(c net.Conn, step int, pause time.Duration) <-chan []byte {
	out := make(chan []byte, 1)
	go func() {
		var got bytes.Buffer
		buf := make([]byte, step)
		for {
			time.Sleep(pause)
			n, err := io.ReadFull(c, buf)
			got.Write(buf[:n])
			if err != nil {
				out <- got.Bytes()
				return
			}
		}
	}()
	return out
}

// TestSockWriterSlowPeer: a writev of a head and a 4 MiB body on TCP
// takes far longer than the timeout when the peer reads slowly (4 MiB at
// about 3 MB/s); it
// succeeds while the peer takes writeProgress octets per timeout, and the
// octets arrive in order (head first).
func TestSockWriterSlowPeer(t *testing.T) {
	client, server := tcpPair(t)
	c := &Conn{nc: client, ep: &Endpoint{txTimeout: 300 * time.Millisecond}}
	w := newSockWriter(c)
	head := []byte("MSRP x SEND\r\n\r\n")
	body := bytes.Repeat([]byte("0123456789abcdef"), (4<<20)/16)
	got := slowRead(server, 64<<10, 20*time.Millisecond) // ≈ 960 KiB per timeout
	start := time.Now()
	if _, err := w.Write(head); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); err != nil {
		t.Fatalf("write to a slow but steady peer: %v", err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("the write took %v, no longer than the timeout: the test proves nothing", el)
	}
	if c.sockOff != int64(len(head)+len(body)) {
		t.Fatalf("sockOff %d, want %d", c.sockOff, len(head)+len(body))
	}
	client.CloseWrite()
	if b := <-got; !bytes.Equal(b, append(head, body...)) {
		t.Fatalf("peer got %d octets, not the head then the body", len(b))
	}
}

// TestSockWriterTricklingPeer: a peer taking less than writeProgress
// octets per timeout fails the write (FINDINGS F10: a peer that does not
// read must not hold the connection).
func TestSockWriterTricklingPeer(t *testing.T) {
	client, server := tcpPair(t)
	c := &Conn{nc: client, ep: &Endpoint{txTimeout: 200 * time.Millisecond}}
	w := newSockWriter(c)
	got := slowRead(server, 1<<10, 20*time.Millisecond) // ≈ 10 KiB per timeout
	_, err := w.Write(make([]byte, 4<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a trickling peer: %v, want a deadline error", err)
	}
	server.Close()
	<-got
}

// oneAtATime returns at most n octets per Read, as a slow or interactive
// source does.
type oneAtATime struct {
	r io.Reader
	n int
}

func (o oneAtATime) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), o.n)]) }

// TestFeederPieces: a source that does not fill its pieces is read into
// small ones; one that fills them (a file, a bulk stream) moves to
// pieceSize pieces from the second on; the octets come out in order.
func TestFeederPieces(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), (1<<20)/16)
	for _, tc := range []struct {
		name string
		r    io.Reader
		caps []int // capacities of the first pieces
	}{
		{"trickle", oneAtATime{bytes.NewReader(body), 100}, []int{smallPiece, smallPiece, smallPiece}},
		{"bulk", bytes.NewReader(body), []int{smallPiece, pieceSize, pieceSize}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeeder()
			go f.run(tc.r, int64(len(body)), func() {})
			var got []byte
			var caps []int
			for bp := range f.ch {
				caps = append(caps, cap(*bp))
				got = append(got, *bp...)
				putPiece(bp)
			}
			if f.err != nil {
				t.Fatal(f.err)
			}
			if !bytes.Equal(got, body) {
				t.Fatalf("got %d octets, not the body", len(got))
			}
			for i, c := range tc.caps {
				if caps[i] != c {
					t.Fatalf("piece capacities %v…, want %v…", caps[:len(tc.caps)], tc.caps)
				}
			}
		})
	}
}
