package msrp_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/parley-im/parley/msrp"
)

func ExampleReader() {
	wire := "MSRP a786hjs2 SEND\r\n" +
		"To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n" +
		"From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n" +
		"Message-ID: 87652491\r\n" +
		"Byte-Range: 1-23/23\r\n" +
		"Content-Type: text/plain\r\n" +
		"\r\n" +
		"Hey Bob, are you there?\r\n" +
		"-------a786hjs2$\r\n"
	r := msrp.NewReader(strings.NewReader(wire), msrp.Limits{})
	f, err := r.ReadFrame()
	if err != nil {
		fmt.Println(err)
		return
	}
	body, err := io.ReadAll(r) // or r.NextBodySegment() without copying
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Method, f.TID, f.MessageID, f.ByteRange)
	fmt.Println("to:", f.ToPath[0].Host, f.ToPath[0].SessionID)
	fmt.Printf("%s: %q, flag %c\n", f.ContentType, body, f.Flag)
	// Output:
	// SEND a786hjs2 87652491 1-23/23
	// to: biloxi.example.com kjhd37s2s20w2a
	// text/plain: "Hey Bob, are you there?", flag $
}

func ExampleAppendFrame() {
	to, _ := msrp.ParsePath("msrp://bob.example.com:8888/9di4eae923wzd;tcp")
	from, _ := msrp.ParsePath("msrp://alicepc.example.com:7777/iau39soe2843z;tcp")
	f := &msrp.Frame{
		TID: "d93kswow", Method: msrp.MethodSEND, ToPath: to, FromPath: from,
		MessageID: "12339sdqwer", HasByteRange: true, ByteRange: msrp.ByteRange{Start: 1, End: 16, Total: 16},
		ContentType: "text/plain", Flag: msrp.FlagEnd,
	}
	wire := msrp.AppendFrame(nil, f, []byte("Hi, I'm Alice!"))
	fmt.Print(strings.ReplaceAll(string(wire), "\r\n", "\n"))
	// Output:
	// MSRP d93kswow SEND
	// To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
	// From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp
	// Message-ID: 12339sdqwer
	// Byte-Range: 1-16/16
	// Content-Type: text/plain
	//
	// Hi, I'm Alice!
	// -------d93kswow$
}

func ExampleRespond() {
	// A SEND from Alice that reached Bob through her relay, which put its
	// own URI first in From-Path (RFC 4976 §6.4.1).
	req := &msrp.Frame{TID: "d93kswow", Method: msrp.MethodSEND, MessageID: "12339sdqwer"}
	req.ToPath, _ = msrp.ParsePath("msrp://bob.example.com:8888/9di4eae923wzd;tcp")
	req.FromPath, _ = msrp.ParsePath("msrps://relay.example.com:2855/r1;tcp msrp://alicepc.example.com:7777/iau39soe2843z;tcp")
	resp := msrp.Respond(req, 200, "")
	// The response goes to the previous hop only (RFC 4975 §7.2).
	fmt.Print(strings.ReplaceAll(string(msrp.AppendFrame(nil, resp, nil)), "\r\n", "\n"))
	// Output:
	// MSRP d93kswow 200 OK
	// To-Path: msrps://relay.example.com:2855/r1;tcp
	// From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
	// Message-ID: 12339sdqwer
	// -------d93kswow$
}

func ExampleParseURI() {
	u, err := msrp.ParseURI("msrps://bob@[2001:db8::7]:2855/9di4eae923wzd;tcp;ext=1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u.Secure, u.User, u.Host, u.Port, u.SessionID, u.Transport, u.Params)
	fmt.Println(u.HostPort())
	_, err = msrp.ParseURI("msrp://alice:secret@example.com:7777/x;tcp")
	fmt.Println(err)
	// Output:
	// true bob 2001:db8::7 2855 9di4eae923wzd tcp [ext=1]
	// [2001:db8::7]:2855
	// msrp: malformed MSRP URI "msrp://alice:secret@example.com:7777/x;tcp": userinfo must not contain a password
}

func ExampleURI_Equal() {
	a, _ := msrp.ParseURI("MSRP://Alice@ATLANTA.example.com:7654/jshA7weztas;TCP")
	b, _ := msrp.ParseURI("msrp://atlanta.example.com:7654/jshA7weztas;tcp")
	c, _ := msrp.ParseURI("msrp://atlanta.example.com:7654/JSHA7WEZTAS;tcp")
	d, _ := msrp.ParseURI("msrp://atlanta.example.com/jshA7weztas;tcp")
	fmt.Println(a.Equal(b)) // scheme, host, transport case-insensitive; userinfo ignored
	fmt.Println(b.Equal(c)) // session-id is case-sensitive
	fmt.Println(b.Equal(d)) // explicit port never equals an absent one
	// Output:
	// true
	// false
	// false
}

func ExampleAssembly() {
	// The two chunks of RFC 4975 §5.1, received in the wrong order.
	buf := msrp.NewMemoryBuffer(1 << 20)
	a := msrp.NewAssembly(buf, 1<<20)
	second := msrp.ByteRange{Start: 5, End: 8, Total: 8}
	first := msrp.ByteRange{Start: 1, End: msrp.Unknown, Total: 8}
	a.Write(second.Start, []byte("EFGH"))
	a.EndChunk(second, 4, msrp.FlagEnd)
	fmt.Println(a.Complete(), a.Received(), a.Ranges())
	a.Write(first.Start, []byte("abcd"))
	a.EndChunk(first, 4, msrp.FlagMore)
	fmt.Println(a.Complete(), a.Received(), string(buf.Bytes()))
	// Output:
	// false 4 [5-8/8]
	// true 8 abcdEFGH
}
