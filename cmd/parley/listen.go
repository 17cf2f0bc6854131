package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

func init() {
	commands["listen"] = command{summary: "receive messages (pager and session) and print them as JSON lines", run: runListen}
}

const listenDescription = `Waits for messages and prints each one as a JSON line on standard output (or
appends it to --output), for scripts. With --server it registers there;
without, it listens directly on --listen (default 127.0.0.1:5060; with
--server, 127.0.0.1:0) for peer-to-peer use. Incoming sessions (MSRP or
cpim/tcp) are answered automatically and their messages printed like pager
messages. Runs until interrupted (SIGINT or SIGTERM), then unregisters and
exits 0.

Each line is a JSON object:
  {"time":"2026-12-01T21:50:01.123Z","from":"sip:alice@example.com",
   "to":"sip:bob@example.com","mode":"pager","content_type":"text/plain",
   "text":"hello","id":"..."}
mode is "pager" (SIP MESSAGE), "large-message" (a body over the pager limit,
sent in a short session) or "session"; a body that is not UTF-8 text has
"size" (octets) instead of "text". isComposing notifications are not
printed.`

const listenExamples = `  parley listen                                     # peer-to-peer on 127.0.0.1:5060
  parley listen --listen 127.0.0.1:5070 --output inbox.jsonl
  parley listen --as sip:bob@example.com --server "sip:example.com;transport=tcp" --password secret
  parley listen | jq -r .text`

// record is one line of listen's output.
type record struct {
	Time        string  `json:"time"`
	From        string  `json:"from"`
	To          string  `json:"to"`
	Mode        string  `json:"mode"`
	ContentType string  `json:"content_type"`
	Text        *string `json:"text,omitempty"`
	Size        *int64  `json:"size,omitempty"`
	ID          string  `json:"id,omitempty"`
	Subject     string  `json:"subject,omitempty"`
}

// recorder writes records, one JSON object per line, from any goroutine.
type recorder struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

func (r *recorder) write(rec record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enc.Encode(rec); err != nil && r.err == nil {
		r.err = err
	}
}

func newRecord(when time.Time, from, to, mode, ctype string, body []byte, size int64, id string) record {
	rec := record{Time: when.UTC().Format(time.RFC3339Nano), From: from, To: to, Mode: mode, ContentType: ctype, ID: id}
	if body != nil && isText(ctype, body) {
		s := string(body)
		rec.Text = &s
	} else {
		if body != nil {
			size = int64(len(body))
		}
		rec.Size = &size
	}
	return rec
}

func runListen(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "listen", "[flags]", listenDescription, listenExamples)
	var id identity
	addIdentityFlags(fs, e, &id, "")
	output := fs.String("output", "", "append the JSON lines to this file instead of standard output")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("listen takes no arguments (got %q)", fs.Args())
	}
	if id.listen == "" {
		id.listen = "127.0.0.1:5060"
		if id.server != "" {
			id.listen = "127.0.0.1:0"
		}
	}
	var w io.Writer = e.stdout
	if *output != "" {
		f, err := os.OpenFile(*output, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		defer f.Close()
		w = f
	}
	rec := &recorder{enc: json.NewEncoder(w)}
	rec.enc.SetEscapeHTML(false)

	opts := sessionOptions()
	opts.MaxInMemory = streamThreshold
	heads := &headSinks{m: map[string]*headAt{}}
	opts.Sink = heads.sink
	a, err := newAgent(ctx, &id, agentOptions{
		session:    opts,
		autoAnswer: true,
		register:   true,
		onMessage: func(m *sipua.Message) {
			ct, body, wrapper := pagerContent(m)
			if isType(ct, typeIsComposing) {
				return // page-mode isComposing (RFC 3994 §4): not a message
			}
			size := int64(len(body))
			if m.Session != nil && m.Session.Body == nil {
				ct, size = heads.inner(m.Session)
				body = nil
			}
			msgID := m.CallID
			if m.Session != nil && m.Session.ID != "" {
				msgID = m.Session.ID
			}
			if v := imdnID(wrapper); v != "" {
				msgID = v
			}
			r := newRecord(m.Received, m.From.URI, m.To.URI, m.Mode.String(), ct, body, size, msgID)
			r.Subject = m.Subject
			rec.write(r)
		},
		onCall: func(c *sipua.Call) {
			fmt.Fprintf(e.stderr, "session from %s over %s\n", c.Remote().URI, protoName(c.Session()))
			receiveAll(ctx, c, func(in *session.Incoming) {
				ct, body := content(in)
				if isType(ct, typeIsComposing) {
					return
				}
				size := in.Size
				if in.Body == nil {
					ct, size = heads.inner(in)
					body = nil
				}
				r := newRecord(in.Received, c.Remote().URI, c.Local().URI, "session", ct, body, size, in.ID)
				r.Subject = c.Subject()
				rec.write(r)
			})
			fmt.Fprintf(e.stderr, "session from %s ended\n", c.Remote().URI)
		},
	})
	if err != nil {
		return err
	}
	where := a.uri(&id)
	if id.server != "" {
		fmt.Fprintf(e.stderr, "registered %s with %s; listening at %s\n", id.as, id.server, where)
	} else {
		fmt.Fprintf(e.stderr, "listening at %s\n", where)
	}
	<-ctx.Done()
	a.Close() // hangs up, unregisters (Expires: 0), waits for onCall
	if rec.err != nil {
		return fmt.Errorf("writing messages: %w", rec.err)
	}
	fmt.Fprintln(e.stderr, "stopped")
	return nil
}

// receiveAll hands every message of c's session to f until the call ends,
// following a re-INVITE's new session.
func receiveAll(ctx context.Context, c *sipua.Call, f func(*session.Incoming)) {
	for {
		s := c.Session()
		in, err := s.Receive(ctx)
		if err == nil {
			f(in)
			continue
		}
		if ctx.Err() != nil || !errors.Is(err, session.ErrClosed) {
			return
		}
		select {
		case <-c.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		if c.Session() == s {
			// Ended without a replacement so far: wait for the call.
			select {
			case <-c.Done():
				return
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			if c.Session() == s {
				return
			}
		}
	}
}

// imdnID returns the IMDN Message-ID of a CPIM wrapper (RFC 5438 §6.3).
func imdnID(m *cpim.Message) string {
	if m == nil {
		return ""
	}
	v, _ := m.Get(cpim.NSIMDN, cpim.IMDNMessageID)
	return v
}

// headSinks is the Sink of listen's sessions: bodies too large to hold in
// memory are not kept (listen reports their size), except their first
// octets, so that the type and size of the content inside a message/cpim
// wrapper can still be reported.
type headSinks struct {
	mu sync.Mutex
	m  map[string]*headAt // by message ID, until inner is asked
}

const headMax = 16 << 10

func (h *headSinks) sink(info session.Info) (io.WriterAt, error) {
	w := &headAt{}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.m) > 64 {
		clear(h.m) // messages whose Incoming never came
	}
	h.m[info.ID] = w
	return w, nil
}

// inner returns the content type and size of a message that went to the
// sink: the wrapped content's when it is message/cpim and its headers
// arrived whole.
func (h *headSinks) inner(in *session.Incoming) (string, int64) {
	h.mu.Lock()
	w := h.m[in.ID]
	delete(h.m, in.ID)
	h.mu.Unlock()
	if w == nil || !isType(in.ContentType, typeCPIM) {
		return in.ContentType, in.Size
	}
	head := w.bytes()
	m, err := cpim.Parse(head)
	if err != nil {
		return in.ContentType, in.Size
	}
	return m.ContentType(), in.Size - int64(len(head)-len(m.Body()))
}

// headAt keeps the first headMax octets written to it and discards the
// rest.
type headAt struct {
	mu  sync.Mutex
	buf [headMax]byte
	n   int // contiguous octets from offset 0
}

func (w *headAt) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if off < headMax {
		end := min(off+int64(len(p)), headMax)
		copy(w.buf[off:end], p)
		if off <= int64(w.n) && int(end) > w.n {
			w.n = int(end)
		}
	}
	return len(p), nil
}

func (w *headAt) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf[:w.n]
}
