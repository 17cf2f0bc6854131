package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parley-im/parley/sipua"
)

// transcript prints timestamped lines for the demo: SIP start lines (and
// SDP m-lines) the agents receive (sipua's Trace hook) and, with wire set, the
// raw MSRP and CPIM transport bytes seen on the media connections. It is
// safe for concurrent use; one mutex orders the lines.
type transcript struct {
	mu   sync.Mutex
	w    io.Writer
	wire bool
	now  func() time.Time
}

func newTranscript(w io.Writer, wire bool) *transcript {
	return &transcript{w: w, wire: wire, now: time.Now}
}

// line prints one transcript line: time, a 4-letter kind, a direction
// column and the text.
func (t *transcript) line(kind, dir, format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "%s  %-4s %-13s %s\n", t.now().Format("15:04:05.000"), kind, dir, fmt.Sprintf(format, args...))
}

// raw prints indented lines under the previous one (wire dumps, SDP).
func (t *transcript) raw(prefix string, lines []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range lines {
		fmt.Fprintf(t.w, "%s%s\n", prefix, l)
	}
}

func arrow(from, to string) string { return from + " → " + to }

// sipTrace returns a sipua.Config.Trace that prints the SIP messages
// owner receives from peer. Every SIP message between the demo's two
// agents is received by one of them, so each is shown once, before the
// receiver acts on it.
func (t *transcript) sipTrace(owner, peer string) func(sipua.TraceMessage) {
	s := &sipScanner{t: t, dir: arrow(peer, owner), datagram: true}
	return func(m sipua.TraceMessage) {
		if m.Dir == sipua.Received {
			s.feed(m.Msg) // one whole message per call
		}
	}
}

// sipScanner splits a SIP byte stream into messages (RFC 3261 §7.5: the
// header ends at an empty line, Content-Length delimits the body) and
// prints each start line.
type sipScanner struct {
	t        *transcript
	dir      string
	datagram bool
	mu       sync.Mutex
	buf      []byte
}

const maxScan = 1 << 20

func (s *sipScanner) feed(b []byte) {
	if len(b) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.datagram {
		s.buf = s.buf[:0]
	}
	s.buf = append(s.buf, b...)
	for {
		// Keep-alive CRLFs (RFC 5626 §3.5.1) between messages.
		s.buf = bytes.TrimLeft(s.buf, "\r\n")
		end := bytes.Index(s.buf, []byte("\r\n\r\n"))
		if end < 0 {
			if len(s.buf) > maxScan {
				s.buf = s.buf[:0]
			}
			return
		}
		head := string(s.buf[:end])
		n := contentLength(head)
		if len(s.buf) < end+4+n {
			if s.datagram {
				n = len(s.buf) - end - 4
			} else {
				return
			}
		}
		body := s.buf[end+4 : end+4+n]
		s.print(head, body)
		s.buf = s.buf[end+4+n:]
	}
}

func contentLength(head string) int {
	for _, l := range strings.Split(head, "\r\n")[1:] {
		name, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "content-length" || name == "l" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil && n >= 0 && n <= maxScan {
				return n
			}
		}
	}
	return 0
}

func (s *sipScanner) print(head string, body []byte) {
	start, _, _ := strings.Cut(head, "\r\n")
	s.t.line("SIP", s.dir, "%s", start)
	if s.t.wire {
		lines := strings.Split(head, "\r\n")[1:]
		if len(body) > 0 {
			lines = append(lines, "")
			lines = append(lines, strings.Split(strings.TrimRight(string(body), "\r\n"), "\r\n")...)
		}
		s.t.raw("                                 | ", lines)
		return
	}
	if strings.Contains(strings.ToLower(head), "application/sdp") {
		var ml []string
		for l := range strings.SplitSeq(string(body), "\n") {
			l = strings.TrimRight(l, "\r")
			if strings.HasPrefix(l, "m=") || strings.HasPrefix(l, "a=accept-types:") || strings.HasPrefix(l, "a=path:") || strings.HasPrefix(l, "a=uri:") {
				ml = append(ml, l)
			}
		}
		s.t.raw("                                   SDP ", ml)
	}
}

// dialer returns a Dial function for the media endpoints that, with
// wire set, dumps what the dialled connection carries both ways. Every
// media connection between the demo's agents is dialled by one of them,
// so each byte is shown once.
func (t *transcript) dialer(owner, peer string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil || !t.wire {
			return c, err
		}
		return &wireConn{Conn: c,
			in:  &lineDump{t: t, dir: arrow(peer, owner)},
			out: &lineDump{t: t, dir: arrow(owner, peer)}}, nil
	}
}

type wireConn struct {
	net.Conn
	in, out *lineDump
}

func (c *wireConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.feed(b[:n])
	return n, err
}

func (c *wireConn) Write(b []byte) (int, error) {
	c.out.feed(b)
	return c.Conn.Write(b)
}

// lineDump prints what each Read or Write carried, line by line,
// escaping what is not printable text and cutting long lines.
type lineDump struct {
	t   *transcript
	dir string
	mu  sync.Mutex
	buf []byte
}

func (d *lineDump) feed(b []byte) {
	if len(b) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = append(d.buf, b...)
	var lines []string
	for {
		i := bytes.IndexByte(d.buf, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, printable(bytes.TrimSuffix(d.buf[:i], []byte("\r"))))
		d.buf = d.buf[i+1:]
	}
	if len(d.buf) > 0 {
		// A body without a final line end (the CPIM transport frames by
		// Content-Length): show it now, the frame is complete.
		lines = append(lines, printable(d.buf))
		d.buf = d.buf[:0]
	}
	if len(lines) > 0 {
		d.t.line("WIRE", d.dir, "%d line(s)", len(lines))
		d.t.raw("                                 | ", lines)
	}
}

func printable(b []byte) string {
	const max = 160
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&sb, "\\x%02x", b[0])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&sb, "\\x%02x", r)
		default:
			sb.WriteRune(r)
		}
		b = b[n:]
		if sb.Len() > max {
			sb.WriteString("…")
			break
		}
	}
	return sb.String()
}
