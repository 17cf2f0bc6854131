package testpeer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TestSIPPeer: a handler registered on the peer answers a request sent
// over TCP to URI; Serve twice serves once.
func TestSIPPeer(t *testing.T) {
	p := NewSIPPeer(t, "testpeer-test")
	if !strings.HasPrefix(p.URI("bob"), "sip:bob@127.0.0.1:") || !strings.HasSuffix(p.URI("bob"), ";transport=tcp") || strings.Contains(p.URI(""), "@") {
		t.Fatalf("URI = %q, %q", p.URI("bob"), p.URI(""))
	}
	got := make(chan string, 1)
	p.Server.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		got <- req.Recipient.User
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	p.Serve()
	p.Serve() // once only

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("testpeer-client"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	var u sip.Uri
	if err := sip.ParseUri(p.URI("bob"), &u); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := cli.Do(ctx, sip.NewRequest(sip.OPTIONS, u))
	if err != nil {
		t.Fatalf("OPTIONS: %v", err)
	}
	if res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
	if user := <-got; user != "bob" {
		t.Errorf("the handler saw user %q", user)
	}
}
