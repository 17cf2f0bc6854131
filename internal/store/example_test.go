package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/parley-im/parley/internal/store"
)

// A registrar and a pager-mode queue on SQLite.
func Example() {
	dir, _ := os.MkdirTemp("", "parley-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := store.Open(ctx, "file:"+filepath.Join(dir, "parley.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	creds, _ := store.NewCredentials("bob", "example.com", "correct horse")
	if err := s.AddAccount(ctx, store.Account{Domain: "example.com", User: "bob", Credentials: creds}); err != nil {
		fmt.Println(err)
		return
	}
	c, _ := s.Credential(ctx, "example.com", "bob", "example.com", store.SHA256)
	fmt.Println("HA1 SHA-256:", c.HA1[:16]+"…")

	s.Bind(ctx, store.Binding{AOR: "sip:bob@example.com", Contact: "sip:bob@192.0.2.7:5060",
		CallID: "a84b4c76e66710", CSeq: 1, Expires: time.Now().Add(time.Hour), Node: "node-1"})
	bs, _ := s.Lookup(ctx, "sip:bob@example.com")
	fmt.Println("bob is at", bs[0].Contact, "via", bs[0].Node)

	// Bob is offline: queue, then answer 202 Accepted.
	for _, text := range []string{"are you there?", "call me"} {
		s.Enqueue(ctx, store.Message{Rcpt: "sip:bob@example.com", Sender: "sip:alice@example.com",
			ClientID: text, ContentType: "text/plain", Body: []byte(text)})
	}
	// A retransmission of the first MESSAGE is not stored again.
	_, created, _ := s.Enqueue(ctx, store.Message{Rcpt: "sip:bob@example.com", Sender: "sip:alice@example.com",
		ClientID: "are you there?", ContentType: "text/plain", Body: []byte("are you there?")})
	fmt.Println("retransmission stored:", created)

	pending, _ := s.Pending(ctx, "sip:bob@example.com", 0)
	for _, m := range pending {
		fmt.Printf("deliver %q\n", m.Body)
		s.MarkDelivered(ctx, m.ID)
	}
	pending, _ = s.Pending(ctx, "sip:bob@example.com", 0)
	fmt.Println("still pending:", len(pending))
	// Output:
	// HA1 SHA-256: da07504fff3ed82b…
	// bob is at sip:bob@192.0.2.7:5060 via node-1
	// retransmission stored: false
	// deliver "are you there?"
	// deliver "call me"
	// still pending: 0
}
