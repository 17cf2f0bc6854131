package sipua_test

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-im/parley/sipua"
)

// Two user agents on loopback exchange a pager-mode message peer to peer,
// without any server.
func ExampleUA_SendMessage() {
	got := make(chan *sipua.Message, 1)
	bob, err := sipua.New(sipua.Config{
		AOR:       "sip:bob@example.com",
		Listen:    []sipua.Listen{{Transport: sipua.TCP, Addr: "127.0.0.1:0"}},
		OnMessage: func(m *sipua.Message) { got <- m },
	})
	if err != nil {
		panic(err)
	}
	defer bob.Close()
	alice, err := sipua.New(sipua.Config{
		AOR:         "sip:alice@example.com",
		DisplayName: "Alice",
		Listen:      []sipua.Listen{{Transport: sipua.TCP, Addr: "127.0.0.1:0"}},
	})
	if err != nil {
		panic(err)
	}
	defer alice.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bob.Start(ctx); err != nil {
		panic(err)
	}
	if err := alice.Start(ctx); err != nil {
		panic(err)
	}
	// bob.URI(sipua.TCP) is like "sip:bob@127.0.0.1:40123;transport=tcp".
	res, err := alice.SendMessage(ctx, bob.URI(sipua.TCP), "text/plain", []byte("Hello, Bob"))
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(res.Mode, res.Status, res.Disposition)
	m := <-got
	fmt.Printf("%s from %s: %s\n", m.Mode, m.From.DisplayName, m.Body)
	// Output:
	// pager 200 delivered
	// pager from Alice: Hello, Bob
}
