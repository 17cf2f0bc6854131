// Package interop holds Parley's interoperability tests against third-party
// peers run as real processes on loopback. It has no API: everything is in
// the _test.go files, run with
//
//	go test ./interop/...
//
// Peers (installed on Debian by .ci/interop.sh):
//   - Kamailio 5.6 (package kamailio) as an RFC 4976 MSRP relay, with the
//     config kept in kamailio/msrp-relay.cfg;
//   - tshark (package tshark), whose MSRP dissector checks the bytes on the
//     wire of every exchange.
//
// A missing peer skips its tests with a message saying how to install it,
// unless the environment has CI=true: then it fails, so that CI cannot pass
// by skipping. Findings about the peers are in README.md.
package interop
