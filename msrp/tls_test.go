package msrp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

func selfSigned(t testing.TB, hosts ...string) tls.Certificate {
	t.Helper()
	c, err := SelfSignedCertificate(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newTLSEndpoint(t testing.TB, cfg Config, listen bool) *Endpoint {
	t.Helper()
	e := newTestEndpoint(t, cfg, false)
	if listen {
		if _, err := e.ListenTLS(context.Background(), "tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// tlsPair runs offer/answer for TCP/TLS/MSRP; edit may alter the answer
// before the offerer sees it.
func tlsPair(t *testing.T, a, b *Endpoint, editOffer, editAnswer func(*messagesdp.Media)) (*Session, *Session, error, error) {
	t.Helper()
	ctx := testCtx(t)
	off, err := a.OfferWith(ctx, session.Options{}, SessionOptions{Proto: messagesdp.ProtoMSRPS})
	if err != nil {
		t.Fatal(err)
	}
	om := *off.Media()
	if editOffer != nil {
		editOffer(&om)
	}
	ans, err := b.Answer(ctx, &om, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	am := *ans.Media()
	if editAnswer != nil {
		editAnswer(&am)
	}
	ch := make(chan error, 1)
	var sb session.Session
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		var err error
		sb, err = ans.Open(actx)
		ch <- err
	}()
	sa, errA := off.OpenOffer(ctx, &am)
	if errA != nil {
		cancel()
	}
	errB := <-ch
	var sbs *Session
	if sb != nil {
		sbs = sb.(*Session)
	}
	return sa, sbs, errA, errB
}

func exchange(t *testing.T, sa, sb *Session) {
	t.Helper()
	if _, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", Body: []byte("secret")}); err != nil {
		t.Fatal(err)
	}
	if in := recv(t, sb); string(in.Body) != "secret" {
		t.Fatalf("got %q", in.Body)
	}
	if !sa.Conn().Secure() || !sb.Conn().Secure() {
		t.Fatal("connection is not TLS")
	}
}

func TestTLSHostnameVerification(t *testing.T) {
	good := selfSigned(t, "127.0.0.1", "localhost")
	wrong := selfSigned(t, "other.example")
	pool := x509.NewCertPool()
	pool.AddCert(good.Leaf)
	pool.AddCert(wrong.Leaf)
	for _, tc := range []struct {
		name   string
		server tls.Certificate
		roots  *x509.CertPool
		ok     bool
	}{
		{"verified", good, pool, true},
		{"wrong name", wrong, pool, false},
		{"unknown authority", good, x509.NewCertPool(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// No Certificate field: no a=fingerprint, so PKI decides.
			b := newTLSEndpoint(t, Config{TLS: &tls.Config{Certificates: []tls.Certificate{tc.server}}}, true)
			a := newTLSEndpoint(t, Config{TLS: &tls.Config{RootCAs: tc.roots}}, false)
			sa, sb, errA, errB := tlsPair(t, a, b, nil, nil)
			if !tc.ok {
				if errA == nil {
					t.Fatal("offerer connected despite a bad certificate")
				}
				var ce *tls.CertificateVerificationError
				if !errors.As(errA, &ce) {
					t.Fatalf("error %v is not a certificate verification error", errA)
				}
				if errB == nil {
					t.Fatal("answerer opened")
				}
				return
			}
			if errA != nil || errB != nil {
				t.Fatal(errA, errB)
			}
			exchange(t, sa, sb)
		})
	}
}

func TestTLSFingerprint(t *testing.T) {
	certA := selfSigned(t, "alice.invalid")
	certB := selfSigned(t, "bob.invalid")
	other := selfSigned(t, "mallory.invalid")
	otherFP, _ := CertificateFingerprint(&other)
	for _, tc := range []struct {
		name                string
		editOffer, editAns  func(*messagesdp.Media)
		wantErrA, wantErrB  bool
		wantFingerprintErrA bool
	}{
		{name: "match"},
		{name: "answer mismatch", editAns: func(m *messagesdp.Media) { m.Fingerprint = otherFP },
			wantErrA: true, wantErrB: true, wantFingerprintErrA: true},
		{name: "offer mismatch", editOffer: func(m *messagesdp.Media) { m.Fingerprint = otherFP },
			wantErrA: true, wantErrB: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTLSEndpoint(t, Config{Certificate: &certA}, false)
			b := newTLSEndpoint(t, Config{Certificate: &certB}, true)
			sa, sb, errA, errB := tlsPair(t, a, b, tc.editOffer, tc.editAns)
			if tc.wantErrA != (errA != nil) || tc.wantErrB != (errB != nil) {
				t.Fatalf("errors %v / %v", errA, errB)
			}
			if tc.wantFingerprintErrA && !errors.Is(errA, ErrFingerprint) {
				t.Fatalf("offerer error %v, want ErrFingerprint", errA)
			}
			if tc.name == "offer mismatch" {
				// The answerer saw the wrong fingerprint: it refused to bind
				// and failed its session with a clear error.
				if !errors.Is(errB, ErrFingerprint) && !strings.Contains(errB.Error(), "fingerprint") {
					t.Fatalf("answerer error %v", errB)
				}
			}
			if errA == nil {
				if !strings.HasPrefix(sa.Local().Fingerprint, "sha-256 ") {
					t.Fatalf("a=fingerprint %q", sa.Local().Fingerprint)
				}
				exchange(t, sa, sb)
			}
		})
	}
}

func TestFingerprintFormat(t *testing.T) {
	c := selfSigned(t, "x.invalid")
	fp, err := CertificateFingerprint(&c)
	if err != nil {
		t.Fatal(err)
	}
	alg, hexs, _ := strings.Cut(fp, " ")
	if alg != "sha-256" || len(strings.Split(hexs, ":")) != 32 || strings.ToUpper(hexs) != hexs {
		t.Fatalf("fingerprint %q", fp)
	}
	if err := matchFingerprint(c.Leaf, "SHA-256 "+strings.ToLower(hexs)); err != nil {
		t.Fatalf("case-insensitive match: %v", err)
	}
	if err := matchFingerprint(c.Leaf, "sha-1 "+hexs[:59]); !errors.Is(err, ErrFingerprint) {
		t.Fatalf("sha-1: %v", err)
	}
	if err := matchFingerprint(nil, fp); !errors.Is(err, ErrFingerprint) {
		t.Fatalf("no certificate: %v", err)
	}
}

func TestTLSMinVersion(t *testing.T) {
	c := selfSigned(t, "127.0.0.1")
	e := newTestEndpoint(t, Config{Certificate: &c, TLS: &tls.Config{MinVersion: tls.VersionTLS10}}, false)
	if e.serverTLS.MinVersion != tls.VersionTLS12 || e.clientTLS("h", "").MinVersion != tls.VersionTLS12 {
		t.Fatal("TLS below 1.2 allowed")
	}
	if got := e.clientTLS("h.example", "").ServerName; got != "h.example" {
		t.Fatalf("SNI %q", got)
	}
}
