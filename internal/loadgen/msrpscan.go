package loadgen

import (
	"bytes"
	"strconv"
)

// msrpFrame is one MSRP frame found by msrpScanner.
type msrpFrame struct {
	tid       string
	method    string // "" for a response
	status    int    // responses
	messageID string
	flag      byte  // '$', '+' or '#'
	end       int64 // stream offset of the end-line's last octet ('\n')
}

// Limits of msrpScanner: a frame whose start line, headers or body are
// longer is skipped (counted as bad) and the scanner resynchronises.
const (
	scanMaxLine   = 4096     // the start line
	scanMaxHeader = 64 << 10 // start line and headers
	scanMaxBody   = 4 << 20  // octets searched for the end-line
)

type scanState int

const (
	scanSync    scanState = iota // looking for "MSRP " at a line start
	scanStart                    // a frame begins at start: its start line
	scanHeaders                  // header lines from cur
	scanBody                     // the body from cur, end-line searched from search
)

// msrpScanner finds MSRP frames (RFC 4975 §7.1) in a byte stream fed in
// pieces of any size. It reads only what it needs to tell where frames
// end: the start line, Message-ID and the end-line. What it finds does
// not depend on how the stream is cut (every decision is taken on a window
// fixed in stream offsets), and a frame is emitted during the feed that
// delivers its last octet. Offsets are absolute in the stream.
type msrpScanner struct {
	emit        func(*msrpFrame)
	buf         []byte
	base        int64 // stream offset of buf[0]
	st          scanState
	pos         int64 // scanSync: where the search goes on
	atLineStart bool  // scanSync: pos is at a line start
	start       int64 // the current frame's first octet
	cur         int64 // scanHeaders: next line; scanBody: first body octet
	search      int64 // scanBody: where the end-line search goes on
	fr          msrpFrame
	pattern     []byte // "\r\n-------" + tid
	bad         uint64 // frames skipped
}

var (
	msrpStart   = []byte("MSRP ")
	msrpResync  = []byte("\nMSRP ")
	msrpEndDash = []byte("-------")
)

func (s *msrpScanner) end() int64 { return s.base + int64(len(s.buf)) }

// at returns the octets from stream offset a to b (clamped to what is
// buffered).
func (s *msrpScanner) at(a, b int64) []byte {
	if e := s.end(); b > e {
		b = e
	}
	return s.buf[a-s.base : b-s.base]
}

// feed appends p to the stream and emits the frames it completes.
func (s *msrpScanner) feed(p []byte) {
	s.buf = append(s.buf, p...)
	s.run()
	s.compact()
}

// gap tells the scanner that octets are missing before what is fed next:
// the frame under way is dropped and the next one is looked for at the
// start of the next feed (or the next "\nMSRP " after it).
func (s *msrpScanner) gap() {
	if s.st != scanSync {
		s.bad++
	}
	s.base += int64(len(s.buf))
	s.buf = s.buf[:0]
	s.st, s.pos, s.atLineStart = scanSync, s.base, true
}

func (s *msrpScanner) compact() {
	keep := s.pos
	if s.st != scanSync {
		keep = s.start
	}
	n := keep - s.base
	if n == 0 {
		return
	}
	if n == int64(len(s.buf)) {
		s.buf = s.buf[:0]
	} else if n < 4096 && 2*n < int64(len(s.buf)) {
		return // not worth a copy yet
	} else {
		s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	}
	s.base = keep
}

// resync abandons the frame at start: the search goes on after its first
// octet.
func (s *msrpScanner) resync() {
	s.bad++
	s.st, s.pos, s.atLineStart = scanSync, s.start+1, false
}

func (s *msrpScanner) run() {
	for {
		switch s.st {
		case scanSync:
			rest := s.at(s.pos, s.end())
			if s.atLineStart {
				if len(rest) < len(msrpStart) && bytes.HasPrefix(msrpStart, rest) {
					return // could still be a frame start
				}
				if bytes.HasPrefix(rest, msrpStart) {
					s.st, s.start = scanStart, s.pos
					continue
				}
				s.atLineStart = false
			}
			i := bytes.Index(rest, msrpResync)
			if i < 0 {
				if n := len(rest) - (len(msrpResync) - 1); n > 0 {
					s.pos += int64(n)
				}
				return
			}
			s.pos += int64(i) + 1
			s.atLineStart = true
		case scanStart:
			win := s.at(s.start, s.start+scanMaxLine)
			nl := bytes.IndexByte(win, '\n')
			if nl < 0 {
				if len(win) < scanMaxLine {
					return
				}
				s.resync()
				continue
			}
			if !s.startLine(win[:nl+1]) {
				s.resync()
				continue
			}
			s.cur = s.start + int64(nl) + 1
			s.st = scanHeaders
		case scanHeaders:
			limit := s.start + scanMaxHeader
			win := s.at(s.cur, limit)
			nl := bytes.IndexByte(win, '\n')
			if nl < 0 {
				if s.end() < limit {
					return
				}
				s.resync()
				continue
			}
			line := win[:nl+1]
			lineEnd := s.cur + int64(nl)
			s.cur = lineEnd + 1
			switch {
			case len(line) < 2 || line[len(line)-2] != '\r':
				s.resync()
			case len(line) == 2: // the blank line: a body follows
				s.st, s.search = scanBody, s.cur
			case bytes.HasPrefix(line, msrpEndDash):
				// An end-line right after the headers: no body.
				el := line[len(msrpEndDash) : len(line)-2]
				if len(el) != len(s.fr.tid)+1 || string(el[:len(el)-1]) != s.fr.tid || !isFlag(el[len(el)-1]) {
					s.resync()
					continue
				}
				s.done(el[len(el)-1], lineEnd)
			default:
				s.header(line[:len(line)-2])
			}
		case scanBody:
			limit := s.cur + scanMaxBody + int64(len(s.pattern))
			win := s.at(s.search, limit)
			i := bytes.Index(win, s.pattern)
			if i < 0 {
				if s.end() >= limit {
					s.resync()
					continue
				}
				if n := len(win) - (len(s.pattern) - 1); n > 0 {
					s.search += int64(n)
				}
				return
			}
			at := s.search + int64(i)
			tail := s.at(at+int64(len(s.pattern)), at+int64(len(s.pattern))+3)
			if len(tail) < 3 {
				s.search = at
				return
			}
			if !isFlag(tail[0]) || tail[1] != '\r' || tail[2] != '\n' {
				s.search = at + 1
				continue
			}
			s.done(tail[0], at+int64(len(s.pattern))+2)
		}
	}
}

func isFlag(c byte) bool { return c == '$' || c == '+' || c == '#' }

// startLine parses "MSRP SP transact-id SP method CRLF" or
// "MSRP SP transact-id SP status-code [SP comment] CRLF".
func (s *msrpScanner) startLine(line []byte) bool {
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return false
	}
	rest := line[len(msrpStart) : len(line)-2]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 1 {
		return false
	}
	tid, what := rest[:sp], rest[sp+1:]
	for _, c := range tid {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	s.fr = msrpFrame{tid: string(tid)}
	if len(what) >= 3 && isDigits(what[:3]) && (len(what) == 3 || what[3] == ' ') {
		s.fr.status, _ = strconv.Atoi(string(what[:3]))
	} else {
		if len(what) == 0 {
			return false
		}
		for _, c := range what {
			if c < 'A' || c > 'Z' {
				return false
			}
		}
		s.fr.method = string(what)
	}
	s.pattern = append(append(s.pattern[:0], "\r\n-------"...), tid...)
	return true
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// header records the Message-ID header (RFC 4975 §9); others are skipped.
func (s *msrpScanner) header(line []byte) {
	const name = "message-id:"
	if len(line) < len(name) || !bytes.EqualFold(line[:len(name)], []byte(name)) {
		return
	}
	s.fr.messageID = string(bytes.TrimSpace(line[len(name):]))
}

// done emits the current frame, which ends at stream offset end.
func (s *msrpScanner) done(flag byte, end int64) {
	s.fr.flag, s.fr.end = flag, end
	if s.emit != nil {
		s.emit(&s.fr)
	}
	s.st, s.pos, s.atLineStart = scanSync, end+1, true
}
