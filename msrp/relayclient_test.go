package msrp

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func mustParseURI(t testing.TB, s string) URI {
	t.Helper()
	u, err := ParseURI(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// fakeRelays answers AUTH requests the way an RFC 4976 relay does, for
// one or more relay identities reached through one connection: a request
// is for the relay named by its rightmost To-Path URI, and every earlier
// To-Path URI must be a Use-Path this fake issued (the tunnelling of
// §5.1). It verifies digests with Authorization.Check.
type fakeRelays struct {
	mu       sync.Mutex
	users    map[string]string // username -> password
	forbid   map[string]bool
	min, max int // Expires bounds; 0 = unbounded
	defExp   int
	// behaviour switches
	noRspAuth    bool
	badRspAuth   bool
	wholeUsePath bool // return Via + own URI in Use-Path (RFC §5.1 example style)
	staleOnce    bool // answer the first good credentials with stale=true
	status       int  // when non-zero, answer every AUTH with this code
	use200       func(*Frame)
	rtErr        error

	nonces  int
	issued  []URI
	reqs    []*Frame
	grants  int
	lastExp string
}

func newFakeRelays() *fakeRelays {
	return &fakeRelays{users: map[string]string{"alice": "alice-pw", "bob": "bob-pw"}, forbid: map[string]bool{"eve": true}, defExp: 600}
}

func (f *fakeRelays) RoundTrip(ctx context.Context, req *Frame, body []byte) (*Frame, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cp := *req
	cp.Headers = append([]Header(nil), req.Headers...)
	f.reqs = append(f.reqs, &cp)
	if f.rtErr != nil {
		return nil, f.rtErr
	}
	if req.Method != MethodAUTH || len(req.ToPath) == 0 || len(req.FromPath) != 1 {
		return nil, fmt.Errorf("fake: unexpected request %+v", req)
	}
	relay := req.ToPath[len(req.ToPath)-1]
	for _, hop := range req.ToPath[:len(req.ToPath)-1] {
		if !f.issuedLocked(hop) {
			return f.resp(req, 403, "Not a tunnel I issued"), nil
		}
	}
	if f.status != 0 {
		return f.resp(req, f.status, StatusText(f.status)), nil
	}
	av, ok := req.Header("Authorization")
	if !ok {
		return f.challenge(req, relay, false), nil
	}
	a, err := ParseAuthorization(av)
	if err != nil {
		return f.resp(req, 400, err.Error()), nil
	}
	// RFC 4976 §9.1: uri is the rightmost To-Path URI, quoted.
	if a.URI != relay.String() || !strings.Contains(av, `uri="`+relay.String()+`"`) {
		return f.resp(req, 400, "digest uri "+a.URI+" is not "+relay.String()), nil
	}
	if a.Realm != relay.Host || a.QOP != "auth" || a.Cnonce == "" {
		return f.resp(req, 400, "bad digest parameters"), nil
	}
	pw, known := f.users[a.Username]
	if !known || a.Check(pw) != nil {
		return f.challenge(req, relay, false), nil
	}
	if f.staleOnce {
		f.staleOnce = false
		return f.challenge(req, relay, true), nil
	}
	if f.forbid[a.Username] {
		return f.resp(req, 403, "Forbidden"), nil
	}
	exp := f.defExp
	if v, ok := req.Header("Expires"); ok {
		f.lastExp = v
		exp, _ = strconv.Atoi(v)
		if f.min > 0 && exp < f.min {
			r := f.resp(req, 423, "Interval Out-of-Bounds")
			r.Headers = append(r.Headers, Header{"Min-Expires", strconv.Itoa(f.min)})
			return r, nil
		}
		if f.max > 0 && exp > f.max {
			r := f.resp(req, 423, "Interval Out-of-Bounds")
			r.Headers = append(r.Headers, Header{"Max-Expires", strconv.Itoa(f.max)})
			return r, nil
		}
	}
	f.grants++
	mine := relay
	mine.Port = 9000
	mine.SessionID = fmt.Sprintf("grant%d", f.grants)
	f.issued = append(f.issued, mine)
	use := []URI{mine}
	if f.wholeUsePath {
		use = append(append([]URI(nil), req.ToPath[:len(req.ToPath)-1]...), mine)
	}
	r := f.resp(req, 200, "OK")
	r.Headers = append(r.Headers, Header{"Use-Path", FormatPath(use)}, Header{"Expires", strconv.Itoa(exp)})
	if !f.noRspAuth {
		rsp, _ := a.ResponseAuth(pw)
		if f.badRspAuth {
			rsp = strings.Repeat("0", len(rsp))
		}
		info := &AuthenticationInfo{RspAuth: rsp, Cnonce: a.Cnonce, NC: a.NC, HasNC: true, QOP: "auth", NextNonce: "next"}
		r.Headers = append(r.Headers, Header{"Authentication-Info", info.String()})
	}
	if f.use200 != nil {
		f.use200(r)
	}
	return r, nil
}

func (f *fakeRelays) issuedLocked(u URI) bool {
	for _, i := range f.issued {
		if i.Equal(u) {
			return true
		}
	}
	return false
}

func (f *fakeRelays) resp(req *Frame, code int, comment string) *Frame {
	// Responses travel the reverse path (RFC 4976 §6.4.3).
	return &Frame{TID: req.TID, StatusCode: code, Comment: comment, ToPath: req.FromPath, FromPath: req.ToPath[len(req.ToPath)-1:]}
}

func (f *fakeRelays) challenge(req *Frame, relay URI, stale bool) *Frame {
	f.nonces++
	c := &Challenge{Realm: relay.Host, Nonce: fmt.Sprintf("nonce%d", f.nonces), QOP: []string{"auth"}, Stale: stale, Opaque: "op"}
	r := f.resp(req, 401, "Unauthorized")
	r.Headers = append(r.Headers, Header{"WWW-Authenticate", c.String()})
	return r
}

func (f *fakeRelays) requests() []*Frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Frame(nil), f.reqs...)
}

const (
	testSelf   = "msrp://127.0.0.1:40001/selfsess1234;tcp"
	testRelay1 = "msrp://relay1.example.test:2855;tcp"
	testRelay2 = "msrp://relay2.example.test:2855;tcp"
)

func TestAuthenticate(t *testing.T) {
	self := mustParseURI(t, testSelf)
	relay := mustParseURI(t, testRelay1)
	alice := Credentials{"alice", "alice-pw"}

	tests := []struct {
		name    string
		setup   func(*fakeRelays)
		cred    Credentials
		opts    AuthOptions
		wantErr error
		code    int
		check   func(*testing.T, *RelayAuth, *fakeRelays)
	}{
		{
			name: "401 then 200",
			cred: alice,
			check: func(t *testing.T, ra *RelayAuth, f *fakeRelays) {
				reqs := f.requests()
				if len(reqs) != 2 {
					t.Fatalf("%d AUTH requests, want 2", len(reqs))
				}
				if _, ok := reqs[0].Header("Authorization"); ok {
					t.Error("first AUTH carried credentials")
				}
				av, _ := reqs[1].Header("Authorization")
				a, err := ParseAuthorization(av)
				if err != nil || a.NC != 1 || a.Opaque != "op" || a.Nonce != "nonce1" {
					t.Errorf("Authorization %q: %+v %v", av, a, err)
				}
				if !reflect.DeepEqual(reqs[1].FromPath, []URI{self}) || !reflect.DeepEqual(reqs[1].ToPath, []URI{relay}) {
					t.Errorf("paths %v / %v", reqs[1].ToPath, reqs[1].FromPath)
				}
				if _, ok := reqs[1].Header("Expires"); ok {
					t.Error("Expires sent without AuthOptions.Expires")
				}
				if ra.Expires != 600*time.Second || !ra.ResponseAuthVerified || len(ra.UsePath) != 1 || ra.UsePath[0].SessionID != "grant1" {
					t.Errorf("grant %+v", ra)
				}
			},
		},
		{
			name: "Expires requested and granted",
			cred: alice, opts: AuthOptions{Expires: 1500 * time.Millisecond},
			check: func(t *testing.T, ra *RelayAuth, f *fakeRelays) {
				if f.lastExp != "2" || ra.Expires != 2*time.Second {
					t.Errorf("sent Expires %q (want rounded up to 2), granted %v", f.lastExp, ra.Expires)
				}
			},
		},
		{
			name:  "423 Min-Expires retried once",
			setup: func(f *fakeRelays) { f.min, f.max = 60, 3600 },
			cred:  alice, opts: AuthOptions{Expires: 10 * time.Second},
			check: func(t *testing.T, ra *RelayAuth, f *fakeRelays) {
				if f.lastExp != "60" || ra.Expires != time.Minute {
					t.Errorf("Expires %q, granted %v", f.lastExp, ra.Expires)
				}
				reqs := f.requests()
				av, _ := reqs[len(reqs)-1].Header("Authorization")
				if a, _ := ParseAuthorization(av); a == nil || a.NC != 2 {
					t.Errorf("nonce reuse after 423 must bump nc: %q", av)
				}
			},
		},
		{
			name:  "423 Max-Expires retried once",
			setup: func(f *fakeRelays) { f.min, f.max = 60, 3600 },
			cred:  alice, opts: AuthOptions{Expires: 24 * time.Hour},
			check: func(t *testing.T, ra *RelayAuth, f *fakeRelays) {
				if f.lastExp != "3600" || ra.Expires != time.Hour {
					t.Errorf("Expires %q, granted %v", f.lastExp, ra.Expires)
				}
			},
		},
		{
			name:    "423 that contradicts itself",
			setup:   func(f *fakeRelays) { f.status = 423 },
			cred:    alice,
			wantErr: ErrAuthExpires, code: 423,
		},
		{
			name:  "stale nonce answered once more",
			setup: func(f *fakeRelays) { f.staleOnce = true },
			cred:  alice,
			check: func(t *testing.T, ra *RelayAuth, f *fakeRelays) {
				reqs := f.requests()
				if len(reqs) != 3 {
					t.Fatalf("%d requests, want 3", len(reqs))
				}
				av, _ := reqs[2].Header("Authorization")
				if a, _ := ParseAuthorization(av); a == nil || a.Nonce != "nonce2" || a.NC != 1 {
					t.Errorf("after stale: %q", av)
				}
			},
		},
		{name: "wrong password", cred: Credentials{"alice", "nope"}, wantErr: ErrAuthRejected, code: 401},
		{name: "unknown user", cred: Credentials{"mallory", "x"}, wantErr: ErrAuthRejected, code: 401},
		{name: "403", cred: Credentials{"eve", ""}, setup: func(f *fakeRelays) { f.users["eve"] = "" }, wantErr: ErrAuthForbidden, code: 403},
		{name: "408", setup: func(f *fakeRelays) { f.status = 408 }, cred: alice, wantErr: ErrAuthTimeout, code: 408},
		{name: "no response", setup: func(f *fakeRelays) { f.rtErr = fmt.Errorf("%w: no response", ErrTimeout) }, cred: alice, wantErr: ErrAuthTimeout},
		{name: "500", setup: func(f *fakeRelays) { f.status = 500 }, cred: alice, wantErr: ErrAuthStatus, code: 500},
		{name: "Basic challenge refused", cred: alice, wantErr: ErrDigestBasic, code: 401},
		{name: "bad rspauth", setup: func(f *fakeRelays) { f.badRspAuth = true }, cred: alice, wantErr: ErrDigestMismatch, code: 200},
		{
			name: "no Authentication-Info tolerated", setup: func(f *fakeRelays) { f.noRspAuth = true }, cred: alice,
			check: func(t *testing.T, ra *RelayAuth, f *fakeRelays) {
				if ra.ResponseAuthVerified {
					t.Error("ResponseAuthVerified without Authentication-Info")
				}
			},
		},
		{name: "no Authentication-Info required", setup: func(f *fakeRelays) { f.noRspAuth = true }, cred: alice, opts: AuthOptions{RequireResponseAuth: true}, wantErr: ErrAuthBadResponse, code: 200},
		{name: "no Use-Path", setup: func(f *fakeRelays) { f.use200 = func(r *Frame) { r.Headers = r.Headers[1:] } }, cred: alice, wantErr: ErrAuthBadResponse, code: 200},
		{name: "Use-Path without port", setup: func(f *fakeRelays) {
			f.use200 = func(r *Frame) { r.Headers[0].Value = "msrp://relay1.example.test/x;tcp" }
		}, cred: alice, wantErr: ErrAuthBadResponse, code: 200},
		{name: "bad Use-Path", setup: func(f *fakeRelays) { f.use200 = func(r *Frame) { r.Headers[0].Value = "http://x" } }, cred: alice, wantErr: ErrBadURI, code: 200},
		{name: "bad Expires", setup: func(f *fakeRelays) { f.use200 = func(r *Frame) { r.Headers[1].Value = "-5" } }, cred: alice, wantErr: ErrAuthBadResponse, code: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRelays()
			var rt RoundTripper = f
			if tt.name == "Basic challenge refused" {
				rt = rtFunc(func(ctx context.Context, req *Frame, body []byte) (*Frame, error) {
					r := f.resp(req, 401, "Unauthorized")
					r.Headers = []Header{{"WWW-Authenticate", `Basic realm="x"`}}
					return r, nil
				})
			}
			if tt.setup != nil {
				tt.setup(f)
			}
			opts := tt.opts
			opts.From = self
			ra, err := Authenticate(context.Background(), rt, relay, tt.cred, opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				var ae *AuthError
				if !errors.As(err, &ae) || ae.StatusCode != tt.code || !ae.Relay.Equal(relay) {
					t.Fatalf("err %v: want *AuthError with code %d", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, ra, f)
			}
		})
	}
}

type rtFunc func(ctx context.Context, req *Frame, body []byte) (*Frame, error)

func (f rtFunc) RoundTrip(ctx context.Context, req *Frame, body []byte) (*Frame, error) {
	return f(ctx, req, body)
}

func TestAuthenticateArguments(t *testing.T) {
	f := newFakeRelays()
	relay := mustParseURI(t, testRelay1)
	if _, err := Authenticate(context.Background(), f, relay, Credentials{}, AuthOptions{}); err == nil {
		t.Error("no From accepted")
	}
	if _, err := Authenticate(context.Background(), f, URI{}, Credentials{}, AuthOptions{From: mustParseURI(t, testSelf)}); err == nil {
		t.Error("empty relay accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Authenticate(ctx, f, relay, Credentials{}, AuthOptions{From: mustParseURI(t, testSelf)}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	// A relay that never stops challenging must not loop us forever.
	n := 0
	loop := rtFunc(func(ctx context.Context, req *Frame, body []byte) (*Frame, error) {
		n++
		return f.challenge(req, relay, true), nil
	})
	if _, err := Authenticate(context.Background(), loop, relay, Credentials{"alice", "alice-pw"}, AuthOptions{From: mustParseURI(t, testSelf)}); !errors.Is(err, ErrAuthRejected) || n > 6 {
		t.Errorf("endless stale: %v after %d rounds", err, n)
	}
	// A request where a response belongs.
	bogus := rtFunc(func(ctx context.Context, req *Frame, body []byte) (*Frame, error) { return req, nil })
	if _, err := Authenticate(context.Background(), bogus, relay, Credentials{}, AuthOptions{From: mustParseURI(t, testSelf)}); !errors.Is(err, ErrAuthBadResponse) {
		t.Errorf("request as response: %v", err)
	}
}

func TestAuthenticateChain(t *testing.T) {
	self := mustParseURI(t, testSelf)
	r1, r2 := mustParseURI(t, testRelay1), mustParseURI(t, testRelay2)
	for _, whole := range []bool{false, true} {
		t.Run(fmt.Sprintf("wholeUsePath=%v", whole), func(t *testing.T) {
			f := newFakeRelays()
			f.wholeUsePath = whole
			hops := []RelayHop{{r1, Credentials{"alice", "alice-pw"}}, {r2, Credentials{"bob", "bob-pw"}}}
			grants, err := AuthenticateChain(context.Background(), f, hops, AuthOptions{From: self})
			if err != nil {
				t.Fatal(err)
			}
			if len(grants) != 2 {
				t.Fatalf("%d grants", len(grants))
			}
			use := grants[1].UsePath
			if len(use) != 2 || use[0].Host != r1.Host || use[0].SessionID != "grant1" || use[1].Host != r2.Host || use[1].SessionID != "grant2" {
				t.Fatalf("Use-Path %s", FormatPath(use))
			}
			reqs := f.requests()
			last := reqs[len(reqs)-1]
			// §5.1: the tunnelled AUTH has To-Path R1 R2.
			if len(last.ToPath) != 2 || !last.ToPath[0].Equal(grants[0].UsePath[0]) || !last.ToPath[1].Equal(r2) {
				t.Fatalf("tunnelled To-Path %s", FormatPath(last.ToPath))
			}
			av, _ := last.Header("Authorization")
			if !strings.Contains(av, `uri="`+r2.String()+`"`) || !strings.Contains(av, `realm="relay2.example.test"`) {
				t.Fatalf("tunnelled Authorization %q", av)
			}
		})
	}
	if _, err := AuthenticateChain(context.Background(), newFakeRelays(), nil, AuthOptions{From: self}); err == nil {
		t.Fatal("empty chain accepted")
	}
	f := newFakeRelays()
	grants, err := AuthenticateChain(context.Background(), f, []RelayHop{{r1, Credentials{"alice", "alice-pw"}}, {r2, Credentials{"bob", "wrong"}}}, AuthOptions{From: self})
	if !errors.Is(err, ErrAuthRejected) || len(grants) != 1 {
		t.Fatalf("second hop failure: %v, %d grants", err, len(grants))
	}
}

func TestMergeUsePath(t *testing.T) {
	u := func(s string) URI { return mustParseURI(t, "msrps://"+s+".example.com:9000/s;tcp") }
	intra, extra := u("intra"), u("extra")
	tests := []struct {
		name     string
		via, got []URI
		want     []URI
	}{
		{"first relay", nil, []URI{intra}, []URI{intra}},
		{"relay returns itself", []URI{intra}, []URI{extra}, []URI{intra, extra}},
		{"relay returns the whole route", []URI{intra}, []URI{intra, extra}, []URI{intra, extra}},
		// RFC 4976 §5.1's nested example returns "extra extra".
		{"RFC example duplicate", []URI{intra}, []URI{extra, extra}, []URI{intra, extra}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergeUsePath(tt.via, tt.got); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %s, want %s", FormatPath(got), FormatPath(tt.want))
			}
		})
	}
}

// TestPathHelpers is RFC 4976 §5.1's example: A uses relays B and C, F
// uses D and E.
func TestPathHelpers(t *testing.T) {
	u := func(s string) URI { return mustParseURI(t, "msrps://"+s+".example.com:9000/x;tcp") }
	B, C, D, E, F, A := u("b"), u("c"), u("d"), u("e"), u("f"), u("a")
	use := []URI{B, C}
	if got := AdvertisedPath(use, A); !reflect.DeepEqual(got, []URI{C, B, A}) {
		t.Fatalf("AdvertisedPath = %s, want C B A", FormatPath(got))
	}
	if got := OutgoingToPath(use, []URI{D, E, F}); !reflect.DeepEqual(got, []URI{B, C, D, E, F}) {
		t.Fatalf("OutgoingToPath = %s, want B C D E F", FormatPath(got))
	}
	if got := AdvertisedPath(nil, A); !reflect.DeepEqual(got, []URI{A}) {
		t.Fatalf("no relays: %s", FormatPath(got))
	}
	if got := OutgoingToPath(nil, []URI{F}); !reflect.DeepEqual(got, []URI{F}) {
		t.Fatalf("no relays: %s", FormatPath(got))
	}
	// The helpers must not alias their inputs.
	p := AdvertisedPath(use, A)
	p[0] = A
	if !use[1].Equal(C) {
		t.Fatal("AdvertisedPath aliased its input")
	}
}

func TestKeepAuthenticated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		grant := func(d time.Duration) *RelayAuth {
			return &RelayAuth{Expires: d, Expiry: time.Now().Add(d)}
		}
		var (
			calls   []time.Duration
			renewed []*RelayAuth
			fails   = 2
		)
		ctx, cancel := context.WithCancel(t.Context())
		reauth := func(ctx context.Context) (*RelayAuth, error) {
			calls = append(calls, time.Since(start))
			if len(calls) == 2 && fails > 0 {
				// Second refresh fails twice, then succeeds.
				fails--
				calls = calls[:1]
				return nil, errors.New("relay down")
			}
			if len(calls) == 3 {
				cancel()
			}
			return grant(100 * time.Second), nil
		}
		err := KeepAuthenticated(ctx, grant(100*time.Second), reauth, func(ra *RelayAuth) { renewed = append(renewed, ra) }, RefreshOptions{RetryDelay: 3 * time.Second})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		// Default margin: a fifth of 100 s. Refresh at 80 s, then 80 s
		// after that (160 s) fails twice, retried every 3 s: 166 s; then
		// 80 s later.
		want := []time.Duration{80 * time.Second, 166 * time.Second, 246 * time.Second}
		if !reflect.DeepEqual(calls, want) {
			t.Fatalf("refresh times %v, want %v", calls, want)
		}
		if len(renewed) != 3 {
			t.Fatalf("%d renewals", len(renewed))
		}
	})
}

func TestKeepAuthenticatedLapses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		n := 0
		first := &RelayAuth{Expires: 60 * time.Second, Expiry: start.Add(60 * time.Second)}
		err := KeepAuthenticated(t.Context(), first, func(context.Context) (*RelayAuth, error) {
			n++
			return nil, errors.New("relay down")
		}, nil, RefreshOptions{Margin: 10 * time.Second, RetryDelay: 4 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "relay down") {
			t.Fatalf("err = %v", err)
		}
		// Attempts at 50, 54, 58, 60 s; then the grant has expired.
		if el := time.Since(start); el != 60*time.Second || n != 4 {
			t.Fatalf("gave up after %v and %d attempts", el, n)
		}
		if err := KeepAuthenticated(t.Context(), &RelayAuth{}, nil, nil, RefreshOptions{}); err != nil {
			t.Fatalf("grant without expiry: %v", err)
		}
	})
}

func TestAuthErrorMessage(t *testing.T) {
	e := &AuthError{Relay: mustParseURI(t, testRelay1), StatusCode: 423, Comment: "Interval Out-of-Bounds", MinExpires: 60, Err: ErrAuthExpires}
	want := "msrp: AUTH to msrp://relay1.example.test:2855;tcp: 423 Interval Out-of-Bounds (Min-Expires 60, Max-Expires 0): msrp: relay refused the requested Expires"
	if e.Error() != want {
		t.Fatalf("Error() = %q\nwant %q", e.Error(), want)
	}
	if !errors.Is(e, ErrAuthExpires) {
		t.Fatal("Unwrap")
	}
	e = &AuthError{Relay: mustParseURI(t, testRelay1), Err: errors.New("boom")}
	if e.Error() != "msrp: AUTH to msrp://relay1.example.test:2855;tcp: boom" {
		t.Fatalf("Error() = %q", e.Error())
	}
}

// TestKeepAuthenticatedShortGrant: a grant shorter than the default margin
// is refreshed half-way, not in a tight loop.
func TestKeepAuthenticatedShortGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var at []time.Duration
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		reauth := func(context.Context) (*RelayAuth, error) {
			at = append(at, time.Since(start))
			if len(at) == 3 {
				cancel()
			}
			return &RelayAuth{Expires: 4 * time.Second, Expiry: time.Now().Add(4 * time.Second)}, nil
		}
		first := &RelayAuth{Expires: 4 * time.Second, Expiry: start.Add(4 * time.Second)}
		_ = KeepAuthenticated(ctx, first, reauth, nil, RefreshOptions{})
		if want := []time.Duration{2 * time.Second, 4 * time.Second, 6 * time.Second}; !reflect.DeepEqual(at, want) {
			t.Fatalf("refreshed at %v, want %v", at, want)
		}
	})
}
