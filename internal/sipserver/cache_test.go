package sipserver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/store"
)

// TestCacheRegisterInvalidates: with a cache that would keep entries for
// an hour, a REGISTER and an unREGISTER on this node are seen by the very
// next MESSAGE.
func TestCacheRegisterInvalidates(t *testing.T) {
	s := newTestServer(t, nil, Config{CacheTTL: time.Hour}, "alice", "bob")
	alice, _ := s.mustClient(t, "alice", "tcp")
	// Cached: bob has no binding.
	if res, err := send(t, alice, "bob", "offline"); err != nil || res.Status != 202 {
		t.Fatalf("to offline bob: %+v %v, want 202", res, err)
	}
	bob, bobIn := s.mustClient(t, "bob", "tcp")
	if res, err := send(t, alice, "bob", "online"); err != nil || res.Status != 200 {
		t.Fatalf("right after bob's REGISTER: %+v %v, want 200", res, err)
	}
	for {
		if m := bobIn.next(t); string(m.Body) == "online" {
			break
		}
	}
	if err := bob.Close(); err != nil { // unREGISTERs (Expires: 0) first
		t.Fatal(err)
	}
	if s.Metrics().Unregistrations.Load() != 1 {
		t.Fatal("bob's Close did not unREGISTER")
	}
	if res, err := send(t, alice, "bob", "offline again"); err != nil || res.Status != 202 {
		t.Fatalf("right after bob's unREGISTER: %+v %v, want 202", res, err)
	}
}

func newCacheStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestCacheNeverExpired: a cached binding is not used once it expired,
// however fresh the entry.
func TestCacheNeverExpired(t *testing.T) {
	st := newCacheStore(t)
	c := newCache(st, time.Hour)
	clock := &fakeClock{t: time.Now()}
	c.now = clock.Now
	aor := "sip:bob@" + domain
	if err := st.Bind(t.Context(), store.Binding{AOR: aor, Contact: "sip:bob@127.0.0.1:7001", Expires: clock.Now().Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if bs, err := c.lookup(t.Context(), aor); err != nil || len(bs) != 1 {
		t.Fatalf("lookup: %v %v", bs, err)
	}
	clock.Advance(3 * time.Second)
	if bs, err := c.lookup(t.Context(), aor); err != nil || len(bs) != 0 {
		t.Fatalf("expired binding returned from the cache: %v %v", bs, err)
	}
}

// TestCacheTTL: account and credential changes made elsewhere are seen
// after the TTL; what the cache hands out is not shared with it.
func TestCacheTTL(t *testing.T) {
	st := newCacheStore(t)
	c := newCache(st, time.Second)
	clock := &fakeClock{t: time.Now()}
	c.now = clock.Now
	ctx := t.Context()
	if ok, err := c.accountExists(ctx, domain, "carol"); err != nil || ok {
		t.Fatalf("carol before she exists: %v %v", ok, err)
	}
	if _, err := c.credential(ctx, domain, "carol", domain, store.MD5); err != store.ErrNotFound {
		t.Fatalf("credential of a missing user: %v, want ErrNotFound", err)
	}
	addUser(t, st, "carol")
	if ok, _ := c.accountExists(ctx, domain, "carol"); ok {
		t.Fatal("the negative entry was not cached")
	}
	clock.Advance(time.Second)
	if ok, err := c.accountExists(ctx, domain, "carol"); err != nil || !ok {
		t.Fatalf("carol after the TTL: %v %v", ok, err)
	}
	old, err := c.credential(ctx, domain, "carol", domain, store.MD5)
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := store.NewCredentials("carol", domain, "new-pw")
	if err := st.SetCredentials(ctx, domain, "carol", creds); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.credential(ctx, domain, "carol", domain, store.MD5); got.HA1 != old.HA1 {
		t.Fatal("credential not cached within the TTL")
	}
	clock.Advance(time.Second)
	if got, _ := c.credential(ctx, domain, "carol", domain, store.MD5); got.HA1 == old.HA1 {
		t.Fatal("old password still used after the TTL")
	}
	// Callers may change the slice they get.
	aor := "sip:carol@" + domain
	st.Bind(ctx, store.Binding{AOR: aor, Contact: "sip:carol@127.0.0.1:7001", Expires: time.Now().Add(time.Hour)})
	bs, _ := c.lookup(ctx, aor)
	bs[0].Contact = "sip:mallory@127.0.0.1"
	if bs2, _ := c.lookup(ctx, aor); bs2[0].Contact != "sip:carol@127.0.0.1:7001" {
		t.Fatalf("cache entry changed through a returned slice: %s", bs2[0].Contact)
	}
}

// TestCacheNotified: a change of bindings another node announces on
// locationChannel (PostgreSQL NOTIFY; here the in-process bus of the
// same store) reaches this node's cache at once; "" empties it.
func TestCacheNotified(t *testing.T) {
	s := newTestServer(t, nil, Config{CacheTTL: time.Hour}, "bob")
	ctx := t.Context()
	aor := "sip:bob@" + domain
	if bs, err := s.lookup(ctx, aor); err != nil || len(bs) != 0 {
		t.Fatalf("lookup: %v %v", bs, err)
	}
	// Another node binds bob and says so.
	if err := s.st.Bind(ctx, store.Binding{AOR: aor, Contact: "sip:bob@127.0.0.1:7009", Node: "sip:10.0.0.2:5060", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if bs, _ := s.lookup(ctx, aor); len(bs) != 0 {
		t.Fatal("not cached: the test proves nothing")
	}
	if err := s.st.Notify(ctx, locationChannel, aor); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { bs, _ := s.lookup(ctx, aor); return len(bs) == 1 })
	if _, err := s.st.RemoveAll(ctx, aor); err != nil {
		t.Fatal(err)
	}
	s.cache.forgetAll() // what a lost-notification marker ("") does
	if bs, _ := s.lookup(ctx, aor); len(bs) != 0 {
		t.Fatalf("after forgetAll: %v", bs)
	}
	// The table is bounded.
	for i := range maxCached + 5 {
		s.cache.accountExists(ctx, domain, "u"+string(rune('a'+i%26))+time.Duration(i).String())
	}
	s.cache.mu.Lock()
	n := len(s.cache.accounts)
	s.cache.mu.Unlock()
	if n > maxCached {
		t.Errorf("%d accounts cached, cap %d", n, maxCached)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 2 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
