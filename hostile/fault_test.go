package hostile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/msrp/relay"
	"github.com/parley-im/parley/session"
)

// waitResult waits for d's result, failing the test if it takes longer
// than limit: a sender must learn of a failure, never wait forever.
func waitResult(t *testing.T, d *session.Delivery, limit time.Duration) session.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	r, err := d.Wait(ctx)
	if err != nil {
		t.Fatalf("no delivery result within %v: %v (silent loss)", limit, err)
	}
	return r
}

// TestFaultPeerKilledMidChunk: the receiving peer closes its socket in the
// middle of a chunk. The sender, which asked for failure reports (the
// default, Failure-Report: yes), must see the Delivery fail and the
// session end, within the transaction timeout.
func TestFaultPeerKilledMidChunk(t *testing.T) {
	const tt = time.Second
	ep, addr := newEndpoint(t, msrp.Config{TransactionTimeout: tt})
	for _, mode := range []string{"close", "stall", "mute"} {
		t.Run(mode, func(t *testing.T) {
			rs := openRawSession(t, ep, addr, answerOpts)
			// Stop the peer's frame reader: the test reads the raw socket.
			close(rs.peer.done)
			rs.peer.nc.SetReadDeadline(time.Now())
			<-rs.peer.gone
			rs.peer.nc.SetReadDeadline(time.Time{})
			size := int64(32 << 20)
			if mode == "mute" {
				size = 1000
			}
			d, err := rs.sess.Send(context.Background(), &session.Outgoing{ContentType: "application/octet-stream",
				BodyReader: io.LimitReader(zeros{}, size), Size: size})
			if err != nil {
				t.Fatal(err)
			}
			switch mode {
			case "close": // read part of the first chunk, then vanish
				io.CopyN(io.Discard, rs.peer.nc, 100<<10)
				rs.peer.nc.Close()
			case "stall": // keep the socket open and read nothing
			case "mute": // read everything, answer nothing
				go io.Copy(io.Discard, rs.peer.nc)
			}
			r := waitResult(t, d, 5*tt)
			if r.Outcome == session.Delivered || r.Outcome == session.Sent {
				t.Fatalf("want a failure, got %+v", r)
			}
			t.Logf("%s: outcome %v, err %v", mode, r.Outcome, r.Err)
			if mode == "close" {
				select {
				case <-rs.sess.Done():
					if rs.sess.Err() == nil || !errors.Is(rs.sess.Err(), msrp.ErrConnLost) {
						t.Errorf("Session.Err = %v, want ErrConnLost", rs.sess.Err())
					}
				case <-time.After(5 * tt):
					t.Fatal("session still running after its connection died")
				}
			}
			rs.peer.nc.Close()
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestFaultSeedPeerKilled: with receipts asked for (§6.3), a seed sender
// whose peer dies learns it: the Delivery fails or times out within the
// receipt timeout.
func TestFaultSeedPeerKilled(t *testing.T) {
	const rt = time.Second
	ep, addr := newSeedEndpoint(t, cpimtransport.Config{ReceiptTimeout: rt})
	for _, mode := range []string{"close", "mute"} {
		t.Run(mode, func(t *testing.T) {
			ctx := testCtx(t)
			mine := cpimtransport.NewSessionURI("127.0.0.1")
			// Listing message/im-delivery-status asks for reports: the
			// endpoint then waits for one per message.
			offer := &messagesdp.Media{Proto: messagesdp.ProtoCPIMTCP, Port: 9, Address: "127.0.0.1",
				Formats: []string{"text/plain", cpimtransport.TypeDeliveryStatus}, URI: mine,
				Direction: messagesdp.DirectionActive, Setup: messagesdp.SetupActive}
			ans, err := ep.Answer(ctx, offer, session.Options{WantReceipts: true})
			if err != nil {
				t.Fatal(err)
			}
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			// Bind the connection with a first message (MsgID 1).
			msg := "From: <" + mine + ">\r\nTo: <" + ans.Media().URI + ">\r\nMsgID: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhi"
			nc.Write(cpimtransport.AppendFrame(nil, []byte(msg)))
			s, err := ans.Open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Receive(ctx); err != nil {
				t.Fatal(err)
			}
			d, err := s.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: bytes.Repeat([]byte("x"), 200<<10)})
			if err != nil {
				t.Fatal(err)
			}
			if mode == "close" {
				io.CopyN(io.Discard, nc, 50<<10)
				nc.Close()
			} else {
				go io.Copy(io.Discard, nc)
			}
			r := waitResult(t, d, 5*rt)
			if r.Outcome == session.Delivered || r.Outcome == session.Sent {
				t.Fatalf("want a failure, got %+v", r)
			}
			t.Logf("%s: outcome %v, err %v", mode, r.Outcome, r.Err)
		})
	}
}

// TestFaultRelayedPeerKilled: A sends through the relay to B; B's socket
// dies in the middle of a chunk. The relay has already answered A's chunk
// 200 (RFC 4976 §6.4.1: "received"), so A can only learn of the loss from
// the failure REPORT the relay must send; A's Delivery must fail within
// the transaction timeout, never stay pending.
func TestFaultRelayedPeerKilled(t *testing.T) {
	const tt = time.Second
	s := startRelay(t, relay.Config{TransactionTimeout: tt})
	b := authClient(t, s, "bob")

	ctx := testCtx(t)
	a, err := msrp.NewEndpoint(msrp.Config{TransactionTimeout: tt})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rc, err := a.Dial(ctx, s.URI())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Release()
	self := msrp.URI{Host: "127.0.0.1", Port: 9, SessionID: msrp.NewSessionID(), Transport: "tcp"}
	ra, err := msrp.Authenticate(ctx, rc, s.URI(), msrp.Credentials{Username: "alice", Password: "alice-pw"},
		msrp.AuthOptions{From: self, RequireResponseAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	off, err := a.OfferWith(ctx, session.Options{}, msrp.SessionOptions{Relay: &msrp.Relay{Conn: rc, UsePath: ra.UsePath}})
	if err != nil {
		t.Fatal(err)
	}
	// B's answer, by hand: its a=path is its Use-Path reversed plus itself.
	answer := &messagesdp.Media{Proto: messagesdp.ProtoMSRP, Port: 9, Address: "127.0.0.1", Formats: []string{"*"},
		Path: []string{b.usePath.String(), b.p.self.String()}, AcceptTypes: []string{"*"}, Setup: messagesdp.SetupPassive}
	sa, err := off.OpenOffer(ctx, answer)
	if err != nil {
		t.Fatalf("OpenOffer through the relay: %v", err)
	}
	defer sa.Close()
	size := int64(64 << 20)
	d, err := sa.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream",
		BodyReader: io.LimitReader(zeros{}, size), Size: size})
	if err != nil {
		t.Fatal(err)
	}
	for sent, _ := d.Progress(); sent < 1<<20; sent, _ = d.Progress() {
		time.Sleep(time.Millisecond)
	}
	b.p.nc.Close() // B vanishes mid-chunk
	r := waitResult(t, d, 10*tt)
	if r.Outcome == session.Delivered || r.Outcome == session.Sent {
		t.Fatalf("want a failure, got %+v", r)
	}
	t.Logf("outcome %v, status %d, err %v", r.Outcome, r.Status, r.Err)
}
