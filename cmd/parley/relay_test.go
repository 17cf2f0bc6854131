package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/msrp/relay"
)

// TestRelayCommand starts `parley relay` in-process and AUTHs to it with
// Parley's relay client: a wrong password is refused, the right one gets a
// Use-Path on the relay's host and port.
func TestRelayCommand(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("# test accounts\nalice:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, out, errb := testEnv(nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, e, []string{"relay", "--listen", "127.0.0.1:0", "--users", users, "--metrics-interval", "20ms"})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay exited with %v; stderr:\n%s", err, errb.String())
		}
	}()
	uri := waitFor(t, out, regexp.MustCompile(`clients AUTH to (msrp://\S+;tcp) \(1 users\)`), 10*time.Second)
	relayURI, err := msrp.ParseURI(uri)
	if err != nil {
		t.Fatalf("relay printed %q: %v", uri, err)
	}

	ep, err := msrp.NewEndpoint(msrp.Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	actx := ctxT(t, 20*time.Second)
	conn, err := ep.Dial(actx, relayURI)
	if err != nil {
		t.Fatalf("dial relay: %v", err)
	}
	defer conn.Release()
	self := msrp.URI{Host: "client.invalid", Port: 9, SessionID: msrp.NewSessionID(), Transport: "tcp"}

	_, err = msrp.Authenticate(actx, conn, relayURI, msrp.Credentials{Username: "alice", Password: "wrong"}, msrp.AuthOptions{From: self})
	if err == nil || !errors.Is(err, msrp.ErrAuthRejected) {
		t.Fatalf("AUTH with a wrong password: err = %v, want ErrAuthRejected", err)
	}
	auth, err := msrp.Authenticate(actx, conn, relayURI, msrp.Credentials{Username: "alice", Password: "secret"}, msrp.AuthOptions{From: self})
	if err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	if len(auth.UsePath) != 1 || auth.UsePath[0].Port != relayURI.Port || auth.UsePath[0].SessionID == "" {
		t.Fatalf("Use-Path = %v, want one URI on port %d with a session id", auth.UsePath, relayURI.Port)
	}
	// --metrics-interval: the counters show the AUTHs.
	waitFor(t, errb, regexp.MustCompile(`msg="relay metrics" .*sessions_live=1 auth_ok=1 auth_failures=1 `), 10*time.Second)
}

func TestRelayCommandErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(bad, []byte("alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"relay", "--listen", ":0"}, "--host is required"},
		{[]string{"relay", "--listen", "127.0.0.1:0", "--users", bad}, "want user:password"},
		{[]string{"relay", "--listen", "127.0.0.1:0", "--tls-cert", "x.pem"}, "go together"},
		{[]string{"relay", "extra"}, "no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			e, _, _ := testEnv(nil, nil)
			err := run(ctxT(t, 10*time.Second), e, tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestRelayFreeWhenQuiet: memory is given back once when the relay goes quiet
// after traffic, not while it is busy and not again while it stays quiet.
func TestRelayFreeWhenQuiet(t *testing.T) {
	srv, err := relay.New(relay.Config{Host: "127.0.0.1", Authenticator: relay.NewMemoryAuthenticator()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	freed := make(chan struct{}, 10)
	stop := make(chan struct{})
	defer close(stop)
	go freeWhenQuiet(srv, 20*time.Millisecond, stop, func() { freed <- struct{}{} })
	select {
	case <-freed:
		t.Fatal("freed without traffic")
	case <-time.After(100 * time.Millisecond):
	}
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte("\r\n")) // read by the relay: traffic
	select {
	case <-freed:
	case <-time.After(5 * time.Second):
		t.Fatal("not freed after the traffic stopped")
	}
	select {
	case <-freed:
		t.Fatal("freed twice")
	case <-time.After(100 * time.Millisecond):
	}
}
