package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

func init() {
	commands["demo"] = command{summary: "two endpoints negotiate sessions over loopback and chat, printing the exchange", run: runDemo}
}

const demoDescription = `Runs two user agents, alice and bob, in this process on loopback (no setup,
no server: peer-to-peer SIP on port-0 listeners). Alice INVITEs bob offering
both MSRP (RFC 4975) and the seed draft's CPIM transport (cpim/tcp); bob's UA
answers and picks MSRP. They exchange CPIM-wrapped messages both ways, each
with a delivery report, alice hangs up, sends one pager-mode SIP MESSAGE
(RFC 3428), then a second session offers only cpim/tcp and the same exchange
runs over the seed transport.

The transcript shows the SIP requests and responses, the SDP m-lines, every
message with its timestamp and delivery outcome (sent, delivered, failed);
--wire adds the raw SIP messages and MSRP/CPIM frames. The exit status is 0
only if every message was delivered.`

const demoExamples = `  parley demo                     # MSRP session, pager MESSAGE, cpim/tcp session
  parley demo --wire              # the same with every frame on the wire
  parley demo --transport cpim    # only the seed draft's cpim/tcp session
  parley demo --sip udp           # SIP over UDP instead of TCP`

// demoSide is one of the demo's agents.
type demoSide struct {
	name  string
	aor   string
	a     *agent
	calls chan *sipua.Call
	pager chan *sipua.Message
}

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo", "[flags]", demoDescription, demoExamples)
	wire := fs.Bool("wire", false, "also print the raw SIP messages and MSRP/CPIM frames")
	transport := fs.String("transport", "both", "session transport: msrp, cpim, or both (an MSRP round, then a cpim/tcp round)")
	sipT := fs.String("sip", "tcp", "SIP transport between the agents: udp or tcp")
	count := fs.Int("messages", 2, "messages each way per session (1-100)")
	timeout := fs.Duration("timeout", 20*time.Second, "give up after this long")
	maxSize := fs.Int64("max-size", 0, "bob's a=max-size in octets, e.g. 10 to see messages refused (0: no limit)")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("demo takes no arguments (got %q)", fs.Args())
	}
	switch *transport {
	case "msrp", "cpim", "both":
	default:
		return usageErr("--transport %q: want msrp, cpim or both", *transport)
	}
	if *sipT != "udp" && *sipT != "tcp" {
		return usageErr("--sip %q: want udp or tcp", *sipT)
	}
	if *count < 1 || *count > 100 {
		return usageErr("--messages %d: want 1 to 100", *count)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	t := newTranscript(e.stdout, *wire)
	if *maxSize < 0 {
		return usageErr("--max-size %d: want 0 or more", *maxSize)
	}
	d := &demo{t: t, ctx: ctx, count: *count, bobMaxSize: *maxSize}
	alice, err := d.side(ctx, "alice", "bob", *sipT)
	if err != nil {
		return err
	}
	defer alice.a.Close()
	bob, err := d.side(ctx, "bob", "alice", *sipT)
	if err != nil {
		return err
	}
	defer bob.a.Close()
	t.line("UA", "alice", "%s listening at %s", alice.aor, alice.a.ua.URI(*sipT))
	t.line("UA", "bob", "%s listening at %s", bob.aor, bob.a.ua.URI(*sipT))
	bobURI := bob.a.ua.URI(*sipT)

	var rounds []string
	switch *transport {
	case "both":
		rounds = []string{"both", "pager", "cpim"}
	default:
		rounds = []string{*transport, "pager"}
	}
	for _, r := range rounds {
		var err error
		switch r {
		case "pager":
			err = d.pager(alice, bob, bobURI)
		case "both":
			alice.a.media.setOffer(alice.a.msrp, alice.a.cpim)
			err = d.session(alice, bob, bobURI, "MSRP and cpim/tcp")
		case "msrp":
			alice.a.media.setOffer(alice.a.msrp)
			err = d.session(alice, bob, bobURI, "MSRP only")
		case "cpim":
			alice.a.media.setOffer(alice.a.cpim)
			err = d.session(alice, bob, bobURI, "cpim/tcp only (the seed draft's CPIM transport)")
		}
		if err != nil {
			// Report and go on with the next round.
			t.line("FAIL", "", "%v", err)
			d.failed++
		}
	}
	if d.failed > 0 || d.delivered != d.total {
		return &exitError{code: 1, err: fmt.Errorf("demo: %d of %d messages delivered (%d failures)", d.delivered, d.total, d.failed)}
	}
	t.line("DONE", "", "%d of %d messages delivered", d.delivered, d.total)
	return nil
}

type demo struct {
	t          *transcript
	ctx        context.Context
	count      int
	bobMaxSize int64

	n, total, delivered, failed int
}

func (d *demo) side(ctx context.Context, name, peer, sipT string) (*demoSide, error) {
	opts := sessionOptions()
	if name == "bob" {
		opts.MaxSize = d.bobMaxSize
	}
	s := &demoSide{name: name, aor: "sip:" + name + "@example.com",
		calls: make(chan *sipua.Call, 4), pager: make(chan *sipua.Message, 4)}
	id := &identity{as: s.aor, listen: "127.0.0.1:0", transport: sipT, media: "both"}
	a, err := newAgent(ctx, id, agentOptions{
		session:    opts,
		autoAnswer: true,
		onCall: func(c *sipua.Call) {
			select {
			case s.calls <- c:
			default:
				c.Hangup(context.Background())
			}
		},
		onMessage: func(m *sipua.Message) {
			select {
			case s.pager <- m:
			default:
			}
		},
		tap: d.t, name: name, peer: peer,
	})
	if err != nil {
		return nil, fmt.Errorf("demo: starting %s: %w", name, err)
	}
	s.a = a
	return s, nil
}

// session runs one session round: INVITE, messages both ways, BYE.
func (d *demo) session(alice, bob *demoSide, bobURI, offered string) error {
	ctx, t := d.ctx, d.t
	t.line("CALL", arrow("alice", "bob"), "inviting %s, offering %s", bob.aor, offered)
	ac, err := alice.a.ua.Invite(ctx, bobURI, sipua.InviteOptions{Subject: "parley demo"})
	if err != nil {
		return fmt.Errorf("INVITE: %w", err)
	}
	var bc *sipua.Call
	select {
	case bc = <-bob.calls:
	case <-ctx.Done():
		return fmt.Errorf("bob's side of the session did not open: %w", context.Cause(ctx))
	}
	as, bs := ac.Session(), bc.Session()
	t.line("SESS", "alice ↔ bob", "session open over %s", protoName(as))
	t.raw("                                   ", []string{"alice: " + mline(as.Local()), "bob:   " + mline(bs.Local())})

	for i := range d.count {
		if err := d.exchange(alice, bob, as, bs, fmt.Sprintf("Hello bob, this is alice (%d/%d) over %s.", i+1, d.count, protoName(as))); err != nil {
			return err
		}
		if err := d.exchange(bob, alice, bs, as, fmt.Sprintf("Hi alice, bob here (%d/%d): loud and clear.", i+1, d.count)); err != nil {
			return err
		}
	}
	t.line("CALL", arrow("alice", "bob"), "hanging up")
	if err := ac.Hangup(ctx); err != nil {
		return fmt.Errorf("BYE: %w", err)
	}
	select {
	case <-bc.Done():
		t.line("SESS", "alice ↔ bob", "session closed")
	case <-ctx.Done():
		return errors.New("bob's call did not end after the BYE")
	}
	return nil
}

// exchange sends one message on from's session and waits until to's
// session received it and from's delivery is final.
func (d *demo) exchange(from, to *demoSide, fs, ts session.Session, text string) error {
	ctx, t := d.ctx, d.t
	d.n++
	d.total++
	n := d.n
	dir := arrow(from.name, to.name)
	start := time.Now()
	del, err := fs.Send(ctx, &session.Outgoing{ContentType: typeText, Body: []byte(text), CPIM: cpimFor(from.aor, to.aor, start)})
	if err != nil {
		t.line("MSG", dir, "#%d failed, not sent: %v", n, err)
		return nil
	}
	t.line("MSG", dir, "#%d sent %s (CPIM-wrapped, id %s)", n, quote([]byte(text)), del.ID())

	// Wait for the receiver to get it, unless the delivery fails first
	// (the receiver then never sees it).
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	got := make(chan *session.Incoming, 1)
	go func() {
		in, _ := ts.Receive(rctx)
		got <- in
	}()
	var in *session.Incoming
	select {
	case in = <-got:
	case <-del.Done():
		if del.Result().Outcome == session.Delivered {
			in = <-got
		}
	}
	if in != nil {
		ct, body := content(in)
		who, when := "?", ""
		if in.CPIM != nil {
			if f, err := in.CPIM.From(); err == nil {
				who = f.URI
			}
			if dt, err := in.CPIM.DateTime(); err == nil {
				when = ", CPIM DateTime " + dt.Format("15:04:05.000")
			}
		}
		t.line("MSG", to.name, "#%d received %s (%s from %s%s)", n, quote(body), ct, who, when)
	} else if ctx.Err() != nil {
		return fmt.Errorf("message #%d: %s did not receive it: %w", n, to.name, context.Cause(ctx))
	}
	rcancel()
	res, err := del.Wait(ctx)
	if err != nil {
		return fmt.Errorf("message #%d: no delivery report: %w", n, err)
	}
	switch res.Outcome {
	case session.Delivered:
		d.delivered++
		t.line("MSG", dir, "#%d delivered (report after %s)", n, since(start))
	default:
		why := res.Comment
		if res.Err != nil {
			why = res.Err.Error()
		}
		t.line("MSG", dir, "#%d %s: %d %s", n, res.Outcome, res.Status, why)
	}
	return nil
}

// pager sends one pager-mode MESSAGE with a CPIM body.
func (d *demo) pager(alice, bob *demoSide, bobURI string) error {
	ctx, t := d.ctx, d.t
	d.n++
	d.total++
	n := d.n
	text := "A pager-mode MESSAGE, outside any session."
	start := time.Now()
	m := cpimFor(alice.aor, bob.aor, start)
	if err := m.SetContent(typeText, []byte(text)); err != nil {
		return err
	}
	t.line("MSG", arrow("alice", "bob"), "#%d MESSAGE %s (message/cpim)", n, quote([]byte(text)))
	res, err := alice.a.ua.SendMessage(ctx, bobURI, typeCPIM, m.Bytes())
	if err != nil {
		t.line("MSG", arrow("alice", "bob"), "#%d failed: %v", n, err)
		return nil
	}
	select {
	case in := <-bob.pager:
		_, body, _ := pagerContent(in)
		t.line("MSG", "bob", "#%d received %s (%s mode, from %s)", n, quote(body), in.Mode, in.From.URI)
	case <-ctx.Done():
		return errors.New("bob did not receive the MESSAGE")
	}
	if res.Disposition == sipua.Delivered {
		d.delivered++
	}
	t.line("MSG", arrow("alice", "bob"), "#%d %s (%d %s after %s)", n, res.Disposition, res.Status, res.Reason, since(start))
	return nil
}
