package msrp_test

import (
	"context"
	"fmt"
	"log"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
)

// Two endpoints on loopback exchange a message: Alice offers, Bob answers
// and listens, Alice connects (RFC 4975 §5.4) and sends with a delivery
// receipt (a success REPORT, §7.1.2).
func ExampleEndpoint() {
	ctx := context.Background()
	alice, err := msrp.NewEndpoint(msrp.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	bob, err := msrp.NewEndpoint(msrp.Config{Host: "127.0.0.1"})
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()
	if _, err := bob.Listen(ctx, "tcp", "127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}

	// The SDP offer/answer would travel in SIP INVITE / 200 OK.
	offer, err := alice.Offer(ctx, session.Options{WantReceipts: true})
	if err != nil {
		log.Fatal(err)
	}
	answer, err := bob.Answer(ctx, offer.Media(), session.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("offer:", offer.Media().Proto, "setup", offer.Media().Setup, "port", offer.Media().Port)
	fmt.Println("answer: setup", answer.Media().Setup)

	bobSession := make(chan session.Session)
	go func() {
		s, err := answer.Open(ctx)
		if err != nil {
			log.Fatal(err)
		}
		bobSession <- s
	}()
	a, err := offer.Open(ctx, answer.Media())
	if err != nil {
		log.Fatal(err)
	}
	b := <-bobSession

	d, err := a.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("Hello, Bob")})
	if err != nil {
		log.Fatal(err)
	}
	in, err := b.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Bob got %s %q\n", in.ContentType, in.Body)
	r, _ := d.Wait(ctx)
	fmt.Println("Alice's message:", r.Outcome)
	a.Close()
	b.Close()
	// Output:
	// offer: TCP/MSRP setup active port 9
	// answer: setup passive
	// Bob got text/plain "Hello, Bob"
	// Alice's message: delivered
}
