package loadgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// pkt is one packet for writePcap: a TCP segment captured at ts (ns since
// the epoch).
type pkt struct {
	ts       int64
	src, dst netip.AddrPort
	seq      uint32
	syn      bool
	payload  []byte
	snap     int // capture only this many payload octets (0: all)
}

// pcapOpts chooses the file's flavour.
type pcapOpts struct {
	order binary.AppendByteOrder
	nano  bool
	link  uint32
}

// writePcap writes packets as a classic pcap file.
func writePcap(opts pcapOpts, packets []pkt) []byte {
	if opts.order == nil {
		opts.order = binary.LittleEndian
	}
	o := opts.order
	var b []byte
	magic := uint32(pcapMagicMicro)
	if opts.nano {
		magic = pcapMagicNano
	}
	b = o.AppendUint32(b, magic)
	b = o.AppendUint16(b, 2)
	b = o.AppendUint16(b, 4)
	b = o.AppendUint32(b, 0)
	b = o.AppendUint32(b, 0)
	b = o.AppendUint32(b, 262144)
	b = o.AppendUint32(b, opts.link)
	for _, p := range packets {
		frame := buildFrame(opts.link, p)
		wire := len(frame)
		if p.snap > 0 {
			frame = frame[:len(frame)-len(p.payload)+p.snap]
		}
		b = o.AppendUint32(b, uint32(p.ts/1e9))
		frac := p.ts % 1e9
		if !opts.nano {
			frac /= 1000
		}
		b = o.AppendUint32(b, uint32(frac))
		b = o.AppendUint32(b, uint32(len(frame)))
		b = o.AppendUint32(b, uint32(wire))
		b = append(b, frame...)
	}
	return b
}

// buildFrame builds the link header, IP header and TCP header of p (no
// checksums: the analyser does not check them, nor does Linux's lo).
func buildFrame(link uint32, p pkt) []byte {
	be := binary.BigEndian
	var tcp []byte
	tcp = be.AppendUint16(tcp, p.src.Port())
	tcp = be.AppendUint16(tcp, p.dst.Port())
	tcp = be.AppendUint32(tcp, p.seq)
	tcp = be.AppendUint32(tcp, 1) // ack
	flags := byte(0x18)           // PSH, ACK
	if p.syn {
		flags = 0x02
	}
	tcp = append(tcp, 5<<4, flags, 0xff, 0xff, 0, 0, 0, 0)
	tcp = append(tcp, p.payload...)
	var ip []byte
	v6 := p.src.Addr().Is6()
	if v6 {
		ip = append(ip, 0x60, 0, 0, 0)
		ip = be.AppendUint16(ip, uint16(len(tcp)))
		ip = append(ip, 6, 64)
		s, d := p.src.Addr().As16(), p.dst.Addr().As16()
		ip = append(append(ip, s[:]...), d[:]...)
	} else {
		ip = append(ip, 0x45, 0)
		ip = be.AppendUint16(ip, uint16(20+len(tcp)))
		ip = append(ip, 0, 0, 0x40, 0, 64, 6, 0, 0) // DF
		s, d := p.src.Addr().As4(), p.dst.Addr().As4()
		ip = append(append(ip, s[:]...), d[:]...)
	}
	ip = append(ip, tcp...)
	et := uint16(0x0800)
	if v6 {
		et = 0x86dd
	}
	var l []byte
	switch link {
	case linkEthernet:
		l = make([]byte, 12)
		l = be.AppendUint16(l, et)
	case linkNull:
		af := uint32(2)
		if v6 {
			af = 10
		}
		l = binary.LittleEndian.AppendUint32(l, af)
	case linkLinuxSLL:
		l = make([]byte, 14)
		l = be.AppendUint16(l, et)
	case linkLinuxSLL2:
		l = be.AppendUint16(l, et)
		l = append(l, make([]byte, 18)...)
	case linkRaw:
	}
	return append(l, ip...)
}

// sendFrame is a SEND as the load generator writes it.
func sendFrame(tid, mid string) []byte {
	return []byte("MSRP " + tid + " SEND\r\nTo-Path: msrp://127.0.0.1:2855/s1;tcp msrp://127.0.0.1:9/b;tcp\r\n" +
		"From-Path: msrp://127.0.0.1:21000/a;tcp\r\nMessage-ID: " + mid + "\r\nByte-Range: 1-10/10\r\n" +
		"Content-Type: text/plain\r\n\r\n0123456789\r\n-------" + tid + "$\r\n")
}

func okFrame(tid string) []byte {
	return []byte("MSRP " + tid + " 200 OK\r\nTo-Path: msrp://127.0.0.1:21000/a;tcp\r\nFrom-Path: msrp://127.0.0.1:2855/s1;tcp\r\n-------" + tid + "$\r\n")
}

// stream builds the segments of one TCP direction from pieces, each
// captured at its time.
type stream struct {
	src, dst netip.AddrPort
	seq      uint32
	pkts     []pkt
}

func (s *stream) send(ts int64, data []byte) {
	s.pkts = append(s.pkts, pkt{ts: ts, src: s.src, dst: s.dst, seq: s.seq, payload: data})
	s.seq += uint32(len(data))
}

// synthetic builds a capture of probe traffic through a relay on port
// 2855 with known latencies: message i enters at 1 ms·i and leaves
// (i+1)·10 µs later, for i < n. Along with it: 200 responses, a non-probe
// message, message 0 split over three segments (the last one times it),
// messages 5 and 6 in one segment, a retransmitted segment, a probe that
// never leaves, and segments of the outgoing stream out of order.
func synthetic(v6 bool, n int) []pkt {
	lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	if v6 {
		lo = netip.IPv6Loopback()
	}
	relay, a, b := netip.AddrPortFrom(lo, 2855), netip.AddrPortFrom(lo, 21000), netip.AddrPortFrom(lo, 21001)
	in := &stream{src: a, dst: relay, seq: 1000}
	back := &stream{src: relay, dst: a, seq: 5000}
	out := &stream{src: relay, dst: b, seq: 0xfffff000} // wraps around
	var pkts []pkt
	const t0 = int64(1_700_000_000) * 1e9
	ms, us := int64(time.Millisecond), int64(time.Microsecond)
	mid := func(i int) string { return fmt.Sprintf("%sm%s.%d", probePrefix, "1", i) }
	for i := 0; i < n; i++ {
		tin := t0 + int64(i)*ms
		f := sendFrame(fmt.Sprintf("tin%d", i), mid(i))
		switch i {
		case 0:
			in.send(tin-200*us, f[:7])
			in.send(tin-100*us, f[7:50])
			in.send(tin, f[50:])
		case 5:
			f = append(f, sendFrame("tin6", mid(6))...)
			in.send(tin, f)
		case 6: // sent with 5, at 5's time
			tin = t0 + 5*ms
		case 9:
			in.send(tin, f)
			in.pkts = append(in.pkts, pkt{ts: tin + 50*us, src: a, dst: relay, seq: in.seq - uint32(len(f)), payload: f})
		default:
			in.send(tin, f)
		}
		back.send(tin+us, okFrame(fmt.Sprintf("tin%d", i)))
		out.send(tin+int64(i+1)*10*us, sendFrame(fmt.Sprintf("tout%d", i), mid(i)))
	}
	// Message 6 entered with 5: its latency is (6+1)·10 µs + 1 ms.
	// A non-probe message, in and out, and a probe that never leaves.
	in.send(t0+int64(n)*ms, sendFrame("x", "m1.99"))
	out.send(t0+int64(n)*ms+5*us, sendFrame("xo", "m1.99"))
	in.send(t0+int64(n+1)*ms, sendFrame("lost", mid(n)))
	// Messages 2 and 3 leave out of order: 3 at t3, 2 at t3 + 1 µs.
	t3 := out.pkts[3].ts
	out.pkts[2], out.pkts[3] = out.pkts[3], out.pkts[2]
	out.pkts[2].ts, out.pkts[3].ts = t3, t3+us
	// A's connection was captured from its SYN.
	in.pkts = append([]pkt{{ts: t0 - time.Second.Nanoseconds(), src: a, dst: relay, seq: 999, syn: true}}, in.pkts...)
	pkts = append(append(append(pkts, in.pkts...), back.pkts...), out.pkts...)
	// Capture order is time order (stable for equal times).
	sortPkts(pkts)
	return pkts
}

func sortPkts(p []pkt) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].ts < p[j-1].ts; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// expectedSynthetic is the latency of each matched message of synthetic.
func expectedSynthetic(n int) []time.Duration {
	var d []time.Duration
	for i := 0; i < n; i++ {
		lat := time.Duration(i+1) * 10 * time.Microsecond
		switch i {
		case 6:
			lat += time.Millisecond
		case 2:
			// Out of order: message 3's segment came first (at 3 ms +
			// 40 µs), message 2's 1 µs later; 3 is complete in order only
			// when 2 arrives, so both are stamped then.
			lat = time.Millisecond + 41*time.Microsecond
		case 3:
			lat = 41 * time.Microsecond
		}
		d = append(d, lat)
	}
	return d
}

// quantile is the nearest-rank quantile of sorted values.
func quantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func sortDur(d []time.Duration) []time.Duration {
	s := append([]time.Duration(nil), d...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// near reports whether got is within the histogram's resolution of want.
func near(got, want time.Duration) bool {
	return math.Abs(float64(got-want)) <= 0.02*float64(want)+1
}

func TestAnalyzeWireSynthetic(t *testing.T) {
	const n = 200
	want := sortDur(expectedSynthetic(n))
	for _, tc := range []struct {
		name string
		opts pcapOpts
		v6   bool
	}{
		{"ethernet µs little-endian", pcapOpts{link: linkEthernet}, false},
		{"ethernet ns big-endian", pcapOpts{link: linkEthernet, nano: true, order: binary.BigEndian}, false},
		{"ethernet IPv6", pcapOpts{link: linkEthernet, nano: true}, true},
		{"null", pcapOpts{link: linkNull}, false},
		{"linux sll", pcapOpts{link: linkLinuxSLL}, true},
		{"linux sll2", pcapOpts{link: linkLinuxSLL2}, false},
		{"raw", pcapOpts{link: linkRaw, nano: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writePcap(tc.opts, synthetic(tc.v6, n))
			res, err := AnalyzeWire(bytes.NewReader(file), WireConfig{RelayPort: 2855, Keep: ProbeFilter(0)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Matched != n || res.In != n+1 || res.Out != n || res.UnmatchedIn != 1 || res.UnmatchedOut != 0 {
				t.Errorf("matched %d in %d out %d unmatched %d/%d, want %d, %d, %d, 1/0", res.Matched, res.In, res.Out,
					res.UnmatchedIn, res.UnmatchedOut, n, n+1, n)
			}
			if res.DupIn != 0 || res.DupOut != 0 || res.Retransmits != 1 || res.Gaps != 0 || res.BadFrames != 0 || res.Flows != 3 {
				t.Errorf("dup %d/%d retransmits %d gaps %d bad %d flows %d, want 0/0 1 0 0 3",
					res.DupIn, res.DupOut, res.Retransmits, res.Gaps, res.BadFrames, res.Flows)
			}
			// 2n+3 SENDs (the retransmitted one is dropped by sequence
			// number, not scanned twice) and n responses.
			if res.Frames != uint64(3*n+3) {
				t.Errorf("frames %d, want %d", res.Frames, 3*n+3)
			}
			l := res.Latency
			for _, q := range []struct {
				name      string
				got, want time.Duration
			}{
				{"min", l.Min, want[0]}, {"p50", l.P50, quantile(want, 0.5)}, {"p90", l.P90, quantile(want, 0.9)},
				{"p99", l.P99, quantile(want, 0.99)}, {"p99.9", l.P999, quantile(want, 0.999)}, {"max", l.Max, want[len(want)-1]},
			} {
				if !near(q.got, q.want) {
					t.Errorf("%s = %v, want %v", q.name, q.got, q.want)
				}
			}
			if l.Min != want[0] || l.Max != want[len(want)-1] {
				t.Errorf("min/max %v/%v not exact (%v/%v)", l.Min, l.Max, want[0], want[len(want)-1])
			}
		})
	}
}

var update = flag.Bool("update", false, "record the golden capture in testdata/ again (needs dumpcap and capture rights)")

// golden describes testdata/wirelat-parley.pcap: probes through Parley's
// relay, recorded by TestWireGolden -update.
type golden struct {
	RelayPort int `json:"relay_port"`
	// Probes is the number of probe messages the load generator sent and
	// received (its own count, independent of the capture).
	Probes uint64 `json:"probes"`
	// The analysis of the capture when it was recorded.
	P50, P99, Max time.Duration
}

const goldenPcap, goldenJSON = "testdata/wirelat-parley.pcap", "testdata/wirelat-parley.json"

// recordGolden runs probes alone through Parley's relay while dumpcap
// captures their ports.
func recordGolden(t *testing.T) {
	s := startRelay(t)
	var capt *Capture
	const probes = 60
	cfg := MSRPConfig{Scenario: Small, Mode: TwoHop, Relay: s.URI().HostPort(), Users: creds, ProbeOnly: true,
		ProbeRate: 200, ProbeSessions: 2, Count: probes, Duration: 10 * time.Second,
		ProbeReady: func(ports []int) error {
			var err error
			capt, err = StartCapture(context.Background(), "lo", ports, goldenPcap)
			return err
		}}
	res, err := RunMSRP(context.Background(), cfg)
	if capt != nil {
		if st, err := capt.Stop(); err != nil || st.Dropped != 0 {
			t.Fatalf("capture: %v %+v", err, st)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(goldenPcap, 0o644); err != nil {
		t.Fatal(err)
	}
	if c := res.Class("probe"); c == nil || c.Count != probes || res.ErrorCount() != 0 {
		t.Fatalf("probe run: %+v errors %v", res.Classes, res.Errors)
	}
	w, err := AnalyzeWireFile(goldenPcap, WireConfig{RelayPort: s.URI().Port, Keep: ProbeFilter(0)})
	if err != nil {
		t.Fatal(err)
	}
	g := golden{RelayPort: s.URI().Port, Probes: probes, P50: w.Latency.P50, P99: w.Latency.P99, Max: w.Latency.Max}
	b, _ := json.MarshalIndent(g, "", "  ")
	if err := os.WriteFile(goldenJSON, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWireGolden analyses a real capture of probes through Parley's relay
// on this machine's loopback (dumpcap -P on lo: pcap, Ethernet link
// type): every probe the load generator sent and received is found
// entering and leaving the relay, and the figures are those recorded.
func TestWireGolden(t *testing.T) {
	if *update {
		recordGolden(t)
	}
	b, err := os.ReadFile(goldenJSON)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	f, err := os.ReadFile(goldenPcap)
	if err != nil {
		t.Fatal(err)
	}
	if link := binary.LittleEndian.Uint32(f[20:24]); link != linkEthernet {
		t.Errorf("link type %d, want Ethernet (what dumpcap writes for lo here)", link)
	}
	for _, tc := range []struct {
		name string
		r    io.Reader
	}{{"whole", bytes.NewReader(f)}, {"one byte at a time", iotest.OneByteReader(bytes.NewReader(f))}, {"halves", iotest.HalfReader(bytes.NewReader(f))}} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := AnalyzeWire(tc.r, WireConfig{RelayPort: g.RelayPort, Keep: ProbeFilter(0)})
			if err != nil {
				t.Fatal(err)
			}
			if w.Matched != g.Probes || w.In != g.Probes || w.Out != g.Probes || w.UnmatchedIn+w.UnmatchedOut != 0 ||
				w.Gaps != 0 || w.BadFrames != 0 || w.Truncated {
				t.Errorf("%s; want %d matched, nothing else", w, g.Probes)
			}
			// 4 probe connections (2 pairs), both directions.
			if w.Flows != 8 {
				t.Errorf("%d flows, want 8", w.Flows)
			}
			if w.Latency.P50 != g.P50 || w.Latency.P99 != g.P99 || w.Latency.Max != g.Max {
				t.Errorf("p50 %v p99 %v max %v, recorded %v %v %v", w.Latency.P50, w.Latency.P99, w.Latency.Max, g.P50, g.P99, g.Max)
			}
			if w.Latency.Min <= 0 || w.Latency.Max > time.Second {
				t.Errorf("latencies %v–%v out of any plausible range", w.Latency.Min, w.Latency.Max)
			}
			// Without the filter the same messages are found: the
			// capture holds probe traffic only.
			all, err := AnalyzeWire(bytes.NewReader(f), WireConfig{RelayPort: g.RelayPort})
			if err != nil || all.Matched != g.Probes {
				t.Errorf("unfiltered: %v, %v", all, err)
			}
		})
	}
}

// lcg is a small deterministic generator for the fuzz targets' cuts.
type lcg uint64

func (r *lcg) next(n int) int {
	*r = *r*6364136223846793005 + 1442695040888963407
	return int(uint64(*r>>33) % uint64(n))
}

// scanPieces feeds data to a scanner in pieces and returns the frames and
// the piece each was emitted in.
func scanPieces(data []byte, cuts []int) (frames []msrpFrame, in []int, bad uint64) {
	var s msrpScanner
	s.atLineStart = true
	piece := 0
	s.emit = func(f *msrpFrame) { frames = append(frames, *f); in = append(in, piece) }
	prev := 0
	for i, c := range append(cuts, len(data)) {
		piece = i
		s.feed(data[prev:c])
		prev = c
	}
	return frames, in, s.bad
}

// FuzzMSRPScan: the frames found do not depend on how the stream is cut,
// and each is emitted while the piece holding its last octet is fed.
func FuzzMSRPScan(f *testing.F) {
	f.Add(append(sendFrame("abc", "probe-m1.1"), okFrame("abc")...), uint64(1))
	f.Add(append([]byte("garbage\r\nMSRP x SEND\r\n\r\n"), sendFrame("t", "m2.3")...), uint64(7))
	f.Add([]byte("MSRP a REPORT\r\nMessage-ID: q\r\n-------a$\r\nMSRP b 200\r\n-------b+\r\nMSRP c SEND\r\n\r\nbody\r\n-------cx\r\n-------c#\r\n"), uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		whole, _, wbad := scanPieces(data, nil)
		r := lcg(seed)
		var cuts []int
		for c := 0; len(data) > 0; {
			c += 1 + r.next(min(len(data), 64))
			if c >= len(data) {
				break
			}
			cuts = append(cuts, c)
		}
		split, in, sbad := scanPieces(data, cuts)
		if len(whole) != len(split) || wbad != sbad {
			t.Fatalf("whole: %d frames, %d bad; cut at %v: %d frames, %d bad", len(whole), wbad, cuts, len(split), sbad)
		}
		bounds := append(append([]int{0}, cuts...), len(data))
		for i := range whole {
			if whole[i] != split[i] {
				t.Fatalf("frame %d: %+v whole, %+v cut", i, whole[i], split[i])
			}
			e, k := int(split[i].end), in[i]
			if e < bounds[k] || e >= bounds[k+1] || data[e] != '\n' {
				t.Fatalf("frame %d ends at %d, emitted in piece %d [%d, %d)", i, e, k, bounds[k], bounds[k+1])
			}
			if i > 0 && split[i].end <= split[i-1].end {
				t.Fatalf("frame %d ends at %d, before the previous one", i, e)
			}
		}
	})
}

// FuzzWireSplit: a TCP stream cut into segments at random points, some
// sent twice and some out of order, yields the same MSRP frames as the
// stream in one segment; the capture read in odd pieces yields the same
// result as read whole.
func FuzzWireSplit(f *testing.F) {
	f.Add(append(sendFrame("abc", "probe-m1.1"), sendFrame("abd", "probe-m1.2")...), uint64(5))
	f.Add(append(okFrame("z"), sendFrame("abc", "probe-m1.1")[:40]...), uint64(9))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		if len(data) > 60000 {
			data = data[:60000] // one IPv4 packet
		}
		lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		src, dst := netip.AddrPortFrom(lo, 21000), netip.AddrPortFrom(lo, 2855)
		isn := uint32(seed >> 32)
		// From the SYN: where a capture starts mid-stream, a segment
		// overtaken by its successor would look like a retransmission.
		syn := pkt{ts: 0, src: src, dst: dst, seq: isn - 1, syn: true}
		one := []pkt{syn, {ts: 1, src: src, dst: dst, seq: isn, payload: data}}
		r := lcg(seed)
		pkts := []pkt{syn}
		for c := 0; c < len(data); {
			n := 1 + r.next(min(len(data)-c, 80))
			p := pkt{ts: int64(len(pkts)), src: src, dst: dst, seq: isn + uint32(c), payload: data[c : c+n]}
			pkts = append(pkts, p)
			if r.next(8) == 0 {
				pkts = append(pkts, p) // retransmitted
			}
			c += n
		}
		for i := 1; i+1 < len(pkts); i++ {
			if r.next(6) == 0 {
				pkts[i], pkts[i+1] = pkts[i+1], pkts[i]
				i++
			}
		}
		cfg := WireConfig{RelayPort: 2855}
		a, err := AnalyzeWire(bytes.NewReader(writePcap(pcapOpts{link: linkEthernet}, one)), cfg)
		if err != nil {
			t.Fatal(err)
		}
		file := writePcap(pcapOpts{link: linkEthernet}, pkts)
		b, err := AnalyzeWire(bytes.NewReader(file), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if a.Frames != b.Frames || a.In != b.In || a.BadFrames != b.BadFrames || b.Gaps != 0 {
			t.Fatalf("one segment: %d frames, %d in, %d bad; %d segments: %d frames, %d in, %d bad, %d gaps",
				a.Frames, a.In, a.BadFrames, len(pkts), b.Frames, b.In, b.BadFrames, b.Gaps)
		}
		c, err := AnalyzeWire(iotest.HalfReader(iotest.OneByteReader(bytes.NewReader(file))), cfg)
		if err != nil || !reflect.DeepEqual(b, c) {
			t.Fatalf("read in pieces: %+v, %v; whole: %+v", c, err, b)
		}
	})
}

// FuzzAnalyzeWire: any input is read without panic, in pieces as whole.
func FuzzAnalyzeWire(f *testing.F) {
	f.Add(writePcap(pcapOpts{link: linkEthernet}, synthetic(false, 8)))
	f.Add(writePcap(pcapOpts{link: linkLinuxSLL2, nano: true, order: binary.BigEndian}, synthetic(true, 8)))
	f.Add(writePcap(pcapOpts{link: linkNull}, synthetic(false, 3))[:300])
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := WireConfig{RelayPort: 2855, Keep: ProbeFilter(0)}
		a, errA := AnalyzeWire(bytes.NewReader(data), cfg)
		b, errB := AnalyzeWire(iotest.OneByteReader(bytes.NewReader(data)), cfg)
		if (errA == nil) != (errB == nil) || !reflect.DeepEqual(a, b) {
			t.Fatalf("whole: %+v, %v; one byte at a time: %+v, %v", a, errA, b, errB)
		}
		if a != nil && a.Matched > a.In {
			t.Fatalf("matched %d > in %d", a.Matched, a.In)
		}
	})
}

// TestAnalyzeWireErrors: what is not a readable capture says so.
func TestAnalyzeWireErrors(t *testing.T) {
	ok := writePcap(pcapOpts{link: linkEthernet}, synthetic(false, 4))
	bad := func(b []byte, at int, v byte) []byte { c := append([]byte(nil), b...); c[at] = v; return c }
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "global header"},
		{"pcapng", []byte("\x0a\x0d\x0d\x0a" + strings.Repeat("\x00", 20)), "pcapng"},
		{"not pcap", bad(ok, 0, 0), "not a pcap"},
		{"link type", bad(ok, 20, 105), "link type 105"},
		{"huge record", bad(ok, 24+8+3, 0x7f), "record of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AnalyzeWire(bytes.NewReader(tc.in), WireConfig{RelayPort: 2855})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	res, err := AnalyzeWire(bytes.NewReader(ok[:len(ok)-5]), WireConfig{RelayPort: 2855, Keep: ProbeFilter(0)})
	if err != nil || !res.Truncated || res.Matched != 4 {
		t.Errorf("cut file: %v, %v; want truncated with 4 matched", res, err)
	}
	if _, err := AnalyzeWire(bytes.NewReader(ok), WireConfig{}); err == nil {
		t.Error("no relay port: no error")
	}
}
