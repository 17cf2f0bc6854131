package sipua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// registration is the state of our binding at the registrar (RFC 3261
// §10.2): one Call-ID for all refreshes, an increasing CSeq.
type registration struct {
	registrar sip.Uri
	transport string
	callID    string
	fromTag   string

	mu      sync.Mutex // guards cseq and expires
	cseq    uint32
	expires time.Duration // granted by the registrar

	cancel context.CancelFunc
	done   chan struct{}
}

func (r *registration) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
}

// Register registers the AOR's contact at Config.Registrar, answering
// digest challenges (401/407) with Config.Username/Password, and keeps
// the binding refreshed until Close, which removes it. Calling it again
// refreshes at once.
func (ua *UA) Register(ctx context.Context) error {
	if ua.cfg.Registrar == "" {
		return fmt.Errorf("sipua: Register: no Config.Registrar")
	}
	ua.mu.Lock()
	if ua.closed {
		ua.mu.Unlock()
		return ErrClosed
	}
	reg := ua.reg
	ua.mu.Unlock()
	if reg == nil {
		var u sip.Uri
		sip.ParseUri(ua.cfg.Registrar, &u) // validated in New
		t, err := ua.transportFor(u)
		if err != nil {
			return fmt.Errorf("sipua: REGISTER: %w", err)
		}
		reg = &registration{registrar: u, transport: t, callID: uuid.NewString(), fromTag: sip.GenerateTagN(16), cseq: 1}
	} else {
		reg.stop()
	}
	granted, err := ua.register(ctx, reg, ua.cfg.RegisterExpires)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ua.ctx)
	reg.cancel = cancel
	reg.done = make(chan struct{})
	ua.mu.Lock()
	if ua.closed {
		ua.mu.Unlock()
		cancel()
		return ErrClosed
	}
	ua.reg = reg
	ua.wg.Add(1)
	ua.mu.Unlock()
	go func() {
		defer ua.wg.Done()
		defer close(reg.done)
		refreshLoop(rctx, granted, func(ctx context.Context) (time.Duration, error) {
			return ua.register(ctx, reg, ua.cfg.RegisterExpires)
		}, func(err error) { ua.log.Warn("registration refresh failed", "err", err) })
	}()
	return nil
}

// Registered returns the binding lifetime the registrar granted, 0 when
// not registered.
func (ua *UA) Registered() time.Duration {
	ua.mu.Lock()
	reg := ua.reg
	ua.mu.Unlock()
	if reg == nil {
		return 0
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.expires
}

// refreshAfter is when to refresh a binding granted for d: halfway for
// short bindings, a minute early for long ones.
func refreshAfter(d time.Duration) time.Duration {
	if d <= 2*time.Minute {
		return max(d/2, 500*time.Millisecond)
	}
	return d - time.Minute
}

// refreshLoop calls reg before each binding expires until ctx ends. On
// failure it retries with backoff (1 s doubling to 1 min), reporting each
// failure.
func refreshLoop(ctx context.Context, granted time.Duration, reg func(context.Context) (time.Duration, error), report func(error)) {
	wait := refreshAfter(granted)
	backoff := time.Second
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 32*time.Second)
		g, err := reg(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			report(err)
			t.Reset(backoff)
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = time.Second
		t.Reset(refreshAfter(g))
	}
}

func (ua *UA) unregister(ctx context.Context, reg *registration) error {
	_, err := ua.register(ctx, reg, 0)
	return err
}

// register sends one REGISTER (and its digest retry) asking for expires;
// it returns the granted lifetime.
func (ua *UA) register(ctx context.Context, reg *registration, expires time.Duration) (time.Duration, error) {
	contact, ok := ua.contact(reg.transport)
	if !ok {
		return 0, fmt.Errorf("sipua: REGISTER: %w: %s", ErrNoTransport, reg.transport)
	}
	secs := int(expires / time.Second)
	for range 2 { // a second round only after 423 Interval Too Brief
		reg.mu.Lock()
		reg.cseq++
		cseq := reg.cseq
		reg.mu.Unlock()

		req := sip.NewRequest(sip.REGISTER, *reg.registrar.Clone())
		req.Recipient.User = ""
		from := &sip.FromHeader{DisplayName: ua.cfg.DisplayName, Address: *ua.aor.Clone(), Params: sip.NewParams()}
		from.Params.Add("tag", reg.fromTag)
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: *ua.aor.Clone(), Params: sip.NewParams()})
		cid := sip.CallIDHeader(reg.callID)
		req.AppendHeader(&cid)
		req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.REGISTER})
		c := contact
		req.AppendHeader(&c)
		exp := sip.ExpiresHeader(secs)
		req.AppendHeader(&exp)
		req.AppendHeader(sip.NewHeader("User-Agent", ua.cfg.UserAgent))
		req.SetTransport(strings.ToUpper(reg.transport))

		res, err := ua.doAuth(ctx, req)
		var se *StatusError
		if errors.As(err, &se) {
			return 0, err
		}
		if err != nil {
			return 0, classify("REGISTER "+reg.registrar.String(), err)
		}
		// The digest retry used the next CSeq.
		reg.mu.Lock()
		if s := req.CSeq(); s != nil && s.SeqNo > reg.cseq {
			reg.cseq = s.SeqNo
		}
		reg.mu.Unlock()

		switch {
		case res.IsSuccess():
			granted := grantedExpires(res, contact, secs)
			reg.mu.Lock()
			reg.expires = granted
			reg.mu.Unlock()
			return granted, nil
		case res.StatusCode == 423 && secs != 0:
			// RFC 3261 §10.2.8: retry with at least Min-Expires.
			if n, err := strconv.Atoi(headerValue(res, "Min-Expires")); err == nil && n > secs {
				secs = n
				continue
			}
		}
		return 0, statusError("REGISTER", reg.registrar.String(), res)
	}
	return 0, fmt.Errorf("sipua: REGISTER %s: registrar kept answering 423", reg.registrar.String())
}

// grantedExpires reads the lifetime the registrar granted our contact
// (RFC 3261 §10.2.4): the contact's expires parameter, else Expires.
func grantedExpires(res *sip.Response, ours sip.ContactHeader, asked int) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		if ch.Address.Host == ours.Address.Host && ch.Address.Port == ours.Address.Port && ch.Address.User == ours.Address.User {
			if v, ok := ch.Params.Get("expires"); ok {
				if n, err := strconv.Atoi(v); err == nil {
					return time.Duration(n) * time.Second
				}
			}
		}
	}
	if n, err := strconv.Atoi(headerValue(res, "Expires")); err == nil {
		return time.Duration(n) * time.Second
	}
	return time.Duration(asked) * time.Second
}

// doAuth sends req and answers one digest challenge (RFC 3261 §22.2),
// a second one only when the registrar says the nonce was stale. A
// challenge we cannot meet becomes ErrAuthFailed.
func (ua *UA) doAuth(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	res, err := ua.cli.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 2 && (res.StatusCode == 401 || res.StatusCode == 407); attempt++ {
		if ua.cfg.Password == "" {
			se := statusError(req.Method.String(), req.Recipient.String(), res).(*StatusError)
			se.Detail = "credentials are required and Config.Password is empty"
			return nil, se
		}
		if attempt == 1 && !staleChallenge(res) {
			break
		}
		res, err = ua.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: ua.username, Password: ua.cfg.Password})
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", ErrCanceled, err)
			}
			if strings.Contains(err.Error(), "challenge") || strings.Contains(err.Error(), "digest") {
				// sipgo could not answer the challenge (unknown
				// algorithm, malformed header).
				return nil, fmt.Errorf("%w: %w", ErrAuthFailed, err)
			}
			return nil, err
		}
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		se := statusError(req.Method.String(), req.Recipient.String(), res).(*StatusError)
		se.Detail = fmt.Sprintf("the credentials of user %q were refused", ua.username)
		return nil, se
	}
	return res, nil
}

func staleChallenge(res *sip.Response) bool {
	for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
		if v := strings.ToLower(headerValue(res, name)); strings.Contains(v, "stale=true") || strings.Contains(v, `stale="true"`) {
			return true
		}
	}
	return false
}
