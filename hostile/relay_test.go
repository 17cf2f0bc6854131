package hostile

import (
	"context"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/msrp/relay"
)

// RoundTrip lets msrp.Authenticate run over a raw peer.
func (p *peer) RoundTrip(ctx context.Context, req *msrp.Frame, body []byte) (*msrp.Frame, error) {
	p.writeFrame(req, body)
	return p.response(req.TID, reactionTimeout)
}

func startRelay(t testing.TB, cfg relay.Config) *relay.Server {
	t.Helper()
	auth := relay.NewMemoryAuthenticator()
	auth.Add("alice", "alice-pw")
	auth.Add("bob", "bob-pw")
	cfg.Host = "127.0.0.1"
	cfg.Authenticator = auth
	s, err := relay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	for s.URI().Port == 0 {
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != relay.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// relayClient is a client authenticated at a relay on a raw connection,
// which answers every request forwarded to it with 200 and records what
// reached it.
type relayClient struct {
	p       *peer
	usePath msrp.URI
	mu      sync.Mutex
	got     []*msrp.Frame
	bodies  [][]byte
	resps   chan *msrp.Frame
	count   atomic.Int64 // requests received
	noKeep  atomic.Bool  // count requests without keeping them
	stop    chan struct{}
	stopped chan struct{}
}

func authClient(t testing.TB, s *relay.Server, user string) *relayClient {
	t.Helper()
	return authClientAt(t, s.URI(), user)
}

// authClientAt authenticates user (password user+"-pw") at the relay u.
func authClientAt(t testing.TB, u msrp.URI, user string) *relayClient {
	t.Helper()
	p := dialPeer(t, u.HostPort())
	ra, err := msrp.Authenticate(testCtx(t), p, u, msrp.Credentials{Username: user, Password: user + "-pw"},
		msrp.AuthOptions{From: p.self, RequireResponseAuth: true})
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	c := &relayClient{p: p, usePath: ra.UsePath[len(ra.UsePath)-1], resps: make(chan *msrp.Frame, 64), stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(c.stopped)
		for {
			select {
			case r := <-p.in:
				if r.err != nil {
					p.in <- r
					return
				}
				if !r.f.IsRequest() {
					select {
					case c.resps <- r.f:
					default:
					}
					continue
				}
				{
					c.count.Add(1)
					if !c.noKeep.Load() {
						c.mu.Lock()
						c.got = append(c.got, r.f)
						c.bodies = append(c.bodies, r.body)
						c.mu.Unlock()
					}
					if r.f.Method != msrp.MethodREPORT && r.f.FailureReportMode() == "yes" {
						resp := msrp.Respond(r.f, 200, "")
						resp.Flag = msrp.FlagEnd
						p.write(msrp.AppendFrame(nil, resp, nil))
					}
				}
			case <-c.stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(c.stop); <-c.stopped })
	return c
}

// response waits for the response to tid on the client's connection.
func (c *relayClient) response(tid string, d time.Duration) (*msrp.Frame, error) {
	deadline := time.After(d)
	for {
		select {
		case f := <-c.resps:
			if f.TID == tid {
				return f, nil
			}
		case <-deadline:
			return nil, errNoReaction
		}
	}
}

// path is the To-Path a peer uses to reach the client through the relay.
func (c *relayClient) path() []msrp.URI { return []msrp.URI{c.usePath, c.p.self} }

func (c *relayClient) received() []*msrp.Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*msrp.Frame(nil), c.got...)
}

func (c *relayClient) body(i int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bodies[i]
}

// TestReplayRelay replays the MSRP corpus at a live relay from a peer that
// did not authenticate, toward the Use-Path URL of a client that did.
func TestReplayRelay(t *testing.T) {
	s := startRelay(t, relay.Config{MaxChunkSize: 1 << 20})
	replayRelay(t, s.URI())
}

// replayRelay replays the relay corpus at the relay u, which must know
// user alice with password alice-pw.
func replayRelay(t *testing.T, u msrp.URI) {
	alice := authClientAt(t, u, "alice")
	g0 := runtime.NumGoroutine()
	h0 := heapAlloc()
	for _, c := range casesFor(t, "relay") {
		t.Run(c.name, func(t *testing.T) {
			p := dialPeer(t, u.HostPort())
			to := alice.path()
			data := materialize(c.data, msrpVars(to, p.self))
			if err := p.write(data); err != nil && c.expect != "close" {
				t.Fatalf("write: %v", err)
			}
			checkReaction(t, p, to, c.expect)
			p.close()
		})
	}
	// A fresh connection still reaches alice.
	p := dialPeer(t, u.HostPort())
	if err := probe(p, alice.path()); err != nil {
		t.Fatalf("fresh connection after the corpus: %v", err)
	}
	p.close()
	if h1 := heapAlloc(); h1 > h0+32<<20 {
		t.Errorf("heap grew from %d to %d over the corpus", h0, h1)
	}
	if n := settleGoroutines(g0 + 2); n > g0+2 {
		t.Errorf("goroutines: %d before the corpus, %d after", g0, n)
	}
}

// TestRelaySplitDelivery replays the relay corpus one byte per write.
func TestRelaySplitDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: one write per byte")
	}
	s := startRelay(t, relay.Config{MaxChunkSize: 1 << 20})
	alice := authClient(t, s, "alice")
	for _, c := range casesFor(t, "relay") {
		if len(c.data) > 16<<10 {
			continue // the big cases are replayed whole by TestReplayRelay
		}
		t.Run(c.name, func(t *testing.T) {
			p := dialPeer(t, s.URI().HostPort())
			to := alice.path()
			data := materialize(c.data, msrpVars(to, p.self))
			for i := range data {
				if err := p.write(data[i : i+1]); err != nil {
					if c.expect == "close" {
						break
					}
					t.Fatal(err)
				}
			}
			checkReaction(t, p, to, c.expect)
			p.close()
		})
	}
}
