package main

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

const (
	typeText        = "text/plain;charset=UTF-8"
	typeCPIM        = "message/cpim"
	typeIsComposing = "application/im-iscomposing+xml"
)

// sessionOptions are the session defaults of the interactive commands:
// CPIM-wrapped text, isComposing, receipts.
func sessionOptions() session.Options {
	return session.Options{
		AcceptTypes:        []string{typeCPIM, "text/plain", typeIsComposing},
		AcceptWrappedTypes: []string{"text/plain", typeIsComposing, "*"},
		WantReceipts:       true,
	}
}

// cpimFor builds the CPIM header template of a message from local to
// remote (RFC 3862 §4: From, To, DateTime).
func cpimFor(local, remote string, now time.Time) *cpim.Message {
	m := cpim.New()
	if local != "" {
		m.SetFrom(cpim.Address{URI: local})
	}
	if remote != "" {
		m.AddTo(cpim.Address{URI: remote})
	}
	m.SetDateTime(now)
	return m
}

// content returns the content type and body of an incoming message,
// looking inside a message/cpim wrapper (MSRP delivers the wrapper, the
// CPIM transport the content).
func content(in *session.Incoming) (ctype string, body []byte) {
	if in.CPIM != nil && isType(in.ContentType, typeCPIM) {
		return in.CPIM.ContentType(), in.CPIM.Body()
	}
	return in.ContentType, in.Body
}

// pagerContent returns the content type and body of a pager message,
// unwrapping CPIM.
func pagerContent(m *sipua.Message) (ctype string, body []byte, wrapper *cpim.Message) {
	if isType(m.ContentType, typeCPIM) {
		if c, err := cpim.Parse(m.Body); err == nil {
			return c.ContentType(), c.Body(), c
		}
	}
	if m.Session != nil {
		ct, b := content(m.Session)
		return ct, b, m.Session.CPIM
	}
	return m.ContentType, m.Body, nil
}

// isType reports whether ct (maybe with parameters) is the type want.
func isType(ct, want string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	}
	w, _, _ := strings.Cut(want, ";")
	return mt == strings.ToLower(w)
}

// isText reports whether a body of type ct can be shown as text.
func isText(ct string, body []byte) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "text/") && utf8.Valid(body)
}

// peerAccepts reports whether the session's peer accepts ctype inside
// message/cpim (MSRP accept-wrapped-types, or the CPIM transport's
// format list).
func peerAccepts(s session.Session, ctype string) bool {
	r := s.Remote()
	if r == nil {
		return false
	}
	if messagesdp.IsCPIM(r.Proto) {
		return messagesdp.MatchType(ctype, r.Formats)
	}
	return messagesdp.MatchType(ctype, r.AcceptTypes) || messagesdp.MatchType(ctype, r.AcceptWrappedTypes)
}

// protoName names a session's transport for people.
func protoName(s session.Session) string {
	r := s.Remote()
	if r == nil {
		return "?"
	}
	return r.Proto
}

// mline renders the negotiated m-line of a session.
func mline(m *messagesdp.Media) string {
	if m == nil {
		return ""
	}
	return fmt.Sprintf("m=message %d %s %s", m.Port, m.Proto, strings.Join(m.Formats, " "))
}

// explain turns a library error into one that says what to do. target is
// the peer or server the command talked to.
func explain(err error, id *identity, target string) error {
	if err == nil {
		return nil
	}
	var se *sipua.StatusError
	status := ""
	if errors.As(err, &se) {
		status = fmt.Sprintf(" (%d %s)", se.Code, se.Reason)
	}
	var msg string
	switch {
	case errors.Is(err, sipua.ErrAuthFailed):
		msg = fmt.Sprintf("wrong password for %s%s: check --password or PARLEY_PASSWORD", id.as, status)
		if id.password == "" {
			msg = fmt.Sprintf("%s asks for a password for %s%s: set --password or PARLEY_PASSWORD", target, id.as, status)
		}
	case errors.Is(err, sipua.ErrNotFound):
		msg = fmt.Sprintf("%s: no such user%s: check the address", target, status)
	case errors.Is(err, sipua.ErrNotAcceptable), errors.Is(err, session.ErrNotAcceptable):
		msg = fmt.Sprintf("%s has no media type or message transport in common with us%s: try --media msrp or --media cpim", target, status)
	case errors.Is(err, session.ErrTypeNotAccepted):
		msg = fmt.Sprintf("%s does not accept this content type: try --type text/plain", target)
	case errors.Is(err, session.ErrTooLarge):
		msg = fmt.Sprintf("%s does not accept a message this large (its a=max-size)", target)
	case errors.Is(err, sipua.ErrTLSVerify):
		msg = fmt.Sprintf("the TLS certificate of %s did not verify: pass its CA with --ca, or use --insecure for a self-signed development server", target)
	case errors.Is(err, sipua.ErrBusy):
		msg = fmt.Sprintf("%s is busy%s: try again later", target, status)
	case errors.Is(err, sipua.ErrDeclined):
		msg = fmt.Sprintf("%s declined%s", target, status)
	case errors.Is(err, sipua.ErrUnavailable):
		msg = fmt.Sprintf("%s is not available now%s: is it online (parley listen or parley chat)?", target, status)
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = fmt.Sprintf("nothing listens at %s: is the peer running (parley listen)? check the host, port and --transport", target)
	case errors.Is(err, sipua.ErrTimeout), errors.Is(err, context.DeadlineExceeded), isNetTimeout(err):
		msg = fmt.Sprintf("no answer from %s in time: is it running and reachable? check the address, --transport, or raise --timeout", target)
	case errors.Is(err, sipua.ErrBadTarget):
		msg = fmt.Sprintf("%q is not a SIP address: use sip:user@host[:port][;transport=tcp]", target)
	case errors.Is(err, sipua.ErrNoTransport):
		msg = fmt.Sprintf("cannot reach %s over our --transport %s: use a matching --transport or a ;transport= parameter on the address", target, id.transport)
	case errors.Is(err, sipua.ErrRejected):
		msg = fmt.Sprintf("%s refused%s", target, status)
	default:
		return err
	}
	return fmt.Errorf("%s\n  (detail: %w)", msg, err)
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// since formats a duration for transcripts: "4 ms", "1.2 s".
func since(t time.Time) string {
	d := time.Since(t)
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// quote shows a message text on one line.
func quote(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return fmt.Sprintf("%q", s)
}
