package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Options tune Open. The zero value is the default.
type Options struct {
	// Now is the clock used for Lookup, SessionNode and timestamps;
	// time.Now if nil. Tests use it to move time without sleeping.
	Now func() time.Time
	// MaxConns bounds the connections to PostgreSQL (default 10) or the
	// read connections to SQLite (default 4; writes always use one).
	MaxConns int
	// BusyTimeout is SQLite's busy_timeout (default 10 s), for another
	// process holding the write lock.
	BusyTimeout time.Duration
}

// Open opens (creating if needed) the store named by dsn and applies the
// missing migrations:
//
//   - "postgres://…" or "postgresql://…": PostgreSQL through pgx; any pgx
//     connection parameter may be given (search_path=… selects a schema);
//   - "file:/path/parley.db", "sqlite:/path/parley.db" or a plain path:
//     SQLite through the pure-Go modernc driver, in WAL mode with
//     synchronous=FULL, so a committed Enqueue survives power loss.
//
// Any other scheme is an error.
func Open(ctx context.Context, dsn string) (Store, error) {
	return OpenOptions(ctx, dsn, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, dsn string, o Options) (Store, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn, o)
	case strings.HasPrefix(dsn, "file:"):
		return openSQLite(ctx, strings.TrimPrefix(dsn, "file:"), o)
	case strings.HasPrefix(dsn, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"), o)
	case dsn == "":
		return nil, fmt.Errorf("%w: empty DSN", ErrInvalid)
	case strings.Contains(dsn, "://"):
		return nil, fmt.Errorf("%w: unsupported store %q (want postgres://… or a SQLite path)", ErrInvalid, redact(dsn))
	}
	return openSQLite(ctx, dsn, o)
}

// redact hides a password in a URL DSN for error messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "<unparsable DSN>"
	}
	return u.Redacted()
}

// DefaultDataDir is where `parley serve` keeps parley.db when no -db is
// given: $XDG_DATA_HOME/parley, or ~/.local/share/parley (XDG Base Directory
// Specification). It does not create the directory; Open does.
func DefaultDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "parley"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("store: no data directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "parley"), nil
}

// DefaultDSN is the SQLite file in DefaultDataDir.
func DefaultDSN() (string, error) {
	d, err := DefaultDataDir()
	if err != nil {
		return "", err
	}
	return "file:" + filepath.Join(d, "parley.db"), nil
}

// ---- SQLite ----

func openSQLite(ctx context.Context, spec string, o Options) (Store, error) {
	path, query, _ := strings.Cut(spec, "?")
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("%w: SQLite needs a file path (in-memory databases are not durable)", ErrInvalid)
	}
	if query != "" {
		// Our pragmas are the contract (WAL, FULL sync): refuse overrides
		// rather than silently mixing them.
		return nil, fmt.Errorf("%w: SQLite DSN parameters are not supported: %q", ErrInvalid, query)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// The database holds HA1 values (password equivalents for their realm):
	// create it private. SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	f.Close()
	busy := o.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	pragmas := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)",
		busy.Milliseconds())
	name := "file:" + (&url.URL{Path: path}).EscapedPath()
	// One writer connection: SQLite allows one writer even in WAL mode, and
	// BEGIN IMMEDIATE takes the write lock at BEGIN, so busy_timeout applies
	// (a deferred transaction upgrading to a writer would fail with BUSY).
	w, err := sql.Open("sqlite", name+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	if err := migrateSQLite(ctx, w, busy); err != nil {
		w.Close()
		return nil, err
	}
	var mode string
	if err := w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("store: sqlite: WAL mode not enabled (journal_mode=%q): %v", mode, err)
	}
	r, err := sql.Open("sqlite", name+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	n := o.MaxConns
	if n <= 0 {
		n = 4
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	h := newHub()
	s := &sqlStore{backend: "sqlite", w: w, r: r, rq: newStmtCache(r), wq: newStmtCache(w), hub: h, now: o.Now}
	// One SQLite file serves one node, so notifications stay in process.
	s.notify = func(ctx context.Context, channel, payload string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		h.publish(channel, payload)
		return nil
	}
	return s, nil
}

// migrateSQLite runs the migrations, retrying while the file is busy: on a
// new file, another connection switching it to WAL mode (another Store
// opening at the same moment) can make BEGIN IMMEDIATE fail with
// SQLITE_BUSY without the busy handler being consulted.
func migrateSQLite(ctx context.Context, w *sql.DB, busy time.Duration) error {
	deadline := time.Now().Add(busy)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		_, err := migrate(ctx, w, "sqlite")
		var ce interface{ Code() int }
		if err == nil || !errors.As(err, &ce) || ce.Code()&0xff != 5 || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return err
		}
	}
}

// ---- PostgreSQL ----

func openPostgres(ctx context.Context, dsn string, o Options) (Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres DSN %s: %w", ErrInvalid, redact(dsn), err)
	}
	db := stdlib.OpenDB(*cfg)
	n := o.MaxConns
	if n <= 0 {
		n = 10
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	// Recycle connections now and then; a connection killed by a server
	// restart is detected by the ping stdlib does before reusing a
	// connection idle for more than a second, and by database/sql's retry
	// on driver.ErrBadConn.
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", redact(dsn), err)
	}
	if _, err := migrate(ctx, db, "postgres"); err != nil {
		db.Close()
		return nil, err
	}
	h := newHub()
	l := newPGListener(cfg, h)
	h.first = l.listen
	h.last = l.unlisten
	sc := newStmtCache(db)
	s := &sqlStore{backend: "postgres", w: db, r: db, rq: sc, wq: sc, hub: h, now: o.Now, onClose: l.close}
	s.notify = func(ctx context.Context, channel, payload string) error {
		_, err := s.exec(ctx, "notify", `SELECT pg_notify($1, $2)`, channel, payload)
		return err
	}
	return s, nil
}
