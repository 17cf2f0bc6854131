package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNoDumpcap is returned by StartCapture when dumpcap is not installed.
var ErrNoDumpcap = errors.New("loadgen: dumpcap not found (Debian: apt-get install tshark, which brings wireshark-common's dumpcap)")

// Capture is a dumpcap process writing a pcap file of loopback traffic
// (StartCapture).
type Capture struct {
	// Path is the pcap file written.
	Path string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  strings.Builder // dumpcap's stderr
}

// CaptureStats is what dumpcap reported when it stopped.
type CaptureStats struct {
	// Received and Dropped are the packets the kernel passed to dumpcap
	// and those it dropped (buffer full); Captured those written.
	Received, Dropped, Captured uint64
}

// CaptureFilter is the capture filter (libpcap syntax) for TCP traffic
// to or from any of ports.
func CaptureFilter(ports []int) string {
	var b strings.Builder
	b.WriteString("tcp and (")
	for i, p := range ports {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString("port ")
		b.WriteString(strconv.Itoa(p))
	}
	b.WriteString(")")
	return b.String()
}

// StartCapture starts dumpcap on interface iface ("lo" when empty),
// capturing TCP traffic of ports into the pcap file path (classic pcap,
// dumpcap -P, which AnalyzeWire reads), and returns once dumpcap has
// opened the interface with its filter and created the file. Stop ends
// it. Capturing needs root or dumpcap's capture capabilities.
func StartCapture(ctx context.Context, iface string, ports []int, path string) (*Capture, error) {
	if iface == "" {
		iface = "lo"
	}
	if len(ports) == 0 {
		return nil, fmt.Errorf("%w: no ports to capture", ErrConfig)
	}
	bin, err := exec.LookPath("dumpcap")
	if err != nil {
		return nil, ErrNoDumpcap
	}
	// -B 64: a 64 MiB kernel buffer, so that packets are not dropped
	// while dumpcap waits for a CPU shared with the load generator (the
	// kernel stamps them when they are sent, not when dumpcap reads them).
	cmd := exec.Command(bin, "-i", iface, "-P", "-B", "64", "-f", CaptureFilter(ports), "-w", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	c := &Capture{Path: path, cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("loadgen: dumpcap: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			c.log.WriteString(line)
			c.log.WriteByte('\n')
			c.mu.Unlock()
			// "File: <path>" comes once the interface is open, the
			// filter set and the file created.
			if !signalled && strings.HasPrefix(line, "File: ") {
				close(ready)
				signalled = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-ready:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("loadgen: dumpcap exited: %s", strings.TrimSpace(c.output()))
	case <-t.C:
		c.Stop()
		return nil, fmt.Errorf("loadgen: dumpcap not capturing after 10 s: %s", strings.TrimSpace(c.output()))
	case <-ctx.Done():
		c.Stop()
		return nil, ctx.Err()
	}
}

func (c *Capture) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

var captureStatsRE = regexp.MustCompile(`Packets received/dropped on interface '[^']*': (\d+)/(\d+)`)
var captureCountRE = regexp.MustCompile(`Packets captured: (\d+)`)

// captureLinger is how long Stop waits before it stops dumpcap. Linux
// hands captured packets to dumpcap in blocks (TPACKET_V3), a block when
// it is full or when its timeout passes (dumpcap's is 250 ms); a dumpcap
// interrupted before that loses the packets of the block being filled:
// the last 12 of 60 probes in a first recording of the golden capture.
const captureLinger = time.Second

// Stop ends dumpcap (after captureLinger, with SIGINT, so that it
// flushes its file; SIGKILL after 10 s more) and returns the counts it
// reported. Calling it again returns the same.
func (c *Capture) Stop() (CaptureStats, error) {
	select {
	case <-c.done:
	default:
		time.Sleep(captureLinger)
		_ = c.cmd.Process.Signal(os.Interrupt)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	var st CaptureStats
	out := c.output()
	m := captureStatsRE.FindStringSubmatch(out)
	if m == nil {
		return st, fmt.Errorf("loadgen: dumpcap reported no packet counts: %s", strings.TrimSpace(out))
	}
	st.Received, _ = strconv.ParseUint(m[1], 10, 64)
	st.Dropped, _ = strconv.ParseUint(m[2], 10, 64)
	if m := captureCountRE.FindStringSubmatch(out); m != nil {
		st.Captured, _ = strconv.ParseUint(m[1], 10, 64)
	}
	return st, nil
}
