package cpimtransport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// pipeNet is an in-memory network of net.Pipe connections with named
// listeners, for tests under testing/synctest and for exact golden wire
// files (the c-line host names of the draft's example resolve here).
type pipeNet struct {
	mu        sync.Mutex
	listeners map[string]*pipeListener
	nextPort  int
	// recorders, by host, receive everything that host writes.
	recorders map[string]*recorder
}

// record starts recording what host writes and returns the recorder.
func (n *pipeNet) record(host string) *recorder {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := &recorder{}
	n.recorders[host] = r
	return r
}

func hostOf(a net.Addr) string {
	h, _, _ := net.SplitHostPort(a.String())
	return h
}

func newPipeNet() *pipeNet {
	return &pipeNet{listeners: map[string]*pipeListener{}, nextPort: 50000, recorders: map[string]*recorder{}}
}

type pipeAddr string

func (a pipeAddr) Network() string { return "tcp" }
func (a pipeAddr) String() string  { return string(a) }

type pipeListener struct {
	n      *pipeNet
	addr   pipeAddr
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func (n *pipeNet) listen(addr string) *pipeListener {
	l := &pipeListener{n: n, addr: pipeAddr(addr), ch: make(chan net.Conn), done: make(chan struct{})}
	n.mu.Lock()
	n.listeners[addr] = l
	n.mu.Unlock()
	return l
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.closed.Do(func() {
		close(l.done)
		l.n.mu.Lock()
		delete(l.n.listeners, string(l.addr))
		l.n.mu.Unlock()
	})
	return nil
}

func (l *pipeListener) Addr() net.Addr { return l.addr }

// dialer returns a Dial function for connections that come from host.
func (n *pipeNet) dialer(host string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.mu.Lock()
		l := n.listeners[addr]
		n.nextPort++
		local := pipeAddr(fmt.Sprintf("%s:%d", host, n.nextPort))
		var client, server *addrConn
		if l != nil {
			c1, c2 := net.Pipe()
			client = &addrConn{Conn: c1, local: local, remote: l.addr, rec: n.recorders[host]}
			server = &addrConn{Conn: c2, local: l.addr, remote: local, rec: n.recorders[hostOf(l.addr)]}
		}
		n.mu.Unlock()
		if l == nil {
			return nil, fmt.Errorf("dial %s: connection refused", addr)
		}
		select {
		case l.ch <- server:
			return client, nil
		case <-l.done:
			return nil, errors.New("connection refused")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

type addrConn struct {
	net.Conn
	local, remote net.Addr
	rec           *recorder
}

func (c *addrConn) LocalAddr() net.Addr  { return c.local }
func (c *addrConn) RemoteAddr() net.Addr { return c.remote }
func (c *addrConn) Write(b []byte) (int, error) {
	if c.rec != nil {
		c.rec.write(b)
	}
	return c.Conn.Write(b)
}

// recorder keeps what one side wrote.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) write(b []byte) {
	r.mu.Lock()
	r.buf.Write(b)
	r.mu.Unlock()
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}
