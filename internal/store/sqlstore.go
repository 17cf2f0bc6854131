package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// sqlStore implements Store over database/sql for both backends. The SQL is
// one dialect: $n placeholders, INSERT … ON CONFLICT, RETURNING and partial
// indexes, which SQLite (3.35+) and PostgreSQL both accept.
type sqlStore struct {
	backend string
	w       *sql.DB    // writes (SQLite: one connection)
	r       *sql.DB    // reads (SQLite: a read-only pool; PostgreSQL: == w)
	rq, wq  *stmtCache // prepared statements on r and w
	hub     *hub
	notify  func(ctx context.Context, channel, payload string) error
	onClose func() error
	now     func() time.Time

	closeOnce sync.Once
	closeErr  error
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v) }

func (s *sqlStore) Backend() string { return s.backend }

func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

func (s *sqlStore) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.read(ctx, func() error {
		return s.rq.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM parley_schema`).Scan(&v)
	}); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

func (s *sqlStore) Close() error {
	s.closeOnce.Do(func() {
		s.hub.close()
		s.rq.close()
		s.wq.close()
		var errs []error
		if s.onClose != nil {
			errs = append(errs, s.onClose())
		}
		if s.r != s.w {
			errs = append(errs, s.r.Close())
		}
		errs = append(errs, s.w.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "sql: database is closed") {
		return fmt.Errorf("store: %s: %w: %w", op, ErrClosed, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// Retrying after a lost PostgreSQL connection (server restart, failover).
// database/sql replaces a connection that is known to be dead, but the
// first statement on a connection whose server went away fails with the
// server's FATAL (57P01 admin shutdown) or a network error. Reads are
// retried on any connection error. Writes are retried only when the error
// proves the statement was not executed (pgconn.SafeToRetry, 57P0x), or
// when a transaction failed before its COMMIT was sent; a failure during
// COMMIT is returned, since it may or may not have committed (the caller's
// client retransmits and the idempotency keys absorb it).
var retryDelays = []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, time.Second}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func notExecuted(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err) {
		return true
	}
	switch pgCode(err) {
	case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return true
	}
	return false
}

func connLost(err error) bool {
	if notExecuted(err) {
		return true
	}
	if code := pgCode(err); code != "" {
		return strings.HasPrefix(code, "08") // connection_exception
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "conn closed")
}

// retry runs f until it succeeds, fails for a reason that retry does not
// cover (again reports which), or the attempts run out.
func (s *sqlStore) retry(ctx context.Context, f func() error, again func(error) bool) error {
	var err error
	for _, d := range retryDelays {
		if d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return err
			}
		}
		err = f()
		if err == nil || s.backend != "postgres" || ctx.Err() != nil || errors.Is(err, sql.ErrNoRows) || !again(err) {
			return err
		}
	}
	return err
}

// read runs a read-only f with retries on connection loss.
func (s *sqlStore) read(ctx context.Context, f func() error) error {
	return s.retry(ctx, f, connLost)
}

// inTx runs f in a write transaction, retried while the failure is before
// COMMIT and due to a lost connection.
func (s *sqlStore) inTx(ctx context.Context, op string, f func(tx *sql.Tx) error) error {
	committing := false
	return s.retry(ctx, func() error {
		committing = false
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return wrap(op, err)
		}
		if err := f(tx); err != nil {
			tx.Rollback()
			return err
		}
		committing = true
		return wrap(op, tx.Commit())
	}, func(err error) bool { return !committing && connLost(err) })
}

// ---- input checks ----

// Limits on what one call stores. Text fields must be valid UTF-8 without
// NUL in both backends (PostgreSQL TEXT rejects anything else; SQLite would
// store it, so the check keeps the backends alike).
const (
	// MaxText is the longest identifier or header value (AOR, Contact,
	// Call-ID, content type…), in bytes.
	MaxText = 8 << 10
	// MaxBody is the largest message or history body, in bytes.
	MaxBody = 16 << 20
)

func checkText(vals ...string) error {
	for _, v := range vals {
		if len(v) > MaxText {
			return fmt.Errorf("%w: text field of %d bytes (max %d)", ErrInvalid, len(v), MaxText)
		}
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("%w: text field %q is not UTF-8 without NUL", ErrInvalid, v)
		}
	}
	return nil
}

func checkBody(b []byte) error {
	if len(b) > MaxBody {
		return fmt.Errorf("%w: body of %d bytes (max %d)", ErrInvalid, len(b), MaxBody)
	}
	return nil
}

// cleanText makes a free-text reason storable: invalid UTF-8 and NUL
// become U+FFFD, and it is cut to MaxText bytes.
func cleanText(v string) string {
	v = strings.ToValidUTF8(strings.ReplaceAll(v, "\x00", "\uFFFD"), "\uFFFD")
	if len(v) > MaxText {
		v = strings.ToValidUTF8(v[:MaxText], "")
	}
	return v
}

// ---- accounts ----

func normDomain(d string) string { return strings.ToLower(strings.TrimSpace(d)) }

func checkAccount(domain, user string) error {
	if domain == "" || user == "" {
		return fmt.Errorf("%w: domain and user are required", ErrInvalid)
	}
	return nil
}

func insertCreds(ctx context.Context, tx *sql.Tx, domain, user string, creds []Credential) error {
	for _, c := range creds {
		alg, err := c.Algorithm.Canonical()
		if err != nil {
			return err
		}
		if err := checkText(c.Realm, c.HA1); err != nil {
			return err
		}
		if want := alg.newHash().Size() * 2; len(c.HA1) != want || strings.Trim(strings.ToLower(c.HA1), "0123456789abcdef") != "" {
			return fmt.Errorf("%w: %s HA1 must be %d hex digits", ErrInvalid, alg, want)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO credential (domain, username, realm, algorithm, ha1)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (domain, username, realm, algorithm) DO UPDATE SET ha1 = excluded.ha1`,
			domain, user, c.Realm, string(alg), strings.ToLower(c.HA1)); err != nil {
			return wrap("credential", err)
		}
	}
	return nil
}

func (s *sqlStore) AddAccount(ctx context.Context, a Account) error {
	if err := checkText(a.Domain, a.User, a.DisplayName); err != nil {
		return err
	}
	domain := normDomain(a.Domain)
	if err := checkAccount(domain, a.User); err != nil {
		return err
	}
	now := micros(s.now())
	return s.inTx(ctx, "add account", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO account (domain, username, display_name, created, updated)
			VALUES ($1, $2, $3, $4, $4) ON CONFLICT (domain, username) DO NOTHING`,
			domain, a.User, a.DisplayName, now)
		if err != nil {
			return wrap("add account", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: account %s@%s", ErrExists, a.User, domain)
		}
		return insertCreds(ctx, tx, domain, a.User, a.Credentials)
	})
}

func (s *sqlStore) SetCredentials(ctx context.Context, domain, user string, creds []Credential) error {
	if err := checkText(domain, user); err != nil {
		return err
	}
	domain = normDomain(domain)
	if err := checkAccount(domain, user); err != nil {
		return err
	}
	return s.inTx(ctx, "set credentials", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE account SET updated = $3 WHERE domain = $1 AND username = $2`,
			domain, user, micros(s.now()))
		if err != nil {
			return wrap("set credentials", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: account %s@%s", ErrNotFound, user, domain)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM credential WHERE domain = $1 AND username = $2`, domain, user); err != nil {
			return wrap("set credentials", err)
		}
		return insertCreds(ctx, tx, domain, user, creds)
	})
}

func (s *sqlStore) DeleteAccount(ctx context.Context, domain, user string) error {
	if err := checkText(domain, user); err != nil {
		return err
	}
	domain = normDomain(domain)
	return s.inTx(ctx, "delete account", func(tx *sql.Tx) error {
		// Explicit, so that it does not depend on foreign_keys being on.
		if _, err := tx.ExecContext(ctx, `DELETE FROM credential WHERE domain = $1 AND username = $2`, domain, user); err != nil {
			return wrap("delete account", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM account WHERE domain = $1 AND username = $2`, domain, user)
		if err != nil {
			return wrap("delete account", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: account %s@%s", ErrNotFound, user, domain)
		}
		return nil
	})
}

func (s *sqlStore) accounts(ctx context.Context, where string, args ...any) ([]Account, error) {
	var out []Account
	err := s.read(ctx, func() error {
		var err error
		out, err = s.accounts1(ctx, where, args...)
		return err
	})
	return out, err
}

func (s *sqlStore) accounts1(ctx context.Context, where string, args ...any) ([]Account, error) {
	rows, err := s.rq.query(ctx, `SELECT domain, username, display_name, created, updated
		FROM account `+where+` ORDER BY domain, username`, args...)
	if err != nil {
		return nil, wrap("accounts", err)
	}
	var out []Account
	idx := map[[2]string]int{}
	for rows.Next() {
		var a Account
		var c, u int64
		if err := rows.Scan(&a.Domain, &a.User, &a.DisplayName, &c, &u); err != nil {
			rows.Close()
			return nil, wrap("accounts", err)
		}
		a.Created, a.Updated = fromMicros(c), fromMicros(u)
		idx[[2]string{a.Domain, a.User}] = len(out)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("accounts", err)
	}
	rows.Close()
	if len(out) == 0 {
		return out, nil
	}
	rows, err = s.rq.query(ctx, `SELECT domain, username, realm, algorithm, ha1
		FROM credential `+where+` ORDER BY domain, username, realm, algorithm`, args...)
	if err != nil {
		return nil, wrap("accounts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d, u string
		var c Credential
		var alg string
		if err := rows.Scan(&d, &u, &c.Realm, &alg, &c.HA1); err != nil {
			return nil, wrap("accounts", err)
		}
		c.Algorithm = Algorithm(alg)
		if i, ok := idx[[2]string{d, u}]; ok {
			out[i].Credentials = append(out[i].Credentials, c)
		}
	}
	// ORDER BY follows the database collation (PostgreSQL: the locale's);
	// sort bytewise so that both backends list alike.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Domain != out[j].Domain {
			return out[i].Domain < out[j].Domain
		}
		return out[i].User < out[j].User
	})
	return out, wrap("accounts", rows.Err())
}

func (s *sqlStore) Account(ctx context.Context, domain, user string) (Account, error) {
	if err := checkText(domain, user); err != nil {
		return Account{}, err
	}
	domain = normDomain(domain)
	list, err := s.accounts(ctx, `WHERE domain = $1 AND username = $2`, domain, user)
	if err != nil {
		return Account{}, err
	}
	if len(list) == 0 {
		return Account{}, fmt.Errorf("%w: account %s@%s", ErrNotFound, user, domain)
	}
	return list[0], nil
}

func (s *sqlStore) Accounts(ctx context.Context, domain string) ([]Account, error) {
	if err := checkText(domain); err != nil {
		return nil, err
	}
	if domain == "" {
		return s.accounts(ctx, "")
	}
	return s.accounts(ctx, `WHERE domain = $1`, normDomain(domain))
}

func (s *sqlStore) Credential(ctx context.Context, domain, user, realm string, alg Algorithm) (Credential, error) {
	if err := checkText(domain, user, realm); err != nil {
		return Credential{}, err
	}
	base, err := alg.Canonical()
	if err != nil {
		return Credential{}, err
	}
	domain = normDomain(domain)
	c := Credential{Realm: realm, Algorithm: base}
	err = s.read(ctx, func() error {
		return s.rq.queryRow(ctx, `SELECT ha1 FROM credential
		WHERE domain = $1 AND username = $2 AND realm = $3 AND algorithm = $4`,
			domain, user, realm, string(base)).Scan(&c.HA1)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Credential{}, fmt.Errorf("%w: no %s credential for %s@%s in realm %q", ErrNotFound, base, user, domain, realm)
	}
	return c, wrap("credential", err)
}

// ---- location ----

func bindingKey(b Binding) string {
	if b.Instance != "" {
		return "i:" + b.Instance + ";" + strconv.Itoa(b.RegID)
	}
	return "c:" + b.Contact
}

func (s *sqlStore) Bind(ctx context.Context, b Binding) error {
	if err := checkText(b.AOR, b.Contact, b.Instance, b.CallID, b.Node, b.Received, b.UserAgent, strings.Join(b.Path, "")); err != nil {
		return err
	}
	if b.AOR == "" || b.Contact == "" {
		return fmt.Errorf("%w: binding needs AOR and Contact", ErrInvalid)
	}
	if b.Q < 0 || b.Q > 1000 {
		return fmt.Errorf("%w: q %d out of 0..1000", ErrInvalid, b.Q)
	}
	for _, p := range b.Path {
		if strings.ContainsAny(p, "\r\n") {
			return fmt.Errorf("%w: Path element contains a line break", ErrInvalid)
		}
	}
	now := micros(s.now())
	// RFC 3261 §10.3 step 7: same Call-ID and CSeq not higher → do not
	// update. An expired (not yet purged) binding is always replaced.
	n, err := s.exec(ctx, "bind", `INSERT INTO binding
		(aor, bkey, contact, instance, reg_id, call_id, cseq, q, expires, node, received, path, user_agent, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (aor, bkey) DO UPDATE SET
			contact = excluded.contact, instance = excluded.instance, reg_id = excluded.reg_id,
			call_id = excluded.call_id, cseq = excluded.cseq, q = excluded.q, expires = excluded.expires,
			node = excluded.node, received = excluded.received, path = excluded.path,
			user_agent = excluded.user_agent, updated = excluded.updated
		WHERE binding.call_id <> excluded.call_id OR binding.cseq < excluded.cseq OR binding.expires <= $14`,
		b.AOR, bindingKey(b), b.Contact, b.Instance, b.RegID, b.CallID, int64(b.CSeq), b.Q,
		micros(b.Expires), b.Node, b.Received, strings.Join(b.Path, "\n"), b.UserAgent, now)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: %s %s CSeq %d", ErrStaleCSeq, b.AOR, b.CallID, b.CSeq)
	}
	return nil
}

func (s *sqlStore) Lookup(ctx context.Context, aor string) ([]Binding, error) {
	if err := checkText(aor); err != nil {
		return nil, err
	}
	var out []Binding
	err := s.read(ctx, func() error {
		var err error
		out, err = s.lookup(ctx, aor)
		return err
	})
	return out, err
}

func (s *sqlStore) lookup(ctx context.Context, aor string) ([]Binding, error) {
	rows, err := s.rq.query(ctx, `SELECT aor, contact, instance, reg_id, call_id, cseq, q, expires,
		node, received, path, user_agent, updated
		FROM binding WHERE aor = $1 AND expires > $2 ORDER BY q DESC, updated DESC, bkey`,
		aor, micros(s.now()))
	if err != nil {
		return nil, wrap("lookup", err)
	}
	defer rows.Close()
	var out []Binding
	for rows.Next() {
		var b Binding
		var cseq, exp, upd int64
		var path string
		if err := rows.Scan(&b.AOR, &b.Contact, &b.Instance, &b.RegID, &b.CallID, &cseq, &b.Q, &exp,
			&b.Node, &b.Received, &path, &b.UserAgent, &upd); err != nil {
			return nil, wrap("lookup", err)
		}
		b.CSeq = uint32(cseq)
		b.Expires, b.Updated = fromMicros(exp), fromMicros(upd)
		if path != "" {
			b.Path = strings.Split(path, "\n")
		}
		out = append(out, b)
	}
	return out, wrap("lookup", rows.Err())
}

func (s *sqlStore) exec(ctx context.Context, op, q string, args ...any) (int, error) {
	var n int64
	err := s.retry(ctx, func() error {
		res, err := s.wq.exec(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	}, notExecuted)
	return int(n), wrap(op, err)
}

func (s *sqlStore) Remove(ctx context.Context, aor, contact string) (bool, error) {
	if err := checkText(aor, contact); err != nil {
		return false, err
	}
	n, err := s.exec(ctx, "remove", `DELETE FROM binding WHERE aor = $1 AND contact = $2`, aor, contact)
	return n > 0, err
}

func (s *sqlStore) RemoveAll(ctx context.Context, aor string) (int, error) {
	if err := checkText(aor); err != nil {
		return 0, err
	}
	return s.exec(ctx, "remove all", `DELETE FROM binding WHERE aor = $1`, aor)
}

func (s *sqlStore) RemoveNode(ctx context.Context, node string) (int, error) {
	if err := checkText(node); err != nil {
		return 0, err
	}
	return s.exec(ctx, "remove node", `DELETE FROM binding WHERE node = $1`, node)
}

func (s *sqlStore) Expire(ctx context.Context, now time.Time) (int, error) {
	return s.exec(ctx, "expire", `DELETE FROM binding WHERE expires <= $1`, micros(now))
}

// ---- messages ----

func nullString(v string) any {
	if v == "" {
		return nil
	}
	return v
}

func (s *sqlStore) Enqueue(ctx context.Context, m Message) (int64, bool, error) {
	if err := checkText(m.Rcpt, m.Sender, m.ClientID, m.ContentType); err != nil {
		return 0, false, err
	}
	if m.Rcpt == "" || m.Sender == "" {
		return 0, false, fmt.Errorf("%w: message needs Rcpt and Sender", ErrInvalid)
	}
	if err := checkBody(m.Body); err != nil {
		return 0, false, err
	}
	body := m.Body
	if body == nil {
		body = []byte{}
	}
	var dt any
	if !m.DateTime.IsZero() {
		dt = micros(m.DateTime)
	}
	now := micros(s.now())
	// Prepared outside the transaction: with SQLite's single writer
	// connection, preparing on the pool inside the transaction would wait
	// for the connection the transaction holds.
	ins, err := s.wq.get(ctx, `INSERT INTO message
		(rcpt, sender, client_id, content_type, body, datetime, received, state, attempts, last_error, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, '', $7)
		ON CONFLICT (rcpt, sender, client_id) DO NOTHING RETURNING id`)
	if err != nil {
		return 0, false, wrap("enqueue", err)
	}
	var id int64
	created := true
	err = s.inTx(ctx, "enqueue", func(tx *sql.Tx) error {
		created = true
		err := tx.StmtContext(ctx, ins).QueryRowContext(ctx,
			m.Rcpt, m.Sender, nullString(m.ClientID), m.ContentType, body, dt, now).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) && m.ClientID != "" {
			created = false
			err = tx.QueryRowContext(ctx, `SELECT id FROM message WHERE rcpt = $1 AND sender = $2 AND client_id = $3`,
				m.Rcpt, m.Sender, m.ClientID).Scan(&id)
		}
		return wrap("enqueue", err)
	})
	if err != nil {
		return 0, false, err
	}
	return id, created, nil
}

const messageCols = `id, rcpt, sender, client_id, content_type, body, datetime, received, state, attempts, last_error, updated,
	claimed_by, claimed_until`

type scanner interface{ Scan(dest ...any) error }

func scanMessage(r scanner) (StoredMessage, error) {
	var m StoredMessage
	var cid sql.NullString
	var dt sql.NullInt64
	var rcv, upd, until int64
	var state int
	if err := r.Scan(&m.ID, &m.Rcpt, &m.Sender, &cid, &m.ContentType, &m.Body, &dt, &rcv, &state,
		&m.Attempts, &m.LastError, &upd, &m.ClaimedBy, &until); err != nil {
		return m, err
	}
	if until != 0 {
		m.ClaimedUntil = fromMicros(until)
	}
	m.ClientID = cid.String
	if dt.Valid {
		m.DateTime = fromMicros(dt.Int64)
	}
	m.Received, m.Updated = fromMicros(rcv), fromMicros(upd)
	m.State = DeliveryState(state)
	return m, nil
}

func clampLimit(limit, def, max int) int {
	if limit <= 0 {
		return def
	}
	return min(limit, max)
}

func (s *sqlStore) Pending(ctx context.Context, rcpt string, limit int) ([]StoredMessage, error) {
	if err := checkText(rcpt); err != nil {
		return nil, err
	}
	var out []StoredMessage
	err := s.read(ctx, func() error {
		var err error
		out, err = s.pending(ctx, rcpt, limit)
		return err
	})
	return out, err
}

func (s *sqlStore) pending(ctx context.Context, rcpt string, limit int) ([]StoredMessage, error) {
	rows, err := s.rq.query(ctx, `SELECT `+messageCols+` FROM message
		WHERE rcpt = $1 AND state = 0 ORDER BY id LIMIT $2`, rcpt, clampLimit(limit, 1000, 10000))
	if err != nil {
		return nil, wrap("pending", err)
	}
	defer rows.Close()
	var out []StoredMessage
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, wrap("pending", err)
		}
		out = append(out, m)
	}
	return out, wrap("pending", rows.Err())
}

func (s *sqlStore) PendingRecipients(ctx context.Context, limit int) ([]string, error) {
	var out []string
	err := s.read(ctx, func() error {
		var err error
		out, err = s.pendingRecipients(ctx, limit)
		return err
	})
	return out, err
}

func (s *sqlStore) pendingRecipients(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.rq.query(ctx, `SELECT DISTINCT rcpt FROM message WHERE state = 0 ORDER BY rcpt LIMIT $1`,
		clampLimit(limit, 1000, 100000))
	if err != nil {
		return nil, wrap("pending recipients", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, wrap("pending recipients", err)
		}
		out = append(out, r)
	}
	sort.Strings(out) // bytewise, whatever the collation
	return out, wrap("pending recipients", rows.Err())
}

func (s *sqlStore) Message(ctx context.Context, id int64) (StoredMessage, error) {
	var m StoredMessage
	err := s.read(ctx, func() error {
		var err error
		m, err = scanMessage(s.rq.queryRow(ctx, `SELECT `+messageCols+` FROM message WHERE id = $1`, id))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("%w: message %d", ErrNotFound, id)
	}
	return m, wrap("message", err)
}

// update runs a state change; zero rows means either "unknown id" or "no
// change needed", told apart by a second look.
func (s *sqlStore) update(ctx context.Context, op string, id int64, q string, args ...any) error {
	n, err := s.exec(ctx, op, q, args...)
	if err != nil || n > 0 {
		return err
	}
	var one int
	err = s.read(ctx, func() error {
		return s.wq.queryRow(ctx, `SELECT 1 FROM message WHERE id = $1`, id).Scan(&one)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: message %d", ErrNotFound, id)
	}
	return wrap(op, err)
}

// Claim is one conditional UPDATE … RETURNING: of two nodes claiming at
// once, the database lets exactly one match the WHERE (SQLite: a single
// writer; PostgreSQL: the second UPDATE waits for the first's row lock and
// re-evaluates the WHERE on the updated row, READ COMMITTED).
func (s *sqlStore) Claim(ctx context.Context, id int64, node string, lease time.Duration) (StoredMessage, error) {
	if err := checkText(node); err != nil {
		return StoredMessage{}, err
	}
	if node == "" || lease <= 0 {
		return StoredMessage{}, fmt.Errorf("%w: Claim needs a node and a positive lease", ErrInvalid)
	}
	now := s.now()
	var m StoredMessage
	err := s.retry(ctx, func() error {
		var err error
		m, err = scanMessage(s.wq.queryRow(ctx, `UPDATE message SET claimed_by = $2, claimed_until = $3
			WHERE id = $1 AND state = 0 AND (claimed_until <= $4 OR claimed_by = $2)
			RETURNING `+messageCols, id, node, micros(now.Add(lease)), micros(now)))
		return err
	}, notExecuted)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return StoredMessage{}, wrap("claim", err)
	}
	cur, err := s.Message(ctx, id)
	if err != nil {
		return StoredMessage{}, err
	}
	if cur.State != Pending {
		return StoredMessage{}, fmt.Errorf("%w: message %d is %s", ErrNotFound, id, cur.State)
	}
	return StoredMessage{}, fmt.Errorf("%w: message %d by %s until %s", ErrClaimed, id, cur.ClaimedBy, cur.ClaimedUntil.UTC().Format(time.RFC3339))
}

func (s *sqlStore) MarkDelivered(ctx context.Context, id int64) error {
	return s.update(ctx, "mark delivered", id,
		`UPDATE message SET state = 1, updated = $2, claimed_until = 0 WHERE id = $1 AND state <> 1`, id, micros(s.now()))
}

func (s *sqlStore) MarkFailed(ctx context.Context, id int64, reason string) error {
	// A delivered message stays delivered.
	return s.update(ctx, "mark failed", id,
		`UPDATE message SET state = 2, last_error = $2, updated = $3, claimed_until = 0 WHERE id = $1 AND state = 0`,
		id, cleanText(reason), micros(s.now()))
}

func (s *sqlStore) RecordAttempt(ctx context.Context, id int64, reason string) error {
	return s.update(ctx, "record attempt", id,
		`UPDATE message SET attempts = attempts + 1, last_error = $2, updated = $3, claimed_until = 0 WHERE id = $1`,
		id, cleanText(reason), micros(s.now()))
}

func (s *sqlStore) PurgeMessages(ctx context.Context, before time.Time) (int, error) {
	return s.exec(ctx, "purge messages", `DELETE FROM message WHERE state <> 0 AND updated < $1`, micros(before))
}

// ---- history ----

func (s *sqlStore) AppendHistory(ctx context.Context, e HistoryEntry) (int64, error) {
	if err := checkText(e.Owner, e.Peer, e.MessageID, e.ContentType); err != nil {
		return 0, err
	}
	if e.Owner == "" || e.Peer == "" {
		return 0, fmt.Errorf("%w: history entry needs Owner and Peer", ErrInvalid)
	}
	t := e.Time
	if t.IsZero() {
		t = s.now()
	}
	if err := checkBody(e.Body); err != nil {
		return 0, err
	}
	body := e.Body
	if body == nil {
		body = []byte{}
	}
	var id int64
	err := s.inTx(ctx, "append history", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO history
			(owner, peer, direction, mode, message_id, content_type, body, t)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (owner, direction, message_id) DO NOTHING RETURNING id`,
			e.Owner, e.Peer, int(e.Direction), int(e.Mode), nullString(e.MessageID), e.ContentType, body,
			micros(t)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) && e.MessageID != "" {
			err = tx.QueryRowContext(ctx, `SELECT id FROM history WHERE owner = $1 AND direction = $2 AND message_id = $3`,
				e.Owner, int(e.Direction), e.MessageID).Scan(&id)
		}
		return wrap("append history", err)
	})
	return id, err
}

func (s *sqlStore) History(ctx context.Context, owner, peer string, before Cursor, limit int) ([]HistoryEntry, error) {
	if err := checkText(owner, peer); err != nil {
		return nil, err
	}
	var out []HistoryEntry
	err := s.read(ctx, func() error {
		var err error
		out, err = s.history(ctx, owner, peer, before, limit)
		return err
	})
	return out, err
}

func (s *sqlStore) history(ctx context.Context, owner, peer string, before Cursor, limit int) ([]HistoryEntry, error) {
	bt, bid := int64(math.MaxInt64), int64(math.MaxInt64)
	if !before.Time.IsZero() || before.ID != 0 {
		bt, bid = micros(before.Time), before.ID
	}
	limit = clampLimit(limit, 100, 1000)
	const cols = `SELECT id, owner, peer, direction, mode, message_id, content_type, body, t FROM history `
	var rows *sql.Rows
	var err error
	if peer == "" {
		rows, err = s.rq.query(ctx, cols+`WHERE owner = $1 AND (t < $2 OR (t = $2 AND id < $3))
			ORDER BY t DESC, id DESC LIMIT $4`, owner, bt, bid, limit)
	} else {
		rows, err = s.rq.query(ctx, cols+`WHERE owner = $1 AND peer = $2 AND (t < $3 OR (t = $3 AND id < $4))
			ORDER BY t DESC, id DESC LIMIT $5`, owner, peer, bt, bid, limit)
	}
	if err != nil {
		return nil, wrap("history", err)
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		var e HistoryEntry
		var dir, mode int
		var mid sql.NullString
		var t int64
		if err := rows.Scan(&e.ID, &e.Owner, &e.Peer, &dir, &mode, &mid, &e.ContentType, &e.Body, &t); err != nil {
			return nil, wrap("history", err)
		}
		e.Direction, e.Mode, e.MessageID, e.Time = Direction(dir), Mode(mode), mid.String, fromMicros(t)
		out = append(out, e)
	}
	return out, wrap("history", rows.Err())
}

func (s *sqlStore) DeleteHistory(ctx context.Context, owner, peer string) (int, error) {
	if err := checkText(owner, peer); err != nil {
		return 0, err
	}
	if peer == "" {
		return s.exec(ctx, "delete history", `DELETE FROM history WHERE owner = $1`, owner)
	}
	return s.exec(ctx, "delete history", `DELETE FROM history WHERE owner = $1 AND peer = $2`, owner, peer)
}

// ---- relay sessions ----

func (s *sqlStore) PutSession(ctx context.Context, key, node string, expires time.Time) error {
	if err := checkText(key, node); err != nil {
		return err
	}
	if key == "" || node == "" {
		return fmt.Errorf("%w: session needs key and node", ErrInvalid)
	}
	_, err := s.exec(ctx, "put session", `INSERT INTO relay_session (skey, node, expires) VALUES ($1, $2, $3)
		ON CONFLICT (skey) DO UPDATE SET node = excluded.node, expires = excluded.expires`, key, node, micros(expires))
	return err
}

func (s *sqlStore) SessionNode(ctx context.Context, key string) (string, error) {
	if err := checkText(key); err != nil {
		return "", err
	}
	var node string
	err := s.read(ctx, func() error {
		return s.rq.queryRow(ctx, `SELECT node FROM relay_session WHERE skey = $1 AND expires > $2`,
			key, micros(s.now())).Scan(&node)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: session %q", ErrNotFound, key)
	}
	return node, wrap("session node", err)
}

func (s *sqlStore) RemoveSession(ctx context.Context, key string) (bool, error) {
	if err := checkText(key); err != nil {
		return false, err
	}
	n, err := s.exec(ctx, "remove session", `DELETE FROM relay_session WHERE skey = $1`, key)
	return n > 0, err
}

func (s *sqlStore) ExpireSessions(ctx context.Context, now time.Time) (int, error) {
	return s.exec(ctx, "expire sessions", `DELETE FROM relay_session WHERE expires <= $1`, micros(now))
}

// ---- notifications ----

func (s *sqlStore) Notify(ctx context.Context, channel, payload string) error {
	if err := validChannel(channel); err != nil {
		return err
	}
	if err := validPayload(payload); err != nil {
		return err
	}
	return s.notify(ctx, channel, payload)
}

func (s *sqlStore) Listen(ctx context.Context, channel string) (<-chan string, error) {
	return s.hub.subscribe(ctx, channel)
}
