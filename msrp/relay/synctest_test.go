package relay

import (
	"bufio"
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-im/parley/msrp"
)

// pipeClient is a client on one end of a net.Pipe served by the relay,
// for tests inside a synctest bubble.
type pipeClient struct {
	nc   net.Conn
	rt   *connRT
	self msrp.URI
	in   chan *msrp.Frame
}

func newPipeClient(t *testing.T, s *Server, user string, port int) (*pipeClient, msrp.URI) {
	cl, sv := net.Pipe()
	s.ServeConn(sv)
	c := &pipeClient{nc: cl, rt: &connRT{r: msrp.NewReader(cl, msrp.Limits{}), w: bufio.NewWriter(cl)},
		self: msrp.URI{Host: "127.0.0.1", Port: port, SessionID: msrp.NewSessionID(), Transport: "tcp"}, in: make(chan *msrp.Frame, 16)}
	ra, err := msrp.Authenticate(context.Background(), c.rt, s.URI(), msrp.Credentials{Username: user, Password: user + "-pw"}, msrp.AuthOptions{From: c.self})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.in)
		for {
			f, err := c.rt.r.ReadFrame()
			if err != nil {
				return
			}
			for {
				if _, err := c.rt.r.NextBodySegment(); err != nil {
					break
				}
			}
			c.in <- f
		}
	}()
	return c, ra.UsePath[0]
}

func (c *pipeClient) write(f *msrp.Frame, body []byte) {
	f.TID, f.Flag = msrp.NewTransactionID(), msrp.FlagEnd
	c.rt.w.Write(msrp.AppendFrame(nil, f, body))
	c.rt.w.Flush()
}

// TestTimeout408Synctest: the 408 REPORT comes exactly TransactionTimeout
// after the SEND's last byte went to the silent next hop (RFC 4976
// §6.4.1), on the fake clock.
func TestTimeout408Synctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		auth := NewMemoryAuthenticator()
		auth.Add("alice", "alice-pw")
		auth.Add("bob", "bob-pw")
		s, err := New(Config{Host: "127.0.0.1", Port: 2855, Authenticator: auth, AllowInsecure: true, MaxConnsPerAddr: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		a, ra := newPipeClient(t, s, "alice", 1001)
		b, rb := newPipeClient(t, s, "bob", 1002)
		defer a.nc.Close()
		defer b.nc.Close()
		a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "silent408", "x"), []byte("x"))
		if f := <-b.in; f.MessageID != "silent408" {
			t.Fatalf("%+v", f)
		}
		sent := time.Now()
		if f := <-a.in; f.StatusCode != 200 {
			t.Fatalf("%+v", f)
		}
		time.Sleep(DefaultTransactionTimeout - time.Millisecond)
		synctest.Wait()
		select {
		case f := <-a.in:
			t.Fatalf("early: %+v", f)
		default:
		}
		f := <-a.in
		if f.Method != msrp.MethodREPORT || f.Status.Code != 408 || time.Since(sent) != DefaultTransactionTimeout {
			t.Fatalf("%+v after %v", f, time.Since(sent))
		}
	})
}

// TestProbationSynctest: a connection that sends nothing is closed at
// exactly ProbationTimeout (RFC 4976 §6.1: 30 s).
func TestProbationSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{Host: "127.0.0.1", Port: 2855, Authenticator: NewMemoryAuthenticator()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		cl, sv := net.Pipe()
		defer cl.Close()
		s.ServeConn(sv)
		start := time.Now()
		var buf [1]byte
		if _, err := cl.Read(buf[:]); err == nil {
			t.Fatal("read data")
		}
		if el := time.Since(start); el != DefaultProbationTimeout {
			t.Fatalf("closed after %v", el)
		}
	})
}
