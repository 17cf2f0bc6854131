package messagesdp_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/parley-im/parley/messagesdp"
)

func TestMatchType(t *testing.T) {
	tests := []struct {
		t        string
		accepted []string
		want     bool
	}{
		{"text/plain", []string{"text/plain"}, true},
		{"TEXT/Plain", []string{"text/plain"}, true},
		{"text/plain", []string{"text/html"}, false},
		{"text/plain", nil, false},
		{"text/plain", []string{"*"}, true},
		{"text/plain", []string{"text/*"}, true},
		{"text/plain", []string{"message/*"}, false},
		{"text/plain;charset=utf-8", []string{"text/plain"}, true},                                   // RFC 4975 §8.6
		{"text/plain", []string{"text/plain;charset=utf-8"}, true},                                   // parameters ignored
		{"application/im-iscomposing+xml", []string{"message/cpim", "application/*"}, true},          // RCS
		{"message/cpim", []string{" message/cpim "}, true},                                           // stray space
		{"text/*", []string{"*"}, true},                                                              // a wildcard allowed by a wider one
		{"text/*", []string{"text/*"}, true},                                                         //
		{"text/*", []string{"text/plain"}, false},                                                    // a wildcard is not a concrete type
		{"*", []string{"text/*"}, false},                                                             //
		{"*", []string{"*"}, true},                                                                   //
		{"textplain", []string{"text/*"}, false},                                                     // malformed
		{"message/imdn+xml", []string{"text/plain", "message/imdn+xml;foo=\"a;b\""}, true},           // quoted parameter
		{"multipart/mixed", []string{"multipart/mixed", "multipart/alternative"}, true},              //
		{"multipart/related", []string{"multipart/mixed", "multipart/alternative", "text/*"}, false}, //
	}
	for _, tt := range tests {
		if got := messagesdp.MatchType(tt.t, tt.accepted); got != tt.want {
			t.Errorf("MatchType(%q, %q) = %v, want %v", tt.t, tt.accepted, got, tt.want)
		}
	}
}

func TestIntersectTypes(t *testing.T) {
	tests := []struct {
		name               string
		offered, supported []string
		want               []string
	}{
		{"same", []string{"text/plain"}, []string{"text/plain"}, []string{"text/plain"}},
		{"offer order kept", []string{"message/cpim", "text/plain", "text/html"}, []string{"text/plain", "message/cpim"}, []string{"message/cpim", "text/plain"}},
		{"nothing common", []string{"text/html"}, []string{"text/plain"}, nil},
		{"we accept all", []string{"text/html", "image/png"}, []string{"*"}, []string{"text/html", "image/png"}},
		{"offer wildcard", []string{"*"}, []string{"text/plain", "message/cpim"}, []string{"text/plain", "message/cpim"}},
		{"offer subtype wildcard", []string{"text/*"}, []string{"text/plain", "message/cpim", "text/html"}, []string{"text/plain", "text/html"}},
		{"both wildcards", []string{"text/*"}, []string{"*"}, []string{"text/*"}},
		{"parameters", []string{"text/plain;charset=utf-8"}, []string{"text/plain"}, []string{"text/plain;charset=utf-8"}},
		{"no duplicates", []string{"text/plain", "text/*", "TEXT/PLAIN"}, []string{"text/plain"}, []string{"text/plain"}},
		{"empty offer", nil, []string{"*"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := messagesdp.IntersectTypes(tt.offered, tt.supported); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("IntersectTypes(%q, %q) = %q, want %q", tt.offered, tt.supported, got, tt.want)
			}
		})
	}
}

func msrpOffer() *messagesdp.Media {
	return &messagesdp.Media{
		Proto: messagesdp.ProtoMSRP, Port: 7394, Address: "alice.example.com", Formats: []string{"*"},
		AcceptTypes: []string{"message/cpim", "text/plain"},
		Path:        []string{"msrp://alice.example.com:7394/2s93i93idj;tcp"},
	}
}

func cpimOffer() *messagesdp.Media {
	return &messagesdp.Media{
		Proto: messagesdp.ProtoCPIMTCP, Port: 7394, Address: "alice.example.com",
		Formats: []string{"text/plain", "text/html"}, Direction: "both", URI: "im:2s93i9@alice.example.com",
	}
}

func TestAcceptable(t *testing.T) {
	msrp := []string{messagesdp.ProtoMSRP, messagesdp.ProtoMSRPS}
	tests := []struct {
		name    string
		offer   func() *messagesdp.Media
		protos  []string
		types   []string
		wantErr error // nil: acceptable
	}{
		{"msrp ok", msrpOffer, msrp, []string{"text/plain"}, nil},
		{"msrp any type", msrpOffer, msrp, nil, nil},
		{"proto case", msrpOffer, []string{"tcp/msrp"}, nil, nil},
		{"proto unsupported", msrpOffer, []string{messagesdp.ProtoMSRPS}, nil, messagesdp.ErrNotAcceptable},
		{"no common type", msrpOffer, msrp, []string{"image/png"}, messagesdp.ErrNotAcceptable},
		{"rejected stream", func() *messagesdp.Media { m := msrpOffer(); m.Port = 0; return m }, msrp, nil, messagesdp.ErrNotAcceptable},
		{"invalid offer", func() *messagesdp.Media { m := msrpOffer(); m.Path = nil; return m }, msrp, nil, messagesdp.ErrInvalid},
		{"offer wildcard", func() *messagesdp.Media { m := msrpOffer(); m.AcceptTypes = []string{"*"}; return m }, msrp, []string{"text/plain"}, nil},
		{"cpim by fmt list", cpimOffer, []string{messagesdp.ProtoCPIMTCP}, []string{"text/html"}, nil},
		{"cpim fmt unsupported", cpimOffer, []string{messagesdp.ProtoCPIMTCP}, []string{"image/png"}, messagesdp.ErrNotAcceptable},
		{"cpim vs msrp only", cpimOffer, msrp, nil, messagesdp.ErrNotAcceptable},
		{"nil", func() *messagesdp.Media { return nil }, msrp, nil, messagesdp.ErrNotAcceptable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := messagesdp.Acceptable(tt.offer(), tt.protos, tt.types)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("Acceptable = %v", err)
			case tt.wantErr != nil && (!errors.Is(err, tt.wantErr) || !errors.Is(err, messagesdp.ErrNotAcceptable)):
				t.Errorf("Acceptable = %v, want %v wrapped in ErrNotAcceptable", err, tt.wantErr)
			}
		})
	}
}

func TestReject(t *testing.T) {
	for _, offer := range []*messagesdp.Media{msrpOffer(), cpimOffer()} {
		r := messagesdp.Reject(offer)
		want := &messagesdp.Media{Proto: offer.Proto, Formats: offer.Formats}
		if !r.Equal(want) {
			t.Errorf("Reject(%s) = %+v", offer.Proto, r)
		}
		if err := r.Validate(); err != nil {
			t.Errorf("Reject(%s) invalid: %v", offer.Proto, err)
		}
		r.Formats[0] = "changed"
		if offer.Formats[0] == "changed" {
			t.Error("Reject shares the fmt slice with the offer")
		}
	}
}

// RFC 4145 §4.1 and RFC 6135 §4.1.
func TestAnswerSetup(t *testing.T) {
	tests := []struct {
		offer     string
		canListen bool
		want      string
		wantErr   error
	}{
		{"active", true, "passive", nil},
		{"active", false, "", messagesdp.ErrNotAcceptable},
		{"passive", true, "active", nil},
		{"passive", false, "active", nil},
		{"actpass", true, "passive", nil},
		{"actpass", false, "active", nil},
		{"ActPass", true, "passive", nil},
		{"", true, "passive", nil}, // RFC 4975 §8.5: the offerer connects
		{"", false, "", messagesdp.ErrNotAcceptable},
		{"holdconn", true, "passive", nil}, // ignored (RFC 6135 §4.1)
		{"sideways", true, "", messagesdp.ErrInvalid},
	}
	for _, tt := range tests {
		got, err := messagesdp.AnswerSetup(tt.offer, tt.canListen)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("AnswerSetup(%q, %v) = %q, %v; want %q, %v", tt.offer, tt.canListen, got, err, tt.want, tt.wantErr)
		}
	}
}

// Seed draft §4.3 (early COMEDIA a=direction).
func TestAnswerDirection(t *testing.T) {
	tests := []struct {
		offer     string
		canListen bool
		want      string
		wantErr   error
	}{
		{"both", true, "passive", nil},
		{"both", false, "active", nil},
		{"", true, "passive", nil},
		{"", false, "active", nil},
		{"Active", true, "passive", nil},
		{"active", false, "", messagesdp.ErrNotAcceptable},
		{"passive", true, "active", nil},
		{"passive", false, "active", nil},
		{"sideways", true, "", messagesdp.ErrInvalid},
	}
	for _, tt := range tests {
		got, err := messagesdp.AnswerDirection(tt.offer, tt.canListen)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("AnswerDirection(%q, %v) = %q, %v; want %q, %v", tt.offer, tt.canListen, got, err, tt.want, tt.wantErr)
		}
		if err != nil {
			continue
		}
		// The answer settles who connects, the same way at both ends.
		offer := &messagesdp.Media{Direction: tt.offer}
		answer := &messagesdp.Media{Direction: got}
		if messagesdp.IsActive(offer, answer, true) == messagesdp.IsActive(answer, offer, false) {
			t.Errorf("offer %q answer %q: both ends agree on the same role", tt.offer, got)
		}
		if messagesdp.IsActive(answer, offer, false) != (got == "active") {
			t.Errorf("offer %q answer %q: answerer active=%v", tt.offer, got, !messagesdp.IsActive(offer, answer, true))
		}
	}
}

func TestIsActive(t *testing.T) {
	type side struct{ setup, direction string }
	tests := []struct {
		name          string
		local, remote side
		offerer       bool
		want          bool
	}{
		{"RFC 4975 default, offerer", side{}, side{}, true, true},
		{"RFC 4975 default, answerer", side{}, side{}, false, false},
		{"we answered active", side{setup: "active"}, side{setup: "actpass"}, false, true},
		{"we answered passive", side{setup: "passive"}, side{setup: "actpass"}, false, false},
		{"we offered actpass, answer passive", side{setup: "actpass"}, side{setup: "passive"}, true, true},
		{"we offered actpass, answer active", side{setup: "actpass"}, side{setup: "active"}, true, false},
		{"we offered actpass, answer without setup", side{setup: "actpass"}, side{}, true, true},
		{"we offered active (RFC 6135 behind NAT)", side{setup: "active"}, side{setup: "passive"}, true, true},
		{"offer had no setup, we answered passive", side{setup: "passive"}, side{}, false, false},
		{"holdconn counts as absent", side{setup: "holdconn"}, side{setup: "holdconn"}, true, true},
		{"seed: answerer chose active", side{direction: "active"}, side{direction: "both"}, false, true},
		{"seed: offerer sees active answer", side{direction: "both"}, side{direction: "active"}, true, false},
		{"seed: offerer sees passive answer", side{direction: "both"}, side{direction: "passive"}, true, true},
		{"seed: we are passive", side{direction: "passive"}, side{direction: "both"}, true, false},
		{"seed: both/both falls to default", side{direction: "both"}, side{direction: "both"}, false, false},
		{"setup beats direction", side{setup: "passive", direction: "active"}, side{}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &messagesdp.Media{Setup: tt.local.setup, Direction: tt.local.direction}
			r := &messagesdp.Media{Setup: tt.remote.setup, Direction: tt.remote.direction}
			if got := messagesdp.IsActive(l, r, tt.offerer); got != tt.want {
				t.Errorf("IsActive = %v, want %v", got, tt.want)
			}
			// The two ends of one exchange agree on who connects.
			if other := messagesdp.IsActive(r, l, !tt.offerer); other == tt.want {
				t.Errorf("both ends think active=%v", other)
			}
		})
	}
	if !messagesdp.IsActive(nil, nil, true) || messagesdp.IsActive(nil, nil, false) {
		t.Error("nil media: want the RFC 4975 default")
	}
}

func TestProtoPredicates(t *testing.T) {
	tests := []struct {
		proto              string
		msrp, cpim, secure bool
	}{
		{"TCP/MSRP", true, false, false},
		{"TCP/TLS/MSRP", true, false, true},
		{"tcp/tls/msrp", true, false, true},
		{"TCP/WSS/MSRP", true, false, false},
		{"MSRP", false, false, false},
		{"cpim/tcp", false, true, false},
		{"cpim/tls", false, true, true},
		{"CPIM/TLS", false, true, true},
		{"cpim/sctp", false, false, false},
		{"RTP/AVP", false, false, false},
	}
	for _, tt := range tests {
		if messagesdp.IsMSRP(tt.proto) != tt.msrp || messagesdp.IsCPIM(tt.proto) != tt.cpim || messagesdp.IsSecure(tt.proto) != tt.secure {
			t.Errorf("%s: IsMSRP %v IsCPIM %v IsSecure %v", tt.proto,
				messagesdp.IsMSRP(tt.proto), messagesdp.IsCPIM(tt.proto), messagesdp.IsSecure(tt.proto))
		}
	}
	if got := cpimOffer().Types(); !reflect.DeepEqual(got, []string{"text/plain", "text/html"}) {
		t.Errorf("cpim Types = %q", got)
	}
	if got := msrpOffer().Types(); !reflect.DeepEqual(got, []string{"message/cpim", "text/plain"}) {
		t.Errorf("msrp Types = %q", got)
	}
}
