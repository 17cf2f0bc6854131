package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBenchHelp(t *testing.T) {
	e, out, _ := testEnv(nil, nil)
	err := run(context.Background(), e, []string{"bench", "--help"})
	if err == nil || !strings.Contains(err.Error(), "help") {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"--scenario", "--allow-remote", "--window", "Examples:", "sip-message", "two-hop"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestBenchRefusesRemote(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"relay", []string{"bench", "--relay", "192.0.2.1:2855", "--count", "1"}},
		{"sip", []string{"bench", "--scenario", "sip-message", "--sip-server", "example.com:5060", "--sip-user", "a:b,c:d", "--pairs", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, _ := testEnv(nil, nil)
			err := run(context.Background(), e, tc.args)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "loopback") {
				t.Fatalf("err = %v, want a usage error about loopback", err)
			}
		})
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"scenario", []string{"bench", "--scenario", "nope"}, "unknown"},
		{"path", []string{"bench", "--path", "three-hop"}, "unknown"},
		{"user", []string{"bench", "--user", "alice"}, "user:password"},
		{"pid", []string{"bench", "--scenario", "idle", "--pid", "x"}, "process id"},
		{"args", []string{"bench", "extra"}, "no arguments"},
		{"tls ca", []string{"bench", "--tls", "--tls-ca", "/nonexistent/ca.pem"}, "--tls-ca"},
		{"tls direct", []string{"bench", "--tls", "--path", "direct"}, "direct path is plain TCP"},
		{"sip scenario", []string{"bench", "--scenario", "sip-subscribe", "--sip-user", "a:b,c:d", "--pairs", "1"}, "unknown SIP scenario"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, _ := testEnv(nil, nil)
			err := run(context.Background(), e, tc.args)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want exit 2 mentioning %q", err, tc.want)
			}
		})
	}
}

// TestBenchDirectJSON runs a bounded direct run (no relay) and checks the
// JSON report counts every message.
func TestBenchDirectJSON(t *testing.T) {
	e, out, _ := testEnv(nil, nil)
	err := run(context.Background(), e, []string{"bench", "--path", "direct", "--sessions", "3", "--count", "600", "--quiet", "--json"})
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Scenario string
		Classes  []struct {
			Name    string
			Count   uint64
			Bytes   uint64
			Latency map[string]float64 `json:"latency_us"`
		}
		Errors map[string]uint64
	}
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	if len(res.Classes) != 1 || res.Classes[0].Count != 600 || res.Classes[0].Bytes != 60000 || len(res.Errors) != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.Classes[0].Latency["p99.9"] < res.Classes[0].Latency["p50"] {
		t.Errorf("latency %v", res.Classes[0].Latency)
	}
}

// TestBenchSIPInvite runs `parley serve` in-process and drives whole calls
// through it with `parley bench --scenario sip-invite`: every call must
// complete, reach the callee and be counted with a setup latency.
func TestBenchSIPInvite(t *testing.T) {
	vars := map[string]string{"PARLEY_DATA_DIR": t.TempDir()}
	for _, u := range []string{"c1", "c2", "c3", "c4"} {
		e, _, errb := testEnv(nil, vars)
		if err := run(t.Context(), e, []string{"user", "add", u, "--domain", "127.0.0.1", "--password", u + "-pw"}); err != nil {
			t.Fatalf("user add %s: %v %s", u, err, errb.String())
		}
	}
	ctx, stop := context.WithCancel(t.Context())
	e, out, _ := testEnv(nil, vars)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, e, []string{"serve", "--sip", "udp:127.0.0.1:0,tcp:127.0.0.1:0", "--http", "off", "--msrp-relay", "off", "--history=false", "--log-level", "error"})
	}()
	defer func() {
		stop()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	addr := waitFor(t, out, regexp.MustCompile(`SIP udp\s+(\S+)`), 20*time.Second)

	be, bout, berr := testEnv(nil, nil)
	err := run(ctxT(t, time.Minute), be, []string{"bench", "--scenario", "sip-invite", "--sip-server", addr,
		"--sip-user", "c1:c1-pw,c2:c2-pw,c3:c3-pw,c4:c4-pw", "--pairs", "2", "--count", "20", "--quiet", "--json",
		"--pid", strconv.Itoa(os.Getpid())}) // the server runs in this process
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, berr.String())
	}
	var res struct {
		Scenario, Mode string
		Classes        []struct {
			Name    string
			Count   uint64
			Rate    float64            `json:"per_sec"`
			Latency map[string]float64 `json:"latency_us"`
		}
		Errors    map[string]uint64
		TargetCPU map[string]float64 `json:"target_cpu"`
	}
	if err := json.Unmarshal([]byte(bout.String()), &res); err != nil {
		t.Fatalf("%v in %s", err, bout.String())
	}
	if res.TargetCPU["cpu_s"] <= 0 || res.TargetCPU["us_per_call"] <= 0 {
		t.Errorf("target CPU %v", res.TargetCPU)
	}
	if res.Scenario != "invite" || res.Mode != "sip-invite/udp" || len(res.Classes) != 2 || len(res.Errors) != 0 {
		t.Fatalf("result %+v", res)
	}
	for _, c := range res.Classes {
		if c.Count != 20 || c.Rate <= 0 || c.Latency["p50"] <= 0 {
			t.Errorf("class %+v", c)
		}
	}
}

// TestBenchLarge runs a short e2e-large (8 MiB) and checks the JSON report
// carries both throughputs, the ratio and the peak RSS.
func TestBenchLarge(t *testing.T) {
	e, out, errb := testEnv(nil, nil)
	if err := run(ctxT(t, time.Minute), e, []string{"bench", "--scenario", "e2e-large", "--size", "8388608", "--json"}); err != nil {
		t.Fatalf("bench: %v\n%s", err, errb.String())
	}
	var res struct {
		Scenario string
		Large    struct {
			Size     int64
			Raw      []float64 `json:"raw_tcp_mb_per_sec"`
			MSRP     float64   `json:"msrp_mb_per_sec"`
			Ratio    float64
			PeakRSS  int64 `json:"peak_rss"`
			RatioMet bool  `json:"ratio_met"`
		}
	}
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	l := res.Large
	if res.Scenario != "e2e-large" || l.Size != 8<<20 || len(l.Raw) != 2 || l.Raw[0] <= 0 || l.MSRP <= 0 || l.Ratio <= 0 || l.PeakRSS <= 0 {
		t.Fatalf("result %+v", res)
	}
	if l.RatioMet != (l.Ratio >= 0.5) {
		t.Errorf("ratio %v but met=%v", l.Ratio, l.RatioMet)
	}
	if !strings.Contains(errb.String(), "raw loopback TCP") {
		t.Errorf("no progress lines on stderr: %q", errb.String())
	}
}
