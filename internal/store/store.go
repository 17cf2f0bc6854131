package store

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Store is everything `parley serve` keeps on disk. Both backends (SQLite and
// PostgreSQL) implement it with the same SQL and pass the same test suite
// (package storetest). A Store is safe for concurrent use.
type Store interface {
	AccountStore
	LocationStore
	MessageStore
	HistoryStore
	SessionStore
	Notifier

	// Backend names the engine: "sqlite" or "postgres".
	Backend() string
	// SchemaVersion reports the highest migration applied to the database.
	SchemaVersion(ctx context.Context) (int, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connections and closes every channel returned by
	// Listen. It does not wait for in-flight calls made with other contexts.
	Close() error
}

// Errors returned by every backend. Backend errors (I/O, connection lost)
// are wrapped with %w and are none of these.
var (
	// ErrNotFound: the account, binding, message or session does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: AddAccount for an account that already exists.
	ErrExists = errors.New("store: already exists")
	// ErrStaleCSeq: a REGISTER refresh for an existing binding carried the
	// same Call-ID and a CSeq not higher than the stored one (RFC 3261
	// §10.3 step 7). The registrar answers 500 with Retry-After, or ignores it.
	ErrStaleCSeq = errors.New("store: stale CSeq for this Call-ID")
	// ErrInvalid: an argument is out of range (empty AOR, oversized payload…).
	ErrInvalid = errors.New("store: invalid argument")
	// ErrSchemaTooNew: the database was migrated by a newer Parley whose
	// migrations this binary does not know; migrations are forward-only.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this program")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrClaimed: Claim for a pending message that another node holds
	// under an unexpired claim.
	ErrClaimed = errors.New("store: message claimed by another node")
)

// Account is a user of one domain. The password itself is never stored: only
// digest HA1 values (see Credential).
type Account struct {
	// Domain is the SIP domain, stored lower-cased (host names are
	// case-insensitive, RFC 3261 §19.1.4).
	Domain string
	// User is the user part of the AOR, compared exactly (the user part is
	// case-sensitive, RFC 3261 §19.1.4).
	User string
	// DisplayName is optional.
	DisplayName string
	// Credentials holds one HA1 per realm and algorithm.
	Credentials []Credential
	// Created and Updated are set by the store.
	Created, Updated time.Time
}

// AccountStore keeps users and their digest credentials.
type AccountStore interface {
	// AddAccount creates an account with its credentials; ErrExists if
	// domain+user already exists.
	AddAccount(ctx context.Context, a Account) error
	// SetCredentials replaces all credentials of an account (password change).
	SetCredentials(ctx context.Context, domain, user string, creds []Credential) error
	// DeleteAccount removes the account and its credentials; ErrNotFound if
	// it does not exist. Bindings, queued messages and history are kept: the
	// caller decides (RemoveAll, DeleteHistory).
	DeleteAccount(ctx context.Context, domain, user string) error
	// Account returns one account with its credentials.
	Account(ctx context.Context, domain, user string) (Account, error)
	// Accounts lists the accounts of a domain ("" = every domain), ordered
	// bytewise by domain then user, credentials included.
	Accounts(ctx context.Context, domain string) ([]Account, error)
	// Credential returns the HA1 for one realm and algorithm, the look-up a
	// digest challenge response needs; ErrNotFound if there is none.
	Credential(ctx context.Context, domain, user, realm string, alg Algorithm) (Credential, error)
}

// Binding is one registered contact of an address of record (RFC 3261
// §10.3). An AOR has any number of bindings, one per device.
type Binding struct {
	// AOR is the canonical address of record, e.g. "sip:alice@example.com".
	AOR string
	// Contact is the contact URI as registered.
	Contact string
	// Instance is the +sip.instance value (RFC 5626 §4.1), "" if none.
	// With an instance, a binding is identified by AOR+Instance+RegID
	// (RFC 5626 §6); without, by AOR+Contact (RFC 3261 §10.3 step 6).
	Instance string
	// RegID is the reg-id parameter (RFC 5626 §4.2), 0 if none.
	RegID int
	// CallID and CSeq of the REGISTER that created or refreshed it.
	CallID string
	CSeq   uint32
	// Q is the q-value times 1000 (0..1000); 0 means unspecified.
	Q int
	// Expires is the absolute expiry time.
	Expires time.Time
	// Node is the id of the `parley serve` node holding the connection this
	// binding arrived on, so other nodes sharing the database can route.
	Node string
	// Received is the transport source of the REGISTER, e.g.
	// "tcp:192.0.2.1:50123", for connection reuse.
	Received string
	// Path is the Path header vector (RFC 3327), in order.
	Path []string
	// UserAgent is informational.
	UserAgent string
	// Updated is set by the store.
	Updated time.Time
}

// LocationStore is the registrar's location service.
type LocationStore interface {
	// Bind creates or refreshes a binding. A refresh with the same Call-ID
	// and a CSeq not higher than the stored one fails with ErrStaleCSeq
	// and leaves the binding alone.
	Bind(ctx context.Context, b Binding) error
	// Lookup returns the unexpired bindings of an AOR, highest q first,
	// then most recently updated first.
	Lookup(ctx context.Context, aor string) ([]Binding, error)
	// Remove deletes the bindings of aor whose contact URI is contact; it
	// reports whether one existed.
	Remove(ctx context.Context, aor, contact string) (bool, error)
	// RemoveAll deletes every binding of aor (REGISTER with "Contact: *").
	RemoveAll(ctx context.Context, aor string) (int, error)
	// RemoveNode deletes every binding held by a node, for a node that
	// restarts and has lost its connections.
	RemoveNode(ctx context.Context, node string) (int, error)
	// Expire deletes the bindings that expired at or before now.
	Expire(ctx context.Context, now time.Time) (int, error)
}

// DeliveryState is the state of a stored message.
type DeliveryState int

// Delivery states.
const (
	// Pending: accepted (202) and not yet delivered.
	Pending DeliveryState = iota
	// Delivered: a 2xx came back from the recipient.
	Delivered
	// Failed: given up (permanent error or too old).
	Failed
)

func (s DeliveryState) String() string {
	switch s {
	case Pending:
		return "pending"
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	}
	return "DeliveryState(" + strconv.Itoa(int(s)) + ")"
}

// Message is a pager-mode message (RFC 3428) accepted for later delivery.
type Message struct {
	// Rcpt is the recipient AOR.
	Rcpt string
	// Sender is the sender AOR.
	Sender string
	// ClientID makes Enqueue idempotent: a retransmitted MESSAGE with the
	// same Sender, Rcpt and ClientID is stored once. Use the CPIM/IMDN
	// Message-ID, or Call-ID + CSeq for plain MESSAGE. "" disables the check.
	ClientID string
	// ContentType and Body are the MESSAGE body as received (often
	// message/cpim).
	ContentType string
	Body        []byte
	// DateTime is the CPIM DateTime header (RFC 3862 §5.8) if present,
	// else the zero time. Shown to users; not used for ordering, since the
	// sender's clock is not trusted.
	DateTime time.Time
}

// StoredMessage is a Message with the state the server keeps.
type StoredMessage struct {
	Message
	// ID is the server sequence number: increasing in arrival order, never
	// reused.
	ID int64
	// Received is when Enqueue committed it.
	Received time.Time
	// State, Attempts and LastError track delivery.
	State     DeliveryState
	Attempts  int
	LastError string
	// Updated is the time of the last state change.
	Updated time.Time
	// ClaimedBy and ClaimedUntil are the last delivery claim (Claim);
	// ClaimedUntil is zero when the message is not claimed.
	ClaimedBy    string
	ClaimedUntil time.Time
}

// MessageStore is the store-and-forward queue of pager mode: the server
// answers 202 Accepted (RFC 3428 §7) only after Enqueue returned.
type MessageStore interface {
	// Enqueue stores m durably (committed and, for SQLite, fsync'd) before
	// returning. If a message with the same Rcpt, Sender and non-empty
	// ClientID exists, nothing is stored and the existing id is returned
	// with created=false.
	Enqueue(ctx context.Context, m Message) (id int64, created bool, err error)
	// Pending returns up to limit pending messages for rcpt in arrival order
	// (ID ascending). limit <= 0 means 1000.
	Pending(ctx context.Context, rcpt string, limit int) ([]StoredMessage, error)
	// PendingRecipients lists up to limit recipients that have pending
	// messages, for a node flushing its queues at start-up.
	PendingRecipients(ctx context.Context, limit int) ([]string, error)
	// Message returns one message in any state.
	Message(ctx context.Context, id int64) (StoredMessage, error)
	// Claim takes a pending message for delivery by node until lease has
	// passed, atomically (one conditional UPDATE), so that nodes sharing
	// the database never deliver it at the same time: it succeeds when the
	// message is pending and unclaimed, its claim has expired, or node
	// already holds it, and returns the message as claimed. ErrClaimed if
	// another node holds an unexpired claim; ErrNotFound if the message is
	// unknown or no longer pending. MarkDelivered, MarkFailed and
	// RecordAttempt end the claim.
	Claim(ctx context.Context, id int64, node string, lease time.Duration) (StoredMessage, error)
	// MarkDelivered records delivery. Marking a delivered message again is a
	// no-op; ErrNotFound for an unknown id.
	MarkDelivered(ctx context.Context, id int64) error
	// MarkFailed gives up on a message with a reason.
	MarkFailed(ctx context.Context, id int64, reason string) error
	// RecordAttempt counts a failed delivery attempt that will be retried.
	RecordAttempt(ctx context.Context, id int64, reason string) error
	// PurgeMessages deletes delivered and failed messages last updated
	// before t.
	PurgeMessages(ctx context.Context, before time.Time) (int, error)
}

// Direction of a history entry, seen from its owner.
type Direction int

// Directions.
const (
	Incoming Direction = iota
	Outgoing
)

// Mode says how a message travelled.
type Mode int

// Modes.
const (
	PagerMode   Mode = iota // SIP MESSAGE, RFC 3428
	SessionMode             // MSRP or CPIM transport session
)

// HistoryEntry is one message in a user's history.
type HistoryEntry struct {
	// ID is assigned by AppendHistory.
	ID int64
	// Owner is the AOR whose history this is; Peer the other party.
	Owner, Peer string
	Direction   Direction
	Mode        Mode
	// MessageID makes AppendHistory idempotent per Owner and Direction;
	// "" disables the check.
	MessageID   string
	ContentType string
	Body        []byte
	// Time is when the message passed through the server.
	Time time.Time
}

// Cursor positions a history page. The zero Cursor means "newest".
type Cursor struct {
	Time time.Time
	ID   int64
}

// Cursor returns the cursor that continues a page after e.
func (e HistoryEntry) Cursor() Cursor { return Cursor{Time: e.Time, ID: e.ID} }

// HistoryStore keeps per-user message history. Opting out is the caller's
// business: it simply does not call AppendHistory.
type HistoryStore interface {
	// AppendHistory adds an entry and returns its id. An entry with the same
	// Owner, Direction and non-empty MessageID is stored once; the existing
	// id is returned.
	AppendHistory(ctx context.Context, e HistoryEntry) (int64, error)
	// History returns up to limit entries of owner (with peer, or with
	// anyone if peer is ""), strictly older than before (by Time, then ID),
	// newest first. limit <= 0 means 100; at most 1000.
	History(ctx context.Context, owner, peer string, before Cursor, limit int) ([]HistoryEntry, error)
	// DeleteHistory deletes owner's entries with peer ("" = all peers).
	DeleteHistory(ctx context.Context, owner, peer string) (int, error)
}

// SessionStore maps MSRP session URLs (or relay paths) to the node that holds
// the connection, so that several nodes behind one database can hand a chunk
// to the right one (RFC 4976 relays kept in a cluster).
type SessionStore interface {
	// PutSession records that node holds session key until expires.
	PutSession(ctx context.Context, key, node string, expires time.Time) error
	// SessionNode returns the node holding an unexpired session.
	SessionNode(ctx context.Context, key string) (string, error)
	// RemoveSession forgets a session; it reports whether it existed.
	RemoveSession(ctx context.Context, key string) (bool, error)
	// ExpireSessions deletes sessions that expired at or before now.
	ExpireSessions(ctx context.Context, now time.Time) (int, error)
}

// Notifier is a small publish/subscribe bus between nodes: PostgreSQL
// LISTEN/NOTIFY for the postgres backend, an in-process bus for SQLite (one
// node per SQLite file).
//
// Delivery is at-most-once and only to listeners connected at the time. A
// payload of "" is never sent by Notify; it is delivered to a listener to say
// "notifications may have been lost" (the PostgreSQL listener reconnected, or
// the listener's buffer overflowed): the listener should re-read the state it
// cares about (for example Pending for its registered users).
type Notifier interface {
	// Notify sends payload (1..MaxPayload bytes) to every listener of
	// channel. For PostgreSQL it is sent when the call returns (not tied to
	// any transaction).
	Notify(ctx context.Context, channel, payload string) error
	// Listen subscribes to channel. Notifications sent after Listen returns
	// are delivered. The channel is closed when ctx is done or the Store is
	// closed.
	Listen(ctx context.Context, channel string) (<-chan string, error)
}

// Limits shared by both backends (PostgreSQL's own limits for NOTIFY).
const (
	// MaxPayload is the largest Notify payload (PostgreSQL: under 8000 bytes).
	MaxPayload = 7999
	// MaxChannel is the longest channel name (PostgreSQL NAMEDATALEN-1).
	MaxChannel = 63
	// ListenBuffer is the per-listener buffer; on overflow the oldest
	// notification is replaced by the "" resync marker.
	ListenBuffer = 64
)
