package sipserver

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// FuzzAuthorization feeds arbitrary Authorization header values to the
// digest check: it never panics and never accepts them (a right response
// cannot be guessed), whatever the input, split or not.
func FuzzAuthorization(f *testing.F) {
	for _, s := range []string{
		`Digest username="alice", realm="parley.test", nonce="00", uri="sip:parley.test", response="00", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"`,
		`Digest username="alice", realm="parley.test", nonce="00", uri="sip:parley.test", response="00", algorithm=SHA-256`,
		`Digest username="alice", realm="parley.test", nonce="", uri="", response=""`,
		`Digest realm="parley.test", qop=auth-int, nc=ffffffff`,
		`Basic YWxpY2U6cHc=`,
		`Digest username="alice", realm="parley.test", algorithm=MD5-sess, nc=0, qop="auth"`,
		``,
	} {
		f.Add(s)
	}
	s := newTestServer(f, nil, Config{MaxAuthFailures: -1}, "alice") // every input is checked
	f.Fuzz(func(t *testing.T, v string) {
		var u sip.Uri
		sip.ParseUri("sip:"+domain, &u)
		req := sip.NewRequest(sip.REGISTER, u)
		req.AppendHeader(sip.NewHeader("Authorization", v))
		if s.authenticate(context.Background(), req, false, domain, "alice").res == authOK {
			t.Fatalf("accepted %q", v)
		}
		// A nonce the server issued, with a guessed response.
		n := s.nc.issue(time.Now(), domain)
		req2 := sip.NewRequest(sip.REGISTER, u)
		req2.AppendHeader(sip.NewHeader("Authorization", `Digest username="alice", realm="`+domain+`", nonce="`+n+`", uri="sip:`+domain+`", response="`+v+`"`))
		if s.authenticate(context.Background(), req2, false, domain, "alice").res == authOK {
			t.Fatalf("accepted response %q", v)
		}
	})
}
