package relay

import (
	"slices"
	"sync"
	"time"

	"github.com/parley-im/parley/msrp"
)

// MessageEvent describes the first chunk of a SEND the relay forwarded or
// delivered internally (Config.OnMessage).
type MessageEvent struct {
	// FromUser is the AUTH username owning the relay URL the SEND came in
	// through (To-Path[0] on an authenticated connection), "" if it
	// arrived from another relay or an unauthenticated peer (a URL
	// granted to a relay peer over mutual TLS counts as a relay's).
	FromUser string
	// ToUser is the AUTH username owning the next relay URL when it is
	// also this relay's (internal delivery), or owning To-Path[0] when the
	// SEND came from elsewhere toward a URL this relay issued; else "".
	ToUser           string
	ToPath, FromPath []msrp.URI // as received
	MessageID        string
	ContentType      string
	// Body is the whole body when the message is one complete chunk
	// (Byte-Range 1-N/N or 1-*, flag $) and fits Config.ObserveMaxBody,
	// else nil. It is valid only during the call.
	Body []byte
	// Size is the total size from Byte-Range; when that is "*", the size
	// of a complete one-chunk message, else -1.
	Size int64
	Time time.Time // when the relay read the request
}

// observation is the reader's state for the SEND being observed.
type observation struct {
	on       bool
	over     bool // the body is not (or no longer) being copied
	from, to string
	toPath   []msrp.URI
	fromPath []msrp.URI
	at       time.Time
	buf      *[]byte
	total    int64 // Byte-Range total as received, msrp.Unknown for "*" or none
	n        int64 // body octets read
}

var obsPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// startObserve prepares the event for SEND f (before its paths are
// rewritten) if it is the first chunk and OnMessage is set.
func (c *conn) startObserve(f *msrp.Frame, from, to *grant) {
	s := c.s
	if s.cfg.OnMessage == nil || f.HasByteRange && f.ByteRange.Start != 1 {
		return
	}
	if c.obs == nil {
		c.obs = new(observation)
	}
	o := c.obs
	*o = observation{on: true, toPath: f.ToPath, fromPath: f.FromPath, at: s.cfg.Now(), total: msrp.Unknown}
	if f.HasByteRange {
		o.total = f.ByteRange.Total
	}
	if from != nil && from.peer == "" {
		o.from = from.user
	}
	if to != nil && to.peer == "" {
		o.to = to.user
	}
	br := f.ByteRange
	max := int64(s.cfg.ObserveMaxBody)
	switch {
	case max < 0 || !f.HasBody():
		o.over = true
	case !f.HasByteRange:
	case br.End != msrp.Unknown && br.End != br.Total, // not the whole message
		br.Total != msrp.Unknown && br.Total > max,
		br.End != msrp.Unknown && br.End > max:
		o.over = true
	}
	if !o.over {
		o.buf = obsPool.Get().(*[]byte)
		*o.buf = (*o.buf)[:0]
	}
}

// observeBody counts and copies body octets of the observed SEND.
func (c *conn) observeBody(p []byte) {
	o := c.obs
	o.n += int64(len(p))
	if o.over {
		return
	}
	if len(*o.buf)+len(p) > c.s.cfg.ObserveMaxBody {
		o.over = true
		return
	}
	*o.buf = append(*o.buf, p...)
}

// endObserve calls OnMessage for the observed SEND f, whose Flag is now
// the one received (a body cut short has FlagAbort).
func (c *conn) endObserve(f *msrp.Frame) {
	o := c.obs
	if o == nil || !o.on {
		return
	}
	// Copies: the paths are the received frame's, reused for the next
	// frame (frameBuf), and the callback may keep them.
	ev := MessageEvent{FromUser: o.from, ToUser: o.to, ToPath: slices.Clone(o.toPath), FromPath: slices.Clone(o.fromPath),
		MessageID: f.MessageID, ContentType: f.ContentType, Size: -1, Time: o.at}
	complete := f.Flag == msrp.FlagEnd && (o.total == msrp.Unknown || o.total == o.n)
	if o.total != msrp.Unknown {
		ev.Size = o.total
	} else if complete {
		ev.Size = o.n
	}
	if complete && !o.over && o.buf != nil {
		ev.Body = *o.buf
		if ev.Body == nil {
			ev.Body = []byte{}
		}
	}
	buf := o.buf
	*o = observation{}
	c.s.cfg.OnMessage(ev)
	putObsBuf(buf)
}

// dropObserve forgets the observed SEND (not forwarded after all).
func (c *conn) dropObserve() {
	if c.obs == nil {
		return
	}
	buf := c.obs.buf
	*c.obs = observation{}
	putObsBuf(buf)
}

func putObsBuf(buf *[]byte) {
	if buf != nil && cap(*buf) <= 4*DefaultObserveMaxBody {
		obsPool.Put(buf)
	}
}
