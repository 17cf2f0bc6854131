package hostile

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/msrp"
)

// startServer runs `parley serve` in process on loopback ports with a
// SQLite store in a temporary directory.
func startServer(t testing.TB) *server.Server {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with mod applied to the configuration.
func startServerWith(t testing.TB, mod func(*server.Config)) *server.Server {
	t.Helper()
	ctx := context.Background()
	cfg := server.Config{
		SIP:       []server.Listen{{Transport: "tcp", Addr: "127.0.0.1:0"}, {Transport: "udp", Addr: "127.0.0.1:0"}},
		DataDir:   t.TempDir(),
		Domains:   []string{"localhost"},
		MSRPRelay: "127.0.0.1:0",
		CPIMRelay: "127.0.0.1:0",
		HTTP:      "off",
		Logger:    slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	// bob exists (no device registered): MESSAGEs to him are stored (202);
	// alice uses the MSRP relay.
	for _, user := range []string{"alice", "bob"} {
		creds, err := store.NewCredentials(user, "localhost", user+"-pw")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Store().AddAccount(ctx, store.Account{Domain: "localhost", User: user, Credentials: creds}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

func sipAddr(s *server.Server, transport string) string {
	for _, l := range s.Addrs().SIP {
		if l.Transport == transport {
			return l.Addr
		}
	}
	return ""
}

// sipConn is a raw SIP-over-TCP client.
type sipConn struct {
	nc net.Conn
	br *bufio.Reader
}

func dialSIP(t testing.TB, addr string) *sipConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, reactionTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &sipConn{nc: nc, br: bufio.NewReader(nc)}
}

// final reads responses until a final one (≥ 200) and returns its code;
// io.EOF (or another read error) when the server closed the connection.
func (c *sipConn) final(d time.Duration) (int, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	tp := textproto.NewReader(c.br)
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return 0, err
		}
		if line == "" {
			continue // keep-alive CRLFs
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "SIP/2.0" {
			return 0, errors.New("not a SIP response: " + line)
		}
		code, err := strconv.Atoi(f[1])
		if err != nil {
			return 0, err
		}
		h, err := tp.ReadMIMEHeader()
		if err != nil {
			return 0, err
		}
		if n, _ := strconv.Atoi(h.Get("Content-Length")); n > 0 {
			if _, err := io.CopyN(io.Discard, c.br, int64(n)); err != nil {
				return 0, err
			}
		}
		if code >= 200 {
			return code, nil
		}
	}
}

// sipProbe is a well-formed OPTIONS to the server itself (RFC 3261 §11).
func sipProbe(name string) string {
	return "OPTIONS sip:localhost SIP/2.0\r\n" +
		"Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-probe" + name + "\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:mallory@evil.example>;tag=p" + name + "\r\nTo: <sip:localhost>\r\n" +
		"Call-ID: probe-" + name + "@hostile\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
}

// TestReplaySIPServer replays the SIP corpus at a live `parley serve` over
// TCP: each case on its own connection, the final response must be the one
// listed (or the server closes); then a fresh connection still gets
// answered. Heap and goroutines must come back.
func TestReplaySIPServer(t *testing.T) {
	s := startServer(t)
	addr := sipAddr(s, "tcp")
	replaySIP(t, func(t testing.TB) *sipConn { return dialSIP(t, addr) }, func(b []byte) []byte { return b })
}

// replaySIP replays the sip= cases of the corpus over connections from
// dial, each case's bytes passed through fix first (TLS names its
// transport in Via).
func replaySIP(t *testing.T, dial func(testing.TB) *sipConn, fix func([]byte) []byte) {
	warm := dial(t)
	warm.nc.Write(fix([]byte(sipProbe("warm"))))
	if _, err := warm.final(reactionTimeout); err != nil {
		t.Fatalf("server does not answer OPTIONS: %v", err)
	}
	warm.nc.Close()
	g0 := runtime.NumGoroutine()
	h0 := heapAlloc()
	for _, c := range casesFor(t, "sip") {
		t.Run(c.name, func(t *testing.T) {
			sc := dial(t)
			sc.nc.SetWriteDeadline(time.Now().Add(reactionTimeout))
			if _, err := sc.nc.Write(fix(c.data)); err != nil && c.expect != "close" {
				t.Fatalf("write: %v", err)
			}
			code, err := sc.final(reactionTimeout)
			switch {
			case strings.HasPrefix(c.expect, "status:"):
				want, _ := strconv.Atoi(strings.TrimPrefix(c.expect, "status:"))
				if err != nil || code != want {
					t.Fatalf("want %d, got %d %v", want, code, err)
				}
			case c.expect == "close":
				if err == nil {
					t.Fatalf("want the connection closed, got %d", code)
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("want the connection closed: no reaction in %v", reactionTimeout)
				}
			default:
				t.Fatalf("unknown expectation %q", c.expect)
			}
		})
	}
	fresh := dial(t)
	fresh.nc.Write(fix([]byte(sipProbe("fresh"))))
	if code, err := fresh.final(reactionTimeout); err != nil || code != 200 {
		t.Fatalf("fresh connection after the corpus: %d %v", code, err)
	}
	fresh.nc.Close()
	if h1 := heapAlloc(); h1 > h0+64<<20 {
		t.Errorf("heap grew from %d to %d over the corpus", h0, h1)
	}
	if n := settleGoroutines(g0 + 4); n > g0+4 {
		t.Errorf("goroutines: %d before the corpus, %d after", g0, n)
	}
}

// TestSIPServerUDPGarbage sends malformed datagrams to the SIP UDP port:
// none may get an answer that misattributes it, and the server keeps
// answering a valid OPTIONS from the same socket afterwards.
func TestSIPServerUDPGarbage(t *testing.T) {
	s := startServer(t)
	raddr, err := net.ResolveUDPAddr("udp", sipAddr(s, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	via := strings.NewReplacer("SIP/2.0/TCP 127.0.0.1:5999", "SIP/2.0/UDP "+uc.LocalAddr().String())
	datagrams := []string{
		"\x00\x01\x02\x03",
		"MESSAGE\r\n\r\n",
		strings.Repeat("A", 60000),
		via.Replace(sipRaw("MESSAGE", "udpcl", "Content-Type: text/plain\r\nContent-Length: 5000\r\n\r\nshort")),
		via.Replace(sipRaw("MESSAGE", "udpneg", "Content-Type: text/plain\r\nContent-Length: -7\r\n\r\nx")),
		via.Replace(sipReq("MESSAGE", "udpbig", "X-Big: "+strings.Repeat("b", 60000)+"\r\n", "text/plain", "hi")),
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-stray\r\nCall-ID: stray\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
	}
	for _, d := range datagrams {
		if _, err := uc.WriteToUDP([]byte(d), raddr); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := uc.WriteToUDP([]byte(via.Replace(sipProbe("udp"))), raddr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	deadline := time.Now().Add(reactionTimeout)
	for {
		uc.SetReadDeadline(deadline)
		n, _, err := uc.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no answer to OPTIONS after the garbage: %v", err)
		}
		msg := string(buf[:n])
		if strings.Contains(msg, "probe-udp@hostile") {
			if !strings.HasPrefix(msg, "SIP/2.0 200") {
				t.Fatalf("OPTIONS answered %q", strings.SplitN(msg, "\r\n", 2)[0])
			}
			return
		}
		t.Logf("answer to a malformed datagram: %q", strings.SplitN(msg, "\r\n", 2)[0])
	}
}

// TestReplayServerMSRPRelay replays the relay corpus at the MSRP relay of
// `parley serve`, whose accounts come from the server's store.
func TestReplayServerMSRPRelay(t *testing.T) {
	s := startServer(t)
	host, port, err := net.SplitHostPort(s.Addrs().MSRPRelay)
	if err != nil {
		t.Fatal(err)
	}
	pn, _ := strconv.Atoi(port)
	replayRelay(t, msrp.URI{Host: host, Port: pn, Transport: "tcp"})
}
