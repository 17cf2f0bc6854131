package msrp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// TLS for msrps (RFC 4975 §14): TLS 1.2 or later, SNI and hostname
// verification by default; for self-signed peers the certificate is
// checked against the SHA-256 a=fingerprint of the peer's SDP (RFC 4572,
// RFC 4975 §14.4), and a mismatch tears the session down.

// Fingerprint returns the a=fingerprint value of cert: "sha-256" and the
// colon-separated uppercase hex of the SHA-256 of its DER (RFC 4572 §5).
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	var b strings.Builder
	b.Grow(8 + 3*len(sum))
	b.WriteString("sha-256 ")
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{x})))
	}
	return b.String()
}

// CertificateFingerprint returns the a=fingerprint value of the leaf of c.
func CertificateFingerprint(c *tls.Certificate) (string, error) {
	leaf := c.Leaf
	if leaf == nil {
		if len(c.Certificate) == 0 {
			return "", errors.New("msrp: certificate has no leaf")
		}
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return "", fmt.Errorf("msrp: parsing certificate: %w", err)
		}
	}
	return Fingerprint(leaf), nil
}

// normFingerprint canonicalises "hash-func fingerprint" for comparison
// (hash names and hex digits are case-insensitive, RFC 4572 §5).
func normFingerprint(fp string) string {
	alg, v, _ := strings.Cut(strings.TrimSpace(fp), " ")
	return strings.ToLower(alg) + " " + strings.ToUpper(strings.TrimSpace(v))
}

// matchFingerprint checks cert against an a=fingerprint value. Only
// sha-256 is supported; other hash functions never match.
func matchFingerprint(cert *x509.Certificate, fp string) error {
	if cert == nil {
		return fmt.Errorf("%w: the peer presented no certificate", ErrFingerprint)
	}
	want := normFingerprint(fp)
	if !strings.HasPrefix(want, "sha-256 ") {
		return fmt.Errorf("%w: unsupported hash in a=fingerprint:%s", ErrFingerprint, fp)
	}
	if got := normFingerprint(Fingerprint(cert)); got != want {
		return fmt.Errorf("%w: got %s, SDP says %s", ErrFingerprint, got, want)
	}
	return nil
}

// checkFingerprint verifies the peer certificate of c against fp.
func checkFingerprint(c *Conn, fp string) error {
	if !c.secure {
		return fmt.Errorf("%w: connection is not TLS", ErrFingerprint)
	}
	return matchFingerprint(c.peerCert, fp)
}

// makeServerTLS returns the server configuration for msrps, or nil when no
// certificate is available. The server requests (without requiring) a
// client certificate so that a=fingerprint can be checked.
func (e *Endpoint) makeServerTLS() *tls.Config {
	var cfg *tls.Config
	if e.cfg.TLS != nil {
		cfg = e.cfg.TLS.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if len(cfg.Certificates) == 0 && e.cfg.Certificate != nil {
		cfg.Certificates = []tls.Certificate{*e.cfg.Certificate}
	}
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return nil
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if cfg.ClientAuth == tls.NoClientCert {
		cfg.ClientAuth = tls.RequestClientCert
	}
	return cfg
}

// clientTLS returns the client configuration to reach host: SNI and
// hostname verification, or, with fp, verification by fingerprint alone.
func (e *Endpoint) clientTLS(host, fp string) *tls.Config {
	var cfg *tls.Config
	if e.cfg.TLS != nil {
		cfg = e.cfg.TLS.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if len(cfg.Certificates) == 0 && cfg.GetClientCertificate == nil && e.cfg.Certificate != nil {
		cfg.Certificates = []tls.Certificate{*e.cfg.Certificate}
	}
	if fp != "" {
		// The peer is identified by its SDP fingerprint, not by a CA.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return matchFingerprint(nil, fp)
			}
			return matchFingerprint(cs.PeerCertificates[0], fp)
		}
	}
	return cfg
}

// SelfSignedCertificate returns a fresh self-signed ECDSA P-256
// certificate for hosts (DNS names or IP addresses), valid for a year; for
// tests and for peer-to-peer msrps with a=fingerprint.
func SelfSignedCertificate(hosts ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	cn := "msrp"
	if len(hosts) > 0 {
		cn = hosts[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
