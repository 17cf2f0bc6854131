package relay

import (
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// FuzzRelayInput feeds arbitrary bytes, split at random points, to a
// relay connection: it must answer or close, never panic or hang.
func FuzzRelayInput(f *testing.F) {
	f.Add([]byte("MSRP a786hjs2 AUTH\r\nTo-Path: msrp://127.0.0.1:2855;tcp\r\nFrom-Path: msrp://127.0.0.1:9/x;tcp\r\n-------a786hjs2$\r\n"), uint64(1))
	f.Add([]byte("MSRP a786hjs2 SEND\r\nTo-Path: msrp://127.0.0.1:2855/abcd;tcp msrp://127.0.0.1:9/y;tcp\r\nFrom-Path: msrp://127.0.0.1:9/x;tcp\r\nMessage-ID: 87652491\r\nByte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------a786hjs2$\r\n"), uint64(2))
	f.Add([]byte("MSRP a786hjs2 200 OK\r\nTo-Path: msrp://127.0.0.1:2855;tcp\r\nFrom-Path: msrp://127.0.0.1:9/x;tcp\r\n-------a786hjs2$\r\n"), uint64(3))
	f.Add([]byte("MSRP a786hjs2 AUTH\r\nTo-Path: msrp://127.0.0.1:2855;tcp\r\nFrom-Path: msrp://127.0.0.1:9/x;tcp\r\nAuthorization: Digest username=\"alice\", realm=\"127.0.0.1\", nonce=\"00\", uri=\"msrp://127.0.0.1:2855;tcp\", response=\"00\", qop=auth, nc=00000001, cnonce=\"x\"\r\nExpires: 99999999999999999999\r\n-------a786hjs2$\r\n"), uint64(4))
	auth := NewMemoryAuthenticator()
	auth.Add("alice", "alice-pw")
	s, err := New(Config{Host: "127.0.0.1", Port: 2855, Authenticator: auth, AllowInsecure: true,
		ProbationTimeout: 2 * time.Second, MaxConnsPerAddr: -1})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		cl, sv := net.Pipe()
		s.ServeConn(sv)
		r := rand.New(rand.NewPCG(seed, ^seed))
		done := make(chan struct{})
		go func() {
			// Drain whatever the relay answers.
			defer close(done)
			buf := make([]byte, 4096)
			for {
				if _, err := cl.Read(buf); err != nil {
					return
				}
			}
		}()
		cl.SetWriteDeadline(time.Now().Add(5 * time.Second))
		for len(in) > 0 {
			n := 1 + r.IntN(len(in))
			if _, err := cl.Write(in[:n]); err != nil {
				break
			}
			in = in[n:]
		}
		cl.Close()
		<-done
		for deadline := time.Now().Add(5 * time.Second); s.Metrics().ConnectionsOpen != 0; {
			if time.Now().After(deadline) {
				t.Fatal("relay connection did not end")
			}
			time.Sleep(time.Millisecond)
		}
	})
}
