package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/msrp"
)

// wconn is the lean raw-socket MSRP connection of the hot path: frames are
// appended to a buffer under a mutex and one flusher goroutine writes
// whatever has accumulated in a single write, so a busy connection batches
// many frames per system call without any timer. Reading is done by one
// goroutine (readLoop) with package msrp's Reader.
type wconn struct {
	nc net.Conn
	r  *msrp.Reader

	mu    sync.Mutex
	buf   []byte // frames waiting for the flusher
	spare []byte // the buffer the flusher last wrote, reused
	err   error  // first write error, sticky
	kick  chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	local msrp.URI    // a URI naming this connection's local address
	quiet atomic.Bool // closed on purpose: read errors are expected
}

func newWconn(nc net.Conn) *wconn {
	c := &wconn{nc: nc, r: msrp.NewReader(nc, msrp.Limits{}), kick: make(chan struct{}, 1), stop: make(chan struct{})}
	if ta, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		_, secure := nc.(*tls.Conn)
		c.local = msrp.URI{Secure: secure, Host: ta.IP.String(), Port: ta.Port, Transport: "tcp"}
	}
	return c
}

// start launches the flusher. Before it runs, roundTrip may be used.
func (c *wconn) start() {
	c.wg.Add(1)
	go c.flushLoop()
}

// send appends what fn appends and wakes the flusher.
func (c *wconn) send(fn func([]byte) []byte) error {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.buf = fn(c.buf)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

func (c *wconn) flushLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.kick:
		case <-c.stop:
			return
		}
		c.mu.Lock()
		if len(c.buf) == 0 {
			c.mu.Unlock()
			continue
		}
		// Swap: appends go on in the spare buffer while b is written.
		// buf and spare are always distinct arrays (or nil).
		b := c.buf
		c.buf, c.spare = c.spare[:0], nil
		c.mu.Unlock()
		_, err := c.nc.Write(b)
		c.mu.Lock()
		if cap(b) <= 4<<20 {
			c.spare = b[:0]
		} else {
			c.spare = nil // do not keep a burst's buffer for ever
		}
		if err != nil && c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// close closes the socket and waits for the flusher.
func (c *wconn) close() {
	c.once.Do(func() {
		close(c.stop)
		c.nc.Close()
	})
	c.wg.Wait()
}

// roundTrip implements msrp.RoundTripper for the setup phase (AUTH), when
// no other goroutine reads or writes the connection.
type roundTripper struct{ c *wconn }

func (rt roundTripper) RoundTrip(ctx context.Context, req *msrp.Frame, body []byte) (*msrp.Frame, error) {
	if req.TID == "" {
		req.TID = msrp.NewTransactionID()
	}
	if err := req.Check(); err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		rt.c.nc.SetDeadline(dl)
		defer rt.c.nc.SetDeadline(time.Time{})
	}
	stopWatch := context.AfterFunc(ctx, func() { rt.c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stopWatch()
	if _, err := rt.c.nc.Write(msrp.AppendFrame(nil, req, body)); err != nil {
		return nil, fmt.Errorf("write %s: %w", req.Method, err)
	}
	for {
		f, err := rt.c.r.ReadFrame()
		if err != nil {
			var se *msrp.StatusError
			if errors.As(err, &se) {
				continue
			}
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, fmt.Errorf("read response to %s: %w", req.Method, err)
		}
		if f.HasBody() {
			if _, err := io.Copy(io.Discard, rt.c.r); err != nil {
				return nil, err
			}
		}
		if !f.IsRequest() && f.TID == req.TID {
			return f.Clone(), nil
		}
	}
}

// idGen makes transaction and message identifiers cheaply: a random
// prefix per connection and a counter (RFC 4975 §7.1 wants 64 random bits
// in a tid; that matters against guessing attackers, not for a load
// generator on loopback, and the random prefix keeps ids unique across
// connections).
type idGen struct {
	prefix string
	n      uint64
}

func newIDGen() idGen { return idGen{prefix: msrp.NewTransactionID()[:8]} }

// appendNext appends prefix + base-36 counter: at most 8+13 characters.
func (g *idGen) appendNext(b []byte) []byte {
	g.n++
	b = append(b, g.prefix...)
	return strconv.AppendUint(b, g.n, 36)
}

// closeQuiet closes c on purpose: its reader's error is not counted.
func (c *wconn) closeQuiet() {
	c.quiet.Store(true)
	c.close()
}
