package hostile

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/parley-im/parley/cpimtransport"
)

// TestReplaySeedRelay replays the seed corpus at a live cpimtransport.Relay
// (the seed draft's §7 session relay of `parley serve`) with no session
// installed: every message is unmatched and dropped. Framing must hold:
// after each case (except those that must close) a well-framed message is
// still parsed (counted Unmatched), and the relay closes what it must.
func TestReplaySeedRelay(t *testing.T) {
	r, err := cpimtransport.NewRelay(cpimtransport.RelayConfig{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	g0 := runtime.NumGoroutine()
	h0 := heapAlloc()
	fake := &seedSession{mine: "im:mallory@127.0.0.1", theirs: "im:victim@127.0.0.1"}
	for _, c := range casesFor(t, "seed") {
		t.Run(c.name, func(t *testing.T) {
			nc, err := net.DialTimeout("tcp", addr, reactionTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			eof := make(chan struct{})
			go func() {
				defer close(eof)
				var b [512]byte
				for {
					if _, err := nc.Read(b[:]); err != nil {
						return
					}
				}
			}()
			defer func() { nc.Close(); <-eof }()
			nc.SetWriteDeadline(time.Now().Add(reactionTimeout))
			if _, err := nc.Write(seedFill(c.data, fake)); err != nil && c.expect != "close" {
				t.Fatalf("write: %v", err)
			}
			switch c.expect {
			case "close":
				select {
				case <-eof:
				case <-time.After(reactionTimeout):
					t.Fatal("connection not closed")
				}
				return
			case "truncated":
				nc.(*net.TCPConn).CloseWrite()
				select {
				case <-eof:
				case <-time.After(reactionTimeout):
					t.Fatal("connection not closed after the half-close: hang")
				}
				return
			}
			before := r.Stats().Unmatched
			probe := "From: <im:mallory@127.0.0.1>\r\nTo: <im:victim@127.0.0.1>\r\nMsgID: 9\r\n\r\nContent-Type: text/plain\r\n\r\nprobe"
			nc.Write(cpimtransport.AppendFrame(nil, []byte(probe)))
			deadline := time.Now().Add(reactionTimeout)
			for r.Stats().Unmatched == before && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if r.Stats().Unmatched == before {
				t.Fatalf("the relay did not frame a valid message after the case (stats %+v)", r.Stats())
			}
			if got := r.Stats().Forwarded; got != 0 {
				t.Fatalf("the relay forwarded %d messages with no session installed", got)
			}
		})
	}
	if h1 := heapAlloc(); h1 > h0+32<<20 {
		t.Errorf("heap grew from %d to %d", h0, h1)
	}
	if n := settleGoroutines(g0 + 1); n > g0+1 {
		t.Errorf("goroutines: %d before, %d after", g0, n)
	}
}
