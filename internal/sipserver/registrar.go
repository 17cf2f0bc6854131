package sipserver

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/parley-im/parley/internal/store"
)

// onRegister is the registrar (RFC 3261 §10.3).
func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()

	// Step 1: the Request-URI names a domain we are responsible for (or
	// this server itself).
	if !s.isLocalDomain(req.Recipient.Host) && !s.isSelf(req.Recipient) {
		s.respond(tx, req, 404, "Not Found (not a domain of this registrar)")
		return
	}
	to := req.To()
	if to == nil || to.Address.User == "" {
		s.respond(tx, req, 400, "Bad Request (To has no address of record)")
		return
	}
	// Step 3: the AOR's domain must be ours.
	if !s.isLocalDomain(to.Address.Host) {
		s.respond(tx, req, 404, "Not Found (address of record outside this registrar's domains)")
		return
	}
	user, domain := userOf(to.Address)
	aor := aorOf(to.Address)

	// Step 3 (§22): authenticate. The digest username must be the AOR's
	// user: one user may not register contacts for another.
	switch chk := s.authenticate(ctx, req, false, domain, user); chk.res {
	case authNone:
		s.challenge(tx, req, domain, false, false)
		return
	case authStale:
		s.challenge(tx, req, domain, false, true)
		return
	case authFailed, authThrottled:
		s.refuseAuth(tx, req, aor, chk)
		return
	}
	if _, err := s.st.Account(ctx, domain, user); err != nil {
		// The credential existed a moment ago; the account was deleted.
		s.respond(tx, req, 404, "Not Found (no such user)")
		return
	}

	callID := ""
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	var cseq uint32
	if h := req.CSeq(); h != nil {
		cseq = h.SeqNo
	}
	defExp := -1
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			s.respond(tx, req, 400, "Bad Request (invalid Expires)")
			return
		}
		defExp = n
	}

	contacts := req.GetHeaders("Contact")
	// Step 6: "Contact: *" removes every binding, only with Expires: 0
	// and as the only contact.
	for _, h := range contacts {
		if strings.TrimSpace(h.Value()) == "*" {
			if len(contacts) != 1 || defExp != 0 {
				s.respond(tx, req, 400, "Bad Request (Contact: * needs Expires: 0 and no other Contact)")
				return
			}
			n, err := s.st.RemoveAll(ctx, aor)
			if err != nil {
				s.respond(tx, req, 500, "Server Internal Error (location store)")
				return
			}
			s.bindingsChanged(ctx, aor)
			s.metrics.Unregistrations.Add(uint64(n))
			s.log.Info("unregistered all", "aor", aor, "bindings", n)
			s.registerOK(ctx, tx, req, aor)
			return
		}
	}

	type change struct {
		contact string
		b       store.Binding
		expires int
	}
	var changes []change
	for _, h := range contacts {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			s.respond(tx, req, 400, "Bad Request (unparsable Contact)")
			return
		}
		exp := defExp
		if v, ok := ch.Params.Get("expires"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				s.respond(tx, req, 400, "Bad Request (invalid expires parameter)")
				return
			}
			exp = n
		}
		if exp < 0 {
			exp = int(s.cfg.DefaultExpires / time.Second)
		}
		// RFC 3261 §10.3 step 7: too brief gets 423 with Min-Expires;
		// too long is shortened.
		if exp > 0 && time.Duration(exp)*time.Second < s.cfg.MinExpires {
			s.respond(tx, req, 423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(int(s.cfg.MinExpires/time.Second))))
			return
		}
		if max := int(s.cfg.MaxExpires / time.Second); exp > max {
			exp = max
		}
		b := store.Binding{
			AOR:       aor,
			Contact:   ch.Address.String(),
			CallID:    callID,
			CSeq:      cseq,
			Expires:   time.Now().Add(time.Duration(exp) * time.Second),
			Node:      s.Node(),
			Received:  strings.ToLower(req.Transport()) + ":" + req.Source(),
			UserAgent: headerValue(req, "User-Agent"),
		}
		if v, ok := ch.Params.Get("q"); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				b.Q = int(f*1000 + 0.5)
			}
		}
		if v, ok := ch.Params.Get("+sip.instance"); ok {
			b.Instance = strings.Trim(v, "\"")
			if r, ok := ch.Params.Get("reg-id"); ok {
				b.RegID, _ = strconv.Atoi(r)
			}
		}
		for _, p := range req.GetHeaders("Path") {
			b.Path = append(b.Path, p.Value())
		}
		changes = append(changes, change{contact: b.Contact, b: b, expires: exp})
	}

	added := false
	for _, c := range changes {
		if c.expires == 0 {
			if ok, err := s.st.Remove(ctx, aor, c.contact); err != nil {
				s.respond(tx, req, 500, "Server Internal Error (location store)")
				return
			} else if ok {
				s.bindingsChanged(ctx, aor)
				s.metrics.Unregistrations.Add(1)
				s.log.Info("unregistered", "aor", aor, "contact", c.contact)
			}
			continue
		}
		if err := s.st.Bind(ctx, c.b); err != nil {
			if errors.Is(err, store.ErrStaleCSeq) {
				// §10.3 step 7: an out-of-order REGISTER.
				s.respond(tx, req, 500, "Server Internal Error (stale CSeq for this Call-ID)", sip.NewHeader("Retry-After", "1"))
				return
			}
			s.log.Warn("bind failed", "aor", aor, "err", err)
			s.respond(tx, req, 500, "Server Internal Error (location store)")
			return
		}
		s.bindingsChanged(ctx, aor)
		added = true
		s.metrics.Registrations.Add(1)
		s.log.Info("registered", "aor", aor, "contact", c.contact, "expires", c.expires, "source", req.Source())
	}
	s.registerOK(ctx, tx, req, aor)
	if added {
		// RFC 3428 §7 store-and-forward: a device of this user is back.
		s.flush(aor)
	}
}

// registerOK answers 200 with every current binding and its remaining
// lifetime (RFC 3261 §10.3 step 8).
func (s *Server) registerOK(ctx context.Context, tx sip.ServerTransaction, req *sip.Request, aor string) {
	bs, err := s.st.Lookup(ctx, aor)
	if err != nil {
		s.respond(tx, req, 500, "Server Internal Error (location store)")
		return
	}
	hdrs := []sip.Header{sip.NewHeader("Date", time.Now().UTC().Format(time.RFC1123))}
	now := time.Now()
	for _, b := range bs {
		var u sip.Uri
		if err := sip.ParseUri(b.Contact, &u); err != nil {
			continue
		}
		ch := &sip.ContactHeader{Address: u, Params: sip.NewParams()}
		ch.Params.Add("expires", strconv.Itoa(max(0, int(b.Expires.Sub(now).Round(time.Second)/time.Second))))
		hdrs = append(hdrs, ch)
	}
	s.respond(tx, req, 200, "OK", hdrs...)
}

func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}
