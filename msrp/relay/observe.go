package relay

import (
	"slices"
	"sync"
	"time"

	"github.com/parley-im/parley/msrp"
)

// MessageEvent describes a message (a SEND, RFC 4975 §7.1, in one or
// more chunks) the relay forwarded or delivered internally
// (Config.OnMessage). It is reported once, when the chunk ending the
// message has been read: flag '$' (the end) or '#' (aborted, §7.1.1).
// A message whose last chunk never comes through this relay is not
// reported: its connection closed, no chunk of it came for
// Config.ObserveTimeout, it was evicted by Config.ObserveMaxPending, a
// chunk of it was refused, or its first chunk (Byte-Range 1-…) went
// through another connection.
type MessageEvent struct {
	// FromUser is the AUTH username owning the relay URL the SEND came in
	// through (To-Path[0] on an authenticated connection), "" if it
	// arrived from another relay or an unauthenticated peer (a URL
	// granted to a relay peer over mutual TLS counts as a relay's).
	FromUser string
	// ToUser is the AUTH username owning the next relay URL when it is
	// also this relay's (internal delivery), or owning To-Path[0] when the
	// SEND came from elsewhere toward a URL this relay issued; else "".
	ToUser string
	// The users and paths are those of the first chunk.
	ToPath, FromPath []msrp.URI // as received
	MessageID        string
	ContentType      string
	// Body is the whole body when the message is Complete, fits
	// Config.ObserveMaxBody and could be held within Config.ObserveMaxHeld
	// while its chunks came in; else nil. It is valid only during the
	// call.
	Body []byte
	// Size is the total size from Byte-Range; when that is "*", the size
	// of a Complete message, else -1.
	Size int64
	// Complete: the message ended with '$' and its chunks followed each
	// other without gap or overlap, up to the Byte-Range total if known.
	Complete bool
	// Aborted: the last chunk read ended with '#' (the sender, or the
	// relay when the body was cut short, gave the message up).
	Aborted bool
	// Chunks is the number of chunks read.
	Chunks int
	Time   time.Time // when the relay read the first chunk
}

// assembly is the state of one observed message until its last chunk.
type assembly struct {
	id, ctype        string
	from, to         string
	toPath, fromPath []msrp.URI
	at, last         time.Time
	buf              *[]byte // nil: the body is not (or no longer) copied
	gap              bool    // a chunk did not continue where the previous ended
	total            int64   // Byte-Range total, msrp.Unknown for "*" or none
	n                int64   // body octets read
	next             int64   // the octet the next chunk should start at
	chunks           int
}

// observation is a connection's observed messages (read goroutine only).
type observation struct {
	cur *assembly   // the SEND being read, nil if not observed
	asm []*assembly // messages with chunks still to come, oldest first
}

var obsPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// observing reports whether the SEND being read is observed.
func (c *conn) observing() bool { return c.obs != nil && c.obs.cur != nil }

// startObserve prepares the observation of SEND f (before its paths are
// rewritten) if OnMessage is set: a first chunk (no Byte-Range or one
// starting at 1) opens an assembly, a later chunk continues the one of
// its Message-ID.
func (c *conn) startObserve(f *msrp.Frame, from, to *grant) {
	s := c.s
	if s.cfg.OnMessage == nil {
		return
	}
	if c.obs == nil {
		c.obs = new(observation)
	}
	o := c.obs
	o.cur = nil
	now := s.cfg.Now()
	first := !f.HasByteRange || f.ByteRange.Start == 1
	var a *assembly
	if i := o.find(f.MessageID); i >= 0 {
		a = o.asm[i]
		if first || now.Sub(a.last) > s.cfg.ObserveTimeout {
			// Restarted, or stale: forget what was assembled.
			c.release(o.remove(i))
			a = nil
		}
	}
	if a == nil {
		if !first {
			return // its first chunk was not seen here
		}
		o.expire(c, now)
		if len(o.asm) >= s.cfg.ObserveMaxPending {
			c.release(o.remove(0))
		}
		a = &assembly{id: f.MessageID, ctype: f.ContentType, toPath: slices.Clone(f.ToPath), fromPath: slices.Clone(f.FromPath),
			at: now, total: msrp.Unknown, next: 1}
		if from != nil && from.peer == "" {
			a.from = from.user
		}
		if to != nil && to.peer == "" {
			a.to = to.user
		}
		max := int64(s.cfg.ObserveMaxBody)
		br := f.ByteRange
		if max >= 0 && !(f.HasByteRange && (br.Total != msrp.Unknown && br.Total > max || br.End != msrp.Unknown && br.End > max)) {
			a.buf = obsPool.Get().(*[]byte)
			*a.buf = (*a.buf)[:0]
		}
		o.asm = append(o.asm, a)
	}
	if f.HasByteRange {
		if f.ByteRange.Start != a.next {
			a.gap = true
			c.dropBuf(a)
			a.next = f.ByteRange.Start
		}
		if f.ByteRange.Total != msrp.Unknown {
			a.total = f.ByteRange.Total
		}
	}
	if a.total != msrp.Unknown && a.total > int64(s.cfg.ObserveMaxBody) {
		c.dropBuf(a)
	}
	a.last = now
	a.chunks++
	o.cur = a
}

// observeBody counts and copies body octets of the observed SEND, within
// Config.ObserveMaxBody per message and Config.ObserveMaxHeld for the
// whole relay.
func (c *conn) observeBody(p []byte) {
	a := c.obs.cur
	a.n += int64(len(p))
	a.next += int64(len(p))
	if a.buf == nil {
		return
	}
	s := c.s
	if len(*a.buf)+len(p) > s.cfg.ObserveMaxBody || s.obsHeld.Add(int64(len(p))) > s.cfg.ObserveMaxHeld {
		if len(*a.buf)+len(p) <= s.cfg.ObserveMaxBody {
			s.obsHeld.Add(-int64(len(p)))
		}
		c.dropBuf(a)
		return
	}
	*a.buf = append(*a.buf, p...)
}

// endObserve ends the chunk of the observed SEND f, whose Flag is now the
// one received (a body cut short has FlagAbort), and calls OnMessage if
// it was the message's last.
func (c *conn) endObserve(f *msrp.Frame) {
	o := c.obs
	a := o.cur
	o.cur = nil
	if a == nil || f.Flag == msrp.FlagMore {
		return
	}
	if i := o.index(a); i >= 0 {
		o.remove(i)
	}
	ev := MessageEvent{FromUser: a.from, ToUser: a.to, ToPath: a.toPath, FromPath: a.fromPath,
		MessageID: a.id, ContentType: a.ctype, Size: -1, Chunks: a.chunks, Time: a.at, Aborted: f.Flag == msrp.FlagAbort}
	ev.Complete = f.Flag == msrp.FlagEnd && !a.gap && (a.total == msrp.Unknown || a.total == a.n)
	if a.total != msrp.Unknown {
		ev.Size = a.total
	} else if ev.Complete {
		ev.Size = a.n
	}
	if ev.Complete && a.buf != nil {
		ev.Body = *a.buf
		if ev.Body == nil {
			ev.Body = []byte{}
		}
	}
	c.s.cfg.OnMessage(ev)
	c.release(a)
}

// dropObserve forgets the message of the observed SEND (a chunk of it
// was not forwarded after all).
func (c *conn) dropObserve() {
	if !c.observing() {
		return
	}
	o := c.obs
	if i := o.index(o.cur); i >= 0 {
		o.remove(i)
	}
	c.release(o.cur)
	o.cur = nil
}

// endObservations forgets every message in assembly (the connection
// ends).
func (c *conn) endObservations() {
	if c.obs == nil {
		return
	}
	for _, a := range c.obs.asm {
		c.release(a)
	}
	*c.obs = observation{}
}

func (o *observation) find(id string) int {
	for i, a := range o.asm {
		if a.id == id {
			return i
		}
	}
	return -1
}

func (o *observation) index(a *assembly) int {
	for i, b := range o.asm {
		if a == b {
			return i
		}
	}
	return -1
}

func (o *observation) remove(i int) *assembly {
	a := o.asm[i]
	o.asm = slices.Delete(o.asm, i, i+1)
	return a
}

// expire forgets the messages no chunk of which came for ObserveTimeout.
func (o *observation) expire(c *conn, now time.Time) {
	for i := 0; i < len(o.asm); {
		if now.Sub(o.asm[i].last) > c.s.cfg.ObserveTimeout {
			c.release(o.remove(i))
			continue
		}
		i++
	}
}

// dropBuf stops copying a's body and gives its buffer back.
func (c *conn) dropBuf(a *assembly) {
	if a.buf == nil {
		return
	}
	c.s.obsHeld.Add(-int64(len(*a.buf)))
	putObsBuf(a.buf)
	a.buf = nil
}

func (c *conn) release(a *assembly) {
	if a != nil {
		c.dropBuf(a)
	}
}

func putObsBuf(buf *[]byte) {
	if buf != nil && cap(*buf) <= 4*DefaultObserveMaxBody {
		obsPool.Put(buf)
	}
}
