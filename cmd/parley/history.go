package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/internal/store"
)

func init() {
	commands["history"] = command{summary: "show a user's message history kept by the server", run: runHistory}
}

const historyExamples = `  parley history alice
  parley history alice@example.com --peer bob --limit 20
  parley history sip:alice@localhost --json`

func runHistory(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "history", "<user[@domain]> [--peer user] [--limit n] [flags]",
		"Print the messages 'parley serve' recorded for a user, newest last: pager\n"+
			"messages (SIP MESSAGE) through its proxy and session messages (MSRP) through its\n"+
			"relays, unless the user opted out. Each line shows the time, the mode ([pager]\n"+
			"or [session]), the direction (-> sent, <- received), the peer and the text;\n"+
			"--json prints one object per line instead (time, owner, peer, direction in|out,\n"+
			"mode pager|session, content_type, body).", historyExamples)
	domain := fs.String("domain", envOr(e, "PARLEY_DOMAIN", "localhost"), "domain of names given without one (env PARLEY_DOMAIN)")
	peer := fs.String("peer", "", "only the messages with this peer")
	limit := fs.Int("limit", 50, "at most this many messages (1..1000)")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	sf := addStoreFlags(e, fs)
	pos, err := parseInterspersed(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return &exitError{code: 2, err: errors.New("history: want exactly one user")}
	}
	if *limit < 1 || *limit > 1000 {
		return &exitError{code: 2, err: fmt.Errorf("history: --limit %d out of 1..1000", *limit)}
	}
	owner := aorArg(pos[0], *domain)
	p := ""
	if *peer != "" {
		p = aorArg(*peer, *domain)
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	hs, err := st.History(ctx, owner, p, store.Cursor{}, *limit)
	if err != nil {
		return err
	}
	if len(hs) == 0 && !*asJSON {
		fmt.Fprintf(e.stderr, "no history for %s\n", owner)
	}
	for i := len(hs) - 1; i >= 0; i-- {
		h := hs[i]
		dir, arrow := "in", "<-"
		if h.Direction == store.Outgoing {
			dir, arrow = "out", "->"
		}
		mode := "pager"
		if h.Mode == store.SessionMode {
			mode = "session"
		}
		body := string(h.Body)
		if size, ctype, ok := notKeptEntry(h.ContentType, h.Body); ok {
			body = fmt.Sprintf("(%s bytes of %s, not kept)", size, ctype)
		} else if !utf8.ValidString(body) {
			body = fmt.Sprintf("(%d bytes of %s)", len(h.Body), h.ContentType)
		}
		if *asJSON {
			json.NewEncoder(e.stdout).Encode(map[string]any{"time": h.Time.UTC().Format(time.RFC3339Nano), "owner": h.Owner,
				"peer": h.Peer, "direction": dir, "mode": mode, "content_type": h.ContentType, "body": body})
			continue
		}
		fmt.Fprintf(e.stdout, "%s %-9s %s %s %s\n", h.Time.Local().Format("2006-01-02 15:04:05"), "["+mode+"]", arrow, h.Peer, strings.ReplaceAll(body, "\n", "\n    "))
	}
	return nil
}

// notKeptEntry recognises the entries the server records for session
// messages whose body it did not keep (too large): a message/external-body
// with access-type server.NotKeptAccessType and the message's size, whose
// body names the message's own type (RFC 2046 §5.2.3).
func notKeptEntry(contentType string, body []byte) (size, ctype string, ok bool) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "message/external-body" || params["access-type"] != server.NotKeptAccessType {
		return "", "", false
	}
	ctype = "unknown type"
	if v, ok := strings.CutPrefix(string(body), "Content-Type: "); ok {
		ctype, _, _ = strings.Cut(v, "\r\n")
	}
	size = params["size"]
	if size == "" {
		size = "?"
	}
	return size, ctype, true
}

// aorArg turns "alice", "alice@d" or "sip:alice@d" into "sip:alice@d".
func aorArg(s, domain string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "sip:"), "sips:")
	if u, d, ok := strings.Cut(s, "@"); ok {
		return "sip:" + u + "@" + strings.ToLower(d)
	}
	return "sip:" + s + "@" + strings.ToLower(domain)
}
