package cpimtransport

import (
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
)

func newMSRP(t *testing.T) *msrp.Endpoint {
	t.Helper()
	e, err := msrp.NewEndpoint(msrp.Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Listen(context.Background(), "tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestNegotiateBothTransports offers an MSRP and a cpim/tcp m-line in one
// SDP (session.OfferAll) and lets the answerer pick (session.AnswerOffer).
func TestNegotiateBothTransports(t *testing.T) {
	tests := []struct {
		name      string
		answerer  func(t *testing.T) []session.Endpoint
		prefer    []string
		wantProto string
	}{
		{"answerer speaks only cpim", func(t *testing.T) []session.Endpoint {
			return []session.Endpoint{newLoopback(t, Config{})}
		}, nil, "cpim/tcp"},
		{"answerer prefers cpim", func(t *testing.T) []session.Endpoint {
			return []session.Endpoint{newMSRP(t), newLoopback(t, Config{})}
		}, []string{"cpim/tcp", "TCP/MSRP"}, "cpim/tcp"},
		{"answerer prefers msrp", func(t *testing.T) []session.Endpoint {
			return []session.Endpoint{newMSRP(t), newLoopback(t, Config{})}
		}, nil, "TCP/MSRP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			offerers := []session.Endpoint{newMSRP(t), newLoopback(t, Config{})}
			mo, err := session.OfferAll(ctx, offerers, session.Options{})
			if err != nil {
				t.Fatal(err)
			}
			d, err := messagesdp.Parse(mo.SDP())
			if err != nil || len(d.Messages()) != 2 {
				t.Fatalf("offer SDP: %v\n%s", err, mo.SDP())
			}
			ma, err := session.AnswerOffer(ctx, tt.answerer(t), mo.SDP(), session.Options{}, tt.prefer)
			if err != nil {
				t.Fatal(err)
			}
			if got := ma.Local().Proto; got != tt.wantProto {
				t.Fatalf("answer chose %s, want %s", got, tt.wantProto)
			}
			done := make(chan session.Session, 1)
			go func() {
				s, err := ma.Open(ctx)
				if err != nil {
					t.Error(err)
				}
				done <- s
			}()
			sa, err := mo.Open(ctx, ma.SDP())
			if err != nil {
				t.Fatal(err)
			}
			sb := <-done
			if sb == nil {
				return
			}
			if sa.Local().Proto != tt.wantProto {
				t.Errorf("offerer opened %s", sa.Local().Proto)
			}
			send(t, sa, "negotiated")
			if m := recv(t, sb); string(m.Body) != "negotiated" {
				t.Errorf("got %q", m.Body)
			}
			send(t, sb, "back")
			if m := recv(t, sa); string(m.Body) != "back" {
				t.Errorf("got %q", m.Body)
			}
			sa.Close()
			sb.Close()
		})
	}
}
