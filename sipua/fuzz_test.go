package sipua

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"bytes"
	"github.com/emiago/sipgo/sip"
	"strings"
	"testing"
)

// FuzzSummarizeSDP: the display summary of an SDP offer never panics and
// reports at most one entry per m= line, each with a proto.
func FuzzSummarizeSDP(f *testing.F) {
	f.Add(fakeSDP("abc", "TCP/MSRP", 1))
	f.Add([]byte("v=0\r\nm=message 0 TCP/MSRP *\r\na=accept-types:\r\na=max-size:-5\r\nm=audio\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := summarizeSDP(b)
		if n := bytes.Count(b, []byte("m=")); len(got) > n {
			t.Fatalf("%d summaries from %d m= lines", len(got), n)
		}
		for _, m := range got {
			if m.Proto == "" || m.MaxSize < 0 {
				t.Fatalf("bad summary %+v", m)
			}
		}
	})
}

// FuzzParseTarget: target parsing never panics and accepts only sip: and
// sips: URIs with a host and no characters that could inject headers.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"sip:bob@127.0.0.1:5062", "sips:bob@example.com;transport=tcp", "im:bob@example.com", "tel:+1", "sip:\r\nX:y", "sip:@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseTarget(s)
		if err != nil {
			return
		}
		if (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" || strings.ContainsAny(s, "\r\n") {
			t.Fatalf("accepted %q as %+v", s, u)
		}
	})
}

func TestSummarizeSDP(t *testing.T) {
	sdp := "v=0\r\nm=message 7394 TCP/MSRP *\r\na=accept-types:message/cpim text/plain\r\na=max-size:4096\r\nm=message 0 cpim/tcp text/plain\n"
	got := summarizeSDP([]byte(sdp))
	if len(got) != 2 || got[0].Port != 7394 || got[0].Proto != "TCP/MSRP" || len(got[0].AcceptTypes) != 2 || got[0].MaxSize != 4096 || got[1].Port != 0 || got[1].Proto != "cpim/tcp" {
		t.Fatalf("got %+v", got)
	}
}

func TestTypeAccepted(t *testing.T) {
	for _, c := range []struct {
		ct     string
		accept []string
		want   bool
	}{
		{"text/plain", []string{"text/plain"}, true},
		{"text/plain; charset=utf-8", []string{"text/plain"}, true},
		{"TEXT/Plain", []string{"text/plain"}, true},
		{"text/html", []string{"text/*"}, true},
		{"image/png", []string{"*"}, true},
		{"image/png", []string{"*/*"}, true},
		{"message/cpim", []string{"text/plain"}, false},
		{"garbage", []string{"*"}, false},
	} {
		if got := typeAccepted(c.ct, c.accept); got != c.want {
			t.Errorf("typeAccepted(%q, %v) = %v", c.ct, c.accept, got)
		}
	}
}

func TestQueueKey(t *testing.T) {
	a, _ := parseTarget("sip:bob@Example.COM:5060;transport=tcp")
	b, _ := parseTarget("sip:bob@example.com:5060")
	c, _ := parseTarget("sip:carol@example.com:5060")
	if queueKey(a) != queueKey(b) || queueKey(a) == queueKey(c) {
		t.Errorf("keys %q %q %q", queueKey(a), queueKey(b), queueKey(c))
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{fmt.Errorf("Timer_B timed out. %w", sip.ErrTransactionTimeout), ErrTimeout},
		{fmt.Errorf("TLS handshake error: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), ErrTLSVerify},
		{fmt.Errorf("x: %w", x509.HostnameError{Host: "h", Certificate: &x509.Certificate{}}), ErrTLSVerify},
		{tls.AlertError(48), ErrTLSVerify},
	} {
		if got := classify("OP", c.err); !errors.Is(got, c.want) || !errors.Is(got, c.err) {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if classify("OP", nil) != nil {
		t.Error("classify(nil) != nil")
	}
	if got := classify("OP", errors.New("boom")); errors.Is(got, ErrTimeout) || errors.Is(got, ErrTLSVerify) {
		t.Errorf("plain error classified: %v", got)
	}
}
