package relay

import (
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// TestRelayToRelaySendResponse: the 200 a relay sends back for a SEND
// goes to the first From-Path URI, the previous hop (RFC 4975 §7.2), so
// the relay before it matches it and no 408 REPORT follows.
func TestRelayToRelaySendResponse(t *testing.T) {
	s1, _ := startRelay(t, Config{TransactionTimeout: 300 * time.Millisecond})
	s2, _ := startRelay(t, Config{TransactionTimeout: 300 * time.Millisecond})
	a, b := dialRaw(t, s1), dialRaw(t, s2)
	ra, rb := a.auth(s1, "alice"), b.auth(s2, "bob")
	req := send([]msrp.URI{ra, rb, b.self}, a.self, "across01", "hello")
	a.write(req, []byte("hello"))
	if f, _ := a.read(); f.StatusCode != 200 {
		t.Fatal(f.StatusCode)
	}
	got, body := b.read()
	if string(body) != "hello" || msrp.FormatPath(got.FromPath) != msrp.FormatPath([]msrp.URI{rb, ra, a.self}) {
		t.Fatalf("%+v %q", got, body)
	}
	b.write(msrp.Respond(got, 200, ""), nil)
	if f, _, err := a.tryRead(time.Second); err != errReadTimeout {
		t.Fatalf("sender got %+v %v (a 408 REPORT: relay 1 did not match relay 2's 200)", f, err)
	}
	if m := s1.Metrics(); m.Timeouts != 0 {
		t.Fatalf("relay 1 timeouts %d", m.Timeouts)
	}
}
