package cpimtransport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Defaults for ReaderOptions.
const (
	// DefaultMaxMessageSize is the default limit on the outer Content-Length.
	DefaultMaxMessageSize = 16 << 20
	// DefaultMaxHeaderLine is the default limit on an outer header line.
	DefaultMaxHeaderLine = 1024
	// DefaultMaxGarbage is the default limit on bytes discarded in a row.
	DefaultMaxGarbage = 64 << 10
)

// ReaderOptions bound what a Reader accepts. The zero value selects the
// defaults.
type ReaderOptions struct {
	// MaxMessageSize is the largest outer Content-Length accepted. A larger
	// message is skipped without being buffered: Next returns a *FrameError
	// wrapping ErrMessageTooLarge and the following Next discards its
	// octets. 0 means DefaultMaxMessageSize.
	MaxMessageSize int64
	// MaxHeaderLine is the longest outer header line, CRLF included. Longer
	// lines cannot be envelope headers and are discarded as garbage.
	// 0 means DefaultMaxHeaderLine.
	MaxHeaderLine int
	// MaxGarbage is the largest run of octets Next discards while looking
	// for the next envelope before it gives up with ErrTooMuchGarbage
	// (a connection error). 0 means DefaultMaxGarbage; negative means no
	// limit.
	MaxGarbage int64
}

func (o *ReaderOptions) withDefaults() ReaderOptions {
	var v ReaderOptions
	if o != nil {
		v = *o
	}
	if v.MaxMessageSize <= 0 {
		v.MaxMessageSize = DefaultMaxMessageSize
	}
	if v.MaxHeaderLine <= 0 {
		v.MaxHeaderLine = DefaultMaxHeaderLine
	}
	if v.MaxGarbage == 0 {
		v.MaxGarbage = DefaultMaxGarbage
	}
	return v
}

// Framing errors. A *FrameError (wrapping ErrGarbage or ErrMessageTooLarge)
// is recoverable: the stream is still framed and the next call to Next goes
// on with the next envelope. Every other error from a Reader means the
// stream can no longer be framed and the connection must be closed.
var (
	// ErrGarbage: octets that are not part of any envelope were discarded
	// (draft §6.1: "MUST discard any data prior to a first outer MIME
	// header"). Recoverable.
	ErrGarbage = errors.New("cpimtransport: discarded octets outside a message envelope")
	// ErrMessageTooLarge: the outer Content-Length exceeds
	// ReaderOptions.MaxMessageSize; the message is skipped. Recoverable.
	ErrMessageTooLarge = errors.New("cpimtransport: message larger than the limit")
	// ErrTooMuchGarbage: more than ReaderOptions.MaxGarbage octets in a row
	// were not part of any envelope. Close the connection.
	ErrTooMuchGarbage = errors.New("cpimtransport: too much data outside message envelopes")
	// ErrTruncated: the stream ended inside an envelope or a message body.
	// It wraps io.ErrUnexpectedEOF. Close the connection.
	ErrTruncated = fmt.Errorf("cpimtransport: stream ended inside a message: %w", io.ErrUnexpectedEOF)
)

// FrameError is a recoverable framing problem: Discarded octets starting at
// stream offset Offset were thrown away (ErrGarbage), or a message of Length
// octets exceeds the limit and is being skipped (ErrMessageTooLarge).
type FrameError struct {
	Offset    int64
	Discarded int64
	Length    int64
	Reason    string
	Err       error
}

func (e *FrameError) Error() string {
	if errors.Is(e.Err, ErrMessageTooLarge) {
		return fmt.Sprintf("%v: Content-Length %d at offset %d", e.Err, e.Length, e.Offset)
	}
	return fmt.Sprintf("%v: %d octets at offset %d (%s)", e.Err, e.Discarded, e.Offset, e.Reason)
}

func (e *FrameError) Unwrap() error { return e.Err }

// Recoverable reports whether err is a framing problem after which the
// stream can still be read (a *FrameError). io.EOF and every other error
// are not recoverable.
func Recoverable(err error) bool {
	var fe *FrameError
	return errors.As(err, &fe)
}

// Reader frames CPIM transport messages (draft §6.1) from a byte stream:
// Next finds the next outer envelope and Read then returns its content, the
// message/cpim object, exactly Content-Length octets. A Reader is not safe
// for concurrent use.
type Reader struct {
	br   *bufio.Reader
	opts ReaderOptions

	off     int64 // octets consumed from br
	remain  int64 // unread octets of the current message
	skip    bool  // the current message is too large: Read returns io.EOF
	pending int64 // envelope found, returned on the next Next; -1 if none
	err     error // sticky connection error

	messages  int64
	discarded int64
	tail      []byte // the end of a long line
}

// NewReader returns a Reader reading from r. If r is a *bufio.Reader at
// least 4 KiB large it is used directly. opts may be nil.
func NewReader(r io.Reader, opts *ReaderOptions) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 4096 {
		br = bufio.NewReaderSize(r, 32<<10)
	}
	return &Reader{br: br, opts: opts.withDefaults(), pending: -1}
}

// Messages returns the number of envelopes framed so far.
func (r *Reader) Messages() int64 { return r.messages }

// Discarded returns the number of octets discarded as garbage so far,
// including skipped oversized messages.
func (r *Reader) Discarded() int64 { return r.discarded }

// Offset returns the number of octets consumed from the underlying stream.
func (r *Reader) Offset() int64 { return r.off }

// Next discards what is left of the current message and advances to the
// next envelope, returning its Content-Length. Blank lines between messages
// are skipped silently. Any other octets outside an envelope are discarded
// and reported first as a *FrameError wrapping ErrGarbage; the envelope
// found after them is returned by the following call. Next returns io.EOF
// when the stream ends cleanly between messages.
func (r *Reader) Next() (int64, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.remain > 0 {
		n, err := r.br.Discard(int(min(r.remain, int64(^uint(0)>>1))))
		r.off += int64(n)
		r.remain -= int64(n)
		if err != nil {
			return 0, r.fail(err)
		}
	}
	r.skip = false
	if r.pending >= 0 {
		return r.accept(r.pending)
	}

	var (
		garbageStart int64 = -1
		garbage      int64
		reason       string
		ctLen        int // length of a Content-Type line awaiting Content-Length
		clLen        int // length of the Content-Type + Content-Length lines
		length       int64
		state        = 0 // 0 seek, 1 after Content-Type, 2 after Content-Length
	)
	discard := func(n int64, why string) error {
		if garbageStart < 0 {
			garbageStart = r.off - n
			reason = why
		}
		garbage += n
		r.discarded += n
		if r.opts.MaxGarbage > 0 && garbage > r.opts.MaxGarbage {
			return r.fail(fmt.Errorf("%w: more than %d octets at offset %d", ErrTooMuchGarbage, r.opts.MaxGarbage, garbageStart))
		}
		return nil
	}
	for {
		limit := int64(-1)
		if r.opts.MaxGarbage > 0 {
			limit = max(r.opts.MaxGarbage-garbage-int64(held(state, ctLen, clLen)), 0)
		}
		line, ln, long, err := r.readLine(limit)
		if err == errGarbageLimit {
			// The run is over the limit before the line even ended (F5).
			h := int64(held(state, ctLen, clLen))
			if garbageStart < 0 {
				garbageStart = r.off - int64(ln) - h
			}
			r.discarded += int64(ln) + h
			return 0, r.fail(fmt.Errorf("%w: more than %d octets at offset %d", ErrTooMuchGarbage, r.opts.MaxGarbage, garbageStart))
		}
		if err != nil {
			if err == io.EOF && state == 0 {
				// The stream ended between messages; trailing garbage is
				// counted and dropped.
				r.discarded += int64(ln)
				r.err = io.EOF
				return 0, io.EOF
			}
			if err == io.EOF {
				r.discarded += int64(ln + held(state, ctLen, clLen))
				return 0, r.fail(ErrTruncated)
			}
			return 0, r.fail(err)
		}
		n := int64(ln)
		switch state {
		case 1:
			if v, ok := contentLength(line); ok && !long {
				state, clLen, length = 2, ctLen+ln, v
				continue
			}
			// §5: the second outer header is Content-Length; a Content-Type
			// line not followed by one was not an envelope.
			if err := discard(int64(ctLen), "Content-Type not followed by Content-Length"); err != nil {
				return 0, err
			}
			state = 0
		case 2:
			if isBlank(line) && !long {
				if garbage > 0 {
					r.pending = length
					return 0, &FrameError{Offset: garbageStart, Discarded: garbage, Reason: reason, Err: ErrGarbage}
				}
				return r.accept(length)
			}
			// §5: exactly two outer headers, then the separator.
			if err := discard(int64(clLen), "more than two outer headers"); err != nil {
				return 0, err
			}
			state = 0
		}
		// Looking for an envelope (§6.1).
		switch {
		case long:
		case isBlank(line):
			if garbage > 0 {
				if err := discard(n, reason); err != nil {
					return 0, err
				}
			}
			continue
		case isContentTypeCPIM(line):
			state, ctLen = 1, ln
			continue
		}
		// A message body has no terminator, so after a wrong Content-Length
		// the next envelope may start in the middle of a line.
		if i := ctIndex(line); i >= 0 && len(line)-i <= r.opts.MaxHeaderLine && isContentTypeCPIM(line[i:]) {
			if err := discard(n-int64(len(line)-i), "not an envelope"); err != nil {
				return 0, err
			}
			state, ctLen = 1, len(line)-i
			continue
		}
		why := "not an envelope"
		if long {
			why = "line too long for an envelope header"
		}
		if err := discard(n, why); err != nil {
			return 0, err
		}
	}
}

// ctIndex returns the index of the first "Content-Type:" in line, compared
// case-insensitively, or -1.
func ctIndex(line []byte) int {
	const name = "content-type:"
	for i := 0; i+len(name) <= len(line); i++ {
		if lower(line[i]) == 'c' && bytes.EqualFold(line[i:i+len(name)], []byte(name)) {
			return i
		}
	}
	return -1
}

// held returns the length of the envelope lines read but not yet accepted.
func held(state, ctLen, clLen int) int {
	switch state {
	case 1:
		return ctLen
	case 2:
		return clLen
	}
	return 0
}

// accept makes length the current message, or skips it when too large.
func (r *Reader) accept(length int64) (int64, error) {
	r.pending = -1
	r.messages++
	if length > r.opts.MaxMessageSize {
		// The limit is enforced before anything is allocated: the octets
		// are discarded by the next call to Next.
		r.remain = length
		r.skip = true
		r.discarded += length
		return 0, &FrameError{Offset: r.off, Length: length, Err: ErrMessageTooLarge}
	}
	r.remain = length
	return length, nil
}

func (r *Reader) fail(err error) error {
	if err == io.EOF {
		err = ErrTruncated
	}
	r.err = err
	return err
}

// readLine returns the next line including its terminator and its length
// n. long is true when the line exceeded MaxHeaderLine: its octets have then
// been consumed and line holds only its last MaxHeaderLine octets (where
// the next envelope may start, after a body with a wrong Content-Length).
//
// limit bounds the garbage a long line may add to the current run (-1: no
// bound). The octets of a long line are garbage except for at most
// MaxHeaderLine at its end, so once more than limit+MaxHeaderLine of them
// have been consumed readLine stops with errGarbageLimit, whether or not a
// line end ever comes (F5). The result does not depend on how the stream is
// split into reads.
func (r *Reader) readLine(limit int64) (line []byte, n int, long bool, err error) {
	maxLine := min(r.opts.MaxHeaderLine, r.br.Size())
	for {
		buf, _ := r.br.Peek(r.br.Buffered())
		if i := bytes.IndexByte(buf, '\n'); i >= 0 && i < maxLine {
			r.br.Discard(i + 1)
			r.off += int64(i + 1)
			return buf[:i+1], i + 1, false, nil
		}
		if len(buf) >= maxLine {
			break // too long for an envelope header
		}
		if _, err := r.br.Peek(len(buf) + 1); err != nil {
			buf, _ = r.br.Peek(r.br.Buffered())
			if bytes.IndexByte(buf, '\n') >= 0 {
				continue
			}
			r.br.Discard(len(buf))
			r.off += int64(len(buf))
			return buf, len(buf), false, err
		}
	}
	// Consume up to the end of the line, keeping only its tail.
	r.tail = r.tail[:0]
	for {
		buf, _ := r.br.Peek(r.br.Buffered())
		if len(buf) == 0 {
			if _, err := r.br.Peek(1); err != nil {
				return nil, n, false, err
			}
			continue
		}
		k, end := len(buf), false
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			k, end = i+1, true
		}
		r.tail = appendTail(r.tail, buf[:k], maxLine)
		r.br.Discard(k)
		r.off += int64(k)
		n += k
		if end {
			return r.tail, n, true, nil
		}
		if limit >= 0 && int64(n-maxLine) > limit {
			return nil, n, true, errGarbageLimit
		}
	}
}

// errGarbageLimit is readLine's signal that the garbage run is over
// MaxGarbage; Next turns it into ErrTooMuchGarbage.
var errGarbageLimit = errors.New("garbage limit")

// appendTail appends b to t and keeps the last max octets.
func appendTail(t, b []byte, max int) []byte {
	if len(b) >= max {
		return append(t[:0], b[len(b)-max:]...)
	}
	if over := len(t) + len(b) - max; over > 0 {
		t = t[:copy(t, t[over:])]
	}
	return append(t, b...)
}

// Read reads the content of the current message (the message/cpim object).
// It returns io.EOF at the end of the message, and ErrTruncated if the
// stream ends before Content-Length octets arrived.
func (r *Reader) Read(p []byte) (int, error) {
	if r.remain <= 0 || r.skip {
		return 0, io.EOF
	}
	if r.err != nil {
		return 0, r.err
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.br.Read(p)
	r.off += int64(n)
	r.remain -= int64(n)
	if err != nil {
		if r.remain > 0 {
			return n, r.fail(err)
		}
		if err == io.EOF {
			err = nil
		}
	}
	return n, err
}

// ReadMessage frames the next message and appends its content to dst. The
// error cases are those of Next.
func (r *Reader) ReadMessage(dst []byte) ([]byte, error) {
	n, err := r.Next()
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = growLen(dst, int(n))
	if _, err := io.ReadFull(r, dst[start:]); err != nil {
		return dst[:start], r.fail(ErrTruncated)
	}
	return dst, nil
}

func growLen(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

func isBlank(line []byte) bool {
	return len(line) == 2 && line[0] == '\r' || len(line) == 1
}

// trimLine strips the line terminator and trailing blanks.
func trimLine(line []byte) []byte {
	for len(line) > 0 {
		switch line[len(line)-1] {
		case ' ', '\t', '\r', '\n':
			line = line[:len(line)-1]
			continue
		}
		break
	}
	return line
}

// headerValue returns the value of line if its name equals name
// (case-insensitively: outer envelope headers are MIME headers, and the
// draft itself spells them "Content-type" and "content-length").
func headerValue(line []byte, name string) ([]byte, bool) {
	if len(line) <= len(name) || line[len(name)] != ':' {
		return nil, false
	}
	for i := 0; i < len(name); i++ {
		if lower(line[i]) != lower(name[i]) {
			return nil, false
		}
	}
	v := trimLine(line[len(name)+1:])
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	return v, true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// isContentTypeCPIM reports whether line is "Content-Type: message/cpim",
// optionally with MIME parameters (§5, §6.1).
func isContentTypeCPIM(line []byte) bool {
	if string(line) == "Content-Type: message/cpim\r\n" {
		return true // the form AppendEnvelope writes
	}
	v, ok := headerValue(line, "Content-Type")
	if !ok {
		return false
	}
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		v = bytes.TrimRight(v[:i], " \t")
	}
	return bytes.EqualFold(v, []byte("message/cpim"))
}

// contentLength parses a "Content-Length: N" line.
func contentLength(line []byte) (int64, bool) {
	v, ok := headerValue(line, "Content-Length")
	if !ok || len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0') // 18 digits cannot overflow
	}
	return n, true
}

// AppendEnvelope appends the outer envelope for a message of n octets
// (draft §5): exactly two headers, Content-Type then Content-Length, and
// the blank line. Content-Length counts everything after the blank line.
func AppendEnvelope(b []byte, n int64) []byte {
	b = append(b, "Content-Type: message/cpim\r\nContent-Length: "...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, "\r\n\r\n"...)
}

// AppendFrame appends msg, a complete message/cpim object, inside its
// outer envelope.
func AppendFrame(b, msg []byte) []byte {
	return append(AppendEnvelope(b, int64(len(msg))), msg...)
}

// Writer writes framed messages to a stream through a buffer. It is not
// safe for concurrent use.
type Writer struct {
	bw  *bufio.Writer
	env [64]byte
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 32<<10)}
}

// WriteMessage writes msg, a complete message/cpim object, in its envelope.
// Call Flush to push buffered data to the stream.
func (w *Writer) WriteMessage(msg []byte) error {
	if _, err := w.bw.Write(AppendEnvelope(w.env[:0], int64(len(msg)))); err != nil {
		return err
	}
	_, err := w.bw.Write(msg)
	return err
}

// WriteMessageFrom writes an envelope for n octets and copies exactly n
// octets from r. If r ends early the stream can no longer be framed; the
// error wraps io.ErrUnexpectedEOF and the connection must be closed.
func (w *Writer) WriteMessageFrom(n int64, r io.Reader) error {
	if _, err := w.bw.Write(AppendEnvelope(w.env[:0], n)); err != nil {
		return err
	}
	c, err := io.CopyN(w.bw, r, n)
	if err == io.EOF || (err == nil && c < n) {
		return fmt.Errorf("cpimtransport: body ended after %d of %d octets: %w", c, n, io.ErrUnexpectedEOF)
	}
	return err
}

// Flush writes buffered data to the stream.
func (w *Writer) Flush() error { return w.bw.Flush() }

// Buffered returns the number of octets waiting for Flush.
func (w *Writer) Buffered() int { return w.bw.Buffered() }
