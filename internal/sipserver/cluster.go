package sipserver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// nodeTokenWindow is how far the timestamp of a Parley-Node token may be
// from our clock (either way) for the token to be accepted.
const nodeTokenWindow = 60 * time.Second

// nodeToken is what a node puts in the Parley-Node header of a request it
// routes through the node holding the binding, so that node trusts the
// request (the sender was authenticated here):
//
//	Parley-Node: t=<unix seconds>;mac=<32 hex digits>
//
// mac is an HMAC-SHA-256, keyed with Config.ClusterSecret and cut to 128
// bits, of the timestamp and of what makes the request this request: its
// method, Request-URI, From and To URIs, Call-ID, CSeq and a hash of its
// body. A captured header is thus worth nothing on any other request, and
// nothing after nodeTokenWindow; within the window only the very same
// request can carry it (a replay the transaction layer of the receiving
// node absorbs as a retransmission while its transaction lasts).
func (s *Server) nodeToken(req *sip.Request, now time.Time) string {
	if s.cfg.ClusterSecret == "" {
		return ""
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	return "t=" + ts + ";mac=" + hex.EncodeToString(s.nodeMAC(req, ts))
}

func (s *Server) nodeMAC(req *sip.Request, ts string) []byte {
	m := hmac.New(sha256.New, []byte(s.cfg.ClusterSecret))
	field := func(v string) {
		m.Write([]byte(v))
		m.Write([]byte{0})
	}
	field("parley-node/1")
	field(ts)
	field(string(req.Method))
	field(req.Recipient.String())
	if f := req.From(); f != nil {
		field(f.Address.String())
	} else {
		field("")
	}
	if t := req.To(); t != nil {
		field(t.Address.String())
	} else {
		field("")
	}
	if c := req.CallID(); c != nil {
		field(c.Value())
	} else {
		field("")
	}
	if c := req.CSeq(); c != nil {
		field(strconv.FormatUint(uint64(c.SeqNo), 10) + " " + string(c.MethodName))
	} else {
		field("")
	}
	body := sha256.Sum256(req.Body())
	m.Write(body[:])
	return m.Sum(nil)[:16]
}

// checkNodeToken reports whether v is a valid token for req at now.
func (s *Server) checkNodeToken(req *sip.Request, v string, now time.Time) bool {
	if s.cfg.ClusterSecret == "" {
		return false
	}
	var ts, mac string
	for _, p := range strings.Split(strings.TrimSpace(v), ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch k {
		case "t":
			ts = val
		case "mac":
			mac = val
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ts != strconv.FormatInt(sec, 10) {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > nodeTokenWindow || d < -nodeTokenWindow {
		return false
	}
	got, err := hex.DecodeString(mac)
	if err != nil {
		return false
	}
	return hmac.Equal(got, s.nodeMAC(req, ts)) // constant time
}

// trustedNode reports whether req comes from a node of our cluster (a
// valid Parley-Node token), and strips the header either way.
func (s *Server) trustedNode(req *sip.Request) bool {
	hs := req.GetHeaders(nodeHeader)
	if len(hs) == 0 {
		return false
	}
	ok := len(hs) == 1 && s.checkNodeToken(req, hs[0].Value(), time.Now())
	for req.RemoveHeader(nodeHeader) {
	}
	if !ok {
		s.log.Info("ignored an invalid "+nodeHeader+" header", "source", req.Source())
	}
	return ok
}
