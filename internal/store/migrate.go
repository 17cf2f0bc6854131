package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations live in migrations/ as NNNN_name.sql (shared by both backends)
// or NNNN_name.<backend>.sql (a per-backend variant, used where the SQL
// differs: identity columns and binary types). Each version exists either
// once shared or once per backend. They are applied in order, forward only,
// inside one transaction, and recorded in parley_schema.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the ordered migration list for a backend.
func migrations(backend string) ([]migration, error) {
	return loadMigrations(migrationFS, "migrations", backend)
}

func loadMigrations(fsys fs.FS, dir, backend string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	shared := map[int]migration{}
	variant := map[int]migration{}
	seenVariant := map[int]bool{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		base := strings.TrimSuffix(name, ".sql")
		num, rest, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: bad migration file name %q", name)
		}
		text, err := fs.ReadFile(fsys, dir+"/"+name)
		if err != nil {
			return nil, err
		}
		m := migration{version: v, name: rest, sql: string(text)}
		if stem, be, isVariant := strings.Cut(rest, "."); isVariant {
			seenVariant[v] = true
			if be != "sqlite" && be != "postgres" {
				return nil, fmt.Errorf("store: migration %q names unknown backend %q", name, be)
			}
			if be == backend {
				m.name = stem
				variant[v] = m
			}
			continue
		}
		if _, dup := shared[v]; dup {
			return nil, fmt.Errorf("store: two migrations numbered %d", v)
		}
		shared[v] = m
	}
	var out []migration
	for v, m := range shared {
		if seenVariant[v] {
			return nil, fmt.Errorf("store: migration %d is both shared and per-backend", v)
		}
		out = append(out, m)
	}
	for _, m := range variant {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migration %d missing for %s (found %d)", i+1, backend, m.version)
		}
	}
	for v := range seenVariant {
		if _, ok := variant[v]; !ok {
			return nil, fmt.Errorf("store: migration %d has no %s variant", v, backend)
		}
	}
	return out, nil
}

// migrate applies the missing migrations in one transaction. For PostgreSQL
// a transaction-scoped advisory lock serialises nodes starting together;
// for SQLite the write transaction (BEGIN IMMEDIATE) does.
func migrate(ctx context.Context, db *sql.DB, backend string) (int, error) {
	list, err := migrations(backend)
	if err != nil {
		return 0, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback()
	if backend == "postgres" {
		// 0x7061726c = "parl"
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(1885434476)`); err != nil {
			return 0, fmt.Errorf("store: migrate lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS parley_schema (
		version INTEGER NOT NULL PRIMARY KEY,
		name    TEXT    NOT NULL,
		applied BIGINT  NOT NULL)`); err != nil {
		return 0, fmt.Errorf("store: migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM parley_schema`).Scan(&cur); err != nil {
		return 0, fmt.Errorf("store: migrate: %w", err)
	}
	if cur > len(list) {
		return cur, fmt.Errorf("%w: database at version %d, this program knows %d", ErrSchemaTooNew, cur, len(list))
	}
	for _, m := range list[cur:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return cur, fmt.Errorf("store: migration %04d_%s: %w", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO parley_schema (version, name, applied) VALUES ($1, $2, $3)`,
			m.version, m.name, time.Now().UnixMicro()); err != nil {
			return cur, fmt.Errorf("store: migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return cur, fmt.Errorf("store: migrate commit: %w", err)
	}
	return len(list), nil
}
