package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/parley-im/parley/iscomposing"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

func init() {
	commands["chat"] = command{summary: "interactive chat in a message session (MSRP or cpim/tcp)", run: runChat}
}

const chatDescription = `An interactive chat in one message session. With <peer>, chat INVITEs it;
without, it waits for an incoming session and accepts it (--ask asks
first). Each line you type is sent in the session; messages both ways are
shown with their time, and each of yours gets a number and an update line
when its delivery is confirmed or fails ("#3 delivered"). When the peer
accepts isComposing (RFC 3994) you see when it is typing and it sees when
you are (on a terminal, where chat reads keystrokes). When the session
drops, chat prints the command that reconnects.

Without --server, peers are reached directly: the waiting side listens on
--listen (default 127.0.0.1:5060 when waiting, else 127.0.0.1:0) and prints
the address to give the other side.

Commands typed at the prompt:
  /help    this list
  /status  the session's transport and peer
  /quit    hang up and exit (also Ctrl-D on an empty line, or Ctrl-C)`

const chatExamples = `  parley chat --as sip:bob@example.com                       # wait on 127.0.0.1:5060
  parley chat --as sip:alice@example.com sip:bob@127.0.0.1:5060
  parley chat --media cpim sip:bob@127.0.0.1:5060             # the seed draft's cpim/tcp
  PARLEY_SERVER="sip:example.com;transport=tcp" PARLEY_AS=sip:alice@example.com \
    PARLEY_PASSWORD=secret parley chat sip:bob@example.com`

const chatHelp = `commands: /help this list, /status session details, /quit hang up and exit`

func runChat(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "chat", "[flags] [peer]", chatDescription, chatExamples)
	var id identity
	addIdentityFlags(fs, e, &id, "")
	ask := fs.Bool("ask", false, "when waiting, ask before accepting an incoming session")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the peer to answer the INVITE")
	subject := fs.String("subject", "", "Subject of the INVITE")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("chat takes at most one peer (got %q)", fs.Args())
	}
	peer := ""
	if fs.NArg() == 1 {
		peer = peerURI(fs.Arg(0), id.transport)
	}
	if id.listen == "" {
		id.listen = "127.0.0.1:0"
		if peer == "" && id.server == "" {
			id.listen = "127.0.0.1:5060"
		}
	}

	c := &chat{e: e, id: &id, args: args, invites: make(chan *sipua.Incoming, 1), input: make(chan input, 16)}
	c.term = &term{w: e.stdout}
	if f, ok := e.stdin.(*os.File); ok && isTerminal(f) && isTerminal(e.stdout) {
		if restore, err := rawMode(f); err == nil {
			c.term.raw = true
			defer func() {
				c.term.clearPrompt()
				restore()
			}()
		}
	}
	opts := sessionOptions()
	a, err := newAgent(ctx, &id, agentOptions{
		session:  opts,
		register: peer == "",
		onInvite: func(in *sipua.Incoming) {
			if c.busy.Load() {
				in.Decline(486) // already in a session
				return
			}
			select {
			case c.invites <- in:
			default:
				in.Decline(486)
			}
		},
	})
	if err != nil {
		return err
	}
	defer a.Close()
	c.a = a
	ictx, icancel := context.WithCancel(ctx)
	defer icancel()
	go c.readInput(ictx)

	var call *sipua.Call
	if peer != "" {
		c.term.println(fmt.Sprintf("%s calling %s…", clock(), peer))
		ictx, cancel := context.WithTimeout(ctx, *timeout)
		call, err = a.ua.Invite(ictx, peer, sipua.InviteOptions{Subject: *subject})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return explain(err, &id, peer)
		}
	} else {
		where := a.uri(&id)
		if id.server != "" {
			c.term.println(fmt.Sprintf("%s registered %s with %s; waiting for a session (peers call %s)", clock(), id.as, id.server, id.as))
		} else {
			c.term.println(fmt.Sprintf("%s waiting for a session at %s", clock(), where))
			c.term.println(fmt.Sprintf("         the other side runs: parley chat %s", shellQuote(where)))
		}
		call, err = c.waitInvite(ctx, *ask)
		if err != nil || call == nil {
			return err
		}
	}
	return c.run(ctx, call)
}

// chat is one interactive session.
type chat struct {
	e       *env
	id      *identity
	args    []string
	a       *agent
	term    *term
	invites chan *sipua.Incoming
	input   chan input

	busy atomic.Bool // in a session: further invitations get 486

	mu        sync.Mutex
	n         int
	pending   sync.WaitGroup
	composing bool // the peer accepts isComposing
}

// input is a line typed, a keystroke (typing), or the end of input.
type input struct {
	line   string
	typing bool
	eof    bool
}

// readInput turns standard input into input events: keystrokes in raw
// mode (line editor), whole lines otherwise.
func (c *chat) readInput(ctx context.Context) {
	send := func(in input) bool {
		select {
		case c.input <- in:
			return true
		case <-ctx.Done():
			return false
		}
	}
	defer send(input{eof: true})
	if !c.term.raw {
		sc := bufio.NewScanner(c.e.stdin)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if !send(input{line: sc.Text()}) {
				return
			}
		}
		return
	}
	r := bufio.NewReader(c.e.stdin)
	for {
		b, err := r.ReadByte()
		if err != nil {
			return
		}
		switch {
		case b == '\r' || b == '\n':
			line := c.term.take()
			if !send(input{line: line}) {
				return
			}
		case b == 0x04: // Ctrl-D
			if c.term.empty() {
				return
			}
		case b == 0x7f || b == 0x08:
			c.term.backspace()
		case b == 0x15: // Ctrl-U
			c.term.take()
		case b == 0x1b: // escape sequence: ESC [ params final
			if n, _ := r.Peek(1); len(n) == 1 && n[0] == '[' {
				r.ReadByte()
				for {
					f, err := r.ReadByte()
					if err != nil || (f >= 0x40 && f <= 0x7e) {
						break
					}
				}
			}
		case b < 0x20:
		default:
			r.UnreadByte()
			ru, _, err := r.ReadRune()
			if err != nil {
				return
			}
			if ru != utf8.RuneError {
				c.term.add(ru)
				if !send(input{typing: true}) {
					return
				}
			}
		}
	}
}

// waitInvite waits for an incoming session and accepts it (asking first
// with ask).
func (c *chat) waitInvite(ctx context.Context, ask bool) (*sipua.Call, error) {
	for {
		var in *sipua.Incoming
		select {
		case in = <-c.invites:
		case i := <-c.input:
			if i.eof || strings.TrimSpace(i.line) == "/quit" {
				return nil, nil
			}
			if strings.HasPrefix(i.line, "/") {
				c.term.println(chatHelp)
			} else if i.line != "" {
				c.term.println("(no session yet: waiting for the peer to call)")
			}
			continue
		case <-ctx.Done():
			return nil, nil
		}
		var protos []string
		for _, m := range in.Media {
			protos = append(protos, m.Proto)
		}
		offer := fmt.Sprintf("%s wants to chat (offering %s)", in.From, strings.Join(protos, ", "))
		if in.Subject != "" {
			offer += fmt.Sprintf(", subject %q", in.Subject)
		}
		if ask {
			c.term.println(fmt.Sprintf("%s %s. Accept? [y/n]", clock(), offer))
			ok, quit := c.yesNo(ctx, in)
			if quit {
				in.Decline(603)
				return nil, nil
			}
			if !ok {
				in.Decline(603)
				c.term.println(clock() + " declined; waiting for another session")
				continue
			}
		} else {
			c.term.println(fmt.Sprintf("%s %s: accepting", clock(), offer))
		}
		call, err := in.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			c.term.println(fmt.Sprintf("%s the session could not be set up: %v; waiting for another", clock(), err))
			continue
		}
		return call, nil
	}
}

func (c *chat) yesNo(ctx context.Context, in *sipua.Incoming) (yes, quit bool) {
	for {
		select {
		case i := <-c.input:
			if i.eof {
				return false, true
			}
			if i.typing {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(i.line)) {
			case "y", "yes":
				return true, false
			case "n", "no":
				return false, false
			case "/quit":
				return false, true
			}
			c.term.println("answer y or n")
		case <-in.Canceled():
			c.term.println(clock() + " the caller gave up")
			return false, false
		case <-ctx.Done():
			return false, true
		}
	}
}

// run is the chat proper, until /quit, end of input, or the session ends.
func (c *chat) run(ctx context.Context, call *sipua.Call) error {
	c.busy.Store(true)
	s := call.Session()
	peer := call.Remote().URI
	name := shortName(peer)
	c.composing = peerAccepts(s, typeIsComposing)
	c.term.setPrompt("> ")
	c.term.println(fmt.Sprintf("%s session with %s started over %s (/help for commands)", clock(), peer, protoName(s)))

	msgs := make(chan *session.Incoming, 16)
	recvDone := make(chan struct{})
	rctx, rcancel := context.WithCancel(ctx)
	go func() {
		defer close(recvDone)
		receiveAll(rctx, call, func(in *session.Incoming) {
			select {
			case msgs <- in:
			case <-rctx.Done():
			}
		})
	}()
	defer func() {
		rcancel()
		<-recvDone
	}()

	var typing iscomposing.Sender
	var peerTyping iscomposing.Receiver
	shownTyping := false
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	sessDone := s.Done()

	quit := func() error {
		c.term.setPrompt("")
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		c.waitPending(hctx)
		call.Hangup(hctx)
		c.term.println(clock() + " session ended")
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return quit()
		case <-sessDone:
			// The message connection ended while the SIP dialog is up:
			// the peer may re-INVITE with a new path (RFC 4975 §8.4),
			// else the UA hangs up after a grace period.
			sessDone = nil
			if ns := call.Session(); ns != s {
				s, sessDone = ns, ns.Done()
				c.term.println(fmt.Sprintf("%s session re-established over %s", clock(), protoName(s)))
				continue
			}
			why := "closed"
			if err := s.Err(); err != nil {
				why = err.Error()
			}
			c.term.println(fmt.Sprintf("%s the message connection dropped (%s); waiting a few seconds for the peer to reconnect…", clock(), why))
		case <-call.Done():
			c.term.setPrompt("")
			why := "the peer hung up"
			err := call.Err()
			if err != nil && !errors.Is(err, sipua.ErrRemoteHangup) {
				why = "the session dropped: " + err.Error()
			}
			c.term.println(fmt.Sprintf("%s session ended: %s", clock(), why))
			c.term.println("         to reconnect: " + c.reconnect(call))
			if err != nil && !errors.Is(err, sipua.ErrRemoteHangup) {
				return &exitError{code: 1, err: fmt.Errorf("session with %s dropped", peer)}
			}
			return nil
		case in := <-msgs:
			ct, body := content(in)
			now := time.Now()
			if isType(ct, typeIsComposing) {
				st, err := iscomposing.Parse(body)
				if err != nil {
					continue
				}
				peerTyping.Status(st, now)
			} else {
				peerTyping.Content(now)
				shownTyping = false
				text := string(body)
				if !isText(ct, body) {
					text = fmt.Sprintf("[%s, %d bytes]", ct, in.Size)
				}
				c.term.println(fmt.Sprintf("%s %s: %s", in.Received.Format("15:04:05"), name, text))
				continue
			}
			if st := peerTyping.State(now); st == iscomposing.Active && !shownTyping {
				shownTyping = true
				c.term.println(fmt.Sprintf("%s %s is typing…", clock(), name))
			} else if st == iscomposing.Idle && shownTyping {
				shownTyping = false
				c.term.println(fmt.Sprintf("%s %s stopped typing", clock(), name))
			}
		case now := <-tick.C:
			if shownTyping && peerTyping.State(now) == iscomposing.Idle {
				shownTyping = false
				c.term.println(fmt.Sprintf("%s %s stopped typing", clock(), name))
			}
			if st, ok := typing.Tick(now); ok {
				c.sendComposing(ctx, call, st)
			}
		case i := <-c.input:
			if i.eof {
				return quit()
			}
			if i.typing {
				if st, ok := typing.Typing(time.Now()); ok {
					c.sendComposing(ctx, call, st)
				}
				continue
			}
			line := strings.TrimRight(i.line, "\r")
			switch strings.TrimSpace(line) {
			case "":
				continue
			case "/quit", "/exit", "/bye":
				return quit()
			case "/help", "/?":
				c.term.println(chatHelp)
				continue
			case "/status":
				s := call.Session()
				c.term.println(fmt.Sprintf("session with %s over %s; you are %s; %s", peer, protoName(s), c.id.as, mline(s.Remote())))
				continue
			}
			if strings.HasPrefix(line, "/") && !strings.HasPrefix(line, "//") {
				c.term.println("unknown command " + strings.Fields(line)[0] + "; " + chatHelp)
				continue
			}
			line = strings.TrimPrefix(line, "/") // "//text" sends "/text"
			typing.Sent(time.Now())
			c.send(ctx, call, line)
		}
	}
}

// send sends one line and reports its delivery in an update line.
func (c *chat) send(ctx context.Context, call *sipua.Call, text string) {
	c.mu.Lock()
	c.n++
	n := c.n
	c.mu.Unlock()
	s := call.Session()
	now := time.Now()
	d, err := s.Send(ctx, &session.Outgoing{ContentType: typeText, Body: []byte(text), CPIM: cpimFor(c.id.as, call.Remote().URI, now)})
	if err != nil {
		c.term.println(fmt.Sprintf("%s #%d me: %s  (failed: %v)", now.Format("15:04:05"), n, text, explain(err, c.id, call.Remote().URI)))
		return
	}
	c.term.println(fmt.Sprintf("%s #%d me: %s", now.Format("15:04:05"), n, text))
	c.pending.Add(1)
	go func() {
		defer c.pending.Done()
		res, err := d.Wait(ctx)
		if err != nil {
			return
		}
		switch res.Outcome {
		case session.Delivered, session.Sent:
			c.term.println(fmt.Sprintf("%s #%d %s", clock(), n, res.Outcome))
		default:
			why := res.Comment
			if res.Err != nil {
				why = res.Err.Error()
			}
			c.term.println(fmt.Sprintf("%s #%d %s: %d %s", clock(), n, res.Outcome, res.Status, why))
		}
	}()
}

// waitPending waits for the outcome of messages sent, up to ctx.
func (c *chat) waitPending(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		c.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
	}
}

// sendComposing sends an isComposing status (no delivery report) when
// the peer accepts them.
func (c *chat) sendComposing(ctx context.Context, call *sipua.Call, st iscomposing.Status) {
	if !c.composing {
		return
	}
	call.Session().Send(ctx, &session.Outgoing{ContentType: typeIsComposing, Body: st.Marshal(),
		CPIM: cpimFor(c.id.as, call.Remote().URI, time.Now()), NoReceipt: true})
}

// reconnect is the command line that starts this chat again.
func (c *chat) reconnect(call *sipua.Call) string {
	parts := []string{"parley", "chat"}
	for _, a := range c.args {
		parts = append(parts, shellQuote(a))
	}
	if !call.Outbound() {
		return strings.Join(parts, " ") + "    (then the peer calls again)"
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`;&|<>()*?[]{}!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shortName is the user part of a SIP URI ("bob" for sip:bob@host).
func shortName(uri string) string {
	u := uri
	if i := strings.Index(u, ":"); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.Index(u, "@"); i > 0 {
		return u[:i]
	}
	return uri
}

func clock() string { return time.Now().Format("15:04:05") }

// term prints chat lines. In raw mode it owns the input line: a printed
// line clears the prompt, and the prompt with what is being typed is drawn
// again below it.
type term struct {
	mu     sync.Mutex
	w      io.Writer
	raw    bool
	prompt string
	buf    []rune
}

func (t *term) println(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.raw {
		fmt.Fprintf(t.w, "\r\033[K%s\n%s%s", s, t.prompt, string(t.buf))
		return
	}
	fmt.Fprintln(t.w, s)
}

func (t *term) setPrompt(p string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prompt = p
	if t.raw {
		fmt.Fprintf(t.w, "\r\033[K%s%s", t.prompt, string(t.buf))
	}
}

func (t *term) clearPrompt() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.raw {
		fmt.Fprint(t.w, "\r\033[K")
	}
}

func (t *term) add(r rune) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, r)
	fmt.Fprint(t.w, string(r))
}

func (t *term) backspace() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) > 0 {
		t.buf = t.buf[:len(t.buf)-1]
		fmt.Fprintf(t.w, "\r\033[K%s%s", t.prompt, string(t.buf))
	}
}

func (t *term) empty() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buf) == 0
}

// take returns the typed line and starts a new one.
func (t *term) take() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(t.buf)
	t.buf = t.buf[:0]
	if t.raw {
		fmt.Fprintf(t.w, "\r\033[K%s", t.prompt)
	}
	return s
}
