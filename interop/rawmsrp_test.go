package interop

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// rawFrame is an MSRP frame as read by the deliberately independent little
// reader below (not Parley's codec), so that a codec bug cannot hide a
// Kamailio behaviour, or the other way round.
type rawFrame struct {
	TID, Method string
	Code        int
	Comment     string
	Headers     [][2]string
	Body        string
	HasBody     bool
	Flag        byte
}

func (f *rawFrame) Get(name string) string {
	for _, h := range f.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

func (f *rawFrame) String() string {
	var b strings.Builder
	if f.Method != "" {
		fmt.Fprintf(&b, "MSRP %s %s\n", f.TID, f.Method)
	} else {
		fmt.Fprintf(&b, "MSRP %s %d %s\n", f.TID, f.Code, f.Comment)
	}
	for _, h := range f.Headers {
		fmt.Fprintf(&b, "%s: %s\n", h[0], h[1])
	}
	if f.HasBody {
		fmt.Fprintf(&b, "\n%s\n", f.Body)
	}
	fmt.Fprintf(&b, "-------%s%c", f.TID, f.Flag)
	return b.String()
}

// rawConn is a plain TCP connection to Kamailio speaking hand-written MSRP.
type rawConn struct {
	t    testing.TB
	c    net.Conn
	r    *bufio.Reader
	Self string // this client's own MSRP URI (its From-Path)
}

func dialRaw(t testing.TB, addr, self string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReaderSize(c, 1<<16), Self: self}
}

func (rc *rawConn) write(s string) {
	rc.t.Helper()
	if err := rc.c.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		rc.t.Fatal(err)
	}
	if _, err := rc.c.Write([]byte(s)); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// read reads one frame, or returns an error after timeout.
func (rc *rawConn) read(timeout time.Duration) (*rawFrame, error) {
	if err := rc.c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	line, err := rc.line()
	if err != nil {
		return nil, err
	}
	parts := strings.SplitN(line, " ", 4)
	if len(parts) < 3 || parts[0] != "MSRP" {
		return nil, fmt.Errorf("bad start line %q", line)
	}
	f := &rawFrame{TID: parts[1]}
	if code, err := strconv.Atoi(parts[2]); err == nil && len(parts[2]) == 3 {
		f.Code = code
		if len(parts) == 4 {
			f.Comment = parts[3]
		}
	} else {
		f.Method = parts[2]
	}
	end := "-------" + f.TID
	isEnd := func(l string) bool {
		return len(l) == len(end)+1 && strings.HasPrefix(l, end) && strings.ContainsRune("$+#", rune(l[len(l)-1]))
	}
	for {
		l, err := rc.line()
		if err != nil {
			return nil, err
		}
		if isEnd(l) {
			f.Flag = l[len(l)-1]
			return f, nil
		}
		if l == "" {
			break
		}
		name, value, ok := strings.Cut(l, ": ")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", l)
		}
		f.Headers = append(f.Headers, [2]string{name, value})
	}
	f.HasBody = true
	var body strings.Builder
	first := true
	for {
		l, err := rc.line()
		if err != nil {
			return nil, err
		}
		if isEnd(l) {
			f.Flag = l[len(l)-1]
			f.Body = body.String()
			return f, nil
		}
		if !first {
			body.WriteString("\r\n")
		}
		first = false
		body.WriteString(l)
	}
}

func (rc *rawConn) line() (string, error) {
	l, err := rc.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(l, "\r\n") {
		return "", fmt.Errorf("line without CRLF: %q", l)
	}
	return l[:len(l)-2], nil
}

// expect reads one frame and fails the test if none comes.
func (rc *rawConn) expect(what string) *rawFrame {
	rc.t.Helper()
	f, err := rc.read(5 * time.Second)
	if err != nil {
		rc.t.Fatalf("%s: waiting for %s: %v", rc.Self, what, err)
	}
	return f
}

// expectNothing checks that no frame arrives within d.
func (rc *rawConn) expectNothing(d time.Duration, why string) {
	rc.t.Helper()
	if f, err := rc.read(d); err == nil {
		rc.t.Fatalf("%s: unexpected frame (%s):\n%s", rc.Self, why, f)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		rc.t.Fatalf("%s: connection failed (%s): %v", rc.Self, why, err)
	}
}

// RoundTrip implements msrp.RoundTripper over the raw connection: it
// writes req with Parley's codec (msrp.AppendFrame) and reads the
// response with the independent reader, so that Authenticate can run
// against Kamailio before any endpoint is involved.
func (rc *rawConn) RoundTrip(ctx context.Context, req *msrp.Frame, body []byte) (*msrp.Frame, error) {
	f := *req
	if f.TID == "" {
		f.TID = msrp.NewTransactionID()
	}
	f.Flag = msrp.FlagEnd
	if err := f.Check(); err != nil {
		return nil, err
	}
	if _, err := rc.c.Write(msrp.AppendFrame(nil, &f, body)); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	rf, err := rc.read(time.Until(deadline))
	if err != nil {
		return nil, err
	}
	if rf.Method != "" || rf.TID != f.TID {
		return nil, fmt.Errorf("unexpected frame while waiting for %s:\n%s", f.TID, rf)
	}
	return rf.toFrame()
}

func (f *rawFrame) toFrame() (*msrp.Frame, error) {
	out := &msrp.Frame{TID: f.TID, Method: f.Method, StatusCode: f.Code, Comment: f.Comment, Flag: msrp.Flag(f.Flag)}
	for _, h := range f.Headers {
		switch h[0] {
		case "To-Path", "From-Path":
			p, err := msrp.ParsePath(h[1])
			if err != nil {
				return nil, err
			}
			if h[0] == "To-Path" {
				out.ToPath = p
			} else {
				out.FromPath = p
			}
		case "Message-ID":
			out.MessageID = h[1]
		default:
			out.Headers = append(out.Headers, msrp.Header{Name: h[0], Value: h[1]})
		}
	}
	return out, nil
}
