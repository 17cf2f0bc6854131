package sipserver

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// Defaults of the connection limits of stream listeners.
const (
	// DefaultIdleTimeout is how long a TCP or TLS connection may go
	// without completing a SIP message head (or an RFC 5626 §4.4.1
	// double-CRLF keep-alive) before it is closed.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultMaxConnsPerIP caps the open TCP/TLS connections of one
	// source IP.
	DefaultMaxConnsPerIP = 64
)

// limitListener wraps the stream listeners handed to sipgo (FINDINGS F8):
// it refuses connections beyond maxPerIP per source IP, and its
// connections carry a read deadline that is pushed back only when a
// complete message head ("\r\n\r\n", which is also the RFC 5626
// keep-alive) has been read, so a peer dripping a byte at a time cannot
// keep a connection (and sipgo's goroutine and buffers) for ever. sipgo's
// own ReadTimeout is per Read and would be refreshed by every byte.
type limitListener struct {
	net.Listener
	idle     time.Duration
	maxPerIP int

	mu    sync.Mutex
	perIP map[string]int
}

func newLimitListener(l net.Listener, idle time.Duration, maxPerIP int) *limitListener {
	return &limitListener{Listener: l, idle: idle, maxPerIP: maxPerIP, perIP: map[string]int{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		l.mu.Lock()
		if l.maxPerIP > 0 && l.perIP[ip] >= l.maxPerIP {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.perIP[ip]++
		l.mu.Unlock()
		lc := &limitConn{Conn: c, l: l, ip: ip}
		if l.idle > 0 {
			if err := c.SetReadDeadline(time.Now().Add(l.idle)); err != nil {
				lc.Close()
				continue
			}
		}
		return lc, nil
	}
}

func (l *limitListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// limitConn is one accepted connection. Read is called by sipgo's single
// reader goroutine of the connection, so tail needs no lock.
type limitConn struct {
	net.Conn
	l    *limitListener
	ip   string
	tail [3]byte // last bytes read, to find "\r\n\r\n" across Reads
	once sync.Once
}

func (c *limitConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.l.idle > 0 && c.sawHeadEnd(p[:n]) {
		// A message head (or keep-alive) is complete: the peer is
		// making progress. The deadline error, if any, surfaces on the
		// next Read.
		c.Conn.SetReadDeadline(time.Now().Add(c.l.idle))
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.Close()
	}
	return n, err
}

// sawHeadEnd reports whether the bytes read so far end a "\r\n\r\n" that
// finishes in b, and updates the tail.
func (c *limitConn) sawHeadEnd(b []byte) bool {
	found := false
	var w [7]byte
	k := copy(w[:], c.tail[:])
	k += copy(w[k:], b[:min(len(b), 4)])
	if indexCRLFCRLF(w[:k]) >= 0 {
		found = true
	} else if len(b) >= 4 && indexCRLFCRLF(b) >= 0 {
		found = true
	}
	if len(b) >= 3 {
		copy(c.tail[:], b[len(b)-3:])
	} else {
		copy(c.tail[:], append(c.tail[len(b):], b...))
	}
	return found
}

func indexCRLFCRLF(b []byte) int {
	for i := 0; i+3 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' && b[i+2] == '\r' && b[i+3] == '\n' {
			return i
		}
	}
	return -1
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}
