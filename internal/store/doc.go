// Package store is the storage layer of `parley serve`: accounts with digest
// credentials, registrar bindings, the store-and-forward queue of pager
// mode, per-user message history, the MSRP session-to-node map, and a small
// notification bus between nodes.
//
// # Backends
//
// One Store interface, two backends, one SQL dialect ($n placeholders,
// INSERT … ON CONFLICT, RETURNING, partial indexes), both driven through
// database/sql by the same code:
//
//   - SQLite (default) through the pure-Go modernc.org/sqlite driver:
//     Open(ctx, "file:/var/lib/parley/parley.db") or a plain path. WAL mode,
//     synchronous=FULL (each commit fsyncs the WAL, so a message answered
//     with 202 survives power loss), busy_timeout 10 s, foreign keys on. All
//     writes go through one connection with BEGIN IMMEDIATE (SQLite has one
//     writer even in WAL mode, and a deferred transaction that upgrades to a
//     writer fails with SQLITE_BUSY regardless of busy_timeout); reads use a
//     separate query_only pool. The file and its directory are created 0600
//     and 0700: the database holds HA1 values. One SQLite file serves one
//     node; DefaultDataDir gives $XDG_DATA_HOME/parley or
//     ~/.local/share/parley.
//   - PostgreSQL through github.com/jackc/pgx/v5 (stdlib): Open(ctx,
//     "postgres://user@host/db"). Several `parley serve` nodes share one
//     database; each Binding records the Node holding its connection, and
//     Notify/Listen (LISTEN/NOTIFY) tell a node that a message was queued
//     for a user registered on it. After a server restart the connection
//     pool and the LISTEN connection recover by themselves: dead pooled
//     connections are replaced, reads are retried, writes are retried only
//     when provably not executed (see retry in sqlstore.go), and listeners
//     get the "" resync marker because notifications sent while the
//     listener was disconnected are lost.
//
// # Migrations
//
// The schema lives in migrations/*.sql, embedded with embed.FS: NNNN_name.sql
// is shared, NNNN_name.sqlite.sql and NNNN_name.postgres.sql are per-backend
// variants where the SQL differs (identity columns, BLOB vs BYTEA). Open
// applies the missing ones in one transaction (PostgreSQL: under an advisory
// lock, so nodes starting together do not race) and records them in
// parley_schema. Forward only: a database migrated by a newer Parley is
// refused with ErrSchemaTooNew.
//
// # Protocol rules implemented here
//
//   - RFC 3261 §10.3: bindings keyed by AOR and Contact; a refresh with the
//     same Call-ID and a CSeq not higher than the stored one is refused
//     (ErrStaleCSeq, step 7); "Contact: *" is RemoveAll; expiry is absolute
//     and Lookup hides expired bindings before they are purged by Expire.
//   - RFC 5626 §6: with +sip.instance, a binding is keyed by instance and
//     reg-id, so a device that moves replaces its binding. RFC 3327 Path is
//     stored with the binding.
//   - RFC 3428 §7: Enqueue returns only after commit, so 202 Accepted is
//     never a lie; retransmitted MESSAGEs (same sender, recipient and client
//     message id) are stored once. Pending order is arrival order (a server
//     sequence that is never reused); the CPIM DateTime (RFC 3862 §5.8) is
//     kept for display but not trusted for ordering. Claim takes a pending
//     message for one node's delivery attempt with one conditional UPDATE
//     … RETURNING (pending, and unclaimed, its lease expired, or already
//     this node's), so that nodes sharing a PostgreSQL database never
//     deliver it at once; the Mark and RecordAttempt calls end the claim.
//   - RFC 7616 §3.4.2 and RFC 8760: HA1 = H(user:realm:password) stored per
//     realm and algorithm (MD5, SHA-256, SHA-512-256; "-sess" variants are
//     derived from the same HA1). Credential.Verify checks a response with
//     qop=auth or without qop. See Credential for why HA1 is stored and not
//     a slow salted hash.
//
// # Not implemented
//
//   - Digest qop=auth-int and userhash (RFC 7616 §3.4.4); the SIP layer
//     (icholy/digest) parses the headers, this package only keeps HA1s.
//   - Expiry of pending messages by age: the server decides and calls
//     MarkFailed. PurgeMessages deletes finished messages.
//   - History retention and search beyond paging by peer; opt-out is the
//     caller's (it does not call AppendHistory).
//   - Several processes on one SQLite file as a cluster: Notify is
//     in-process for SQLite. Use PostgreSQL for several nodes.
//   - Durable notifications: NOTIFY is fire-and-forget; the queue in the
//     database is the truth and listeners re-read it on "".
//
// # Tests
//
// Package storetest holds the suite every backend passes (storetest.Run).
// SQLite always runs, in a temporary directory. PostgreSQL runs when
// PARLEY_TEST_POSTGRES holds a DSN; .ci/postgres.sh starts a throwaway
// cluster on 127.0.0.1 (as the postgres user when run as root) and prints
// the export line:
//
//	eval "$(bash .ci/postgres.sh)"
//	go test ./internal/store/...
//	bash .ci/postgres.sh stop
//
// Without the variable the PostgreSQL tests are skipped with that hint,
// except when CI=true, where they fail. Each test uses its own schema
// (search_path) on the shared cluster. TestPostgresRestart starts a private
// cluster with the same script and restarts it under an open Store.
// TestSQLiteCrashSafety SIGKILLs a child process in the middle of enqueueing
// and checks that every acknowledged message survived.
package store
