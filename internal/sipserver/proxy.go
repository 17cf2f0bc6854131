package sipserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/messagesdp"
)

// nodeHeader carries the cluster token between nodes (nodeToken).
const nodeHeader = "Parley-Node"

// branchMagic prefixes our Via branches: RFC 3261 magic cookie, then a
// marker and the loop-detection hash (§16.6 step 8, §16.3 step 4).
const branchMagic = "z9hG4bK-pl"

// onRequest is the entry point of every request (RFC 3261 §16.3
// validation, §16.4 route information preprocessing).
func (s *Server) onRequest(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsInvite() {
		// sipgo's INVITE server transaction sends its own 100 Trying
		// from a timer 200 ms after the request came in, built from the
		// request it holds (tx.Origin); the processing below edits the
		// request (Route, Parley-Node, Proxy-Authorization), so work on
		// a copy rather than race with that timer (seen under -race when
		// an INVITE waits longer than 200 ms).
		req = req.Clone()
	}
	// §16.3 step 1 (and §8.1.1): reasonable syntax, before anything is
	// authenticated, stored or forwarded (FINDINGS.md F7).
	if why := validateRequest(req); why != "" {
		s.log.Info("malformed request refused", "method", req.Method, "source", req.Source(), "reason", why)
		if !req.IsAck() { // an ACK gets no response (§17.2.3)
			s.respond(tx, req, 400, "Bad Request ("+why+")")
		}
		return
	}
	// §16.3 step 3: Max-Forwards.
	if mf := req.MaxForwards(); mf != nil && mf.Val() <= 0 && !req.IsAck() {
		if req.Method == sip.OPTIONS && s.isSelf(req.Recipient) {
			s.respond(tx, req, 200, "OK", sip.NewHeader("Allow", allow))
			return
		}
		s.respond(tx, req, 483, "Too Many Hops")
		return
	}
	// §16.4: remove the Route entries that name us (two of them when we
	// record-routed twice for a transport change, RFC 5658).
	for r := req.Route(); r != nil && s.isSelf(r.Address); r = req.Route() {
		req.RemoveHeader("Route")
	}
	// §16.3 step 4: loop detection (after the Route processing, as the
	// hash in our branch was computed on the request as forwarded).
	if !req.IsAck() && s.looped(req) {
		s.respond(tx, req, 482, "Loop Detected")
		return
	}
	switch {
	case req.Method == sip.REGISTER && req.Route() == nil:
		s.onRegister(req, tx)
		return
	case req.IsAck():
		s.forwardAck(req)
		return
	case req.IsCancel():
		// A CANCEL matching a pending INVITE is consumed by sipgo, which
		// answers 200 and 487 and calls our OnCancel (proxyInvite). One
		// reaching us matches nothing (RFC 3261 §16.10).
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	trusted := s.trustedNode(req)
	if hasToTag(req) {
		// §16.4/§16.6: in-dialog requests follow the route set; they
		// were authorised when the dialog was made.
		s.forwardInDialog(req, tx)
		return
	}
	if req.Method == sip.OPTIONS && req.Recipient.User == "" && s.isSelf(req.Recipient) || req.Method == sip.OPTIONS && req.Recipient.User == "" && s.isLocalDomain(req.Recipient.Host) {
		s.respond(tx, req, 200, "OK", sip.NewHeader("Allow", allow), sip.NewHeader("Accept", "application/sdp, text/plain, message/cpim"))
		return
	}
	from := req.From()
	if from == nil {
		s.respond(tx, req, 400, "Bad Request (no From)")
		return
	}
	fromLocal := s.isLocalDomain(from.Address.Host)
	authed := false
	user, domain := userOf(from.Address)
	if fromLocal && !trusted && !s.cfg.NoProxyAuth {
		// RFC 3261 §22.3: a request claiming a local user is challenged.
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		chk := s.authenticate(ctx, req, true, domain, user)
		cancel()
		switch chk.res {
		case authNone:
			s.challenge(tx, req, domain, true, false)
			return
		case authStale:
			s.challenge(tx, req, domain, true, true)
			return
		case authFailed, authThrottled:
			s.refuseAuth(tx, req, from.Address.String(), chk)
			return
		}
		authed = true
	}
	// Our realm's credentials end here (§22.3 allows a proxy to remove
	// the ones meant for it).
	removeOwnCredentials(req, s.realmFor(domain))

	if req.Route() != nil {
		// A pre-loaded route beyond us: loose routing to it.
		if !authed && !trusted {
			s.respond(tx, req, 403, "Forbidden (relaying denied)")
			return
		}
		s.proxySingle(req, tx, req.Recipient, nil)
		return
	}
	if !s.isLocalDomain(req.Recipient.Host) {
		if s.isSelf(req.Recipient) && req.Recipient.User != "" {
			// A request addressed to user@<our address>: treat as our
			// first domain.
			req.Recipient.Host = s.cfg.Domains[0]
			req.Recipient.Port = 0
		} else {
			// §16.5: not our domain. Only local users (or our peer
			// nodes) may use us as an outbound proxy.
			if !authed && !trusted {
				s.respond(tx, req, 403, "Forbidden (relaying denied: not a domain of this proxy)")
				return
			}
			s.proxySingle(req, tx, req.Recipient, nil)
			return
		}
	}
	s.routeLocal(req, tx)
}

// routeLocal routes a request for one of our domains through the
// location service (§16.5).
func (s *Server) routeLocal(req *sip.Request, tx sip.ServerTransaction) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	ruri := req.Recipient
	if ruri.User == "" {
		s.respond(tx, req, 404, "Not Found (no user in the Request-URI)")
		return
	}
	user, dom := userOf(ruri)
	aor := aorOf(ruri)
	if ok, err := s.accountExists(ctx, dom, user); err != nil {
		s.respond(tx, req, 500, "Server Internal Error (account store)")
		return
	} else if !ok {
		s.metrics.NotFound.Add(1)
		s.respond(tx, req, 404, "Not Found (no such user)")
		return
	}
	bs, err := s.lookup(ctx, aor)
	if err != nil {
		s.respond(tx, req, 500, "Server Internal Error (location store)")
		return
	}
	switch req.Method {
	case sip.MESSAGE:
		s.proxyMessage(req, tx, aor, bs)
	case sip.INVITE:
		if len(bs) == 0 {
			s.metrics.Unavailable.Add(1)
			s.respond(tx, req, 480, "Temporarily Unavailable (user not registered)")
			return
		}
		ts := make([]target, 0, len(bs))
		for _, b := range bs {
			if t, ok := s.targetOf(b); ok {
				ts = append(ts, t)
			}
		}
		s.proxyInvite(req, tx, ts, true)
	default:
		if len(bs) == 0 {
			s.metrics.Unavailable.Add(1)
			s.respond(tx, req, 480, "Temporarily Unavailable (user not registered)")
			return
		}
		s.proxySequential(req, tx, bs, nil)
	}
}

// target is where one branch goes: the contact as Request-URI, and the
// node holding the binding as the next hop when it is another node.
type target struct {
	uri   sip.Uri
	route *sip.Uri
	b     store.Binding
}

func (s *Server) targetOf(b store.Binding) (target, bool) {
	var u sip.Uri
	if err := sip.ParseUri(b.Contact, &u); err != nil {
		s.log.Warn("unparsable contact in location store", "aor", b.AOR, "contact", b.Contact)
		return target{}, false
	}
	t := target{uri: u, b: b}
	if b.Node != "" && b.Node != s.Node() && s.cfg.ClusterSecret != "" {
		var n sip.Uri
		if err := sip.ParseUri(b.Node, &n); err == nil {
			if n.UriParams == nil {
				n.UriParams = sip.NewParams()
			}
			if !n.UriParams.Has("lr") {
				n.UriParams.Add("lr", "")
			}
			t.route = &n
		}
	}
	return t, true
}

// branchFor builds the request for one branch (§16.6): new Request-URI,
// Max-Forwards decremented, our Via on top, Record-Route when
// recordRoute, the route to the owning node.
func (s *Server) branchFor(req *sip.Request, t target, recordRoute bool) (*sip.Request, error) {
	r := sip.NewRequest(req.Method, *t.uri.Clone())
	r.SipVersion = req.SipVersion
	for _, h := range req.CloneHeaders() {
		r.AppendHeader(h)
	}
	r.RemoveHeader(nodeHeader)
	if b := req.Body(); b != nil {
		r.SetBody(b)
	} else {
		r.SetBody(nil)
	}
	if mf := r.MaxForwards(); mf != nil {
		mf.Dec()
	} else {
		m := sip.MaxForwardsHeader(69)
		r.AppendHeader(&m)
	}
	next := t.uri
	if t.route != nil {
		r.PrependHeader(&sip.RouteHeader{Address: *t.route.Clone()})
		r.AppendHeader(sip.NewHeader(nodeHeader, s.nodeToken(r, time.Now())))
		next = *t.route
	} else if rt := r.Route(); rt != nil {
		next = rt.Address
	}
	tp := transportOf(next)
	if tp == "UDP" && len(r.Body()) > 1000 {
		// RFC 3261 §18.1.1: close to the MTU, use a congestion-controlled
		// transport.
		tp = "TCP"
	}
	out, ok := s.listenerFor(tp)
	if !ok {
		return nil, errors.New("no listener")
	}
	if recordRoute {
		in := strings.ToUpper(req.Transport())
		if in != tp {
			if l, ok := s.listenerFor(in); ok {
				r.PrependHeader(s.recordRoute(l, in))
			}
		}
		r.PrependHeader(s.recordRoute(out, tp))
	}
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: tp, Host: strings.Trim(out.host, "[]"), Port: out.port, Params: sip.NewParams()}
	via.Params.Add("branch", branchMagic+s.loopHash(req)+"."+randHex(8))
	r.PrependHeader(via)
	r.SetTransport(tp)
	host := next.Host
	port := next.Port
	if port == 0 {
		port = int(sip.DefaultPort(tp))
	}
	r.SetDestination(strings.Trim(host, "[]") + ":" + strconv.Itoa(port))
	if strings.Contains(host, ":") {
		r.SetDestination("[" + strings.Trim(host, "[]") + "]:" + strconv.Itoa(port))
	}
	return r, nil
}

func (s *Server) recordRoute(l hostPort, tp string) *sip.RecordRouteHeader {
	u := sip.Uri{Scheme: "sip", Host: l.host, Port: l.port, UriParams: sip.NewParams()}
	if tp == "TLS" {
		u.Scheme = "sips"
	} else {
		u.UriParams.Add("transport", strings.ToLower(tp))
	}
	u.UriParams.Add("lr", "")
	return &sip.RecordRouteHeader{Address: u}
}

func transportOf(u sip.Uri) string {
	tp := "UDP"
	if v, ok := u.UriParams.Get("transport"); ok && v != "" {
		tp = strings.ToUpper(v)
	}
	if u.Scheme == "sips" {
		tp = "TLS"
	}
	return tp
}

// noBuild makes sipgo send a request as built (an option list that is
// not empty skips its own header building).
func noBuild(*sipgo.Client, *sip.Request) error { return nil }

// send starts a client transaction for a branch.
func (s *Server) send(ctx context.Context, r *sip.Request) (sip.ClientTransaction, error) {
	return s.cli.TransactionRequest(ctx, r, noBuild)
}

// relay sends a downstream response upstream (§16.7 step 9): our Via
// removed.
func (s *Server) relay(tx sip.ServerTransaction, req *sip.Request, res *sip.Response) error {
	out := res.Clone()
	out.RemoveHeader("Via")
	// §18.2.2: back where the request came from (sipgo's clone would
	// keep the address of our own Via).
	out.SetDestination(req.Source())
	out.SetTransport(req.Transport())
	out.SetSource("")
	return tx.Respond(out)
}

// finalOf waits for the final response of a branch. Provisional
// responses go to onProvisional (may be nil).
func finalOf(ctx context.Context, ctx2 sip.ClientTransaction, onProvisional func(*sip.Response)) (*sip.Response, error) {
	for {
		select {
		case res := <-ctx2.Responses():
			if res.IsProvisional() {
				if onProvisional != nil {
					onProvisional(res)
				}
				continue
			}
			return res, nil
		case <-ctx2.Done():
			if err := ctx2.Err(); err != nil {
				return nil, err
			}
			return nil, errors.New("transaction ended without a final response")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// proxySingle forwards req to one target and relays the final response.
func (s *Server) proxySingle(req *sip.Request, tx sip.ServerTransaction, u sip.Uri, route *sip.Uri) {
	t := target{uri: u, route: route}
	if req.IsInvite() {
		// A new dialog (outbound, or through the owning node) is
		// record-routed; a re-INVITE keeps the dialog's route set.
		s.proxyInvite(req, tx, []target{t}, !hasToTag(req))
		return
	}
	s.proxyTargets(req, tx, []target{t})
}

// proxySequential tries the bindings one after the other (highest q
// first, §16.6) until one answers something other than a timeout,
// transport failure, 408, 480 or 5xx. failed, if set, is called when no
// device could be reached and takes over the response (store-and-forward).
func (s *Server) proxySequential(req *sip.Request, tx sip.ServerTransaction, bs []store.Binding, failed func()) {
	ts := make([]target, 0, len(bs))
	for _, b := range bs {
		if t, ok := s.targetOf(b); ok {
			ts = append(ts, t)
		}
	}
	if !s.tryTargets(req, tx, ts) {
		if failed != nil {
			failed()
			return
		}
		s.metrics.Unavailable.Add(1)
		s.respond(tx, req, 480, "Temporarily Unavailable (no device answered)")
	}
}

func (s *Server) proxyTargets(req *sip.Request, tx sip.ServerTransaction, ts []target) {
	if !s.tryTargets(req, tx, ts) {
		s.respond(tx, req, 408, "Request Timeout (next hop unreachable)")
	}
}

// tryTargets forwards a non-INVITE request to each target in turn and
// relays the first useful final response; it reports false when none
// gave one (nothing was sent upstream then).
func (s *Server) tryTargets(req *sip.Request, tx sip.ServerTransaction, ts []target) bool {
	start := time.Now()
	for i, t := range ts {
		r, err := s.branchFor(req, t, false)
		if err != nil {
			s.log.Warn("cannot build branch", "target", t.uri.String(), "err", err)
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DeliveryTimeout)
		res, err := s.do(ctx, r)
		cancel()
		if err != nil {
			s.log.Info("branch failed", "method", req.Method, "target", t.uri.String(), "err", err)
			continue
		}
		retry := res.StatusCode == 408 || res.StatusCode == 480 || res.StatusCode >= 500 && res.StatusCode < 600
		if retry && i < len(ts)-1 {
			continue
		}
		if retry && req.Method == sip.MESSAGE {
			return false
		}
		if res.IsSuccess() && req.Method == sip.MESSAGE {
			s.metrics.Forwards.Add(1)
			s.metrics.ForwardMicros.Add(uint64(time.Since(start).Microseconds()))
			s.metrics.Messages.Add(1)
			s.metrics.MessageBytes.Add(uint64(len(req.Body())))
			s.recordHistory(req, res.StatusCode)
		}
		if err := s.relay(tx, req, res); err != nil {
			s.log.Debug("relay response", "err", err)
		}
		return true
	}
	return false
}

// do sends one non-INVITE branch and waits for its final response.
func (s *Server) do(ctx context.Context, r *sip.Request) (*sip.Response, error) {
	ctx2, err := s.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer ctx2.Terminate()
	return finalOf(ctx, ctx2, nil)
}

// forwardInDialog forwards a request with a To tag along its route set
// (§16.4, §16.6 step 6), or to its Request-URI (the remote target).
func (s *Server) forwardInDialog(req *sip.Request, tx sip.ServerTransaction) {
	if s.isSelf(req.Recipient) && req.Route() == nil {
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	// Only dialogs this proxy set up are routed (otherwise a To tag would
	// make this an open relay). Dialogs do not survive a restart: their
	// requests then get 481 and the UAs end them (RFC 3261 §12.2.1.2).
	if h := req.CallID(); h == nil || !s.knownDialog(h.Value()) {
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist (no dialog through this proxy)")
		return
	}
	if req.Method == sip.BYE {
		id := req.CallID().Value()
		s.dialogEnded(id)
		defer s.endCPIM(id)
	}
	s.proxySingle(req, tx, req.Recipient, nil)
}

// forwardAck forwards an ACK for a 2xx (§16.6; ACKs for non-2xx finals
// are absorbed by the transaction layer).
func (s *Server) forwardAck(req *sip.Request) {
	if s.isSelf(req.Recipient) && req.Route() == nil {
		return
	}
	if h := req.CallID(); h == nil || !s.knownDialog(h.Value()) {
		return
	}
	r, err := s.branchFor(req, target{uri: req.Recipient}, false)
	if err != nil {
		return
	}
	if err := s.cli.WriteRequest(r, noBuild); err != nil {
		s.log.Debug("forward ACK", "err", err)
	}
}

// proxyInvite forks an INVITE to every binding in parallel (§16.7): the
// first 2xx is relayed and the other branches are CANCELled; when every
// branch failed, the best final response is relayed (§16.7 step 6).
func (s *Server) proxyInvite(req *sip.Request, tx sip.ServerTransaction, ts []target, newDialog bool) {
	ctx, cancel := context.WithTimeout(s.ctx, 3*time.Minute) // Timer C
	defer cancel()

	var offer *messagesdp.Description
	var rewrite []byte
	if newDialog {
		offer, rewrite = s.rewriteOffer(req)
	}

	type branch struct {
		req *sip.Request
		ctx sip.ClientTransaction
	}
	var (
		mu       sync.Mutex
		branches []*branch
		answered bool
		best     *sip.Response
	)
	cancelOthers := func(except *branch) {
		for _, b := range branches {
			if b != except {
				s.cancelBranch(b.req)
			}
		}
	}
	tx.OnCancel(func(*sip.Request) {
		// sipgo answered the CANCEL (200) and the INVITE (487).
		mu.Lock()
		answered = true
		mu.Unlock()
		cancelOthers(nil)
	})
	type result struct {
		b   *branch
		res *sip.Response
		err error
	}
	results := make(chan result, len(ts))
	for _, t := range ts {
		mu.Lock()
		stop := answered
		mu.Unlock()
		if stop {
			break // CANCELled meanwhile
		}
		r, err := s.branchFor(req, t, newDialog)
		if err != nil {
			continue
		}
		if rewrite != nil {
			r.SetBody(rewrite)
			if r.GetHeader(nodeHeader) != nil { // the token covers the body
				r.ReplaceHeader(sip.NewHeader(nodeHeader, s.nodeToken(r, time.Now())))
			}
		}
		ct, err := s.send(ctx, r)
		if err != nil {
			s.log.Info("INVITE branch failed", "target", t.uri.String(), "err", err)
			continue
		}
		b := &branch{req: r, ctx: ct}
		mu.Lock()
		branches = append(branches, b)
		mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			res, err := finalOf(ctx, ct, func(p *sip.Response) {
				if p.StatusCode == 100 {
					return // §16.7 step 5: 100 is not forwarded
				}
				mu.Lock()
				done := answered
				mu.Unlock()
				if !done {
					s.relay(tx, req, p)
				}
			})
			if err != nil && ctx.Err() != nil {
				s.cancelBranch(b.req) // Timer C (§16.8)
			}
			results <- result{b, res, err}
		}()
	}
	n := len(branches)
	if n == 0 {
		s.metrics.Unavailable.Add(1)
		s.respond(tx, req, 480, "Temporarily Unavailable (no device reachable)")
		return
	}
	var winner *branch
	for range n {
		r := <-results
		if r.err != nil {
			continue
		}
		res := r.res
		mu.Lock()
		if res.IsSuccess() {
			if !answered {
				answered = true
				winner = r.b
				mu.Unlock()
				cancelOthers(r.b)
				if offer != nil {
					res = s.installCPIM(ctx, req, offer, res)
				}
				if newDialog {
					s.metrics.Sessions.Add(1)
					if h := res.CallID(); h != nil {
						s.dialogStarted(h.Value())
					}
				}
				s.relay(tx, req, res)
				continue
			}
			mu.Unlock()
			// A second 2xx from another device: this proxy ends that
			// dialog itself (ACK then BYE) instead of handing the
			// caller a second dialog.
			s.endExtraDialog(r.b.req, res)
			continue
		}
		if best == nil || better(res.StatusCode, best.StatusCode) {
			best = res
		}
		mu.Unlock()
	}
	mu.Lock()
	done := answered
	mu.Unlock()
	_ = winner
	if done {
		return
	}
	if best == nil {
		s.respond(tx, req, 408, "Request Timeout (no device answered)")
		return
	}
	s.relay(tx, req, best)
}

// better chooses between final responses (§16.7 step 6): 6xx first, then
// the lowest class, 401/407 before other 4xx.
func better(a, b int) bool {
	ca, cb := a/100, b/100
	if ca == 6 || cb == 6 {
		return ca == 6 && cb != 6
	}
	if ca != cb {
		return ca < cb
	}
	return a == 401 || a == 407
}

// cancelBranch sends CANCEL for a pending INVITE branch (§16.10, §9.1).
func (s *Server) cancelBranch(inv *sip.Request) {
	c := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	c.SipVersion = inv.SipVersion
	if v := inv.Via(); v != nil {
		c.AppendHeader(v.Clone())
	}
	for _, h := range inv.GetHeaders("Route") {
		c.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	for _, name := range []string{"From", "To", "Call-ID"} {
		if h := inv.GetHeader(name); h != nil {
			c.AppendHeader(sip.HeaderClone(h))
		}
	}
	if cs := inv.CSeq(); cs != nil {
		c.AppendHeader(&sip.CSeqHeader{SeqNo: cs.SeqNo, MethodName: sip.CANCEL})
	}
	c.SetBody(nil)
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		if _, err := s.do(ctx, c); err != nil {
			s.log.Debug("CANCEL", "err", err)
		}
	}()
}

// endExtraDialog ACKs and BYEs a dialog created by a late 2xx of a forked
// INVITE.
func (s *Server) endExtraDialog(inv *sip.Request, res *sip.Response) {
	to := res.To()
	if to == nil {
		return
	}
	var remote sip.Uri
	if c := res.Contact(); c != nil {
		remote = c.Address
	} else {
		remote = inv.Recipient
	}
	build := func(m sip.RequestMethod, seq uint32) *sip.Request {
		r := sip.NewRequest(m, *remote.Clone())
		r.AppendHeader(sip.HeaderClone(inv.From()))
		r.AppendHeader(sip.HeaderClone(to))
		r.AppendHeader(sip.HeaderClone(inv.CallID()))
		r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: m})
		mf := sip.MaxForwardsHeader(70)
		r.AppendHeader(&mf)
		tp := transportOf(remote)
		l, _ := s.listenerFor(tp)
		via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: tp, Host: strings.Trim(l.host, "[]"), Port: l.port, Params: sip.NewParams()}
		via.Params.Add("branch", branchMagic+randHex(12))
		r.PrependHeader(via)
		r.SetTransport(tp)
		r.SetBody(nil)
		return r
	}
	seq := inv.CSeq().SeqNo
	if err := s.cli.WriteRequest(build(sip.ACK, seq), noBuild); err != nil {
		s.log.Debug("ACK extra 2xx", "err", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		if _, err := s.do(ctx, build(sip.BYE, seq+1)); err != nil {
			s.log.Debug("BYE extra dialog", "err", err)
		}
	}()
}

// ---- helpers ----

func hasToTag(req *sip.Request) bool {
	to := req.To()
	if to == nil {
		return false
	}
	t, ok := to.Params.Get("tag")
	return ok && t != ""
}

// loopHash covers what a looping request keeps unchanged and a spiral
// changes (§16.3 step 4): Request-URI, From tag, Call-ID, CSeq number and
// the Route headers.
func (s *Server) loopHash(req *sip.Request) string {
	h := sha256.New()
	h.Write(s.loopSalt[:]) // per server: another node's Via is not ours
	h.Write([]byte(req.Recipient.String()))
	if f := req.From(); f != nil {
		t, _ := f.Params.Get("tag")
		h.Write([]byte("|" + t))
	}
	if c := req.CallID(); c != nil {
		h.Write([]byte("|" + c.Value()))
	}
	if c := req.CSeq(); c != nil {
		h.Write([]byte("|" + strconv.FormatUint(uint64(c.SeqNo), 10)))
	}
	for _, r := range req.GetHeaders("Route") {
		h.Write([]byte("|" + r.Value()))
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// looped reports whether one of the Vias is ours with the same loop hash
// (the request came back unchanged: a loop, not a spiral).
func (s *Server) looped(req *sip.Request) bool {
	want := branchMagic + s.loopHash(req) + "."
	for _, h := range req.GetHeaders("Via") {
		v, ok := h.(*sip.ViaHeader)
		if !ok {
			continue
		}
		if b, _ := v.Params.Get("branch"); strings.HasPrefix(b, want) {
			return true
		}
	}
	return false
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func removeOwnCredentials(req *sip.Request, realm string) {
	hs := req.GetHeaders("Proxy-Authorization")
	if len(hs) == 0 {
		return
	}
	keep := make([]sip.Header, 0, len(hs))
	for _, h := range hs {
		if !strings.Contains(h.Value(), `realm="`+realm+`"`) {
			keep = append(keep, h)
		}
	}
	for req.RemoveHeader("Proxy-Authorization") {
	}
	for _, h := range keep {
		req.AppendHeader(h)
	}
}
