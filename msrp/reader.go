package msrp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
)

// Default limits (Limits zero values). They bound the memory one frame
// head can take; bodies are streamed and never buffered whole.
const (
	DefaultMaxLineLength  = 8 << 10  // one start or header line
	DefaultMaxHeaders     = 64       // header lines per frame
	DefaultMaxHeaderBytes = 32 << 10 // start line plus all header lines
	DefaultMaxNonSendBody = 10240    // RFC 4975 §7.1: non-SEND bodies ≤ 10240 octets
	readerBufferSize      = 64 << 10 // bufio buffer: also the largest zero-copy body segment
)

// Limits bounds what a Reader accepts. The zero value of each field means
// its documented default.
type Limits struct {
	// MaxLineLength bounds one start line or header line, CRLF included.
	// Default DefaultMaxLineLength (8 KiB).
	MaxLineLength int
	// MaxHeaders bounds the number of header lines of a frame. Default
	// DefaultMaxHeaders (64).
	MaxHeaders int
	// MaxHeaderBytes bounds the start line and header lines together.
	// Default DefaultMaxHeaderBytes (32 KiB).
	MaxHeaderBytes int
	// MaxChunkSize bounds the body of one SEND request. Zero means no
	// per-chunk bound: bodies are streamed, so memory stays bounded
	// regardless, and whole messages are bounded by Assembly's maxSize.
	MaxChunkSize int64
	// MaxNonSendBody bounds the body of any other frame. Default
	// DefaultMaxNonSendBody, the 10240 octets of RFC 4975 §7.1.
	MaxNonSendBody int
}

func (l Limits) withDefaults() Limits {
	if l.MaxLineLength <= 0 {
		l.MaxLineLength = DefaultMaxLineLength
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxChunkSize < 0 {
		l.MaxChunkSize = 0
	}
	if l.MaxNonSendBody <= 0 {
		l.MaxNonSendBody = DefaultMaxNonSendBody
	}
	return l
}

// Reader reads MSRP frames from a byte stream (RFC 4975 §9): the head
// (start line and headers) with ReadFrame, then the body with Read or
// NextBodySegment up to the end-line. It does its own buffering (64 KiB,
// or more when the head limits need it; NewReaderSize starts smaller and
// grows on demand) and is not safe for concurrent use.
//
// Framing follows §7.1: the end-line is "-------" tid flag CRLF, preceded
// by a CRLF that is not part of the body. It is recognised across read
// boundaries, and "-------" followed by anything else (another tid, a tid
// with ours as prefix, a bad flag) is just body. An empty body (blank line
// then end-line) is distinct from no body (end-line right after the
// headers).
//
// A malformed frame that is still delimited comes back as a partial Frame
// with a *StatusError (see ReadFrame), holding what a caller needs to
// answer it (RFC 4975 §7.1.1, §10.2: a malformed request gets a 400):
//
//   - A start line "MSRP" SP tid SP token whose token is not a three-digit
//     status code and does not start with a digit is a request: Method is
//     set to the token as read (up to the next SP), even when it is not a
//     valid method ("send", "SEND x"), so IsRequest reports true. A token
//     starting with a digit ("2x0 OK", "2000") is a malformed response,
//     and "MSRP tid" with nothing after the tid is neither: both have no
//     Method and are not to be answered.
//   - To-Path and From-Path are parsed wherever they appear in the header
//     block, also out of order (From-Path first, To-Path not the first
//     header) and after the error: the first header of each name is used,
//     and a path that does not parse stays nil.
type Reader struct {
	br  readBuf
	lim Limits
	off int64 // bytes consumed from br
	err error // sticky fatal error

	lines []int        // start offset of each line of the current head
	win   []byte       // buffered input while the head is scanned
	paths [2]pathCache // last To-Path and From-Path parsed

	endPat      []byte // "\r\n-------" + tid
	atLineStart bool   // an end-line may start here without its CRLF
	endLen      int    // length of the end-line found by scan
	endFlag     Flag
	endNext     bool // the end-line found by scan follows at the buffer head

	inBody  bool   // a body is being read
	cur     *Frame // frame whose body is being read
	bodyN   int64  // body octets returned so far
	bodyMax int64  // limit for the current body, 0 = none
	bodyErr error  // sticky body error (limit), cleared by ReadFrame
}

// NewReader returns a Reader reading from rd with the given limits. Its
// buffer is the largest one (64 KiB, or more for large head limits),
// taken at the first read.
func NewReader(rd io.Reader, lim Limits) *Reader {
	return NewReaderSize(rd, lim, 0)
}

// NewReaderSize is NewReader with a buffer that starts at first octets
// (at least MinReaderBuffer; 0 or more than the largest size means the
// largest) and grows, doubling, up to the size NewReader uses: when a
// head needs more room, and when reads keep filling it (a stream of large
// chunks), so that a busy connection soon reads as NewReader's does. A
// connection that only carries small frames (AUTH, short messages) keeps
// a small buffer; Release gives it back while the connection is idle.
func NewReaderSize(rd io.Reader, lim Limits, first int) *Reader {
	lim = lim.withDefaults()
	// The whole head is scanned in the buffer: room for MaxHeaderBytes,
	// one more line (the one that overflows) and the end-line.
	size := max(readerBufferSize, lim.MaxHeaderBytes+lim.MaxLineLength+64)
	if first <= 0 || first > size {
		first = size
	}
	first = max(first, MinReaderBuffer)
	return &Reader{br: readBuf{rd: rd, first: first, max: size}, lim: lim}
}

// Buffered returns the number of input octets read from the underlying
// reader but not yet consumed: zero between frames means the Reader holds
// nothing of the next frame yet (see Release). It may be called from the
// underlying reader's Read.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// Idle reports whether the Reader is between frames (no body being read
// or skipped, no fatal error) with nothing buffered: dropping it now, or
// ending a Read of the underlying reader with an error, loses no input.
// It may be called from the underlying reader's Read.
func (r *Reader) Idle() bool {
	return r.err == nil && !r.inBody && !r.endNext && r.br.Buffered() == 0
}

// Release gives the Reader's buffer back, to a pool shared by Readers,
// when nothing is buffered (Buffered is zero), and reports whether it
// did. Call it when a connection goes idle; the next read takes a buffer
// of the first size again (see NewReaderSize). A slice returned by
// NextBodySegment is invalid afterwards.
func (r *Reader) Release() bool {
	if r.win != nil {
		return false // a head is being scanned (called from a Read)
	}
	return r.br.release()
}

// frameAlloc puts a Frame and the backing arrays of its common slices in
// one allocation.
type frameAlloc struct {
	f    Frame
	to   [1]URI
	from [1]URI
	hdr  [2]Header
}

// ReadFrame reads the next frame's start line and headers. Any unread body
// of the previous frame is discarded first.
//
// For a bodiless frame (f.HasBody() false) the end-line has been read and
// f.Flag is set. Otherwise read the body with Read or NextBodySegment up to
// io.EOF, after which f.Flag is set.
//
// Errors: a *StatusError comes with a non-nil, partly parsed Frame (TID,
// Method or StatusCode, and the paths when they parsed, as described on
// Reader) and means the frame was malformed or over a limit but has been
// skipped up to and including its end-line: answer it if it is a request
// (IsRequest) and call ReadFrame again. Its Method need not be a valid
// method and its paths need not be in order; see Reader. Any other error (io.EOF between frames, io.ErrUnexpectedEOF,
// *ProtocolError, a read error) is sticky and means the connection must
// be closed.
func (r *Reader) ReadFrame() (*Frame, error) {
	if r.err != nil {
		return nil, r.err
	}
	fa := new(frameAlloc)
	fa.f.ToPath, fa.f.FromPath, fa.f.Headers = fa.to[:0], fa.from[:0], fa.hdr[:0]
	if err := r.readFrame(&fa.f); err != nil {
		var se *StatusError
		if errors.As(err, &se) {
			fa.f.fixEmpty()
			return &fa.f, err
		}
		return nil, err
	}
	fa.f.fixEmpty()
	return &fa.f, nil
}

// ReadFrameInto is ReadFrame into a Frame owned by the caller, to read a
// stream without allocating a Frame each time. f is overwritten; the
// backing arrays of its ToPath, FromPath and Headers are reused, so no
// reference into the previous contents of those slices may be kept. The
// error contract is that of ReadFrame; on a *StatusError f holds the
// partly parsed frame.
func (r *Reader) ReadFrameInto(f *Frame) error {
	err := r.readFrame(f)
	f.fixEmpty()
	return err
}

// fixEmpty turns the empty slices left by parsing into nil, as documented
// on Frame (a frame without such headers has nil slices).
func (f *Frame) fixEmpty() {
	if len(f.ToPath) == 0 {
		f.ToPath = nil
	}
	if len(f.FromPath) == 0 {
		f.FromPath = nil
	}
	if len(f.Headers) == 0 {
		f.Headers = nil
	}
}

func (r *Reader) readFrame(dst *Frame) error {
	if r.err != nil {
		return r.err
	}
	if r.inBody {
		if err := r.skipBody(); err != nil {
			return r.fatal(err)
		}
	}
	// Reset dst only now: skipping may have set the flag of the previous
	// frame, which may be dst itself.
	*dst = Frame{ToPath: dst.ToPath[:0], FromPath: dst.FromPath[:0], Headers: dst.Headers[:0]}
	r.lines = r.lines[:0]
	r.cur = nil

	// The head is scanned in place in the buffer, which is sized to hold
	// MaxHeaderBytes plus a line, and consumed with one copy into the
	// string that all header values are sliced from.

	// Start line (RFC 4975 §9 req-start / resp-start). Empty lines between
	// frames are skipped.
	var line []byte
	r.win = r.peek(r.br.Buffered())
	for {
		n, err := r.lineEnd(0, true)
		if err != nil {
			if err == ErrLineTooLong {
				return r.fatal(r.protoErr(ErrLineTooLong, "start line"))
			}
			return r.fatal(err)
		}
		line = r.win[:n]
		if len(line) == 2 && line[0] == '\r' || len(line) == 1 {
			r.discard(n)
			r.win = r.peek(r.br.Buffered())
			continue
		}
		break
	}
	if len(line) < 5 || string(line[:5]) != "MSRP " {
		return r.fatal(r.protoErr(ErrBadStartLine, "no MSRP prefix"))
	}
	tidEnd := 5
	for tidEnd < len(line) && line[tidEnd] != ' ' && line[tidEnd] != '\r' && line[tidEnd] != '\n' {
		tidEnd++
	}
	tid := line[5:tidEnd]
	if !validIdentBytes(tid) {
		return r.fatal(r.protoErr(ErrBadTID, ""))
	}
	r.endPat = append(append(r.endPat[:0], "\r\n-------"...), tid...)
	r.lines = append(r.lines, 0)
	headLen := len(line) // octets of complete lines in the head

	// Header lines, up to the blank line (body follows) or the end-line
	// (bodiless frame).
	var limitErr error // set when accumulation stopped on a limit
	body := false
	consumed := 0 // octets after the head to consume with it
	for {
		n, err := r.lineEnd(headLen, false)
		if err != nil {
			if err == ErrLineTooLong {
				// n octets of the line are buffered; drop them too.
				limitErr = ErrLineTooLong
				consumed = n - headLen
				r.atLineStart = n > 0 && r.win[n-1] == '\n'
				break
			}
			return r.fatal(err)
		}
		line = r.win[headLen:n]
		if len(line) >= 7 && string(line[:7]) == "-------" {
			if !r.isEndLine(line) {
				r.discard(headLen)
				return r.fatal(r.protoErr(ErrBadEndLine, "in header section"))
			}
			r.endFlag = Flag(line[len(line)-3])
			consumed = len(line)
			break
		}
		if len(line) == 2 && line[0] == '\r' {
			body = true
			consumed = 2
			break
		}
		if len(r.lines) > r.lim.MaxHeaders {
			limitErr = ErrTooManyHeaders
			consumed = len(line)
			r.atLineStart = line[len(line)-1] == '\n'
			break
		}
		if headLen+len(line) > r.lim.MaxHeaderBytes {
			limitErr = ErrHeaderTooLarge
			consumed = len(line)
			r.atLineStart = true
			break
		}
		r.lines = append(r.lines, headLen)
		headLen += len(line)
	}
	head := string(r.win[:headLen])
	r.win = nil
	r.discard(headLen + consumed)

	f := dst
	perr := parseHead(f, head, r.lines, &r.paths)
	switch {
	case limitErr != nil:
		if err := r.skipBody(); err != nil {
			return r.fatal(err)
		}
		f.Flag = r.endFlag
		return tooLarge(limitErr)
	case body:
		if perr == nil && f.ContentType == "" {
			perr = badRequest(ErrMissingContentType, "Missing Content-Type")
		}
		r.atLineStart = true // the blank line's CRLF may double as the end-line's
		if perr != nil {
			if err := r.skipBody(); err != nil {
				return r.fatal(err)
			}
			f.Flag = r.endFlag
			return perr
		}
		r.inBody = true
		r.cur = f
		r.bodyN = 0
		r.bodyErr = nil
		if f.Method == MethodSEND {
			r.bodyMax = r.lim.MaxChunkSize
		} else {
			r.bodyMax = int64(r.lim.MaxNonSendBody)
		}
		return nil
	default:
		f.Flag = r.endFlag
		if perr == nil && f.ContentType != "" {
			perr = badRequest(ErrContentTypeNotLast, "Content-Type Without Body")
		}
		if perr != nil {
			return perr
		}
		return nil
	}
}

// lineEnd returns the offset just past the '\n' ending the line that
// starts at offset off of the unread input, reading more input as needed
// without consuming any; r.win is the buffered input, refreshed when more
// is read. A line longer than MaxLineLength gives ErrLineTooLong with the
// offset just past its first MaxLineLength+1 octets, wherever the reads
// happened to end: what is consumed, and so how the frame is skipped,
// does not depend on how the input was split. At the
// end of input it returns io.EOF if first and nothing is buffered, else
// io.ErrUnexpectedEOF.
func (r *Reader) lineEnd(off int, first bool) (int, error) {
	scanned := off
	for {
		buf := r.win
		if i := bytes.IndexByte(buf[scanned:], '\n'); i >= 0 {
			end := scanned + i + 1
			if end-off > r.lim.MaxLineLength {
				return off + r.lim.MaxLineLength + 1, ErrLineTooLong
			}
			return end, nil
		}
		scanned = len(buf)
		if scanned-off > r.lim.MaxLineLength {
			return off + r.lim.MaxLineLength + 1, ErrLineTooLong
		}
		if _, err := r.br.Peek(len(buf) + 1); err != nil {
			if errors.Is(err, io.EOF) {
				if first && len(buf) == 0 {
					return 0, io.EOF
				}
				return 0, io.ErrUnexpectedEOF
			}
			if err == bufio.ErrBufferFull {
				return scanned, ErrLineTooLong
			}
			return 0, err
		}
		r.win = r.peek(r.br.Buffered())
	}
}

// peek returns the first n unread octets, which must be buffered.
func (r *Reader) peek(n int) []byte {
	b, _ := r.br.Peek(n)
	return b
}

// discard consumes n buffered octets.
func (r *Reader) discard(n int) {
	r.br.Discard(n)
	r.off += int64(n)
}

// isEndLine reports whether line is exactly "-------" tid flag CRLF.
func (r *Reader) isEndLine(line []byte) bool {
	tl := len(r.endPat) - 2
	return len(line) == tl+3 && bytes.Equal(line[:tl], r.endPat[2:]) &&
		isFlag(line[tl]) && line[tl+1] == '\r' && line[tl+2] == '\n'
}

func isFlag(c byte) bool { return c == '$' || c == '+' || c == '#' }

func (r *Reader) protoErr(err error, detail string) error {
	return &ProtocolError{Offset: r.off, Detail: detail, Err: err}
}

func (r *Reader) fatal(err error) error {
	r.err = err
	r.win = nil
	r.inBody = false
	r.endNext = false
	return err
}

// Read reads body octets of the current frame. At the end-line it returns
// io.EOF and the frame's Flag is set. Without a current body (bodiless
// frame, body already consumed) it returns 0, io.EOF. A body over its
// limit yields a *StatusError with code 413; the rest of it is discarded
// by the next ReadFrame.
func (r *Reader) Read(p []byte) (int, error) {
	seg, err := r.segment(len(p))
	n := copy(p, seg)
	return n, err
}

// NextBodySegment returns the next piece of the current frame's body
// straight from the Reader's buffer, without copying. The slice is valid
// only until the next call on r. At the end-line it returns nil, io.EOF
// and the frame's Flag is set. Errors are as for Read.
func (r *Reader) NextBodySegment() ([]byte, error) {
	return r.segment(math.MaxInt)
}

// segment returns up to max body octets, consumed from the buffer.
func (r *Reader) segment(max int) ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.bodyErr != nil {
		return nil, r.bodyErr
	}
	if !r.inBody {
		return nil, io.EOF
	}
	if max == 0 {
		return nil, nil
	}
	if r.endNext {
		// The previous segment ended right before the end-line.
		r.consumeEndLine()
		return nil, io.EOF
	}
	n, end, err := r.scan()
	if err != nil {
		return nil, r.fatal(err)
	}
	if n == 0 && end {
		r.consumeEndLine()
		return nil, io.EOF
	}
	if n > max {
		n, end = max, false
	}
	if r.bodyMax > 0 && r.bodyN+int64(n) > r.bodyMax {
		if r.cur.Method == MethodSEND {
			r.bodyErr = tooLarge(ErrChunkTooLarge)
		} else {
			r.bodyErr = tooLarge(ErrBodyTooLarge)
		}
		return nil, r.bodyErr
	}
	seg, _ := r.br.Peek(n)
	r.br.Discard(n)
	r.off += int64(n)
	r.bodyN += int64(n)
	r.endNext = end
	return seg, nil
}

func (r *Reader) consumeEndLine() {
	r.endNext = false
	r.br.Discard(r.endLen)
	r.off += int64(r.endLen)
	r.inBody = false
	if r.cur != nil {
		r.cur.Flag = r.endFlag
		r.cur = nil
	}
}

// skipBody discards input up to and including the current end-line.
func (r *Reader) skipBody() error {
	if r.endNext {
		r.consumeEndLine()
		r.bodyErr = nil
		return nil
	}
	for {
		n, end, err := r.scan()
		if err != nil {
			return err
		}
		r.br.Discard(n)
		r.off += int64(n)
		if end {
			r.consumeEndLine()
			r.bodyErr = nil
			return nil
		}
	}
}

// scan looks for the end-line in the buffered input. It returns n > 0
// octets at the head of the buffer that are certainly body; end reports
// that the end-line (r.endLen octets, flag r.endFlag) follows right after
// those n octets (n may be 0).
func (r *Reader) scan() (n int, end bool, err error) {
	pat := r.endPat
	need := len(pat) + 3 // CRLF "-------" tid flag CRLF
	for {
		buf, _ := r.br.Peek(r.br.Buffered())
		if len(buf) == 0 {
			if err := r.fill(); err != nil {
				return 0, false, err
			}
			continue
		}
		if r.atLineStart {
			// The end-line directly after a line end, without its own CRLF
			// (RFC 4975 §7.1 bodiless frames; an empty body whose sender
			// omitted the CRLF). Unambiguous: a body may not contain the
			// end-line at all (§7.1).
			p := pat[2:]
			k := min(len(buf), len(p))
			if !bytes.Equal(buf[:k], p[:k]) {
				r.atLineStart = false
			} else if len(buf) < need-2 {
				if err := r.fill(); err != nil {
					return 0, false, err
				}
				continue
			} else if f := buf[len(p)]; isFlag(f) && buf[len(p)+1] == '\r' && buf[len(p)+2] == '\n' {
				r.atLineStart = false
				r.endLen, r.endFlag = need-2, Flag(f)
				return 0, true, nil
			} else {
				r.atLineStart = false
			}
		}
		// Search for "-------" tid and check the CRLF before it: line ends
		// are common in bodies, runs of hyphens followed by a random tid
		// are not (RFC 4975 §7.3.1 suggests searching for the hyphens). A
		// candidate never starts before the buffer: scan keeps back any
		// tail that might begin one.
		dpat := pat[2:]
		from := 0
		for from+2 < len(buf) {
			j := bytes.Index(buf[from+2:], dpat)
			if j < 0 {
				break
			}
			i := from + j // candidate end-line start
			from = i + 1
			if buf[i] != '\r' || buf[i+1] != '\n' {
				continue
			}
			if len(buf)-i < need {
				if i > 0 {
					return i, false, nil
				}
				goto fill
			}
			if f := buf[i+len(pat)]; isFlag(f) && buf[i+len(pat)+1] == '\r' && buf[i+len(pat)+2] == '\n' {
				r.endLen, r.endFlag = need, Flag(f)
				return i, true, nil
			}
		}
		// No end-line in buf. Keep back a tail that may begin one.
		{
			safe := len(buf)
			start := max(len(buf)-len(pat)+1, from, 0)
			for k := start; k < len(buf); k++ {
				if buf[k] == '\r' && bytes.HasPrefix(pat, buf[k:]) {
					safe = k
					break
				}
			}
			if safe > 0 {
				return safe, false, nil
			}
		}
	fill:
		if err := r.fill(); err != nil {
			return 0, false, err
		}
	}
}

// fill reads more input into the buffer, keeping what is buffered.
func (r *Reader) fill() error {
	err := r.br.fill(r.br.Buffered() + 1)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// Canonical report header values, so parsed frames share the constants.
const (
	reportYes     = "yes"
	reportNo      = "no"
	reportPartial = "partial"
)

// parseHead parses a head (start line and header lines, each ending in
// CRLF, starting at the offsets in lines) into a Frame. On error it
// returns the fields parsed so far together with a *StatusError.
// Requirements (RFC 4975 §9, §7.1): To-Path then From-Path as the first
// two headers; Content-Type, if any, last; known headers at most once.
func parseHead(f *Frame, s string, lines []int, pc *[2]pathCache) *StatusError {
	err := parseHeadStrict(f, s, lines, pc)
	if err != nil {
		salvagePaths(f, s, lines, pc)
	}
	return err
}

// headLine returns line i of head s (see parseHead) without its line end,
// and whether that line end was CRLF.
func headLine(s string, lines []int, i int) (string, bool) {
	end := len(s)
	if i+1 < len(lines) {
		end = lines[i+1]
	}
	l := s[lines[i]:end]
	if len(l) < 2 || l[len(l)-2] != '\r' {
		return l[:len(l)-1], false
	}
	return l[:len(l)-2], true
}

// parseHeadStrict is parseHead without the salvage of the paths: it stops
// at the first error.
func parseHeadStrict(f *Frame, s string, lines []int, pc *[2]pathCache) *StatusError {
	line := func(i int) (string, bool) { return headLine(s, lines, i) }

	// Start line: "MSRP " tid SP (method / code [SP comment]).
	sl, crlf := line(0)
	rest := sl[5:]
	sp := 0
	for sp < len(rest) && rest[sp] != ' ' {
		sp++
	}
	f.TID = rest[:sp]
	if sp == len(rest) {
		if !crlf {
			return badRequest(ErrBadLineEnd, "Bad Line End")
		}
		return badRequest(ErrBadStartLine, "Missing Method")
	}
	rest = rest[sp+1:]
	code, tail, isCode := threeDigits(rest)
	if !isCode && rest != "" && !isDigit(rest[0]) && rest[0] != ' ' {
		// A request, maybe malformed: its method token is kept as read,
		// so that the caller can answer it 400 (RFC 4975 §7.1.1, §10.2;
		// see ReadFrame). Anything starting with a digit is a response.
		tok := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			tok = rest[:i]
		}
		f.Method = tok
	}
	if !crlf {
		return badRequest(ErrBadLineEnd, "Bad Line End")
	}
	if isCode {
		if code < 100 {
			// RFC 4975 §9 status-code is 3DIGIT, but codes are 100..999
			// (§10.2); a frame that Check and the Writer reject must
			// not read as valid.
			return badRequest(ErrBadStartLine, "Bad Status Line")
		}
		f.StatusCode = code
		if tail != "" {
			if tail[0] != ' ' || !validText(tail[1:]) {
				return badRequest(ErrBadStartLine, "Bad Status Line")
			}
			f.Comment = tail[1:]
		}
	} else {
		if rest == "" {
			return badRequest(ErrBadStartLine, "Missing Method")
		}
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; c < 'A' || c > 'Z' {
				return badRequest(ErrBadStartLine, "Bad Method")
			}
		}
	}

	var seen uint8 // bit per known single-instance header
	for i := 1; i < len(lines); i++ {
		l, crlf := line(i)
		if !crlf {
			return badRequest(ErrBadLineEnd, "Bad Line End")
		}
		// hname ":" value; hname = ALPHA *token (RFC 4975 §9).
		colon := 0
		for colon < len(l) && chars[l[colon]]&cToken != 0 {
			colon++
		}
		if colon == 0 || colon == len(l) || l[colon] != ':' || !isAlpha(l[0]) {
			return badRequest(ErrBadHeader, "Malformed Header")
		}
		name := l[:colon]
		value := trimOWS(l[colon+1:])
		if seen&seenCT != 0 {
			return badRequest(ErrContentTypeNotLast, "Content-Type Not Last")
		}
		isTo, isFrom := headerIs(name, "To-Path", "to-path"), headerIs(name, "From-Path", "from-path")
		switch {
		case i == 1 && !isTo, i == 2 && !isFrom, i > 2 && (isTo || isFrom):
			return badRequest(ErrMissingPath, "Bad Path Headers")
		case isTo:
			p, err := pc[0].parse(f.ToPath[:0], value)
			if err != nil {
				return badRequest(ErrBadURI, "Malformed To-Path")
			}
			f.ToPath = p
		case isFrom:
			p, err := pc[1].parse(f.FromPath[:0], value)
			if err != nil {
				return badRequest(ErrBadURI, "Malformed From-Path")
			}
			f.FromPath = p
		default:
			bit, err := f.setHeader(name, value)
			if err != nil {
				return err
			}
			if seen&bit != 0 {
				return badRequest(ErrDuplicateHeader, "Duplicate "+name)
			}
			seen |= bit
		}
	}
	if len(f.FromPath) == 0 {
		return badRequest(ErrMissingPath, "Missing Path Headers")
	}
	return nil
}

// salvagePaths fills in the To-Path and From-Path of a head that failed
// to parse from wherever they appear in it, in any order, so that the
// caller can address its 400 (RFC 4975 §7.1.1; FINDINGS F1). A path
// already parsed is kept; otherwise the first header of each name is
// tried, and one that does not parse leaves the path empty.
func salvagePaths(f *Frame, s string, lines []int, pc *[2]pathCache) {
	haveTo, haveFrom := len(f.ToPath) > 0, len(f.FromPath) > 0
	for i := 1; i < len(lines) && !(haveTo && haveFrom); i++ {
		l, crlf := headLine(s, lines, i)
		name, value, ok := strings.Cut(l, ":")
		if !crlf || !ok {
			continue
		}
		switch {
		case !haveTo && headerIs(name, "To-Path", "to-path"):
			haveTo = true
			if p, err := pc[0].parse(f.ToPath[:0], trimOWS(value)); err == nil {
				f.ToPath = p
			}
		case !haveFrom && headerIs(name, "From-Path", "from-path"):
			haveFrom = true
			if p, err := pc[1].parse(f.FromPath[:0], trimOWS(value)); err == nil {
				f.FromPath = p
			}
		}
	}
}

// pathCache remembers the last path value parsed and its URIs: within a
// session every frame carries the same To-Path and From-Path, so a string
// comparison replaces parsing them.
type pathCache struct {
	raw  string
	uris []URI
}

func (c *pathCache) parse(dst []URI, value string) ([]URI, error) {
	if value == c.raw && value != "" {
		return append(dst, c.uris...), nil
	}
	p, err := parsePathInto(dst, value)
	if err != nil || len(p) > 4 {
		return p, err
	}
	for _, u := range p {
		if u.Params != nil {
			return p, nil // would be shared between frames: do not cache
		}
	}
	c.raw = value
	c.uris = append(c.uris[:0], p...)
	return p, nil
}

// Duplicate-detection bits of the single-instance headers.
const (
	seenMsgID uint8 = 1 << iota
	seenSR
	seenFR
	seenBR
	seenStatus
	seenCT
)

// setHeader stores one header other than the paths. It returns the
// duplicate-detection bit of a known header (0 for others).
func (f *Frame) setHeader(name, value string) (uint8, *StatusError) {
	switch len(name) {
	case 10: // Message-ID, Byte-Range
		if headerIs(name, "Message-ID", "message-id") {
			if !ValidIdent(value) {
				return 0, badRequest(ErrBadMessageID, "Malformed Message-ID")
			}
			f.MessageID = value
			return seenMsgID, nil
		}
		if headerIs(name, "Byte-Range", "byte-range") {
			br, err := ParseByteRange(value)
			if err != nil {
				return 0, badRequest(ErrBadByteRange, "Malformed Byte-Range")
			}
			f.ByteRange, f.HasByteRange = br, true
			return seenBR, nil
		}
	case 14: // Success-Report, Failure-Report
		if headerIs(name, "Success-Report", "success-report") {
			switch {
			case (value == reportYes || equalFoldLower(value, reportYes)):
				f.SuccessReport = reportYes
			case (value == reportNo || equalFoldLower(value, reportNo)):
				f.SuccessReport = reportNo
			default:
				return 0, badRequest(ErrBadReportValue, "Malformed Success-Report")
			}
			return seenSR, nil
		}
		if headerIs(name, "Failure-Report", "failure-report") {
			switch {
			case (value == reportYes || equalFoldLower(value, reportYes)):
				f.FailureReport = reportYes
			case (value == reportNo || equalFoldLower(value, reportNo)):
				f.FailureReport = reportNo
			case (value == reportPartial || equalFoldLower(value, reportPartial)):
				f.FailureReport = reportPartial
			default:
				return 0, badRequest(ErrBadReportValue, "Malformed Failure-Report")
			}
			return seenFR, nil
		}
	case len("Status"):
		if headerIs(name, "Status", "status") {
			st, err := ParseStatus(value)
			if err != nil {
				return 0, badRequest(ErrBadStatus, "Malformed Status")
			}
			f.Status, f.HasStatus = st, true
			return seenStatus, nil
		}
	case len("Content-Type"):
		if headerIs(name, "Content-Type", "content-type") {
			if !validMediaType(value) || !validText(value) {
				return 0, badRequest(ErrBadContentType, "Malformed Content-Type")
			}
			f.ContentType = value
			return seenCT, nil
		}
	}
	// Values of typed headers are checked by their parsers; others must be
	// utf8text (no control characters).
	if !validText(value) {
		return 0, badRequest(ErrBadHeader, "Malformed Header")
	}
	f.Headers = append(f.Headers, Header{Name: name, Value: value})
	return 0, nil
}

// headerIs reports whether name is the header canon, in its canonical
// spelling (the fast, common case) or in any other case; lower is canon
// in lowercase.
func headerIs(name, canon, lower string) bool {
	if len(name) != len(canon) {
		return false
	}
	if name == canon {
		return true
	}
	return equalFoldLower(name, lower)
}

// equalFoldLower reports whether s equals lower, which is lowercase,
// ignoring ASCII case in s.
func equalFoldLower(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// validMediaType checks the type "/" subtype prefix of a Content-Type
// value (RFC 4975 §9 media-type); parameters are not validated further
// than utf8text.
func validMediaType(v string) bool {
	slash := -1
	i := 0
	for ; i < len(v); i++ {
		c := v[i]
		if c == '/' && slash < 0 {
			slash = i
			continue
		}
		if c == ';' || c == ' ' || c == '\t' {
			break
		}
		if !isTokenChar(c) {
			return false
		}
	}
	return slash > 0 && slash < i-1
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
