package sipua_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
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

// A body read from a reader (a file, a pipe) is streamed in a
// large-message-mode session over MSRP, with progress reports.
func ExampleUA_SendLarge() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	newUA := func(aor string, onMessage func(*sipua.Message)) (*sipua.UA, *msrp.Endpoint) {
		ep, err := msrp.NewEndpoint(msrp.Config{Host: "127.0.0.1"})
		if err != nil {
			panic(err)
		}
		if _, err := ep.Listen(ctx, "tcp", "127.0.0.1:0"); err != nil {
			panic(err)
		}
		ua, err := sipua.New(sipua.Config{
			AOR:       aor,
			Listen:    []sipua.Listen{{Transport: sipua.TCP, Addr: "127.0.0.1:0"}},
			Endpoints: []session.Endpoint{ep},
			OnMessage: onMessage,
		})
		if err != nil {
			panic(err)
		}
		if err := ua.Start(ctx); err != nil {
			panic(err)
		}
		return ua, ep
	}
	got := make(chan *sipua.Message, 1)
	bob, bobEP := newUA("sip:bob@example.com", func(m *sipua.Message) { got <- m })
	defer bobEP.Close() // deferred calls run last first: the UA closes before its endpoint
	defer bob.Close()
	alice, aliceEP := newUA("sip:alice@example.com", nil)
	defer aliceEP.Close()
	defer alice.Close()

	body := strings.Repeat("a line of a large log file\n", 10000)
	var last int64
	res, err := alice.SendLarge(ctx, bob.URI(sipua.TCP), &sipua.LargeMessage{
		ContentType: "text/plain",
		Body:        strings.NewReader(body),
		Size:        int64(len(body)),
		Progress:    func(sent, total int64) { last = sent },
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(res.Mode, res.Disposition, last == int64(len(body)))
	m := <-got
	fmt.Println(m.Mode, len(m.Body))
	// Output:
	// large-message delivered true
	// large-message 270000
}
