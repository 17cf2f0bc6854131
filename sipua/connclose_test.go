package sipua

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// TestPeerClosesDuringRequestSetup: a peer that closes each TCP connection
// as soon as a request arrives on it, while other requests are being set
// up on the same connection. With sipgo's
// WithTransactionLayerTerminateOnConnClose, sipgo's close notifier spun
// the state machine of a client transaction that it had already put in
// its table but not yet initialised (Init runs after the insertion), a
// nil function call in a goroutine of sipgo's that no recover of ours can
// reach: the test binary crashed within a second. The UA no longer
// enables that option (see doc.go); every request here must fail, none
// may succeed, and the process must survive.
func TestPeerClosesDuringRequestSetup(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		conns.Wait()
	})
	conns.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				b := make([]byte, 1)
				_, _ = c.Read(b)
			})
		}
	})
	alice := testUA(t, Config{AOR: "sip:alice@example.com"}, TCP)
	// Rounds for 3 s: with sipgo's option a round takes milliseconds (the
	// close fails the requests) and the crash came within a few hundred;
	// without it each request waits for its context.
	const parallel = 16
	for round, end := 0, time.Now().Add(3*time.Second); time.Now().Before(end); round++ {
		var wg sync.WaitGroup
		errs := make([]error, parallel)
		for i := range parallel {
			wg.Go(func() {
				// Distinct targets on one host:port: the pager queues
				// per target, so these share a connection at once.
				target := fmt.Sprintf("sip:u%d@%s;transport=tcp", i, l.Addr())
				_, errs[i] = alice.SendMessage(ctxT(t, 100*time.Millisecond), target, "text/plain", []byte("x"))
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err == nil {
				t.Fatalf("round %d, request %d: delivered to a peer that answers nothing", round, i)
			}
		}
	}
}
