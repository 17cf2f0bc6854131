package relay

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// TestMalformedRequests (hostile F1): a request the Reader could not
// parse is answered 400 when its From-Path parsed, and dropped when it
// did not; either way the connection stays usable.
func TestMalformedRequests(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a := dialRaw(t, s)
	ra := a.auth(s, "alice")
	peer := dialRaw(t, s)
	to := ra.String() + " " + a.self.String()
	from := peer.self.String()
	for _, tc := range []struct {
		name, head string
		want       int // 0: no response
		wantFrom   string
	}{
		{"lowercase method", "MSRP hx1234ab send\r\nTo-Path: " + to + "\r\nFrom-Path: " + from + "\r\n", 400, ra.String()},
		{"To-Path not first", "MSRP hx1234ab SEND\r\nMessage-ID: hostile0001\r\nTo-Path: " + to + "\r\nFrom-Path: " + from + "\r\n", 400, ra.String()},
		{"From-Path first", "MSRP hx1234ab SEND\r\nFrom-Path: " + from + "\r\nTo-Path: " + to + "\r\n", 400, ra.String()},
		{"bad To-Path", "MSRP hx1234ab SEND\r\nTo-Path: http://evil.example/\r\nFrom-Path: " + from + "\r\n", 400, s.URI().String()},
		{"no paths", "MSRP hx1234ab SEND\r\nMessage-ID: hostile0001\r\n", 0, ""},
		{"no method", "MSRP hx1234ab\r\nTo-Path: " + to + "\r\nFrom-Path: " + from + "\r\n", 0, ""},
		{"bad From-Path", "MSRP hx1234ab SEND\r\nTo-Path: " + to + "\r\nFrom-Path: nonsense\r\n", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := peer.nc.Write([]byte(tc.head + "-------hx1234ab$\r\n")); err != nil {
				t.Fatal(err)
			}
			// A probe SEND: its 200 shows the connection is in sync and
			// that nothing else came first.
			probe := send([]msrp.URI{ra, a.self}, peer.self, "probe"+strings.ReplaceAll(tc.name, " ", ""), "p")
			probe.TID = "probe0001"
			peer.write(probe, []byte("p"))
			f, _ := peer.read()
			if tc.want != 0 {
				if f.IsRequest() || f.TID != "hx1234ab" || f.StatusCode != tc.want {
					t.Fatalf("got %+v, want %d to hx1234ab", f, tc.want)
				}
				if msrp.FormatPath(f.ToPath) != from || msrp.FormatPath(f.FromPath) != tc.wantFrom {
					t.Fatalf("response paths To %v From %v", f.ToPath, f.FromPath)
				}
				f, _ = peer.read()
			}
			if f.TID != "probe0001" || f.StatusCode != 200 {
				t.Fatalf("probe: %+v", f)
			}
			if got, _ := a.read(); got.MessageID != probe.MessageID {
				t.Fatalf("client got %+v", got)
			}
		})
	}
	if _, _, err := a.tryRead(50 * time.Millisecond); err != errReadTimeout {
		t.Fatalf("client got more: %v", err)
	}
}
