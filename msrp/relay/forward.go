package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/parley-im/parley/msrp"
)

// txn is a request forwarded on a connection, awaiting the next hop's
// response (RFC 4976 §6.4.3).
type txn struct {
	dest   *conn
	n      uint64 // tid number on dest (see conn.newTID)
	up     *conn  // where the request came from
	upTID  string
	method string
	msgID  string
	br     msrp.ByteRange
	hasBR  bool
	fr     string     // Failure-Report mode (SEND)
	from   []msrp.URI // From-Path as received from up (a copy: see frameBuf)
	from1  [1]msrp.URI
	self   msrp.URI // this relay's URI at the head of the To-Path received
	timed  bool
	// deadline and done are guarded by dest.tmu.
	deadline time.Time
	done     bool
}

// txnConf holds what the transactions of one forwarded request share.
type txnConf struct {
	up           *conn
	upTID, fr    string
	from         []msrp.URI
	self         msrp.URI
	track, timed bool
}

func (tc *txnConf) newTxn(f *msrp.Frame, dest *conn) *txn {
	if !tc.track {
		return nil
	}
	t := &txn{dest: dest, n: dest.tidN, up: tc.up, upTID: tc.upTID, method: f.Method,
		msgID: f.MessageID, br: f.ByteRange, hasBR: f.HasByteRange,
		fr: tc.fr, self: tc.self, timed: tc.timed}
	// tc.from is the received frame's, which the next frame overwrites.
	if len(tc.from) <= len(t.from1) {
		t.from = append(t.from1[:0], tc.from...)
	} else {
		t.from = slices.Clone(tc.from)
	}
	return t
}

// handle processes one request or response; false closes the connection.
func (c *conn) handle(f *msrp.Frame) bool {
	if !f.IsRequest() {
		c.handleResponse(f)
		return true
	}
	s := c.s
	top := f.ToPath[0]
	if f.Method == msrp.MethodAUTH && len(f.ToPath) == 1 {
		if !s.isSelf(top, true) {
			return false // §6.2: not addressed to this relay
		}
		return c.handleAuth(f)
	}
	if !s.isSelf(top, false) {
		// §6.2: a request not addressed to the relay drops the connection.
		return false
	}
	ss := s.lookup(top)
	if ss == nil {
		// §6.3, §6.4: not a URL this relay handed out (or expired, or
		// spelled differently): nothing is forwarded.
		return c.fail(f, msrp.StatusSessionDoesNotExist, "Unknown relay URI")
	}
	if len(f.ToPath) < 2 {
		return c.fail(f, msrp.StatusForbidden, "Relay is not a destination")
	}
	pop := 1
	var dest *conn
	var fromG, toG *grant // the users of MessageEvent
	if ss.owns(c) {
		fromG = ss
		// §6.4 case 2: from the client that obtained the URL, outward.
		next := f.ToPath[1]
		if s.isSelf(next, false) {
			// Two hops through this relay (A's URL then B's): deliver
			// internally rather than connect to ourselves.
			ss2 := s.lookup(next)
			if ss2 == nil {
				return c.fail(f, msrp.StatusSessionDoesNotExist, "Unknown relay URI")
			}
			if len(f.ToPath) < 3 {
				return c.fail(f, msrp.StatusForbidden, "Relay is not a destination")
			}
			dest, pop, toG = s.deliveryConn(ss2), 2, ss2
		} else if d := c.hop.lookup(next); d != nil {
			dest = d
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DialTimeout)
			d, err := s.outConn(ctx, next)
			cancel()
			if err != nil {
				s.cfg.Logger.Debug("relay: next hop unreachable", "hop", next.String(), "err", err)
				return c.fail(f, msrp.StatusRequestTimeout, "Next hop unreachable")
			}
			c.hop = hopCache{secure: next.Secure, host: next.Host, port: next.Port, c: d}
			dest = d
		}
	} else {
		// §6.4 case 1: toward the client that obtained the URL, over the
		// connection it authenticated on; never anywhere else. A second
		// URI of this relay means someone else's URL is being used as a
		// first hop: refused, nothing delivered.
		if s.isSelf(f.ToPath[1], false) {
			return c.fail(f, msrp.StatusForbidden, "Relay URI not issued to this connection")
		}
		dest, toG = s.deliveryConn(ss), ss
	}
	return c.forward(f, dest, pop, fromG, toG)
}

// hopCache remembers a reader's last outbound next hop, so that the
// frames of a session find their connection without a context, a key
// string and the server lock each (RFC 4976 §6.4.2 reuse, per reader).
type hopCache struct {
	secure bool
	host   string
	port   int
	c      *conn
}

// lookup returns the cached connection if it is to u's scheme, host and
// port and still open.
func (h *hopCache) lookup(u msrp.URI) *conn {
	if h.c == nil || h.port != u.Port || h.secure != u.Secure || h.host != u.Host || h.c.isClosed() {
		return nil
	}
	return h.c
}

// mayRespond applies RFC 4975 §7.1.2 to a response with code.
func mayRespond(f *msrp.Frame, code int) bool {
	if f.Method == msrp.MethodREPORT {
		return false
	}
	if f.Method == msrp.MethodSEND {
		switch f.FailureReportMode() {
		case "no":
			return false
		case "partial":
			return code != msrp.StatusOK
		}
	}
	return true
}

// respond queues a response to request f on c (before f is rewritten).
func (c *conn) respond(f *msrp.Frame, code int, comment string, hdrs ...msrp.Header) {
	if !mayRespond(f, code) {
		return
	}
	r := msrp.Respond(f, code, comment)
	r.Headers = hdrs
	c.queue(c, r)
}

// fail answers f with an error and counts it toward the probation rule
// (RFC 4976 §6.1); false closes the connection.
func (c *conn) fail(f *msrp.Frame, code int, comment string) bool {
	c.s.metrics.rejected.Add(1)
	c.respond(f, code, comment)
	c.failures++
	return c.proven || c.failures < c.s.cfg.MaxFailures
}

// forward sends request f on dest after removing pop URIs of this relay
// from the head of its To-Path and putting them at the head of the
// From-Path (RFC 4976 §6.4.1, §6.4.2), with a fresh tid (§6.4). The body
// is cut through from this connection's Reader. fromG and toG are the
// grants for Config.OnMessage (MessageEvent.FromUser, ToUser), or nil.
func (c *conn) forward(f *msrp.Frame, dest *conn, pop int, fromG, toG *grant) bool {
	isSend := f.Method == msrp.MethodSEND
	var small []byte // the whole body of a non-SEND request
	if !isSend && f.HasBody() {
		// RFC 4975 §7.1: a non-SEND body is at most 10240 octets and cannot
		// be interrupted, so it is read whole before anything goes to the
		// next hop; one over the bound is answered 413 and not forwarded
		// (the Reader skips the rest of it).
		b, err := c.readSmallBody()
		if err != nil {
			var se *msrp.StatusError
			if errors.As(err, &se) {
				return c.fail(f, se.Code, se.Comment)
			}
			return false
		}
		small = b
	}
	fr := f.FailureReportMode()
	origFrom, self := f.FromPath, f.ToPath[0]
	if isSend {
		c.startObserve(f, fromG, toG)
	}
	upTID := f.TID
	track := f.Method != msrp.MethodREPORT && !(isSend && fr == "no")

	from := c.scratch[:0]
	for i := pop - 1; i >= 0; i-- {
		from = append(from, f.ToPath[i])
	}
	from = append(from, f.FromPath...)
	c.scratch = from[:0]
	f.ToPath, f.FromPath = f.ToPath[pop:], from

	tc := txnConf{up: c, upTID: upTID, from: origFrom, self: self, fr: fr, track: track, timed: !isSend || fr == "yes"}
	dest.wmu.Lock()
	if dest.werr != nil || dest.isClosed() {
		dest.wmu.Unlock()
		c.dropObserve()
		f.ToPath, f.FromPath = append([]msrp.URI{self}, f.ToPath...), origFrom
		return c.fail(f, msrp.StatusSessionDoesNotExist, "Next hop gone")
	}
	f.TID = dest.newTID()
	for small != nil && hasEndLine(small, f.TID) {
		f.TID = dest.newTID() // §7.1: the body must not contain the end-line
	}
	t := tc.newTxn(f, dest)
	dest.addPending(t)
	dest.wbuf = f.AppendHead(dest.wb())
	code, fatal := 0, false
	var more []*txn // sub-chunks of a re-chunked SEND
	if small != nil {
		c.emit(dest, small)
	} else if f.HasBody() {
		c.holding = dest
		code, fatal = c.streamBody(f, dest, &tc, &more)
		c.holding = nil
	}
	dest.wbuf = msrp.AppendEndLine(dest.wbuf, f)
	if fatal || len(dest.wbuf) >= flushAt {
		dest.flushLocked()
	}
	full := c.forwarded(len(dest.wbuf) == 0)
	dest.wmu.Unlock()
	c.markDirty(dest)
	if full {
		c.flushDirty()
	}
	if c.observing() {
		c.endObserve(f)
	}
	dest.stats.framesOut.Add(1)
	c.stats.forwarded.Add(1)
	if t != nil || len(more) > 0 {
		now := time.Now()
		dest.startTimer(t, now)
		for _, t := range more {
			dest.startTimer(t, now)
		}
	}
	if fatal {
		return false
	}
	c.succeeded()
	if isSend {
		// §6.4.1: the 200 means "received", to the previous hop only.
		if code == 0 {
			code = msrp.StatusOK
		}
		c.selfPath[0] = self
		f.TID, f.ToPath, f.FromPath = upTID, c.selfPath[:], origFrom
		if mayRespond(f, code) {
			c.wmu.Lock()
			c.wbuf = appendSendResponse(c.wb(), f, code)
			if len(c.wbuf) >= flushAt {
				c.flushLocked()
			}
			c.wmu.Unlock()
			c.markDirty(c)
			c.stats.framesOut.Add(1)
		}
	}
	return true
}

// appendSendResponse appends the transaction response to SEND f
// (RFC 4975 §7.2: To-Path the previous hop, which is the first From-Path
// URI; From-Path the first To-Path URI; Message-ID and Byte-Range echoed)
// without building a Frame.
func appendSendResponse(b []byte, f *msrp.Frame, code int) []byte {
	b = append(b, "MSRP "...)
	b = append(b, f.TID...)
	b = append(b, ' ', byte('0'+code/100), byte('0'+code/10%10), byte('0'+code%10), ' ')
	b = append(b, msrp.StatusText(code)...)
	b = append(b, "\r\nTo-Path: "...)
	b = f.FromPath[0].AppendTo(b)
	b = append(b, "\r\nFrom-Path: "...)
	b = f.ToPath[0].AppendTo(b)
	if f.MessageID != "" {
		b = append(b, "\r\nMessage-ID: "...)
		b = append(b, f.MessageID...)
	}
	if f.HasByteRange {
		b = append(b, "\r\nByte-Range: "...)
		b = f.ByteRange.AppendTo(b)
	}
	b = append(b, "\r\n-------"...)
	b = append(b, f.TID...)
	return append(b, "$\r\n"...)
}

// streamBody copies the body of f from c's Reader into dest (under
// dest.wmu) segment by segment, without buffering the chunk. If the body
// happens to contain the end-line of the tid minted for dest (RFC 4975
// §7.1), the chunk is cut there with '+' and continues in a new SEND with
// a new tid and the next Byte-Range (§6.4.1 allows re-chunking). It
// returns a response code for the previous hop (0 for 200), whether the
// connection must close, and the transactions opened.
func (c *conn) streamBody(f *msrp.Frame, dest *conn, tc *txnConf, more *[]*txn) (int, bool) {
	pat := make([]byte, 0, 48)
	pat = append(append(pat, "-------"...), f.TID...)
	var tail []byte // last bytes of this sub-chunk, for matches across segments
	var tailBuf [48]byte
	start := int64(1)
	if f.HasByteRange {
		start = f.ByteRange.Start
	}
	var sent int64
	for {
		seg, err := c.rd.NextBodySegment()
		if err == io.EOF {
			return 0, false
		}
		if err != nil {
			f.Flag = msrp.FlagAbort
			var se *msrp.StatusError
			if errors.As(err, &se) {
				return se.Code, false
			}
			return 0, true
		}
		if c.observing() {
			c.observeBody(seg)
		}
		for len(seg) > 0 {
			cut := findEndLine(tail, seg, pat)
			part := seg
			if cut >= 0 {
				part = seg[:cut]
			}
			c.emit(dest, part)
			sent += int64(len(part))
			tail = keepTail(tailBuf[:0], tail, part, len(pat))
			seg = seg[len(part):]
			if cut < 0 {
				break
			}
			if f.Method != msrp.MethodSEND {
				// Not re-chunkable; abandon the frame.
				f.Flag = msrp.FlagAbort
				return msrp.StatusBadRequest, false
			}
			dest.wbuf = msrp.AppendEndLine(dest.wbuf, &msrp.Frame{TID: f.TID, ContentType: f.ContentType, Flag: msrp.FlagMore})
			f.TID = dest.newTID()
			end, total := msrp.Unknown, msrp.Unknown
			if f.HasByteRange {
				end, total = f.ByteRange.End, f.ByteRange.Total
			}
			f.ByteRange, f.HasByteRange = msrp.ByteRange{Start: start + sent, End: end, Total: total}, true
			if t := tc.newTxn(f, dest); t != nil {
				dest.addPending(t)
				*more = append(*more, t)
			}
			dest.wbuf = f.AppendHead(dest.wbuf)
			pat = append(pat[:7], f.TID...)
			tail = nil
		}
	}
}

// readSmallBody reads the whole body of the current non-SEND frame, which
// the Reader bounds to msrp.DefaultMaxNonSendBody octets (a *StatusError
// 413 beyond).
func (c *conn) readSmallBody() ([]byte, error) {
	b := make([]byte, 0, 512)
	for {
		seg, err := c.rd.NextBodySegment()
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		b = append(b, seg...)
	}
}

// hasEndLine reports whether body contains the end-line of tid
// ("-------" tid and a flag octet).
func hasEndLine(body []byte, tid string) bool {
	var buf [48]byte
	pat := append(append(buf[:0], "-------"...), tid...)
	return findEndLine(nil, body, pat) >= 0
}

// emit appends or writes body octets to dest (under dest.wmu).
func (c *conn) emit(dest *conn, p []byte) {
	if len(p) >= 16<<10 {
		dest.writeDirect(p)
		return
	}
	dest.wbuf = append(dest.wbFor(len(p)), p...)
	if len(dest.wbuf) >= flushAt {
		dest.flushLocked()
	}
}

// findEndLine returns the index in seg of the flag octet of the first
// "-------" tid flag sequence (pat is "-------" tid) that ends in seg,
// where tail holds the octets emitted just before seg; or -1.
func findEndLine(tail, seg, pat []byte) int {
	L := len(pat)
	// Matches straddling the boundary: pat[:k] at the end of tail.
	for k := min(L, len(tail)); k >= 1; k-- {
		if !bytes.Equal(tail[len(tail)-k:], pat[:k]) {
			continue
		}
		rest := L - k
		if len(seg) > rest && bytes.Equal(seg[:rest], pat[k:]) && isFlag(seg[rest]) {
			return rest
		}
	}
	off := 0
	for {
		i := bytes.Index(seg[off:], pat)
		if i < 0 {
			return -1
		}
		j := off + i + L
		if j < len(seg) && isFlag(seg[j]) {
			return j
		}
		off += i + 1
	}
}

func isFlag(b byte) bool { return b == '$' || b == '+' || b == '#' }

// keepTail returns the last n octets of prev followed by p, in buf.
func keepTail(buf, prev, p []byte, n int) []byte {
	if len(p) >= n {
		return append(buf, p[len(p)-n:]...)
	}
	keep := n - len(p)
	if keep > len(prev) {
		keep = len(prev)
	}
	buf = append(buf, prev[len(prev)-keep:]...)
	return append(buf, p...)
}

// addPending registers t so that the response to it can be matched.
func (c *conn) addPending(t *txn) {
	if t == nil {
		return
	}
	c.tmu.Lock()
	if c.tclosed {
		t.done = true
	} else {
		c.pending.add(t)
	}
	c.tmu.Unlock()
}

// startTimer arms t's timeout from the moment its last byte was handed to
// the socket writer (RFC 4976 §6.4.1).
//
// Every tracked transaction gets a deadline, so none stays pending
// forever: an untimed one (Failure-Report partial, whose success brings no
// response) is then just forgotten.
func (c *conn) startTimer(t *txn, now time.Time) {
	if t == nil {
		return
	}
	d := c.s.cfg.TransactionTimeout
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if t.done || c.tclosed {
		return
	}
	t.deadline = now.Add(d)
	c.fifo = append(c.fifo, t)
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.onTimer)
	} else if len(c.fifo)-c.head == 1 {
		c.timer.Reset(d)
	}
}

// take removes and returns the transaction for a response's tid.
func (c *conn) take(tid string) *txn {
	n, ok := c.tidNumber(tid)
	if !ok {
		return nil
	}
	c.tmu.Lock()
	defer c.tmu.Unlock()
	t := c.pending.take(n)
	if t == nil {
		return nil
	}
	t.done = true
	for c.head < len(c.fifo) && c.fifo[c.head].done {
		c.fifo[c.head] = nil
		c.head++
	}
	c.compact()
	return t
}

func (c *conn) compact() {
	if c.head == len(c.fifo) {
		c.fifo, c.head = c.fifo[:0], 0
	} else {
		c.fifo, c.head = compactFront(c.fifo, c.head)
	}
}

func (c *conn) onTimer() {
	now := time.Now()
	var expired []*txn
	c.tmu.Lock()
	for c.head < len(c.fifo) {
		t := c.fifo[c.head]
		if !t.done && t.deadline.After(now) {
			c.timer.Reset(t.deadline.Sub(now))
			break
		}
		if !t.done {
			t.done = true
			c.pending.take(t.n)
			expired = append(expired, t)
		}
		c.fifo[c.head] = nil
		c.head++
	}
	c.compact()
	c.tmu.Unlock()
	for _, t := range expired {
		if t.timed {
			c.s.metrics.timeouts.Add(1)
			t.expire("Next hop did not answer")
		}
	}
}

// expire reports a transaction that got no response: a 408 failure
// REPORT for SEND (RFC 4976 §6.4.1), a 408 response for other methods.
func (t *txn) expire(comment string) {
	if t.method == msrp.MethodSEND {
		if t.fr != "no" {
			t.report(msrp.StatusRequestTimeout, comment)
		}
		return
	}
	// A 408 response travels back like the response would have.
	r := &msrp.Frame{TID: t.upTID, StatusCode: msrp.StatusRequestTimeout, Comment: comment,
		ToPath: reversed(t.from), FromPath: []msrp.URI{t.self}, MessageID: t.msgID, Flag: msrp.FlagEnd}
	t.up.send(r)
}

// report sends a failure REPORT for t to the original sender, over the
// connection the SEND came from (RFC 4976 §6.4.1, §6.4.3; RFC 4975
// §7.1.2): To-Path the From-Path received, From-Path this relay.
func (t *txn) report(code int, comment string) {
	if t.up.isClosed() {
		return
	}
	if comment == "" {
		comment = msrp.StatusText(code)
	}
	r := &msrp.Frame{Method: msrp.MethodREPORT, ToPath: t.from, FromPath: []msrp.URI{t.self},
		MessageID: t.msgID, ByteRange: t.br, HasByteRange: t.hasBR,
		Status: msrp.Status{Namespace: 0, Code: code, Comment: comment}, HasStatus: true, Flag: msrp.FlagEnd}
	t.up.wmu.Lock()
	r.TID = t.up.newTID()
	t.up.wbuf = msrp.AppendEndLine(r.AppendHead(t.up.wb()), r)
	t.up.flushLocked()
	t.up.wmu.Unlock()
	t.up.s.metrics.reportsSent.Add(1)
	t.up.stats.framesOut.Add(1)
}

func reversed(p []msrp.URI) []msrp.URI {
	out := make([]msrp.URI, len(p))
	for i, u := range p {
		out[len(p)-1-i] = u
	}
	return out
}

// handleResponse matches a response to the transaction it answers
// (RFC 4976 §6.4.3). Unmatched responses, and responses not addressed to
// this relay, are dropped.
func (c *conn) handleResponse(f *msrp.Frame) {
	s := c.s
	if !s.isSelf(f.ToPath[0], false) {
		return
	}
	t := c.take(f.TID)
	if t == nil {
		return
	}
	c.succeeded()
	if t.method == msrp.MethodSEND {
		if f.StatusCode != msrp.StatusOK && t.fr != "no" {
			t.report(f.StatusCode, f.Comment)
		}
		return
	}
	// Other methods: the response travels the rest of the reverse path.
	self := f.ToPath[0]
	to := f.ToPath[1:]
	from := []msrp.URI{self}
	for len(to) > 1 && s.isSelf(to[0], false) {
		from = append([]msrp.URI{to[0]}, from...)
		to = to[1:]
	}
	if len(to) == 0 {
		return
	}
	f.TID, f.ToPath, f.FromPath = t.upTID, to, append(from, f.FromPath...)
	if t.up.isClosed() {
		return // §6.4.3: silently discarded
	}
	c.queue(t.up, f)
}
