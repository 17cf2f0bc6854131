// Package hostile holds Parley's adversarial tests: a corpus of malformed
// input (testdata/badinput, described by cases.txt) replayed against live
// MSRP endpoints, the RFC 4976 relay, the seed CPIM transport and the SIP
// server over loopback, plus slowloris, churn, relay-security and fault
// tests. It contains tests only; it exercises the public (and, for the
// server, internal) APIs from outside the packages.
package hostile

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
