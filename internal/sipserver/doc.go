// Package sipserver is the SIP side of `parley serve`: a registrar
// (RFC 3261 §10.3) and a stateful proxy (RFC 3261 §16) for instant
// messaging, with store-and-forward of pager-mode messages (RFC 3428 §7).
// It is built on github.com/emiago/sipgo (v1.7.2), which, with package
// sipua, is the only place Parley imports sipgo.
//
// # Registrar (RFC 3261 §10.3)
//
//   - Digest authentication (§22, RFC 7616, RFC 8760) against the HA1s
//     of package store: one WWW-Authenticate per algorithm (SHA-256 and
//     MD5 by default), qop=auth, nonces that expire (stale=true) and a
//     nonce-count that must grow (a replayed nc is refused).
//   - The digest username must be the AOR's user. Every authentication
//     failure (wrong password, unknown user, malformed credentials…) gets
//     the same "403 Forbidden", the reason only in the log, and an
//     unknown user's response is checked against a dummy HA1, so neither
//     the response nor the work done tells whether a user exists
//     (FINDINGS.md F12).
//   - Failed authentications are throttled per source IP address and per
//     AOR (token buckets of Config.MaxAuthFailures, 10 by default, one
//     more attempt every Config.AuthFailureInterval, 30 s): beyond them a
//     request with credentials gets "503 Service Unavailable" with
//     Retry-After without being checked, for users who exist and who do
//     not alike. The per-AOR bucket means that someone guessing a user's
//     password also keeps that user from authenticating (existing
//     bindings stay until they expire) for as long as the guessing goes
//     on: the price of bounding guesses from many addresses.
//   - Bindings with expiry: the expires parameter, else Expires, else
//     Config.DefaultExpires; below MinExpires 423 with Min-Expires
//     (§10.3 step 7), above MaxExpires shortened. Several devices per
//     AOR; Expires 0 removes one binding, "Contact: *" with Expires: 0
//     removes all. Out-of-order REGISTERs (stale CSeq) get 500 with
//     Retry-After. The 200 lists every binding with its remaining time.
//   - A new binding starts delivery of the user's stored messages.
//
// # Proxy (RFC 3261 §16)
//
//   - §16.3 step 1, §8.1.1: every request (REGISTER too) is checked
//     first: exactly one Call-ID, From (with a tag), To and CSeq, the
//     CSeq method equal to the request's, a Via, at most one
//     Max-Forwards, no control characters but HTAB in header values; a
//     request failing it gets 400 with the reason in the phrase and
//     nothing is stored (FINDINGS.md F7).
//   - §16.3: Max-Forwards (483), loop detection (482) with a hash of the
//     Request-URI, From tag, Call-ID, CSeq and Route in our Via branch,
//     so spirals pass and loops do not.
//   - §16.4: Route entries naming us are removed (two after a transport
//     change, RFC 5658 double Record-Route).
//   - §22.3: out-of-dialog requests whose From is a local user are
//     challenged with 407 (failures answered and throttled as for
//     REGISTER); our realm's Proxy-Authorization is removed
//     before forwarding. Requests from foreign domains may only reach
//     local users; relaying to foreign domains needs a local user.
//   - §16.5/§16.6: requests for a local domain go through the location
//     service: 404 for an unknown user, 480 for a known user with no
//     binding, except MESSAGE, which is stored and answered 202
//     (RFC 3428 §7: after the store committed it). INVITE is forked in
//     parallel to every binding with Record-Route; the first 2xx is
//     relayed, the other branches are CANCELled (§16.7 step 10), the best
//     final response is relayed when none succeeds (§16.7 step 6), and a
//     CANCEL from the caller cancels every branch. MESSAGE and other
//     non-INVITE requests go to the bindings one at a time, highest q
//     first, until one answers (a MESSAGE no device takes is stored).
//   - In-dialog requests (BYE, re-INVITE, ACK for 2xx) follow the route
//     set, but only for dialogs this proxy set up (their Call-ID is
//     remembered until BYE, at most 24 h): a To tag does not turn the
//     proxy into an open relay. Dialogs do not survive a restart (481).
//   - A late CANCEL stops the forking; Timer C (3 min) CANCELs pending
//     branches (§16.8).
//   - RFC 3261 §17.2.2: a non-INVITE request retransmitted over UDP
//     after its final response (Timer J, 64*T1 = 32 s) is answered with
//     that response again and not handled twice. sipgo's transaction is
//     ended as soon as the final response is sent and the response kept
//     in a compact table (retrans.go, about 600 octets each, at most
//     131,072; challenges are not kept), because sipgo would hold the
//     whole transaction, ~3 KiB, for those 32 s.
//   - cpim/tcp and cpim/tls offers are rewritten to pass through a
//     cpimtransport.Relay when Config.CPIMRelay is set (seed draft §7).
//
// # Store-and-forward (RFC 3428 §7)
//
// A MESSAGE stored with 202 is delivered when a device of the recipient
// registers (and retried every 30 s and at start-up): one MESSAGE at a
// time per recipient, in arrival order, From the original sender, with a
// Date header of its acceptance. A 2xx marks it delivered; a 4xx other
// than 408/480 marks it failed; other failures are counted and retried
// up to Config.MaxAttempts. A retransmitted MESSAGE (same Call-ID and
// CSeq) is stored once. Before each delivery attempt the node claims the
// message in the store (store.MessageStore.Claim: one conditional UPDATE,
// with a lease of the attempt's length plus 30 s), so that when the
// user has devices on several nodes, which all flush the queue, each
// message is delivered by one node only; a node finding the next
// message claimed by another stops, leaving the queue and its order to
// that node.
//
// # Caching
//
// The hot path of a MESSAGE (the sender's HA1, whether the recipient
// exists, the recipient's bindings) is answered from a small in-memory
// cache (issue #6: four SQLite reads per MESSAGE made the proxy slower
// than Kamailio). Entries live Config.CacheTTL, 1 s by default. A
// REGISTER or unREGISTER on this node drops the AOR's bindings from the
// cache before it is answered, and announces the change to the other
// nodes through store.Notify (PostgreSQL LISTEN/NOTIFY on channel
// "parley_location"; a lost notification empties the cache). Account and
// password changes (`parley user`, which runs in another process and
// sends no notification) take up to CacheTTL to be seen. Expired bindings
// are never used, however fresh the entry.
//
// # Shutdown
//
// Close answers new requests with 503, lets the requests and deliveries
// in progress finish until its context ends (then cancels them), lingers
// 200 ms so clients read the last responses (sipgo handles responses in
// goroutines that a connection close can overtake), and closes the
// listeners and connections. Stored messages not yet delivered stay in
// the store and are delivered after the next start.
//
// # Several nodes
//
// With PostgreSQL, several servers share accounts, bindings and queues.
// Each binding records the node (its SIP URI) holding it; another node
// routes a request for that binding through the owning node (Route to
// the node, and a Parley-Node header that the owning node trusts instead
// of asking for proxy credentials). The header is "t=<unix
// time>;mac=<hex>": an HMAC-SHA-256 under Config.ClusterSecret of the
// timestamp and of the request's method, Request-URI, From and To URIs,
// Call-ID, CSeq and body hash, accepted within 60 s of the receiver's
// clock and compared in constant time, so a captured header cannot be
// replayed on any other request (node clocks must agree within 60 s).
//
// # Not implemented
//
// RFC 3263 DNS lookups beyond sipgo's, RFC 5626 outbound flows
// (connection reuse for contacts behind NAT: contacts must be reachable),
// Path (RFC 3327) insertion, RFC 6026 forwarding of several 2xx (a late
// 2xx from a second device is ACKed and BYEd by the proxy), PRACK,
// authentication of requests from other domains (RFC 4474), the
// "q" ordering of parallel forks, and history of session-mode messages
// (the proxy never sees MSRP or CPIM session content).
package sipserver
