package store

import (
	"errors"
	"testing"
)

// RFC 7616 §3.9.1 (MD5 and SHA-256) and RFC 2617 §3.5 (MD5) examples.
func TestDigestRFCVectors(t *testing.T) {
	tests := []struct {
		name                                      string
		user, realm, pass, alg                    string
		method, uri, nonce, nc, cnonce, qop, want string
	}{
		{"RFC2617", "Mufasa", "testrealm@host.com", "Circle Of Life", "MD5",
			"GET", "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth",
			"6629fae49393a05397450978507c4ef1"},
		{"RFC7616-MD5", "Mufasa", "http-auth@example.org", "Circle of Life", "MD5",
			"GET", "/dir/index.html", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
			"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", "8ca523f5e9506fed4657c9700eebdbec"},
		{"RFC7616-SHA256", "Mufasa", "http-auth@example.org", "Circle of Life", "SHA-256",
			"GET", "/dir/index.html", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
			"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth",
			"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCredential(tc.user, tc.realm, tc.pass, Algorithm(tc.alg))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Response(Algorithm(tc.alg), tc.method, tc.uri, tc.nonce, tc.nc, tc.cnonce, tc.qop)
			if err != nil || got != tc.want {
				t.Errorf("Response = %s, %v; want %s", got, err, tc.want)
			}
			if !c.Verify(tc.want, Algorithm(tc.alg), tc.method, tc.uri, tc.nonce, tc.nc, tc.cnonce, tc.qop) {
				t.Errorf("Verify rejects the RFC response")
			}
			if c.Verify(tc.want, Algorithm(tc.alg), "POST", tc.uri, tc.nonce, tc.nc, tc.cnonce, tc.qop) {
				t.Errorf("Verify accepts a response for another method")
			}
		})
	}
}

func TestAlgorithm(t *testing.T) {
	for in, want := range map[Algorithm]Algorithm{"": MD5, "md5": MD5, "MD5-sess": MD5, "sha-256": SHA256,
		"SHA-256-SESS": SHA256, "SHA-512-256": SHA512256} {
		got, err := in.Canonical()
		if err != nil || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []Algorithm{"SHA-1", "AKAv1-MD5", "MD5-sess-sess"} {
		if _, err := bad.Canonical(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Canonical(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	c, _ := NewCredential("u", "r", "p", SHA256)
	if _, err := c.Response(MD5, "M", "u", "n", "1", "c", "auth"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Response with mismatched algorithm: %v", err)
	}
	if _, err := c.Response(SHA256, "M", "u", "n", "1", "c", "auth-int"); !errors.Is(err, ErrInvalid) {
		t.Errorf("auth-int: %v", err)
	}
	// RFC 2069 style (no qop) is still computed.
	if r, err := c.Response(SHA256, "M", "u", "n", "", "", ""); err != nil || len(r) != 64 {
		t.Errorf("no-qop response = %q, %v", r, err)
	}
}
