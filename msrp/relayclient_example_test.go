package msrp_test

import (
	"context"
	"fmt"

	"github.com/parley-im/parley/msrp"
)

// toyRelay answers AUTH like an RFC 4976 relay with one user, alice.
type toyRelay struct{ nonce string }

func (r *toyRelay) RoundTrip(ctx context.Context, req *msrp.Frame, body []byte) (*msrp.Frame, error) {
	resp := &msrp.Frame{TID: req.TID, ToPath: req.FromPath, FromPath: req.ToPath[len(req.ToPath)-1:]}
	v, ok := req.Header("Authorization")
	if !ok {
		ch := &msrp.Challenge{Realm: "relay.example.com", Nonce: r.nonce, QOP: []string{"auth"}}
		resp.StatusCode, resp.Comment = 401, "Unauthorized"
		resp.Headers = []msrp.Header{{Name: "WWW-Authenticate", Value: ch.String()}}
		return resp, nil
	}
	a, err := msrp.ParseAuthorization(v)
	if err != nil || a.Username != "alice" || a.Check("secret") != nil {
		resp.StatusCode, resp.Comment = 403, "Forbidden"
		return resp, nil
	}
	rsp, _ := a.ResponseAuth("secret")
	info := &msrp.AuthenticationInfo{RspAuth: rsp, Cnonce: a.Cnonce, NC: a.NC, HasNC: true, QOP: "auth"}
	resp.StatusCode, resp.Comment = 200, "OK"
	resp.Headers = []msrp.Header{
		{Name: "Use-Path", Value: "msrps://relay.example.com:2855/jui787s2f;tcp"},
		{Name: "Expires", Value: "900"},
		{Name: "Authentication-Info", Value: info.String()},
	}
	return resp, nil
}

func ExampleAuthenticate() {
	// rt would normally be the *msrp.Conn returned by Endpoint.Dial.
	rt := &toyRelay{nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093"}
	relay, _ := msrp.ParseURI("msrps://relay.example.com;tcp")
	self, _ := msrp.ParseURI("msrps://alice.example.com:9892/98cjs;tcp")

	grant, err := msrp.Authenticate(context.Background(), rt, relay,
		msrp.Credentials{Username: "alice", Password: "secret"},
		msrp.AuthOptions{From: self, RequireResponseAuth: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Use-Path:", msrp.FormatPath(grant.UsePath))
	fmt.Println("Expires:", grant.Expires, "rspauth verified:", grant.ResponseAuthVerified)

	// RFC 4976 §5.1: what to put in SDP, and the To-Path towards the peer.
	peer, _ := msrp.ParsePath("msrps://bob.example.net:8145/foo;tcp")
	fmt.Println("a=path:", msrp.FormatPath(msrp.AdvertisedPath(grant.UsePath, self)))
	fmt.Println("To-Path:", msrp.FormatPath(msrp.OutgoingToPath(grant.UsePath, peer)))

	_, err = msrp.Authenticate(context.Background(), rt, relay,
		msrp.Credentials{Username: "mallory", Password: "guess"}, msrp.AuthOptions{From: self})
	fmt.Println(err)
	// Output:
	// Use-Path: msrps://relay.example.com:2855/jui787s2f;tcp
	// Expires: 15m0s rspauth verified: true
	// a=path: msrps://relay.example.com:2855/jui787s2f;tcp msrps://alice.example.com:9892/98cjs;tcp
	// To-Path: msrps://relay.example.com:2855/jui787s2f;tcp msrps://bob.example.net:8145/foo;tcp
	// msrp: AUTH to msrps://relay.example.com;tcp: 403 Forbidden: msrp: relay refused service to this user
}

func ExampleChallenge_Authorize() {
	ch, err := msrp.ParseChallenge(`Digest realm="parley.test", nonce="aw86WmsPOS6kMtsAgYUZaowWsxdCzCuvCfuVeYA=", qop="auth"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The digest-uri is the rightmost To-Path URI (RFC 4976 §9.1); a fixed
	// cnonce makes the output reproducible (pass "" for a random one).
	a, _ := ch.Authorize(msrp.Credentials{Username: "alice", Password: "alice-secret"}, "msrp://127.0.0.1:15000;tcp", 1, "0a4f113b")
	fmt.Println(a)

	_, err = msrp.ParseChallenge(`Basic realm="parley.test"`)
	fmt.Println(err)
	// Output:
	// Digest username="alice", realm="parley.test", nonce="aw86WmsPOS6kMtsAgYUZaowWsxdCzCuvCfuVeYA=", uri="msrp://127.0.0.1:15000;tcp", response="ecc1bd4ea9dd3a4eaa793b5d79bf0969", cnonce="0a4f113b", qop=auth, nc=00000001
	// msrp: Basic authentication is forbidden for MSRP (RFC 4976 §9.1)
}
