package cpimtransport

import (
	"bytes"
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\n got %q\nwant %q", name, got, want)
	}
}

// sdpText renders media as a whole SDP body with a fixed o= line.
func sdpText(t *testing.T, m *messagesdp.Media) []byte {
	t.Helper()
	d, err := messagesdp.Build(m)
	if err != nil {
		t.Fatal(err)
	}
	d.Origin.SessionID, d.Origin.SessionVersion = 2890844526, 2890844526
	return d.Marshal()
}

func parseSDP(t *testing.T, b []byte) *messagesdp.Media {
	t.Helper()
	d, err := messagesdp.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return d.Messages()[0].Media
}

// TestExample43 reproduces the example of draft §4.3: A offers
// a=direction:both at alice.example.com:7394, B answers active and
// connects to alice.example.com:7394; then messages flow both ways on that
// connection with the two a=uri values as To and From. The network is
// in memory so that the draft's host names and ports appear unchanged.
func TestExample43(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		recA, recB := pn.record("alice.example.com"), pn.record("bob.example.com")
		a, err := NewEndpoint(Config{Host: "alice.example.com", Dial: pn.dialer("alice.example.com"),
			NewURI: func() string { return "im:2s93i9@alice.example.com" }})
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewEndpoint(Config{Host: "bob.example.com", Dial: pn.dialer("bob.example.com"),
			NewURI: func() string { return "im:849ro3@bob.example.com" }})
		if err != nil {
			t.Fatal(err)
		}
		go a.Serve(pn.listen("alice.example.com:7394"))
		go b.Serve(pn.listen("bob.example.com:8493"))
		synctest.Wait()

		ctx := context.Background()
		off, err := a.Offer(ctx, session.Options{})
		if err != nil {
			t.Fatal(err)
		}
		offerSDP := sdpText(t, off.Media())
		golden(t, "example43-offer.sdp", offerSDP)

		ans, err := b.Answer(ctx, parseSDP(t, offerSDP), session.Options{})
		if err != nil {
			t.Fatal(err)
		}
		answerSDP := sdpText(t, ans.Media())
		golden(t, "example43-answer.sdp", answerSDP)

		var sb session.Session
		done := make(chan error, 1)
		go func() {
			var err error
			sb, err = ans.Open(ctx)
			done <- err
		}()
		sa, err := off.Open(ctx, parseSDP(t, answerSDP))
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// B connected to A (the c-line host and m-line port of the offer).
		if got := pn.listeners["alice.example.com:7394"]; got == nil {
			t.Fatal("A's listener gone")
		}
		if _, err := sb.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("Hello, Alice.")}); err != nil {
			t.Fatal(err)
		}
		m, err := sa.Receive(ctx)
		if err != nil || string(m.Body) != "Hello, Alice." {
			t.Fatalf("A received %v, %v", m, err)
		}
		if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("Hi Bob!\r\n")}); err != nil {
			t.Fatal(err)
		}
		if _, err := sb.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("How are you?")}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Hi Bob!\r\n"} {
			if m, err := sb.Receive(ctx); err != nil || string(m.Body) != want {
				t.Fatalf("B received %v, %v", m, err)
			}
		}
		if m, err := sa.Receive(ctx); err != nil || string(m.Body) != "How are you?" || m.ID != "2" {
			t.Fatalf("A received %v, %v", m, err)
		}
		sa.Close()
		sb.Close()
		a.Close()
		b.Close()
		golden(t, "example43-b-to-a.cpim", recB.bytes())
		golden(t, "example43-a-to-b.cpim", recA.bytes())
	})
}

// TestReceiptTimeout checks the §6.3 receipt timer with a fake clock: a
// peer that asked for nothing but receives a message from a side that
// wants receipts, and never reports, times the delivery out after
// ReceiptTimeout; a report that arrives in time delivers it.
func TestReceiptTimeout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reportAt time.Duration // 0: never
		status   string
		want     session.Outcome
	}{
		{"no report", 0, "", session.TimedOut},
		{"report in time", 29 * time.Second, "2.0.0", session.Delivered},
		{"failure report", time.Second, "5.6.1", session.Failed},
		{"report too late", 31 * time.Second, "2.0.0", session.TimedOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pn := newPipeNet()
				a, err := NewEndpoint(Config{Host: "10.0.0.1", Dial: pn.dialer("10.0.0.1")})
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				go a.Serve(pn.listen("10.0.0.1:7000"))
				synctest.Wait()
				ctx := context.Background()
				off, err := a.Offer(ctx, session.Options{WantReceipts: true})
				if err != nil {
					t.Fatal(err)
				}
				// The peer is hand-written: it answers active and connects.
				peerURI := "im:peer@10.0.0.2"
				nc, err := pn.dialer("10.0.0.2")(ctx, "tcp", "10.0.0.1:7000")
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				ansMedia := &messagesdp.Media{Proto: "cpim/tcp", Port: 9, Address: "10.0.0.2",
					Formats: []string{"text/plain"}, Direction: "active", URI: peerURI}
				opened := make(chan session.Session, 1)
				go func() {
					s, err := off.Open(ctx, ansMedia)
					if err != nil {
						t.Error(err)
					}
					opened <- s
				}()
				sa := <-opened
				if sa == nil {
					return
				}
				// Peer reads whatever A writes.
				r := NewReader(nc, nil)
				got := make(chan []byte, 4)
				go func() {
					for {
						b, err := r.ReadMessage(nil)
						if err != nil {
							close(got)
							return
						}
						got <- b
					}
				}()
				d, err := sa.Send(ctx, &session.Outgoing{Body: []byte("ping")})
				if err != nil {
					t.Fatal(err)
				}
				// A is passive and sends first: the message goes out once the
				// peer's connection, the only candidate, is AddressBindDelay
				// old; the receipt timer starts when it is written.
				if msg := <-got; !bytes.Contains(msg, []byte("MsgID: 1\r\n")) {
					t.Fatalf("peer got %q", msg)
				}
				start := time.Now()
				if tc.reportAt > 0 {
					time.Sleep(tc.reportAt)
					rep := AppendReport(nil, Report{OriginalMsgID: 1, Status: tc.status})
					msg := "From: <" + peerURI + ">\r\nTo: <" + off.Media().URI + ">\r\nMsgID: 1\r\n\r\nContent-Type: message/im-delivery-status\r\n\r\n" + string(rep)
					if _, err := nc.Write(AppendFrame(nil, []byte(msg))); err != nil {
						t.Fatal(err)
					}
				}
				res, err := d.Wait(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if res.Outcome != tc.want {
					t.Errorf("outcome %v after %v, want %v", res.Outcome, time.Since(start), tc.want)
				}
				if tc.reportAt == 0 {
					if el := time.Since(start); el != DefaultReceiptTimeout {
						t.Errorf("timed out after %v, want %v", el, DefaultReceiptTimeout)
					}
				}
				sa.Close()
			})
		})
	}
}

// recListener records what accepted connections write.
type recListener struct {
	net.Listener
	rec *recorder
}

func (l recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recConn{Conn: c, rec: l.rec}, nil
}

type recConn struct {
	net.Conn
	rec *recorder
}

func (c *recConn) Write(b []byte) (int, error) {
	c.rec.write(b)
	return c.Conn.Write(b)
}

// TestExample43Loopback is TestExample43 over real TCP on 127.0.0.1: the
// same offer/answer and messages, with the ports the kernel chose written
// as {A_PORT} and {B_PORT} in the golden files.
func TestExample43Loopback(t *testing.T) {
	recA, recB := &recorder{}, &recorder{}
	newEP := func(uri string, rec *recorder) (*Endpoint, int) {
		var d net.Dialer
		e, err := NewEndpoint(Config{NewURI: func() string { return uri },
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &recConn{Conn: c, rec: rec}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go e.Serve(recListener{l, rec})
		t.Cleanup(func() { e.Close() })
		return e, l.Addr().(*net.TCPAddr).Port
	}
	a, portA := newEP("im:2s93i9@127.0.0.1", recA)
	b, portB := newEP("im:849ro3@127.0.0.1", recB)
	// Serve registers the listener asynchronously; wait until the port is
	// known before offering.
	for _, e := range []*Endpoint{a, b} {
		for deadline := time.Now().Add(5 * time.Second); ; {
			if _, p, _ := e.hostPort(); p != 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("listener not registered")
			}
			time.Sleep(time.Millisecond)
		}
	}
	ports := strings.NewReplacer("m=message "+strconv.Itoa(portA)+" ", "m=message {A_PORT} ",
		"m=message "+strconv.Itoa(portB)+" ", "m=message {B_PORT} ")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	off, err := a.Offer(ctx, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	offerSDP := sdpText(t, off.Media())
	golden(t, "example43-loopback-offer.sdp", []byte(ports.Replace(string(offerSDP))))
	ans, err := b.Answer(ctx, parseSDP(t, offerSDP), session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	answerSDP := sdpText(t, ans.Media())
	golden(t, "example43-loopback-answer.sdp", []byte(ports.Replace(string(answerSDP))))
	sb, err := ans.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := off.Open(ctx, parseSDP(t, answerSDP))
	if err != nil {
		t.Fatal(err)
	}
	send(t, sb, "Hello, Alice.")
	if m := recv(t, sa); string(m.Body) != "Hello, Alice." {
		t.Fatalf("A got %q", m.Body)
	}
	send(t, sa, "Hi Bob!\r\n")
	if m := recv(t, sb); string(m.Body) != "Hi Bob!\r\n" {
		t.Fatalf("B got %q", m.Body)
	}
	sa.Close()
	sb.Close()
	golden(t, "example43-loopback-b-to-a.cpim", recB.bytes())
	golden(t, "example43-loopback-a-to-b.cpim", recA.bytes())
}
