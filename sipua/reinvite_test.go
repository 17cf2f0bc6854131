package sipua

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/parley-im/parley/internal/testpeer"
	"github.com/parley-im/parley/session"
)

// reinvitePeer is a sipgo UAS that answers our INVITE through the shared
// fake media and can then send re-INVITEs within the dialog, as a peer
// does after reconnecting with a new MSRP path (RFC 4975 §8.4).
type reinvitePeer struct {
	uri   string
	media Media
	mu    sync.Mutex
	dlg   *sipgo.DialogServerSession
	ready chan struct{}
	// password, if set, makes the peer challenge INVITEs with 407 (RFC
	// 3261 §22.3) until they carry digest credentials for it.
	password string
	auths    int
}

func newReinvitePeer(t *testing.T, n *fakeNet) *reinvitePeer {
	t.Helper()
	p := &reinvitePeer{media: n.media(false), ready: make(chan struct{})}
	peer := testpeer.NewSIPPeer(t, "reinvite-peer")
	srv := peer.Server
	cli, err := sipgo.NewClient(peer.UA)
	if err != nil {
		t.Fatal(err)
	}
	port := peer.Addr.Port
	dua := &sipgo.DialogUA{Client: cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "peer", Host: "127.0.0.1", Port: port, UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}}}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		if p.password != "" {
			chal := digest.Challenge{Realm: "peer", Nonce: "peernonce", QOP: []string{"auth"}, Algorithm: "MD5"}
			ok := false
			if h := req.GetHeader("Proxy-Authorization"); h != nil {
				if cred, err := digest.ParseCredentials(h.Value()); err == nil {
					want, err := digest.Digest(&chal, digest.Options{Method: "INVITE", URI: cred.URI, Username: cred.Username, Password: p.password, Cnonce: cred.Cnonce, Count: cred.Nc})
					ok = err == nil && want.Response == cred.Response
				}
			}
			if !ok {
				res := sip.NewResponseFromRequest(req, 407, "Proxy Authentication Required", nil)
				res.AppendHeader(sip.NewHeader("Proxy-Authenticate", chal.String()))
				tx.Respond(res)
				return
			}
			p.mu.Lock()
			p.auths++
			p.mu.Unlock()
		}
		dlg, err := dua.ReadInvite(req, tx)
		if err != nil {
			return
		}
		ans, err := p.media.Answer(context.Background(), req.Body(), session.Options{})
		if err != nil {
			dlg.Respond(488, "Not Acceptable Here", nil)
			return
		}
		p.mu.Lock()
		p.dlg = dlg
		p.mu.Unlock()
		if err := dlg.RespondSDP(ans.SDP()); err != nil {
			return
		}
		close(p.ready)
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.dlg != nil {
			p.dlg.ReadAck(req, tx)
		}
	})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.dlg != nil {
			p.dlg.ReadBye(req, tx)
		}
	})
	peer.Serve()
	p.uri = peer.URI("peer")
	return p
}

// reinvite sends a re-INVITE with sdp and, on 2xx, the ACK.
func (p *reinvitePeer) reinvite(t *testing.T, sdp []byte) *sip.Response {
	t.Helper()
	p.mu.Lock()
	dlg := p.dlg
	p.mu.Unlock()
	target := dlg.InviteRequest.Contact().Address
	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sdp)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := dlg.Do(ctx, req)
	if err != nil {
		t.Fatalf("re-INVITE: %v", err)
	}
	if res.IsSuccess() {
		ack := sip.NewRequest(sip.ACK, target)
		if err := dlg.WriteRequest(ack); err != nil {
			t.Fatalf("ACK: %v", err)
		}
	}
	return res
}

func TestReinvite(t *testing.T) {
	n := newFakeNet()
	peer := newReinvitePeer(t, n)
	alice := testUA(t, Config{Media: n.media(false)}, TCP)
	call, err := alice.Invite(ctxT(t, 10*time.Second), peer.uri, InviteOptions{})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	select {
	case <-peer.ready:
	case <-time.After(5 * time.Second):
		t.Fatal("peer never saw the ACK")
	}
	first := call.Session()

	// 1. An unchanged offer (session refresh) keeps session and answer.
	call.mu.Lock()
	remote, local := call.remoteSDP, call.localSDP
	call.mu.Unlock()
	res := peer.reinvite(t, remote)
	if res.StatusCode != 200 || string(res.Body()) != string(local) {
		t.Fatalf("refresh: %d %q", res.StatusCode, res.Body())
	}
	if call.Session() != first {
		t.Fatal("session replaced by an unchanged offer")
	}

	// 2. An offer nothing can accept gets 488; the session stays.
	res = peer.reinvite(t, fakeSDP("0123", "TCP/OTHER", 2))
	if res.StatusCode != 488 {
		t.Fatalf("unacceptable re-INVITE: %d", res.StatusCode)
	}
	if call.Session() != first {
		t.Fatal("session replaced after 488")
	}

	// 3. A new offer (a new path after a reconnect) is answered through
	// the media layer; the new session replaces the old one, which is
	// closed.
	off, _ := peer.media.Offer(t.Context(), session.Options{})
	res = peer.reinvite(t, off.SDP())
	if res.StatusCode != 200 {
		t.Fatalf("new offer: %d", res.StatusCode)
	}
	peerSess, err := off.Open(t.Context(), res.Body())
	if err != nil {
		t.Fatalf("peer Open: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for call.Session() == first && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if call.Session() == first {
		t.Fatal("session not replaced")
	}
	select {
	case <-first.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("old session not closed")
	}
	ctx := ctxT(t, 5*time.Second)
	if _, err := peerSess.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("new path")}); err != nil {
		t.Fatal(err)
	}
	m, err := call.Session().Receive(ctx)
	if err != nil || string(m.Body) != "new path" {
		t.Fatalf("Receive on new session: %v %q", err, m.Body)
	}
	// The call survived the old session's end (no BYE after the grace).
	time.Sleep(2 * sessionGrace)
	select {
	case <-call.Done():
		t.Fatalf("call ended: %v", call.Err())
	default:
	}
	if err := call.Hangup(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
}

// INVITE digest: a 407 challenge is answered once with the credentials
// (sipgo's WaitAnswer), a wrong password ends in ErrAuthFailed.
func TestInviteDigest(t *testing.T) {
	for _, c := range []struct {
		name, password string
		ok             bool
	}{{"right", "pw", true}, {"wrong", "bad", false}, {"none", "", false}} {
		t.Run(c.name, func(t *testing.T) {
			n := newFakeNet()
			peer := newReinvitePeer(t, n)
			peer.password = "pw"
			alice := testUA(t, Config{Media: n.media(false), Password: c.password}, TCP)
			call, err := alice.Invite(ctxT(t, 10*time.Second), peer.uri, InviteOptions{})
			if c.ok {
				if err != nil {
					t.Fatalf("Invite: %v", err)
				}
				peer.mu.Lock()
				auths := peer.auths
				peer.mu.Unlock()
				if auths != 1 {
					t.Errorf("%d authenticated INVITEs", auths)
				}
				if err := call.Hangup(ctxT(t, 5*time.Second)); err != nil {
					t.Errorf("Hangup: %v", err)
				}
				return
			}
			var se *StatusError
			if !errors.Is(err, ErrAuthFailed) || !errors.As(err, &se) || se.Code != 407 {
				t.Fatalf("err = %v, want 407 ErrAuthFailed", err)
			}
		})
	}
}
