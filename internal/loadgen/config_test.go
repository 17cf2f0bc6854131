package loadgen

import (
	"context"
	"errors"
	"testing"
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  MSRPConfig
	}{
		{"unknown scenario", MSRPConfig{Scenario: "flood", Mode: Direct}},
		{"unknown path", MSRPConfig{Scenario: Small, Mode: "three-hop", Relay: "127.0.0.1:1", Users: creds}},
		{"no relay", MSRPConfig{Scenario: Small, Mode: TwoHop, Users: creds}},
		{"no credentials", MSRPConfig{Scenario: Small, Mode: OneHop, Relay: "127.0.0.1:1"}},
		{"churn direct", MSRPConfig{Scenario: Churn, Mode: Direct}},
		{"idle direct", MSRPConfig{Scenario: Idle, Mode: Direct}},
		{"idle without pid", MSRPConfig{Scenario: Idle, Mode: TwoHop, Relay: "127.0.0.1:1", Users: creds}},
		{"bad relay address", MSRPConfig{Scenario: Small, Mode: TwoHop, Relay: "127.0.0.1", Users: creds}},
		{"huge size", MSRPConfig{Scenario: Bulk, Mode: Direct, Size: 1 << 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := RunMSRP(context.Background(), tc.cfg)
			if !errors.Is(err, ErrConfig) || res != nil {
				t.Fatalf("RunMSRP = %v, %v; want ErrConfig", res, err)
			}
		})
	}
	if _, err := RunSIP(context.Background(), SIPConfig{Server: "127.0.0.1:5060", Pairs: 2, Users: []SIPUser{{"a", "b"}}}); !errors.Is(err, ErrConfig) {
		t.Errorf("RunSIP with too few users: %v", err)
	}
}
