package sipua

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// Direction says whether a traced SIP message was received or sent.
type Direction int

// Directions.
const (
	Received Direction = iota + 1
	Sent
)

func (d Direction) String() string {
	switch d {
	case Received:
		return "received"
	case Sent:
		return "sent"
	}
	return "unknown"
}

// TraceMessage is one SIP message seen by Config.Trace.
type TraceMessage struct {
	Dir Direction
	// Transport is UDP, TCP or TLS.
	Transport string
	// Local and Remote are the connection's addresses (host:port).
	Local, Remote string
	// Msg is the whole message as it was on the wire: start line,
	// headers, empty line and body (RFC 3261 §7). It is only valid during
	// the Trace call; copy it to keep it.
	Msg []byte
}

// maxTraceMessage bounds what a stream tracer buffers for one message
// (header plus body); a larger message is passed on in pieces of at
// most this size and the tracer resynchronises at the next message.
const maxTraceMessage = 1 << 20

// tracer feeds Config.Trace. Received messages come from sipgo's read
// filter, which sees every read on every connection (the UA's sockets
// and the ones sipgo dials) before sipgo parses it, so a received
// message is traced before the UA acts on it. Sent messages are seen on
// the UA's own sockets: its listening UDP sockets and the TCP/TLS
// connections it accepted, which carry its responses to requests that
// came in on them and what it sends back over those connections. sipgo
// has no per-UA write hook for the sockets it opens itself to send
// requests (TCP/TLS connections it dials, and UDP sockets on ephemeral
// ports: only the process-global sip.SIPDebug tracer, which the UA leaves
// alone), so what the UA sends over those is not traced; the peer's UA,
// if it traces, sees it as received.
type tracer struct {
	fn func(TraceMessage)

	mu      sync.Mutex
	streams map[string]*traceStream // received, by transport+local+remote
}

func newTracer(fn func(TraceMessage)) *tracer {
	return &tracer{fn: fn, streams: map[string]*traceStream{}}
}

func transportName(network string) string {
	switch strings.ToLower(network) {
	case "udp", "udp4", "udp6":
		return "UDP"
	case "tls":
		return "TLS"
	}
	return "TCP"
}

// readFilter is the sip.TransportReadFilter: it traces and passes data on
// unchanged.
func (t *tracer) readFilter(info sip.TransportReadProps, data []byte) ([]byte, error) {
	tr := transportName(info.Transport)
	local, remote := addrString(info.LocalAddr), addrString(info.RemoteAddr)
	if tr == "UDP" {
		t.datagram(Received, tr, local, remote, data)
		return data, nil
	}
	key := tr + " " + local + " " + remote
	t.mu.Lock()
	s := t.streams[key]
	if s == nil {
		if len(t.streams) >= 256 {
			// A map entry per connection ever seen would grow without
			// end; an entry between messages holds nothing, so those
			// are dropped (connections whose ends are gone among them).
			for k, v := range t.streams {
				if v.idle() {
					delete(t.streams, k)
				}
			}
		}
		s = &traceStream{t: t, dir: Received, transport: tr, local: local, remote: remote}
		t.streams[key] = s
	}
	t.mu.Unlock()
	s.feed(data)
	return data, nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// datagram traces one UDP datagram: one SIP message (RFC 3261 §18.1.1),
// leading keep-alive CRLFs aside.
func (t *tracer) datagram(dir Direction, transport, local, remote string, b []byte) {
	b = bytes.TrimLeft(b, "\r\n")
	if len(b) == 0 {
		return
	}
	t.fn(TraceMessage{Dir: dir, Transport: transport, Local: local, Remote: remote, Msg: b})
}

// traceStream splits one direction of a TCP or TLS connection into SIP
// messages (RFC 3261 §7.5, §18.3: the header ends at an empty line, the
// body is Content-Length octets).
type traceStream struct {
	t                        *tracer
	dir                      Direction
	transport, local, remote string

	mu   sync.Mutex
	buf  []byte
	skip int // body octets still to pass over after an oversized message
}

func (s *traceStream) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf) == 0 && s.skip == 0
}

func (s *traceStream) feed(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.skip > 0 {
		n := min(s.skip, len(b))
		s.skip -= n
		b = b[n:]
	}
	s.buf = append(s.buf, b...)
	for {
		// Keep-alive CRLFs between messages (RFC 5626 §3.5.1).
		s.buf = bytes.TrimLeft(s.buf, "\r\n")
		end := bytes.Index(s.buf, []byte("\r\n\r\n"))
		if end < 0 {
			if len(s.buf) > maxTraceMessage {
				s.emit(s.buf) // no header end in sight: pass it on as it is
				s.buf = s.buf[:0]
			}
			break
		}
		n := contentLength(s.buf[:end])
		total := end + 4 + n
		if total > maxTraceMessage {
			head := s.buf[:end+4]
			s.emit(head)
			have := len(s.buf) - len(head)
			if have >= n {
				s.buf = s.buf[end+4+n:]
				continue
			}
			s.skip = n - have
			s.buf = s.buf[:0]
			break
		}
		if len(s.buf) < total {
			break
		}
		s.emit(s.buf[:total])
		s.buf = s.buf[total:]
	}
	if len(s.buf) == 0 {
		s.buf = nil // release a large buffer between messages
	}
}

func (s *traceStream) emit(msg []byte) {
	s.t.fn(TraceMessage{Dir: s.dir, Transport: s.transport, Local: s.local, Remote: s.remote, Msg: msg})
}

// contentLength reads Content-Length (or its compact form l, RFC 3261
// §7.3.3) from a header block; 0 when absent or invalid.
func contentLength(head []byte) int {
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		name, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		if !bytes.EqualFold(name, []byte("content-length")) && !bytes.EqualFold(name, []byte("l")) {
			continue
		}
		n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
	return 0
}

// tracePacketConn traces what the UA sends on its UDP socket.
type tracePacketConn struct {
	net.PacketConn
	t *tracer
}

// WriteTo traces before writing (see traceConn.Write).
func (p *tracePacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	p.t.datagram(Sent, "UDP", p.LocalAddr().String(), addrString(addr), b)
	return p.PacketConn.WriteTo(b, addr)
}

// traceListener traces what the UA sends on the connections it accepts.
type traceListener struct {
	net.Listener
	t         *tracer
	transport string
}

func (l *traceListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &traceConn{Conn: c, out: &traceStream{t: l.t, dir: Sent, transport: l.transport,
		local: addrString(c.LocalAddr()), remote: addrString(c.RemoteAddr())}}, nil
}

type traceConn struct {
	net.Conn
	out *traceStream
}

// Write traces before writing, so that the message is traced before the
// peer can answer it.
func (c *traceConn) Write(b []byte) (int, error) {
	c.out.feed(b)
	return c.Conn.Write(b)
}
