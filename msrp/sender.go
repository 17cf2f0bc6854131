package msrp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/session"
)

// The chunk scheduler (RFC 4975 §5.1, §7.1.1). One writer goroutine per
// connection owns the socket and a bufio.Writer. It always drains the
// control queue first (responses, REPORTs, bodiless SENDs, non-SEND
// requests), then writes one chunk of the next ready outgoing message in
// round-robin order. A chunk is interrupted (end-line '+') as soon as a
// control frame waits, or once it has carried Config.ChunkSize octets while
// another message is ready, so that responses and REPORTs are never stuck
// behind a large body and messages and sessions sharing a connection are
// interleaved fairly (§7.1.1: "MUST interrupt ... to allow pending
// responses or REPORTs", "SHOULD ... interleave").

const (
	// maxUninterruptible is the largest chunk that may be sent with a known
	// range-end; larger chunks MUST be interruptible (RFC 4975 §7.1).
	maxUninterruptible = 2048
	// pieceSize is the most body the writer hands the socket between two
	// checks for waiting traffic: one socket write (writev with the
	// chunk's head or end-line), and the size of a streamed source's
	// pieces once it fills them (smallPiece before: a short or slow source
	// holds no more than that). 256 KiB rather than 64: a quarter of the
	// write system calls, and a streamed source's reading goroutine,
	// sharing the CPUs with the socket's reader and writer, runs dry (and
	// cuts the chunk) far less often: a 1 GiB message end to end over
	// loopback took about 0.55-0.65 CPU seconds instead of 0.7-0.85. A
	// control frame waits at most one piece more than the socket buffer it
	// queues behind anyway.
	pieceSize  = 256 << 10
	smallPiece = 64 << 10
	// feedDepth is how many pieces a streamed body may have read ahead
	// (besides the one being written and the one being read).
	feedDepth = 2
	// defaultChunkSize is the default fairness quantum.
	defaultChunkSize = 64 << 10
)

var (
	piecePool      = sync.Pool{New: func() any { b := make([]byte, pieceSize); return &b }}
	smallPiecePool = sync.Pool{New: func() any { b := make([]byte, smallPiece); return &b }}
)

// getPiece returns a buffer of pieceSize octets, or smallPiece if small.
func getPiece(small bool) *[]byte {
	if small {
		return smallPiecePool.Get().(*[]byte)
	}
	return piecePool.Get().(*[]byte)
}

// putPiece gives a buffer from getPiece back to its pool.
func putPiece(bp *[]byte) {
	if cap(*bp) == smallPiece {
		smallPiecePool.Put(bp)
	} else {
		piecePool.Put(bp)
	}
}

// ctrlHook marks the end, in the control buffer, of a request whose
// transaction timer starts once that octet is on the socket.
type ctrlHook struct {
	end int
	t   *txn
}

// stopReason tells the writer to abandon a message (end-line '#').
type stopReason struct {
	err error
	// quiet: send nothing more for the message, not even a '#' chunk
	// (after 413, §10: "MUST NOT send any further chunks"; after 481).
	quiet bool
}

// outMsg is one outgoing message being sent on a session.
type outMsg struct {
	s           *Session
	id          string
	contentType string
	typeKey     string // what a 415 bars for the session (refusalKey)
	total       int64  // Unknown when the size is not known in advance
	success     bool   // Success-Report: yes
	failure     string // Failure-Report: yes, partial or no (§7.1.2)
	d           *session.Delivery

	// Body source, owned by the writer goroutine once queued.
	data []byte  // whole body in memory, or nil
	feed *feeder // streamed body, or nil
	pos  int64   // octets handed to the socket so far

	stop atomic.Pointer[stopReason]
	qidx int // index in the scheduler's streams (guarded by its mu)

	// Bookkeeping guarded by s.mu.
	outstanding int         // chunk transactions awaiting a response
	lastSent    bool        // the '$' chunk was written
	acked       rangeSet    // octets confirmed by success REPORTs
	reportTimer *time.Timer // Config.ReportTimeout, once every chunk is answered
	finished    bool
}

// abort asks the writer to stop sending m; the current chunk, if any, ends
// with '#' (RFC 4975 §7.1.1, §10: "interrupt the current chunk").
func (m *outMsg) abort(err error) { m.stopWith(&stopReason{err: err}) }

// abortQuiet is abort without a closing '#' chunk between chunks.
func (m *outMsg) abortQuiet(err error) { m.stopWith(&stopReason{err: err, quiet: true}) }

func (m *outMsg) stopWith(r *stopReason) {
	m.stop.CompareAndSwap(nil, r)
	if m.feed != nil {
		m.feed.close()
	}
}

func (m *outMsg) stopped() bool { return m.stop.Load() != nil }

// feeder reads a streamed body ahead of the writer in bounded memory.
type feeder struct {
	ch       chan *[]byte
	err      error // valid once ch is closed
	stopOnce sync.Once
	stopCh   chan struct{}
	cur      *[]byte // piece being consumed (writer goroutine)
	off      int
	closed   bool        // ch seen closed (writer goroutine)
	fin      atomic.Bool // set once ch is closed
}

func newFeeder() *feeder {
	return &feeder{ch: make(chan *[]byte, feedDepth), stopCh: make(chan struct{})}
}

func (f *feeder) close() { f.stopOnce.Do(func() { close(f.stopCh) }) }

// run copies r into pieces until EOF, an error or close. want is the
// declared size, or Unknown.
func (f *feeder) run(r io.Reader, want int64, wake func()) {
	defer func() {
		close(f.ch)
		f.fin.Store(true)
		wake()
	}()
	if want >= 0 {
		// The declared size is authoritative, as an HTTP Content-Length:
		// the source is not read beyond it (and need not reach EOF there).
		r = io.LimitReader(r, want)
	}
	var got int64
	small := true // until a read fills a piece
	for {
		bp := getPiece(small)
		b := (*bp)[:cap(*bp)]
		// One Read per piece: hand over what the source has now rather
		// than wait for a full piece (interactive streams).
		var n int
		var err error
		for n == 0 && err == nil {
			n, err = r.Read(b)
		}
		got += int64(n)
		small = n < len(b)
		if n > 0 {
			*bp = b[:n]
			select {
			case f.ch <- bp:
				wake()
			case <-f.stopCh:
				putPiece(bp)
				return
			}
		} else {
			putPiece(bp)
		}
		if err == io.EOF {
			if want >= 0 && got < want {
				f.err = fmt.Errorf("msrp: body shorter (%d octets) than the declared Size %d", got, want)
			}
			return
		}
		if err != nil {
			f.err = fmt.Errorf("msrp: reading message body: %w", err)
			return
		}
		select {
		case <-f.stopCh:
			return
		default:
		}
	}
}

// next returns the available unread bytes of the current piece, fetching
// a new piece without blocking. eof is true once the source is exhausted.
func (f *feeder) next() (p []byte, eof bool) {
	if f.cur != nil && f.off < len(*f.cur) {
		return (*f.cur)[f.off:], false
	}
	if f.cur != nil {
		putPiece(f.cur)
		f.cur = nil
	}
	if f.closed {
		return nil, true
	}
	select {
	case bp, ok := <-f.ch:
		if !ok {
			f.closed = true
			return nil, true
		}
		f.cur, f.off = bp, 0
		return *bp, false
	default:
		return nil, false
	}
}

func (f *feeder) consume(n int) { f.off += n }

// release returns buffered pieces to the pool (writer goroutine).
func (f *feeder) release() {
	f.close()
	if f.cur != nil {
		putPiece(f.cur)
		f.cur = nil
	}
	for {
		select {
		case bp, ok := <-f.ch:
			if !ok {
				return
			}
			putPiece(bp)
		default:
			return
		}
	}
}

// ready reports whether the writer can make progress on m now (writer
// goroutine only).
func (m *outMsg) ready() bool {
	if m.stopped() || m.feed == nil {
		return true
	}
	f := m.feed
	if f.cur != nil && f.off < len(*f.cur) {
		return true
	}
	return f.closed || len(f.ch) > 0 || f.fin.Load()
}

// scheduler is the write queue of one connection. Control frames are
// encoded into one buffer as they are queued (no per-frame allocation);
// the writer swaps it for its spare and writes it whole.
type scheduler struct {
	mu      sync.Mutex
	ctrl    []byte     // encoded control frames, in queue order
	hooks   []ctrlHook // requests among them
	streams []*outMsg  // in queue order; nil: a removed message (a hole)
	holes   int        // nil entries in streams
	rr      int        // round-robin cursor
	wake    chan struct{}
	ctrlN   atomic.Int32 // 1 while ctrl is not empty, read without the lock by the writer
	closed  bool         // drained: frames queued from now on are dropped
	// inflight is the size of the control buffer the writer took and has
	// not finished writing (blocked on the socket, for instance).
	inflight atomic.Int64
	// room is signalled by the writer each time it finished writing a
	// control buffer: the reader waiting in waitRoom checks again.
	room chan struct{}
}

// maxCtrlQueue bounds the control frames (responses, REPORTs, requests
// other than SEND chunks) one connection may have queued or in the
// writer's hands. Once it is reached the reader goroutine stops reading
// (waitRoom) until the writer has drained below it: TCP back-pressure
// then blocks a peer that floods requests and never reads its answers,
// and the write deadline (TransactionTimeout) ends the connection if it
// still reads nothing (FINDINGS F10). 1 MiB is thousands of responses:
// a peer that reads at all never meets it.
const maxCtrlQueue = 1 << 20

func newScheduler() *scheduler {
	return &scheduler{wake: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// pending returns the octets of control frames queued or being written.
func (q *scheduler) pending() int {
	q.mu.Lock()
	n := len(q.ctrl)
	q.mu.Unlock()
	return n + int(q.inflight.Load())
}

// signalRoom wakes a reader waiting for the queue to drain.
func (q *scheduler) signalRoom() {
	select {
	case q.room <- struct{}{}:
	default:
	}
}

func (q *scheduler) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pushFrame encodes f and body at the end of the control queue; t, if
// not nil, is the request's transaction, whose timer starts once the
// frame's last octet is on the socket.
func (q *scheduler) pushFrame(f *Frame, body []byte, t *txn) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.ctrl = AppendFrame(q.ctrl, f, body)
	if t != nil {
		q.hooks = append(q.hooks, ctrlHook{end: len(q.ctrl), t: t})
	}
	q.ctrlN.Store(1)
	q.mu.Unlock()
	q.signal()
}

func (q *scheduler) pushStream(m *outMsg) {
	q.mu.Lock()
	m.qidx = len(q.streams)
	q.streams = append(q.streams, m)
	q.mu.Unlock()
	q.signal()
}

// takeCtrl returns the queued control frames and hands the queue the
// spare buffers to fill next.
func (q *scheduler) takeCtrl(spare []byte, spareHooks []ctrlHook) ([]byte, []ctrlHook) {
	q.mu.Lock()
	b, h := q.ctrl, q.hooks
	q.ctrl, q.hooks = spare[:0], spareHooks[:0]
	q.ctrlN.Store(0)
	q.inflight.Store(int64(len(b)))
	q.mu.Unlock()
	return b, h
}

// nextStream returns the next ready message after the cursor, or nil.
func (q *scheduler) nextStream() *outMsg {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.streams)
	for i := 0; i < n; i++ {
		j := (q.rr + i) % n
		if m := q.streams[j]; m != nil && m.ready() {
			q.rr = j + 1
			return m
		}
	}
	return nil
}

// othersReady reports whether a message other than m could be written.
func (q *scheduler) othersReady(m *outMsg) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, o := range q.streams {
		if o != nil && o != m && o.ready() {
			return true
		}
	}
	return false
}

// remove takes m out of the queue in O(1): its slot becomes a hole, and
// holes are compacted away (keeping the order) once they are half the
// queue, so that many small messages in flight cost no copying each.
func (q *scheduler) remove(m *outMsg) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := m.qidx
	if i >= len(q.streams) || q.streams[i] != m {
		return
	}
	q.streams[i] = nil
	q.holes++
	if q.holes == len(q.streams) {
		clear(q.streams)
		q.streams, q.holes, q.rr = q.streams[:0], 0, 0
		return
	}
	if q.holes < 32 || 2*q.holes < len(q.streams) {
		return
	}
	j, rr := 0, 0
	for k, o := range q.streams {
		if k == q.rr {
			rr = j
		}
		if o != nil {
			o.qidx = j
			q.streams[j] = o
			j++
		}
	}
	if q.rr >= len(q.streams) {
		rr = j
	}
	clear(q.streams[j:])
	q.streams, q.holes, q.rr = q.streams[:j], 0, rr
}

// drain removes every queued stream (connection closing).
func (q *scheduler) drain() []*outMsg {
	q.mu.Lock()
	var s []*outMsg
	for _, m := range q.streams {
		if m != nil {
			s = append(s, m)
		}
	}
	q.streams, q.holes = nil, 0
	q.ctrl, q.hooks = nil, nil
	q.closed = true
	q.mu.Unlock()
	return s
}

// sockWriter is the writer goroutine's buffered writer on the socket. It
// bounds every socket write by the transaction timeout, so that a peer
// that stops reading is detected (the 30 s timer of RFC 4975 §7.1.1
// starts at the last byte sent; a write that never completes would
// otherwise leave the sender silent forever). Small writes (heads,
// end-lines, control frames) collect in buf; a large body piece goes to
// the socket straight from its source together with what is buffered, in
// one writev (net.Buffers), without first being copied into buf.
type sockWriter struct {
	c    *Conn
	buf  []byte
	vec  [2][]byte   // backing array of bufs
	bufs net.Buffers // a writev's buffers; a field, so that it does not escape
}

// sockBufSize is the size of the writer's buffer; direct is the body
// piece size from which a write bypasses it.
const (
	sockBufSize = 64 << 10
	direct      = 8 << 10
)

func newSockWriter(c *Conn) *sockWriter {
	return &sockWriter{c: c, buf: make([]byte, 0, sockBufSize)}
}

// Buffered returns the octets written but not yet on the socket.
func (w *sockWriter) Buffered() int { return len(w.buf) }

// Write buffers p, or writes it with what is buffered when it is large.
func (w *sockWriter) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) <= cap(w.buf) {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if len(p) < direct {
		if err := w.Flush(); err != nil {
			return 0, err
		}
		if len(p) <= cap(w.buf) {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
	}
	if err := w.send(w.buf, p); err != nil {
		return 0, err
	}
	w.buf = w.buf[:0]
	return len(p), nil
}

// Flush writes what is buffered.
func (w *sockWriter) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.send(w.buf, nil)
	w.buf = w.buf[:0]
	return err
}

// writeProgress is the least a peer must take off the socket per
// transaction timeout: each write of up to this much gets the whole
// timeout, as when every write was at most a bufio buffer of 64 KiB, so
// that larger writes neither fail a slow but steady peer nor let one that
// trickles a few octets hold the connection.
const writeProgress = 64 << 10

// send writes a then b to the socket: on TCP in one writev, given a new
// deadline whenever the last one passed with writeProgress octets taken;
// on other connections (TLS, whose state a timed-out write corrupts; a
// net.Pipe) in writes of at most writeProgress octets, each with its own
// deadline.
func (w *sockWriter) send(a, b []byte) error {
	c := w.c
	var err error
	if _, ok := c.nc.(*net.TCPConn); ok {
		w.vec = [2][]byte{a, b}
		w.bufs = w.vec[:]
		for len(w.bufs) > 0 {
			now := time.Now()
			_ = c.nc.SetWriteDeadline(now.Add(c.ep.txTimeout))
			var n int64
			n, err = w.bufs.WriteTo(c.nc)
			w.wrote(now, n)
			if err == nil || n < writeProgress || !errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			err = nil
		}
		w.vec, w.bufs = [2][]byte{}, nil
		return err
	}
	for _, p := range [2][]byte{a, b} {
		for len(p) > 0 && err == nil {
			now := time.Now()
			_ = c.nc.SetWriteDeadline(now.Add(c.ep.txTimeout))
			var n int
			n, err = c.nc.Write(p[:min(len(p), writeProgress)])
			w.wrote(now, int64(n))
			p = p[n:]
		}
	}
	return err
}

// wrote accounts for n octets written by a write started at now.
func (w *sockWriter) wrote(now time.Time, n int64) {
	c := w.c
	c.lastSend.Store(now.UnixNano())
	c.sockOff += n
	// Start the timers of requests whose last byte is now on the socket.
	h := c.flushHooks[c.hookHead:]
	i := 0
	for ; i < len(h) && h[i].off <= c.sockOff; i++ {
		h[i].t.startTimer()
		h[i] = flushHook{}
	}
	c.hookHead += i
	if c.hookHead == len(c.flushHooks) {
		c.flushHooks, c.hookHead = c.flushHooks[:0], 0
	}
}

// flushHook starts t's timer once the socket has taken off octets in all.
type flushHook struct {
	off int64
	t   *txn
}

// afterFlush starts t's transaction timer once everything written to bw
// so far has reached the socket: the timer starts at the last byte sent
// (§7.1.1), not when the request was queued behind a blocked socket.
func (c *Conn) afterFlush(bw *sockWriter, t *txn) {
	c.hookAt(c.sockOff+int64(bw.Buffered()), t)
}

// hookAt starts t's timer once the socket has taken off octets.
func (c *Conn) hookAt(off int64, t *txn) {
	if off <= c.sockOff {
		t.startTimer()
		return
	}
	c.flushHooks = append(c.flushHooks, flushHook{off: off, t: t})
}

// writeLoop is the writer goroutine of c.
func (c *Conn) writeLoop() {
	bw := newSockWriter(c)
	err := c.writeLoopErr(bw)
	if err != nil {
		c.fail(fmt.Errorf("msrp: writing to %s: %w", c.remoteAddr, err))
	} else {
		c.fail(nil) // idle shutdown, or already failing
	}
	for _, m := range c.q.drain() {
		if m.feed != nil {
			m.feed.release()
		}
	}
	// The writer goroutine's scratch buffers go with it (bw is local);
	// an ended Conn keeps none (FINDINGS F9).
	c.headBuf, c.ctrlSpare, c.hookSpare = nil, nil, nil
	c.flushHooks, c.hookHead = nil, 0
}

func (c *Conn) writeLoopErr(bw *sockWriter) error {
	for {
		did := false
		if c.q.ctrlN.Load() > 0 {
			buf, hooks := c.q.takeCtrl(c.ctrlSpare, c.hookSpare)
			// Register the hooks first: writing may reach the socket at once.
			base := c.sockOff + int64(bw.Buffered())
			for _, h := range hooks {
				c.hookAt(base+int64(h.end), h.t)
			}
			_, err := bw.Write(buf)
			c.q.inflight.Store(0)
			c.q.signalRoom()
			if err != nil {
				return err
			}
			did = len(buf) > 0
			clear(hooks)
			if cap(buf) > 1<<20 {
				buf = nil // a burst: do not keep its buffer
			}
			c.ctrlSpare, c.hookSpare = buf, hooks
		}
		if m := c.q.nextStream(); m != nil {
			if err := c.writeChunk(bw, m); err != nil {
				return err
			}
			did = true
		}
		if did {
			continue
		}
		if bw.Buffered() > 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
			continue // more may have arrived while flushing
		}
		if c.shutdown.Load() {
			return nil // idle: everything queued is written
		}
		select {
		case <-c.q.wake:
		case <-c.ctx.Done():
			return nil
		}
	}
}

// finishStream removes m from the queue after its final chunk or abort.
func (c *Conn) finishStream(m *outMsg) {
	c.q.remove(m)
	if m.feed != nil {
		m.feed.release()
	}
}

// writeChunk writes one chunk of m (RFC 4975 §5.1, §7.1.1).
func (c *Conn) writeChunk(bw *sockWriter, m *outMsg) error {
	s := m.s
	sr := m.stop.Load()
	if sr != nil && (sr.quiet || m.pos == 0) {
		// Stopped between chunks: nothing more goes on the wire.
		c.finishStream(m)
		s.msgStopped(m, sr.err)
		return nil
	}
	f := &Frame{
		Method:        MethodSEND,
		ToPath:        s.toPath,
		FromPath:      s.fromPath,
		MessageID:     m.id,
		HasByteRange:  true,
		FailureReport: m.failure,
		ContentType:   m.contentType,
	}
	if m.success {
		f.SuccessReport = "yes"
	}
	start := m.pos + 1

	// A whole remainder of at most 2048 octets held in memory goes as one
	// non-interruptible chunk with a known range-end; so does a piece of
	// a message held in memory when Config.MaxChunkSize is at most 2048
	// (§7.1: only chunks over 2048 octets must be interruptible).
	if m.feed == nil && sr == nil {
		rest := m.data[m.pos:]
		lim := int64(maxUninterruptible)
		if mc := c.ep.maxChunk; mc > 0 && mc < lim {
			lim = mc
		}
		last := int64(len(rest)) <= lim
		if !last && c.ep.maxChunk > 0 && c.ep.maxChunk <= maxUninterruptible {
			rest = rest[:lim]
		}
		if int64(len(rest)) <= lim {
			f.ByteRange = ByteRange{Start: start, End: m.pos + int64(len(rest)), Total: m.total}
			f.TID = pickTID(rest)
			t := c.newChunkTxn(f.TID, m, start, int64(len(rest)))
			b := f.AppendHead(c.headBuf[:0])
			if _, err := bw.Write(b); err != nil {
				return err
			}
			if _, err := bw.Write(rest); err != nil {
				return err
			}
			m.pos += int64(len(rest))
			m.d.AddSent(int64(len(rest)))
			s.chunkWritten(m, last)
			f.Flag = FlagEnd
			if !last {
				f.Flag = FlagMore
			}
			b = AppendEndLine(b[:0], f)
			c.headBuf = b
			if _, err := bw.Write(b); err != nil {
				return err
			}
			c.afterFlush(bw, t)
			if last {
				c.finishStream(m)
			}
			return nil
		}
	}

	// Interruptible chunk: start-*/total (RFC 4975 §7.1.1).
	f.ByteRange = ByteRange{Start: start, End: Unknown, Total: m.total}
	if sr != nil {
		f.TID = nextTID()
		// Stopped after some chunks went out: tell the receiver with an
		// empty '#' chunk so that it discards what it holds (§7.1).
		t := c.newChunkTxn(f.TID, m, start, 0)
		s.chunkWritten(m, false)
		f.Flag = FlagAbort
		b := AppendEndLine(f.AppendHead(c.headBuf[:0]), f)
		c.headBuf = b
		if _, err := bw.Write(b); err != nil {
			return err
		}
		c.afterFlush(bw, t)
		c.finishStream(m)
		s.msgStopped(m, sr.err)
		return nil
	}
	first, _ := m.peek()
	if len(first) > 4096 {
		first = first[:4096]
	}
	f.TID = pickTID(first)
	var markerBuf, tailBuf [64]byte // on the stack: no allocation per chunk
	marker := append(append(markerBuf[:0], "-------"...), f.TID...)
	t := c.newChunkTxn(f.TID, m, start, 0)
	b := f.AppendHead(c.headBuf[:0])
	if _, err := bw.Write(b); err != nil {
		return err
	}
	c.headBuf = b
	var (
		sent  int64
		tail  = tailBuf[:0] // last bytes of this chunk's body, for the end-line check
		flag  = FlagMore
		abort error
	)
	for {
		p, eof := m.peek()
		if eof {
			if m.feed != nil && m.feed.closed && m.feed.err != nil {
				abort = m.feed.err
				flag = FlagAbort
			} else {
				flag = FlagEnd
			}
			break
		}
		if len(p) == 0 {
			break // streamed source stalled: end this chunk with '+'
		}
		// Interrupt here, with more body to come, so that the body's last
		// octet always goes in a '$' chunk rather than leaving an empty
		// one past the total.
		// Pending responses and REPORTs interrupt the chunk once it has
		// carried 2048 octets (§7.1: MUST interrupt chunks over 2048 for
		// them; SHOULD NOT send chunks under 2048 but the last).
		if sent >= maxUninterruptible && (c.q.ctrlN.Load() > 0 ||
			sent >= c.ep.chunkSize && c.q.othersReady(m)) || // fairness
			c.ep.maxChunk > 0 && sent >= c.ep.maxChunk { // hard cap; resumed at m.pos+1 (§5.1)
			break
		}
		if len(p) > pieceSize {
			p = p[:pieceSize]
		}
		if rem := c.ep.chunkSize - sent; rem > 0 && int64(len(p)) > rem && c.q.othersReady(m) {
			p = p[:rem] // the fairness quantum, not a whole piece, while others wait
		}
		if mc := c.ep.maxChunk; mc > 0 && int64(len(p)) > mc-sent {
			p = p[:mc-sent] // Config.MaxChunkSize: a hard cap
		}
		// §7.1: the body must not contain the end-line; cut the chunk
		// just before an occurrence and go on under a new tid.
		cut := collision(tail, p, marker)
		if cut >= 0 {
			p = p[:cut]
		}
		if len(p) > 0 {
			if _, err := bw.Write(p); err != nil {
				return err
			}
			m.advance(len(p))
			sent += int64(len(p))
			m.d.AddSent(int64(len(p)))
			tail = keepTail(tail, p, len(marker)-1)
		}
		if cut >= 0 {
			break
		}
		if m.stopped() {
			flag = FlagAbort
			break
		}
	}
	if flag == FlagEnd && m.total == Unknown {
		m.total = m.pos
	}
	t.n = sent
	switch flag {
	case FlagAbort:
		// An aborted chunk still gets a response, which is ignored.
		s.chunkWritten(m, false)
	default:
		s.chunkWritten(m, flag == FlagEnd)
	}
	f.Flag = flag
	c.headBuf = AppendEndLine(c.headBuf[:0], f)
	if _, err := bw.Write(c.headBuf); err != nil {
		return err
	}
	c.afterFlush(bw, t)
	switch flag {
	case FlagEnd:
		c.finishStream(m)
	case FlagAbort:
		c.finishStream(m)
		if abort == nil {
			if sr := m.stop.Load(); sr != nil {
				abort = sr.err
			}
		}
		s.msgStopped(m, abort)
	}
	return nil
}

// peek returns the next bytes of m's body available without blocking.
func (m *outMsg) peek() (p []byte, eof bool) {
	if m.feed == nil {
		if m.pos >= int64(len(m.data)) {
			return nil, true
		}
		return m.data[m.pos:], false
	}
	if m.total >= 0 && m.pos >= m.total {
		return nil, true // declared size reached: no need to wait for EOF
	}
	return m.feed.next()
}

func (m *outMsg) advance(n int) {
	m.pos += int64(n)
	if m.feed != nil {
		m.feed.consume(n)
	}
}

// endMarker is the byte sequence that could end a body early: seven
// hyphens and the tid (RFC 4975 §7.1). The writer cuts a chunk before any
// occurrence, flag or not, which is stricter than ContainsEndLine.
func endMarker(tid string) []byte {
	return append([]byte("-------"), tid...)
}

// collision returns the offset in p before which the chunk must be cut so
// that tail+p does not contain marker, or -1 when it does not.
func collision(tail, p, marker []byte) int {
	if len(tail) > 0 {
		k := len(marker) - 1
		var wb [128]byte
		w := wb[:0]
		w = append(w, tail...)
		w = append(w, p[:min(k, len(p))]...)
		if i := bytes.Index(w, marker); i >= 0 {
			return max(i-len(tail), 0)
		}
	}
	return bytes.Index(p, marker)
}

func keepTail(tail, p []byte, k int) []byte {
	if len(p) >= k {
		return append(tail[:0], p[len(p)-k:]...)
	}
	tail = append(tail, p...)
	if len(tail) > k {
		tail = append(tail[:0], tail[len(tail)-k:]...)
	}
	return tail
}

// pickTID returns a fresh transaction id whose end-line does not occur in
// body (RFC 4975 §7.1: "pick a new tid").
func pickTID(body []byte) string {
	for {
		tid := nextTID()
		if !ContainsEndLine(body, tid) {
			return tid
		}
	}
}

// idBatch hands out random identifiers cut from a batch generated at
// once: one allocation and one read of crypto/rand per 64 identifiers
// instead of one each, with the same alphabet and entropy as randomID.
type idBatch struct {
	mu   sync.Mutex
	n    int // length of one identifier
	buf  string
	next int
}

const idsPerBatch = 64

func (b *idBatch) get() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next+b.n > len(b.buf) {
		var raw [idsPerBatch * 20]byte
		r := raw[:idsPerBatch*b.n]
		rand.Read(r) // never returns an error (crypto/rand, Go ≥ 1.24)
		for i := range r {
			r[i] = idAlphabet[r[i]&31]
		}
		b.buf, b.next = string(r), 0
	}
	id := b.buf[b.next : b.next+b.n]
	b.next += b.n
	return id
}

var (
	tidBatch = idBatch{n: 14} // as NewTransactionID: 70 random bits (RFC 4975 §7.1)
	midBatch = idBatch{n: 20} // as NewMessageID: 100 random bits (§7.1.1)
)

// nextTID returns a fresh transaction identifier.
func nextTID() string { return tidBatch.get() }

// nextMessageID returns a fresh Message-ID.
func nextMessageID() string { return midBatch.get() }

// errStopped is the cause recorded when the application cancels a message.
var errStopped = errors.New("msrp: message cancelled")
