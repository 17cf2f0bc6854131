// Package testpeer is test support for the tests that run Parley against
// third-party peers: programs (Kamailio, SIPp, tshark, tmux, PostgreSQL's
// initdb) and services (a PostgreSQL cluster named by
// PARLEY_TEST_POSTGRES).
//
// Every such test follows one rule: when the peer is missing it is
// skipped with a message that says how to install it, except under CI
// (CI=true), where a missing peer fails the test, so that CI never passes
// by skipping. Require, Postgres and Unavailable carry that rule:
//
//	kamailio := testpeer.Require(t, "kamailio") // path, or skip/fail
//	dsn := testpeer.Postgres(t)                 // PARLEY_TEST_POSTGRES, or skip/fail
//	if !canCapture {
//		testpeer.Unavailable(t, "tshark may not capture on lo: %s", out)
//	}
//
// The package is imported by _test.go files only.
package testpeer
