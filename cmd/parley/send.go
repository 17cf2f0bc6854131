package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

func init() {
	commands["send"] = command{summary: "send one message (pager mode, or a session for large bodies) and wait for delivery", run: runSend}
}

// Exit statuses of send (also listed in its --help).
const (
	exitFailed   = 1 // not delivered, or any other error
	exitUsage    = 2 // command-line mistake
	exitAccepted = 3 // accepted for later delivery (202), or sent without a delivery confirmation
)

const sendDescription = `Sends one message to <peer> and waits until its delivery is confirmed. The
text comes from the arguments, or from standard input when it is "-" or
absent (for text/plain, one trailing newline is dropped). A short body goes
in a pager-mode SIP MESSAGE (RFC 3428); a body over the pager limit (1300
bytes) goes in a short session automatically (INVITE, one message, BYE: the
UA's large-message mode); --session always uses a session (MSRP or cpim/tcp,
as negotiated) with a delivery report. Standard input larger than 1 MiB is
streamed in large-message mode (or, with --session, in a plain session)
without being held in memory (a pipe is spooled to a temporary file first,
so the message has a size); a progress line is shown on standard error when
it is a terminal, or with --progress.

Without --server the peer is reached directly (peer-to-peer): give its
address with host and port, as "parley listen" prints it.

Exit status:
  0  delivered: the peer's UA accepted it (200) or sent a delivery report
  1  not delivered (refused, not found, timed out, ...) or another error
  2  command-line mistake
  3  accepted for later delivery (202 Accepted from a store-and-forward
     server), or sent but the peer's side did not confirm delivery`

const sendExamples = `  parley send sip:bob@127.0.0.1:5060 "hello bob"
  echo "hello from a pipe" | parley send sip:bob@127.0.0.1:5060
  parley send --session --progress sip:bob@127.0.0.1:5060 - < big.log
  PARLEY_AS=sip:alice@example.com PARLEY_SERVER="sip:example.com;transport=tcp" \
    PARLEY_PASSWORD=secret parley send sip:bob@example.com "via the server"`

// streamThreshold is the stdin size above which send streams in a session
// instead of holding the body in memory.
const streamThreshold = 1 << 20

func runSend(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "send", "[flags] <peer> [text... | -]", sendDescription, sendExamples)
	var id identity
	addIdentityFlags(fs, e, &id, "127.0.0.1:0")
	forceSession := fs.Bool("session", false, "send in a message session (INVITE, MSRP or cpim/tcp) even for a short body")
	ctype := fs.String("type", typeText, "content type of the message")
	wrap := fs.Bool("cpim", false, "wrap a pager-mode message in message/cpim (sessions always use CPIM)")
	subject := fs.String("subject", "", "Subject header of the session INVITE")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the peer to answer")
	progress := fs.Bool("progress", false, "show transfer progress on standard error even when it is not a terminal")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return usageErr("send needs a peer address, e.g. parley send sip:bob@127.0.0.1:5060 hello")
	}
	if err := id.check(); err != nil {
		return err
	}
	peer := peerURI(fs.Arg(0), id.transport)

	// The body: arguments, or standard input.
	var body []byte
	var stream io.Reader
	size := int64(-1)
	if fs.NArg() > 1 && !(fs.NArg() == 2 && fs.Arg(1) == "-") {
		body = []byte(strings.Join(fs.Args()[1:], " "))
	} else {
		if isTerminal(e.stdin) {
			fmt.Fprintln(e.stderr, "type the message, then Ctrl-D on a new line (or give the text as arguments)")
		}
		known := stdinSize(e.stdin)
		head, err := io.ReadAll(io.LimitReader(e.stdin, streamThreshold+1))
		if err != nil {
			return fmt.Errorf("reading standard input: %w", err)
		}
		if len(head) <= streamThreshold {
			body = head
			if isType(*ctype, "text/plain") {
				// "echo hi | parley send": the line's newline is not
				// part of the message.
				body = bytes.TrimSuffix(bytes.TrimSuffix(body, []byte("\n")), []byte("\r"))
			}
		} else {
			stream = io.MultiReader(bytes.NewReader(head), e.stdin)
			size = known
			if size < 0 {
				// A pipe: spool it so the message has a size. A
				// receiver streams a sized message to disk, but holds
				// one of unknown size (Byte-Range total "*") in memory
				// and refuses it beyond its in-memory limit.
				f, n, err := spool(stream)
				if err != nil {
					return err
				}
				defer os.Remove(f.Name())
				defer f.Close()
				stream, size = f, n
			}
		}
	}

	a, err := newAgent(ctx, &id, agentOptions{session: session.Options{WantReceipts: true}})
	if err != nil {
		return err
	}
	defer a.Close()

	show := *progress || isTerminal(e.stderr)
	switch {
	case stream == nil && !*forceSession:
		return sendPager(ctx, e, a, &id, peer, *ctype, body, *wrap, *timeout)
	case stream != nil && !*forceSession:
		// Large-message mode (INVITE with the large-message feature
		// tag, the body streamed, BYE): the receiver takes it as one
		// message, like a pager one.
		return sendStream(ctx, e, a, &id, peer, *subject, &sipua.LargeMessage{
			ContentType: *ctype, Body: stream, Size: size,
			CPIM: cpimFor(id.as, peer, time.Now()), Subject: *subject,
		}, *timeout, show)
	}
	out := &session.Outgoing{ContentType: *ctype, CPIM: cpimFor(id.as, peer, time.Now())}
	if stream != nil {
		out.BodyReader, out.Size = stream, size
	} else {
		out.Body = body
	}
	return sendSession(ctx, e, a, &id, peer, *subject, out, *timeout, show)
}

// peerURI accepts "bob@host" for "sip:bob@host", and with --transport tls
// reads a sip: address without a transport parameter as sips: (RFC 3261
// §26.2: TLS to the target).
func peerURI(s, transport string) string {
	if !strings.HasPrefix(s, "sip:") && !strings.HasPrefix(s, "sips:") && !strings.HasPrefix(s, "im:") {
		s = "sip:" + s
	}
	if transport == sipua.TLS && strings.HasPrefix(s, "sip:") && !strings.Contains(strings.ToLower(s), ";transport=") {
		s = "sips:" + strings.TrimPrefix(s, "sip:")
	}
	return s
}

// spool copies r to a temporary file and returns it rewound, with its
// size.
func spool(r io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp("", "parley-send-*")
	if err != nil {
		return nil, 0, fmt.Errorf("spooling standard input: %w", err)
	}
	n, err := io.Copy(f, r)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, fmt.Errorf("spooling standard input to %s: %w", f.Name(), err)
	}
	return f, n, nil
}

// stdinSize returns the bytes left in r when it is a regular file, else -1.
func stdinSize(r io.Reader) int64 {
	f, ok := r.(*os.File)
	if !ok {
		return -1
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return -1
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return -1
	}
	return st.Size() - pos
}

func sendPager(ctx context.Context, e *env, a *agent, id *identity, peer, ctype string, body []byte, wrap bool, timeout time.Duration) error {
	if wrap {
		m := cpimFor(id.as, peer, time.Now())
		if err := m.SetContent(ctype, body); err != nil {
			return usageErr("--type %q: %v", ctype, err)
		}
		ctype, body = typeCPIM, m.Bytes()
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := a.ua.SendMessage(tctx, peer, ctype, body)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("interrupted before %s answered", peer)}
		}
		return &exitError{code: exitFailed, err: explain(err, id, peer)}
	}
	switch res.Disposition {
	case sipua.AcceptedForLater:
		fmt.Fprintf(e.stderr, "accepted for later delivery (%d %s): the server stores it until %s is online\n", res.Status, res.Reason, peer)
		return &exitError{code: exitAccepted, err: fmt.Errorf("%s: accepted for later delivery, not yet delivered (exit status %d)", peer, exitAccepted)}
	case sipua.Delivered:
		if res.Mode == sipua.LargeMessageMode && res.Session.Outcome == session.Sent {
			fmt.Fprintf(e.stderr, "sent to %s in a session (large-message mode); the peer did not confirm delivery\n", peer)
			return &exitError{code: exitAccepted, err: fmt.Errorf("%s: sent, delivery not confirmed (exit status %d)", peer, exitAccepted)}
		}
		fmt.Fprintf(e.stderr, "delivered to %s (%d %s, %s mode, %d bytes)\n", peer, res.Status, res.Reason, res.Mode, len(body))
		return nil
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("%s: unexpected outcome %v (%d %s)", peer, res.Disposition, res.Status, res.Reason)}
}

func sendSession(ctx context.Context, e *env, a *agent, id *identity, peer, subject string, out *session.Outgoing, timeout time.Duration, show bool) error {
	ictx, cancel := context.WithTimeout(ctx, timeout)
	call, err := a.ua.Invite(ictx, peer, sipua.InviteOptions{Subject: subject})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("interrupted before %s answered", peer)}
		}
		return &exitError{code: exitFailed, err: explain(err, id, peer)}
	}
	defer func() {
		// The BYE may go as soon as the message is delivered: a
		// receiving sipua UA still hands over what the session holds.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		call.Hangup(hctx)
		cancel()
	}()
	s := call.Session()
	start := time.Now()
	d, err := s.Send(ctx, out)
	if err != nil {
		return &exitError{code: exitFailed, err: explain(err, id, peer)}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	if show {
		wg.Go(func() { showProgress(e.stderr, d, start, stop) })
	}
	res, err := d.Wait(ctx)
	close(stop)
	wg.Wait()
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("interrupted while sending to %s: %w", peer, err)}
	}
	sent, _ := d.Progress()
	switch res.Outcome {
	case session.Delivered:
		n := d.Size()
		if n < 0 {
			n = sent
		}
		fmt.Fprintf(e.stderr, "delivered to %s (%s session, %s in %s)\n", peer, protoName(s), mib(n), since(start))
		return nil
	case session.Sent:
		fmt.Fprintf(e.stderr, "sent to %s over %s; the peer did not confirm delivery\n", peer, protoName(s))
		return &exitError{code: exitAccepted, err: fmt.Errorf("%s: sent, delivery not confirmed (exit status %d)", peer, exitAccepted)}
	case session.TimedOut:
		return &exitError{code: exitFailed, err: fmt.Errorf("no delivery report from %s in time (%s): %v", peer, protoName(s), res.Err)}
	}
	why := res.Comment
	switch res.Status {
	case 413:
		why = "the message is too large for the peer"
	case 415:
		why = "the peer does not accept this content type (try --type text/plain)"
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("%s refused the message over %s: %d %s %v", peer, protoName(s), res.Status, why, errOrEmpty(res.Err))}
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}

// sendStream sends a streamed body in large-message mode
// (sipua.SendLarge), with a progress line when show is set.
func sendStream(ctx context.Context, e *env, a *agent, id *identity, peer, subject string, m *sipua.LargeMessage, timeout time.Duration, show bool) error {
	start := time.Now()
	if show {
		m.Progress = func(sent, total int64) { progressLine(e.stderr, sent, 0, total, start) }
	}
	// The timeout bounds the wait for the answer, as in a session; the
	// transfer itself takes as long as it takes (Ctrl-C stops it).
	answered := make(chan struct{})
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-answered:
		case <-tctx.Done():
		}
	}()
	progress := m.Progress
	m.Progress = func(sent, total int64) {
		select {
		case <-answered:
		default:
			close(answered) // progress is reported only once the session is open
		}
		if progress != nil {
			progress(sent, total)
		}
	}
	res, err := a.ua.SendLarge(tctx, peer, m)
	if show && res.Session.Outcome != session.Pending {
		fmt.Fprintln(e.stderr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("interrupted while sending to %s", peer)}
		}
		return &exitError{code: exitFailed, err: explain(err, id, peer)}
	}
	if res.Session.Outcome == session.Sent {
		fmt.Fprintf(e.stderr, "sent to %s in a session (large-message mode); the peer did not confirm delivery\n", peer)
		return &exitError{code: exitAccepted, err: fmt.Errorf("%s: sent, delivery not confirmed (exit status %d)", peer, exitAccepted)}
	}
	fmt.Fprintf(e.stderr, "delivered to %s (%d %s, %s mode, %s in %s)\n", peer, res.Status, res.Reason, res.Mode, mib(m.Size), since(start))
	return nil
}

// progressLine prints one \r-refreshed progress line.
func progressLine(w io.Writer, sent, confirmed, total int64, start time.Time) {
	rate := float64(sent) / max(time.Since(start).Seconds(), 0.001)
	line := fmt.Sprintf("sending: %s", octets(sent, total))
	if confirmed > 0 {
		line += fmt.Sprintf(", %s confirmed", mib(confirmed))
	}
	line += fmt.Sprintf(", %s/s", mib(int64(rate)))
	fmt.Fprintf(w, "\r%-70s", line)
}

// showProgress prints a \r-refreshed progress line until stop closes.
func showProgress(w io.Writer, d *session.Delivery, start time.Time, stop <-chan struct{}) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	print := func() {
		sent, confirmed := d.Progress()
		progressLine(w, sent, confirmed, d.Size(), start)
	}
	for {
		select {
		case <-t.C:
			print()
		case <-stop:
			print()
			fmt.Fprintln(w)
			return
		}
	}
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func octets(n, total int64) string {
	if total > 0 {
		return fmt.Sprintf("%s of %s (%d%%)", mib(n), mib(total), n*100/total)
	}
	return mib(n)
}
