package sipserver

import (
	"context"
	"errors"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/internal/store"
)

// notifyChannel carries "a message was queued for this AOR" between
// nodes (store.Notifier).
const notifyChannel = "parley_queue"

// proxyMessage routes a pager-mode MESSAGE (RFC 3428 §6): to the first
// device that takes it, else into the store-and-forward queue (§7: 202).
func (s *Server) proxyMessage(req *sip.Request, tx sip.ServerTransaction, aor string, bs []store.Binding) {
	if len(bs) == 0 {
		s.storeMessage(req, tx, aor)
		return
	}
	s.proxySequential(req, tx, bs, func() { s.storeMessage(req, tx, aor) })
}

// clientID identifies a MESSAGE so that a retransmission after a lost
// 202 is stored once.
func clientID(req *sip.Request) string {
	id := ""
	if h := req.CallID(); h != nil {
		id = h.Value()
	}
	if h := req.CSeq(); h != nil {
		id += ":" + strconv.FormatUint(uint64(h.SeqNo), 10)
	}
	return id
}

// storeMessage keeps the MESSAGE durably and only then answers 202
// Accepted (RFC 3428 §7): Enqueue returns after the commit.
func (s *Server) storeMessage(req *sip.Request, tx sip.ServerTransaction, aor string) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	sender := ""
	if f := req.From(); f != nil {
		sender = aorOf(f.Address)
	}
	ct := headerValue(req, "Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	m := store.Message{Rcpt: aor, Sender: sender, ClientID: clientID(req), ContentType: ct, Body: req.Body()}
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "message/cpim" {
		// Kept for display (RFC 3862 §5.8); the order is the server's.
		if cm, err := cpim.Parse(req.Body()); err == nil {
			if dt, err := cm.DateTime(); err == nil {
				m.DateTime = dt
			}
			if id, ok := cm.Get(cpim.NSIMDN, cpim.IMDNMessageID); ok && id != "" {
				m.ClientID = sender + ":" + id
			}
		}
	}
	id, created, err := s.st.Enqueue(ctx, m)
	if err != nil {
		s.log.Warn("store-and-forward failed", "rcpt", aor, "err", err)
		s.respond(tx, req, 500, "Server Internal Error (message store unavailable)", sip.NewHeader("Retry-After", "10"))
		return
	}
	if created {
		s.metrics.MessagesStored.Add(1)
		s.metrics.MessageBytes.Add(uint64(len(req.Body())))
		s.recordHistory(req, 202)
	}
	s.log.Info("message stored for later delivery", "id", id, "rcpt", aor, "sender", sender, "bytes", len(req.Body()), "duplicate", !created)
	s.respond(tx, req, 202, "Accepted (stored for later delivery)")
	if err := s.st.Notify(ctx, notifyChannel, aor); err != nil {
		s.log.Debug("notify", "err", err)
	}
}

// recordHistory adds a pager message to the history of its local sender
// and recipient (unless they opted out).
func (s *Server) recordHistory(req *sip.Request, status int) {
	if !s.cfg.History {
		return
	}
	f, t := req.From(), req.To()
	if f == nil || t == nil {
		return
	}
	sender, rcpt := aorOf(f.Address), aorOf(t.Address)
	ct := headerValue(req, "Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	now := time.Now()
	add := func(owner, peer string, dir store.Direction, local bool) {
		if !local || (s.cfg.HistoryOptOut != nil && s.cfg.HistoryOptOut(owner)) {
			return
		}
		_, err := s.st.AppendHistory(ctx, store.HistoryEntry{Owner: owner, Peer: peer, Direction: dir, Mode: store.PagerMode,
			MessageID: clientID(req), ContentType: ct, Body: req.Body(), Time: now})
		if err != nil {
			s.log.Warn("history", "owner", owner, "err", err)
		}
	}
	add(sender, rcpt, store.Outgoing, s.isLocalDomain(f.Address.Host))
	add(rcpt, sender, store.Incoming, s.isLocalDomain(t.Address.Host))
}

// notifyLoop flushes the queue of users another node queued messages for.
func (s *Server) notifyLoop(ch <-chan string) { s.listenLoop(ch, s.flush, s.flushAll) }

// listenLoop handles the AORs a store notification channel names, until
// the server stops or the channel closes: onAOR for each, onLost for the
// "" marker that says notifications may have been lost.
func (s *Server) listenLoop(ch <-chan string, onAOR func(aor string), onLost func()) {
	for {
		select {
		case <-s.ctx.Done():
			return
		case aor, ok := <-ch:
			switch {
			case !ok:
				return
			case aor == "":
				onLost()
			default:
				onAOR(aor)
			}
		}
	}
}

// flushAll starts delivery for every recipient with pending messages.
func (s *Server) flushAll() {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	rcpts, err := s.st.PendingRecipients(ctx, 1000)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("pending recipients", "err", err)
		}
		return
	}
	for _, r := range rcpts {
		s.flush(r)
	}
}

// flush delivers aor's pending messages, one at a time in arrival order
// (RFC 3428 §9: no overlapping MESSAGEs to one target), in a goroutine;
// one flush per recipient runs at a time and a request made meanwhile
// runs again after it.
func (s *Server) flush(aor string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.flushing[aor] {
		s.flushMore[aor] = true
		s.mu.Unlock()
		return
	}
	s.flushing[aor] = true
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		for {
			s.deliverPending(aor)
			s.mu.Lock()
			if s.flushMore[aor] && !s.closed {
				delete(s.flushMore, aor)
				s.mu.Unlock()
				continue
			}
			delete(s.flushing, aor)
			delete(s.flushMore, aor)
			s.mu.Unlock()
			return
		}
	}()
}

func (s *Server) deliverPending(aor string) {
	for s.ctx.Err() == nil && !s.isClosed() {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		msgs, err := s.st.Pending(ctx, aor, 100)
		var bs []store.Binding
		if err == nil && len(msgs) > 0 {
			bs, err = s.st.Lookup(ctx, aor)
		}
		cancel()
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("reading the queue", "rcpt", aor, "err", err)
			}
			return
		}
		// Only a node holding a binding of the recipient delivers, so
		// that two nodes do not deliver the same queue at once (the
		// others were told through Notify and ignore it).
		own := bs[:0:0]
		for _, b := range bs {
			if s.cfg.ClusterSecret == "" || b.Node == "" || b.Node == s.Node() {
				own = append(own, b)
			}
		}
		if len(msgs) == 0 || len(own) == 0 {
			return
		}
		bs = own
		for _, m := range msgs {
			if s.isClosed() {
				return // the rest waits for the next start
			}
			if !s.deliverStored(m, bs) {
				return // keep the order: retry later
			}
		}
		if len(msgs) < 100 {
			return
		}
	}
}

// claimLease is how long a claim on a stored message lasts beyond the
// delivery attempts it covers.
const claimLease = 30 * time.Second

// claimNode names this node in delivery claims: its Node, or an id of
// this process before any listener is served.
func (s *Server) claimNode() string {
	if n := s.Node(); n != "" {
		return n
	}
	return "local:" + s.instance
}

// deliverStored claims one stored message in the store, so that another
// node holding a binding of the same user does not deliver it too, sends
// it to the first device taking it and records the outcome; it reports
// whether the queue may go on.
func (s *Server) deliverStored(m store.StoredMessage, bs []store.Binding) bool {
	lease := s.cfg.DeliveryTimeout*time.Duration(len(bs)) + claimLease
	cctx, ccancel := context.WithTimeout(s.ctx, 10*time.Second)
	cm, err := s.st.Claim(cctx, m.ID, s.claimNode(), lease)
	ccancel()
	switch {
	case err == nil:
		m = cm
	case errors.Is(err, store.ErrNotFound):
		return true // delivered or given up meanwhile (by another node)
	case errors.Is(err, store.ErrClaimed):
		// Another node is delivering this user's queue; it keeps the
		// order, this node stops here.
		s.log.Debug("stored message claimed by another node", "id", m.ID, "err", err)
		return false
	default:
		if s.ctx.Err() == nil {
			s.log.Warn("claim stored message", "id", m.ID, "err", err)
		}
		return false
	}
	var lastErr string
	for _, b := range bs {
		t, ok := s.targetOf(b)
		if !ok {
			continue
		}
		req, err := s.storedRequest(m, t)
		if err != nil {
			lastErr = err.Error()
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DeliveryTimeout)
		res, err := s.do(ctx, req)
		cancel()
		if err != nil {
			lastErr = err.Error()
			continue
		}
		if res.IsSuccess() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
			err := s.st.MarkDelivered(ctx, m.ID)
			cancel()
			if err != nil {
				s.log.Warn("mark delivered", "id", m.ID, "err", err)
				return false
			}
			s.metrics.MessagesFwd.Add(1)
			s.log.Info("stored message delivered", "id", m.ID, "rcpt", m.Rcpt, "contact", b.Contact)
			return true
		}
		lastErr = strconv.Itoa(res.StatusCode) + " " + res.Reason
		if res.StatusCode >= 400 && res.StatusCode < 500 && res.StatusCode != 408 && res.StatusCode != 480 {
			// The device refuses this message for good (e.g. 415).
			s.fail(m, lastErr)
			return true
		}
	}
	if s.ctx.Err() != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if m.Attempts+1 >= s.cfg.MaxAttempts {
		s.fail(m, lastErr)
		return true
	}
	if err := s.st.RecordAttempt(ctx, m.ID, lastErr); err != nil {
		s.log.Warn("record attempt", "id", m.ID, "err", err)
	}
	return false
}

func (s *Server) fail(m store.StoredMessage, reason string) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.st.MarkFailed(ctx, m.ID, reason); err != nil {
		s.log.Warn("mark failed", "id", m.ID, "err", err)
	}
	s.metrics.MessagesFailed.Add(1)
	s.log.Info("stored message given up", "id", m.ID, "rcpt", m.Rcpt, "reason", reason)
}

// storedRequest rebuilds the MESSAGE of a stored message toward t: From
// the original sender, To the recipient, a Date header of when the server
// accepted it.
func (s *Server) storedRequest(m store.StoredMessage, t target) (*sip.Request, error) {
	var from, to sip.Uri
	if err := sip.ParseUri(m.Sender, &from); err != nil {
		return nil, err
	}
	if err := sip.ParseUri(m.Rcpt, &to); err != nil {
		return nil, err
	}
	req := sip.NewRequest(sip.MESSAGE, *t.uri.Clone())
	fh := &sip.FromHeader{Address: from, Params: sip.NewParams()}
	fh.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(fh)
	req.AppendHeader(&sip.ToHeader{Address: to, Params: sip.NewParams()})
	cid := sip.CallIDHeader(uuid.NewString())
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.MESSAGE})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.NewHeader("Date", m.Received.UTC().Format(time.RFC1123)))
	req.AppendHeader(sip.NewHeader("Content-Type", strings.ReplaceAll(m.ContentType, "\r\n", "")))
	req.SetBody(m.Body)
	r, err := s.branchFor(req, t, false)
	if err != nil {
		return nil, err
	}
	if mf := r.MaxForwards(); mf != nil {
		*mf = 70
	}
	return r, nil
}
