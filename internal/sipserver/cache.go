package sipserver

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/parley-im/parley/internal/store"
)

// DefaultCacheTTL is how long the location and credential caches keep an
// answer of the store (Config.CacheTTL).
const DefaultCacheTTL = time.Second

// maxCached bounds each table of the cache.
const maxCached = 16384

// locationChannel carries "the bindings of this AOR changed" between
// nodes (store.Notifier); "" means "forget everything".
const locationChannel = "parley_location"

// cache keeps recent answers of the store for the hot path of a MESSAGE
// (issue #6: each one used to cost four SQLite reads: the sender's HA1,
// the recipient's account and credentials, the recipient's bindings).
//
// Consistency:
//   - Bindings: a REGISTER handled by this node drops the AOR's entry as
//     soon as the store has it (before the 200 is sent), and tells the
//     other nodes sharing the database through store.Notify on
//     locationChannel (PostgreSQL LISTEN/NOTIFY; a lost notification, or
//     a reconnected listener, drops everything). A binding is used only
//     while unexpired, whatever the cache holds.
//   - Accounts and credentials change outside the server (`parley user`,
//     another process), which sends no notification: their entries live
//     at most ttl (1 s by default), the staleness allowed for a password
//     change or an account removal to take effect.
//   - Every entry, bindings included, lives at most ttl, which bounds
//     staleness whatever happens to notifications.
//
// A fill that raced with an invalidation is not kept (gen).
type cache struct {
	st  store.Store
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	gen      uint64 // bumped by every invalidation
	bindings map[string]bindEntry
	accounts map[[2]string]acctEntry
	creds    map[credKey]credEntry
}

type bindEntry struct {
	bs []store.Binding
	at time.Time
}

type acctEntry struct {
	exists bool
	at     time.Time
}

type credKey struct {
	domain, user, realm string
	alg                 store.Algorithm
}

type credEntry struct {
	c      store.Credential
	exists bool
	at     time.Time
}

// newCache returns a cache over st, or nil (no caching) when ttl < 0.
func newCache(st store.Store, ttl time.Duration) *cache {
	if ttl < 0 {
		return nil
	}
	return &cache{st: st, ttl: ttl, now: time.Now,
		bindings: map[string]bindEntry{}, accounts: map[[2]string]acctEntry{}, creds: map[credKey]credEntry{}}
}

func (c *cache) fresh(at, now time.Time) bool {
	d := now.Sub(at)
	return d >= 0 && d < c.ttl
}

// put stores v under k in m unless an invalidation happened since gen;
// a full table is emptied of stale entries first, then of everything.
func put[K comparable, V any](c *cache, m map[K]V, k K, v V, gen uint64, at func(V) time.Time) {
	if c.gen != gen {
		return
	}
	if _, ok := m[k]; !ok && len(m) >= maxCached {
		now := c.now()
		for k2, v2 := range m {
			if !c.fresh(at(v2), now) {
				delete(m, k2)
			}
		}
		if len(m) >= maxCached {
			clear(m)
		}
	}
	m[k] = v
}

// lookup returns the unexpired bindings of aor (a new slice the caller
// may keep).
func (c *cache) lookup(ctx context.Context, aor string) ([]store.Binding, error) {
	if c == nil {
		return nil, errNoCache
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.bindings[aor]
	gen := c.gen
	c.mu.Unlock()
	if !ok || !c.fresh(e.at, now) {
		bs, err := c.st.Lookup(ctx, aor)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		put(c, c.bindings, aor, bindEntry{bs: bs, at: now}, gen, func(e bindEntry) time.Time { return e.at })
		c.mu.Unlock()
		e = bindEntry{bs: bs}
	}
	// RFC 3261 §10.3: an expired binding is never used, however recent
	// the entry.
	out := make([]store.Binding, 0, len(e.bs))
	t := c.now()
	for _, b := range e.bs {
		if b.Expires.After(t) {
			out = append(out, b)
		}
	}
	return out, nil
}

// accountExists reports whether domain/user has an account.
func (c *cache) accountExists(ctx context.Context, domain, user string) (bool, error) {
	if c == nil {
		return false, errNoCache
	}
	k := [2]string{domain, user}
	now := c.now()
	c.mu.Lock()
	e, ok := c.accounts[k]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.fresh(e.at, now) {
		return e.exists, nil
	}
	_, err := c.st.Account(ctx, domain, user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	e = acctEntry{exists: err == nil, at: now}
	c.mu.Lock()
	put(c, c.accounts, k, e, gen, func(e acctEntry) time.Time { return e.at })
	c.mu.Unlock()
	return e.exists, nil
}

// credential returns an HA1 like store.Credential (ErrNotFound included).
func (c *cache) credential(ctx context.Context, domain, user, realm string, alg store.Algorithm) (store.Credential, error) {
	if c == nil {
		return store.Credential{}, errNoCache
	}
	k := credKey{domain, user, realm, alg}
	now := c.now()
	c.mu.Lock()
	e, ok := c.creds[k]
	gen := c.gen
	c.mu.Unlock()
	if !ok || !c.fresh(e.at, now) {
		cred, err := c.st.Credential(ctx, domain, user, realm, alg)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Credential{}, err
		}
		e = credEntry{c: cred, exists: err == nil, at: now}
		c.mu.Lock()
		put(c, c.creds, k, e, gen, func(e credEntry) time.Time { return e.at })
		c.mu.Unlock()
	}
	if !e.exists {
		return store.Credential{}, store.ErrNotFound
	}
	return e.c, nil
}

// forgetAOR drops what the cache knows of aor's bindings.
func (c *cache) forgetAOR(aor string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen++
	delete(c.bindings, aor)
	c.mu.Unlock()
}

// forgetAll empties the cache.
func (c *cache) forgetAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen++
	clear(c.bindings)
	clear(c.accounts)
	clear(c.creds)
	c.mu.Unlock()
}

// errNoCache is never returned to callers: the Server methods below fall
// back to the store when caching is off.
var errNoCache = errors.New("no cache")

// lookup returns the unexpired bindings of aor, through the cache.
func (s *Server) lookup(ctx context.Context, aor string) ([]store.Binding, error) {
	if s.cache == nil {
		return s.st.Lookup(ctx, aor)
	}
	return s.cache.lookup(ctx, aor)
}

// accountExists reports whether user@domain has an account, through the
// cache.
func (s *Server) accountExists(ctx context.Context, domain, user string) (bool, error) {
	if s.cache == nil {
		_, err := s.st.Account(ctx, domain, user)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	return s.cache.accountExists(ctx, domain, user)
}

// credential looks up the HA1 of user@domain for realm and alg, through
// the cache.
func (s *Server) credential(ctx context.Context, domain, user, realm string, alg store.Algorithm) (store.Credential, error) {
	if s.cache == nil {
		return s.st.Credential(ctx, domain, user, realm, alg)
	}
	return s.cache.credential(ctx, domain, user, realm, alg)
}

// bindingsChanged is called after this node changed aor's bindings: the
// local entry goes at once, the other nodes are told.
func (s *Server) bindingsChanged(ctx context.Context, aor string) {
	s.cache.forgetAOR(aor)
	if s.cache == nil {
		return
	}
	if err := s.st.Notify(ctx, locationChannel, aor); err != nil {
		s.log.Debug("notify location change", "aor", aor, "err", err)
	}
}

// locationLoop drops the entries of AORs whose bindings another node
// changed (all of them when notifications may have been lost).
func (s *Server) locationLoop(ch <-chan string) {
	s.listenLoop(ch, s.cache.forgetAOR, s.cache.forgetAll)
}
