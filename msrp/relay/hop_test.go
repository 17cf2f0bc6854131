package relay

import (
	"testing"

	"github.com/parley-im/parley/msrp"
)

func TestHopCache(t *testing.T) {
	c := &conn{closedCh: make(chan struct{})}
	u := msrp.URI{Host: "127.0.0.1", Port: 2855, SessionID: "abcd", Transport: "tcp"}
	h := hopCache{host: u.Host, port: u.Port, c: c}
	other := u
	other.SessionID = "efgh" // same hop, another session
	if h.lookup(u) != c || h.lookup(other) != c {
		t.Fatal("miss on the cached hop")
	}
	for _, v := range []msrp.URI{
		{Host: "127.0.0.2", Port: 2855, Transport: "tcp"},
		{Host: "127.0.0.1", Port: 2856, Transport: "tcp"},
		{Secure: true, Host: "127.0.0.1", Port: 2855, Transport: "tcp"},
	} {
		if h.lookup(v) != nil {
			t.Fatalf("hit for %v", v)
		}
	}
	close(c.closedCh)
	if h.lookup(u) != nil {
		t.Fatal("hit on a closed connection")
	}
	if (&hopCache{}).lookup(u) != nil {
		t.Fatal("hit on an empty cache")
	}
}
