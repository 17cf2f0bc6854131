package cpimtransport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// Two endpoints on loopback: A offers, B answers (and, being active,
// connects to A), and a message goes each way with a delivery report.
func ExampleEndpoint() {
	a, err := cpimtransport.NewEndpoint(cpimtransport.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, err := cpimtransport.NewEndpoint(cpimtransport.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	for _, e := range []*cpimtransport.Endpoint{a, b} {
		if _, err := e.Listen("tcp", "127.0.0.1:0"); err != nil {
			log.Fatal(err)
		}
	}
	ctx := context.Background()

	// A asks for receipts by listing message/im-delivery-status (§6.3).
	off, err := a.Offer(ctx, session.Options{WantReceipts: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("offer:", off.Media().Proto, off.Media().Formats, off.Media().Direction)
	ans, err := b.Answer(ctx, off.Media(), session.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("answer:", ans.Media().Proto, ans.Media().Formats, ans.Media().Direction)
	sb, err := ans.Open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	sa, err := off.Open(ctx, ans.Media())
	if err != nil {
		log.Fatal(err)
	}

	d, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("Hello, Bob.")})
	if err != nil {
		log.Fatal(err)
	}
	m, err := sb.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("B got MsgID %s %s %q\n", m.ID, m.ContentType, m.Body)
	r, err := d.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("A's delivery:", r.Outcome)
	sa.Close()
	sb.Close()
	// Output:
	// offer: cpim/tcp [text/plain message/cpim message/im-delivery-status] both
	// answer: cpim/tcp [text/plain message/cpim] active
	// B got MsgID 1 text/plain "Hello, Bob."
	// A's delivery: delivered
}

// The framer reads messages out of a stream with garbage in front and
// between them (§6.1), and AppendFrame writes the outer envelope (§5).
func ExampleReader() {
	var stream []byte
	stream = append(stream, "noise before the first envelope\r\n"...)
	stream = cpimtransport.AppendFrame(stream, []byte("first"))
	stream = append(stream, "noise between\r\n"...)
	stream = cpimtransport.AppendFrame(stream, []byte("second"))

	r := cpimtransport.NewReader(bytes.NewReader(stream), nil)
	for {
		msg, err := r.ReadMessage(nil)
		switch {
		case err == io.EOF:
			fmt.Println("end; discarded", r.Discarded(), "octets")
			return
		case cpimtransport.Recoverable(err):
			fmt.Println("resync:", errors.Is(err, cpimtransport.ErrGarbage))
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("message %q\n", msg)
		}
	}
	// Output:
	// resync: true
	// message "first"
	// resync: true
	// message "second"
	// end; discarded 48 octets
}

// A delivery report body (§6.3.1) and how it maps onto a session.Result.
func ExampleParseReport() {
	body := cpimtransport.AppendReport(nil, cpimtransport.Report{OriginalMsgID: 7, Action: "failed", Status: "5.6.1"})
	fmt.Print(strings.ReplaceAll(string(body), "\r\n", "\n"))
	rep, err := cpimtransport.ParseReport(body)
	if err != nil {
		log.Fatal(err)
	}
	res := rep.Result()
	fmt.Println(res.Outcome, res.Status)
	// Output:
	// Original-MsgID: 7
	// Action: failed
	// Status: 5.6.1
	// failed 415
}

// The SDP rewrite a SIP proxy applies to send a session through a relay
// (§7): c-line, m-line port and optionally the proto change, a=uri stays.
func ExampleRewriteMedia() {
	offer := &messagesdp.Media{Proto: "cpim/tcp", Port: 7394, Address: "alice.example.com",
		Formats: []string{"text/plain"}, Direction: "both", URI: "im:2s93i9@alice.example.com"}
	m, err := cpimtransport.RewriteMedia(offer, "relay.example.net", 9100, "", "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Address, m.Port, m.Proto, m.Direction, m.URI)
	// Output:
	// relay.example.net 9100 cpim/tcp both im:2s93i9@alice.example.com
}
