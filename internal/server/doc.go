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
// With Config.History, the session messages the MSRP relays forward are
// recorded too (store.SessionMode), in their local parties' history: see
// history.go for how the parties are identified (the relays' AUTH users,
// CPIM From/To, endpoint owners shared between nodes through the store)
// and the bounded queue that keeps the relays from ever waiting for the
// store; its counters are in /metrics (parley_session_history_*).
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
// of the session history), history of chunked or large session messages
// and of CPIM transport (cpimtransport) sessions, and reloading the
// configuration without a restart.
package server
