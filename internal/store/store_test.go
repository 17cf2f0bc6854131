package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for the admin connection
	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/internal/store/storetest"
	"github.com/parley-im/parley/internal/testpeer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) string {
		return "file:" + filepath.Join(t.TempDir(), "parley.db")
	})
}

// postgresDSN returns the DSN of the test cluster from PARLEY_TEST_POSTGRES
// (set by .ci/postgres.sh). Without it the test is skipped, except in CI
// (CI=true), where it fails: CI must run both backends.
func postgresDSN(t testing.TB) string {
	t.Helper()
	return testpeer.Postgres(t)
}

// newSchema creates a throwaway schema and returns a DSN that uses it, so
// that each test starts from an empty database on the shared cluster.
func newSchema(t testing.TB, dsn string) string {
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

func TestPostgres(t *testing.T) {
	dsn := postgresDSN(t)
	storetest.Run(t, func(t *testing.T) string { return newSchema(t, dsn) })
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	for _, dsn := range []string{"", "mysql://u:secret@h/db", "file:", ":memory:", "file:x.db?_pragma=synchronous(OFF)"} {
		s, err := store.Open(ctx, dsn)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open error leaks the password: %v", err)
		}
	}
}
