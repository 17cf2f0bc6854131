// Package loadgen is Parley's load generator for MSRP relays (RFC 4975,
// RFC 4976) and SIP servers (RFC 3428 pager mode), used by "parley bench"
// and the side-by-side benchmarks in bench/.
//
// # MSRP
//
// RunMSRP drives session pairs A→B over one of three paths: TwoHop (both
// sides AUTH with the relay, RFC 4976 §5.1, and A's To-Path is A's
// Use-Path, B's Use-Path, B), OneHop (only B AUTHs; A sends to B's Use-Path
// over a plain connection) or Direct (no relay: the generator listens as
// B). The hot path is a lean raw-socket client on package msrp's codec:
// SENDs are appended from precomputed path lines into one buffer per
// connection, which a flusher goroutine writes in a single system call
// however many frames have accumulated; frames are read with msrp.Reader
// (ReadFrameInto, NextBodySegment: no copy of bodies). AUTH uses
// msrp.Authenticate (digest, RFC 4976 §9.1) over the same connection.
//
// A message counts as done when B has read its last byte: relays answer
// 200 hop by hop (RFC 4976 §6.4.1), so those responses are no
// back-pressure; each session keeps at most Window messages outstanding end
// to end. The send time rides in the Message-ID, so B computes the latency
// with no shared table. Non-200 responses and failure REPORTs release the
// window slot and are counted by status. Runs stop by themselves after
// Count messages or Duration, then drain outstanding messages for up to
// Drain; what is still missing counts as "timeout".
//
// Scenarios: Small (100 B SENDs over many sessions), Bulk (large single
// chunks; keep them ≤ 8 KiB against Kamailio, which cannot handle frames
// from about 11 KB), Mixed (bulk plus paced chat sessions on the same relay;
// chat latency reported apart), Churn (sessions opened with dial and AUTH,
// used for a few messages, closed) and Idle (sessions held open while the
// relay's memory is read: RSS and PSS of the target's processes and their
// descendants from /proc).
//
// Latencies go into Histogram, a log-linear HDR-style histogram (about
// 1.6 % resolution); Result carries counts, rates, MB/s, p50/p90/p99/p99.9
// and errors by cause, as JSON (WriteJSON) or a table (WriteTable).
//
// # Wire latency
//
// MSRPConfig.ProbeRate adds probe session pairs beside the scenario's own
// sessions (or alone, ProbeOnly): 100-octet SENDs with Message-IDs
// "probe-m…", paced, over connections bound to fixed local ports
// (21000… by default, below the ephemeral range), reported as class
// "probe". ProbeReady hands the ports to the caller before the first
// message, so that StartCapture can run dumpcap on lo with a filter for
// them alone. AnalyzeWire reads the pcap file, reassembles each TCP
// direction, scans it for MSRP frames and pairs each probe SEND entering
// the relay with the same Message-ID leaving it: the difference of the
// kernel's capture times is the relay's own latency (reading, processing,
// scheduling, writing), which the load generator's queueing cannot
// inflate. The figures are microsecond-resolution (dumpcap's pcap).
//
// # SIP
//
// RunSIP registers pairs of sipua UAs with a registrar/proxy. Scenario
// SIPMessage sends MESSAGEs sender→receiver through it, one outstanding per
// pair (RFC 3428 §9); a MESSAGE counts when it was answered 200 and reached
// the receiver. Scenario SIPInvite places whole calls, one at a time per
// pair: INVITE with an m=message MSRP offer (each UA has an msrp.Endpoint),
// the callee answers at once, 200, ACK, the MSRP session opens, BYE, 200;
// a call counts when the BYE was answered and the callee saw the call end
// by it. Class "call" has calls/s and setup latency, "bye" the BYE round
// trip; failures are filed by method and status ("INVITE status 404").
//
// MSRPConfig.TLS makes the connections to the relay msrps (TLS from the
// first byte, msrps URIs). PIDs, when given, add the target's CPU time per
// operation (Result.CPUPerOp, from /proc), which stays comparable when
// the generator rather than the target limits the rate.
//
// # Endpoint to endpoint
//
// RunLarge (scenario e2e-large) sends one large message (default 1 GiB)
// between two msrp.Endpoints in this process, streamed from a reader into
// a discarding Sink, beside raw loopback TCP measured before and after in
// the same run, and reports both MB/s, their ratio and the peak RSS
// (VmHWM, reset before the transfer).
//
// Not implemented: multi-chunk messages from the generator (relays may still re-chunk; B reassembles by the final
// chunk), success REPORTs as the completion signal (B's receipt is used, as
// both sides live in this process).
package loadgen
