package testpeer

import (
	"net"
	"sync"
	"testing"

	"github.com/emiago/sipgo"
)

// SIPPeer is a scripted SIP peer: a sipgo user agent and server with a
// TCP listener on a free loopback port. A test registers its handlers on
// Server (and may make a client of UA), then calls Serve. When the test
// ends the listener and the user agent are closed and the serving
// goroutine is waited for.
type SIPPeer struct {
	UA     *sipgo.UserAgent
	Server *sipgo.Server
	Addr   *net.TCPAddr // the listener's address, 127.0.0.1:port

	l       net.Listener
	serving sync.WaitGroup
	once    sync.Once
}

// NewSIPPeer creates a peer whose requests and responses carry
// User-Agent: name.
func NewSIPPeer(t testing.TB, name string) *SIPPeer {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(name))
	if err != nil {
		t.Fatalf("sipgo.NewUA: %v", err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		ua.Close()
		t.Fatalf("sipgo.NewServer: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ua.Close()
		t.Fatal(err)
	}
	p := &SIPPeer{UA: ua, Server: srv, Addr: l.Addr().(*net.TCPAddr), l: l}
	t.Cleanup(func() {
		l.Close()
		ua.Close()
		p.serving.Wait()
	})
	return p
}

// Serve starts serving SIP over TCP on the peer's listener, until the
// test ends. Register the handlers first. Further calls do nothing.
func (p *SIPPeer) Serve() {
	p.once.Do(func() {
		p.serving.Go(func() { _ = p.Server.ServeTCP(p.l) })
	})
}

// URI returns "sip:user@127.0.0.1:port;transport=tcp" (no user part when
// user is empty).
func (p *SIPPeer) URI(user string) string {
	if user != "" {
		user += "@"
	}
	return "sip:" + user + p.Addr.String() + ";transport=tcp"
}
