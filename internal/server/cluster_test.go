package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/internal/testpeer"
	"github.com/parley-im/parley/msrp"
)

// TestClusterRelays: two nodes on one PostgreSQL, each with its msrps
// relay and one certificate trusted by both (TLSCA), as a deployment with
// its own CA would have. alice is registered on node A and AUTHs at A's
// relay, bob on node B at B's relay; their session goes alice → relay A
// → relay B → bob and back (RFC 4976 §6.4: relay A dials relay B over
// msrps, presenting its certificate, which B verifies), not through one
// relay: each side's a=path starts with its own node's relay and both
// relays forward.
func TestClusterRelays(t *testing.T) {
	dsn := postgresDSN(t)
	pki := t.TempDir()
	cert, key := filepath.Join(pki, "cert.pem"), filepath.Join(pki, "key.pem")
	if err := makeDevCert(cert, key, []string{domain}); err != nil {
		t.Fatal(err)
	}
	node := func() *Server {
		cfg := testConfig(t.TempDir())
		cfg.DSN = dsn
		cfg.MSRPRelay, cfg.MSRPRelayTLS = "", "127.0.0.1:0"
		cfg.TLSCert, cfg.TLSKey, cfg.TLSCA = cert, key, cert
		return startServer(t, cfg)
	}
	a, b := node(), node()
	addUser(t, a.Store(), "alice")
	addUser(t, a.Store(), "bob")
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	ep := func(s *Server, user string) relayedEndpoint {
		t.Helper()
		r, err := relayedVia(t, "msrps://"+s.Addrs().MSRPRelayTLS+";tcp", msrp.Config{TLS: &tls.Config{RootCAs: pool}}, user, user+"-pw")
		if err != nil {
			t.Fatalf("%s: AUTH at %s: %v", user, s.Addrs().MSRPRelayTLS, err)
		}
		return r
	}
	aliceEP, bobEP := ep(a, "alice"), ep(b, "bob")
	fa, fb := a.msrps.Metrics().Forwarded, b.msrps.Metrics().Forwarded
	ac := chat(t, a.sipAddr("tcp"), b.sipAddr("tcp"), "alice", "bob", aliceEP, bobEP, 3)

	relayA, relayB := "msrps://"+a.Addrs().MSRPRelayTLS+"/", "msrps://"+b.Addrs().MSRPRelayTLS+"/"
	local, remote := ac.Session().Local().Path, ac.Session().Remote().Path
	if len(local) != 2 || !strings.HasPrefix(local[0], relayA) {
		t.Errorf("alice's a=path %v, want relay A (%s) then alice", local, relayA)
	}
	if len(remote) != 2 || !strings.HasPrefix(remote[0], relayB) {
		t.Errorf("bob's a=path %v, want relay B (%s) then bob", remote, relayB)
	}
	// Each relay forwards every SEND and its 200 or REPORT on its way:
	// 6 messages, at least one request each way through each relay.
	na, nb := a.msrps.Metrics().Forwarded-fa, b.msrps.Metrics().Forwarded-fb
	if na < 6 || nb < 6 {
		t.Errorf("relay A forwarded %d, relay B %d requests; want ≥ 6 each (relay to relay)", na, nb)
	}
	// Session history across the nodes: each node records its own
	// client's copies, the peer learned through the store's session map
	// (text/plain, no CPIM: the endpoint owners the other node saw).
	var aliceWant, bobWant []histLine
	for i := range 3 {
		c := string(rune('a' + i))
		aliceWant = append(aliceWant, histLine{aorT("bob"), store.Outgoing, "alice says " + c}, histLine{aorT("bob"), store.Incoming, "bob says " + c})
		bobWant = append(bobWant, histLine{aorT("alice"), store.Incoming, "alice says " + c}, histLine{aorT("alice"), store.Outgoing, "bob says " + c})
	}
	if got := sessionHistoryOf(t, a.Store(), aorT("alice"), 6); !slices.Equal(got, aliceWant) {
		t.Errorf("alice's session history:\n got %v\nwant %v", got, aliceWant)
	}
	if got := sessionHistoryOf(t, b.Store(), aorT("bob"), 6); !slices.Equal(got, bobWant) {
		t.Errorf("bob's session history:\n got %v\nwant %v", got, bobWant)
	}
	if ha, hb := a.HistoryStats(), b.HistoryStats(); ha.Recorded != 6 || hb.Recorded != 6 {
		t.Errorf("history recorded %d on node A and %d on node B, want 6 each (%+v %+v)", ha.Recorded, hb.Recorded, ha, hb)
	}
	// The relay-to-relay connection: one dialed by each relay to the
	// other (RFC 4976 §6.4.2, no reuse of accepted connections), besides
	// the client connections.
	if ca, cb := a.msrps.Metrics().Connections, b.msrps.Metrics().Connections; ca < 2 || cb < 2 {
		t.Errorf("connections: relay A %d, relay B %d; want ≥ 2 each (client + peer relay)", ca, cb)
	}
}

// TestPostgresRestartUnderLoad: alice sends pager MESSAGEs to bob
// (online: 200) and carol (offline: 202) without pause while the
// server's PostgreSQL restarts. Requests during the outage may fail;
// afterwards the same server answers again without a restart, /healthz
// is ok, and every MESSAGE that was acknowledged (200 or 202) reaches its
// recipient: bob's at once or from the queue, carol's when she registers.
func TestPostgresRestartUnderLoad(t *testing.T) {
	dsn, ctl := testpeer.PrivatePostgres(t)
	cfg := testConfig(t.TempDir())
	cfg.DSN, cfg.MSRPRelay = dsn, ""
	s := startServer(t, cfg, "alice", "bob", "carol")
	addr := s.sipAddr("tcp")
	alice, _, err := newUA(t, addr, "alice", "alice-pw", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, bobIn, err := newUA(t, addr, "bob", "bob-pw", true, nil)
	if err != nil {
		t.Fatal(err)
	}

	type ack struct {
		to, body string
		status   int
	}
	var (
		mu       sync.Mutex
		acked    []ack
		failures []string
	)
	sendOne := func(to, body string) (int, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
		defer cancel()
		res, err := alice.SendMessage(ctx, "sip:"+to+"@"+domain, "text/plain", []byte(body))
		if err != nil {
			return 0, err
		}
		return res.Status, nil
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, to := range []string{"bob", "carol"} {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf("%s-%d", to, i)
				code, err := sendOne(to, body)
				mu.Lock()
				if err == nil && (code == 200 || code == 202) {
					acked = append(acked, ack{to, body, code})
				} else {
					failures = append(failures, fmt.Sprintf("%s: %d %v", body, code, err))
				}
				mu.Unlock()
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	deadline := time.Now().Add(20 * time.Second)
	for count() < 20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	before := count()
	restartStart := time.Now()
	ctl("restart")
	t.Logf("PostgreSQL restarted in %v with %d messages acknowledged before", time.Since(restartStart).Round(time.Millisecond), before)
	// Keep the load on until 20 more messages were acknowledged after the
	// restart: the server recovered by itself.
	deadline = time.Now().Add(30 * time.Second)
	for count() < before+20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	total := len(acked)
	mu.Unlock()
	t.Logf("%d acknowledged, %d failed during the restart", total, len(failures))
	if total < before+20 {
		t.Fatalf("only %d messages acknowledged in 30 s after the restart (%d before); failures: %v", total-before, before, failures)
	}

	// New requests are answered normally, at the first try.
	if code, err := sendOne("bob", "after the restart"); err != nil || code != 200 {
		t.Errorf("MESSAGE to bob after the restart: %d %v", code, err)
	} else {
		acked = append(acked, ack{"bob", "after the restart", 200})
	}
	if code, err := sendOne("carol", "stored after the restart"); err != nil || code != 202 {
		t.Errorf("MESSAGE to carol after the restart: %d %v", code, err)
	} else {
		acked = append(acked, ack{"carol", "stored after the restart", 202})
	}
	res, err := http.Get("http://" + s.Addrs().HTTP + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("healthz after the restart: %d", res.StatusCode)
	}

	want := map[string]map[string]bool{"bob": {}, "carol": {}}
	for _, a := range acked {
		want[a.to][a.body] = true
	}
	_, carolIn, err := newUA(t, addr, "carol", "carol-pw", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	for to, in := range map[string]inbox{"bob": bobIn, "carol": carolIn} {
		missing := want[to]
		timeout := time.After(30 * time.Second)
	wait:
		for len(missing) > 0 {
			select {
			case m := <-in:
				delete(missing, string(m.Body))
			case <-timeout:
				break wait
			}
		}
		if len(missing) > 0 {
			var ms []string
			for b := range missing {
				ms = append(ms, b)
			}
			t.Errorf("%d acknowledged messages to %s never arrived: %v", len(ms), to, ms)
		}
	}
}
