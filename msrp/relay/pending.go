package relay

// pendingTxns holds the transactions forwarded on one connection that
// await the next hop's response (RFC 4976 §6.4.3), by tid number.
//
// The relay mints the tids of a connection in increasing order
// (conn.newTID) and responses mostly come back in that order, so a window
// indexed by tid number − base replaces a map: adding appends, taking
// clears a slot and trims answered slots off the front. A map cost about
// 3 % of the relay's CPU for 8 KiB SENDs (hash, assign, delete per
// message). Slots of untracked requests (REPORTs, SENDs with
// Failure-Report no) stay nil.
//
// One old transaction that is never answered (it expires only after
// TransactionTimeout) would keep the window growing behind it, so the
// window spans at most pendingSpan tid numbers: older entries move to a
// map. Guarded by the connection's tmu.
type pendingTxns struct {
	win   []*txn // win[head+i] is tid number base+i
	head  int
	base  uint64
	count int             // non-nil entries in win
	over  map[uint64]*txn // entries pushed out of the window, by tid number
}

// pendingSpan bounds the window: 8 bytes a slot, 128 KiB at most per
// connection.
const pendingSpan = 1 << 14

func (p *pendingTxns) len() int { return p.count + len(p.over) }

// add registers t under t.n.
func (p *pendingTxns) add(t *txn) {
	if p.head == len(p.win) {
		p.win, p.head, p.base = p.win[:0], 0, t.n
	}
	if t.n < p.base {
		p.spill(t)
		return
	}
	i := t.n - p.base
	if i >= pendingSpan {
		// Push the oldest slots out so that t fits.
		drop := i - pendingSpan + 1
		for ; drop > 0 && p.head < len(p.win); drop-- {
			if old := p.win[p.head]; old != nil {
				p.win[p.head] = nil
				p.count--
				p.spill(old)
			}
			p.head++
			p.base++
		}
		if p.head == len(p.win) {
			// All pushed out: t starts a new window.
			p.win, p.head, p.base = p.win[:0], 0, t.n
		}
		i = t.n - p.base
	}
	p.compact()
	for uint64(len(p.win)-p.head) < i {
		p.win = append(p.win, nil)
	}
	p.win = append(p.win, t)
	p.count++
}

func (p *pendingTxns) spill(t *txn) {
	if p.over == nil {
		p.over = make(map[uint64]*txn)
	}
	p.over[t.n] = t
}

// compact moves the live window to the front of its array once the
// answered slots before it are the larger part.
func (p *pendingTxns) compact() { p.win, p.head = compactFront(p.win, p.head) }

// compactFront moves q[head:] to the front of q's array once the consumed
// part before it is over 1024 entries and the larger part, clearing the
// tail so that the consumed transactions can be collected; it returns the
// new q and head. The pending window and the deadline list (conn.fifo)
// are both consumed from the front this way.
func compactFront(q []*txn, head int) ([]*txn, int) {
	if head > 1024 && head > len(q)/2 {
		n := copy(q, q[head:])
		clear(q[n:])
		return q[:n], 0
	}
	return q, head
}

// take removes and returns the transaction of tid number n, or nil.
func (p *pendingTxns) take(n uint64) *txn {
	if n >= p.base && n-p.base < uint64(len(p.win)-p.head) {
		i := p.head + int(n-p.base)
		t := p.win[i]
		if t == nil {
			return nil
		}
		p.win[i] = nil
		p.count--
		for p.head < len(p.win) && p.win[p.head] == nil {
			p.head++
			p.base++
		}
		if p.head == len(p.win) {
			p.win, p.head = p.win[:0], 0
		}
		return t
	}
	if t, ok := p.over[n]; ok {
		delete(p.over, n)
		if len(p.over) == 0 {
			p.over = nil
		}
		return t
	}
	return nil
}

// each calls fn for every pending transaction, in no particular order.
func (p *pendingTxns) each(fn func(*txn)) {
	for _, t := range p.win[p.head:] {
		if t != nil {
			fn(t)
		}
	}
	for _, t := range p.over {
		fn(t)
	}
}
