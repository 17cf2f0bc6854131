package msrp

import (
	"reflect"
	"testing"
)

// The digest parsers take a complete header value (the codec has already
// delimited the header line), so there is no split delivery to fuzz here;
// the property checked is "no panic, and what parses re-parses to the same
// value after String".

var digestSeeds = []string{
	kamailioChallenge,
	`Digest realm="intra.example.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`,
	`Digest realm="a\"b", nonce="n", algorithm=SHA-256, qop="auth,auth-int", stale=TRUE, opaque="o", x=y`,
	`Digest username="Alice", realm="intra.example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="msrps://alice@intra.example.com;tcp", qop="auth", nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1"`,
	`nextnonce="40f2e879449675f288476d772627370a", rspauth="7327570c586207eca2afae94fc20903d", cnonce="0a4f113b", nc=00000001, qop="auth"`,
	`rspauth="f9b0839ca551b4a656b63f46ea1dae3c", cnonce="0a4f113b", nc=00000001, qop=auth`,
	`Basic realm="x"`,
	`Digest realm="unterminated`,
	"Digest realm=\"r\"\t,\tnonce = n , qop=\"auth\"",
}

func FuzzParseChallenge(f *testing.F) {
	for _, s := range digestSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChallenge(s)
		if err != nil {
			return
		}
		if c.Realm == "" && c.Nonce == "" && len(c.QOP) == 0 {
			t.Fatalf("accepted an empty challenge from %q", s)
		}
		again, err := ParseChallenge(c.String())
		if err != nil {
			t.Fatalf("String() = %q does not re-parse: %v", c.String(), err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip changed %#v into %#v", c, again)
		}
	})
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range digestSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAuthorization(s)
		if err != nil {
			return
		}
		again, err := ParseAuthorization(a.String())
		if err != nil {
			t.Fatalf("String() = %q does not re-parse: %v", a.String(), err)
		}
		if !reflect.DeepEqual(again, a) {
			t.Fatalf("round trip changed %#v into %#v", a, again)
		}
		// Checking must never panic whatever the parsed values are.
		_ = a.Check("pw")
		_, _ = a.ResponseAuth("pw")
	})
}

func FuzzParseAuthenticationInfo(f *testing.F) {
	for _, s := range digestSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		info, err := ParseAuthenticationInfo(s)
		if err != nil {
			return
		}
		out := info.String()
		if out == "" {
			return // only empty values were present
		}
		again, err := ParseAuthenticationInfo(out)
		if err != nil {
			t.Fatalf("String() = %q does not re-parse: %v", out, err)
		}
		if !reflect.DeepEqual(again, info) {
			t.Fatalf("round trip changed %#v into %#v", info, again)
		}
	})
}
