package loadgen

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestDebugRun(t *testing.T) {
	if os.Getenv("LG_DEBUG") == "" {
		t.Skip("LG_DEBUG not set")
	}
	s := startRelay(t)
	atoi := func(k string) int { v, _ := strconv.Atoi(os.Getenv(k)); return v }
	cfg := MSRPConfig{Scenario: os.Getenv("LG_SCEN"), Mode: TwoHop, Relay: s.URI().HostPort(), Users: creds,
		Sessions: atoi("LG_S"), Window: atoi("LG_W"), Size: atoi("LG_SIZE"), Duration: 500 * time.Millisecond, Progress: os.Stderr, ChatSessions: 3, ChatRate: 50}
	res, err := RunMSRP(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res.WriteTable(os.Stderr)
}
