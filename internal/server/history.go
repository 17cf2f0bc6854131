package server

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/msrp/relay"
)

// Session-message history (Config.History): the MSRP relays report every
// message they forward, once its last chunk is read (relay.Config.OnMessage,
// on their read paths, with the body of a chunked message assembled up to
// relay.Config.ObserveMaxBody, 64 KiB); the history keeps them as
// store.SessionMode entries of their local sender's and recipient's
// history. A message over the bound (or whose body the relay could not
// hold: relay.Config.ObserveMaxHeld) is recorded without its body, as a
// message/external-body entry telling its type and size (notKept). Not
// recorded: aborted messages ('#'), empty ones, and those whose last
// chunk the relay did not see (connection lost, chunks on several
// connections, relay.Config.ObserveTimeout).
//
// Who the parties are: the relay knows the AUTH user owning the relay URL
// a SEND came in through (its sender, when the sender is a client of this
// relay) and the one owning the URL it goes to (its recipient, when that
// is a client of this relay). The other party is taken, in order, from
// the CPIM From or To header of a message/cpim body (RFC 3862 §4.1-4.2),
// from the relay's own knowledge when both are its clients, or from the
// owner learned for the peer's MSRP endpoint URI (the last URI of the
// From-Path or To-Path, which does not change from hop to hop): every
// message tells which user owns its sender's and recipient's endpoint
// URIs on this side, and those are kept in memory and in the store's
// session map (store.SessionStore, keys "history-ep:…"), so a node
// learns the owner of an endpoint on another node's relay. A message
// whose peer is not known yet waits up to historyResolveWait for it, then
// is counted as unresolved and not recorded (a history entry needs a
// peer). A sender not served by this relay (FromUser "") has only the
// recipient's copy recorded here, and the other way round; messages
// passing through with neither party local are not recorded.
//
// The relay's read path never waits: events go through a bounded queue
// (historyQueue) to one writer goroutine, and an event that finds the
// queue full is dropped and counted.

const (
	historyQueue        = 4096
	historyResolveWait  = 3 * time.Second
	historyPending      = 1024 // events waiting for their peer
	historyEndpoints    = 1 << 16
	historyEndpointTTL  = 2 * time.Hour
	historyKeyPrefix    = "history-ep:"
	historyStoreTimeout = 5 * time.Second
)

// HistoryStats are the counters of session-message history.
type HistoryStats struct {
	Recorded   uint64 // history entries written
	Dropped    uint64 // events lost because the queue was full
	Unresolved uint64 // messages not recorded: the peer stayed unknown
	Skipped    uint64 // messages aborted ('#'), empty, or of unknown size without body
	NotKept    uint64 // messages recorded without their body (over the bound), see notKept
	Failed     uint64 // entries the store refused
}

type historyEvent struct {
	from, to     string // AORs of the relay's AUTH users, "" if not ours
	fromEP, toEP string // endpoint URI keys
	// A CPIM transport message (observeCPIM): from and to are the parties
	// the proxy named ("" if none); claimFrom, claimTo the nested CPIM
	// From and To; the endpoint keys are the a=uri tokens.
	transport          bool
	claimFrom, claimTo string
	msgID, ctype       string
	body               []byte
	t                  time.Time
	deadline           time.Time
	resolved           [2]bool // outgoing (sender's) and incoming copies done
}

type sessionHistory struct {
	st     store.Store
	domain string
	optOut func(string) bool
	log    *slog.Logger

	q      chan *historyEvent
	closed atomic.Bool
	stop   chan struct{}
	done   chan struct{}

	recorded, dropped, unresolved, skipped, failed, notKept atomic.Uint64

	// domains are the server's; an owner named by a CPIM transport
	// message must be an account of one of them (localUser).
	domains []string

	// Writer-goroutine state.
	owners  map[string]string // endpoint key → AOR
	pending []*historyEvent
	locals  map[string]localUser

	stopOnce sync.Once
}

func newSessionHistory(st store.Store, domain string, optOut func(string) bool, log *slog.Logger) *sessionHistory {
	h := &sessionHistory{
		st: st, domain: domain, optOut: optOut, log: log,
		q:       make(chan *historyEvent, historyQueue),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		owners:  make(map[string]string),
		locals:  make(map[string]localUser),
		domains: []string{strings.ToLower(domain)},
	}
	go h.run()
	return h
}

// Stats returns the counters.
func (h *sessionHistory) Stats() HistoryStats {
	return HistoryStats{Recorded: h.recorded.Load(), Dropped: h.dropped.Load(), Unresolved: h.unresolved.Load(),
		Skipped: h.skipped.Load(), Failed: h.failed.Load(), NotKept: h.notKept.Load()}
}

func (h *sessionHistory) aor(user string) string {
	if user == "" {
		return ""
	}
	return "sip:" + user + "@" + h.domain
}

// epKey names an MSRP URI as RFC 4975 §6.1 compares them: scheme, host
// (case-insensitive), port, session-id (case-sensitive), transport.
func epKey(p []msrp.URI) string {
	if len(p) == 0 {
		return ""
	}
	u := p[len(p)-1]
	if u.SessionID == "" {
		return ""
	}
	scheme := "msrp://"
	if u.Secure {
		scheme = "msrps://"
	}
	return scheme + strings.ToLower(u.Host) + ":" + strconv.Itoa(u.Port) + "/" + u.SessionID + ";" + strings.ToLower(u.Transport)
}

// observe is relay.Config.OnMessage: it copies what it keeps and never
// blocks.
func (h *sessionHistory) observe(ev relay.MessageEvent) {
	if h.closed.Load() || ev.FromUser == "" && ev.ToUser == "" {
		return
	}
	ctype := ev.ContentType
	var body []byte
	switch {
	case ev.Aborted || ev.Size == 0 || ev.Body == nil && ev.Size < 0 || ev.Body != nil && len(ev.Body) == 0:
		h.skipped.Add(1)
		return
	case ev.Body == nil:
		// Over ObserveMaxBody (or the relay's ObserveMaxHeld): an entry
		// without the body, telling its type and size.
		ctype, body = notKept(ev.ContentType, ev.Size)
		h.notKept.Add(1)
	default:
		body = append([]byte(nil), ev.Body...)
	}
	e := &historyEvent{from: h.aor(ev.FromUser), to: h.aor(ev.ToUser), fromEP: epKey(ev.FromPath), toEP: epKey(ev.ToPath),
		msgID: ev.MessageID, ctype: ctype, body: body, t: ev.Time}
	if e.t.IsZero() {
		e.t = time.Now()
	}
	e.deadline = time.Now().Add(historyResolveWait)
	select {
	case h.q <- e:
	default:
		h.dropped.Add(1)
	}
}

// close stops taking events, writes what is queued (until ctx ends) and
// stops the writer.
func (h *sessionHistory) close(ctx context.Context) {
	h.closed.Store(true)
	h.stopOnce.Do(func() { close(h.stop) })
	select {
	case <-h.done:
	case <-ctx.Done():
	}
}

func (h *sessionHistory) run() {
	defer close(h.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastExpire := time.Now()
	for {
		select {
		case e := <-h.q:
			h.handle(ctx, e)
		case <-tick.C:
			h.retry(ctx, false, true)
			if time.Since(lastExpire) > time.Minute {
				lastExpire = time.Now()
				h.st.ExpireSessions(ctx, time.Now())
			}
		case <-h.stop:
		drain:
			for {
				select {
				case e := <-h.q:
					h.handle(ctx, e)
				default:
					break drain
				}
			}
			h.retry(ctx, true, true)
			return
		}
	}
}

// handle learns the endpoint owners e tells of, then records it.
func (h *sessionHistory) handle(ctx context.Context, e *historyEvent) {
	if e.transport && e.from == "" {
		// The sender of a session token is the first one its messages
		// named: a later claim does not change it.
		e.from = first(h.owner(ctx, e.fromEP, true), e.claimFrom)
	}
	h.learn(ctx, e.fromEP, e.from)
	h.learn(ctx, e.toEP, e.to)
	if !h.record(ctx, e, true) {
		if len(h.pending) >= historyPending {
			h.unresolved.Add(1)
			return
		}
		h.pending = append(h.pending, e)
	}
	// What e taught may resolve earlier messages.
	if len(h.pending) > 0 && (e.from != "" || e.to != "") {
		h.retry(ctx, false, false)
	}
}

// retry records the pending events whose peers are now known; those past
// their deadline (or all, when final) are given up. lookStore asks the
// store for endpoint owners not known in memory.
func (h *sessionHistory) retry(ctx context.Context, final, lookStore bool) {
	now := time.Now()
	kept := h.pending[:0]
	for _, e := range h.pending {
		expired := final || now.After(e.deadline)
		if !h.record(ctx, e, lookStore || expired) {
			if expired {
				h.unresolved.Add(1)
				continue
			}
			kept = append(kept, e)
		}
	}
	clear(h.pending[len(kept):])
	h.pending = kept
}

func (h *sessionHistory) learn(ctx context.Context, ep, aor string) {
	if ep == "" || aor == "" {
		return
	}
	if _, ok := h.owners[ep]; ok {
		return // the first owner seen wins (a From-Path is the sender's word)
	}
	if len(h.owners) >= historyEndpoints {
		clear(h.owners)
	}
	h.owners[ep] = aor
	// Other nodes' relays learn it through the store.
	ctx, cancel := context.WithTimeout(ctx, historyStoreTimeout)
	defer cancel()
	if err := h.st.PutSession(ctx, historyKeyPrefix+ep, aor, time.Now().Add(historyEndpointTTL)); err != nil {
		h.log.Debug("history: endpoint owner not shared", "err", err)
	}
}

func (h *sessionHistory) owner(ctx context.Context, ep string, lookStore bool) string {
	if ep == "" {
		return ""
	}
	if a := h.owners[ep]; a != "" {
		return a
	}
	if !lookStore {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, historyStoreTimeout)
	defer cancel()
	a, err := h.st.SessionNode(ctx, historyKeyPrefix+ep)
	if err != nil {
		return ""
	}
	h.owners[ep] = a
	return a
}

// record writes the copies of e whose peer is known; it reports whether
// none is left waiting for its peer.
func (h *sessionHistory) record(ctx context.Context, e *historyEvent, lookStore bool) bool {
	ctype, body := e.ctype, e.body
	var cpimFrom, cpimTo string
	if strings.EqualFold(baseType(ctype), "message/cpim") {
		if m, err := cpim.Parse(body); err == nil {
			if a, err := m.From(); err == nil {
				cpimFrom = aorOfURI(a.URI)
			}
			if as, err := m.To(); err == nil && len(as) > 0 {
				cpimTo = aorOfURI(as[0].URI)
			}
			if ct := m.ContentType(); ct != "" {
				ctype, body = ct, m.Body()
			}
		}
	}
	if e.transport {
		cpimFrom, cpimTo = e.claimFrom, e.claimTo
	}
	done := true
	// The recipient of a CPIM transport message with no party named by
	// the proxy: the owner its token's own messages named, once it spoke.
	to := e.to
	if e.transport && to == "" && !e.resolved[1] {
		if to = h.owner(ctx, e.toEP, lookStore); to == "" {
			done = false
		}
	}
	copyOf := func(i int, owner string, dir store.Direction, peer func() string) {
		if e.resolved[i] {
			return
		}
		if owner == "" {
			// No copy, unless it is the recipient of a CPIM transport
			// message still to be learned (done is false then).
			if !e.transport || i == 0 || e.to != "" {
				e.resolved[i] = true
			}
			return
		}
		if e.transport && !h.localUser(ctx, owner) {
			e.resolved[i] = true
			return
		}
		if h.optOut != nil && h.optOut(owner) {
			e.resolved[i] = true
			return
		}
		p := peer()
		if p == "" {
			done = false
			return
		}
		e.resolved[i] = true
		ctx, cancel := context.WithTimeout(ctx, historyStoreTimeout)
		defer cancel()
		_, err := h.st.AppendHistory(ctx, store.HistoryEntry{Owner: owner, Peer: p, Direction: dir, Mode: store.SessionMode,
			MessageID: e.msgID, ContentType: ctype, Body: body, Time: e.t})
		if err != nil {
			h.failed.Add(1)
			h.log.Warn("session history", "owner", owner, "err", err)
			return
		}
		h.recorded.Add(1)
	}
	// The peer: the relay's own client (authenticated), else what the
	// CPIM header says, else the learned owner of the peer's endpoint.
	copyOf(0, e.from, store.Outgoing, func() string { return first(to, cpimTo, h.owner(ctx, e.toEP, lookStore)) })
	copyOf(1, to, store.Incoming, func() string { return first(e.from, cpimFrom, h.owner(ctx, e.fromEP, lookStore)) })
	return done && e.resolved[0] && e.resolved[1]
}

// observeCPIM is cpimtransport.RelayConfig.OnMessage: a message of a CPIM
// transport session (seed draft §7). Delivery reports are not recorded.
func (h *sessionHistory) observeCPIM(ev cpimtransport.RelayMessage) {
	if h.closed.Load() {
		return
	}
	if ev.Size == 0 || strings.EqualFold(baseType(ev.ContentType), cpimtransport.TypeDeliveryStatus) {
		h.skipped.Add(1)
		return
	}
	ctype, body := ev.ContentType, ev.Body
	if body == nil {
		ctype, body = notKept(ev.ContentType, ev.Size)
		h.notKept.Add(1)
	} else {
		body = append([]byte(nil), body...)
	}
	e := &historyEvent{transport: true, from: aorOfURI(ev.Sender), to: aorOfURI(ev.Recipient),
		claimFrom: aorOfURI(ev.InnerFrom), claimTo: aorOfURI(ev.InnerTo),
		fromEP: "cpim-uri:" + ev.From, toEP: "cpim-uri:" + ev.To, ctype: ctype, body: body, t: ev.Time}
	if ev.MsgID != "" {
		// MsgID counts per session (§5): the sender's token makes it unique.
		e.msgID = "cpim:" + ev.From + "#" + ev.MsgID
	}
	if e.t.IsZero() {
		e.t = time.Now()
	}
	e.deadline = time.Now().Add(historyResolveWait)
	select {
	case h.q <- e:
	default:
		h.dropped.Add(1)
	}
}

type localUser struct {
	ok bool
	at time.Time
}

const localUserTTL = time.Minute

// localUser reports whether aor is an account of the server's (cached
// for localUserTTL): the owners of CPIM transport entries come from what
// the proxy or the messages say, not from an authentication of the relay.
func (h *sessionHistory) localUser(ctx context.Context, aor string) bool {
	if l, ok := h.locals[aor]; ok && time.Since(l.at) < localUserTTL {
		return l.ok
	}
	user, host, ok := strings.Cut(strings.TrimPrefix(aor, "sip:"), "@")
	if !ok || !slices.Contains(h.domains, host) {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, historyStoreTimeout)
	defer cancel()
	_, err := h.st.Account(ctx, host, user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false // not cached: the store may answer next time
	}
	if len(h.locals) >= historyEndpoints {
		clear(h.locals)
	}
	h.locals[aor] = localUser{ok: err == nil, at: time.Now()}
	return err == nil
}

// NotKeptAccessType is the access-type of the message/external-body
// entries that stand for messages whose body the history did not keep.
const NotKeptAccessType = "x-parley-not-kept"

// notKept returns the content type and body of a history entry standing
// for a message of type ctype and size octets whose body is not kept: a
// message/external-body (RFC 2046 §5.2.3) whose size parameter is the
// message's size and whose body is the encapsulated header naming the
// message's own type, with an empty phantom body. The store's schema has
// no size column; this keeps the entry self-describing.
func notKept(ctype string, size int64) (string, []byte) {
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return "message/external-body; access-type=" + NotKeptAccessType + "; size=" + strconv.FormatInt(size, 10),
		[]byte("Content-Type: " + ctype + "\r\n\r\n")
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// aorOfURI turns a CPIM address URI (sip:, sips:, im: or pres:,
// RFC 3862 §4.1) into the AOR form of the store, sip:user@domain.
func aorOfURI(u string) string {
	scheme, rest, ok := strings.Cut(u, ":")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "sip", "sips", "im", "pres":
	default:
		return ""
	}
	if i := strings.IndexAny(rest, ";?>"); i >= 0 {
		rest = rest[:i]
	}
	user, host, ok := strings.Cut(rest, "@")
	if !ok || user == "" || host == "" {
		return ""
	}
	return "sip:" + user + "@" + strings.ToLower(host)
}

func baseType(ct string) string {
	t, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(t)
}
