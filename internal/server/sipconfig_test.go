package server

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/sipua"
)

// TestSIPConfig: the SIP settings of Config reach sipserver.Config.
func TestSIPConfig(t *testing.T) {
	cfg := Config{
		Domains: []string{"a.test", "b.test"}, Host: "10.0.0.1", Node: "sip:10.0.0.1:5060;transport=tcp", ClusterSecret: "s",
		MinExpires: time.Minute, MaxExpires: time.Hour,
		SIPIdleTimeout: 7 * time.Second, SIPMaxConnsPerIP: 3,
		SIPMaxAuthFailures: 4, SIPAuthFailureInterval: 5 * time.Second, SIPCacheTTL: 250 * time.Millisecond,
		History: true,
	}
	c := sipConfig(cfg, nil, map[string]bool{"sip:x@a.test": true}, nil, nil, nil)
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"Domains", c.Domains, cfg.Domains},
		{"Host", c.Host, cfg.Host},
		{"Node", c.Node, cfg.Node},
		{"ClusterSecret", c.ClusterSecret, cfg.ClusterSecret},
		{"MinExpires", c.MinExpires, cfg.MinExpires},
		{"MaxExpires", c.MaxExpires, cfg.MaxExpires},
		{"IdleTimeout", c.IdleTimeout, cfg.SIPIdleTimeout},
		{"MaxConnsPerIP", c.MaxConnsPerIP, cfg.SIPMaxConnsPerIP},
		{"MaxAuthFailures", c.MaxAuthFailures, cfg.SIPMaxAuthFailures},
		{"AuthFailureInterval", c.AuthFailureInterval, cfg.SIPAuthFailureInterval},
		{"CacheTTL", c.CacheTTL, cfg.SIPCacheTTL},
		{"History", c.History, cfg.History},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("sipserver.Config.%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if !c.HistoryOptOut("sip:x@a.test") || c.HistoryOptOut("sip:y@a.test") {
		t.Error("HistoryOptOut does not follow the opt-out set")
	}
}

// TestMetricsExportEverySIPCounter gives every field of sipserver.Metrics
// its own value and requires each value in the /metrics exposition, so a
// counter added to sipserver without an exported metric fails here.
func TestMetricsExportEverySIPCounter(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SIP = []Listen{{"udp", "127.0.0.1:0"}}
	cfg.HTTP, cfg.MSRPRelay = "off", "off"
	s := startServer(t, cfg)
	m := reflect.ValueOf(s.sip.Metrics()).Elem()
	want := map[string]string{} // field: sample value as written
	for i := range m.NumField() {
		name := m.Type().Field(i).Name
		v := uint64(1000 + 17*i)
		store := m.Field(i).Addr().MethodByName("Store")
		switch store.Type().In(0).Kind() {
		case reflect.Uint64:
			store.Call([]reflect.Value{reflect.ValueOf(v)})
		case reflect.Int64:
			store.Call([]reflect.Value{reflect.ValueOf(int64(v))})
		default:
			t.Fatalf("Metrics.%s: unexpected type %v", name, m.Field(i).Type())
		}
		want[name] = fmt.Sprint(v)
		if name == "ForwardMicros" { // exported in seconds
			want[name] = fmt.Sprintf("%g", float64(v)/1e6)
		}
	}
	var b strings.Builder
	s.WriteMetrics(t.Context(), &b)
	samples := map[string]bool{}
	for line := range strings.Lines(b.String()) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			if _, v, ok := strings.Cut(line, " "); ok {
				samples[v] = true
			}
		}
	}
	for name, v := range want {
		if !samples[v] {
			t.Errorf("sipserver.Metrics.%s (set to %s) is not in /metrics:\n%s", name, v, b.String())
		}
	}
	if !strings.Contains(b.String(), "# TYPE parley_auth_throttled_total counter\n") {
		t.Errorf("no parley_auth_throttled_total counter:\n%s", b.String())
	}
}

// TestAuthThrottle: with SIPMaxAuthFailures 2, the third failed REGISTER
// is answered 503 without its credentials being checked, and so is a
// right password from the same address until the interval has passed;
// /metrics counts both kinds of refusal.
func TestAuthThrottle(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SIP = []Listen{{"tcp", "127.0.0.1:0"}}
	cfg.HTTP, cfg.MSRPRelay = "off", "off"
	cfg.SIPMaxAuthFailures, cfg.SIPAuthFailureInterval = 2, time.Hour
	s := startServer(t, cfg, "bob")
	addr := s.sipAddr("tcp")
	for i, want := range []int{403, 403, 503, 503} {
		pw := "not-bob"
		if i == 3 {
			pw = "bob-pw"
		}
		_, _, err := newUA(t, addr, "bob", pw, true, nil)
		var se *sipua.StatusError
		if !errors.As(err, &se) || se.Code != want {
			t.Fatalf("REGISTER %d (password %q): %v, want %d", i+1, pw, err, want)
		}
	}
	var b strings.Builder
	s.WriteMetrics(t.Context(), &b)
	for _, line := range []string{"parley_auth_failures_total 2\n", "parley_auth_throttled_total 2\n"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("metrics lack %q:\n%s", line, b.String())
		}
	}
}
