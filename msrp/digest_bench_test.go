package msrp

import "testing"

func BenchmarkParseChallenge(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(kamailioChallenge)))
	for b.Loop() {
		if _, err := ParseChallenge(kamailioChallenge); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthorize(b *testing.B) {
	ch, err := ParseChallenge(kamailioChallenge)
	if err != nil {
		b.Fatal(err)
	}
	cred := Credentials{"alice", "alice-secret"}
	b.ReportAllocs()
	for b.Loop() {
		a, err := ch.Authorize(cred, "msrp://127.0.0.1:15000;tcp", 1, "0a4f113b")
		if err != nil {
			b.Fatal(err)
		}
		_ = a.String()
	}
}
