package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	for _, c := range []struct {
		args  []string
		want  []string
		count int
	}{
		{nil, []string{"session open over TCP/MSRP", "session open over cpim/tcp", "m=message", "INVITE sip:bob@127.0.0.1", "SIP/2.0 200 OK", "BYE sip:bob", "MESSAGE sip:bob", "pager mode"}, 9},
		{[]string{"--transport", "cpim", "--messages", "1"}, []string{"session open over cpim/tcp", "offering cpim/tcp only"}, 3},
		{[]string{"--transport", "msrp", "--wire", "--messages", "1"}, []string{"MSRP ", " SEND", "To-Path: msrp://127.0.0.1", "Success-Report", "REPORT", "Content-Type: message/cpim"}, 3},
		{[]string{"--sip", "udp", "--messages", "1"}, []string{"session open over TCP/MSRP", "session open over cpim/tcp"}, 5},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			e, out, errb := testEnv(nil, nil)
			start := time.Now()
			err := run(ctxT(t, 30*time.Second), e, append([]string{"demo"}, c.args...))
			if err != nil {
				t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out, errb)
			}
			s := out.String()
			for _, w := range c.want {
				if !strings.Contains(s, w) {
					t.Errorf("transcript lacks %q:\n%s", w, s)
				}
			}
			done := regexp.MustCompile(`DONE +(\d+) of (\d+) messages delivered`).FindStringSubmatch(s)
			if done == nil || done[1] != done[2] || done[1] != strconv.Itoa(c.count) {
				t.Errorf("summary = %v, want %d of %d", done, c.count, c.count)
			}
			if n := strings.Count(s, " delivered ("); n != c.count {
				t.Errorf("%d delivered lines, want %d", n, c.count)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("demo took %v", d)
			}
		})
	}
}

func TestDemoBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--transport", "smoke"}, {"--sip", "tls"}, {"--messages", "0"}, {"--max-size", "-1"}, {"extra"}, {"--nope"}} {
		e, _, _ := testEnv(nil, nil)
		if err := run(t.Context(), e, append([]string{"demo"}, args...)); exitCode(err) != 2 {
			t.Errorf("demo %v: err = %v (exit %d), want exit 2", args, err, exitCode(err))
		}
	}
}

// TestDemoFailure: a message that is not delivered makes the demo fail
// with exit status 1 and says so.
func TestDemoFailure(t *testing.T) {
	e, out, _ := testEnv(nil, nil)
	err := run(ctxT(t, 30*time.Second), e, []string{"demo", "--messages", "1", "--max-size", "10"})
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "messages delivered") {
		t.Errorf("err = %v (exit %d)", err, exitCode(err))
	}
	// Over MSRP and over the CPIM transport the sender sees bob's
	// a=max-size and does not send; the pager MESSAGE has no limit.
	for _, w := range []string{"#1 failed, not sent: message larger than peer's max-size", "#2 delivered (report", "#3 delivered (200 OK", "#4 failed, not sent: message larger than peer's max-size"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("transcript lacks %q", w)
		}
	}
	if strings.Contains(out.String(), "DONE") {
		t.Errorf("transcript:\n%s", out)
	}
}
