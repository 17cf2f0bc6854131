package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// loadTLS loads Config.TLSCert/TLSKey, or the development certificate of
// the data directory, making it on first use, and the trusted roots
// (system, Config.TLSCA, the development certificate). It is loaded once
// and shared by the tls: listeners and the msrps relay.
func (s *Server) loadTLS() (*tls.Config, error) {
	if s.tls != nil {
		return s.tls, nil
	}
	cert, key := s.cfg.TLSCert, s.cfg.TLSKey
	if (cert == "") != (key == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if cert == "" {
		cert = filepath.Join(s.cfg.DataDir, "dev-cert.pem")
		key = filepath.Join(s.cfg.DataDir, "dev-key.pem")
		if _, err := os.Stat(cert); errors.Is(err, os.ErrNotExist) {
			names := s.cfg.Domains
			if s.cfg.Host != "" {
				names = append(append([]string(nil), names...), s.cfg.Host)
			}
			if err := makeDevCert(cert, key, names); err != nil {
				return nil, fmt.Errorf("development certificate: %w", err)
			}
			s.log.Warn("generated a SELF-SIGNED development certificate; clients must trust it explicitly (parley --ca) or use --tls-cert/--tls-key in production",
				"cert", cert, "key", key)
		} else {
			s.log.Warn("using the self-signed development certificate", "cert", cert)
		}
	}
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
	if s.cfg.TLSCert == "" || s.cfg.TLSCA != "" {
		// The proxy (sips: contacts) and the MSRP relays (peer relays'
		// client certificates, msrps next hops) trust the system roots
		// and Config.TLSCA; in development mode also the server's own
		// certificate (clients on the same machine that reuse it, the
		// other relay of this server).
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if s.cfg.TLSCert == "" {
			if leaf, err := x509.ParseCertificate(c.Certificate[0]); err == nil {
				pool.AddCert(leaf)
			}
		}
		if s.cfg.TLSCA != "" {
			b, err := os.ReadFile(s.cfg.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("--tls-ca: %w", err)
			}
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", s.cfg.TLSCA)
			}
		}
		conf.RootCAs = pool
	}
	s.tls = conf
	return conf, nil
}

// makeDevCert writes a self-signed ECDSA certificate for names (and
// 127.0.0.1, ::1, localhost), valid one year.
func makeDevCert(certPath, keyPath string, names []string) error {
	if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
		return err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "parley development certificate", Organization: []string{"Parley (self-signed)"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if n != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
