package msrp

import (
	"errors"
	"fmt"
	"io"
	"sort"
)

// Reassembly of chunked messages (RFC 4975 §5.1, §7.3.1, §14.5).
//
// An Assembly collects the chunks of one message (one Message-ID) into an
// io.WriterAt, at the positions their Byte-Range headers give:
//
//   - chunks may arrive in any order, and the "$" chunk need not be last;
//   - duplicate and overlapping data is written again, so the last data
//     received wins (§7.3.1 SHOULD);
//   - after any error the message is refused as a whole: every later
//     call returns the same error and Complete stays false;
//   - the length of a chunk is the octets actually received, not its
//     range-end (§7.3.1 SHOULD), so interrupted chunks and "*" ends work;
//   - the total is learned from any chunk that states it, and the "$"
//     chunk defines it (§7.3.1: "the chunk that has a termination
//     character of "$" defines the total length");
//   - the message is complete when the "$" chunk has been seen and every
//     octet 1..total has been received;
//   - bounds are checked before anything is written (§14.5): positions
//     past maxSize give 413, past the known total 400. Memory is that of
//     the destination plus a list of received ranges (bounded, see
//     MaxFragments), so a 1 GB message streams to a file in bounded memory.

// MaxFragments bounds the number of disjoint received ranges an Assembly
// tracks; a message arriving in more pieces than that (only possible with
// out-of-order, non-adjacent chunks) is refused with 413.
const MaxFragments = 1024

// Reassembly errors, wrapped in *StatusError by Assembly.
var (
	// ErrMessageTooLarge: data beyond the Assembly's maxSize (413).
	ErrMessageTooLarge = errors.New("msrp: message larger than the allowed size")
	// ErrBeyondTotal: data beyond the message's total, or totals that
	// disagree (400).
	ErrBeyondTotal = errors.New("msrp: chunk inconsistent with the message total")
	// ErrTooFragmented: more than MaxFragments disjoint ranges (413).
	ErrTooFragmented = errors.New("msrp: message too fragmented")
	// ErrMessageAborted: data for a message whose sender aborted it with
	// "#" (RFC 4975 §7.1) (400).
	ErrMessageAborted = errors.New("msrp: message was aborted")
)

// Assembly reassembles one message from its chunks. It is not safe for
// concurrent use.
type Assembly struct {
	dst     io.WriterAt
	maxSize int64

	declared int64 // total from a Byte-Range, or Unknown
	final    int64 // total defined by the "$" chunk, or Unknown
	aborted  bool
	err      error // first error: the message is refused from then on

	ranges   []span // disjoint, sorted, non-adjacent
	received int64  // octets covered by ranges
}

// span is an inclusive 1-based range of received octets.
type span struct{ lo, hi int64 }

// NewAssembly returns an Assembly writing into dst. maxSize bounds the
// message size in octets; zero or negative means no bound beyond the
// 18-digit limit of Byte-Range values.
func NewAssembly(dst io.WriterAt, maxSize int64) *Assembly {
	if maxSize <= 0 || maxSize > maxRangeValue {
		maxSize = maxRangeValue
	}
	return &Assembly{dst: dst, maxSize: maxSize, declared: Unknown, final: Unknown}
}

// BeginChunk checks a chunk's Byte-Range against the bounds before any of
// its body is read (RFC 4975 §14.5): a total or range-end past maxSize is
// 413, a range inconsistent with the known total 400. It records a stated
// total. Calling it is optional; Write and EndChunk check the same bounds
// on the data actually received.
func (a *Assembly) BeginChunk(r ByteRange) error {
	if a.err != nil {
		return a.err
	}
	return a.fail(a.beginChunk(r))
}

func (a *Assembly) beginChunk(r ByteRange) error {
	if a.aborted {
		return &StatusError{Code: 400, Comment: "Message Aborted", Err: ErrMessageAborted}
	}
	if !r.valid() {
		return badRequest(ErrBadByteRange, "Malformed Byte-Range")
	}
	if r.Total != Unknown && r.Total > a.maxSize || r.End != Unknown && r.End > a.maxSize || r.Start-1 > a.maxSize {
		return tooLarge(ErrMessageTooLarge)
	}
	if t := a.Total(); t != Unknown && (r.Start-1 > t || r.End != Unknown && r.End > t) {
		return badRequest(ErrBeyondTotal, "Byte-Range Beyond Total")
	}
	return a.learnDeclared(r.Total)
}

func (a *Assembly) learnDeclared(total int64) error {
	if total == Unknown {
		return nil
	}
	if a.declared != Unknown && a.declared != total && a.final == Unknown {
		return badRequest(ErrBeyondTotal, "Conflicting Totals")
	}
	if a.declared == Unknown {
		if a.hiReceived() > total {
			return badRequest(ErrBeyondTotal, "Data Beyond Total")
		}
		a.declared = total
	}
	return nil
}

// Write writes data received for the octets starting at the 1-based
// position pos (for a chunk: its range-start plus the octets of its body
// already written). It may be called once per body segment while a chunk
// streams. Bounds are checked before writing: past maxSize is a 413
// *StatusError, past the known total a 400 one; an error from the
// destination is returned wrapped.
func (a *Assembly) Write(pos int64, data []byte) error {
	if a.err != nil {
		return a.err
	}
	return a.fail(a.write(pos, data))
}

func (a *Assembly) write(pos int64, data []byte) error {
	if a.aborted {
		return &StatusError{Code: 400, Comment: "Message Aborted", Err: ErrMessageAborted}
	}
	if pos < 1 || pos > maxRangeValue {
		return badRequest(ErrBadByteRange, "Position Out Of Range")
	}
	if len(data) == 0 {
		return nil
	}
	end := pos + int64(len(data)) - 1
	if end > a.maxSize {
		return tooLarge(ErrMessageTooLarge)
	}
	if t := a.Total(); t != Unknown && end > t {
		return badRequest(ErrBeyondTotal, "Data Beyond Total")
	}
	if err := a.add(pos, end, true); err != nil {
		return err
	}
	if _, err := a.dst.WriteAt(data, pos-1); err != nil {
		return fmt.Errorf("msrp: storing chunk data: %w", err)
	}
	a.add(pos, end, false)
	return nil
}

// EndChunk records the end of a chunk: r is its Byte-Range (for a SEND
// without one, 1-*/*), got the number of body octets actually received
// and flag its end-line flag. "$" fixes the total at r.Start+got-1; "#"
// aborts the message (Aborted reports true, and further data is refused).
func (a *Assembly) EndChunk(r ByteRange, got int64, flag Flag) error {
	if a.err != nil {
		return a.err
	}
	return a.fail(a.endChunk(r, got, flag))
}

func (a *Assembly) endChunk(r ByteRange, got int64, flag Flag) error {
	if a.aborted {
		return &StatusError{Code: 400, Comment: "Message Aborted", Err: ErrMessageAborted}
	}
	if !r.valid() || got < 0 || got > maxRangeValue {
		return badRequest(ErrBadByteRange, "Malformed Byte-Range")
	}
	switch flag {
	case FlagAbort:
		a.aborted = true
		return nil
	case FlagEnd:
		t := r.Start + got - 1
		if a.final != Unknown && a.final != t {
			return badRequest(ErrBeyondTotal, "Conflicting Final Chunks")
		}
		if a.hiReceived() > t {
			return badRequest(ErrBeyondTotal, "Data Beyond Final Chunk")
		}
		if t > a.maxSize {
			return tooLarge(ErrMessageTooLarge)
		}
		a.final = t
		// A stated total that disagrees with the "$" chunk is overridden
		// (§7.3.1); the example of RFC 4975 §11.4 needs this.
		return nil
	}
	if err := a.learnDeclared(r.Total); err != nil {
		return err
	}
	return nil
}

// fail records the first error: an inconsistent or oversized message is
// refused as a whole, so it can never become Complete.
func (a *Assembly) fail(err error) error {
	if err != nil {
		a.err = err
	}
	return err
}

// Err returns the first error the Assembly reported, or nil.
func (a *Assembly) Err() error { return a.err }

// hiReceived returns the highest received position, or 0.
func (a *Assembly) hiReceived() int64 {
	if len(a.ranges) == 0 {
		return 0
	}
	return a.ranges[len(a.ranges)-1].hi
}

// add merges [lo, hi] into the received ranges. With check set it only
// reports whether the merge would exceed MaxFragments.
func (a *Assembly) add(lo, hi int64, check bool) error {
	rs := a.ranges
	// Fast path: in-order data extending the last range.
	if n := len(rs); n > 0 && lo <= rs[n-1].hi+1 && lo >= rs[n-1].lo {
		if !check && hi > rs[n-1].hi {
			a.received += hi - rs[n-1].hi
			rs[n-1].hi = hi
		}
		return nil
	}
	// First range touching or after lo-1.
	i := sort.Search(len(rs), func(i int) bool { return rs[i].hi+1 >= lo })
	j := i // first range starting after hi+1
	for j < len(rs) && rs[j].lo <= hi+1 {
		j++
	}
	if check {
		if i == j && len(rs) >= MaxFragments {
			return tooLarge(ErrTooFragmented)
		}
		return nil
	}
	nlo, nhi := lo, hi
	var covered int64
	for k := i; k < j; k++ {
		nlo, nhi = min(nlo, rs[k].lo), max(nhi, rs[k].hi)
		covered += rs[k].hi - rs[k].lo + 1
	}
	a.received += (nhi - nlo + 1) - covered
	merged := span{nlo, nhi}
	if i == j {
		a.ranges = append(rs, span{})
		copy(a.ranges[i+1:], a.ranges[i:])
		a.ranges[i] = merged
		return nil
	}
	rs[i] = merged
	a.ranges = append(rs[:i+1], rs[j:]...)
	return nil
}

// Total returns the message size in octets: defined by the "$" chunk when
// seen, else stated by a Byte-Range, else Unknown.
func (a *Assembly) Total() int64 {
	if a.final != Unknown {
		return a.final
	}
	return a.declared
}

// Received returns the number of distinct octets received so far: the
// range a success REPORT covers (RFC 4975 §7.1.3).
func (a *Assembly) Received() int64 { return a.received }

// Aborted reports whether a chunk ended with "#".
func (a *Assembly) Aborted() bool { return a.aborted }

// Complete reports whether the "$" chunk has been seen and every octet
// 1..Total has been received (RFC 4975 §7.3.1).
func (a *Assembly) Complete() bool {
	if a.err != nil || a.aborted || a.final == Unknown {
		return false
	}
	if a.final == 0 {
		return true
	}
	return len(a.ranges) == 1 && a.ranges[0].lo == 1 && a.ranges[0].hi == a.final
}

// Ranges returns the received octets as disjoint, ascending Byte-Ranges
// whose Total is Total() (Unknown if not known yet), suitable for
// incremental success REPORTs (RFC 4975 §7.1.3).
func (a *Assembly) Ranges() []ByteRange {
	out := make([]ByteRange, len(a.ranges))
	t := a.Total()
	for i, s := range a.ranges {
		out[i] = ByteRange{Start: s.lo, End: s.hi, Total: t}
	}
	return out
}

// MemoryBuffer is an io.WriterAt in memory that grows only as far as data
// is written, up to a limit: a declared Byte-Range total allocates
// nothing (RFC 4975 §14.5).
type MemoryBuffer struct {
	b   []byte
	max int64
}

// NewMemoryBuffer returns an empty MemoryBuffer holding at most max
// octets (max ≤ 0: no limit).
func NewMemoryBuffer(max int64) *MemoryBuffer {
	if max <= 0 {
		max = maxRangeValue
	}
	return &MemoryBuffer{max: max}
}

// WriteAt writes p at offset off, growing the buffer (zero-filled) as
// needed. Writing past the limit fails with ErrMessageTooLarge and writes
// nothing.
func (m *MemoryBuffer) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("msrp: negative offset")
	}
	end := off + int64(len(p))
	if end > m.max || end < off {
		return 0, ErrMessageTooLarge
	}
	if end > int64(len(m.b)) {
		if end > int64(cap(m.b)) {
			nc := max(2*int64(cap(m.b)), end, 512)
			nc = min(nc, m.max)
			nb := make([]byte, end, nc)
			copy(nb, m.b)
			m.b = nb
		} else {
			m.b = m.b[:end]
		}
	}
	copy(m.b[off:], p)
	return len(p), nil
}

// Bytes returns the data written so far (up to the highest offset
// written). It aliases the buffer.
func (m *MemoryBuffer) Bytes() []byte { return m.b }

// Len returns the length of Bytes.
func (m *MemoryBuffer) Len() int { return len(m.b) }
