package msrp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// AppendHead appends f's start line and headers (RFC 4975 §9) to b:
// the start line, To-Path, From-Path, Message-ID, Byte-Range,
// Success-Report, Failure-Report, Status, then f.Headers in order, and,
// when f.ContentType is set, Content-Type as the last header followed by
// the blank line that starts the body (§7.1). AppendHead does not validate
// f; see (*Frame).Check.
func (f *Frame) AppendHead(b []byte) []byte {
	b = append(b, "MSRP "...)
	b = append(b, f.TID...)
	b = append(b, ' ')
	if f.Method != "" {
		b = append(b, f.Method...)
	} else {
		b = append3(b, f.StatusCode)
		if f.Comment != "" {
			b = append(b, ' ')
			b = append(b, f.Comment...)
		}
	}
	b = append(b, "\r\nTo-Path: "...)
	b = AppendPath(b, f.ToPath)
	b = append(b, "\r\nFrom-Path: "...)
	b = AppendPath(b, f.FromPath)
	b = append(b, "\r\n"...)
	if f.MessageID != "" {
		b = append(b, "Message-ID: "...)
		b = append(b, f.MessageID...)
		b = append(b, "\r\n"...)
	}
	if f.HasByteRange {
		b = append(b, "Byte-Range: "...)
		b = f.ByteRange.AppendTo(b)
		b = append(b, "\r\n"...)
	}
	if f.SuccessReport != "" {
		b = append(b, "Success-Report: "...)
		b = append(b, f.SuccessReport...)
		b = append(b, "\r\n"...)
	}
	if f.FailureReport != "" {
		b = append(b, "Failure-Report: "...)
		b = append(b, f.FailureReport...)
		b = append(b, "\r\n"...)
	}
	if f.HasStatus {
		b = append(b, "Status: "...)
		b = f.Status.AppendTo(b)
		b = append(b, "\r\n"...)
	}
	for _, h := range f.Headers {
		b = append(b, h.Name...)
		b = append(b, ": "...)
		b = append(b, h.Value...)
		b = append(b, "\r\n"...)
	}
	if f.ContentType != "" {
		b = append(b, "Content-Type: "...)
		b = append(b, f.ContentType...)
		b = append(b, "\r\n\r\n"...)
	}
	return b
}

// AppendEndLine appends f's end-line, "-------" tid flag CRLF (RFC 4975
// §7.1), to b. For a frame with a body it first appends the CRLF that
// separates the body from the end-line. A zero f.Flag is written as "$".
func AppendEndLine(b []byte, f *Frame) []byte {
	if f.ContentType != "" {
		b = append(b, "\r\n"...)
	}
	return appendEndLine(b, f.TID, f.Flag)
}

func appendEndLine(b []byte, tid string, flag Flag) []byte {
	if flag == 0 {
		flag = FlagEnd
	}
	b = append(b, "-------"...)
	b = append(b, tid...)
	return append(b, byte(flag), '\r', '\n')
}

// AppendFrame appends the whole frame, head, body and end-line, to b.
// body is written only when f has a body (f.ContentType != ""). Like
// AppendHead it does not validate; the caller must ensure that body does
// not contain the end-line (ContainsEndLine) and that f passes Check.
func AppendFrame(b []byte, f *Frame, body []byte) []byte {
	b = f.AppendHead(b)
	if f.ContentType != "" {
		b = append(b, body...)
	}
	return AppendEndLine(b, f)
}

// ContainsEndLine reports whether body contains "-------" tid followed by
// a continuation flag, which RFC 4975 §7.1 forbids in a body sent with
// that tid: choose another tid (NewTransactionID) or interrupt the chunk
// before it.
func ContainsEndLine(body []byte, tid string) bool {
	return endLineIndex(body, tid) >= 0
}

// endLineIndex returns the index of the first "-------" tid flag in body,
// or -1.
func endLineIndex(body []byte, tid string) int {
	var patBuf [7 + 32]byte
	pat := append(append(patBuf[:0], "-------"...), tid...)
	from := 0
	for {
		i := bytes.Index(body[from:], pat)
		if i < 0 {
			return -1
		}
		i += from
		if j := i + len(pat); j < len(body) && isFlag(body[j]) {
			return i
		}
		from = i + 1
	}
}

// Check reports whether f can be written as a valid frame (RFC 4975 §9):
// an ident tid; either an uppercase method or a three-digit status code;
// non-empty To-Path and From-Path; a valid Message-ID, Byte-Range, Status
// and report values when set; header names that are tokens and values
// without CR, LF or other controls; no typed header repeated in Headers; a
// type/subtype Content-Type; no body on responses. The error wraps
// ErrInvalidFrame.
func (f *Frame) Check() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrInvalidFrame, what) }
	if !ValidIdent(f.TID) {
		return bad("transaction identifier is not a 4-32 character ident")
	}
	if f.Method != "" {
		if f.StatusCode != 0 {
			return bad("both Method and StatusCode set")
		}
		for i := 0; i < len(f.Method); i++ {
			if c := f.Method[i]; c < 'A' || c > 'Z' {
				return bad("method is not uppercase letters")
			}
		}
	} else {
		if f.StatusCode < 100 || f.StatusCode > 999 {
			return bad("status code not in 100..999")
		}
		if f.ContentType != "" {
			return bad("responses have no body")
		}
	}
	if !validText(f.Comment) {
		return bad("comment contains control characters")
	}
	if len(f.ToPath) == 0 || len(f.FromPath) == 0 {
		return bad("To-Path and From-Path must not be empty")
	}
	for _, p := range [][]URI{f.ToPath, f.FromPath} {
		for _, u := range p {
			if err := u.check(); err != nil {
				return bad("URI " + strconv.Quote(u.String()) + ": " + err.Error())
			}
		}
	}
	if f.MessageID != "" && !ValidIdent(f.MessageID) {
		return bad("Message-ID is not an ident")
	}
	if f.HasByteRange && !f.ByteRange.valid() {
		return bad("Byte-Range out of bounds")
	}
	switch f.SuccessReport {
	case "", reportYes, reportNo:
	default:
		return bad("Success-Report must be yes or no")
	}
	switch f.FailureReport {
	case "", reportYes, reportNo, reportPartial:
	default:
		return bad("Failure-Report must be yes, no or partial")
	}
	if f.HasStatus && (f.Status.Namespace < 0 || f.Status.Namespace > 999 ||
		f.Status.Code < 0 || f.Status.Code > 999 || !validText(f.Status.Comment)) {
		return bad("Status out of range")
	}
	for _, h := range f.Headers {
		if h.Name == "" || !isAlpha(h.Name[0]) || !isToken(h.Name) {
			return bad("header name " + strconv.Quote(h.Name) + " is not a token")
		}
		if !validText(h.Value) || trimOWS(h.Value) != h.Value {
			return bad("header " + h.Name + " has control characters or surrounding blanks")
		}
		if isTypedHeader(h.Name) {
			return bad("header " + h.Name + " must be set through its Frame field")
		}
	}
	if f.ContentType != "" && (!validMediaType(f.ContentType) || !validText(f.ContentType) || trimOWS(f.ContentType) != f.ContentType) {
		return bad("Content-Type is not type/subtype")
	}
	switch f.Flag {
	case 0, FlagEnd, FlagMore, FlagAbort:
	default:
		return bad("flag must be $, + or #")
	}
	return nil
}

func isTypedHeader(name string) bool {
	for _, n := range [...]string{"To-Path", "From-Path", "Message-ID", "Byte-Range",
		"Success-Report", "Failure-Report", "Status", "Content-Type"} {
		if equalFoldASCII(name, n) {
			return true
		}
	}
	return false
}

// Writer writes MSRP frames to a byte stream through a bufio.Writer of
// 64 KiB. Whole frames go through WriteFrame; a long chunk can instead be
// streamed with WriteHead, Write and WriteEndLine, which also allows
// interrupting it (RFC 4975 §7.1.1: end it with FlagMore and resume in a
// new SEND). Nothing reaches the underlying writer before Flush or a full
// buffer. A Writer is not safe for concurrent use.
type Writer struct {
	bw      *bufio.Writer
	scratch []byte

	// streaming state between WriteHead and WriteEndLine
	inBody  bool
	cur     Frame  // head of the frame being streamed (TID, ContentType)
	pending []byte // body octets held back: a possible end-line prefix
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
}

// WriteFrame checks f (Check) and body (ContainsEndLine) and writes the
// whole frame. body is ignored for frames without Content-Type; a non-empty
// body on such a frame is an error.
func (w *Writer) WriteFrame(f *Frame, body []byte) error {
	if w.inBody {
		return fmt.Errorf("%w: WriteFrame while streaming a body", ErrInvalidFrame)
	}
	if err := f.Check(); err != nil {
		return err
	}
	if f.ContentType == "" && len(body) > 0 {
		return fmt.Errorf("%w: body without Content-Type", ErrInvalidFrame)
	}
	if ContainsEndLine(body, f.TID) {
		return ErrEndLineInBody
	}
	w.scratch = f.AppendHead(w.scratch[:0])
	if len(body) <= 4<<10 {
		// Small frames: one copy into the bufio buffer.
		if f.ContentType != "" {
			w.scratch = append(w.scratch, body...)
		}
		w.scratch = AppendEndLine(w.scratch, f)
		_, err := w.bw.Write(w.scratch)
		return err
	}
	if _, err := w.bw.Write(w.scratch); err != nil {
		return err
	}
	if _, err := w.bw.Write(body); err != nil {
		return err
	}
	w.scratch = AppendEndLine(w.scratch[:0], f)
	_, err := w.bw.Write(w.scratch)
	return err
}

// WriteHead checks f and writes its head. If f has a body (Content-Type
// set), stream the body with Write and finish with WriteEndLine;
// otherwise the end-line with f.Flag is written too and the frame is
// complete.
func (w *Writer) WriteHead(f *Frame) error {
	if w.inBody {
		return fmt.Errorf("%w: WriteHead while streaming a body", ErrInvalidFrame)
	}
	if err := f.Check(); err != nil {
		return err
	}
	w.scratch = f.AppendHead(w.scratch[:0])
	if f.ContentType == "" {
		w.scratch = AppendEndLine(w.scratch, f)
	} else {
		w.inBody = true
		w.cur = Frame{TID: f.TID, ContentType: f.ContentType}
		w.pending = w.pending[:0]
	}
	_, err := w.bw.Write(w.scratch)
	return err
}

// Write writes body octets of the frame started by WriteHead. It scans
// for the end-line across calls (RFC 4975 §7.1): if p would complete
// "-------" tid flag, it writes the octets before the flag, returns their
// count and ErrEndLineInBody; end the chunk there with
// WriteEndLine(FlagMore) and send the rest in a new SEND with a new tid.
func (w *Writer) Write(p []byte) (int, error) {
	if !w.inBody {
		return 0, fmt.Errorf("%w: Write without WriteHead", ErrInvalidFrame)
	}
	// An end-line is "-------" tid flag: keep octets. The last keep octets
	// written are held back in pending, since a flag in the next Write
	// would complete an end-line with them.
	keep := 7 + len(w.cur.TID)
	if old := len(w.pending); old > 0 {
		// An end-line straddling the held-back octets and p starts in
		// pending and ends within the first keep+1 octets of p.
		ext := min(len(p), keep+1)
		w.pending = append(w.pending, p[:ext]...)
		if i := endLineIndex(w.pending, w.cur.TID); i >= 0 {
			cut := i + keep // up to, not including, the flag
			_, err := w.bw.Write(w.pending[:cut])
			w.pending = w.pending[:0]
			if err != nil {
				return 0, err
			}
			return max(cut-old, 0), ErrEndLineInBody
		}
		if ext == len(p) {
			// p is short: keep holding the last keep octets of the stream.
			hold := min(keep, len(w.pending))
			_, err := w.bw.Write(w.pending[:len(w.pending)-hold])
			w.pending = w.pending[:copy(w.pending, w.pending[len(w.pending)-hold:])]
			if err != nil {
				return 0, err
			}
			return len(p), nil
		}
		_, err := w.bw.Write(w.pending[:old])
		w.pending = w.pending[:0]
		if err != nil {
			return 0, err
		}
	}
	if i := endLineIndex(p, w.cur.TID); i >= 0 {
		cut := i + keep
		if _, err := w.bw.Write(p[:cut]); err != nil {
			return 0, err
		}
		return cut, ErrEndLineInBody
	}
	hold := min(keep, len(p))
	if _, err := w.bw.Write(p[:len(p)-hold]); err != nil {
		return 0, err
	}
	w.pending = append(w.pending, p[len(p)-hold:]...)
	return len(p), nil
}

// WriteEndLine ends the body started by WriteHead with flag: FlagEnd for
// the last chunk, FlagMore when interrupting, FlagAbort to abandon the
// message (RFC 4975 §7.1).
func (w *Writer) WriteEndLine(flag Flag) error {
	if !w.inBody {
		return fmt.Errorf("%w: WriteEndLine without WriteHead", ErrInvalidFrame)
	}
	switch flag {
	case FlagEnd, FlagMore, FlagAbort:
	default:
		return fmt.Errorf("%w: flag must be $, + or #", ErrInvalidFrame)
	}
	w.inBody = false
	w.scratch = append(w.scratch[:0], w.pending...)
	w.pending = w.pending[:0]
	w.cur.Flag = flag
	w.scratch = AppendEndLine(w.scratch, &w.cur)
	_, err := w.bw.Write(w.scratch)
	return err
}

// Flush writes buffered data to the underlying writer.
func (w *Writer) Flush() error { return w.bw.Flush() }

// Buffered returns the number of octets waiting for Flush.
func (w *Writer) Buffered() int { return w.bw.Buffered() }
