package server

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/internal/testpeer"
	"testing"
	"time"
)

// TestSIPp: the sipp tool registers with digest and sends a MESSAGE with
// proxy digest to an offline user (202), then unregisters with
// "Contact: *", against the server (interoperability with an
// implementation that is not ours).
func TestSIPp(t *testing.T) {
	bin := testpeer.Require(t, "sipp")
	cfg := testConfig(t.TempDir())
	// sipp answers only the first challenge and only with MD5.
	cfg.Algorithms = []store.Algorithm{store.MD5, store.SHA256}
	s := startServer(t, cfg, "alice", "bob")
	scen, _ := filepath.Abs("testdata/sipp/register_message.xml")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// sipp writes its listening port in Via; give it a free one.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	pc.Close()
	cmd := exec.CommandContext(ctx, bin, s.sipAddr("udp"),
		"-sf", scen, "-m", "1", "-i", "127.0.0.1", "-p", port, "-t", "u1",
		"-au", "alice", "-ap", "alice-pw",
		"-set", "user", "alice", "-set", "domain", domain, "-set", "peer", "bob",
		"-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", filepath.Join(t.TempDir(), "sipp.err"))
	cmd.Dir = t.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("sipp: %v\n%s", err, out.String())
	}
	p, err := s.Store().Pending(t.Context(), "sip:bob@"+domain, 0)
	if err != nil || len(p) != 1 || string(bytes.TrimSpace(p[0].Body)) != "hello from sipp" {
		t.Fatalf("stored: %+v %v", p, err)
	}
	if bs, _ := s.Store().Lookup(t.Context(), "sip:alice@"+domain); len(bs) != 0 {
		t.Errorf("alice still has %d bindings after Contact: *", len(bs))
	}
}
