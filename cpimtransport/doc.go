// Package cpimtransport implements CPIM transport sessions, the session-mode
// instant messaging transport of draft-campbell-simple-cpimmsg-sessions-00
// ("Instant Message Transport Sessions using the CPIM Message Format",
// October 2002), negotiated as draft-campbell-simple-im-sessions-00
// describes, behind the transport-neutral API of package session.
//
// A CPIM transport session is a series of message/cpim objects (RFC 3862)
// sent over TCP (m-line proto cpim/tcp) or TLS (cpim/tls). Sessions are
// identified by the CPIM From and To headers, which carry the a=uri tokens
// the two sides exchanged in SDP; one connection carries any number of
// sessions in both directions.
//
// # Implemented
//
//   - §2, §4: connections are bidirectional, shared by every session between
//     the same places (keyed by remote host:port and TLS-ness) and reused.
//   - §3, §4.2, §5, §6.2: CPIM To is the peer's a=uri, From our own; a
//     message whose From/To match no session of its connection is
//     discarded, logged and counted (Stats.Unmatched).
//   - §3, §5: MsgID starts at 1 per session and direction and grows by one
//     per message, delivery reports included; receivers flag duplicates
//     (session.Incoming.Duplicate) and count gaps.
//   - §4.1: m=message <port> cpim/tcp|cpim/tls <MIME types>, text/plain
//     always listed.
//   - §4.2: a=uri, a fresh im: URI with 128 random bits per session.
//   - a=max-size (not in the draft; borrowed from RFC 4975 §8.6):
//     Options.MaxSize is advertised in offers and answers, and Send refuses
//     a message larger than the peer's a=max-size with session.ErrTooLarge
//     before sending any of it. A larger message that arrives anyway (from
//     a peer that ignores the attribute) is refused with a 413 report.
//   - §4.3, companion §4.2: a=direction (both/active/passive) decides who
//     connects, and a=setup (RFC 4145) is written alongside and understood;
//     the active side connects to the c-line address and m-line port.
//   - §5, §6.1: the outer envelope (exactly Content-Type: message/cpim and
//     Content-Length), a streaming Reader with limits, resynchronisation on
//     the next envelope after garbage, and an append-style writer.
//   - §6.3, §6.3.1: delivery reports (message/im-delivery-status with
//     Original-MsgID, Action, Status), mapped onto session.Delivery, with a
//     receipt timeout (30 s by default).
//   - §7: Relay, a session relay that shares connections between sessions
//     and demultiplexes only by From/To, and RewriteMedia/RewriteOffer/
//     Install, the SDP rewriting a SIP proxy applies to insert it.
//   - A passive side (and the relay toward an endpoint that connects to it)
//     binds a session to an accepted connection only on proof: a message
//     naming the session's a=uri pair, or a client certificate matching
//     a=fingerprint. One that must send first may use the only candidate
//     connection from the peer's address (Config.AddressBindDelay).
//   - cpim/tls: TLS 1.2 or later, SNI and host name verification, or the
//     peer's SHA-256 a=fingerprint (RFC 4572) for self-signed peers, as for
//     msrps.
//
// Where the draft is open or contradicts itself, the choices made are
// documented in docs/seed-choices.md of the repository.
//
// # Not implemented
//
//   - §9 and companion §7: session keys negotiated in SDP (MIKEY) and S/MIME
//     protection of the CPIM objects; TLS protects each hop only.
//   - The source address and port form of the early-COMEDIA a=direction
//     attribute (messagesdp does not carry it), so RewriteMedia has none to
//     rewrite.
//   - Per-recipient reports from conference servers (§6.3 open issue).
//
// # Large messages
//
// Outgoing bodies may stream from Outgoing.BodyReader (with a known Size,
// since Content-Length comes first). An incoming body larger than
// Options.MaxInMemory goes to Options.Sink as it arrives, in bounded
// memory, when its CPIM and MIME headers fit in the first 256 KiB; every
// message is still bounded by Config.Reader.MaxMessageSize (16 MiB by
// default; raise it for file transfer).
package cpimtransport
