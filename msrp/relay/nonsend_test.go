package relay

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// TestNonSendBodyTooLarge (hostile F3): a non-SEND body over the 10240
// octets of RFC 4975 §7.1 is answered 413 to the previous hop and nothing
// reaches the next hop; the connection stays usable.
func TestNonSendBodyTooLarge(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a := dialRaw(t, s)
	ra := a.auth(s, "alice")
	peer := dialRaw(t, s)
	big := bytes.Repeat([]byte("b"), 11000)
	req := &msrp.Frame{Method: msrp.MethodAUTH, ToPath: []msrp.URI{ra, a.self}, FromPath: []msrp.URI{peer.self},
		ContentType: "text/plain", TID: "toolarge1"}
	peer.write(req, big)
	f, _ := peer.read()
	if f.IsRequest() || f.StatusCode != msrp.StatusRequestEntityTooLarge || f.TID != "toolarge1" {
		t.Fatalf("peer got %+v, want 413", f)
	}
	if f, _, err := a.tryRead(200 * time.Millisecond); err != errReadTimeout {
		t.Fatalf("next hop got %+v %v", f, err)
	}
	// Exactly at the bound: forwarded whole.
	ok := bytes.Repeat([]byte("c"), msrp.DefaultMaxNonSendBody)
	req = &msrp.Frame{Method: msrp.MethodAUTH, ToPath: []msrp.URI{ra, a.self}, FromPath: []msrp.URI{peer.self},
		ContentType: "text/plain", TID: "justfits1"}
	peer.write(req, ok)
	got, body := a.read()
	if got.Method != msrp.MethodAUTH || !bytes.Equal(body, ok) || got.Flag != msrp.FlagEnd {
		t.Fatalf("next hop got %+v, %d octets", got, len(body))
	}
	a.write(msrp.Respond(got, 200, ""), nil)
	if f, _ := peer.read(); f.StatusCode != 200 || f.TID != "justfits1" {
		t.Fatalf("peer got %+v", f)
	}
}

// TestNonSendBodyEndLineNewTID: a non-SEND body cannot be re-chunked, so
// when it contains the end-line of the tid minted for the next hop the
// relay mints another one (RFC 4975 §7.1).
func TestNonSendBodyEndLineNewTID(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a := dialRaw(t, s)
	ra := a.auth(s, "alice")
	peer := dialRaw(t, s)
	ac := s.grantFor(ra.SessionID).owner
	ac.wmu.Lock()
	ac.tidPrefix, ac.tidN = "fixedtid", 99
	ac.wmu.Unlock()
	next := "fixedtid" + strconv.FormatUint(100, 36)
	body := []byte("before\r\n-------" + next + "$\r\nafter")
	req := &msrp.Frame{Method: "NICKNAME", ToPath: []msrp.URI{ra, a.self}, FromPath: []msrp.URI{peer.self},
		ContentType: "text/plain"}
	peer.write(req, body)
	got, gb := a.read()
	if got.Method != "NICKNAME" || got.TID == next || !strings.HasPrefix(got.TID, "fixedtid") || !bytes.Equal(gb, body) || got.Flag != msrp.FlagEnd {
		t.Fatalf("next hop got %s %s%c %q", got.Method, got.TID, got.Flag, gb)
	}
}
