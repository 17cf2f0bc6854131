package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/internal/store"
)

// TestHistoryText: `parley history` prints pager and session entries of
// both directions, oldest first, with the mode marked, multi-line bodies
// indented, binary bodies and bodies the server did not keep described; --peer filters; --json carries
// the same entries with their mode.
func TestHistoryText(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(t.Context(), "file:"+filepath.Join(dir, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	alice, bob, carol := "sip:alice@localhost", "sip:bob@localhost", "sip:carol@localhost"
	for i, h := range []store.HistoryEntry{
		{Peer: bob, Direction: store.Outgoing, Mode: store.PagerMode, ContentType: "text/plain", Body: []byte("pager hello")},
		{Peer: bob, Direction: store.Incoming, Mode: store.SessionMode, ContentType: "text/plain", Body: []byte("session reply\nsecond line")},
		{Peer: carol, Direction: store.Incoming, Mode: store.PagerMode, ContentType: "text/plain", Body: []byte("from carol")},
		{Peer: bob, Direction: store.Outgoing, Mode: store.SessionMode, ContentType: "application/octet-stream", Body: []byte{0xff, 0xfe, 0x00}},
		{Peer: bob, Direction: store.Incoming, Mode: store.SessionMode, ContentType: "message/external-body; access-type=" + server.NotKeptAccessType + "; size=1048576",
			Body: []byte("Content-Type: image/png\r\n\r\n")},
	} {
		h.Owner, h.Time = alice, t0.Add(time.Duration(i)*time.Minute)
		if _, err := st.AppendHistory(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	ts := func(i int) string {
		return t0.Add(time.Duration(i) * time.Minute).Local().Format("2006-01-02 15:04:05")
	}

	history := func(args ...string) string {
		t.Helper()
		e, out, errb := testEnv(nil, map[string]string{"PARLEY_DATA_DIR": dir})
		if err := run(t.Context(), e, append([]string{"history"}, args...)); err != nil {
			t.Fatalf("history %q: %v %s", args, err, errb.String())
		}
		return out.String()
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"all", []string{"alice"}, ts(0) + " [pager]   -> sip:bob@localhost pager hello\n" +
			ts(1) + " [session] <- sip:bob@localhost session reply\n    second line\n" +
			ts(2) + " [pager]   <- sip:carol@localhost from carol\n" +
			ts(3) + " [session] -> sip:bob@localhost (3 bytes of application/octet-stream)\n" +
			ts(4) + " [session] <- sip:bob@localhost (1048576 bytes of image/png, not kept)\n"},
		{"peer", []string{"alice", "--peer", "carol"}, ts(2) + " [pager]   <- sip:carol@localhost from carol\n"},
		{"limit keeps the newest", []string{"sip:alice@localhost", "--limit", "2"}, ts(3) + " [session] -> sip:bob@localhost (3 bytes of application/octet-stream)\n" +
			ts(4) + " [session] <- sip:bob@localhost (1048576 bytes of image/png, not kept)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := history(c.args...); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}

	var modes, dirs []string
	for line := range strings.Lines(history("alice", "--json")) {
		var m struct{ Mode, Direction, Peer, Body string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		modes, dirs = append(modes, m.Mode), append(dirs, m.Direction)
	}
	if strings.Join(modes, ",") != "pager,session,pager,session,session" || strings.Join(dirs, ",") != "out,in,in,out,in" {
		t.Errorf("--json modes %v, directions %v", modes, dirs)
	}

	e, out, errb := testEnv(nil, map[string]string{"PARLEY_DATA_DIR": dir})
	if err := run(t.Context(), e, []string{"history", "bob"}); err != nil || out.String() != "" || !strings.Contains(errb.String(), "no history for sip:bob@localhost") {
		t.Errorf("empty history: %v, stdout %q, stderr %q", err, out.String(), errb.String())
	}

	e, out, _ = testEnv(nil, nil)
	run(t.Context(), e, []string{"history", "--help"})
	for _, want := range []string{"session messages", "[session]", "[pager]", "mode pager|session"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("history --help lacks %q:\n%s", want, out.String())
		}
	}
}
