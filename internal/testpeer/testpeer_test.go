package testpeer

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skip and Fatal instead of acting
// on the real test; both end the calling goroutine, as the real ones do.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// call runs f with a recorder in its own goroutine (Goexit ends it).
func call(t *testing.T, f func(tb testing.TB) string) (got string, r *recorder) {
	r = &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = f(r)
	}()
	<-done
	return got, r
}

// fakeProgram writes an executable file name into a new directory and
// returns the directory.
func fakeProgram(t *testing.T, name string, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRequire(t *testing.T) {
	onPath := fakeProgram(t, "parley-fake-peer", 0o755)
	inSbin := fakeProgram(t, "parley-fake-daemon", 0o755)
	notExec := fakeProgram(t, "parley-fake-data", 0o644)
	versions := t.TempDir()
	for _, v := range []string{"14", "15"} {
		d := filepath.Join(versions, v, "bin")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "parley-fake-initdb"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", onPath)
	saved := searchDirs
	searchDirs = []string{inSbin, notExec, filepath.Join(versions, "*", "bin")}
	t.Cleanup(func() { searchDirs = saved })

	for _, c := range []struct {
		name, ci string
		want     string // path; "" when missing
		skip     bool   // missing: skipped (else failed)
		hint     string // in the message when missing
	}{
		{name: "parley-fake-peer", want: filepath.Join(onPath, "parley-fake-peer")},
		{name: "parley-fake-daemon", want: filepath.Join(inSbin, "parley-fake-daemon")},
		{name: "parley-fake-initdb", want: filepath.Join(versions, "15", "bin", "parley-fake-initdb")},
		{name: "parley-fake-peer", ci: "true", want: filepath.Join(onPath, "parley-fake-peer")},
		{name: "parley-fake-data", skip: true, hint: "apt-get install -y parley-fake-data"},
		{name: "sipp", skip: true, hint: "apt-get install -y sip-tester"},
		{name: "sipp", ci: "1", skip: true, hint: "sip-tester"}, // only "true" means CI
		{name: "sipp", ci: "true", hint: "apt-get install -y sip-tester"},
		{name: "kamailio", ci: "true", hint: "apt-get install -y kamailio"},
	} {
		t.Run(c.name+"/CI="+c.ci, func(t *testing.T) {
			t.Setenv("CI", c.ci)
			got, r := call(t, func(tb testing.TB) string { return Require(tb, c.name) })
			if got != c.want {
				t.Errorf("Require = %q, want %q", got, c.want)
			}
			msg := r.skipped + r.failed
			switch {
			case c.want != "":
				if msg != "" {
					t.Errorf("found, yet skipped or failed: %q", msg)
				}
			case c.skip && (r.skipped == "" || r.failed != ""):
				t.Errorf("missing outside CI: skipped %q, failed %q; want a skip", r.skipped, r.failed)
			case !c.skip && (r.failed == "" || r.skipped != ""):
				t.Errorf("missing under CI: skipped %q, failed %q; want a failure", r.skipped, r.failed)
			case !strings.Contains(msg, c.hint) || !strings.Contains(msg, c.name+" not found"):
				t.Errorf("message %q lacks %q", msg, c.hint)
			}
		})
	}
}

func TestPostgres(t *testing.T) {
	for _, c := range []struct {
		dsn, ci string
		skip    bool
	}{
		{dsn: "postgres://u@127.0.0.1:5432/db"},
		{dsn: "postgres://u@127.0.0.1:5432/db", ci: "true"},
		{skip: true},
		{ci: "true"},
	} {
		t.Run(fmt.Sprintf("dsn=%t/CI=%s", c.dsn != "", c.ci), func(t *testing.T) {
			t.Setenv(EnvPostgres, c.dsn)
			t.Setenv("CI", c.ci)
			got, r := call(t, Postgres)
			if got != c.dsn {
				t.Errorf("Postgres = %q, want %q", got, c.dsn)
			}
			switch {
			case c.dsn != "":
				if r.skipped != "" || r.failed != "" {
					t.Errorf("DSN set, yet skipped %q, failed %q", r.skipped, r.failed)
				}
			case c.skip && (r.skipped == "" || r.failed != ""):
				t.Errorf("unset outside CI: skipped %q, failed %q; want a skip", r.skipped, r.failed)
			case !c.skip && (r.failed == "" || r.skipped != ""):
				t.Errorf("unset under CI: skipped %q, failed %q; want a failure", r.skipped, r.failed)
			case !strings.Contains(r.skipped+r.failed, EnvPostgres+" unset") || !strings.Contains(r.skipped+r.failed, ".ci/postgres.sh"):
				t.Errorf("message %q does not say what to do", r.skipped+r.failed)
			}
		})
	}
}

func TestInCIAndUnavailable(t *testing.T) {
	for _, ci := range []string{"", "false", "1", "TRUE", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			want := ci == "true"
			if InCI() != want {
				t.Errorf("InCI() = %t with CI=%q", InCI(), ci)
			}
			reached := false
			_, r := call(t, func(tb testing.TB) string {
				Unavailable(tb, "no %s here", "capture rights")
				reached = true
				return ""
			})
			if reached {
				t.Error("Unavailable returned")
			}
			if want && (r.failed != "CI=true requires this peer: no capture rights here" || r.skipped != "") {
				t.Errorf("under CI: failed %q, skipped %q", r.failed, r.skipped)
			}
			if !want && (r.skipped != "no capture rights here" || r.failed != "") {
				t.Errorf("outside CI: skipped %q, failed %q", r.skipped, r.failed)
			}
		})
	}
}
