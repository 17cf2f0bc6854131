// Package messagesdp reads and writes the SDP of message sessions
// (m=message) on top of github.com/pion/sdp/v3, for the two transports
// Parley speaks: MSRP (TCP/MSRP, TCP/TLS/MSRP) and the seed draft's CPIM
// transport (cpim/tcp, cpim/tls).
//
// # What it implements
//
//   - RFC 4975 §8 (MSRP with SIP and SDP): the m-line with fmt "*" (§8.1),
//     a=path with one or more msrp/msrps URIs carrying explicit ports
//     (§8.2, §8.3; checked superficially here, parsed fully by package
//     msrp), the o= line of re-offers (§8.4), the offerer-connects default
//     (§8.5), a=accept-types, a=accept-wrapped-types and a=max-size with
//     wildcard and parameter matching (§8.6), and the direction attributes
//     (§8.9).
//   - RFC 4145 (COMEDIA) §4: a=setup values and the offer/answer pairs;
//     RFC 6135 §4: a=setup in every answer, actpass answered passive when
//     listening is possible, holdconn ignored.
//   - RFC 4572 §5: a=fingerprint, media or session level.
//   - RFC 3264: the answer keeps the number and order of m-lines and
//     rejects a stream with port 0 (§6); the o= version increments on
//     change only (§8).
//   - draft-campbell-simple-cpimmsg-sessions-00 §4: m=message <port>
//     cpim/tcp|cpim/tls <MIME types…> with text/plain listed explicitly
//     (§4.1), a=uri (§4.2) and the early-COMEDIA a=direction of the §4.3
//     example (both, active, passive).
//
// # Parsing and writing
//
// Parse reads a whole SDP body into a Description: session-level lines,
// and one Stream per m-line in order. m=message lines become Media; other
// m-lines are kept as pion parsed them so that an answer can mirror and
// reject them. A Media keeps what it was parsed from: Marshal writes
// unchanged fields back byte for byte, in place, and only regenerates what
// was changed. Attributes without a field (a=msrp-cema, a=file-selector,
// …) are preserved in order in Media.Attributes.
//
// pion/sdp v3.0.20 refuses protos outside its own list, among them
// "cpim/tcp"; Parse works around this by handing pion a placeholder and
// restoring the proto. It also rejects bodies pion would accept but cannot
// write back (no o= or t= line, bare CR, NUL) and bodies larger than
// MaxDescriptionSize.
//
// # Not implemented
//
//   - RFC 5547 file transfer: a=file-selector has a typed parser
//     (ParseFileSelector, Media.FileSelector); the other attributes
//     (a=file-transfer-id, a=file-range, …) are preserved as Attributes,
//     and none of the §8 offer/answer rules (sendonly/recvonly pairing,
//     file-transfer-id copying) is applied.
//   - RFC 6714 CEMA: a=msrp-cema is preserved and can be tested
//     (Media.CEMA), but the CEMA connection rules (dial the c/m-line, the
//     fall-back re-offer of §4.2, rejecting a non-CEMA offer whose c/m
//     differs from the path) are not implemented.
//   - RFC 4145 a=connection (RFC 6135 §4 forbids it for MSRP; it is kept
//     as an ordinary attribute).
//   - RFC 7701 a=chatroom, RFC 4976 relay-specific SDP rules, ICE.
//   - Full MSRP URI parsing and comparison (package msrp does it; this
//     package must not import it).
package messagesdp
