package msrp

// The client side of RFC 4976 (read as draft-ietf-simple-msrp-relays-10):
// AUTH to a relay, digest retry, Expires negotiation, tunnelled AUTH for a
// chain of relays, and the path arithmetic of §5.1.
//
// Not done here: TLS (the caller's RoundTripper, normally a *Conn, owns the
// connection; §9.2 wants TLS to every relay), SRV lookup of _msrps._tcp
// (§8), and the relay side (§6).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RoundTripper sends one request and returns its response. *Conn
// implements it: a response with any status code comes back as a Frame,
// and an error means no response came (timeout, ctx, connection failure).
type RoundTripper interface {
	RoundTrip(ctx context.Context, req *Frame, body []byte) (*Frame, error)
}

var _ RoundTripper = (*Conn)(nil)

// Relay client errors. Authenticate returns them wrapped in *AuthError.
var (
	// ErrAuthRejected: the relay answered 401 to an AUTH that carried
	// credentials (and the nonce was not stale): wrong username or password.
	ErrAuthRejected = errors.New("msrp: relay rejected the credentials")
	// ErrAuthForbidden: 403, the user authenticated but may not use the
	// relay (RFC 4976 §6.3, §10.3).
	ErrAuthForbidden = errors.New("msrp: relay refused service to this user")
	// ErrAuthExpires: 423 Interval Out-of-Bounds that one retry within the
	// relay's Min-Expires/Max-Expires did not resolve (RFC 4976 §6.3).
	ErrAuthExpires = errors.New("msrp: relay refused the requested Expires")
	// ErrAuthTimeout: 408 from the relay (a relay further on did not
	// answer the tunnelled AUTH) or no response at all (RFC 4976 §6.4.1).
	ErrAuthTimeout = errors.New("msrp: AUTH timed out")
	// ErrAuthStatus: any other non-200 response.
	ErrAuthStatus = errors.New("msrp: AUTH failed")
	// ErrAuthBadResponse: a 200 that cannot be used: no or bad Use-Path,
	// bad Expires, or an Authentication-Info that fails verification.
	ErrAuthBadResponse = errors.New("msrp: unusable AUTH response")
)

// AuthError describes a failed AUTH. Err is one of the ErrAuth sentinels,
// possibly wrapping a digest or transport error.
type AuthError struct {
	// Relay is the relay authenticated to (the rightmost To-Path URI).
	Relay URI
	// StatusCode and Comment are from the last response, 0 if none came.
	StatusCode int
	Comment    string
	// MinExpires and MaxExpires are from a 423, or 0.
	MinExpires, MaxExpires int
	Err                    error
}

func (e *AuthError) Error() string {
	var b strings.Builder
	b.WriteString("msrp: AUTH to ")
	b.WriteString(e.Relay.String())
	if e.StatusCode != 0 {
		b.WriteString(": ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		if e.Comment != "" {
			b.WriteByte(' ')
			b.WriteString(e.Comment)
		}
	}
	if e.MinExpires != 0 || e.MaxExpires != 0 {
		fmt.Fprintf(&b, " (Min-Expires %d, Max-Expires %d)", e.MinExpires, e.MaxExpires)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *AuthError) Unwrap() error { return e.Err }

// AuthOptions configure Authenticate.
type AuthOptions struct {
	// From is this client's own URI, the From-Path of the AUTH. Required.
	From URI
	// Via is the Use-Path already obtained from relays nearer to this
	// client. The AUTH is tunnelled through them: To-Path = Via + relay
	// (RFC 4976 §5.1). Empty for the first relay.
	Via []URI
	// Expires, when positive, asks for a Use-Path valid for no longer than
	// this, in whole seconds (RFC 4976 §5.1, §4.6).
	Expires time.Duration
	// RequireResponseAuth makes a 200 without Authentication-Info an error.
	// RFC 4976 §9.1 says relays MUST send it, but Kamailio's msrp module
	// only does if the config script builds it, so the default tolerates
	// its absence (RelayAuth.ResponseAuthVerified reports which happened).
	RequireResponseAuth bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// RelayAuth is what a successful AUTH grants.
type RelayAuth struct {
	// Relay is the relay that answered.
	Relay URI
	// UsePath is the route to this client through every relay
	// authenticated so far, nearest first, in the order used in a To-Path
	// (RFC 4976 §4.2): Via followed by this relay's URI(s).
	UsePath []URI
	// Expires is the lifetime the relay granted (its Expires header); 0
	// when the 200 carried none.
	Expires time.Duration
	// Expiry is when the grant lapses (zero when Expires is 0).
	Expiry time.Time
	// ResponseAuthVerified is true when the 200 carried an
	// Authentication-Info whose rspauth checked out (RFC 4976 §9.4:
	// limited authentication of a relay not directly connected).
	ResponseAuthVerified bool
}

// Authenticate obtains a Use-Path from relay (RFC 4976 §5.1): it sends an
// AUTH without credentials, answers the 401 challenge with a digest of
// cred (§9.1), and returns the granted path and lifetime. On the way:
//   - a 401 to the credentialed AUTH is ErrAuthRejected, unless it says
//     stale=true, which is answered once more with the new nonce;
//   - 403 is ErrAuthForbidden;
//   - 423 is retried once with Expires moved inside Min-Expires/Max-Expires;
//   - 408 (or no response) is ErrAuthTimeout.
//
// rt is the connection to the first relay: to the relay itself, or, when
// opts.Via is set, to the first relay of Via, which forwards the AUTH.
func Authenticate(ctx context.Context, rt RoundTripper, relay URI, cred Credentials, opts AuthOptions) (*RelayAuth, error) {
	if opts.From.Host == "" {
		return nil, &AuthError{Relay: relay, Err: errors.New("AuthOptions.From (this client's URI) is required")}
	}
	if relay.Host == "" {
		return nil, &AuthError{Relay: relay, Err: errors.New("relay URI has no host")}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	toPath := make([]URI, 0, len(opts.Via)+1)
	toPath = append(append(toPath, opts.Via...), relay)
	// RFC 4976 §9.1: the digest-uri is the rightmost To-Path URI.
	digestURI := relay.String()

	expires := -1 // seconds; -1 = send no Expires
	if opts.Expires > 0 {
		expires = int((opts.Expires + time.Second - 1) / time.Second)
	}
	var (
		ch           *Challenge
		authz        *Authorization
		nc           uint32
		staleRetried bool
		adjusted     bool
	)
	authErr := func(resp *Frame, err error) *AuthError {
		e := &AuthError{Relay: relay, Err: err}
		if resp != nil {
			e.StatusCode, e.Comment = resp.StatusCode, resp.Comment
		}
		return e
	}
	fail := func(resp *Frame, err error) (*RelayAuth, error) {
		return nil, authErr(resp, err)
	}
	// At most: bare, credentialed, stale retry, Expires retry (+ its
	// possible re-challenge). Bounded so a confused relay cannot loop us.
	for range 6 {
		req := &Frame{
			Method:   MethodAUTH,
			ToPath:   toPath,
			FromPath: []URI{opts.From},
		}
		if authz != nil {
			req.Headers = append(req.Headers, Header{Name: "Authorization", Value: authz.String()})
		}
		if expires >= 0 {
			req.Headers = append(req.Headers, Header{Name: "Expires", Value: strconv.Itoa(expires)})
		}
		resp, err := rt.RoundTrip(ctx, req, nil)
		if err != nil {
			if errors.Is(err, ErrTimeout) {
				return fail(nil, fmt.Errorf("%w: %w", ErrAuthTimeout, err))
			}
			return fail(nil, err)
		}
		if resp == nil || resp.IsRequest() || resp.StatusCode == 0 {
			return fail(nil, fmt.Errorf("%w: round trip returned no response", ErrAuthBadResponse))
		}
		switch resp.StatusCode {
		case StatusOK:
			ra, err := grantFrom(resp, relay, opts.Via, authz, cred.Password, opts.RequireResponseAuth, now)
			if err != nil {
				return fail(resp, err)
			}
			return ra, nil

		case StatusUnauthorized:
			c, err := usableChallenge(resp)
			if err != nil {
				return fail(resp, fmt.Errorf("%w: %w", ErrAuthStatus, err))
			}
			if authz != nil && !c.Stale {
				// §6.3: credentials checked and refused.
				return fail(resp, ErrAuthRejected)
			}
			if authz != nil { // stale nonce: the password was right
				if staleRetried {
					return fail(resp, fmt.Errorf("%w: relay keeps answering stale=true", ErrAuthRejected))
				}
				staleRetried = true
			}
			ch, nc = c, 0

		case StatusForbidden:
			return fail(resp, ErrAuthForbidden)

		case StatusIntervalOutOfBounds:
			minE, maxE, err := expiresBounds(resp)
			refuse := func(err error) (*RelayAuth, error) {
				e := authErr(resp, err)
				e.MinExpires, e.MaxExpires = minE, maxE
				return nil, e
			}
			switch {
			case err != nil:
				return refuse(fmt.Errorf("%w: %w", ErrAuthExpires, err))
			case adjusted || (minE == 0 && maxE == 0):
				// Retried once already, or no bounds to move into.
				return refuse(ErrAuthExpires)
			case minE > 0 && expires < minE:
				expires = minE
			case maxE > 0 && (expires < 0 || expires > maxE):
				expires = maxE
			default:
				// Our value was inside the bounds the relay sent: it
				// contradicts itself; retrying cannot help.
				return refuse(ErrAuthExpires)
			}
			adjusted = true

		case StatusRequestTimeout:
			return fail(resp, ErrAuthTimeout)

		default:
			return fail(resp, ErrAuthStatus)
		}
		if ch == nil {
			// 423 before any challenge: resend bare.
			continue
		}
		// (Re)build the credentials; each use of a nonce bumps nc
		// (RFC 2617 §3.2.2), a new cnonce each time.
		nc++
		authz, err = ch.Authorize(cred, digestURI, nc, "")
		if err != nil {
			return fail(resp, fmt.Errorf("%w: %w", ErrAuthStatus, err))
		}
	}
	return fail(nil, fmt.Errorf("%w: too many AUTH rounds", ErrAuthStatus))
}

// usableChallenge returns the first WWW-Authenticate Digest challenge of
// resp that this client can answer, or the reason none is.
func usableChallenge(resp *Frame) (*Challenge, error) {
	var first error
	for _, h := range resp.Headers {
		if !equalFoldASCII(h.Name, "WWW-Authenticate") {
			continue
		}
		c, err := ParseChallenge(h.Value)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("%w: 401 without WWW-Authenticate", ErrDigestSyntax)
	}
	return nil, first
}

// grantFrom validates a 200 to AUTH (RFC 4976 §4.2, §5.1, §9.1).
func grantFrom(resp *Frame, relay URI, via []URI, authz *Authorization, password string, requireRspAuth bool, now func() time.Time) (*RelayAuth, error) {
	ra := &RelayAuth{Relay: relay}
	v, ok := resp.Header("Use-Path")
	if !ok {
		return nil, fmt.Errorf("%w: 200 without Use-Path", ErrAuthBadResponse)
	}
	got, err := ParsePath(v)
	if err != nil {
		return nil, fmt.Errorf("%w: Use-Path: %w", ErrAuthBadResponse, err)
	}
	for _, u := range got {
		// §4.2 MUST: explicit port. (It also says FQDN, not an IP; relays
		// on loopback, Kamailio's default included, send IPs, which are
		// accepted.)
		if u.Port == 0 {
			return nil, fmt.Errorf("%w: Use-Path URI %s has no port (RFC 4976 §4.2)", ErrAuthBadResponse, u)
		}
	}
	ra.UsePath = mergeUsePath(via, got)
	if v, ok := resp.Header("Expires"); ok {
		n, err := parseSeconds(v)
		if err != nil {
			return nil, fmt.Errorf("%w: Expires: %w", ErrAuthBadResponse, err)
		}
		ra.Expires = time.Duration(n) * time.Second
		ra.Expiry = now().Add(ra.Expires)
	}
	if v, ok := resp.Header("Authentication-Info"); ok {
		if authz == nil {
			return nil, fmt.Errorf("%w: Authentication-Info on a 200 to an AUTH without credentials", ErrAuthBadResponse)
		}
		info, err := ParseAuthenticationInfo(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAuthBadResponse, err)
		}
		if err := authz.VerifyResponseAuth(info, password); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAuthBadResponse, err)
		}
		ra.ResponseAuthVerified = true
	} else if requireRspAuth {
		return nil, fmt.Errorf("%w: 200 without Authentication-Info (RFC 4976 §9.1)", ErrAuthBadResponse)
	}
	return ra, nil
}

// mergeUsePath combines the Use-Path known before a tunnelled AUTH with the
// one its 200 returned. RFC 4976 §5.1 is ambiguous: its example returns the
// whole route ("intra extra") from the outer relay, while relays that only
// know themselves (Kamailio) return their own URI. A returned list that
// starts with via is taken whole; otherwise it is appended to via.
// Consecutive duplicates (the §5.1 example lists the outer relay twice)
// are collapsed.
func mergeUsePath(via, got []URI) []URI {
	var out []URI
	if hasPathPrefix(got, via) {
		out = append(out, got...)
	} else {
		out = append(append(out, via...), got...)
	}
	j := 0
	for i, u := range out {
		if i > 0 && u.Equal(out[j-1]) {
			continue
		}
		out[j] = u
		j++
	}
	return out[:j]
}

func hasPathPrefix(p, prefix []URI) bool {
	if len(prefix) == 0 || len(p) < len(prefix) {
		return len(prefix) == 0
	}
	for i := range prefix {
		if !p[i].Equal(prefix[i]) {
			return false
		}
	}
	return true
}

// expiresBounds reads Min-Expires and Max-Expires from a 423.
func expiresBounds(resp *Frame) (minE, maxE int, err error) {
	if v, ok := resp.Header("Min-Expires"); ok {
		if minE, err = parseSeconds(v); err != nil {
			return 0, 0, fmt.Errorf("Min-Expires: %w", err)
		}
	}
	if v, ok := resp.Header("Max-Expires"); ok {
		if maxE, err = parseSeconds(v); err != nil {
			return 0, 0, fmt.Errorf("Max-Expires: %w", err)
		}
	}
	return minE, maxE, nil
}

// parseSeconds parses 1*DIGIT (RFC 4976 §7), at most 10 digits.
func parseSeconds(v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 10 {
		return 0, fmt.Errorf("bad number of seconds %q", v)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("bad number of seconds %q", v)
		}
	}
	return strconv.Atoi(v)
}

// RelayHop is one relay of a chain, with the credentials for its realm.
type RelayHop struct {
	URI         URI
	Credentials Credentials
}

// AuthenticateChain authenticates to each relay of hops in turn, nearest
// first, tunnelling each AUTH through the relays already authenticated
// (RFC 4976 §5.1: To-Path R1 R2). rt is the connection to hops[0]. It
// returns one RelayAuth per hop; the last one's UsePath is the whole route
// to use in AdvertisedPath and OutgoingToPath. opts.Via is ignored.
func AuthenticateChain(ctx context.Context, rt RoundTripper, hops []RelayHop, opts AuthOptions) ([]*RelayAuth, error) {
	if len(hops) == 0 {
		return nil, errors.New("msrp: AuthenticateChain: no relays")
	}
	out := make([]*RelayAuth, 0, len(hops))
	opts.Via = nil
	for _, h := range hops {
		ra, err := Authenticate(ctx, rt, h.URI, h.Credentials, opts)
		if err != nil {
			return out, err
		}
		out = append(out, ra)
		opts.Via = ra.UsePath
	}
	return out, nil
}

// AdvertisedPath returns the a=path to offer the peer (RFC 4976 §5.1):
// the Use-Path reversed, then this client's own URI. With no relays it is
// just self.
func AdvertisedPath(usePath []URI, self URI) []URI {
	out := make([]URI, 0, len(usePath)+1)
	for i := len(usePath) - 1; i >= 0; i-- {
		out = append(out, usePath[i])
	}
	return append(out, self)
}

// OutgoingToPath returns the To-Path of requests to the peer (RFC 4976
// §5.1): the Use-Path, then the peer's whole a=path.
func OutgoingToPath(usePath, peerPath []URI) []URI {
	out := make([]URI, 0, len(usePath)+len(peerPath))
	return append(append(out, usePath...), peerPath...)
}

// RefreshOptions configure KeepAuthenticated.
type RefreshOptions struct {
	// Margin is how long before expiry to re-AUTH; 0 means a fifth of the
	// granted lifetime, at least 5 s. It is capped at half the lifetime, so
	// a short grant is refreshed half-way rather than at once.
	Margin time.Duration
	// RetryDelay separates attempts after a failed re-AUTH; 0 means 10 s.
	RetryDelay time.Duration
}

// KeepAuthenticated keeps a relay grant alive for as long as ctx lives:
// Margin before the current grant expires it calls reauth (typically a
// closure over Authenticate or AuthenticateChain) and hands the new grant
// to renewed. A failed attempt is retried every RetryDelay until the
// current grant has expired; then KeepAuthenticated returns the last error.
// It returns context.Cause(ctx) when ctx ends, and nil at once if first
// carries no expiry (nothing to refresh).
//
// A relay may hand out a new Use-Path on every AUTH (Kamailio does, and
// RFC 4976 §6.3 lets the old one lapse): renewed must then re-offer the
// session (a SIP re-INVITE with the new AdvertisedPath, §9.4).
func KeepAuthenticated(ctx context.Context, first *RelayAuth, reauth func(context.Context) (*RelayAuth, error), renewed func(*RelayAuth), opts RefreshOptions) error {
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 10 * time.Second
	}
	cur := first
	for {
		if cur == nil || cur.Expires <= 0 {
			return nil
		}
		margin := opts.Margin
		if margin <= 0 {
			margin = max(cur.Expires/5, 5*time.Second)
		}
		margin = min(margin, cur.Expires/2)
		wait := time.Until(cur.Expiry.Add(-margin))
		var lastErr error
		for {
			if err := sleepCtx(ctx, wait); err != nil {
				return err
			}
			next, err := reauth(ctx)
			if err == nil {
				if renewed != nil {
					renewed(next)
				}
				cur = next
				break
			}
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			lastErr = err
			left := time.Until(cur.Expiry)
			if left <= 0 {
				return fmt.Errorf("msrp: relay grant expired, re-AUTH failed: %w", lastErr)
			}
			wait = min(opts.RetryDelay, left)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
