// Package msrp implements the Message Session Relay Protocol, MSRP
// (RFC 4975), the session-mode instant messaging transport negotiated with
// SIP and SDP m=message lines.
//
// # Wire codec
//
// The codec reads and writes MSRP frames on a byte stream:
//
//   - Reader (reader.go) parses frames in the style of net/textproto: the
//     start line and headers with ReadFrame (or ReadFrameInto, reusing a
//     Frame), then the body, streamed with Read or, without copying,
//     NextBodySegment. The end-line of RFC 4975
//     §7.1 ("-------" tid flag, after a CRLF that is not body) is found
//     across read boundaries; a body never has to fit in memory. Limits
//     bounds lines, headers and bodies (RFC 4975 §7.1: non-SEND bodies are
//     at most 10240 octets).
//   - Frame (frame.go) holds a parsed head; AppendFrame, (*Frame).AppendHead
//     and AppendEndLine encode one (writer.go), and Writer writes whole
//     frames or streams a long chunk and interrupts it (§7.1.1).
//   - Respond builds the transaction response of §7.2; StatusText names the
//     registered response codes (§10, RFC 4976, RFC 7701).
//   - ParseURI, ParsePath, URI.Equal, URI.String implement MSRP and MSRPS
//     URIs (§6, §6.1, §9). NewSessionID, NewTransactionID and NewMessageID
//     generate identifiers with the randomness of §14.1, §7.1 and §7.1.1.
//   - ParseByteRange and ParseStatus parse the Byte-Range and Status header
//     values (§7.1.1, §9) with the bounds checks of §14.5.
//   - Assembly reassembles chunked messages by Byte-Range into an
//     io.WriterAt (§5.1, §7.3.1): out of order, duplicated and overlapping
//     chunks, "*" ends and totals, aborts, a size bound checked before
//     anything is written. MemoryBuffer is a bounded in-memory destination.
//
// Errors are split as in the RFC's model: a *StatusError means the frame
// was delimited but is malformed or over a limit (answer with its Code,
// 400 or 413, if the request calls for a response, and keep reading); any
// other error from Reader (a *ProtocolError, io.EOF, io.ErrUnexpectedEOF)
// means the framing is lost and the connection must be closed. Both wrap
// sentinels such as ErrBadByteRange, so errors.Is works on either.
//
// The parser is strict where a wrong guess would desynchronise the stream
// or misroute a message: idents of 4 to 32 characters (§9), CRLF line ends,
// numeric status codes, To-Path then From-Path as the first headers,
// Content-Type last before the blank line (§7.1), one instance of each
// typed header. It is liberal where the approved grammar is defective or
// peers are known to differ: responses with no header after From-Path,
// missing or extra blanks after the colon, header names and report values
// in any case, blank lines between frames, an empty body whose CRLF before
// the end-line is missing, unknown headers (kept in Frame.Headers, §12) and
// unknown methods (parsed; the endpoint answers 501).
//
// Not implemented in the codec: line folding (MSRP has none), parameter
// validation inside Content-Type beyond type/subtype, UTF-8 validation of
// header text (octets ≥ 0x80 are passed through), and the DNS resolution
// of §6.2 (URI.HostPort gives the address to dial).
//
// # Endpoint
//
// Endpoint (endpoint.go) implements session.Endpoint for TCP/MSRP and
// TCP/TLS/MSRP: Offer and Answer build the m=message media (a=path,
// a=accept-types, a=accept-wrapped-types, a=max-size, a=setup, and
// a=fingerprint for msrps) and Open connects or waits per the negotiated
// roles (RFC 4975 §5.4, §8.5; RFC 6135: actpass when listening, else active
// on port 9, never passive in an offer). The active side sends a bodiless
// SEND at once to bind the connection; the passive side binds a connection
// to a session on the first request whose To-Path names one of its URIs
// (481 for an unknown session, 506 for one bound to another connection,
// §5.4), and every later request must name a session bound to that
// connection (§7.3). Sessions to the same host, port and scheme share one
// Conn (§5.4), closed IdleTimeout after its last session; a lost connection
// fails every session on it and every pending Delivery, with no silent
// reconnect. Keep-alive bodiless SENDs are optional (Config.KeepAlive).
//
// Session (session.go) implements session.Session. Sending: one writer
// goroutine per connection owns the socket (sender.go); chunks over 2048
// octets are interruptible (n-*/total) and are cut whenever a response, a
// REPORT or another message waits (round robin over messages and sessions
// after Config.ChunkSize octets), resumed with the right Byte-Range, and cut
// before any occurrence of their end-line in the body (§7.1, §7.1.1).
// Config.MaxChunkSize is a hard cap on every chunk body, for relays that
// limit frame sizes (Kamailio: 8 KiB); the last octet of a message always
// goes in its '$' chunk, never an empty chunk past the total.
// Bodies given as an io.Reader are read ahead in bounded memory. Control
// frames (responses, REPORTs) are encoded straight into one reused
// buffer per connection; every transaction timer of a connection shares
// one runtime timer (the timers have one duration, so they expire in the
// order they start); a small message whole in one chunk is read straight
// into its body; frames are read with ReadFrameInto. Chunks
// carry Failure-Report: yes (or SessionOptions.FailureReport) and run the
// 30 s timer from their last byte on the socket (§7.1.1; socket writes
// are bounded by the same timer).
// Responses 400, 403, 408, 413, 415, 423, 481, 501 and 506 end the
// Delivery with their status (§10): 413 stops the message and interrupts
// the current chunk, 415 bars the type for the session, 481 and 506 fail
// the session. Success-Report: yes is sent when receipts are wanted and
// incoming REPORTs (whole or incremental) make the Delivery Delivered once
// every octet is covered; a failure REPORT fails it (§7.1.2). When the
// REPORTs have not covered the message Config.ReportTimeout (2 min) after
// its last chunk was answered, the Delivery completes as Sent with a
// comment (a Parley timer: the RFC has none). Receiving:
// chunks are reassembled by Byte-Range in any order through Assembly, in
// memory up to Options.MaxInMemory or into Options.Sink (§7.3.1); "#"
// discards (§7.1); types outside accept-types get 415 and sizes over
// max-size 413 (§8.6); responses obey Failure-Report yes/partial/no
// exactly and REPORTs are never answered (§7.1.2); a success REPORT
// covering the message is sent when asked for; a failure REPORT (§7.1.4,
// Byte-Range end from the octets received) follows the error response
// when the message fails after a chunk of it was answered 200 (a Sink
// failing mid-message), when the request came through a relay (which may
// drop error responses), and for every failure under Failure-Report
// partial, never under "no"; Message-IDs already
// delivered are flagged Duplicate (§5.4); unknown methods get 501 (§12).
// message/cpim bodies held in memory are parsed (package cpim) before the
// last chunk is answered: one that does not parse is answered 400 and not
// delivered (with a failure REPORT by the rules above); Outgoing.CPIM is
// wrapped before chunking (§13).
//
// TLS (tls.go, §14): msrps with TLS 1.2 or later, SNI and hostname
// verification by default; when the peer's SDP has a=fingerprint (SHA-256,
// RFC 4572) its certificate is checked against it instead, on both sides,
// and a mismatch fails the session with ErrFingerprint. Fingerprint and
// SelfSignedCertificate help with self-signed peers.
//
// Relays (RFC 4976): Endpoint.Dial and Conn.RoundTrip carry the AUTH
// exchange (relayclient.go); SessionOptions.Relay then makes the session
// advertise the reversed Use-Path plus its own URI, send to Use-Path plus
// the peer's path, and use the authenticated connection for both
// directions (§5.1).
//
// The SDP direction attributes restrict sending regular content only, not
// IMDNs or is-composing indications (§8.9; ErrDirection).
//
// Not implemented by the endpoint: CEMA (RFC 6714) and session matching by
// session-id only,
// WebSocket (RFC 7977), DNS resolution beyond the system resolver (§6.2),
// S/MIME, and parsing or checking the type inside a message/cpim that
// went to a Sink (delivered with Incoming.CPIM nil; bodies held in memory
// are parsed and checked against accept-wrapped-types, 400 and 415).
package msrp
