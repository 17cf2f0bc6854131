package sipserver

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/sipua"
)

// countingStore counts the reads of the hot path of a MESSAGE.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (c *countingStore) Lookup(ctx context.Context, aor string) ([]store.Binding, error) {
	c.reads.Add(1)
	return c.Store.Lookup(ctx, aor)
}

func (c *countingStore) Account(ctx context.Context, domain, user string) (store.Account, error) {
	c.reads.Add(1)
	return c.Store.Account(ctx, domain, user)
}

func (c *countingStore) Credential(ctx context.Context, domain, user, realm string, alg store.Algorithm) (store.Credential, error) {
	c.reads.Add(1)
	return c.Store.Credential(ctx, domain, user, realm, alg)
}

// benchSend sends b.N pager messages alice → bob through the proxy, one
// at a time (RFC 3428 §9 forbids overlapping MESSAGEs to one target),
// and reports the store reads (Lookup, Account, Credential) per message.
func benchSend(b *testing.B, online bool, cfg Config) {
	st, err := store.Open(b.Context(), filepath.Join(b.TempDir(), "parley.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cs := &countingStore{Store: st}
	s := newTestServer(b, cs, cfg, "alice", "bob")
	alice, _ := s.mustClientB(b, "alice", "tcp")
	if online {
		_, in := s.mustClientB(b, "bob", "tcp")
		_ = in
	}
	body := []byte("a pager message of a typical size, about sixty bytes long.")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	want := 200
	if !online {
		want = 202
	}
	r0 := cs.reads.Load()
	c0, cpuOK := cpuTime()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := alice.SendMessage(ctx, "sip:bob@"+domain, "text/plain", body)
		cancel()
		if err != nil || res.Status != want {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(cs.reads.Load()-r0)/float64(b.N), "storereads/op")
	if c1, ok := cpuTime(); ok && cpuOK {
		// Client and server together (one process).
		b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkPagerProxied: MESSAGE delivered to an online device (200).
func BenchmarkPagerProxied(b *testing.B) { benchSend(b, true, Config{}) }

// BenchmarkPagerProxiedNoCache: the same without the location and
// credential cache (every MESSAGE reads the store).
func BenchmarkPagerProxiedNoCache(b *testing.B) { benchSend(b, true, Config{CacheTTL: -1}) }

// BenchmarkPagerStored: MESSAGE to an offline user, committed to SQLite
// (fsync) before the 202.
func BenchmarkPagerStored(b *testing.B) { benchSend(b, false, Config{}) }

func (s *testServer) mustClientB(b *testing.B, user, transport string) (*sipua.UA, inbox) {
	in := make(inbox, 1024)
	reg := "sip:" + s.Addr(transport) + ";transport=" + transport
	ua, err := sipua.New(sipua.Config{AOR: "sip:" + user + "@" + domain, Password: user + "-pw", Registrar: reg, OutboundProxy: reg,
		Listen: []sipua.Listen{{Transport: transport, Addr: "127.0.0.1:0"}}, OnMessage: func(m *sipua.Message) {
			select {
			case in <- m:
			default:
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ua.Close() })
	if err := ua.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	return ua, in
}
