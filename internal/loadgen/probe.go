package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// Probe sessions (MSRPConfig.ProbeRate): a few session pairs on fixed,
// known local ports, so that a packet capture can select their traffic
// alone and AnalyzeWire can time the relay from it.

// probeWindow is the number of probe messages a probe pair may have
// outstanding.
const probeWindow = 8

// probeSize is the body size of probe messages: Small's default.
const probeSize = 100

// probeBases are the port blocks tried when MSRPConfig.ProbePortBase is
// 0: below Linux's default ephemeral range (32768–60999), so no outgoing
// connection of this or another process is given one of them by chance.
var probeBases = []int{21000, 22000, 23000, 24000, 25000, 26000, 27000, 28000, 29000, 30000, 31000}

// setupProbes opens the probe pairs on the first free block of ports and
// returns their ports (A and B of each pair in turn).
func (r *runner) setupProbes(ctx context.Context, cls *classState) ([]int, error) {
	cfg := r.cfg
	n := 2 * cfg.ProbeSessions
	ip := probeIP(cfg.Relay)
	bases := probeBases
	if cfg.ProbePortBase > 0 {
		bases = []int{cfg.ProbePortBase}
	}
	base := 0
	var tried []string
	for _, b := range bases {
		if err := portsFree(ip, b, n); err != nil {
			tried = append(tried, err.Error())
			continue
		}
		base = b
		break
	}
	if base == 0 {
		return nil, fmt.Errorf("loadgen: no free block of %d probe ports on %s (set ProbePortBase, --probe-port-base): %v", n, ip, tried)
	}
	sp := pairSpec{cls: cls, size: probeSize, window: probeWindow, rate: cfg.ProbeRate / float64(cfg.ProbeSessions),
		portBase: base, mid: probePrefix + "m"}
	if _, err := r.setupPairs(ctx, cfg.ProbeSessions, sp); err != nil {
		return nil, fmt.Errorf("%w (probe ports %d–%d on %s)", err, base, base+n-1, ip)
	}
	ports := make([]int, n)
	for i := range ports {
		ports[i] = base + i
	}
	return ports, nil
}

// probeIP is the loopback address of the relay's family.
func probeIP(relay string) netip.Addr {
	host, _, err := net.SplitHostPort(relay)
	if err == nil {
		if a, err := netip.ParseAddr(host); err == nil && a.Is6() && !a.Is4In6() {
			return netip.IPv6Loopback()
		}
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// portsFree checks that ports base … base+n-1 can be bound on ip (with
// SO_REUSEADDR, as dialFrom binds them: a port left in TIME_WAIT by a
// previous run counts as free).
func portsFree(ip netip.Addr, base, n int) error {
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp", netip.AddrPortFrom(ip, uint16(p)).String())
		if err != nil {
			return fmt.Errorf("port %d: %w", p, errors.Unwrap(err))
		}
		l.Close()
	}
	return nil
}

// dialFrom connects to addr from local port lport on the loopback address
// of addr's family.
func dialFrom(ctx context.Context, addr string, lport int) (net.Conn, error) {
	ip := probeIP(addr)
	d := &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: ip.AsSlice(), Port: lport},
		Control: func(network, address string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = setReuseAddr(fd) }); err != nil {
				return err
			}
			return serr
		},
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial from %s: %w", net.JoinHostPort(ip.String(), strconv.Itoa(lport)), err)
	}
	return nc, nil
}
