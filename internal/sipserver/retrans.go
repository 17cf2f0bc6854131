package sipserver

import (
	"bytes"
	"hash/maphash"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Retransmissions of non-INVITE requests over UDP (RFC 3261 §17.2.2).
//
// A non-INVITE server transaction over an unreliable transport stays in
// the Completed state for Timer J (64*T1 = 32 s) after its final
// response, so that a retransmitted request is answered with the same
// response instead of being handled again (a second delivery of a
// MESSAGE, a second REGISTER). sipgo keeps the whole transaction for
// that time: the parsed request and response, timers and channels, about
// 3 KiB, so at a few thousand MESSAGEs/s the server held hundreds of MiB
// of finished transactions and its collector stalled requests for whole
// seconds. The server instead ends sipgo's transaction as soon as the
// final response is sent and keeps only what answering a retransmission
// needs, the response as sent and where it went, in completedTxs for the
// same 32 s.

// maxCompletedTxs bounds completedTxs: at about 600 octets an entry,
// 75 MiB at most, 29 s of 4,500 MESSAGEs/s (the rate this server reaches
// on one core; challenges are not kept).
const maxCompletedTxs = 131072

// completedTx is a finished non-INVITE UDP transaction.
type completedTx struct {
	key     txKey  // of sipgo's server transaction key (§17.2.3)
	res     []byte // the final response as sent, exactly sized
	dest    string // where it was sent
	expires int64  // monotonic nanoseconds
	dead    bool   // superseded by a newer entry for the same key
}

// completedTxs holds completedTx entries for ttl, at most max of them:
// beyond that the oldest goes first (under a flood the window shrinks
// rather than memory growing). Entries expire in insertion order, so a
// FIFO is the expiry queue.
type completedTxs struct {
	ttl time.Duration
	max int

	mu    sync.Mutex
	byKey map[txKey]*completedTx
	fifo  []*completedTx
	head  int
	timer *time.Timer // sweeps when the server goes quiet
}

func newCompletedTxs(ttl time.Duration, max int) *completedTxs {
	return &completedTxs{ttl: ttl, max: max, byKey: make(map[txKey]*completedTx)}
}

// txKey is a 128-bit hash of a server transaction key: the keys are
// about 100 octets (branch, sent-by, method), and two independent 64-bit
// hashes make a collision among the entries held (at most
// maxCompletedTxs) far less likely than a corrupted datagram.
type txKey [2]uint64

var txKeySeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func makeTxKey(key string) txKey {
	return txKey{maphash.String(txKeySeeds[0], key), maphash.String(txKeySeeds[1], key)}
}

var resBufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// add records the final response res sent for key.
func (c *completedTxs) add(key txKey, res *sip.Response) {
	b := resBufPool.Get().(*bytes.Buffer)
	b.Reset()
	res.StringWrite(b)
	e := &completedTx{key: key, res: bytes.Clone(b.Bytes()), dest: res.Destination(), expires: monoNow() + int64(c.ttl)}
	resBufPool.Put(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(e.expires - int64(c.ttl))
	for len(c.byKey) >= c.max {
		c.popLocked()
	}
	if old := c.byKey[key]; old != nil {
		old.dead = true // superseded: popLocked skips it
	}
	c.byKey[key] = e
	c.fifo = append(c.fifo, e)
	if c.timer == nil {
		c.timer = time.AfterFunc(c.ttl, c.sweep)
	}
}

// get returns the response recorded for key and its destination.
func (c *completedTxs) get(key txKey) (res []byte, dest string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[key]
	if e == nil || e.expires <= monoNow() {
		return nil, "", false
	}
	return e.res, e.dest, true
}

// len returns the number of entries held.
func (c *completedTxs) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey)
}

// sweep drops expired entries and re-arms itself while any remain.
func (c *completedTxs) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(monoNow())
	if c.head < len(c.fifo) {
		next := time.Duration(c.fifo[c.head].expires - monoNow())
		c.timer.Reset(max(next, time.Millisecond))
		return
	}
	c.timer = nil
}

// stop ends the sweeper.
func (c *completedTxs) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer = nil
}

func (c *completedTxs) expireLocked(now int64) {
	for c.head < len(c.fifo) && c.fifo[c.head].expires <= now {
		c.popLocked()
	}
}

// popLocked drops the oldest entry.
func (c *completedTxs) popLocked() {
	if c.head == len(c.fifo) {
		return
	}
	e := c.fifo[c.head]
	c.fifo[c.head] = nil
	c.head++
	if !e.dead && c.byKey[e.key] == e {
		delete(c.byKey, e.key)
	}
	if c.head == len(c.fifo) {
		c.fifo, c.head = c.fifo[:0], 0
	} else if c.head > 1024 && c.head*2 > len(c.fifo) {
		n := copy(c.fifo, c.fifo[c.head:])
		clear(c.fifo[n:])
		c.fifo, c.head = c.fifo[:n], 0
	}
}

// monoNow is a monotonic clock reading in nanoseconds.
func monoNow() int64 { return int64(time.Since(monoBase)) }

var monoBase = time.Now()

// absorbingTx is a non-INVITE UDP server transaction whose final
// response is recorded in completedTxs, after which sipgo's transaction
// is ended at once.
type absorbingTx struct {
	sip.ServerTransaction
	done *completedTxs
	key  txKey
}

func (t *absorbingTx) Respond(res *sip.Response) error {
	err := t.ServerTransaction.Respond(res)
	if err == nil && res.StatusCode >= 200 {
		if res.StatusCode == 401 || res.StatusCode == 407 {
			// A challenge has no effect to repeat: a retransmission
			// is simply challenged again (with a fresh nonce), so it
			// needs no entry. This halves the entries under load,
			// where every request is first challenged.
			t.ServerTransaction.Terminate()
			return nil
		}
		// Recorded before sipgo lets go, so a retransmission is always
		// answered by one or the other.
		t.done.add(t.key, res)
		t.ServerTransaction.Terminate()
	}
	return err
}

// absorb answers req from completedTxs when it retransmits a finished
// transaction (true: handled), or wraps tx so that its final response is
// recorded. Only non-INVITE requests over UDP: reliable transports have
// no Timer J (§17.2.2); INVITE server transactions wait for the ACK of a
// non-2xx final (§17.2.1) or, after a 2xx, absorb retransmitted INVITEs
// for Timer L (RFC 6026 §7.1), and stay with sipgo.
func (s *Server) absorb(req *sip.Request, tx sip.ServerTransaction) (sip.ServerTransaction, bool) {
	if s.done == nil || req.IsInvite() || req.IsAck() || req.Transport() != "UDP" {
		return tx, false
	}
	k, err := sip.ServerTxKeyMake(req)
	if err != nil {
		return tx, false
	}
	key := makeTxKey(k)
	raw, dest, ok := s.done.get(key)
	if !ok {
		return &absorbingTx{ServerTransaction: tx, done: s.done, key: key}, false
	}
	s.metrics.Retransmissions.Add(1)
	defer tx.Terminate()
	msg, err := sip.ParseMessage(raw)
	if err != nil {
		return tx, true // cannot happen: we wrote it
	}
	res, ok := msg.(*sip.Response)
	if !ok {
		return tx, true
	}
	res.SetTransport(req.Transport())
	res.SetDestination(dest)
	if err := tx.Respond(res); err != nil {
		s.log.Debug("retransmitting a final response failed", "err", err)
	}
	return tx, true
}
