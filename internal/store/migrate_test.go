package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMigrationList(t *testing.T) {
	for _, be := range []string{"sqlite", "postgres"} {
		list, err := migrations(be)
		if err != nil {
			t.Fatalf("%s: %v", be, err)
		}
		if len(list) != 4 || list[1].name != "messages_history" || list[3].name != "message_claim" || !strings.Contains(list[1].sql, map[string]string{
			"sqlite": "AUTOINCREMENT", "postgres": "IDENTITY"}[be]) {
			t.Errorf("%s: unexpected list %+v", be, list)
		}
	}
}

func TestLoadMigrationsErrors(t *testing.T) {
	f := func(names ...string) fstest.MapFS {
		m := fstest.MapFS{}
		for _, n := range names {
			m["m/"+n] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}
		return m
	}
	tests := []struct {
		name  string
		fsys  fstest.MapFS
		error string
	}{
		{"gap", f("0001_a.sql", "0003_c.sql"), "missing"},
		{"bad name", f("x_a.sql"), "bad migration file name"},
		{"zero", f("0000_a.sql"), "bad migration file name"},
		{"duplicate", f("0001_a.sql", "0001_b.sql"), "two migrations"},
		{"shared and variant", f("0001_a.sql", "0001_a.sqlite.sql", "0001_a.postgres.sql"), "both shared and per-backend"},
		{"variant missing", f("0001_a.postgres.sql"), "no sqlite variant"},
		{"unknown backend", f("0001_a.mysql.sql"), "unknown backend"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadMigrations(tc.fsys, "m", "sqlite")
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("err = %v, want %q", err, tc.error)
			}
		})
	}
	list, err := loadMigrations(f("0002_b.sql", "0001_a.sqlite.sql", "0001_a.postgres.sql", "README"), "m", "postgres")
	if err != nil || len(list) != 2 || list[0].name != "a" || list[1].version != 2 {
		t.Errorf("valid list = %+v, %v", list, err)
	}
}

// A database migrated by a newer Parley is refused rather than used with a
// schema this binary does not understand.
func TestSchemaTooNew(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO parley_schema (version, name, applied) VALUES (99, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := Open(ctx, path); !errors.Is(err, ErrSchemaTooNew) {
		if s != nil {
			s.Close()
		}
		t.Errorf("Open newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// A failing migration leaves the database at its previous version.
func TestMigrationAtomic(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "a.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Pre-create a table that migration 1 creates too, so it fails midway.
	if _, err := db.Exec(`CREATE TABLE binding (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(ctx, db, "sqlite"); err == nil {
		t.Fatal("migration over a conflicting table succeeded")
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name IN ('account', 'parley_schema')`).Scan(&n); err != nil || n != 0 {
		t.Errorf("failed migration left %d tables behind (%v)", n, err)
	}
}

func TestSQLiteFileMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub", "dir")
	path := filepath.Join(dir, "parley.db")
	s, err := Open(t.Context(), "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddAccount(t.Context(), Account{Domain: "d", User: "u"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("%s mode %v: readable by others", filepath.Base(p), m)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v", fi.Mode().Perm())
	}
	var mode string
	st := s.(*sqlStore)
	if err := st.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
	var syncMode, busy int
	st.w.QueryRow(`PRAGMA synchronous`).Scan(&syncMode)
	st.w.QueryRow(`PRAGMA busy_timeout`).Scan(&busy)
	if syncMode != 2 || busy != 10000 {
		t.Errorf("synchronous = %d (want 2 = FULL), busy_timeout = %d", syncMode, busy)
	}
	// The read pool cannot write.
	if _, err := st.r.Exec(`DELETE FROM account`); err == nil {
		t.Errorf("read pool accepted a write")
	}
}

func TestDefaultDataDir(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/xdg/data")
	if d, err := DefaultDataDir(); err != nil || d != "/xdg/data/parley" {
		t.Errorf("with XDG_DATA_HOME: %q, %v", d, err)
	}
	t.Setenv("XDG_DATA_HOME", "relative/ignored") // the XDG spec says to ignore relative paths
	t.Setenv("HOME", "/home/alice")
	if d, err := DefaultDataDir(); err != nil || d != "/home/alice/.local/share/parley" {
		t.Errorf("without XDG_DATA_HOME: %q, %v", d, err)
	}
	if dsn, err := DefaultDSN(); err != nil || dsn != "file:/home/alice/.local/share/parley/parley.db" {
		t.Errorf("DefaultDSN = %q, %v", dsn, err)
	}
}
