package sipserver

import (
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley/sipua"
)

// benchSend sends b.N pager messages alice → bob through the proxy, one
// at a time (RFC 3428 §9 forbids overlapping MESSAGEs to one target).
func benchSend(b *testing.B, online bool) {
	s := newTestServer(b, nil, Config{}, "alice", "bob")
	alice, _ := s.mustClientB(b, "alice", "tcp")
	if online {
		_, in := s.mustClientB(b, "bob", "tcp")
		_ = in
	}
	body := []byte("a pager message of a typical size, about sixty bytes long.")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	want := 200
	if !online {
		want = 202
	}
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := alice.SendMessage(ctx, "sip:bob@"+domain, "text/plain", body)
		cancel()
		if err != nil || res.Status != want {
			b.Fatalf("%+v %v", res, err)
		}
	}
}

// BenchmarkPagerProxied: MESSAGE delivered to an online device (200).
func BenchmarkPagerProxied(b *testing.B) { benchSend(b, true) }

// BenchmarkPagerStored: MESSAGE to an offline user, committed to SQLite
// (fsync) before the 202.
func BenchmarkPagerStored(b *testing.B) { benchSend(b, false) }

func (s *testServer) mustClientB(b *testing.B, user, transport string) (*sipua.UA, inbox) {
	in := make(inbox, 1024)
	reg := "sip:" + s.Addr(transport) + ";transport=" + transport
	ua, err := sipua.New(sipua.Config{AOR: "sip:" + user + "@" + domain, Password: user + "-pw", Registrar: reg, OutboundProxy: reg,
		Listen: []sipua.Listen{{Transport: transport, Addr: "127.0.0.1:0"}}, OnMessage: func(m *sipua.Message) {
			select {
			case in <- m:
			default:
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ua.Close() })
	if err := ua.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	return ua, in
}
