package relay_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/msrp/relay"
)

// A relay on a loopback port; a Parley endpoint authenticates to it and
// gets a Use-Path URI for its sessions.
func Example() {
	users := relay.NewMemoryAuthenticator()
	users.Add("alice", "secret")
	srv, err := relay.New(relay.Config{Host: "127.0.0.1", Authenticator: users})
	if err != nil {
		panic(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	for srv.URI().Port == 0 {
		time.Sleep(time.Millisecond)
	}

	ep, err := msrp.NewEndpoint(msrp.Config{})
	if err != nil {
		panic(err)
	}
	defer ep.Close()
	ctx := context.Background()
	conn, err := ep.Dial(ctx, srv.URI())
	if err != nil {
		panic(err)
	}
	defer conn.Release()
	self := msrp.URI{Host: "127.0.0.1", Port: 2855, SessionID: "alice1234", Transport: "tcp"}
	grant, err := msrp.Authenticate(ctx, conn, srv.URI(), msrp.Credentials{Username: "alice", Password: "secret"},
		msrp.AuthOptions{From: self, Expires: 10 * time.Minute, RequireResponseAuth: true})
	if err != nil {
		panic(err)
	}
	u := grant.UsePath[0]
	fmt.Println(u.Host == "127.0.0.1", u.Port == srv.URI().Port, len(u.SessionID) >= 16)
	fmt.Println(grant.Expires, grant.ResponseAuthVerified)
	fmt.Println(srv.Metrics().SessionsLive)
	// Output:
	// true true true
	// 10m0s true
	// 1
}
