package relay

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parley-im/parley/msrp"
)

// conn is one TCP or TLS connection, accepted or dialed. Its goroutine
// reads frames and handles them; any goroutine may write to it under wmu.
//
// Writes are coalesced: a reader appends frames to the destination's
// wbuf and flushes every destination it dirtied just before it would
// block reading its own socket (source.Read), so a burst of frames read
// in one syscall leaves in one syscall per destination. Back-pressure is
// the socket itself: a writer blocks in flush while its peer does not
// read, and a reader streaming a body holds the destination's lock, so a
// slow receiver stalls its senders instead of growing a queue.
type conn struct {
	s         *Server
	nc        net.Conn
	addr      netip.Addr
	outKey    string // "scheme://host:port" for dialed connections
	secure    bool
	peerID    string   // first dnsName of a verified TLS client certificate (a relay)
	peerNames []string // all its dnsNames

	// Owned by the reader goroutine.
	rd           *msrp.Reader
	fb           *frameBuf // the frame rd parses into; held with rd
	src          source
	proven       bool // a request succeeded (RFC 4976 §6.1 probation over)
	failures     int
	authFailures int
	dirty        []*conn
	holding      *conn // destination whose wmu is held while a body streams
	scratch      []msrp.URI
	selfPath     [1]msrp.URI // To-Path of the 200 to a SEND (forward), so it allocates none
	deadline     time.Time   // current read deadline
	armedReads   uint64
	// Forward latency: when the current frame's head was parsed
	// (monoNow); fl is allocated on the first forwarded request (an idle
	// connection does not carry it).
	headAt int64
	fl     *fwdLat
	obs    *observation // Config.OnMessage, allocated on first use
	hop    hopCache     // last outbound next hop
	// releaseSoon: give back the read and write buffers as soon as the
	// Reader is between frames with nothing buffered (set after a
	// successful AUTH: a client usually goes quiet then).
	releaseSoon bool
	// raw is the socket of a plain TCP connection (nil for TLS and
	// others): sockRead reads it directly, so that output owed to other
	// connections is flushed only before the reader would block rather
	// than before every read. deferred counts the reads since the last
	// flush, bounded by maxDeferredReads.
	raw      syscall.RawConn
	rawRd    *rawRead // allocated on the first sockRead
	deferred int

	// Write side.
	wmu       sync.Mutex
	wbuf      []byte
	werr      error
	wdeadline time.Time
	iov       *iovec
	tidPrefix string
	tidN      uint64

	// Transactions forwarded on this connection, awaiting its response.
	tmu     sync.Mutex
	pending pendingTxns // by tid number
	fifo    []*txn      // timed transactions in deadline order
	head    int
	timer   *time.Timer
	tclosed bool

	grants    []*grant // the live Use-Path URIs it obtained; guarded by s.mu
	lastReads uint64

	reads      atomic.Uint64 // socket reads and writes: activity
	stats      connStats
	state      atomic.Int32
	hasReader  atomic.Bool
	releaseReq atomic.Bool
	closeOnce  sync.Once
	closedCh   chan struct{}
}

const (
	stateBusy int32 = iota
	stateBetween
)

func newConn(s *Server, nc net.Conn, addr netip.Addr, outKey string) *conn {
	c := &conn{s: s, nc: nc, addr: addr, outKey: outKey, closedCh: make(chan struct{})}
	c.src.c = c
	switch t := nc.(type) {
	case *tls.Conn:
		c.secure = true
	case *net.TCPConn:
		if rawReads {
			c.raw, _ = t.SyscallConn()
		}
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	p := make([]byte, len(b))
	for i, x := range b {
		p[i] = alnum[int(x)%len(alnum)]
	}
	c.tidPrefix = string(p)
	return c
}

func (c *conn) isClosed() bool {
	select {
	case <-c.closedCh:
		return true
	default:
		return false
	}
}

// close marks c closed at once and closes its socket on a goroutine of
// its own. net.Conn.Close waits for every read and write in progress on
// the socket to return, and a reader flushes what it owes other
// connections inside its raw read (sockRead): closing the reader's own
// connection from there would wait for itself forever, and closing it
// from elsewhere (the sweeper, Server.Close, a failed write) would wait
// for as long as that flush's write to another, stalled peer takes (up
// to WriteTimeout), holding up the closer.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.closedCh)
		go c.nc.Close()
	})
}

// shutdownIdle closes c if it is between frames.
func (c *conn) shutdownIdle() {
	if c.state.Load() == stateBetween {
		c.close()
	}
}

// quiet reports, for the sweeper (under s.mu), whether c has read nothing
// since the previous sweep and waits between frames with a read buffer.
func (c *conn) quiet() bool {
	r := c.reads.Load()
	q := r == c.lastReads && c.hasReader.Load() && c.state.Load() == stateBetween
	c.lastReads = r
	return q
}

// requestRelease interrupts the blocked read of a quiet connection so that
// its reader gives back the read buffer (see source.Read).
func (c *conn) requestRelease() {
	// Poke every time: a deadline the reader re-armed meanwhile may have
	// overridden the previous poke.
	c.releaseReq.Store(true)
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
}

// readBufFirst is the first read buffer of a connection (see
// msrp.NewReaderSize).
const readBufFirst = 4 << 10

var errIdle = errors.New("relay: idle, read buffer released")

// source is the io.Reader under the connection's msrp.Reader. Every call
// is a point where the reader may block, so dirty destinations are
// flushed first. It also turns socket deadlines into the probation and
// idle rules, and ends the Reader when the connection has gone quiet.
type source struct {
	c     *conn
	pend  [1]byte
	npend int
}

func (s *source) Read(p []byte) (int, error) {
	c := s.c
	if c.raw == nil || c.deferred >= maxDeferredReads || len(p) == 0 || s.npend > 0 {
		// On plain TCP sockRead flushes only when the read would block,
		// so that while input keeps coming one write carries several
		// frames' output (under load the 200s and forwarded frames of
		// whole read buffers) instead of one write per read. Nothing
		// waits longer than maxDeferredReads reads, and a destination
		// buffer that reaches flushAt is written at once anyway.
		c.deferred = 0
		c.flushDirty()
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.npend > 0 {
		p[0] = s.pend[0]
		s.npend = 0
		return 1, nil
	}
	idle := c.rd.Idle()
	if c.releaseSoon && idle && c.state.Load() == stateBetween {
		c.releaseSoon = false
		c.flushDirty()
		if c.wmu.TryLock() {
			c.releaseBuf()
			c.wmu.Unlock()
		}
		return 0, errIdle
	}
	return c.readRaw(p, idle)
}

// maxDeferredReads bounds the reads a reader does before it flushes the
// output it owes (see source.Read).
const maxDeferredReads = 4

// sockRead is one read from the socket. On plain TCP it reads the raw
// descriptor and, when nothing is there, flushes what this reader owes
// other connections before it waits for input: one read(2) per read
// when input is waiting, and no more system calls than net.Conn.Read
// (read, EAGAIN, wait, read) when it is not.
func (c *conn) sockRead(p []byte) (int, error) {
	if c.raw == nil {
		return c.nc.Read(p)
	}
	t := c.rawRd
	if t == nil {
		t = &rawRead{c: c}
		t.fn = t.read
		c.rawRd = t
	}
	t.p, t.flushed = p, false
	rerr := c.raw.Read(t.fn)
	n, err, flushed := t.n, t.err, t.flushed
	t.p, t.n, t.err = nil, 0, nil
	if flushed {
		c.deferred = 0
	} else {
		c.deferred++
	}
	switch {
	case rerr != nil:
		return 0, rerr // a deadline (net.Error Timeout) or a closed socket
	case err != nil:
		return 0, os.NewSyscallError("read", err)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// rawRead carries sockRead's arguments and results through
// syscall.RawConn.Read, whose callback would otherwise be a closure
// allocated on every call.
type rawRead struct {
	c       *conn
	p       []byte
	n       int
	err     error
	flushed bool
	fn      func(fd uintptr) bool // t.read, bound once
}

func (t *rawRead) read(fd uintptr) bool {
	n, wouldBlock, err := readFD(fd, t.p)
	if wouldBlock {
		if !t.flushed {
			t.flushed = true
			t.c.flushDirty()
		}
		return false // wait for input, then read again
	}
	t.n, t.err = n, err
	return true
}

// readRaw reads from the socket. releasable says the Reader is between
// frames with an empty buffer, so a release request may end it.
func (c *conn) readRaw(p []byte, releasable bool) (int, error) {
	for {
		n, err := c.sockRead(p)
		if n > 0 {
			c.reads.Add(1)
			c.stats.bytesIn.Add(uint64(n))
			return n, nil
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return 0, err
		}
		if c.releaseReq.Swap(false) {
			_ = c.nc.SetReadDeadline(c.deadline)
			if releasable && c.state.Load() == stateBetween {
				return 0, errIdle
			}
			continue
		}
		// The probation deadline is final; the idle deadline moves with
		// activity (checked lazily here rather than re-armed per read).
		if c.proven {
			if r := c.reads.Load(); r != c.armedReads {
				c.armedReads = r
				c.setDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
				continue
			}
		}
		return 0, err
	}
}

func (c *conn) setDeadline(t time.Time) {
	c.deadline = t
	_ = c.nc.SetReadDeadline(t)
}

// succeeded ends the probation (RFC 4976 §6.1).
func (c *conn) succeeded() {
	if !c.proven {
		c.proven = true
		c.failures = 0
		c.armedReads = c.reads.Load()
		c.setDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
	}
}

// serve is the reader goroutine.
func (c *conn) serve() {
	if t, ok := c.nc.(*tls.Conn); ok {
		_ = c.nc.SetDeadline(time.Now().Add(c.s.cfg.ProbationTimeout))
		if err := t.Handshake(); err != nil {
			c.end()
			return
		}
		_ = c.nc.SetWriteDeadline(time.Time{})
		if st := t.ConnectionState(); c.verifyPeer(&st) {
			leaf := st.PeerCertificates[0]
			names := append([]string(nil), leaf.DNSNames...)
			for _, ip := range leaf.IPAddresses {
				names = append(names, ip.String())
			}
			if len(names) > 0 {
				c.peerID, c.peerNames = names[0], names
			}
		}
	}
	if c.proven {
		c.armedReads = c.reads.Load()
		c.setDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
	} else {
		c.setDeadline(time.Now().Add(c.s.cfg.ProbationTimeout))
	}
	c.run()
}

// verifyPeer reports whether the other end of a TLS connection presented
// a certificate that verifies: on a dialed connection the server's, as
// verified by the handshake (ClientTLS); on an accepted one the client's,
// against Config.TLS.ClientCAs (the system roots when nil) for client
// authentication. The listener requests client certificates without
// requiring them to verify (see Serve), so that endpoints with
// self-signed certificates connect; only a client whose certificate
// verifies is a relay peer (RFC 4976 §6.3, mutual TLS between relays).
func (c *conn) verifyPeer(st *tls.ConnectionState) bool {
	if len(st.VerifiedChains) > 0 {
		return true
	}
	if c.outKey != "" || len(st.PeerCertificates) == 0 || c.s.cfg.TLS == nil {
		return false
	}
	tc := c.s.cfg.TLS
	opts := x509.VerifyOptions{
		Roots:         tc.ClientCAs,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if tc.Time != nil {
		opts.CurrentTime = tc.Time()
	}
	for _, ic := range st.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	_, err := st.PeerCertificates[0].Verify(opts)
	return err == nil
}

// run is the read loop; it ends the connection when the loop ends, unless
// the loop handed the connection over to a fresh goroutine.
func (c *conn) run() {
	handedOver := false
	defer func() {
		if !handedOver {
			c.end()
		}
	}()
	handedOver = c.loop()
}

func (c *conn) end() {
	c.finish()
	c.s.wg.Done()
}

// loop reads and handles frames. It returns true when it has started a
// new goroutine to go on (see errIdle), false when the connection must
// end.
func (c *conn) loop() bool {
	for {
		if c.rd == nil {
			// Wait for input without a read buffer (an idle connection
			// costs its goroutine and a few hundred bytes).
			c.state.Store(stateBetween)
			if _, err := c.readRaw(c.src.pend[:], false); err != nil {
				return false
			}
			c.src.npend = 1
			// A small buffer: an AUTH or a short SEND fits, and the
			// Reader grows it for large heads and chunks.
			c.rd = msrp.NewReaderSize(&c.src, c.s.lim, readBufFirst)
			c.hasReader.Store(true)
		}
		if c.fb == nil {
			c.fb = framePool.Get().(*frameBuf)
		}
		f := c.fb.reset()
		c.state.Store(stateBetween)
		err := c.rd.ReadFrameInto(f)
		c.state.Store(stateBusy)
		if err != nil {
			var se *msrp.StatusError
			if errors.As(err, &se) {
				c.stats.framesIn.Add(1)
				if !c.malformed(f, se) {
					return false
				}
				continue
			}
			if errors.Is(err, errIdle) {
				c.rd.Release() // to the pool: no buffer garbage per AUTH
				c.rd = nil
				framePool.Put(c.fb)
				c.fb = nil
				c.hasReader.Store(false)
				// Wait on a new goroutine: this one's stack grew while it
				// handled frames (AUTH digests, TLS records) and the
				// runtime shrinks it only at a GC, which an idle process
				// seldom runs; a fresh one waits in a small stack.
				go c.run()
				return true
			}
			return false
		}
		c.stats.framesIn.Add(1)
		c.headAt = monoNow()
		if !c.handle(f) {
			return false
		}
	}
}

// frameBuf is the Frame a connection's Reader parses every frame into
// (msrp.Reader.ReadFrameInto), with backing arrays for the usual paths
// and headers, so that reading a frame allocates nothing. Nothing may
// keep a reference into it past the frame's handling: transactions copy
// the From-Path they need (txnConf.newTxn), OnMessage gets copies of the
// paths (endObserve). Pooled: a connection gives it back with its Reader
// when it goes idle.
type frameBuf struct {
	f    msrp.Frame
	to   [4]msrp.URI
	from [2]msrp.URI
	hdr  [4]msrp.Header
}

var framePool = sync.Pool{New: func() any { return new(frameBuf) }}

// reset points the frame's slices at fb's own arrays again (handling a
// frame may have pointed them elsewhere, e.g. at conn.scratch) and
// returns it for ReadFrameInto.
func (fb *frameBuf) reset() *msrp.Frame {
	fb.f.ToPath, fb.f.FromPath, fb.f.Headers = fb.to[:0], fb.from[:0], fb.hdr[:0]
	return &fb.f
}

// malformed answers a request the Reader could not parse (RFC 4975
// §7.1.1, §10.2: 400, or 413 over a head limit) when its From-Path
// parsed, from this relay's first To-Path URI or, when that did not parse
// or is not ours, from the relay's own URI. One without a From-Path cannot
// be addressed and is dropped (hostile F1). Both count as failures toward
// the probation rule (RFC 4976 §6.1); false closes the connection. A
// malformed response is ignored.
func (c *conn) malformed(f *msrp.Frame, se *msrp.StatusError) bool {
	if !f.IsRequest() {
		return true
	}
	if len(f.FromPath) == 0 {
		c.s.metrics.rejected.Add(1)
		c.failures++
		return c.proven || c.failures < c.s.cfg.MaxFailures
	}
	if len(f.ToPath) == 0 || !c.s.isSelf(f.ToPath[0], true) {
		f.ToPath = []msrp.URI{c.s.URI()}
	}
	return c.fail(f, se.Code, se.Comment)
}

// finish runs when the reader ends: flush what it owes, close, fail the
// transactions waiting on this connection.
func (c *conn) finish() {
	c.endObservations()
	c.flushDirty()
	c.close()
	c.s.dropConn(c)
	c.tmu.Lock()
	c.tclosed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	var lost []*txn
	c.pending.each(func(t *txn) {
		if !t.done {
			t.done = true
			lost = append(lost, t)
		}
	})
	c.pending, c.fifo = pendingTxns{}, nil
	c.tmu.Unlock()
	for _, t := range lost {
		if t.timed || t.method == msrp.MethodSEND && t.fr == "partial" {
			t.expire("Next hop connection lost")
		}
	}
}

// hasName reports whether c's peer certificate names host (RFC 4976
// §6.3: the subjectAltName must match the first From-Path host).
func (c *conn) hasName(host string) bool {
	for _, n := range c.peerNames {
		if strings.EqualFold(n, host) {
			return true
		}
	}
	return false
}

// markDirty notes that d has unflushed output written by this reader.
func (c *conn) markDirty(d *conn) {
	for _, x := range c.dirty {
		if x == d {
			return
		}
	}
	c.dirty = append(c.dirty, d)
}

// flushDirty flushes the connections this reader wrote to. It never
// blocks on a lock: a connection whose lock is held is flushed by the
// holder, which writes after our bytes and flushes before it blocks.
func (c *conn) flushDirty() {
	if c.holding != nil && len(c.holding.wbuf) >= midBodyFlush {
		// Mid-body: a good part of a chunk is buffered; let it go now
		// rather than when the buffer fills. (Below this, the rest of a
		// small chunk is usually in the next read.)
		c.holding.flushLocked()
	}
	for i, d := range c.dirty {
		if d == c.holding {
			d.flushLocked()
		} else if d.wmu.TryLock() {
			d.flushLocked()
			d.wmu.Unlock()
		}
		c.dirty[i] = nil
	}
	c.dirty = c.dirty[:0]
	if fl := c.fl; fl != nil && fl.n > 0 {
		now := monoNow()
		for _, t := range fl.pend[:fl.n] {
			fl.hist.observe(time.Duration(now - t))
		}
		fl.n = 0
	}
}

// fwdLat is a reader's forward-latency state: the head times of frames
// forwarded but still in a destination's write buffer, observed when
// flushDirty writes them, and the connection's histogram.
type fwdLat struct {
	pend [32]int64
	n    int
	hist latencyHist
}

// forwarded records the latency of a request just written to dest
// (flushed: dest's buffer is empty, under dest.wmu) or left in dest's
// buffer for flushDirty. It reports whether the pending list is full.
func (c *conn) forwarded(flushed bool) bool {
	fl := c.fl
	if fl == nil {
		fl = new(fwdLat)
		c.fl = fl
		c.stats.lat.Store(&fl.hist)
	}
	if flushed {
		fl.hist.observe(time.Duration(monoNow() - c.headAt))
		return false
	}
	fl.pend[fl.n] = c.headAt
	fl.n++
	return fl.n == len(fl.pend)
}

// Write buffers: a connection starts with a small one (enough for AUTH
// responses and a few frame heads) and moves to a 64 KiB one, flushed at
// flushAt so that a frame head rarely makes it grow, once it has more to
// hold. Both come from pools on first use and are given back by the
// sweeper once the connection's buffer is empty (or right after a
// successful AUTH), so a busy connection keeps its buffer and an idle one
// holds none.
const (
	wbufSmall    = 4 << 10
	wbufHeadroom = 1 << 10 // below this much room a small buffer is upgraded
	wbufSize     = 64 << 10
	flushAt      = 48 << 10
	// midBodyFlush: buffered octets of a chunk being cut through that are
	// flushed when the reader needs more input.
	midBodyFlush = 16 << 10
)

var (
	bufPool   = sync.Pool{New: func() any { b := make([]byte, 0, wbufSize); return &b }}
	smallPool = sync.Pool{New: func() any { b := make([]byte, 0, wbufSmall); return &b }}
)

// wb returns the write buffer with room for a frame head (under wmu).
func (c *conn) wb() []byte {
	if c.wbuf == nil {
		c.wbuf = (*smallPool.Get().(*[]byte))[:0]
	} else if cap(c.wbuf)-len(c.wbuf) < wbufHeadroom && cap(c.wbuf) < wbufSize {
		c.upgradeBuf()
	}
	return c.wbuf
}

// wbFor returns the write buffer with room for n more octets, if a
// 64 KiB buffer has it (under wmu).
func (c *conn) wbFor(n int) []byte {
	b := c.wb()
	if cap(b)-len(b) < n && cap(b) < wbufSize {
		c.upgradeBuf()
	}
	return c.wbuf
}

// upgradeBuf moves the buffered octets to a 64 KiB buffer (under wmu).
func (c *conn) upgradeBuf() {
	big := append((*bufPool.Get().(*[]byte))[:0], c.wbuf...)
	putBuf(c.wbuf)
	c.wbuf = big
}

// putBuf gives a write buffer back to the pool of its size class.
func putBuf(b []byte) {
	b = b[:0]
	switch n := cap(b); {
	case n == wbufSmall:
		smallPool.Put(&b)
	case n >= wbufSize && n <= 4*wbufSize:
		bufPool.Put(&b)
	}
}

// flushLocked writes the buffer out (under wmu).
func (c *conn) flushLocked() {
	if len(c.wbuf) == 0 {
		return
	}
	if c.werr == nil {
		c.reads.Add(1) // activity, for the idle rules
		c.armWrite()
		n, err := c.nc.Write(c.wbuf)
		c.stats.writes.Add(1)
		c.stats.bytesOut.Add(uint64(n))
		if err != nil {
			c.werr = err
			c.close()
		}
	}
	c.wbuf = c.wbuf[:0]
	if cap(c.wbuf) > 4*wbufSize {
		c.wbuf = nil // grown by a huge head: do not keep it
	}
}

// armWrite keeps a write deadline between WriteTimeout/2 and WriteTimeout
// ahead (under wmu), resetting the socket's timer only when it has run
// half down rather than on every write.
func (c *conn) armWrite() {
	now := time.Now()
	if wt := c.s.cfg.WriteTimeout; now.Add(wt / 2).After(c.wdeadline) {
		c.wdeadline = now.Add(wt)
		_ = c.nc.SetWriteDeadline(c.wdeadline)
	}
}

// releaseBuf gives an empty write buffer back to the pool (under wmu).
func (c *conn) releaseBuf() {
	if c.wbuf != nil && len(c.wbuf) == 0 {
		putBuf(c.wbuf)
		c.wbuf = nil
	}
}

// releaseIdleBuf is called by the sweeper.
func (c *conn) releaseIdleBuf() {
	if c.wmu.TryLock() {
		c.releaseBuf()
		c.wmu.Unlock()
	}
}

// writeDirect writes the buffer and then p without copying p (under wmu).
func (c *conn) writeDirect(p []byte) {
	if c.werr != nil {
		c.wbuf = c.wbuf[:0]
		return
	}
	c.armWrite()
	v := c.iov
	if v == nil {
		v = new(iovec)
		c.iov = v
	}
	v.arr = [2][]byte{c.wbuf, p}
	v.bufs = v.arr[:]
	n, err := v.bufs.WriteTo(c.nc)
	v.arr, v.bufs = [2][]byte{}, nil
	c.stats.writes.Add(1)
	c.stats.bytesOut.Add(uint64(n))
	if err != nil {
		c.werr = err
		c.close()
	}
	c.wbuf = c.wbuf[:0]
}

// iovec is writeDirect's gather list, kept per connection (allocated on
// its first direct write) because net.Buffers escapes to the heap.
type iovec struct {
	bufs net.Buffers
	arr  [2][]byte
}

// newTID mints a transaction id for a request sent on c (under wmu):
// unique on the connection, as RFC 4976 §6.4 requires.
func (c *conn) newTID() string {
	c.tidN++
	b := make([]byte, 0, 20)
	b = append(b, c.tidPrefix...)
	b = strconv.AppendUint(b, c.tidN, 36)
	return string(b)
}

// tidNumber parses a tid minted by newTID on c (any goroutine: the prefix
// never changes after newConn, except in tests before traffic).
func (c *conn) tidNumber(tid string) (uint64, bool) {
	p := c.tidPrefix
	if len(tid) <= len(p) || tid[:len(p)] != p {
		return 0, false
	}
	n, err := strconv.ParseUint(tid[len(p):], 36, 64)
	return n, err == nil
}

// send writes a whole generated frame to c and flushes it at once.
func (c *conn) send(f *msrp.Frame) {
	c.wmu.Lock()
	c.wbuf = msrp.AppendEndLine(f.AppendHead(c.wb()), f)
	c.flushLocked()
	c.wmu.Unlock()
	c.stats.framesOut.Add(1)
}

// queue appends a generated frame to c's buffer; the calling reader
// flushes it before it next blocks.
func (r *conn) queue(c *conn, f *msrp.Frame) {
	c.wmu.Lock()
	c.wbuf = msrp.AppendEndLine(f.AppendHead(c.wb()), f)
	if len(c.wbuf) >= flushAt {
		c.flushLocked()
	}
	c.wmu.Unlock()
	r.markDirty(c)
	c.stats.framesOut.Add(1)
}
