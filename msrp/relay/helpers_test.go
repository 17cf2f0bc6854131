package relay

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// startRelay serves a relay on a loopback port with users alice and bob.
func startRelay(t testing.TB, cfg Config) (*Server, *MemoryAuthenticator) {
	t.Helper()
	auth := NewMemoryAuthenticator()
	auth.Add("alice", "alice-pw")
	auth.Add("bob", "bob-pw")
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Authenticator == nil {
		cfg.Authenticator = auth
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	for s.URI().Port == 0 {
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, auth
}

// rawClient speaks MSRP over a plain socket with Parley's codec; a
// goroutine reads frames into a channel so that reads can time out
// without killing the Reader.
type rawClient struct {
	t    testing.TB
	nc   net.Conn
	bw   *bufio.Writer
	self msrp.URI
	in   chan rawFrame
	done chan struct{}
}

type rawFrame struct {
	f    *msrp.Frame
	body []byte
	err  error
}

func dialRaw(t testing.TB, s *Server) *rawClient {
	t.Helper()
	u := s.URI()
	nc, err := net.Dial("tcp", u.HostPort())
	if err != nil {
		t.Fatal(err)
	}
	return newRawClient(t, nc)
}

func newRawClient(t testing.TB, nc net.Conn) *rawClient {
	la := nc.LocalAddr().(*net.TCPAddr)
	_, secure := nc.(*tls.Conn)
	c := &rawClient{t: t, nc: nc, bw: bufio.NewWriter(nc), in: make(chan rawFrame, 64), done: make(chan struct{}),
		self: msrp.URI{Secure: secure, Host: "127.0.0.1", Port: la.Port, SessionID: msrp.NewSessionID(), Transport: "tcp"}}
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		r := msrp.NewReader(nc, msrp.Limits{})
		for {
			f, err := r.ReadFrame()
			var body []byte
			if err == nil {
				body, err = io.ReadAll(r)
			}
			select {
			case c.in <- rawFrame{f, body, err}:
			case <-c.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(c.done); nc.Close(); <-exited })
	return c
}

func (c *rawClient) write(f *msrp.Frame, body []byte) {
	c.t.Helper()
	if f.TID == "" {
		f.TID = msrp.NewTransactionID()
	}
	if f.Flag == 0 {
		f.Flag = msrp.FlagEnd
	}
	if _, err := c.bw.Write(msrp.AppendFrame(nil, f, body)); err != nil {
		c.t.Fatal(err)
	}
	if err := c.bw.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next frame and its body, failing after a timeout.
func (c *rawClient) read() (*msrp.Frame, []byte) {
	c.t.Helper()
	f, body, err := c.tryRead(10 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f, body
}

var errReadTimeout = errors.New("read timeout")

func (c *rawClient) tryRead(d time.Duration) (*msrp.Frame, []byte, error) {
	select {
	case r, ok := <-c.in:
		if !ok {
			return nil, nil, io.EOF
		}
		if r.err != nil {
			// Keep reporting the end.
			go func() {
				select {
				case c.in <- r:
				case <-c.done:
				}
			}()
		}
		return r.f, r.body, r.err
	case <-time.After(d):
		return nil, nil, errReadTimeout
	}
}

// RoundTrip lets msrp.Authenticate run over the raw client.
func (c *rawClient) RoundTrip(ctx context.Context, req *msrp.Frame, body []byte) (*msrp.Frame, error) {
	c.write(req, body)
	for {
		f, _, err := c.tryRead(10 * time.Second)
		if err != nil {
			return nil, err
		}
		if !f.IsRequest() && f.TID == req.TID {
			return f, nil
		}
	}
}

// auth obtains a Use-Path URI for user.
func (c *rawClient) auth(s *Server, user string) msrp.URI {
	c.t.Helper()
	ra, err := msrp.Authenticate(context.Background(), c, s.URI(), msrp.Credentials{Username: user, Password: user + "-pw"},
		msrp.AuthOptions{From: c.self, RequireResponseAuth: true})
	if err != nil {
		c.t.Fatalf("Authenticate: %v", err)
	}
	if !ra.ResponseAuthVerified {
		c.t.Fatal("rspauth not verified")
	}
	return ra.UsePath[len(ra.UsePath)-1]
}

func header(f *msrp.Frame, name string) string {
	v, _ := f.Header(name)
	return v
}

func send(to []msrp.URI, from msrp.URI, msgID, body string) *msrp.Frame {
	return &msrp.Frame{Method: msrp.MethodSEND, ToPath: to, FromPath: []msrp.URI{from}, MessageID: msgID,
		ByteRange: msrp.ByteRange{Start: 1, End: int64(len(body)), Total: int64(len(body))}, HasByteRange: true,
		ContentType: "text/plain"}
}

func authReq(to msrp.URI, from msrp.URI, hdrs ...msrp.Header) *msrp.Frame {
	return &msrp.Frame{Method: msrp.MethodAUTH, ToPath: []msrp.URI{to}, FromPath: []msrp.URI{from}, Headers: hdrs}
}

func isClosed(t testing.TB, c *rawClient) bool {
	t.Helper()
	_, _, err := c.tryRead(10 * time.Second)
	return err != nil && err != errReadTimeout
}
