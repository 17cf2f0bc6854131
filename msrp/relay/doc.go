// Package relay is an MSRP relay: RFC 4976 (read as
// draft-ietf-simple-msrp-relays-10), built on the codec of package msrp.
// It is what `parley relay` runs, and what the Parley server embeds.
//
// # What is implemented
//
//   - §5.1, §6.3, §9.1 AUTH: a 401 challenge per configured digest
//     algorithm (SHA-256 and MD5 by default; qop="auth", no domain, no
//     -sess), with stateless HMAC nonces that expire (stale=true
//     afterwards) and a replay table so each nonce-count is accepted once
//     and only upwards; the request digest uses HA2 = H("AUTH:" uri) with
//     uri the rightmost To-Path URI, checked against the To-Path; 403 for
//     users the Authenticator refuses (Authorizer); Expires checked
//     against MinExpires/MaxExpires with 423 carrying Min-Expires and
//     Max-Expires; a 200 with Use-Path (a fresh URI with about 119 random
//     bits, msrps when serving TLS), Expires and Authentication-Info
//     (rspauth, cnonce, nc, qop). Credentials come from an Authenticator
//     (HA1 lookups; MemoryAuthenticator for the standalone relay).
//   - §5.1, §9.2: AUTH only over TLS, except from loopback addresses or
//     with Config.AllowInsecure. With Config.TLS the listener asks for a
//     client certificate without requiring one, or requiring it to
//     verify (§6.1): only one that verifies against ClientCAs makes the
//     client a relay peer; an endpoint's self-signed one is accepted.
//   - §6.1: a connection with no successful request within
//     ProbationTimeout, or with MaxFailures failures and no success, is
//     closed; §6.3: a client connection is closed after MaxAuthFailures
//     bad AUTHs (not a relay peer presenting a certificate).
//   - §6.2, §6.4: a request whose first To-Path URI does not name this
//     relay drops the connection. Otherwise the URI must be one this relay
//     issued, compared by RFC 4975 §6.1 (the session-id case-sensitively:
//     a case-altered URI is unknown), live and unexpired, else 481 and
//     nothing is forwarded. On the connection that obtained the URI a
//     request goes outward to any next hop; from anywhere else it only
//     goes inward, to that client over its own connection, and a second
//     URI of this relay after it (someone else's URL used as a first hop)
//     gets 403. A client's URI dies with its connection (§6.3). An AUTH
//     from a relay that presented a verified certificate must come from
//     the host of the first From-Path URI (its dnsName or IP SANs, else
//     403); the URI it gets is usable over any connection to that relay
//     and outlives the connection until it expires (§6.3).
//   - §6.4: each forwarded request gets a fresh tid on the next hop's
//     connection; the relay's URI moves from the head of To-Path to the
//     head of From-Path. A next hop that is another of this relay's URIs
//     (the two-hop path A's relay, B's relay, B through one relay) is
//     delivered internally instead of connecting to itself. Connections
//     to next hops are reused per scheme, host and port (§6.4.2), with
//     TLS (and Config.ClientTLS's certificate, for mutual TLS between
//     relays) for msrps.
//   - §6.4.1: a SEND with Failure-Report yes is answered 200 to the
//     previous hop once its chunk is received; a timer started when its
//     last byte is handed to the next hop's socket turns silence into a
//     408 failure REPORT to the sender (TransactionTimeout, default 30 s;
//     draft-10 says 32 s). A next-hop connection that dies with SENDs
//     outstanding fails them the same way at once.
//   - §6.4.3: a non-200 response to a SEND whose Failure-Report is not
//     "no" becomes a failure REPORT to the sender; responses to other
//     methods (AUTH tunnelled to a further relay, unknown methods) travel
//     the rest of the reverse path with the upstream tid restored, and
//     their silence becomes a 408 response. REPORTs and unknown methods
//     are forwarded like REPORT (§6.4.2); a REPORT is never answered.
//   - Streaming: bodies are cut through segment by segment from the
//     Reader's buffer (msrp.Reader.NextBodySegment) to the next hop's
//     socket, never buffered whole: any chunk size up to MaxChunkSize
//     (unbounded by default). If a body happens to contain the end-line
//     of the tid minted for the next hop, the chunk is cut there with '+'
//     and continued in a new SEND with the next Byte-Range (§6.4.1
//     re-chunking; different Message-IDs are never merged).
//   - Back-pressure: there is no queue. A reader streaming a body holds
//     the next hop's write lock and writes to its socket, so a receiver
//     that stops reading stalls the sender's TCP connection; memory stays
//     at the write buffers. Writes are coalesced: what the frames of
//     several socket reads owe each destination (forwarded frames, 200s)
//     leaves in one write per destination, flushed before the reader
//     would block. On plain TCP the reader reads the raw descriptor and
//     flushes inside the read when it would block, after four reads or
//     when a buffer reaches 48 KiB (one write per 4 bulk or 15 small
//     messages under load, half of what flushing before every read
//     gave); on TLS it flushes before every read. Metrics.Writes counts
//     the writes. Because such a flush runs inside a read, connections
//     are closed asynchronously (conn.close).
//   - Transactions awaiting the next hop's response sit in a window
//     indexed by the tid number the relay minted (pendingTxns: no hashing
//     per message; an old unanswered one moves to a map once the window
//     would span 16,384 tids), with one timer per connection over a
//     deadline-ordered list. Reading a frame allocates only its head
//     string; forwarding a SEND adds its transaction and the new tid.
//   - RFC 4975 §7.1: a non-SEND body (at most 10240 octets, not
//     interruptible) is read whole before anything goes to the next hop;
//     over the bound it is answered 413 and not forwarded. A malformed
//     request is answered 400 when its From-Path parsed, else dropped.
//   - §6.5 and resources: IdleTimeout, WriteTimeout, MaxConnsPerAddr,
//     MaxSessionsPerConn; a connection reads with a 4 KiB buffer that
//     grows to 64 KiB for large heads and bulk traffic
//     (msrp.NewReaderSize), gives it back to a pool together with its
//     write buffer right after a successful AUTH, and a quiet one after
//     IdleRelease, and then waits on a fresh goroutine with a small
//     stack, so an idle session costs about 7 KB of process RSS (2 KiB
//     of it stack; 10,000 sessions, bench/relayd). Write buffers start at
//     4 KiB and move to 64 KiB when a connection carries bulk traffic.
//   - Metrics: Server.Metrics returns a snapshot of counters and
//     ForwardLatency, a histogram (1-2-5 buckets, 10 µs to 10 s) of the
//     time forwarded requests spend in the relay, kept per connection
//     with atomic counters. Config.OnMessage reports every message
//     forwarded, once, when its last chunk ('$' or '#') has been read
//     (users, paths, Message-ID, size, and the body up to ObserveMaxBody,
//     assembled from its chunks on the side of the cut-through copy) for
//     a message history. Assembly is bounded: ObserveMaxPending messages
//     per connection, ObserveMaxHeld body octets for the whole relay,
//     ObserveTimeout without a chunk; it ends with the connection.
//
// # What is not implemented
//
//   - §8 SRV lookup of _msrps._tcp for next hops: URIs are dialled as
//     given (they must carry a port, as §8 requires outside AUTH).
//   - TLS session resumption tuning, OCSP, certificate reloading.
//   - Re-chunking for fairness: a chunk being cut through holds its next
//     hop until its end-line, so one huge chunk delays other traffic to
//     the same connection (the MSRP endpoint interrupts its own chunks).
//   - Reuse of connections accepted from other relays for traffic toward
//     them: a relay dials its own connection to a peer relay.
package relay
