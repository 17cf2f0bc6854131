package iscomposing_test

import (
	"fmt"
	"log"
	"time"

	"github.com/parley-im/parley/iscomposing"
)

func ExampleParse() {
	s, err := iscomposing.Parse([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">
  <state>active</state>
  <contenttype>text/plain</contenttype>
  <refresh>90</refresh>
</isComposing>`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.State, s.ContentType, s.Refresh)
	// Output: active text/plain 1m30s
}

func ExampleStatus_Marshal() {
	s := iscomposing.Status{State: iscomposing.Active, ContentType: "text/plain", Refresh: time.Minute}
	fmt.Printf("%s", s.Marshal())
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><contenttype>text/plain</contenttype><refresh>60</refresh></isComposing>
}

// The Sender and Receiver take the time as an argument; a caller arms its
// own timer for Deadline.
func ExampleSender() {
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var sender iscomposing.Sender
	var receiver iscomposing.Receiver
	send := func(now time.Time, s iscomposing.Status, ok bool) {
		if ok {
			fmt.Printf("%3.0fs send %v\n", now.Sub(start).Seconds(), s.State)
			receiver.Status(s, now)
		}
	}
	now := start
	s, ok := sender.Typing(now) // idle → active
	send(now, s, ok)
	now = start.Add(4 * time.Second)
	s, ok = sender.Typing(now) // still active: nothing to send
	send(now, s, ok)
	deadline, _ := sender.Deadline()
	fmt.Printf("%3.0fs deadline\n", deadline.Sub(start).Seconds())
	s, ok = sender.Tick(deadline) // 15 s without typing → idle
	send(deadline, s, ok)
	fmt.Println(receiver.State(deadline))
	// Output:
	//   0s send active
	//  19s deadline
	//  19s send idle
	// idle
}
