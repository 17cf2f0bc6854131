// Package sipua is Parley's SIP user agent for instant messaging. It wraps
// github.com/emiago/sipgo (v1.7.2) behind Parley's own API, so that
// sipgo's API changes and known bugs are dealt with in this package only.
//
// A UA does two things:
//
//   - Pager mode (RFC 3428): SendMessage sends a MESSAGE with a text/plain
//     or message/cpim body and reports 200 (Delivered) apart from 202
//     (AcceptedForLater, a store-and-forward server took it, §7). Messages
//     to one URI are sent one at a time in call order (§9: no overlapping
//     out-of-dialog MESSAGEs to one URI). A body larger than the pager
//     limit (1300 bytes, §9) is sent in a short session instead
//     ("large-message mode": INVITE, one message, BYE), transparently; the
//     INVITE carries the OMA CPM large-message feature tag
//     (LargeMessageFeatureTag) in Accept-Contact, and a receiving Parley
//     UA delivers that message to OnMessage like a pager message. SendLarge uses large-message mode
//     whatever the size and streams the body from an io.Reader
//     (session.Outgoing.BodyReader) with progress reports, for bodies that
//     should not be held in memory. Incoming MESSAGEs go to OnMessage
//     and are answered 200 without Contact or body (§7), or 415 with an
//     Accept header for a body type not accepted (§8).
//   - Session mode: Invite sends INVITE with an SDP offer of m=message
//     lines built by the session layer (package session: OfferAll, one line
//     per Endpoint, e.g. MSRP RFC 4975 §8 and the seed draft's cpim/tcp),
//     opens the session on the 200 and ACKs it. Incoming INVITEs are
//     answered through the session layer (AnswerOffer): 488 when no offered
//     line is acceptable (RFC 4975 §8.6, RFC 3264 §6), otherwise the
//     application gets an Incoming (From, To, Subject, a summary of the
//     offered media) to Accept or Decline (486, 603, …), or AutoAnswer
//     accepts it. A Call carries the session.Session until Hangup (BYE) or
//     the peer's BYE.
//
// # RFC 3261 parts used
//
//   - §8.1 request construction (From tag, Call-ID, CSeq, Max-Forwards,
//     Via by sipgo; Route with ;lr for an outbound proxy, §8.1.2).
//   - §10 REGISTER: one Call-ID and increasing CSeq per binding, Expires,
//     the granted expires parameter of our Contact (§10.2.4), 423 with
//     Min-Expires (§10.2.8), refresh before expiry, Expires: 0 on Close.
//   - §22 digest authentication: 401/407 answered once (twice on
//     stale=true); a second refusal is ErrAuthFailed.
//   - §12 dialogs: our own dialog table keyed by (Call-ID, local tag,
//     remote tag), which replaces sipgo's dialog caches as sipgo's README
//     advises; sipgo's DialogClientSession/DialogServerSession do the
//     per-dialog CSeq and route-set work.
//   - §13 INVITE, §13.3.1.4 2xx retransmission for re-INVITEs over UDP,
//     §14 re-INVITE, §15 BYE, §9 CANCEL.
//   - §18 transports UDP, TCP and TLS (sips:, §26.2); §18.1.1: a request
//     over 1300 bytes is not sent over UDP.
//
// # SDP usage (RFC 3264, RFC 4975 §8)
//
// The UA never builds or edits SDP: the session layer does (package
// session's negotiator over package messagesdp). The UA carries the offer
// in the INVITE and the answer in the 200 (no offerless INVITEs: they get
// 488). A re-INVITE from the peer (RFC 3261 §14.2) whose SDP equals the
// previous offer is a session refresh and gets the unchanged answer (RFC
// 4975 §8.4: same o-line). A changed offer, such as a new MSRP path after
// the peer reconnected, is answered through the session layer as a new
// session that replaces the call's session once open (the old one is
// closed, so the application should re-read Call.Session when its
// Receive fails while the call is not Done); if the session layer cannot
// accept it the answer is 488 and the current session stays. An offerless
// re-INVITE gets 488. A session that ends by itself ends its call with BYE
// after a short grace period, in case the peer re-INVITEs.
//
// # sipgo workarounds
//
//   - Responses are handled one goroutine each and can overtake each other
//     (sipgo issue #306); a provisional response can be lost. The UA never
//     depends on 18x: it waits for the final response only.
//   - Requests are also one goroutine each, so the peer's BYE can overtake
//     its ACK; the UA treats a BYE as proof of the ACK (RFC 3261 §15).
//     The BYE also travels apart from the session's transport, so it can
//     overtake messages the peer sent before it, and come while our side
//     is still opening the answered session. The BYE ends the dialog, not
//     the delivery: an Open in progress is given a grace period (5 s), and
//     the session is closed only once the peer has closed it or after
//     another 2 s, so that every message sent before the BYE reaches the
//     application (OnMessage in large-message mode; otherwise the Call,
//     handed over already Done, whose Session returns the messages, then
//     session.ErrClosed).
//     Pager MESSAGEs to one target are never pipelined, so their order is
//     kept.
//   - When our CANCEL crosses the callee's 200, sipgo returns the
//     cancellation; the UA then ACKs and BYEs the dialog it got.
//   - The UA listens only on listeners it owns (Start opens them; ServeUDP,
//     ServeTCP and ServeTLS take them over) and closes them on Close:
//     sipgo's Close does not close listeners it was handed, and its
//     ListenAndServe readiness signal is a string context key.
//   - Config.Trace (SIP message tracing) uses sipgo's per-UA read filter,
//     which sees every read on every connection (stream reads are split
//     into messages by Content-Length, RFC 3261 §18.3), and wraps the
//     UA's own listeners for what it sends; sipgo's only write hook is
//     its process-global tracer (sip.SIPDebug), so requests sent on
//     sockets sipgo opens itself are not traced.
//   - sipgo is configured through options only, never through its mutable
//     package globals (sip.SIPDebug, sip.UDPMTUSize, timers, …). A few of
//     sipgo's own log lines (e.g. "TCP ref went negative", issue #34) go
//     to its package-global logger (sip.SetDefaultLogger), which the UA
//     leaves alone; a program may set it once in main.
//   - sipgo does not switch from UDP to TCP above the MTU (it fails with
//     ErrUDPMTUCongestion); the pager sender chooses TCP (or large-message
//     mode) itself.
//   - sipgo's WithTransactionLayerTerminateOnConnClose is not enabled:
//     sipgo puts a client transaction in its table before Init sets its
//     state machine, and its close notifier spins that nil state machine
//     when the connection closes in between, a panic in a goroutine of
//     sipgo's that no recover can reach (TestPeerClosesDuringRequestSetup
//     crashed within a second with it). A request whose TCP/TLS
//     connection the peer closes therefore ends with its context or at
//     timer B/F (32 s), not at once; Close still ends every transaction.
//
// # Not implemented
//
// PRACK and early sessions (RFC 3262; RFC 4975 §8.8 forking), offerless
// INVITEs, sending re-INVITEs ourselves, RFC 3263 DNS SRV/NAPTR server
// location beyond what sipgo does, WebSocket transport (RFC 7118), the
// Expires/Date validity of MESSAGEs (RFC 3428 §5), IMDN generation, and
// the first message carried in the INVITE (RCS). Incoming MESSAGE order
// is arrival order; receivers that need an order sort by CPIM DateTime.
package sipua
