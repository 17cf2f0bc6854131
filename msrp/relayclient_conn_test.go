package msrp

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// serveFakeRelay answers the frames read from nc with the fakeRelays
// logic, through Parley's codec, until nc closes. silent makes it swallow
// every AUTH (a relay further on that never answers).
func serveFakeRelay(nc net.Conn, f *fakeRelays, silent bool) {
	defer nc.Close()
	r := NewReader(nc, Limits{})
	w := NewWriter(nc)
	for {
		req, err := r.ReadFrame()
		if err != nil {
			return
		}
		if silent || req.Method != MethodAUTH {
			continue
		}
		resp, err := f.RoundTrip(context.Background(), req, nil)
		if err != nil {
			return
		}
		resp.TID, resp.Flag = req.TID, FlagEnd
		if w.WriteFrame(resp, nil) != nil || w.Flush() != nil {
			return
		}
	}
}

// newPipeRelay returns an Endpoint whose dials reach a fake relay over
// net.Pipe (so that it runs inside a synctest bubble).
func newPipeRelay(t *testing.T, f *fakeRelays, silent bool, cfg Config) *Endpoint {
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c1, c2 := net.Pipe()
		go serveFakeRelay(c2, f, silent)
		return c1, nil
	}
	ep, err := NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

// TestAuthenticateOverConn runs the relay client over a real *Conn (the
// endpoint's RoundTrip, Parley's writer and reader) against the fake relay.
func TestAuthenticateOverConn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeRelays()
		ep := newPipeRelay(t, f, false, Config{})
		r1, r2 := mustParseURI(t, testRelay1), mustParseURI(t, testRelay2)
		ctx := t.Context()
		conn, err := ep.Dial(ctx, r1)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		self := mustParseURI(t, testSelf)
		grants, err := AuthenticateChain(ctx, conn, []RelayHop{
			{r1, Credentials{"alice", "alice-pw"}},
			{r2, Credentials{"bob", "bob-pw"}},
		}, AuthOptions{From: self, Expires: time.Hour, RequireResponseAuth: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatPath(grants[1].UsePath); got != "msrp://relay1.example.test:9000/grant1;tcp msrp://relay2.example.test:9000/grant2;tcp" {
			t.Fatalf("Use-Path %s", got)
		}
		if !grants[0].ResponseAuthVerified || grants[1].Expires != time.Hour || grants[1].Expiry != time.Now().Add(time.Hour) {
			t.Fatalf("grants %+v %+v", grants[0], grants[1])
		}
		// The relay session is usable by the endpoint as-is.
		_ = &Relay{Conn: conn, UsePath: grants[1].UsePath}
	})
}

// TestAuthenticateTimeoutOverConn: a relay that never answers AUTH makes
// the transaction time out (RFC 4975 §7.1.1, 30 s by default) and
// Authenticate report ErrAuthTimeout.
func TestAuthenticateTimeoutOverConn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ep := newPipeRelay(t, newFakeRelays(), true, Config{})
		r1 := mustParseURI(t, testRelay1)
		conn, err := ep.Dial(t.Context(), r1)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		start := time.Now()
		_, err = Authenticate(t.Context(), conn, r1, Credentials{"alice", "alice-pw"}, AuthOptions{From: mustParseURI(t, testSelf)})
		if !errors.Is(err, ErrAuthTimeout) || !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want ErrAuthTimeout wrapping ErrTimeout", err)
		}
		if el := time.Since(start); el != 30*time.Second {
			t.Fatalf("timed out after %v, want the 30 s transaction timeout", el)
		}
	})
}

// TestAuthenticateOverLoopback is the same exchange over real TCP on
// 127.0.0.1, with the fake relay behind a listener.
func TestAuthenticateOverLoopback(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeRelays()
	served := make(chan struct{})
	go func() {
		defer close(served)
		nc, err := l.Accept()
		if err != nil {
			return
		}
		serveFakeRelay(nc, f, false)
	}()
	ep, err := NewEndpoint(Config{})
	if err != nil {
		t.Fatal(err)
	}
	relay := mustParseURI(t, "msrp://"+l.Addr().String()+";tcp")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := ep.Dial(ctx, relay)
	if err != nil {
		t.Fatal(err)
	}
	ra, err := Authenticate(ctx, conn, relay, Credentials{"alice", "alice-pw"}, AuthOptions{From: mustParseURI(t, testSelf), RequireResponseAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ra.UsePath) != 1 || ra.UsePath[0].Port != 9000 || ra.UsePath[0].Host != "127.0.0.1" || !ra.ResponseAuthVerified {
		t.Fatalf("grant %+v", ra)
	}
	conn.Release()
	ep.Close()
	l.Close()
	<-served
}
