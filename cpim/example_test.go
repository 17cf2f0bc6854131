package cpim_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/parley-im/parley/cpim"
)

func ExampleParse() {
	in := "From: Alice <sip:alice@example.com>\r\n" +
		"To: <sip:bob@example.com>\r\n" +
		"DateTime: 2026-11-30T09:15:02Z\r\n" +
		"NS: x <urn:ietf:params:imdn>\r\n" + // any prefix: matched by URI
		"x.Message-ID: Kn9sl3Pe0o\r\n" +
		"Subject:;lang=fr Bonjour\r\n" +
		"\r\n" +
		"Content-Type: text/plain;charset=UTF-8\r\n" +
		"\r\n" +
		"Hello, Bob"
	m, err := cpim.Parse([]byte(in))
	if err != nil {
		log.Fatal(err)
	}
	from, _ := m.From()
	to, _ := m.To()
	when, _ := m.DateTime()
	id, _ := m.Get(cpim.NSIMDN, cpim.IMDNMessageID)
	subject, _ := m.Subject("fr")
	fmt.Println(from.Name, from.URI)
	fmt.Println(to[0].URI)
	fmt.Println(when.Format(time.Kitchen))
	fmt.Println(id, subject)
	fmt.Println(m.ContentType())
	fmt.Printf("%s\n", m.Body())
	fmt.Println(string(m.Bytes()) == in)
	// Output:
	// Alice sip:alice@example.com
	// sip:bob@example.com
	// 9:15AM
	// Kn9sl3Pe0o Bonjour
	// text/plain;charset=UTF-8
	// Hello, Bob
	// true
}

func ExampleNew() {
	m := cpim.New()
	if err := m.SetFrom(cpim.Address{Name: "Alice", URI: "sip:alice@example.com"}); err != nil {
		log.Fatal(err)
	}
	if err := m.AddTo(cpim.Address{URI: "sip:bob@example.com"}); err != nil {
		log.Fatal(err)
	}
	m.SetDateTime(time.Date(2026, 11, 30, 9, 15, 2, 0, time.UTC))
	// The imdn prefix is declared on first use.
	if err := m.Set(cpim.NSIMDN, cpim.IMDNMessageID, "Kn9sl3Pe0o"); err != nil {
		log.Fatal(err)
	}
	if err := m.Set(cpim.NSIMDN, cpim.IMDNDispositionNotification, "positive-delivery, display"); err != nil {
		log.Fatal(err)
	}
	if err := m.SetContent("text/plain;charset=UTF-8", []byte("Hello, Bob")); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", m.Bytes())
	// Output:
	// "From: Alice <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\nDateTime: 2026-11-30T09:15:02Z\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: Kn9sl3Pe0o\r\nimdn.Disposition-Notification: positive-delivery, display\r\n\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\nHello, Bob"
}

// A parsed message is re-serialised byte for byte; a change re-renders
// only the line it touches.
func ExampleMessage_Append() {
	in := "From:<sip:alice@example.com>\r\nCC: <sip:carol@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nhi"
	m, err := cpim.Parse([]byte(in))
	if err != nil {
		log.Fatal(err)
	}
	cc, _ := m.CC()
	fmt.Println(cc[0].URI)
	fmt.Printf("%q\n", m.Append(nil))
	if err := m.AddTo(cpim.Address{Name: "Bob", URI: "sip:bob@example.com"}); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", m.Append(nil))
	// Output:
	// sip:carol@example.com
	// "From:<sip:alice@example.com>\r\nCC: <sip:carol@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nhi"
	// "From:<sip:alice@example.com>\r\nCC: <sip:carol@example.com>\r\nTo: Bob <sip:bob@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nhi"
}

func ExampleParseError() {
	_, err := cpim.Parse([]byte("From: <sip:alice@example.com>\r\nimdn.Message-ID: 1\r\n\r\nContent-Type: text/plain\r\n\r\n"))
	var pe *cpim.ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.Line, errors.Is(err, cpim.ErrUnknownPrefix))
	}
	fmt.Println(err)
	// Output:
	// 2 true
	// cpim: line 2: undeclared namespace prefix: "imdn"
}

func ExampleAddress_String() {
	fmt.Println(cpim.Address{URI: "im:pooh@100akerwood.com"})
	fmt.Println(cpim.Address{Name: "Winnie the Pooh", URI: "im:pooh@100akerwood.com"})
	fmt.Println(cpim.Address{Name: `Pooh "Bear", Esq.`, URI: "im:pooh@100akerwood.com"})
	// Output:
	// <im:pooh@100akerwood.com>
	// Winnie the Pooh <im:pooh@100akerwood.com>
	// "Pooh \"Bear\", Esq." <im:pooh@100akerwood.com>
}
