// Package storetest is the test suite that every store backend must pass.
// The SQLite and PostgreSQL backends run the same Run.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/store"
)

// NewDSN returns the DSN of a new, empty database for one test. The suite
// opens it (sometimes several times, to test reopening and several nodes
// sharing one database) with store.OpenOptions and closes what it opened.
type NewDSN func(t *testing.T) string

// Clock is a settable clock for store.Options.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to a fixed instant.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	dsn   string
	clock *Clock
	ctx   context.Context
}

func (e *env) open() store.Store {
	e.t.Helper()
	s, err := store.OpenOptions(e.ctx, e.dsn, store.Options{Now: e.clock.Now})
	if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

// Run runs the whole suite against fresh databases from newDSN.
func Run(t *testing.T, newDSN NewDSN) {
	tests := []struct {
		name string
		f    func(*env)
	}{
		{"Migrations", testMigrations},
		{"ConcurrentOpen", testConcurrentOpen},
		{"Accounts", testAccounts},
		{"AccountsInvalid", testAccountsInvalid},
		{"Bindings", testBindings},
		{"BindingCSeq", testBindingCSeq},
		{"BindingInstance", testBindingInstance},
		{"BindingRemove", testBindingRemove},
		{"MessagesOrder", testMessagesOrder},
		{"MessagesIdempotent", testMessagesIdempotent},
		{"MessagesState", testMessagesState},
		{"MessagesPurge", testMessagesPurge},
		{"MessagesClaim", testMessagesClaim},
		{"MessagesClaimRace", testMessagesClaimRace},
		{"History", testHistory},
		{"HistoryIdempotent", testHistoryIdempotent},
		{"Sessions", testSessions},
		{"Notify", testNotify},
		{"NotifyInvalid", testNotifyInvalid},
		{"InvalidText", testInvalidText},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ClosedStore", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.f(&env{t: t, dsn: newDSN(t), clock: NewClock(), ctx: t.Context()})
		})
	}
}

func testMigrations(e *env) {
	t := e.t
	s := e.open()
	v, err := s.SchemaVersion(e.ctx)
	if err != nil || v < 3 {
		t.Fatalf("SchemaVersion = %d, %v; want >= 3", v, err)
	}
	if err := s.AddAccount(e.ctx, store.Account{Domain: "example.com", User: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Reopening applies nothing and keeps the data; two handles at once
	// (two nodes) both see the same version.
	s1, s2 := e.open(), e.open()
	for i, h := range []store.Store{s1, s2} {
		v2, err := h.SchemaVersion(e.ctx)
		if err != nil || v2 != v {
			t.Errorf("handle %d: SchemaVersion after reopen = %d, %v; want %d", i, v2, err, v)
		}
		if _, err := h.Account(e.ctx, "example.com", "alice"); err != nil {
			t.Errorf("handle %d: account lost across reopen: %v", i, err)
		}
	}
	if err := s1.Ping(e.ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// Several nodes starting at once on a new database: migrations run once and
// every node opens.
func testConcurrentOpen(e *env) {
	t := e.t
	const nodes = 4
	stores := make([]store.Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = store.OpenOptions(e.ctx, e.dsn, store.Options{Now: e.clock.Now})
		}()
	}
	wg.Wait()
	for i := range nodes {
		if errs[i] != nil {
			t.Errorf("node %d: Open: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
		if v, err := stores[i].SchemaVersion(e.ctx); err != nil || v < 3 {
			t.Errorf("node %d: SchemaVersion = %d, %v", i, v, err)
		}
	}
}

func testAccounts(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	creds, err := store.NewCredentials("alice", "example.com", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddAccount(ctx, store.Account{Domain: "Example.COM", User: "alice", DisplayName: "Alice", Credentials: creds}); err != nil {
		t.Fatalf("AddAccount: %v", err)
	}
	if err := s.AddAccount(ctx, store.Account{Domain: "example.com", User: "alice"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate AddAccount: %v, want ErrExists", err)
	}
	// The user part is case-sensitive: Alice is another account.
	if err := s.AddAccount(ctx, store.Account{Domain: "example.com", User: "Alice"}); err != nil {
		t.Errorf("AddAccount Alice: %v", err)
	}
	if err := s.AddAccount(ctx, store.Account{Domain: "other.org", User: "bob"}); err != nil {
		t.Fatal(err)
	}
	a, err := s.Account(ctx, "EXAMPLE.com", "alice")
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	if a.Domain != "example.com" || a.DisplayName != "Alice" || len(a.Credentials) != 2 || !a.Created.Equal(e.clock.Now()) {
		t.Errorf("Account = %+v", a)
	}
	list, err := s.Accounts(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(list); fmt.Sprint(got) != "[example.com/Alice example.com/alice]" {
		t.Errorf("Accounts(example.com) = %v", got)
	}
	all, err := s.Accounts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(all); fmt.Sprint(got) != "[example.com/Alice example.com/alice other.org/bob]" {
		t.Errorf("Accounts('') = %v", got)
	}

	// Digest: the stored HA1 verifies a response computed by a client.
	for _, alg := range []store.Algorithm{store.MD5, "sha-256", "SHA-256-sess", ""} {
		c, err := s.Credential(ctx, "example.com", "alice", "example.com", alg)
		if err != nil {
			t.Fatalf("Credential(%q): %v", alg, err)
		}
		client, _ := store.NewCredential("alice", "example.com", "s3cret", alg)
		resp, err := client.Response(alg, "REGISTER", "sip:example.com", "n0nce", "00000001", "c", "auth")
		if err != nil {
			t.Fatal(err)
		}
		if !c.Verify(resp, alg, "REGISTER", "sip:example.com", "n0nce", "00000001", "c", "auth") {
			t.Errorf("%q: stored credential does not verify a correct response", alg)
		}
		wrong, _ := store.NewCredential("alice", "example.com", "guess", alg)
		resp, _ = wrong.Response(alg, "REGISTER", "sip:example.com", "n0nce", "00000001", "c", "auth")
		if c.Verify(resp, alg, "REGISTER", "sip:example.com", "n0nce", "00000001", "c", "auth") {
			t.Errorf("%q: wrong password verified", alg)
		}
	}
	if _, err := s.Credential(ctx, "example.com", "alice", "other-realm", store.MD5); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Credential other realm: %v, want ErrNotFound", err)
	}
	if _, err := s.Credential(ctx, "example.com", "alice", "example.com", "SHA-1"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Credential SHA-1: %v, want ErrInvalid", err)
	}

	// Password change replaces every credential.
	newCreds, _ := store.NewCredentials("alice", "example.com", "n3w", store.SHA512256)
	if err := s.SetCredentials(ctx, "example.com", "alice", newCreds); err != nil {
		t.Fatalf("SetCredentials: %v", err)
	}
	if _, err := s.Credential(ctx, "example.com", "alice", "example.com", store.MD5); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old MD5 credential survived SetCredentials: %v", err)
	}
	if c, err := s.Credential(ctx, "example.com", "alice", "example.com", store.SHA512256); err != nil || c.HA1 != newCreds[0].HA1 {
		t.Errorf("new credential = %+v, %v", c, err)
	}
	if err := s.SetCredentials(ctx, "example.com", "nobody", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetCredentials unknown: %v, want ErrNotFound", err)
	}

	if err := s.DeleteAccount(ctx, "example.com", "alice"); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if err := s.DeleteAccount(ctx, "example.com", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteAccount twice: %v, want ErrNotFound", err)
	}
	if _, err := s.Account(ctx, "example.com", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Account after delete: %v", err)
	}
	if _, err := s.Credential(ctx, "example.com", "alice", "example.com", store.SHA512256); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("credential after delete: %v", err)
	}
	// Re-adding after delete works (credentials were really removed).
	if err := s.AddAccount(ctx, store.Account{Domain: "example.com", User: "alice", Credentials: creds}); err != nil {
		t.Errorf("re-add: %v", err)
	}
}

func names(list []store.Account) []string {
	var out []string
	for _, a := range list {
		out = append(out, a.Domain+"/"+a.User)
	}
	return out
}

func testAccountsInvalid(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	for _, a := range []store.Account{
		{Domain: "", User: "x"},
		{Domain: "example.com", User: ""},
		{Domain: "example.com", User: "x", Credentials: []store.Credential{{Realm: "r", Algorithm: "MD4", HA1: "00"}}},
		{Domain: "example.com", User: "y", Credentials: []store.Credential{{Realm: "r", Algorithm: store.MD5}}},
	} {
		if err := s.AddAccount(ctx, a); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AddAccount(%+v) = %v, want ErrInvalid", a, err)
		}
	}
	// A failed AddAccount leaves nothing behind.
	if _, err := s.Account(ctx, "example.com", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("half-added account: %v", err)
	}
}

func binding(aor, contact string, exp time.Time) store.Binding {
	return store.Binding{AOR: aor, Contact: contact, CallID: "cid-" + contact, CSeq: 1, Expires: exp, Node: "n1"}
}

func contacts(bs []store.Binding) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Contact)
	}
	return out
}

func testBindings(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	now := e.clock.Now()
	aor := "sip:alice@example.com"
	phone := binding(aor, "sip:alice@192.0.2.1:5060;transport=tcp", now.Add(time.Hour))
	phone.Q, phone.Path, phone.Received, phone.UserAgent = 900, []string{"<sip:edge1;lr>", "<sip:edge2;lr>"}, "tcp:192.0.2.1:50123", "phone/1"
	laptop := binding(aor, "sip:alice@198.51.100.7:5062", now.Add(10*time.Minute))
	laptop.Q, laptop.Node = 500, "n2"
	tablet := binding(aor, "sip:alice@203.0.113.9", now.Add(time.Minute))
	for _, b := range []store.Binding{phone, laptop, tablet, binding("sip:bob@example.com", "sip:bob@192.0.2.2", now.Add(time.Hour))} {
		if err := s.Bind(ctx, b); err != nil {
			t.Fatalf("Bind %s: %v", b.Contact, err)
		}
	}
	got, err := s.Lookup(ctx, aor)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{phone.Contact, laptop.Contact, tablet.Contact}; fmt.Sprint(contacts(got)) != fmt.Sprint(want) {
		t.Fatalf("Lookup = %v, want %v (q order)", contacts(got), want)
	}
	g := got[0]
	if g.AOR != aor || g.Q != 900 || g.Node != "n1" || g.Received != phone.Received || g.UserAgent != "phone/1" ||
		fmt.Sprint(g.Path) != fmt.Sprint(phone.Path) || !g.Expires.Equal(phone.Expires) || g.CallID != phone.CallID ||
		g.CSeq != 1 || !g.Updated.Equal(now) {
		t.Errorf("Lookup[0] = %+v, want %+v", g, phone)
	}
	if got[1].Node != "n2" {
		t.Errorf("laptop node = %q", got[1].Node)
	}

	// Two minutes later the tablet has expired: Lookup hides it before any
	// purge, and Expire removes exactly it.
	e.clock.Advance(2 * time.Minute)
	got, _ = s.Lookup(ctx, aor)
	if len(got) != 2 {
		t.Errorf("Lookup after tablet expiry = %v", contacts(got))
	}
	n, err := s.Expire(ctx, e.clock.Now())
	if err != nil || n != 1 {
		t.Errorf("Expire = %d, %v; want 1", n, err)
	}
	n, _ = s.Expire(ctx, e.clock.Now())
	if n != 0 {
		t.Errorf("second Expire = %d", n)
	}
	// Refresh extends.
	laptop.CSeq, laptop.Expires = 2, e.clock.Now().Add(time.Hour)
	if err := s.Bind(ctx, laptop); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Minute)
	got, _ = s.Lookup(ctx, aor)
	if len(got) != 2 {
		t.Errorf("after refresh: %v", contacts(got))
	}
	if got, _ := s.Lookup(ctx, "sip:nobody@example.com"); len(got) != 0 {
		t.Errorf("Lookup unknown = %v", got)
	}
}

func testBindingCSeq(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	b := binding("sip:alice@example.com", "sip:alice@192.0.2.1", e.clock.Now().Add(time.Hour))
	b.CSeq = 10
	if err := s.Bind(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, cseq := range []uint32{10, 9} {
		old := b
		old.CSeq, old.Node = cseq, "stale"
		if err := s.Bind(ctx, old); !errors.Is(err, store.ErrStaleCSeq) {
			t.Errorf("Bind CSeq %d after 10: %v, want ErrStaleCSeq", cseq, err)
		}
	}
	got, _ := s.Lookup(ctx, b.AOR)
	if len(got) != 1 || got[0].Node != "n1" || got[0].CSeq != 10 {
		t.Errorf("stale Bind changed the binding: %+v", got)
	}
	// A new Call-ID (the device rebooted) may start at a lower CSeq.
	b2 := b
	b2.CallID, b2.CSeq, b2.Node = "rebooted", 1, "n3"
	if err := s.Bind(ctx, b2); err != nil {
		t.Errorf("Bind with new Call-ID: %v", err)
	}
	b3 := b2
	b3.CSeq = 4294967295 // CSeq is 32 bits (RFC 3261 §8.1.1.5)
	if err := s.Bind(ctx, b3); err != nil {
		t.Errorf("Bind max CSeq: %v", err)
	}
	got, _ = s.Lookup(ctx, b.AOR)
	if len(got) != 1 || got[0].Node != "n3" || got[0].CSeq != 4294967295 {
		t.Errorf("after new Call-ID: %+v", got)
	}
	// An expired binding is replaced whatever the CSeq.
	e.clock.Advance(2 * time.Hour)
	b4 := b3
	b4.CSeq, b4.Expires = 1, e.clock.Now().Add(time.Hour)
	if err := s.Bind(ctx, b4); err != nil {
		t.Errorf("Bind over expired binding: %v", err)
	}
	for _, bad := range []store.Binding{{Contact: "sip:x"}, {AOR: "sip:a@b"}, {AOR: "sip:a@b", Contact: "sip:x", Q: 1001},
		{AOR: "sip:a@b", Contact: "sip:x", Path: []string{"a\r\nb"}}} {
		if err := s.Bind(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Bind(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func testBindingInstance(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	// RFC 5626: the same instance re-registering from a new address
	// replaces its binding; another reg-id is a second flow.
	exp := e.clock.Now().Add(time.Hour)
	b := binding("sip:alice@example.com", "sip:alice@192.0.2.1:5060", exp)
	b.Instance, b.RegID = `"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"`, 1
	if err := s.Bind(ctx, b); err != nil {
		t.Fatal(err)
	}
	moved := b
	moved.Contact, moved.CallID, moved.CSeq = "sip:alice@192.0.2.99:40000", "new-call", 1
	if err := s.Bind(ctx, moved); err != nil {
		t.Fatal(err)
	}
	flow2 := moved
	flow2.RegID, flow2.Contact = 2, "sip:alice@192.0.2.99:40001"
	if err := s.Bind(ctx, flow2); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Lookup(ctx, b.AOR)
	sort.Slice(got, func(i, j int) bool { return got[i].RegID < got[j].RegID })
	if len(got) != 2 || got[0].Contact != moved.Contact || got[0].Instance != b.Instance || got[1].RegID != 2 {
		t.Errorf("instance bindings = %+v", got)
	}
}

func testBindingRemove(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	exp := e.clock.Now().Add(time.Hour)
	aor := "sip:alice@example.com"
	for i, node := range []string{"n1", "n1", "n2"} {
		b := binding(aor, fmt.Sprintf("sip:alice@192.0.2.%d", i+1), exp)
		b.Node = node
		if err := s.Bind(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Bind(ctx, binding("sip:bob@example.com", "sip:bob@192.0.2.50", exp)); err != nil {
		t.Fatal(err)
	}
	ok, err := s.Remove(ctx, aor, "sip:alice@192.0.2.1")
	if err != nil || !ok {
		t.Errorf("Remove = %v, %v", ok, err)
	}
	ok, _ = s.Remove(ctx, aor, "sip:alice@192.0.2.1")
	if ok {
		t.Errorf("Remove twice reported true")
	}
	n, err := s.RemoveNode(ctx, "n2")
	if err != nil || n != 1 {
		t.Errorf("RemoveNode = %d, %v", n, err)
	}
	got, _ := s.Lookup(ctx, aor)
	if fmt.Sprint(contacts(got)) != "[sip:alice@192.0.2.2]" {
		t.Errorf("after removes: %v", contacts(got))
	}
	n, err = s.RemoveAll(ctx, aor)
	if err != nil || n != 1 {
		t.Errorf("RemoveAll = %d, %v", n, err)
	}
	if got, _ := s.Lookup(ctx, "sip:bob@example.com"); len(got) != 1 {
		t.Errorf("RemoveAll touched another AOR: %v", got)
	}
}

func msg(rcpt, sender, cid, body string) store.Message {
	return store.Message{Rcpt: rcpt, Sender: sender, ClientID: cid, ContentType: "text/plain", Body: []byte(body)}
}

func testMessagesOrder(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	bob := "sip:bob@example.com"
	var ids []int64
	for i := range 20 {
		m := msg(bob, "sip:alice@example.com", fmt.Sprintf("m%d", i), fmt.Sprintf("hello %d", i))
		// The sender's DateTime is kept but does not order: arrival does.
		m.DateTime = time.Date(2026, 1, 1, 0, 0, 20-i, 123456000, time.UTC)
		id, created, err := s.Enqueue(ctx, m)
		if err != nil || !created {
			t.Fatalf("Enqueue %d = %d, %v, %v", i, id, created, err)
		}
		if len(ids) > 0 && id <= ids[len(ids)-1] {
			t.Fatalf("ids not increasing: %d after %d", id, ids[len(ids)-1])
		}
		ids = append(ids, id)
		e.clock.Advance(time.Millisecond)
	}
	if _, _, err := s.Enqueue(ctx, msg("sip:carol@example.com", "sip:alice@example.com", "", "to carol")); err != nil {
		t.Fatal(err)
	}
	p, err := s.Pending(ctx, bob, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 20 {
		t.Fatalf("Pending = %d messages, want 20", len(p))
	}
	for i, m := range p {
		if m.ID != ids[i] || string(m.Body) != fmt.Sprintf("hello %d", i) || m.State != store.Pending ||
			m.ClientID != fmt.Sprintf("m%d", i) || m.Sender != "sip:alice@example.com" || m.ContentType != "text/plain" {
			t.Errorf("Pending[%d] = %+v", i, m)
		}
		if want := time.Date(2026, 1, 1, 0, 0, 20-i, 123456000, time.UTC); !m.DateTime.Equal(want) {
			t.Errorf("Pending[%d].DateTime = %v, want %v", i, m.DateTime, want)
		}
	}
	p, _ = s.Pending(ctx, bob, 5)
	if len(p) != 5 || p[4].ID != ids[4] {
		t.Errorf("Pending limit 5 = %d messages", len(p))
	}
	r, err := s.PendingRecipients(ctx, 0)
	if err != nil || fmt.Sprint(r) != "[sip:bob@example.com sip:carol@example.com]" {
		t.Errorf("PendingRecipients = %v, %v", r, err)
	}
	// Binary bodies and empty bodies survive; zero DateTime stays zero.
	bin := []byte{0, 1, 0xff, '\r', '\n', 0}
	id, _, err := s.Enqueue(ctx, store.Message{Rcpt: "sip:dave@example.com", Sender: "sip:a@b", Body: bin})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Message(ctx, id)
	if err != nil || !bytes.Equal(m.Body, bin) || !m.DateTime.IsZero() || !m.Received.Equal(e.clock.Now()) {
		t.Errorf("binary message = %+v, %v", m, err)
	}
	id, _, _ = s.Enqueue(ctx, store.Message{Rcpt: "sip:dave@example.com", Sender: "sip:a@b"})
	if m, err := s.Message(ctx, id); err != nil || len(m.Body) != 0 {
		t.Errorf("empty body = %q, %v", m.Body, err)
	}
	for _, bad := range []store.Message{{Sender: "sip:a@b"}, {Rcpt: "sip:a@b"}} {
		if _, _, err := s.Enqueue(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Enqueue(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func testMessagesIdempotent(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	m := msg("sip:bob@example.com", "sip:alice@example.com", "call-1;cseq=7", "hi")
	id1, created, err := s.Enqueue(ctx, m)
	if err != nil || !created {
		t.Fatal(err, created)
	}
	// A retransmission (same sender, rcpt and client id) is not stored again,
	// even with a different body.
	m2 := m
	m2.Body = []byte("retransmitted")
	id2, created, err := s.Enqueue(ctx, m2)
	if err != nil || created || id2 != id1 {
		t.Errorf("duplicate Enqueue = %d, %v, %v; want %d, false", id2, created, err, id1)
	}
	// The same client id from another sender, or to another recipient, is
	// another message; so are messages without a client id.
	other := m
	other.Sender = "sip:mallory@example.com"
	if _, created, _ := s.Enqueue(ctx, other); !created {
		t.Errorf("same client id from another sender was dropped")
	}
	other = m
	other.Rcpt = "sip:carol@example.com"
	if _, created, _ := s.Enqueue(ctx, other); !created {
		t.Errorf("same client id to another recipient was dropped")
	}
	for range 2 {
		if _, created, _ := s.Enqueue(ctx, msg("sip:bob@example.com", "sip:alice@example.com", "", "no id")); !created {
			t.Errorf("message without client id was deduplicated")
		}
	}
	p, _ := s.Pending(ctx, "sip:bob@example.com", 0)
	if len(p) != 4 || string(p[0].Body) != "hi" {
		t.Errorf("Pending = %d messages (first %q), want 4 starting with the original", len(p), p[0].Body)
	}
	// Still idempotent after delivery: a late retransmission is not queued.
	if err := s.MarkDelivered(ctx, id1); err != nil {
		t.Fatal(err)
	}
	if id, created, _ := s.Enqueue(ctx, m); created || id != id1 {
		t.Errorf("retransmission after delivery re-queued: %d %v", id, created)
	}
}

func testMessagesState(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	var ids []int64
	for i := range 4 {
		id, _, err := s.Enqueue(ctx, msg("sip:bob@example.com", "sip:alice@example.com", fmt.Sprint(i), "x"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	e.clock.Advance(time.Second)
	if err := s.RecordAttempt(ctx, ids[0], "408 Request Timeout"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAttempt(ctx, ids[0], "480 Temporarily Unavailable"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, ids[1]); err != nil {
		t.Errorf("MarkDelivered twice: %v", err)
	}
	if err := s.MarkFailed(ctx, ids[2], "404 Not Found"); err != nil {
		t.Fatal(err)
	}
	// A delivered message does not become failed.
	if err := s.MarkFailed(ctx, ids[1], "late"); err != nil {
		t.Errorf("MarkFailed on delivered: %v", err)
	}
	p, _ := s.Pending(ctx, "sip:bob@example.com", 0)
	if len(p) != 2 || p[0].ID != ids[0] || p[1].ID != ids[3] {
		t.Fatalf("Pending = %+v", p)
	}
	if p[0].Attempts != 2 || p[0].LastError != "480 Temporarily Unavailable" || !p[0].Updated.Equal(e.clock.Now()) {
		t.Errorf("attempted message = %+v", p[0])
	}
	for i, want := range []store.DeliveryState{store.Pending, store.Delivered, store.Failed, store.Pending} {
		m, err := s.Message(ctx, ids[i])
		if err != nil || m.State != want {
			t.Errorf("message %d state = %v, %v; want %v", i, m.State, err, want)
		}
	}
	if m, _ := s.Message(ctx, ids[2]); m.LastError != "404 Not Found" {
		t.Errorf("failed reason = %q", m.LastError)
	}
	// A late 200 after giving up still records delivery.
	if err := s.MarkDelivered(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Message(ctx, ids[2]); m.State != store.Delivered {
		t.Errorf("late delivery state = %v", m.State)
	}
	const missing = 1 << 40
	for name, f := range map[string]func() error{
		"MarkDelivered": func() error { return s.MarkDelivered(ctx, missing) },
		"MarkFailed":    func() error { return s.MarkFailed(ctx, missing, "x") },
		"RecordAttempt": func() error { return s.RecordAttempt(ctx, missing, "x") },
		"Message":       func() error { _, err := s.Message(ctx, missing); return err },
	} {
		if err := f(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s(unknown) = %v, want ErrNotFound", name, err)
		}
	}
	if store.Failed.String() != "failed" || store.DeliveryState(9).String() != "DeliveryState(9)" {
		t.Errorf("DeliveryState.String")
	}
}

func testMessagesClaim(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	const rcpt, sender = "sip:bob@example.com", "sip:alice@example.com"
	id, _, err := s.Enqueue(ctx, msg(rcpt, sender, "1", "claimed"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Claim(ctx, id, "node-a", 30*time.Second)
	if err != nil || m.ID != id || string(m.Body) != "claimed" || m.ClaimedBy != "node-a" ||
		!m.ClaimedUntil.Equal(e.clock.Now().Add(30*time.Second)) || m.State != store.Pending {
		t.Fatalf("Claim = %+v, %v", m, err)
	}
	// Another node cannot take it while the claim lasts; the holder can
	// renew it.
	if _, err := s.Claim(ctx, id, "node-b", 30*time.Second); !errors.Is(err, store.ErrClaimed) {
		t.Fatalf("Claim by another node = %v, want ErrClaimed", err)
	}
	if _, err := s.Claim(ctx, id, "node-a", 30*time.Second); err != nil {
		t.Fatalf("renewing one's own claim: %v", err)
	}
	// A claimed message is still pending (its order in the queue holds).
	if p, _ := s.Pending(ctx, rcpt, 0); len(p) != 1 || p[0].ClaimedBy != "node-a" {
		t.Fatalf("Pending while claimed = %+v", p)
	}
	// The lease runs out: another node may take it.
	e.clock.Advance(31 * time.Second)
	if m, err := s.Claim(ctx, id, "node-b", 30*time.Second); err != nil || m.ClaimedBy != "node-b" {
		t.Fatalf("Claim after the lease = %+v, %v", m, err)
	}
	// RecordAttempt ends the claim: the next attempt may be anyone's.
	if err := s.RecordAttempt(ctx, id, "408"); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Claim(ctx, id, "node-a", 30*time.Second); err != nil || m.Attempts != 1 {
		t.Fatalf("Claim after RecordAttempt = %+v, %v", m, err)
	}
	// Delivered or failed messages cannot be claimed.
	if err := s.MarkDelivered(ctx, id); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Message(ctx, id); !m.ClaimedUntil.IsZero() {
		t.Errorf("delivered message still claimed until %v", m.ClaimedUntil)
	}
	if _, err := s.Claim(ctx, id, "node-b", 30*time.Second); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Claim of a delivered message = %v, want ErrNotFound", err)
	}
	id2, _, _ := s.Enqueue(ctx, msg(rcpt, sender, "2", "x"))
	if err := s.MarkFailed(ctx, id2, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, id2, "node-a", time.Second); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Claim of a failed message = %v, want ErrNotFound", err)
	}
	if _, err := s.Claim(ctx, 1<<40, "node-a", time.Second); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Claim of an unknown message = %v, want ErrNotFound", err)
	}
	for _, c := range []struct {
		node  string
		lease time.Duration
	}{{"", time.Second}, {"node-a", 0}, {"a\x00", time.Second}} {
		if _, err := s.Claim(ctx, id2, c.node, c.lease); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Claim(%q, %v) = %v, want ErrInvalid", c.node, c.lease, err)
		}
	}
}

// testMessagesClaimRace: two handles (two nodes) claim the same messages
// at once, many times: each message is claimed by exactly one of them.
func testMessagesClaimRace(e *env) {
	t, ctx := e.t, e.ctx
	handles := []store.Store{e.open(), e.open()}
	const n, claimers = 30, 6
	ids := make([]int64, n)
	for i := range ids {
		id, _, err := handles[0].Enqueue(ctx, msg("sip:bob@example.com", "sip:alice@example.com", fmt.Sprint(i), "x"))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	won := make([][]int64, claimers)
	var wg sync.WaitGroup
	errs := make(chan error, claimers)
	for c := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range ids {
				_, err := handles[c%2].Claim(ctx, id, fmt.Sprintf("node-%d", c), time.Minute)
				switch {
				case err == nil:
					won[c] = append(won[c], id)
				case errors.Is(err, store.ErrClaimed):
				default:
					errs <- fmt.Errorf("claimer %d, message %d: %w", c, id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	count := map[int64]int{}
	for _, list := range won {
		for _, id := range list {
			count[id]++
		}
	}
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("message %d claimed %d times, want once", id, count[id])
		}
	}
}

func testMessagesPurge(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	a, _, _ := s.Enqueue(ctx, msg("sip:bob@example.com", "sip:alice@example.com", "a", "x"))
	b, _, _ := s.Enqueue(ctx, msg("sip:bob@example.com", "sip:alice@example.com", "b", "x"))
	c, _, _ := s.Enqueue(ctx, msg("sip:bob@example.com", "sip:alice@example.com", "c", "x"))
	s.MarkDelivered(ctx, a)
	s.MarkFailed(ctx, b, "gone")
	e.clock.Advance(time.Hour)
	d, _, _ := s.Enqueue(ctx, msg("sip:bob@example.com", "sip:alice@example.com", "d", "x"))
	s.MarkDelivered(ctx, d)
	n, err := s.PurgeMessages(ctx, e.clock.Now().Add(-time.Minute))
	if err != nil || n != 2 {
		t.Errorf("PurgeMessages = %d, %v; want 2", n, err)
	}
	for id, want := range map[int64]bool{a: false, b: false, c: true, d: true} {
		_, err := s.Message(ctx, id)
		if (err == nil) != want {
			t.Errorf("message %d present=%v after purge, want %v", id, err == nil, want)
		}
	}
	// Ids are never reused after a purge.
	id, _, _ := s.Enqueue(ctx, msg("sip:bob@example.com", "sip:alice@example.com", "e", "x"))
	if id <= d {
		t.Errorf("id %d reused after purge (max was %d)", id, d)
	}
}

func testHistory(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	alice := "sip:alice@example.com"
	base := e.clock.Now()
	var want []int64 // alice<->bob ids, oldest first
	for i := range 25 {
		peer := "sip:bob@example.com"
		if i%3 == 2 {
			peer = "sip:carol@example.com"
		}
		// Groups of entries share a timestamp, to test the (time, id) cursor.
		ts := base.Add(time.Duration(i/4) * time.Second)
		id, err := s.AppendHistory(ctx, store.HistoryEntry{Owner: alice, Peer: peer, Direction: store.Direction(i % 2),
			Mode: store.SessionMode, MessageID: fmt.Sprintf("h%d", i), ContentType: "text/plain",
			Body: []byte(fmt.Sprint(i)), Time: ts})
		if err != nil {
			t.Fatal(err)
		}
		if peer == "sip:bob@example.com" {
			want = append(want, id)
		}
	}
	// Entries are appended out of time order too.
	late, err := s.AppendHistory(ctx, store.HistoryEntry{Owner: alice, Peer: "sip:bob@example.com", Body: []byte("old"), Time: base.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	want = append([]int64{late}, want...)
	if _, err := s.AppendHistory(ctx, store.HistoryEntry{Owner: "sip:bob@example.com", Peer: alice, Body: []byte("bob's own")}); err != nil {
		t.Fatal(err)
	}

	page := func(peer string, size int) []int64 {
		var got []int64
		var cur store.Cursor
		for range 100 {
			es, err := s.History(ctx, alice, peer, cur, size)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				if e.Owner != alice || (peer != "" && e.Peer != peer) {
					t.Fatalf("History returned %+v", e)
				}
				got = append(got, e.ID)
			}
			if len(es) < size {
				return got
			}
			cur = es[len(es)-1].Cursor()
		}
		t.Fatal("History paging does not end")
		return nil
	}
	got := page("sip:bob@example.com", 4)
	rev := make([]int64, len(want))
	for i, id := range want {
		rev[len(want)-1-i] = id
	}
	if fmt.Sprint(got) != fmt.Sprint(rev) {
		t.Errorf("paged history with bob = %v, want %v (newest first, each once)", got, rev)
	}
	if all := page("", 7); len(all) != 26 {
		t.Errorf("all of alice's history = %d entries, want 26", len(all))
	}
	es, _ := s.History(ctx, alice, "sip:carol@example.com", store.Cursor{}, 1)
	if len(es) != 1 || string(es[0].Body) != "23" || es[0].Mode != store.SessionMode || es[0].Direction != store.Outgoing ||
		es[0].MessageID != "h23" || es[0].ContentType != "text/plain" || !es[0].Time.Equal(base.Add(5*time.Second)) {
		t.Errorf("newest carol entry = %+v", es)
	}
	// Zero Time means "now".
	es, _ = s.History(ctx, "sip:bob@example.com", "", store.Cursor{}, 0)
	if len(es) != 1 || !es[0].Time.Equal(e.clock.Now()) {
		t.Errorf("bob's history = %+v", es)
	}
	n, err := s.DeleteHistory(ctx, alice, "sip:carol@example.com")
	if err != nil || n != 8 {
		t.Errorf("DeleteHistory carol = %d, %v; want 8", n, err)
	}
	n, _ = s.DeleteHistory(ctx, alice, "")
	if n != 18 {
		t.Errorf("DeleteHistory all = %d, want 18", n)
	}
	if es, _ := s.History(ctx, "sip:bob@example.com", "", store.Cursor{}, 0); len(es) != 1 {
		t.Errorf("DeleteHistory touched another owner")
	}
	if _, err := s.AppendHistory(ctx, store.HistoryEntry{Owner: alice}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("AppendHistory without peer: %v", err)
	}
}

func testHistoryIdempotent(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	h := store.HistoryEntry{Owner: "sip:alice@example.com", Peer: "sip:bob@example.com", MessageID: "x1", Body: []byte("a")}
	id1, err := s.AppendHistory(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := s.AppendHistory(ctx, h)
	if err != nil || id2 != id1 {
		t.Errorf("duplicate AppendHistory = %d, %v; want %d", id2, err, id1)
	}
	// The other direction (alice sent x1 and received x1 back) is distinct.
	h.Direction = store.Outgoing
	if id3, _ := s.AppendHistory(ctx, h); id3 == id1 {
		t.Errorf("other direction deduplicated")
	}
	es, _ := s.History(ctx, h.Owner, "", store.Cursor{}, 0)
	if len(es) != 2 {
		t.Errorf("history = %d entries, want 2", len(es))
	}
}

func testSessions(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	key := "msrp://relay.example.com:2855/abcd;tcp"
	if err := s.PutSession(ctx, key, "n1", e.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SessionNode(ctx, key); err != nil || n != "n1" {
		t.Errorf("SessionNode = %q, %v", n, err)
	}
	if err := s.PutSession(ctx, key, "n2", e.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.SessionNode(ctx, key); n != "n2" {
		t.Errorf("SessionNode after move = %q", n)
	}
	s.PutSession(ctx, "short", "n1", e.clock.Now().Add(time.Second))
	e.clock.Advance(2 * time.Second)
	if _, err := s.SessionNode(ctx, "short"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session: %v", err)
	}
	if n, err := s.ExpireSessions(ctx, e.clock.Now()); err != nil || n != 1 {
		t.Errorf("ExpireSessions = %d, %v", n, err)
	}
	if ok, _ := s.RemoveSession(ctx, key); !ok {
		t.Errorf("RemoveSession = false")
	}
	if ok, _ := s.RemoveSession(ctx, key); ok {
		t.Errorf("RemoveSession twice = true")
	}
	if err := s.PutSession(ctx, "", "n", time.Time{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("PutSession empty: %v", err)
	}
}

func recv(t *testing.T, c <-chan string) (string, bool) {
	t.Helper()
	select {
	case p, ok := <-c:
		return p, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10 s")
		return "", false
	}
}

func testNotify(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	lctx, cancel := context.WithCancel(ctx)
	c1, err := s.Listen(lctx, "parley_msg")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := s.Listen(ctx, "parley_msg")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Listen(ctx, "parley_other")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Notify(ctx, "parley_msg", "sip:bob@example.com"); err != nil {
		t.Fatal(err)
	}
	for i, c := range []<-chan string{c1, c2} {
		if p, _ := recv(t, c); p != "sip:bob@example.com" {
			t.Errorf("listener %d got %q", i, p)
		}
	}
	select {
	case p := <-other:
		t.Errorf("other channel got %q", p)
	default:
	}
	cancel()
	if _, ok := recv(t, c1); ok {
		t.Errorf("channel not closed after its context ended")
	}
	// c2 still works after c1 left.
	s.Notify(ctx, "parley_msg", "again")
	if p, _ := recv(t, c2); p != "again" {
		t.Errorf("c2 got %q", p)
	}

	// Overflow: a listener that does not read gets the "" resync marker
	// instead of blocking the others.
	for i := range store.ListenBuffer + 10 {
		if err := s.Notify(ctx, "parley_other", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Notify(ctx, "parley_msg", "after flood"); err != nil {
		t.Fatal(err)
	}
	if p, _ := recv(t, c2); p != "after flood" {
		t.Errorf("c2 got %q", p)
	}
	// For PostgreSQL the flood arrives asynchronously: wait for the marker.
	deadline := time.After(10 * time.Second)
	sawMarker := false
	for !sawMarker {
		select {
		case p := <-other:
			sawMarker = p == ""
		case <-deadline:
			t.Fatal("no resync marker after overflow")
		}
	}

	if s.Backend() == "postgres" {
		// Two nodes on one database: a Notify on one reaches the other.
		s2 := e.open()
		c3, err := s2.Listen(ctx, "parley_node")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Notify(ctx, "parley_node", "from node 1"); err != nil {
			t.Fatal(err)
		}
		if p, _ := recv(t, c3); p != "from node 1" {
			t.Errorf("other node got %q", p)
		}
	}
	// Close closes every listener channel.
	s.Close()
	for {
		if _, ok := recv(t, c2); !ok {
			break
		}
	}
	if _, err := s.Listen(ctx, "parley_msg"); err == nil {
		t.Errorf("Listen after Close succeeded")
	}
}

func testNotifyInvalid(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	long := string(bytes.Repeat([]byte("x"), store.MaxPayload+1))
	for _, tc := range []struct{ ch, payload string }{
		{"", "x"}, {"a b", "x"}, {`a"b`, "x"}, {string(bytes.Repeat([]byte("c"), store.MaxChannel+1)), "x"},
		{"ok", ""}, {"ok", long}, {"ok", "a\x00b"},
	} {
		if err := s.Notify(ctx, tc.ch, tc.payload); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Notify(%q, %d bytes) = %v, want ErrInvalid", tc.ch, len(tc.payload), err)
		}
	}
	if _, err := s.Listen(ctx, "no spaces"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Listen bad channel: %v", err)
	}
	// The largest payload passes.
	c, err := s.Listen(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	max := string(bytes.Repeat([]byte("y"), store.MaxPayload))
	if err := s.Notify(ctx, "big", max); err != nil {
		t.Fatalf("Notify MaxPayload: %v", err)
	}
	if p, _ := recv(t, c); p != max {
		t.Errorf("got %d bytes, want %d", len(p), len(max))
	}
}

// Both backends refuse the same bad input (PostgreSQL TEXT cannot hold
// invalid UTF-8 or NUL; SQLite could, but must not differ).
func testInvalidText(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	bad := []string{"\xff\xfe", "a\x00b", string(bytes.Repeat([]byte("x"), store.MaxText+1))}
	for _, v := range bad {
		checks := map[string]error{}
		_, _, checks["Enqueue rcpt"] = s.Enqueue(ctx, store.Message{Rcpt: v, Sender: "sip:a@b"})
		_, _, checks["Enqueue client id"] = s.Enqueue(ctx, store.Message{Rcpt: "sip:a@b", Sender: "sip:a@b", ClientID: v})
		checks["Bind"] = s.Bind(ctx, store.Binding{AOR: "sip:a@b", Contact: v, Expires: e.clock.Now().Add(time.Hour)})
		_, checks["Lookup"] = s.Lookup(ctx, v)
		_, checks["Pending"] = s.Pending(ctx, v, 0)
		checks["AddAccount"] = s.AddAccount(ctx, store.Account{Domain: "d", User: v})
		_, checks["Credential"] = s.Credential(ctx, "d", "u", v, store.MD5)
		_, checks["AppendHistory"] = s.AppendHistory(ctx, store.HistoryEntry{Owner: "sip:a@b", Peer: v})
		_, checks["History"] = s.History(ctx, v, "", store.Cursor{}, 0)
		checks["PutSession"] = s.PutSession(ctx, v, "n", e.clock.Now())
		for name, err := range checks {
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s(%.10q…) = %v, want ErrInvalid", name, v, err)
			}
		}
	}
	if err := s.AddAccount(ctx, store.Account{Domain: "d", User: "u", Credentials: []store.Credential{
		{Realm: "r", Algorithm: store.SHA256, HA1: "0123456789abcdef0123456789abcdef"}}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("MD5-length HA1 for SHA-256 accepted: %v", err)
	}
	if _, _, err := s.Enqueue(ctx, store.Message{Rcpt: "sip:a@b", Sender: "sip:a@b", Body: make([]byte, store.MaxBody+1)}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("oversized body: %v", err)
	}
	// Free-text reasons (SIP reason phrases) are cleaned, not refused.
	id, _, err := s.Enqueue(ctx, store.Message{Rcpt: "sip:a@b", Sender: "sip:a@b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, id, "486 Busy\xff\x00Here"); err != nil {
		t.Fatalf("MarkFailed with a dirty reason: %v", err)
	}
	if m, _ := s.Message(ctx, id); m.LastError != "486 Busy\uFFFD\uFFFDHere" {
		t.Errorf("reason stored as %q", m.LastError)
	}
}

func testConcurrentWriters(e *env) {
	t, ctx := e.t, e.ctx
	// Two handles (two nodes, or for SQLite two pools in one process on one
	// file) write at once; every write succeeds and per-writer order holds.
	handles := []store.Store{e.open(), e.open()}
	const writers, per = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	ids := make([][]int64, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := handles[w%2]
			for i := range per {
				id, _, err := s.Enqueue(ctx, msg("sip:bob@example.com", fmt.Sprintf("sip:w%d@example.com", w), fmt.Sprint(i), "x"))
				if err != nil {
					errs <- fmt.Errorf("writer %d enqueue %d: %w", w, i, err)
					return
				}
				ids[w] = append(ids[w], id)
				b := binding(fmt.Sprintf("sip:u%d@example.com", i%5), fmt.Sprintf("sip:w%d-%d@192.0.2.1", w, i), e.clock.Now().Add(time.Hour))
				if err := s.Bind(ctx, b); err != nil {
					errs <- fmt.Errorf("writer %d bind %d: %w", w, i, err)
					return
				}
				if _, err := s.AppendHistory(ctx, store.HistoryEntry{Owner: "sip:bob@example.com", Peer: b.AOR, Body: []byte("x")}); err != nil {
					errs <- fmt.Errorf("writer %d history %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[int64]bool{}
	for w, list := range ids {
		for i, id := range list {
			if seen[id] {
				t.Errorf("id %d assigned twice", id)
			}
			seen[id] = true
			if i > 0 && id <= list[i-1] {
				t.Errorf("writer %d: id %d after %d", w, id, list[i-1])
			}
		}
	}
	p, err := handles[0].Pending(ctx, "sip:bob@example.com", 0)
	if err != nil || len(p) != writers*per {
		t.Errorf("Pending = %d, %v; want %d", len(p), err, writers*per)
	}
	total := 0
	for i := range 5 {
		bs, _ := handles[1].Lookup(ctx, fmt.Sprintf("sip:u%d@example.com", i))
		total += len(bs)
	}
	if total != writers*per {
		t.Errorf("bindings = %d, want %d", total, writers*per)
	}
}

func testClosed(e *env) {
	t, ctx := e.t, e.ctx
	s := e.open()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := s.Enqueue(ctx, msg("sip:a@b", "sip:c@d", "", "x")); err == nil {
		t.Errorf("Enqueue after Close succeeded")
	}
	if _, err := s.Lookup(ctx, "sip:a@b"); err == nil {
		t.Errorf("Lookup after Close succeeded")
	}
}
