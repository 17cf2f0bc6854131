package testpeer

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// PrivatePostgres starts a PostgreSQL cluster of the test's own with the
// repository's .ci/postgres.sh, for tests that restart or halt it (the
// shared PARLEY_TEST_POSTGRES cluster must not be restarted under other
// tests). It returns the cluster's DSN and ctl, which runs postgres.sh
// restart, halt or start on it; a failing ctl fails the test (with
// Errorf, so ctl may run on any goroutine). The cluster is stopped when
// the test ends. Without PostgreSQL's programs (initdb) the test is
// skipped, or fails under CI.
func PrivatePostgres(t testing.TB) (dsn string, ctl func(cmd string)) {
	t.Helper()
	Require(t, "initdb")
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testpeer: cannot locate the repository (runtime.Caller)")
	}
	script := filepath.Join(filepath.Dir(self), "..", "..", ".ci", "postgres.sh")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	// postgres.sh reuses the cluster named by PARLEY_PG_DIR; ours is new.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_PG_DIR=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command("bash", script, "start")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("postgres.sh start: %v\n%s", err, stderr.String())
	}
	var dir string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		v = strings.Trim(v, "'")
		switch k {
		case EnvPostgres:
			dsn = v
		case "PARLEY_PG_DIR":
			dir = v
		}
	}
	if dsn == "" || dir == "" {
		t.Fatalf("postgres.sh printed %q", out)
	}
	run := func(cmd string) ([]byte, error) {
		c := exec.Command("bash", script, cmd, dir)
		c.Env = env
		return c.CombinedOutput()
	}
	t.Cleanup(func() {
		if out, err := run("stop"); err != nil {
			t.Logf("postgres.sh stop: %v\n%s", err, out)
		}
	})
	return dsn, func(cmd string) {
		if out, err := run(cmd); err != nil {
			t.Errorf("postgres.sh %s: %v\n%s", cmd, err, out)
		}
	}
}
