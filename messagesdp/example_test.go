package messagesdp_test

import (
	"fmt"
	"strings"

	"github.com/parley-im/parley/messagesdp"
)

// The offer of RFC 4975 §8.7, with CRLF line ends as on the wire.
var exampleOffer = strings.ReplaceAll(`v=0
o=usera 2890844526 2890844527 IN IP4 alice.example.com
s= -
c=IN IP4 alice.example.com
t=0 0
m=message 7394 TCP/MSRP *
a=accept-types: message/cpim text/plain text/html
a=path:msrp://alice.example.com:7394/2s93i93idj;tcp
`, "\n", "\r\n")

func ExampleParse() {
	d, err := messagesdp.Parse([]byte(exampleOffer))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range d.Messages() {
		m := s.Media
		fmt.Println(s.Index, m.Proto, m.Port, m.Address)
		fmt.Println("path:", m.Path)
		fmt.Println("accept-types:", m.AcceptTypes)
	}
	// Output:
	// 0 TCP/MSRP 7394 alice.example.com
	// path: [msrp://alice.example.com:7394/2s93i93idj;tcp]
	// accept-types: [message/cpim text/plain text/html]
}

func ExampleBuild() {
	d, err := messagesdp.Build(&messagesdp.Media{
		Proto:       messagesdp.ProtoMSRP,
		Port:        8493,
		Address:     "bob.example.com",
		Formats:     []string{"*"},
		AcceptTypes: []string{"message/cpim", "text/plain"},
		Path:        []string{"msrp://bob.example.com:8493/si438dsaodes;tcp"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	d.Origin.Username = "userb"
	d.Origin.SessionID, d.Origin.SessionVersion = 2890844530, 2890844532
	fmt.Print(strings.ReplaceAll(string(d.Marshal()), "\r\n", "\n"))
	// Output:
	// v=0
	// o=userb 2890844530 2890844532 IN IP4 bob.example.com
	// s=-
	// c=IN IP4 bob.example.com
	// t=0 0
	// m=message 8493 TCP/MSRP *
	// a=accept-types:message/cpim text/plain
	// a=path:msrp://bob.example.com:8493/si438dsaodes;tcp
}

// An answerer checks the offer, picks its connection role and answers with
// the same number of m-lines (RFC 3264 §6).
func ExampleNewAnswer() {
	offer, err := messagesdp.Parse([]byte(exampleOffer))
	if err != nil {
		fmt.Println(err)
		return
	}
	m := offer.Streams[0].Media
	if err := messagesdp.Acceptable(m, []string{messagesdp.ProtoMSRP}, []string{"text/plain", "message/cpim"}); err != nil {
		fmt.Println("488:", err)
		return
	}
	setup, err := messagesdp.AnswerSetup(m.Setup, true)
	if err != nil {
		fmt.Println("488:", err)
		return
	}
	mine := &messagesdp.Media{
		Proto: m.Proto, Port: 8493, Address: "bob.example.com", Formats: []string{"*"},
		AcceptTypes: messagesdp.IntersectTypes(m.AcceptTypes, []string{"text/plain", "message/cpim"}),
		Path:        []string{"msrp://bob.example.com:8493/si438dsaodes;tcp"},
		Setup:       setup,
	}
	answer, err := messagesdp.NewAnswer(offer, map[int]*messagesdp.Media{0: mine})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("we connect:", messagesdp.IsActive(mine, m, false))
	sdp := strings.ReplaceAll(string(answer.Marshal()), "\r\n", "\n")
	fmt.Print(sdp[strings.Index(sdp, "m="):])
	// Output:
	// we connect: false
	// m=message 8493 TCP/MSRP *
	// a=accept-types:message/cpim text/plain
	// a=path:msrp://bob.example.com:8493/si438dsaodes;tcp
	// a=setup:passive
}

func ExampleMatchType() {
	accepted := []string{"message/cpim", "text/*"}
	for _, t := range []string{"text/html", "message/cpim;charset=utf-8", "image/png"} {
		fmt.Println(t, messagesdp.MatchType(t, accepted))
	}
	// Output:
	// text/html true
	// message/cpim;charset=utf-8 true
	// image/png false
}

func ExampleReject() {
	offer := &messagesdp.Media{Proto: messagesdp.ProtoCPIMTCP, Port: 7394, Formats: []string{"text/plain"}}
	fmt.Println(messagesdp.Reject(offer).MediaDescription().MediaName)
	// Output:
	// message 0 cpim/tcp text/plain
}
