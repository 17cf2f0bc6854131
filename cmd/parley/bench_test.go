package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
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
