package sipserver

import (
	"context"

	"github.com/emiago/sipgo/sip"
	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/messagesdp"
)

// rewriteOffer rewrites the cpim/tcp and cpim/tls lines of an INVITE's
// SDP offer to go through the CPIM session relay (seed draft §7). It
// returns the parsed original offer and the body to forward, both nil
// when there is nothing to rewrite. MSRP lines are left alone: MSRP
// endpoints use the RFC 4976 relay themselves (AUTH, a=path).
func (s *Server) rewriteOffer(req *sip.Request) (*messagesdp.Description, []byte) {
	if s.cfg.CPIMRelay == nil || len(req.Body()) == 0 {
		return nil, nil
	}
	d, err := messagesdp.Parse(req.Body())
	if err != nil {
		return nil, nil
	}
	orig, err := messagesdp.Parse(req.Body())
	if err != nil {
		return nil, nil
	}
	changed := false
	for i, st := range d.Streams {
		if st.Media == nil || !messagesdp.IsCPIM(st.Media.Proto) || st.Media.Port == 0 {
			continue
		}
		m, err := s.cfg.CPIMRelay.RewriteOffer(st.Media, "")
		if err != nil {
			s.log.Warn("cpim relay: cannot rewrite offer", "err", err)
			return nil, nil
		}
		d.Streams[i].Media = m
		changed = true
	}
	if !changed {
		return nil, nil
	}
	return orig, d.Marshal()
}

// installCPIM installs the relayed sessions of a 2xx answer to req and
// returns the response with its SDP rewritten to point at the relay. The
// relay learns the session's parties from the INVITE's From and To (a
// From of ours was authenticated by the proxy, 407), so that history is
// recorded for the right users whatever the session's messages claim.
func (s *Server) installCPIM(ctx context.Context, req *sip.Request, offer *messagesdp.Description, res *sip.Response) *sip.Response {
	ans, err := messagesdp.Parse(res.Body())
	if err != nil {
		return res
	}
	callID := ""
	if h := res.CallID(); h != nil {
		callID = h.Value()
	}
	var sessions []*cpimtransport.RelaySession
	for i, st := range ans.Streams {
		if st.Media == nil || !messagesdp.IsCPIM(st.Media.Proto) || st.Media.Port == 0 || i >= len(offer.Streams) || offer.Streams[i].Media == nil {
			continue
		}
		m, rs, err := s.cfg.CPIMRelay.InstallFor(ctx, offer.Streams[i].Media, st.Media, parties(req))
		if err != nil {
			s.log.Warn("cpim relay: cannot install session", "call_id", callID, "err", err)
			continue
		}
		ans.Streams[i].Media = m
		sessions = append(sessions, rs)
	}
	if len(sessions) == 0 {
		return res
	}
	s.mu.Lock()
	s.cpimSess[callID] = append(s.cpimSess[callID], sessions...)
	s.mu.Unlock()
	out := res.Clone()
	out.SetBody(ans.Marshal())
	return out
}

// parties names the users of an INVITE's sessions: From and To AORs.
func parties(req *sip.Request) cpimtransport.Parties {
	var p cpimtransport.Parties
	if f := req.From(); f != nil && f.Address.User != "" {
		p.Offerer = aorOf(f.Address)
	}
	if t := req.To(); t != nil && t.Address.User != "" {
		p.Answerer = aorOf(t.Address)
	}
	return p
}

// endCPIM removes the relayed sessions of a dialog (its BYE).
func (s *Server) endCPIM(callID string) {
	s.mu.Lock()
	ss := s.cpimSess[callID]
	delete(s.cpimSess, callID)
	s.mu.Unlock()
	for _, rs := range ss {
		rs.Close()
	}
}
