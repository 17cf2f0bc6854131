// Package msrp implements the Message Session Relay Protocol, MSRP
// (RFC 4975), the session-mode instant messaging transport negotiated with
// SIP and SDP m=message lines.
//
// # Wire codec
//
// The codec reads and writes MSRP frames on a byte stream:
//
//   - Reader (reader.go) parses frames in the style of net/textproto: the
//     start line and headers with ReadFrame, then the body, streamed with
//     Read or, without copying, NextBodySegment. The end-line of RFC 4975
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
// (Section reserved for the endpoint: connections, sessions, transactions,
// REPORTs, relays and TLS. The endpoint files document themselves here.)
package msrp
