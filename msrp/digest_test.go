package msrp

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	icholy "github.com/icholy/digest"
)

// kamailioChallenge is the WWW-Authenticate value Kamailio 5.6.3's auth
// module produced for interop/kamailio/msrp-relay.cfg.
const kamailioChallenge = `Digest realm="parley.test", nonce="aw86WmsPOS6kMtsAgYUZaowWsxdCzCuvCfuVeYA=", qop="auth"`

func TestParseChallenge(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Challenge
		err  error
	}{
		{
			name: "RFC 4976 §5.1 example",
			in:   `Digest realm="intra.example.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`,
			want: &Challenge{Realm: "intra.example.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", QOP: []string{"auth"}},
		},
		{
			name: "Kamailio 5.6.3",
			in:   kamailioChallenge,
			want: &Challenge{Realm: "parley.test", Nonce: "aw86WmsPOS6kMtsAgYUZaowWsxdCzCuvCfuVeYA=", QOP: []string{"auth"}},
		},
		{
			name: "all fields, loose white space, domain ignored",
			in:   "digest  realm = \"r\" ,nonce=\"n\",\topaque=\"o\", algorithm=MD5, qop=\"auth-int, auth\", stale=TRUE, domain=\"/x\", foo=bar",
			want: &Challenge{Realm: "r", Nonce: "n", Opaque: "o", Algorithm: "MD5", QOP: []string{"auth-int", "auth"}, Stale: true,
				Params: []DigestParam{{"foo", "bar"}}},
		},
		{
			name: "SHA-256, quoted-pair",
			in:   `Digest realm="a\"b", nonce="n", algorithm=SHA-256, qop="auth", stale=false`,
			want: &Challenge{Realm: `a"b`, Nonce: "n", Algorithm: "SHA-256", QOP: []string{"auth"}},
		},
		{name: "Basic", in: `Basic realm="r"`, err: ErrDigestBasic},
		{name: "other scheme", in: `Bearer realm="r"`, err: ErrDigestScheme},
		{name: "auth-int only", in: `Digest realm="r", nonce="n", qop="auth-int"`, err: ErrDigestQOP},
		{name: "no qop (RFC 2069)", in: `Digest realm="r", nonce="n"`, err: ErrDigestQOP},
		{name: "MD5-sess", in: `Digest realm="r", nonce="n", qop="auth", algorithm=MD5-sess`, err: ErrDigestAlgorithm},
		{name: "SHA-256-sess", in: `Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256-sess`, err: ErrDigestAlgorithm},
		{name: "unknown algorithm", in: `Digest realm="r", nonce="n", qop="auth", algorithm=CRC32`, err: ErrDigestAlgorithm},
		{name: "no nonce", in: `Digest realm="r", qop="auth"`, err: ErrDigestSyntax},
		{name: "no realm", in: `Digest nonce="n", qop="auth"`, err: ErrDigestSyntax},
		{name: "unterminated", in: `Digest realm="r, nonce="n", qop="auth`, err: ErrDigestSyntax},
		{name: "repeated", in: `Digest realm="r", realm="s", nonce="n", qop="auth"`, err: ErrDigestSyntax},
		{name: "missing comma", in: `Digest realm="r" nonce="n", qop="auth"`, err: ErrDigestSyntax},
		{name: "no value", in: `Digest realm`, err: ErrDigestSyntax},
		{name: "empty token value", in: `Digest realm=, nonce="n"`, err: ErrDigestSyntax},
		{name: "control character", in: "Digest realm=\"r\x01\", nonce=\"n\", qop=\"auth\"", err: ErrDigestSyntax},
		{name: "bad stale", in: `Digest realm="r", nonce="n", qop="auth", stale=maybe`, err: ErrDigestSyntax},
		{name: "bad qop list", in: `Digest realm="r", nonce="n", qop="auth,,x"`, err: ErrDigestSyntax},
		{name: "empty", in: ``, err: ErrDigestSyntax},
		{name: "scheme only", in: `Digest`, err: ErrDigestSyntax},
		{name: "too long", in: `Digest realm="` + strings.Repeat("a", maxDigestHeaderLen) + `"`, err: ErrDigestSyntax},
		{name: "too many params", in: "Digest " + strings.Repeat("a=b, ", maxDigestParams+1) + "c=d", err: ErrDigestSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChallenge(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseChallenge(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseChallenge(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseChallenge(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
			again, err := ParseChallenge(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip of %q: %#v, %v", got.String(), again, err)
			}
		})
	}
}

// TestDigestRFC2617Example is the worked example of RFC 2617 §3.5 (method
// GET), which fixes the KD/H(A1)/H(A2) arithmetic independently of MSRP.
func TestDigestRFC2617Example(t *testing.T) {
	a := &Authorization{
		Username: "Mufasa", Realm: "testrealm@host.com",
		Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", URI: "/dir/index.html",
		QOP: "auth", NC: 1, Cnonce: "0a4f113b",
	}
	got, err := a.digest("Circle Of Life", "GET")
	if err != nil {
		t.Fatal(err)
	}
	if want := "6629fae49393a05397450978507c4ef1"; got != want {
		t.Fatalf("RFC 2617 §3.5 response = %s, want %s", got, want)
	}
}

// TestDigestRFC4976ExampleIsRFC2617s records that the AUTH example in
// RFC 4976 §5.1 reuses RFC 2617's GET response value verbatim: it cannot
// be reproduced with method AUTH, so it is no test vector.
func TestDigestRFC4976ExampleIsRFC2617s(t *testing.T) {
	ch, err := ParseChallenge(`Digest realm="intra.example.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"Circle Of Life", "", "password"} {
		a, err := ch.Authorize(Credentials{"Alice", pw}, "msrps://alice@intra.example.com;tcp", 1, "0a4f113b")
		if err != nil {
			t.Fatal(err)
		}
		if a.Response == "6629fae49393a05397450978507c4ef1" {
			t.Fatalf("password %q reproduces the RFC example; update this test", pw)
		}
	}
}

// TestAuthorizeKnownAnswer pins AUTH digests computed by hand (Python
// hashlib, see the comment) and accepted by Kamailio 5.6.3 on loopback:
//
//	HA1 = md5("alice:parley.test:alice-secret")
//	response = md5(HA1:nonce:00000001:0a4f113b:auth:md5("AUTH:"+uri))
//	rspauth  = md5(HA1:nonce:00000001:0a4f113b:auth:md5(":"+uri))
func TestAuthorizeKnownAnswer(t *testing.T) {
	const uri = "msrp://127.0.0.1:15000;tcp"
	tests := []struct {
		name, challenge      string
		nc                   uint32
		response, rspauth    string
		wantAlgorithmInValue bool
	}{
		{
			name: "MD5", challenge: kamailioChallenge, nc: 1,
			response: "ecc1bd4ea9dd3a4eaa793b5d79bf0969",
			rspauth:  "f9b0839ca551b4a656b63f46ea1dae3c",
		},
		{
			name:      "SHA-256 nc=2",
			challenge: `Digest realm="parley.test", nonce="aw86WmsPOS6kMtsAgYUZaowWsxdCzCuvCfuVeYA=", qop="auth", algorithm=SHA-256`,
			nc:        2, response: "1faadda8a4cc9b311ac35f1a2caa23d20236d671d8a64b19571a7c91d1fc947d",
			wantAlgorithmInValue: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := ParseChallenge(tt.challenge)
			if err != nil {
				t.Fatal(err)
			}
			cred := Credentials{"alice", "alice-secret"}
			a, err := ch.Authorize(cred, uri, tt.nc, "0a4f113b")
			if err != nil {
				t.Fatal(err)
			}
			if a.Response != tt.response {
				t.Fatalf("response = %s, want %s", a.Response, tt.response)
			}
			if err := a.Check("alice-secret"); err != nil {
				t.Fatalf("Check(right password): %v", err)
			}
			if err := a.Check("wrong"); !errors.Is(err, ErrDigestMismatch) {
				t.Fatalf("Check(wrong password) = %v", err)
			}
			if tt.rspauth != "" {
				got, err := a.ResponseAuth("alice-secret")
				if err != nil || got != tt.rspauth {
					t.Fatalf("ResponseAuth = %s, %v; want %s", got, err, tt.rspauth)
				}
			}
			v := a.String()
			if !strings.Contains(v, `uri="`+uri+`"`) || !strings.Contains(v, "qop=auth") ||
				!strings.Contains(v, "nc="+formatNC(tt.nc)) || !strings.Contains(v, `cnonce="0a4f113b"`) {
				t.Fatalf("Authorization value %q lacks a mandatory RFC 4976 §9.1 parameter", v)
			}
			if strings.Contains(v, "algorithm=") != tt.wantAlgorithmInValue {
				t.Fatalf("algorithm presence wrong in %q", v)
			}
			back, err := ParseAuthorization(v)
			if err != nil {
				t.Fatalf("ParseAuthorization(%q): %v", v, err)
			}
			if !reflect.DeepEqual(back, a) {
				t.Fatalf("round trip\n got %#v\nwant %#v", back, a)
			}
		})
	}
}

// TestAuthorizeMatchesIcholy cross-checks the arithmetic against
// github.com/icholy/digest (used by sipgo) for several algorithms.
func TestAuthorizeMatchesIcholy(t *testing.T) {
	for _, alg := range []string{"", "MD5", "SHA-256", "SHA-512-256"} {
		t.Run("alg="+alg, func(t *testing.T) {
			ours, err := (&Challenge{Realm: "relay.example.com", Nonce: "Uumu8cAV38FGsEF31VLevIbNXj9HWO", Algorithm: alg, QOP: []string{"auth"}, Opaque: "xyz"}).
				Authorize(Credentials{"Alice", "s3cret"}, "msrps://extra.example.com;tcp", 7, "85a0dca8")
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := icholy.Digest(&icholy.Challenge{Realm: "relay.example.com", Nonce: "Uumu8cAV38FGsEF31VLevIbNXj9HWO", Algorithm: alg, QOP: []string{"auth"}, Opaque: "xyz"},
				icholy.Options{Method: "AUTH", URI: "msrps://extra.example.com;tcp", Username: "Alice", Password: "s3cret", Cnonce: "85a0dca8", Count: 7})
			if err != nil {
				t.Fatal(err)
			}
			if ours.Response != theirs.Response {
				t.Fatalf("response %s, icholy/digest %s", ours.Response, theirs.Response)
			}
			// Their parser must read our header, and ours theirs.
			parsed, err := icholy.ParseCredentials(ours.String())
			if err != nil || parsed.Response != ours.Response || parsed.URI != ours.URI || parsed.Nc != 7 {
				t.Fatalf("icholy.ParseCredentials(%q) = %+v, %v", ours.String(), parsed, err)
			}
			back, err := ParseAuthorization(theirs.String())
			if err != nil || back.Response != theirs.Response || back.NC != 7 {
				t.Fatalf("ParseAuthorization(%q) = %+v, %v", theirs.String(), back, err)
			}
		})
	}
}

func TestAuthorizeRefusesUnsendableValues(t *testing.T) {
	ch := &Challenge{Realm: "r", Nonce: "n", QOP: []string{"auth"}}
	for _, user := range []string{`a"b`, `a\b`, "a\r\nb", "café"} {
		if _, err := ch.Authorize(Credentials{user, "pw"}, "msrp://h:1;tcp", 1, ""); !errors.Is(err, ErrDigestValue) {
			t.Errorf("Authorize(username %q) = %v, want ErrDigestValue", user, err)
		}
	}
	if _, err := ch.Authorize(Credentials{"u", "pw"}, "msrp://h:1;tcp", 0, ""); !errors.Is(err, ErrDigestValue) {
		t.Errorf("Authorize(nc 0) = %v", err)
	}
	a, err := ch.Authorize(Credentials{"u", "pw"}, "msrp://h:1;tcp", 1, "")
	if err != nil || len(a.Cnonce) != 16 {
		t.Fatalf("generated cnonce %q, %v", a.Cnonce, err)
	}
	if (&Challenge{Realm: "r", Nonce: "n", QOP: []string{"auth-int"}}).offersAuth() {
		t.Fatal("auth-int counted as auth")
	}
}

func TestParseAuthorization(t *testing.T) {
	const ok = `Digest username="Alice", realm="intra.example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="msrps://alice@intra.example.com;tcp", qop="auth", nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1"`
	a, err := ParseAuthorization(ok)
	if err != nil {
		t.Fatal(err)
	}
	want := &Authorization{Username: "Alice", Realm: "intra.example.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
		URI: "msrps://alice@intra.example.com;tcp", QOP: "auth", NC: 1, Cnonce: "0a4f113b", Response: "6629fae49393a05397450978507c4ef1"}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("got %#v", a)
	}
	for name, in := range map[string]string{
		"no nc":        strings.Replace(ok, "nc=00000001, ", "", 1),
		"no cnonce":    strings.Replace(ok, `cnonce="0a4f113b", `, "", 1),
		"no qop":       strings.Replace(ok, `qop="auth", `, "", 1),
		"short nc":     strings.Replace(ok, "nc=00000001", "nc=1", 1),
		"bad response": strings.Replace(ok, "6629fae49393a05397450978507c4ef1", "zz", 1),
		"MD5-sess":     ok + ", algorithm=MD5-sess",
	} {
		if _, err := ParseAuthorization(in); err == nil {
			t.Errorf("%s: ParseAuthorization accepted %q", name, in)
		}
	}
	if _, err := ParseAuthorization(`Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==`); !errors.Is(err, ErrDigestBasic) {
		t.Errorf("Basic: %v", err)
	}
}

func TestVerifyResponseAuth(t *testing.T) {
	ch, _ := ParseChallenge(kamailioChallenge)
	a, err := ch.Authorize(Credentials{"alice", "alice-secret"}, "msrp://127.0.0.1:15000;tcp", 1, "0a4f113b")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		info string
		err  error
	}{
		{"Kamailio's header", `rspauth="f9b0839ca551b4a656b63f46ea1dae3c", cnonce="0a4f113b", nc=00000001, qop=auth`, nil},
		{"RFC order, quoted qop, nextnonce", `nextnonce="40f2e8", rspauth="F9B0839CA551B4A656B63F46EA1DAE3C", cnonce="0a4f113b", nc=00000001, qop="auth"`, nil},
		{"rspauth only", `rspauth="f9b0839ca551b4a656b63f46ea1dae3c"`, nil},
		{"wrong rspauth", `rspauth="f9b0839ca551b4a656b63f46ea1dae3d", cnonce="0a4f113b", nc=00000001, qop=auth`, ErrDigestMismatch},
		{"wrong cnonce", `rspauth="f9b0839ca551b4a656b63f46ea1dae3c", cnonce="0a4f113c", nc=00000001, qop=auth`, ErrDigestMismatch},
		{"wrong nc", `rspauth="f9b0839ca551b4a656b63f46ea1dae3c", cnonce="0a4f113b", nc=00000002, qop=auth`, ErrDigestMismatch},
		{"wrong qop", `rspauth="f9b0839ca551b4a656b63f46ea1dae3c", qop=auth-int`, ErrDigestMismatch},
		{"no rspauth", `nextnonce="abc"`, ErrDigestSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := ParseAuthenticationInfo(tt.info)
			if err != nil {
				t.Fatal(err)
			}
			err = a.VerifyResponseAuth(info, "alice-secret")
			if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("VerifyResponseAuth = %v, want %v", err, tt.err)
			}
			back, err := ParseAuthenticationInfo(info.String())
			if err != nil || !reflect.DeepEqual(back, info) {
				t.Fatalf("round trip %q: %#v, %v", info.String(), back, err)
			}
		})
	}
	if err := a.VerifyResponseAuth(&AuthenticationInfo{RspAuth: "f9b0839ca551b4a656b63f46ea1dae3c"}, "other"); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("rspauth with another password accepted: %v", err)
	}
	for _, bad := range []string{`rspauth="xyz"`, `nc=1`, `rspauth`, `,`, strings.Repeat("a", maxDigestHeaderLen+1)} {
		if _, err := ParseAuthenticationInfo(bad); !errors.Is(err, ErrDigestSyntax) {
			t.Errorf("ParseAuthenticationInfo(%.20q) = %v", bad, err)
		}
	}
}
