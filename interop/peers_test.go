package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testpeer"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Kamailio cannot listen on port 0, so the test picks one.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a child's output for the failure log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// process is a child started by a test, in its own process group so that
// stopping it also stops the workers it forked.
type process struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error
}

func startProcess(t testing.TB, dir, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out := new(lockedBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

// stop sends sig to the process group, then SIGKILL after grace.
func (p *process) stop(sig syscall.Signal, grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kamailio is a Kamailio MSRP relay started by a test.
type kamailio struct {
	Port   int
	Addr   string // 127.0.0.1:Port
	RunDir string
	proc   *process
}

// kamailioOptions are -A defines passed to msrp-relay.cfg.
type kamailioOptions struct {
	Defines []string // e.g. "MSRP_MIN_EXPIRES=60"
}

// startKamailio runs interop/kamailio/msrp-relay.cfg in the foreground in
// a temporary run directory, on a free loopback port, waits until it
// accepts TCP connections and stops it when the test ends.
func startKamailio(t testing.TB, opts kamailioOptions) *kamailio {
	t.Helper()
	bin := testpeer.Require(t, "kamailio")
	cfg, err := filepath.Abs(filepath.Join("kamailio", "msrp-relay.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		k, err := tryStartKamailio(t, bin, cfg, opts)
		if err == nil {
			return k
		}
		lastErr = err
	}
	t.Fatalf("kamailio did not start: %v", lastErr)
	return nil
}

func tryStartKamailio(t testing.TB, bin, cfg string, opts kamailioOptions) (*kamailio, error) {
	dir := t.TempDir()
	port := freePort(t)
	args := []string{
		"-f", cfg, "-DD", "-E",
		"-w", dir, "-P", filepath.Join(dir, "kamailio.pid"),
		"-l", "tcp:127.0.0.1:" + strconv.Itoa(port),
		"-A", `CTL_SOCK="unix:` + filepath.Join(dir, "kamailio.ctl") + `"`,
		"-m", "64", "-M", "16",
	}
	if os.Getenv("KAMAILIO_DEBUG") == "1" {
		args = append(args, "-A", "WITH_DEBUG")
	}
	for _, d := range opts.Defines {
		args = append(args, "-A", d)
	}
	p := startProcess(t, dir, bin, args...)
	k := &kamailio{Port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), RunDir: dir, proc: p}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if p.exited() {
			return nil, fmt.Errorf("kamailio exited (%v):\n%s", p.err, p.out.String())
		}
		c, err := net.DialTimeout("tcp", k.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			p.stop(syscall.SIGKILL, time.Second)
			return nil, fmt.Errorf("kamailio not accepting on %s after 15 s:\n%s", k.Addr, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM, 5*time.Second)
		if t.Failed() {
			t.Logf("kamailio log (%s):\n%s", k.Addr, tail(p.out.String(), 400))
		}
	})
	return k, nil
}

// Log returns what Kamailio has logged so far.
func (k *kamailio) Log() string { return k.proc.out.String() }

// Alive reports whether the Kamailio process is still running (a frame it
// cannot handle may crash it, see README.md).
func (k *kamailio) Alive() bool { return !k.proc.exited() }

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// capture is a tshark capture of one TCP port on the loopback interface.
type capture struct {
	port int
	file string
	proc *process
	bin  string
}

// startCapture starts `tshark -i lo -f "tcp port N" -w file` and waits
// until tshark reports that it is capturing.
func startCapture(t testing.TB, port int) *capture {
	t.Helper()
	bin := testpeer.Require(t, "tshark")
	dir := t.TempDir()
	c := &capture{port: port, file: filepath.Join(dir, "msrp.pcapng"), bin: bin}
	// -B: a 64 MiB kernel buffer, so that bulk transfers are not dropped by
	// the capture ("previous segment not captured").
	c.proc = startProcess(t, dir, bin, "-i", "lo", "-B", "64", "-f", "tcp port "+strconv.Itoa(port), "-w", c.file)
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(c.proc.out.String(), "Capturing on") {
		if c.proc.exited() {
			out := c.proc.out.String()
			if strings.Contains(strings.ToLower(out), "permission") {
				testpeer.Unavailable(t, "tshark may not capture on lo as this user: run the interop tests as root or grant dumpcap capture rights (sudo setcap cap_net_raw,cap_net_admin+eip $(command -v dumpcap)):\n%s", out)
			}
			t.Fatalf("tshark exited (%v):\n%s", c.proc.err, out)
		}
		if time.Now().After(deadline) {
			c.proc.stop(syscall.SIGKILL, time.Second)
			t.Fatalf("tshark did not start capturing:\n%s", c.proc.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// dumpcap prints "Capturing on" before packets are really recorded
	// (frames sent at once were seen missing, by up to a second on a loaded
	// machine). Probe with TCP connections to the port, which must be
	// listening, until the capture file grows: dumpcap writes every packet
	// through.
	for fileSize(c.file) == 0 { // the file header comes first
		if time.Now().After(deadline) {
			c.proc.stop(syscall.SIGKILL, time.Second)
			t.Fatalf("tshark wrote no capture file:\n%s", c.proc.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	base := fileSize(c.file)
	for fileSize(c.file) <= base {
		if time.Now().After(deadline) {
			c.proc.stop(syscall.SIGKILL, time.Second)
			t.Fatalf("tshark captured nothing of probe connections to port %d", port)
		}
		if pc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
			pc.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { c.proc.stop(syscall.SIGKILL, time.Second) })
	return c
}

// The display filter for problems: any malformed packet or any expert
// item of severity warning or error.
const badFilter = `_ws.malformed || _ws.expert.severity >= "Warning"`

// bulkBadFilter is badFilter without TCP's sequence analysis (zero window,
// window full, ACKed unseen segment...): a bulk transfer on loopback fills
// TCP windows, which says nothing about the MSRP on the wire. Malformed
// MSRP and every other expert group still count.
const bulkBadFilter = `_ws.malformed || (_ws.expert.severity >= "Warning" && !(_ws.expert.group == "Sequence"))`

func fileSize(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// stopAndCheck stops the capture and checks the recorded MSRP with
// tshark's dissector: no malformed packet and no expert warning or error
// (badFilter), and at least minFrames MSRP PDUs decoded (so the check
// cannot pass on an empty capture). It returns the decoded MSRP start
// lines' methods or status codes.
func (c *capture) stopAndCheck(t testing.TB, minFrames int) []string {
	t.Helper()
	return c.check(t, minFrames, badFilter)
}

// stopAndCheckBulk is stopAndCheck for bulk transfers (bulkBadFilter).
func (c *capture) stopAndCheckBulk(t testing.TB, minFrames int) []string {
	t.Helper()
	return c.check(t, minFrames, bulkBadFilter)
}

func (c *capture) check(t testing.TB, minFrames int, filter string) []string {
	t.Helper()
	// Let the last segments reach the capture before stopping.
	time.Sleep(300 * time.Millisecond)
	c.proc.stop(syscall.SIGINT, 10*time.Second)
	decode := "tcp.port==" + strconv.Itoa(c.port) + ",msrp"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bad, err := exec.CommandContext(ctx, c.bin, "-r", c.file, "-d", decode, "-Y", filter).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark -r: %v\n%s", err, bad)
	}
	if s := strings.TrimSpace(stripTsharkNoise(string(bad))); s != "" {
		// Show the details of the first offending packets.
		detail, _ := exec.CommandContext(ctx, c.bin, "-r", c.file, "-d", decode, "-V", "-Y", filter).CombinedOutput()
		if d := os.Getenv("INTEROP_KEEP_CAPTURE"); d != "" {
			if b, err := os.ReadFile(c.file); err == nil {
				_ = os.WriteFile(filepath.Join(d, filepath.Base(t.Name())+".pcapng"), b, 0o644)
			}
		}
		t.Errorf("tshark flags malformed or suspicious MSRP:\n%s\n---\n%s", s, tail(string(detail), 80))
	}
	out, err := exec.CommandContext(ctx, c.bin, "-r", c.file, "-d", decode, "-Y", "msrp",
		"-T", "fields", "-e", "msrp.method", "-e", "msrp.status.code").Output()
	if err != nil {
		t.Fatalf("tshark -r -T fields: %v", err)
	}
	var frames []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		frames = append(frames, strings.FieldsFunc(sc.Text(), func(r rune) bool { return r == '\t' || r == ',' })...)
	}
	if len(frames) < minFrames {
		all, _ := exec.CommandContext(ctx, c.bin, "-r", c.file, "-d", decode).CombinedOutput()
		t.Logf("capture %s:\n%s", c.file, tail(stripTsharkNoise(string(all)), 40))
		t.Errorf("tshark decoded %d MSRP frames on port %d, want at least %d: %q", len(frames), c.port, minFrames, frames)
	}
	return frames
}

// stripTsharkNoise drops tshark's root warning, which is not a finding.
func stripTsharkNoise(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "Running as user") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// wireSEND summarises the SEND requests found in the reassembled TCP
// streams of a capture.
type wireSEND struct {
	count   int            // SEND requests with a body
	maxBody int            // largest body, in octets
	methods map[string]int // every request, by method
}

// sendsOnWire reassembles every TCP stream of the capture (by sequence
// number, dropping retransmitted octets) and scans it for MSRP SEND
// requests, measuring each body up to its end-line, and counts every
// request by method. tshark's MSRP
// dissector decodes only the first PDU of a segment that carries several
// (a sender that coalesces chunks into one write), so counting its PDUs
// undercounts; this count does not depend on segmentation. Bodies must
// not contain "MSRP " (the 10 MiB tests use lowercase letters).
func (c *capture) sendsOnWire(t testing.TB) wireSEND {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, "-r", c.file, "-Y", "tcp.len > 0",
		"-T", "fields", "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.seq", "-e", "tcp.payload")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("tshark: %v", err)
	}
	type segment struct {
		seq int64 // tshark's relative sequence number
		p   []byte
	}
	segs := map[string][]segment{}
	var order []string
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != 4 {
			continue
		}
		seq, err := strconv.ParseInt(fs[2], 10, 64)
		if err != nil {
			t.Fatalf("tshark seq %q: %v", fs[2], err)
		}
		p, err := hex.DecodeString(strings.Split(fs[3], ",")[0])
		if err != nil {
			t.Fatalf("tshark payload: %v", err)
		}
		key := fs[0] + "/" + fs[1]
		if segs[key] == nil {
			order = append(order, key)
		}
		segs[key] = append(segs[key], segment{seq, p})
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tshark -T fields tcp.payload: %v", err)
	}
	// Segments may be recorded out of order; sort them by sequence number
	// and drop retransmitted octets. A gap means the capture lost data.
	streams := map[string][]byte{}
	for _, key := range order {
		ss := segs[key]
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].seq < ss[j].seq })
		next := ss[0].seq
		var buf []byte
		for _, sg := range ss {
			p := sg.p
			if skip := next - sg.seq; skip > 0 {
				if skip >= int64(len(p)) {
					continue
				}
				p = p[skip:]
			} else if skip < 0 {
				t.Errorf("the capture lost %d octets of stream %s (dumpcap dropped packets?)", -skip, key)
			}
			buf = append(buf, p...)
			next = max(next, sg.seq) + int64(len(p))
		}
		streams[key] = buf
	}
	w := wireSEND{methods: map[string]int{}}
	for _, key := range order {
		b := streams[key]
		for {
			i := bytes.Index(b, []byte("MSRP "))
			if i < 0 {
				break
			}
			b = b[i:]
			eol := bytes.Index(b, []byte("\r\n"))
			if eol < 0 {
				break
			}
			fields := strings.Fields(string(b[:eol]))
			if len(fields) != 3 || strings.Trim(fields[2], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
				b = b[eol:] // a response
				continue
			}
			w.methods[fields[2]]++
			if fields[2] != "SEND" {
				b = b[eol:]
				continue
			}
			end := bytes.Index(b, []byte("-------"+fields[1]))
			hdrEnd := bytes.Index(b, []byte("\r\n\r\n"))
			if end < 0 {
				break
			}
			if hdrEnd >= 0 && hdrEnd < end {
				w.count++
				w.maxBody = max(w.maxBody, end-(hdrEnd+4)-2) // CRLF before the end-line
			}
			b = b[end:]
		}
	}
	return w
}
