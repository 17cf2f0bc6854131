package sipserver

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/sipua"
)

// TestStoredDeliveredOnce: bob has a device on each of two nodes sharing
// one store; messages stored for him are flushed by both nodes at once
// (both hear the queue notification), and each reaches exactly one of his
// devices, because delivery claims the message in the store first.
func TestStoredDeliveredOnce(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := Config{ClusterSecret: "s3cret"}
	a := newTestServer(t, st, cfg, "alice", "bob")
	b := newTestServer(t, st, cfg)
	var mu sync.Mutex
	got := map[string]int{}
	count := func(m *sipua.Message) {
		mu.Lock()
		got[string(m.Body)]++
		mu.Unlock()
	}
	for _, s := range []*testServer{a, b} {
		if _, _, err := s.client(t, "bob", "bob-pw", "tcp", func(c *sipua.Config) { c.OnMessage = count }); err != nil {
			t.Fatal(err)
		}
	}
	aor := "sip:bob@" + domain
	bs, _ := st.Lookup(t.Context(), aor)
	if len(bs) != 2 || bs[0].Node == bs[1].Node {
		t.Fatalf("bob's bindings: %+v, want one on each node", bs)
	}
	const n = 8
	for i := range n {
		if _, _, err := st.Enqueue(t.Context(), store.Message{Rcpt: aor, Sender: "sip:alice@" + domain,
			ContentType: "text/plain", Body: []byte{'m', byte('0' + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Notify(t.Context(), notifyChannel, aor); err != nil { // both nodes flush
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := st.Pending(t.Context(), aor, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still pending", len(p))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a second delivery would be in flight by now
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if body := string([]byte{'m', byte('0' + i)}); got[body] != 1 {
			t.Errorf("%s delivered %d times, want once", body, got[body])
		}
	}
	if len(got) != n {
		t.Errorf("%d distinct messages delivered, want %d", len(got), n)
	}
}
