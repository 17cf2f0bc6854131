package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EnvPostgres names the environment variable holding the DSN of the
// PostgreSQL cluster the tests share (.ci/postgres.sh prints it).
const EnvPostgres = "PARLEY_TEST_POSTGRES"

// InCI reports whether the tests run under CI (CI=true), where a missing
// peer is a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// debianPackages maps the programs the tests use to the Debian packages
// that install them, for the install hint.
var debianPackages = map[string]string{
	"kamailio": "kamailio",
	"sipp":     "sip-tester",
	"tshark":   "tshark",
	"dumpcap":  "tshark",
	"tmux":     "tmux",
	"initdb":   "postgresql",
	"pg_ctl":   "postgresql",
	"postgres": "postgresql",
}

// searchDirs are looked in after PATH: Debian installs kamailio in
// /usr/sbin, which is not in a normal user's PATH, and PostgreSQL's
// programs under /usr/lib/postgresql/VERSION/bin. A test may replace it.
var searchDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/lib/postgresql/*/bin"}

// Lookup returns the path of the program name: from PATH, else from the
// directories where Debian installs daemons and PostgreSQL. It reports
// false when the program is not found.
func Lookup(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, dir := range searchDirs {
		matches, _ := filepath.Glob(filepath.Join(dir, name))
		// Several PostgreSQL versions: the last in Glob's (lexical)
		// order.
		for i := len(matches) - 1; i >= 0; i-- {
			if isExecutable(matches[i]) {
				return matches[i], true
			}
		}
	}
	return "", false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Require returns the path of the program name. When it is missing, the
// test is skipped with an install hint, or fails under CI.
func Require(t testing.TB, name string) string {
	t.Helper()
	if p, ok := Lookup(name); ok {
		return p
	}
	pkg := debianPackages[name]
	if pkg == "" {
		pkg = name
	}
	Unavailable(t, "%s not found in PATH or %v: install it with `sudo DEBIAN_FRONTEND=noninteractive apt-get install -y %s` (or run .ci/interop.sh)", name, searchDirs, pkg)
	return ""
}

// Postgres returns the DSN of the shared test cluster from
// PARLEY_TEST_POSTGRES. When it is unset, the test is skipped, or fails
// under CI (CI must test both store backends).
func Postgres(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv(EnvPostgres); dsn != "" {
		return dsn
	}
	Unavailable(t, "%s unset: start a cluster with eval \"$(bash .ci/postgres.sh)\" to run the PostgreSQL tests", EnvPostgres)
	return ""
}

// Unavailable reports a missing or unusable peer: it skips the test with
// the message, or under CI fails it. It does not return.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("CI=true requires this peer: %s", msg)
	}
	t.Skip(msg)
}
