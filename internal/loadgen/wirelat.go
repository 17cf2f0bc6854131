package loadgen

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Wire latency: the time a relay holds each message, taken from a packet
// capture of loopback rather than from the load generator's clocks. On
// loopback every packet is captured once, stamped by the kernel as it is
// sent, so the SEND entering the relay (A → relay) and the same message
// leaving it (relay → B) carry the sender's and the relay's send times:
// their difference is the relay's reading, processing, scheduling and
// writing, and none of the load generator's own queueing.
//
// AnalyzeWire reads a classic pcap file (what "dumpcap -P" writes; both
// byte orders, microsecond and nanosecond magic), decodes Ethernet, BSD
// loopback, Linux cooked (SLL, SLL2) and raw IP link layers, IPv4 and
// IPv6, reassembles each TCP direction in sequence order (duplicates and
// retransmissions are dropped by sequence number; the first copy's time
// stands), scans the streams for MSRP frames (RFC 4975 §7.1: start line,
// headers, body ended by "\r\n-------" transaction-id flag) and pairs the
// last chunks ('$') of SEND requests entering and leaving the relay by
// Message-ID, which relays keep (they rewrite the transaction id and the
// paths, RFC 4976 §7.1). Each message is timed by the capture time of the
// packet that completed its end-line in the reassembled stream.

// WireConfig configures AnalyzeWire.
type WireConfig struct {
	// RelayPort is the relay's TCP port: SENDs to it enter the relay,
	// SENDs from it leave it. Required.
	RelayPort int
	// Keep, if set, selects the messages by Message-ID (ProbeFilter keeps
	// the load generator's probes sent after the warm-up).
	Keep func(messageID string) bool
}

// WireResult is what AnalyzeWire found in a capture.
type WireResult struct {
	Packets uint64 `json:"packets"`
	// Truncated is set when the file ended inside a record (the capture
	// was cut short); what came before is analysed.
	Truncated bool `json:"truncated,omitempty"`
	// Flows is the number of TCP directions seen; Frames the MSRP frames
	// found in them.
	Flows  int    `json:"flows"`
	Frames uint64 `json:"frames"`
	// In and Out are the selected messages seen entering and leaving the
	// relay; Matched those seen both ways, UnmatchedIn and UnmatchedOut
	// the rest. DupIn and DupOut count a Message-ID seen again in the same
	// direction (ignored); OutFirst a message seen leaving before it
	// entered (recorded as zero latency; a capture clock problem).
	In           uint64 `json:"in"`
	Out          uint64 `json:"out"`
	Matched      uint64 `json:"matched"`
	UnmatchedIn  uint64 `json:"unmatched_in"`
	UnmatchedOut uint64 `json:"unmatched_out"`
	DupIn        uint64 `json:"dup_in,omitempty"`
	DupOut       uint64 `json:"dup_out,omitempty"`
	OutFirst     uint64 `json:"out_first,omitempty"`
	// Gaps counts holes in a reassembled stream (bytes the capture
	// missed: dropped or snapped packets); the scanner resynchronises on
	// the next "MSRP " at a line start. Retransmits counts segments whose
	// bytes had all been seen. BadFrames counts frames that did not parse
	// (or exceeded the scanner's limits) and were skipped.
	Gaps        uint64 `json:"gaps,omitempty"`
	Retransmits uint64 `json:"retransmits,omitempty"`
	BadFrames   uint64 `json:"bad_frames,omitempty"`
	// Latency summarises out − in of the matched messages.
	Latency Latency `json:"latency_us"`
	hist    Histogram
}

// Histogram returns the matched messages' latencies.
func (w *WireResult) Histogram() *Histogram { return &w.hist }

// UnmatchedFraction is the share of messages seen in one direction only,
// of all messages seen.
func (w *WireResult) UnmatchedFraction() float64 {
	n := w.Matched + w.UnmatchedIn + w.UnmatchedOut
	if n == 0 {
		return 0
	}
	return float64(w.UnmatchedIn+w.UnmatchedOut) / float64(n)
}

// String is a one-line summary.
func (w *WireResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "wire: %d matched (in %d, out %d, unmatched %d+%d = %.2f%%): p50 %s p99 %s p99.9 %s max %s",
		w.Matched, w.In, w.Out, w.UnmatchedIn, w.UnmatchedOut, 100*w.UnmatchedFraction(),
		fmtDur(w.Latency.P50), fmtDur(w.Latency.P99), fmtDur(w.Latency.P999), fmtDur(w.Latency.Max))
	if w.Gaps+w.BadFrames+w.DupIn+w.DupOut+w.OutFirst > 0 || w.Truncated {
		fmt.Fprintf(&b, "; gaps %d, bad frames %d, dup %d/%d, out first %d, truncated %v",
			w.Gaps, w.BadFrames, w.DupIn, w.DupOut, w.OutFirst, w.Truncated)
	}
	return b.String()
}

// ErrCapture is wrapped by errors about a capture file that cannot be
// read at all (not pcap, unsupported link type).
var ErrCapture = errors.New("loadgen: bad capture")

// AnalyzeWireFile is AnalyzeWire on a file.
func AnalyzeWireFile(path string, cfg WireConfig) (*WireResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return AnalyzeWire(f, cfg)
}

// AnalyzeWire reads a pcap capture from r and returns the relay's wire
// latency for the messages cfg selects.
func AnalyzeWire(r io.Reader, cfg WireConfig) (*WireResult, error) {
	if cfg.RelayPort <= 0 || cfg.RelayPort > 65535 {
		return nil, fmt.Errorf("%w: relay port %d", ErrConfig, cfg.RelayPort)
	}
	pr, err := newPcapReader(r)
	if err != nil {
		return nil, err
	}
	a := newWireAnalyzer(cfg)
	for {
		ts, data, err := pr.next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			a.res.Truncated = true
			break
		}
		if err != nil {
			return nil, err
		}
		a.res.Packets++
		a.packet(pr.link, ts, data)
	}
	return a.finish(), nil
}

// ProbeFilter selects the load generator's probe messages (MSRPConfig
// ProbeRate) sent at or after warmup from the start of the run.
func ProbeFilter(warmup time.Duration) func(string) bool {
	return func(mid string) bool {
		if !strings.HasPrefix(mid, probePrefix) {
			return false
		}
		ts, ok := sendTime(mid)
		return ok && ts >= warmup
	}
}

// pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.html): a 24-byte
// global header, then records of a 16-byte header and the packet.
type pcapReader struct {
	r     *bufio.Reader
	order binary.ByteOrder
	nano  bool
	link  uint32
	hdr   [16]byte
	buf   []byte
}

const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
	// pcapMaxRecord bounds one record (dumpcap's default snapshot length
	// is 256 KiB).
	pcapMaxRecord = 1 << 20
)

// Link types (https://www.tcpdump.org/linktypes.html).
const (
	linkNull      = 0   // BSD loopback: 4-byte address family, host order
	linkEthernet  = 1   // what Linux's lo captures as
	linkRaw       = 101 // raw IPv4 or IPv6
	linkLoop      = 108 // OpenBSD loopback: address family, network order
	linkLinuxSLL  = 113 // Linux cooked capture ("any")
	linkIPv4      = 228
	linkIPv6      = 229
	linkLinuxSLL2 = 276
)

func newPcapReader(r io.Reader) (*pcapReader, error) {
	p := &pcapReader{r: bufio.NewReaderSize(r, 256<<10)}
	var gh [24]byte
	if _, err := io.ReadFull(p.r, gh[:]); err != nil {
		return nil, fmt.Errorf("%w: global header: %w", ErrCapture, err)
	}
	switch m := binary.LittleEndian.Uint32(gh[:4]); m {
	case pcapMagicMicro, pcapMagicNano:
		p.order, p.nano = binary.LittleEndian, m == pcapMagicNano
	default:
		switch binary.BigEndian.Uint32(gh[:4]) {
		case pcapMagicMicro:
			p.order = binary.BigEndian
		case pcapMagicNano:
			p.order, p.nano = binary.BigEndian, true
		default:
			if m == 0x0a0d0d0a {
				return nil, fmt.Errorf("%w: pcapng, not pcap (capture with dumpcap -P)", ErrCapture)
			}
			return nil, fmt.Errorf("%w: not a pcap file (magic %#08x)", ErrCapture, m)
		}
	}
	// The link type's low 16 bits (the upper ones carry FCS information).
	p.link = p.order.Uint32(gh[20:24]) & 0xffff
	switch p.link {
	case linkNull, linkEthernet, linkRaw, linkLoop, linkLinuxSLL, linkIPv4, linkIPv6, linkLinuxSLL2:
	default:
		return nil, fmt.Errorf("%w: unsupported link type %d", ErrCapture, p.link)
	}
	return p, nil
}

// next returns the next record's time (nanoseconds since the epoch) and
// data, valid until the next call.
func (p *pcapReader) next() (int64, []byte, error) {
	if _, err := io.ReadFull(p.r, p.hdr[:]); err != nil {
		return 0, nil, err // io.EOF at a record boundary, else ErrUnexpectedEOF
	}
	sec := int64(p.order.Uint32(p.hdr[0:4]))
	frac := int64(p.order.Uint32(p.hdr[4:8]))
	caplen := p.order.Uint32(p.hdr[8:12])
	if caplen > pcapMaxRecord {
		return 0, nil, fmt.Errorf("%w: record of %d octets", ErrCapture, caplen)
	}
	if !p.nano {
		frac *= 1000
	}
	if cap(p.buf) < int(caplen) {
		p.buf = make([]byte, caplen)
	}
	p.buf = p.buf[:caplen]
	if _, err := io.ReadFull(p.r, p.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return sec*1e9 + frac, p.buf, nil
}

// tcpSegment is one decoded TCP segment. Payload holds the captured
// octets; wireLen the payload's length on the wire (longer when the
// capture snapped the packet).
type tcpSegment struct {
	src, dst netip.AddrPort
	seq      uint32
	syn      bool
	payload  []byte
	wireLen  int
}

// decodePacket extracts the TCP segment of one captured packet; ok is
// false for anything else (other protocols, fragments, malformed).
func decodePacket(link uint32, data []byte) (seg tcpSegment, ok bool) {
	var ip []byte
	be := binary.BigEndian
	switch link {
	case linkEthernet:
		if len(data) < 14 {
			return seg, false
		}
		et, off := be.Uint16(data[12:14]), 14
		for et == 0x8100 || et == 0x88a8 { // VLAN tags
			if len(data) < off+4 {
				return seg, false
			}
			et, off = be.Uint16(data[off+2:off+4]), off+4
		}
		if et != 0x0800 && et != 0x86dd {
			return seg, false
		}
		ip = data[off:]
	case linkNull, linkLoop:
		if len(data) < 4 {
			return seg, false
		}
		// The address family is in the capturing host's order (NULL) or
		// network order (LOOP); the IP version nibble decides below.
		ip = data[4:]
	case linkLinuxSLL:
		if len(data) < 16 {
			return seg, false
		}
		if et := be.Uint16(data[14:16]); et != 0x0800 && et != 0x86dd {
			return seg, false
		}
		ip = data[16:]
	case linkLinuxSLL2:
		if len(data) < 20 {
			return seg, false
		}
		if et := be.Uint16(data[0:2]); et != 0x0800 && et != 0x86dd {
			return seg, false
		}
		ip = data[20:]
	case linkRaw, linkIPv4, linkIPv6:
		ip = data
	default:
		return seg, false
	}
	if len(ip) < 1 {
		return seg, false
	}
	var tcp []byte
	var tcpWire int // the TCP header and payload's length on the wire
	var src, dst netip.Addr
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < 20 {
			return seg, false
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(be.Uint16(ip[2:4]))
		if ihl < 20 || len(ip) < ihl || total < ihl || ip[9] != 6 {
			return seg, false
		}
		if be.Uint16(ip[6:8])&0x3fff != 0 { // a fragment (MF or offset)
			return seg, false
		}
		src = netip.AddrFrom4([4]byte(ip[12:16]))
		dst = netip.AddrFrom4([4]byte(ip[16:20]))
		tcpWire = total - ihl
		if total < len(ip) {
			ip = ip[:total] // link-layer padding
		}
		tcp = ip[ihl:]
	case 6:
		if len(ip) < 40 {
			return seg, false
		}
		plen := int(be.Uint16(ip[4:6]))
		next, off := ip[6], 40
		src = netip.AddrFrom16([16]byte(ip[8:24]))
		dst = netip.AddrFrom16([16]byte(ip[24:40]))
		for next == 0 || next == 43 || next == 60 { // hop-by-hop, routing, destination options
			if len(ip) < off+2 {
				return seg, false
			}
			next, off = ip[off], off+(int(ip[off+1])+1)*8
		}
		if next != 6 || len(ip) < off || plen+40 < off {
			return seg, false
		}
		tcpWire = plen + 40 - off
		if plen+40 < len(ip) {
			ip = ip[:plen+40]
		}
		tcp = ip[off:]
	default:
		return seg, false
	}
	if len(tcp) < 20 {
		return seg, false
	}
	doff := int(tcp[12]>>4) * 4
	if doff < 20 || len(tcp) < doff || tcpWire < doff {
		return seg, false
	}
	seg.src = netip.AddrPortFrom(src, be.Uint16(tcp[0:2]))
	seg.dst = netip.AddrPortFrom(dst, be.Uint16(tcp[2:4]))
	seg.seq = be.Uint32(tcp[4:8])
	seg.syn = tcp[13]&0x02 != 0
	seg.payload = tcp[doff:]
	seg.wireLen = tcpWire - doff
	if len(seg.payload) > seg.wireLen {
		seg.payload = seg.payload[:seg.wireLen]
	}
	return seg, true
}

type flowKey struct{ src, dst netip.AddrPort }

// flow reassembles one TCP direction and scans it for MSRP frames.
type flow struct {
	key     flowKey
	started bool
	next    uint32 // next expected sequence number
	pending map[uint32][]byte
	pendN   int // octets in pending
	sc      msrpScanner
	now     int64 // capture time of the segment being fed
}

// Bounds of the out-of-order queue: past them the missing bytes are
// taken as lost (a gap).
const (
	flowMaxPending      = 256
	flowMaxPendingBytes = 4 << 20
)

type wireAnalyzer struct {
	cfg   WireConfig
	flows map[flowKey]*flow
	res   WireResult
	// Message-IDs seen in each direction, and those waiting for their
	// other half.
	inSeen, outSeen map[string]bool
	waitIn, waitOut map[string]int64
}

func newWireAnalyzer(cfg WireConfig) *wireAnalyzer {
	return &wireAnalyzer{cfg: cfg, flows: map[flowKey]*flow{},
		inSeen: map[string]bool{}, outSeen: map[string]bool{}, waitIn: map[string]int64{}, waitOut: map[string]int64{}}
}

func (a *wireAnalyzer) packet(link uint32, ts int64, data []byte) {
	seg, ok := decodePacket(link, data)
	if !ok {
		return
	}
	k := flowKey{seg.src, seg.dst}
	f := a.flows[k]
	if f == nil {
		f = &flow{key: k, pending: map[uint32][]byte{}}
		f.sc.emit = func(fr *msrpFrame) { a.frame(f, fr) }
		f.sc.atLineStart = true
		a.flows[k] = f
	}
	f.now = ts
	a.segment(f, seg)
}

// segment feeds one TCP segment to f in sequence order.
func (a *wireAnalyzer) segment(f *flow, seg tcpSegment) {
	seq := seg.seq
	if seg.syn {
		// The SYN takes one sequence number; data in a SYN (TCP Fast
		// Open) follows it.
		seq++
		f.started, f.next = true, seq
		f.clearPending()
	}
	if seg.wireLen == 0 {
		return
	}
	if !f.started {
		f.started, f.next = true, seq
	}
	if d := int32(seq - f.next); d > 0 {
		// Ahead of what is expected: hold it until the hole is filled.
		if _, dup := f.pending[seq]; !dup && len(seg.payload) == seg.wireLen {
			f.pending[seq] = append([]byte(nil), seg.payload...)
			f.pendN += len(seg.payload)
		}
		if len(f.pending) > flowMaxPending || f.pendN > flowMaxPendingBytes || len(seg.payload) < seg.wireLen {
			a.skipToPending(f)
		}
		return
	}
	a.apply(f, seq, seg.payload, seg.wireLen)
	a.drainPending(f)
}

// apply feeds the part of a segment at seq (≤ f.next) beyond f.next.
func (a *wireAnalyzer) apply(f *flow, seq uint32, payload []byte, wireLen int) {
	skip := int(f.next - seq)
	if skip >= wireLen {
		a.res.Retransmits++
		return
	}
	if skip < len(payload) {
		f.sc.feed(payload[skip:])
	}
	if len(payload) < wireLen {
		// The capture snapped the packet: the rest is missing.
		a.res.Gaps++
		f.sc.gap()
	}
	f.next = seq + uint32(wireLen)
}

func (a *wireAnalyzer) drainPending(f *flow) {
	for len(f.pending) > 0 {
		found := false
		for s, p := range f.pending {
			if int32(s-f.next) <= 0 {
				delete(f.pending, s)
				f.pendN -= len(p)
				a.apply(f, s, p, len(p))
				found = true
				break
			}
		}
		if !found {
			return
		}
	}
}

// skipToPending declares the bytes before the earliest pending segment
// lost and goes on from there.
func (a *wireAnalyzer) skipToPending(f *flow) {
	if len(f.pending) == 0 {
		return
	}
	first, best := uint32(0), int32(math.MaxInt32)
	for s := range f.pending {
		if d := int32(s - f.next); d < best {
			first, best = s, d
		}
	}
	a.res.Gaps++
	f.sc.gap()
	f.next = first
	a.drainPending(f)
}

func (f *flow) clearPending() {
	clear(f.pending)
	f.pendN = 0
}

// frame handles one MSRP frame found in flow f.
func (a *wireAnalyzer) frame(f *flow, fr *msrpFrame) {
	a.res.Frames++
	if fr.method != "SEND" || fr.flag != '$' || fr.messageID == "" {
		return
	}
	if a.cfg.Keep != nil && !a.cfg.Keep(fr.messageID) {
		return
	}
	mid, ts := fr.messageID, f.now
	switch port := uint16(a.cfg.RelayPort); {
	case f.key.dst.Port() == port:
		a.res.In++
		if a.inSeen[mid] {
			a.res.DupIn++
			return
		}
		a.inSeen[mid] = true
		if out, ok := a.waitOut[mid]; ok {
			delete(a.waitOut, mid)
			a.res.OutFirst++
			a.match(out - ts)
			return
		}
		a.waitIn[mid] = ts
	case f.key.src.Port() == port:
		a.res.Out++
		if a.outSeen[mid] {
			a.res.DupOut++
			return
		}
		a.outSeen[mid] = true
		if in, ok := a.waitIn[mid]; ok {
			delete(a.waitIn, mid)
			a.match(ts - in)
			return
		}
		a.waitOut[mid] = ts
	}
}

func (a *wireAnalyzer) match(d int64) {
	a.res.Matched++
	a.res.hist.Record(time.Duration(d))
}

func (a *wireAnalyzer) finish() *WireResult {
	for _, f := range a.flows {
		a.res.BadFrames += f.sc.bad
	}
	a.res.Flows = len(a.flows)
	a.res.UnmatchedIn = uint64(len(a.waitIn))
	a.res.UnmatchedOut = uint64(len(a.waitOut))
	h := &a.res.hist
	a.res.Latency = Latency{Min: h.Min(), P50: h.Quantile(0.5), P90: h.Quantile(0.9), P99: h.Quantile(0.99),
		P999: h.Quantile(0.999), Max: h.Max(), Mean: h.Mean()}
	return &a.res
}
