package sipserver

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawSIP sends one hand-written request (placeholders {TP} {VIA} {ID}
// filled in) to s over transport ("udp" or "tcp") and returns the status
// code and reason phrase of the final response.
func rawSIP(t *testing.T, s *testServer, transport, id, msg string) (int, string) {
	t.Helper()
	nc, err := net.Dial(transport, s.Addr(transport))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg = strings.NewReplacer("{TP}", strings.ToUpper(transport), "{VIA}", nc.LocalAddr().String(), "{ID}", id).Replace(msg)
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	var r *bufio.Reader
	if transport == "udp" {
		buf := make([]byte, 65535)
		for {
			n, err := nc.Read(buf)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			r = bufio.NewReader(strings.NewReader(string(buf[:n])))
			code, reason := statusLine(t, r)
			if code >= 200 {
				return code, reason
			}
		}
	}
	r = bufio.NewReader(nc)
	for {
		code, reason := statusLine(t, r)
		// Skip the rest of the head (responses here have no body).
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			if l == "\r\n" {
				break
			}
		}
		if code >= 200 {
			return code, reason
		}
	}
}

func statusLine(t *testing.T, r *bufio.Reader) (int, string) {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	parts := strings.SplitN(strings.TrimRight(l, "\r\n"), " ", 3)
	if len(parts) < 3 || parts[0] != "SIP/2.0" {
		t.Fatalf("bad status line %q", l)
	}
	code, err := strconv.Atoi(parts[1])
	if err != nil {
		t.Fatalf("bad status line %q", l)
	}
	return code, parts[2]
}

// rawMessage is a MESSAGE from a foreign user to bob (not challenged)
// with the given Call-ID and CSeq lines (either may be "") and extra
// header lines.
func rawMessage(callID, cseq, extra string) string {
	return "MESSAGE sip:bob@" + domain + " SIP/2.0\r\n" +
		"Via: SIP/2.0/{TP} {VIA};branch=z9hG4bK-{ID};rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:mallory@elsewhere.test>;tag=t{ID}\r\n" +
		"To: <sip:bob@" + domain + ">\r\n" +
		callID + cseq + extra +
		"Content-Type: text/plain\r\n" +
		"Content-Length: 2\r\n\r\nhi"
}

// TestMalformedRequests: requests RFC 3261 §8.1.1 makes malformed get 400
// with the reason in the phrase before anything is stored (FINDINGS.md
// F7), over UDP and TCP; a well-formed one is still stored.
func TestMalformedRequests(t *testing.T) {
	const cid, cs = "Call-ID: {ID}@test\r\n", "CSeq: 1 MESSAGE\r\n"
	cases := []struct {
		name, msg, reason string
	}{
		{"no call-id", rawMessage("", cs, ""), "no Call-ID"},
		{"two call-ids", rawMessage(cid+"i: other@test\r\n", cs, ""), "more than one Call-ID"},
		{"cseq method mismatch", rawMessage(cid, "CSeq: 1 INVITE\r\n", ""), "CSeq method"},
		{"no cseq", rawMessage(cid, "", ""), ""}, // sipgo's transaction layer answers 400 itself
		{"two cseqs", rawMessage(cid, cs+"CSeq: 2 MESSAGE\r\n", ""), "more than one CSeq"},
		{"nul in header", rawMessage(cid, cs, "Subject: a\x00b\r\n"), "control character in the Subject header"},
		{"escape in header", rawMessage(cid, cs, "Subject: a\x1bb\r\n"), "control character"},
		{"control in from name", strings.Replace(rawMessage(cid, cs, ""), "From: <", "From: \"a\x01b\" <", 1), "control character in the From header"},
		{"control in call-id", rawMessage("Call-ID: a\x7fb\r\n", cs, ""), "control character in the Call-ID header"},
		{"control in via param", strings.Replace(rawMessage(cid, cs, ""), ";rport", ";rport;x=a\x02", 1), "control character in the Via header"},
		{"control in request-uri", strings.Replace(rawMessage(cid, cs, ""), "MESSAGE sip:bob@", "MESSAGE sip:b\x01ob@", 1), "control character in the Request-URI"},
		{"control in contact", rawMessage(cid, cs, "Contact: <sip:m\x03@127.0.0.1>\r\n"), "control character in the Contact header"},
		{"two max-forwards", rawMessage(cid, cs, "Max-Forwards: 69\r\n"), "more than one Max-Forwards"},
		{"no from tag", strings.Replace(rawMessage(cid, cs, ""), ";tag=t{ID}", "", 1), "From has no tag"},
		{"two tos", rawMessage(cid, cs, "To: <sip:carol@"+domain+">\r\n"), "not exactly one To"},
		{"register without call-id", "REGISTER sip:" + domain + " SIP/2.0\r\n" +
			"Via: SIP/2.0/{TP} {VIA};branch=z9hG4bK-{ID};rport\r\nMax-Forwards: 70\r\n" +
			"From: <sip:bob@" + domain + ">;tag=r{ID}\r\nTo: <sip:bob@" + domain + ">\r\n" +
			"CSeq: 1 REGISTER\r\nContact: <sip:bob@127.0.0.1:7001>\r\nContent-Length: 0\r\n\r\n", "no Call-ID"},
	}
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			s := newTestServer(t, nil, Config{}, "bob")
			for i, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					code, reason := rawSIP(t, s, tr, "bad"+strconv.Itoa(i)+tr, c.msg)
					if c.reason == "" && code == 400 && strings.HasPrefix(reason, "Bad Request") {
						return
					}
					if code != 400 || !strings.HasPrefix(reason, "Bad Request (") || !strings.Contains(reason, c.reason) {
						t.Errorf("%d %q, want 400 with %q", code, reason, c.reason)
					}
				})
			}
			// Nothing was stored or bound.
			if p, err := s.st.Pending(t.Context(), "sip:bob@"+domain, 0); err != nil || len(p) != 0 {
				t.Errorf("%d messages stored from malformed requests (%v)", len(p), err)
			}
			if bs, err := s.st.Lookup(t.Context(), "sip:bob@"+domain); err != nil || len(bs) != 0 {
				t.Errorf("%d bindings from malformed requests (%v)", len(bs), err)
			}
			// The harness reaches the store: a well-formed MESSAGE is
			// stored (202), and so is one without Max-Forwards (§16.3
			// step 3 passes it).
			if code, reason := rawSIP(t, s, tr, "good"+tr, rawMessage("Call-ID: good@test\r\n", "CSeq: 1 MESSAGE\r\n", "")); code != 202 {
				t.Fatalf("well-formed MESSAGE: %d %q, want 202", code, reason)
			}
			noMF := strings.Replace(rawMessage("Call-ID: nomf@test\r\n", "CSeq: 1 MESSAGE\r\n", ""), "Max-Forwards: 70\r\n", "", 1)
			if code, reason := rawSIP(t, s, tr, "nomf"+tr, noMF); code != 202 {
				t.Fatalf("MESSAGE without Max-Forwards: %d %q, want 202", code, reason)
			}
			if p, err := s.st.Pending(t.Context(), "sip:bob@"+domain, 0); err != nil || len(p) != 2 {
				t.Errorf("%d messages stored, want 2 (%v)", len(p), err)
			}
		})
	}
}

func TestValidateRequestText(t *testing.T) {
	for _, c := range []struct {
		v   string
		bad bool
	}{
		{"plain text", false},
		{"tab\tinside", false},
		{"utf-8 é", false},
		{"nul\x00", true},
		{"cr\r", true},
		{"del\x7f", true},
	} {
		if got := badText(c.v); got != c.bad {
			t.Errorf("badText(%q) = %v, want %v", c.v, got, c.bad)
		}
	}
	if got := headerLabel("X-Weird<>"); got != "a header" {
		t.Errorf("headerLabel of a strange name: %q", got)
	}
}
