// Package server assembles `parley serve`: one process, one store, and
//
//   - the SIP registrar and stateful proxy of package sipserver (RFC 3261
//     §10, §16) with store-and-forward of pager messages (RFC 3428 §7),
//     on UDP, TCP and TLS listeners (ParseListen: "udp:127.0.0.1:5060,
//     tcp:…,tls:…"; port 0 picks a free port and Addrs reports it);
//   - the RFC 4976 MSRP relay of package msrp/relay, authenticating AUTH
//     against the same accounts (HA1 of realm = the first domain), on a
//     plain TCP listener (AUTH from loopback only, RFC 4976 §5.1) and an
//     msrps listener (Config.MSRPRelayTLS, §9.2) with the server's
//     certificate, which is also its client certificate toward msrps next
//     hops, so that nodes trusting each other (Config.TLSCA) are peer
//     relays by mutual TLS (§6.3). The two listeners are two relays: a
//     session between a client of each goes relay to relay;
//   - the CPIM transport session relay of package cpimtransport (seed
//     draft §7), into which the proxy rewrites cpim/tcp and cpim/tls
//     offers and answers;
//   - an HTTP listener with /healthz (JSON; 503 when the store does not
//     answer) and /metrics (Prometheus text format 0.0.4, written by hand:
//     registrations, authentication failures and throttled attempts
//     (parley_auth_throttled_total), sessions, messages
//     delivered, stored, forwarded and failed, message bytes, queue
//     depth, MSRP relay connections, sessions, bytes, forwards and
//     timeouts, the histogram parley_msrp_relay_forward_latency_seconds
//     of the time forwarded requests spend inside the relay, CPIM relay
//     forwards).
//
// The store is SQLite in the data directory by default (created on first
// run, nothing to set up); postgres://… lets several nodes share
// accounts, bindings and queues (see package sipserver, "Several nodes").
// A tls: or msrps listener without a certificate gets a self-signed
// development certificate made once in the data directory (for
// localhost, 127.0.0.1, ::1, the domains and Config.Host), with a warning
// in the log.
//
// # History
//
// With Config.History, pager messages are recorded, and so are the
// session messages (store.SessionMode) the MSRP relays and the CPIM
// session relay forward, in their local parties' history
// (Config.HistoryOptOut excepted), readable with `parley history`:
//
//   - MSRP: every message once its last chunk is read, chunked ones too;
//     the body when the message is at most 64 KiB (assembled from its
//     chunks by the relay, relay.Config.ObserveMaxBody), else an entry
//     without body: message/external-body; access-type=x-parley-not-kept;
//     size=N, whose body names the message's own Content-Type (the store
//     has no size column). The parties are the relays' AUTH users, the
//     CPIM From/To of a message/cpim body, or endpoint owners shared
//     between nodes through the store.
//   - CPIM transport (seed draft): every message the relay forwards, with
//     the same 64 KiB bound. Its transport From/To are session tokens, so
//     the users come from the parties the proxy names to the relay
//     (cpimtransport.Relay.InstallFor) or else from a nested message/cpim
//     From/To; the first name a token's messages give stays its sender,
//     and an owner must be an account of the server. sipserver calls
//     Install today, so only nested-CPIM messages (what a client sends to
//     name its users) are attributed.
//
// Not recorded: aborted MSRP messages ('#'), empty ones, those whose
// last chunk the relay did not see (connection lost; nothing for
// relay.Config.ObserveTimeout, 2 minutes; evicted beyond 16 in assembly
// on one connection), messages whose peer stays unknown for 3 s (plain
// CPIM transport content without nested CPIM; MSRP with a far side on no
// relay of ours and no CPIM), CPIM delivery reports, messages with
// neither party local, and anything the bounded queue had to drop
// (history.go; the relays never wait for the store). Counters are in
// /metrics (parley_session_history_*).
//
// The SIP limits of package sipserver are settable: Config.SIPIdleTimeout
// and SIPMaxConnsPerIP (stream connections), SIPMaxAuthFailures and
// SIPAuthFailureInterval (the throttle of failed digest
// authentications), SIPCacheTTL (how long account and password changes
// made in the store, e.g. by `parley user`, take to be seen; 1 s by
// default). `parley serve` has a --sip-… flag for each.
//
// Shutdown drains: the listeners close, requests and deliveries in
// progress finish until the context ends, then everything is closed.
//
// # Not implemented
//
// MSRP over WebSocket, the relay's session map in the store for relays
// on several nodes (store.SessionStore only carries the endpoint owners
// of the session history), the bodies of session messages over 64 KiB in
// the history, the proxy naming CPIM transport parties to the relay (see
// History), and reloading the configuration without a restart.
package server
