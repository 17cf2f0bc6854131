package session_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// The fakes below stand in for transports: they test the negotiation
// logic, not a transport.

// fakeEndpoint serves one proto and records what happens to what it made.
type fakeEndpoint struct {
	proto string
	port  int
	// offerErr and answerErr, if set, are returned by Offer and Answer.
	offerErr, answerErr error
	// badAnswer makes Answer return media that fails validation.
	badAnswer bool
	// openErr is returned by Open of offers and answers.
	openErr error

	mu       sync.Mutex
	offers   []*fakeOffer
	answers  []*fakeAnswer
	answered []*messagesdp.Media // remote media passed to Answer
}

func (e *fakeEndpoint) Protocols() []string { return []string{e.proto} }

// media returns this endpoint's local media, as a transport would build it.
func (e *fakeEndpoint) media(setup, direction string, types []string) *messagesdp.Media {
	m := &messagesdp.Media{Proto: e.proto, Port: e.port, Address: "127.0.0.1"}
	if messagesdp.IsCPIM(e.proto) {
		m.Formats = types
		m.Direction = direction
		m.URI = fmt.Sprintf("im:s%d@127.0.0.1", e.port)
		return m
	}
	m.Formats = []string{"*"}
	m.AcceptTypes = types
	m.Setup = setup
	scheme := "msrp"
	if messagesdp.IsSecure(e.proto) {
		scheme = "msrps"
	}
	m.Path = []string{fmt.Sprintf("%s://127.0.0.1:%d/sess%d;tcp", scheme, e.port, e.port)}
	return m
}

func (e *fakeEndpoint) Offer(ctx context.Context, opts session.Options) (session.Offer, error) {
	if e.offerErr != nil {
		return nil, e.offerErr
	}
	types := opts.AcceptTypes
	if types == nil {
		types = []string{"text/plain", "message/cpim"}
	}
	o := &fakeOffer{ep: e, media: e.media(messagesdp.SetupActpass, messagesdp.DirectionBoth, types)}
	e.mu.Lock()
	e.offers = append(e.offers, o)
	e.mu.Unlock()
	return o, nil
}

func (e *fakeEndpoint) Answer(ctx context.Context, remote *messagesdp.Media, opts session.Options) (session.Answer, error) {
	e.mu.Lock()
	e.answered = append(e.answered, remote)
	e.mu.Unlock()
	if e.answerErr != nil {
		return nil, e.answerErr
	}
	supported := opts.AcceptTypes
	if supported == nil {
		supported = []string{"text/plain", "message/cpim"}
	}
	types := messagesdp.IntersectTypes(remote.Types(), supported)
	if types == nil {
		return nil, fmt.Errorf("fake: %w", session.ErrNotAcceptable)
	}
	setup, err := messagesdp.AnswerSetup(remote.Setup, true)
	if err != nil {
		return nil, err
	}
	m := e.media(setup, messagesdp.DirectionActive, types)
	if e.badAnswer {
		m.Path = nil
		m.URI = ""
	}
	a := &fakeAnswer{ep: e, media: m, remote: remote}
	e.mu.Lock()
	e.answers = append(e.answers, a)
	e.mu.Unlock()
	return a, nil
}

type fakeOffer struct {
	ep     *fakeEndpoint
	media  *messagesdp.Media
	opened *messagesdp.Media // answer media passed to Open
	// opens and cancels count calls.
	opens, cancels int
}

func (o *fakeOffer) Media() *messagesdp.Media { return o.media }

func (o *fakeOffer) Open(ctx context.Context, answer *messagesdp.Media) (session.Session, error) {
	o.opens++
	o.opened = answer
	if o.ep.openErr != nil {
		return nil, o.ep.openErr
	}
	return newFakeSession(o.media, answer), nil
}

func (o *fakeOffer) Cancel() { o.cancels++ }

type fakeAnswer struct {
	ep             *fakeEndpoint
	media, remote  *messagesdp.Media
	opens, cancels int
}

func (a *fakeAnswer) Media() *messagesdp.Media { return a.media }

func (a *fakeAnswer) Open(ctx context.Context) (session.Session, error) {
	a.opens++
	if a.ep.openErr != nil {
		return nil, a.ep.openErr
	}
	return newFakeSession(a.media, a.remote), nil
}

func (a *fakeAnswer) Cancel() { a.cancels++ }

// fakeSession is a Session that carries nothing.
type fakeSession struct {
	local, remote *messagesdp.Media
	once          sync.Once
	done          chan struct{}
}

func newFakeSession(local, remote *messagesdp.Media) *fakeSession {
	return &fakeSession{local: local, remote: remote, done: make(chan struct{})}
}

func (s *fakeSession) Send(ctx context.Context, m *session.Outgoing) (*session.Delivery, error) {
	return nil, session.ErrClosed
}

func (s *fakeSession) Receive(ctx context.Context) (*session.Incoming, error) {
	return nil, session.ErrClosed
}
func (s *fakeSession) Local() *messagesdp.Media  { return s.local }
func (s *fakeSession) Remote() *messagesdp.Media { return s.remote }
func (s *fakeSession) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}
func (s *fakeSession) Done() <-chan struct{} { return s.done }
func (s *fakeSession) Err() error            { return nil }

func twoEndpoints() (msrp, cpim *fakeEndpoint, eps []session.Endpoint) {
	msrp = &fakeEndpoint{proto: messagesdp.ProtoMSRP, port: 2855}
	cpim = &fakeEndpoint{proto: messagesdp.ProtoCPIMTCP, port: 7394}
	return msrp, cpim, []session.Endpoint{msrp, cpim}
}

func TestOfferAll(t *testing.T) {
	msrp, cpim, eps := twoEndpoints()
	mo, err := session.OfferAll(context.Background(), eps, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := messagesdp.Parse(mo.SDP())
	if err != nil {
		t.Fatal(err)
	}
	var protos []string
	for _, m := range d.Messages() {
		protos = append(protos, m.Media.Proto)
	}
	if !slices.Equal(protos, []string{"TCP/MSRP", "cpim/tcp"}) {
		t.Fatalf("offered protos %v, want one m-line per endpoint in order", protos)
	}
	if !d.Streams[0].Media.Equal(msrp.offers[0].media) || !d.Streams[1].Media.Equal(cpim.offers[0].media) {
		t.Errorf("offer SDP does not carry the endpoints' media:\n%s", mo.SDP())
	}
	if mo.Description() == nil || len(mo.Description().Streams) != 2 {
		t.Error("Description")
	}
	mo.Cancel()
	mo.Cancel()
	if msrp.offers[0].cancels != 1 || cpim.offers[0].cancels != 1 {
		t.Errorf("Cancel: cancels %d/%d, want 1/1", msrp.offers[0].cancels, cpim.offers[0].cancels)
	}
	if _, err := mo.Open(context.Background(), nil); err == nil {
		t.Error("Open after Cancel succeeded")
	}
}

func TestOfferAllErrors(t *testing.T) {
	t.Run("endpoint fails", func(t *testing.T) {
		msrp, cpim, eps := twoEndpoints()
		boom := errors.New("listen: address in use")
		cpim.offerErr = boom
		if _, err := session.OfferAll(context.Background(), eps, session.Options{}); !errors.Is(err, boom) {
			t.Fatalf("OfferAll = %v, want %v", err, boom)
		}
		if msrp.offers[0].cancels != 1 {
			t.Error("the offer already made was not cancelled")
		}
	})
	t.Run("invalid media", func(t *testing.T) {
		msrp, _, eps := twoEndpoints()
		_, err := session.OfferAll(context.Background(), eps, session.Options{AcceptTypes: []string{"text/html"}})
		// cpim/tcp without text/plain breaks seed draft §4.1.
		if !errors.Is(err, messagesdp.ErrInvalid) {
			t.Fatalf("OfferAll = %v, want ErrInvalid", err)
		}
		if msrp.offers[0].cancels != 1 {
			t.Error("offers not cancelled")
		}
	})
	t.Run("no endpoint", func(t *testing.T) {
		if _, err := session.OfferAll(context.Background(), nil, session.Options{}); err == nil {
			t.Fatal("OfferAll with no endpoint succeeded")
		}
	})
	t.Run("context", func(t *testing.T) {
		_, _, eps := twoEndpoints()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := session.OfferAll(ctx, eps, session.Options{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("OfferAll = %v, want context.Canceled", err)
		}
	})
}

const answerHead = "v=0\r\no=- 5 5 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"

const (
	msrpAccept = "m=message 8888 TCP/MSRP *\r\na=accept-types:text/plain\r\na=path:msrp://127.0.0.2:8888/bobsess;tcp\r\na=setup:passive\r\n"
	msrpReject = "m=message 0 TCP/MSRP *\r\n"
	cpimAccept = "m=message 8493 cpim/tcp text/plain\r\na=direction:active\r\na=uri:im:849ro3@bob.example.com\r\n"
	cpimReject = "m=message 0 cpim/tcp text/plain message/cpim\r\n"
)

func TestMultiOfferOpen(t *testing.T) {
	tests := []struct {
		name      string
		answer    string
		openErr   error
		wantProto string // proto of the opened session; "" for an error
		wantErr   error
	}{
		{"msrp accepted", answerHead + msrpAccept + cpimReject, nil, "TCP/MSRP", nil},
		{"cpim accepted", answerHead + msrpReject + cpimAccept, nil, "cpim/tcp", nil},
		{"both accepted: first wins", answerHead + msrpAccept + cpimAccept, nil, "TCP/MSRP", nil},
		{"all rejected", answerHead + msrpReject + cpimReject, nil, "", session.ErrNotAcceptable},
		{"m-lines missing", answerHead + msrpAccept, nil, "", messagesdp.ErrInvalid},
		{"m-lines added", answerHead + msrpAccept + cpimReject + msrpReject, nil, "", messagesdp.ErrInvalid},
		{"proto changed", answerHead + cpimAccept + msrpReject, nil, "", messagesdp.ErrInvalid},
		{"accepted line invalid", answerHead + "m=message 8888 TCP/MSRP *\r\na=accept-types:text/plain\r\n" + cpimReject, nil, "", messagesdp.ErrInvalid},
		{"audio answer", answerHead + "m=audio 5000 RTP/AVP 0\r\n" + cpimReject, nil, "", messagesdp.ErrInvalid},
		{"garbage", "hello", nil, "", messagesdp.ErrSyntax},
		{"open fails", answerHead + msrpReject + cpimAccept, errors.New("connect: refused"), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msrp, cpim, eps := twoEndpoints()
			msrp.openErr, cpim.openErr = tt.openErr, tt.openErr
			mo, err := session.OfferAll(context.Background(), eps, session.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s, err := mo.Open(context.Background(), []byte(tt.answer))
			offers := []*fakeOffer{msrp.offers[0], cpim.offers[0]}
			switch {
			case tt.wantProto != "":
				if err != nil {
					t.Fatalf("Open = %v", err)
				}
				if s.Local().Proto != tt.wantProto || s.Remote().Proto != tt.wantProto {
					t.Fatalf("opened %s/%s, want %s", s.Local().Proto, s.Remote().Proto, tt.wantProto)
				}
				for _, o := range offers {
					opened := o.media.Proto == tt.wantProto
					if opened && (o.opens != 1 || o.cancels != 0 || o.opened.Port == 0) {
						t.Errorf("%s: opens %d cancels %d", o.media.Proto, o.opens, o.cancels)
					}
					if !opened && (o.opens != 0 || o.cancels != 1) {
						t.Errorf("%s: opens %d cancels %d, want cancelled", o.media.Proto, o.opens, o.cancels)
					}
				}
			case tt.openErr != nil:
				if !errors.Is(err, tt.openErr) {
					t.Fatalf("Open = %v, want %v", err, tt.openErr)
				}
				if offers[0].cancels != 1 || offers[1].opens != 1 || offers[1].cancels != 0 {
					t.Errorf("after failed Open: %+v %+v", *offers[0], *offers[1])
				}
			default:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Open = %v, want %v", err, tt.wantErr)
				}
				for _, o := range offers {
					if o.opens != 0 || o.cancels != 1 {
						t.Errorf("%s: opens %d cancels %d, want cancelled", o.media.Proto, o.opens, o.cancels)
					}
				}
			}
			// Open and Cancel take effect once.
			if _, err := mo.Open(context.Background(), []byte(tt.answer)); err == nil {
				t.Error("second Open succeeded")
			}
			mo.Cancel()
			for _, o := range offers {
				if o.cancels > 1 || o.opens > 1 {
					t.Errorf("%s: opens %d cancels %d after second Open/Cancel", o.media.Proto, o.opens, o.cancels)
				}
			}
		})
	}
}

// An offer with an audio line, an MSRP line and a seed cpim/tcp line.
const multiOffer = "v=0\r\no=alice 100 100 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
	"m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" +
	"m=message 7394 cpim/tcp text/plain message/cpim\r\na=direction:both\r\na=uri:im:2s93i9@alice.example.com\r\n" +
	"m=message 7395 TCP/MSRP *\r\na=accept-types:message/cpim text/plain\r\na=path:msrp://192.0.2.1:7395/2s93i93idj;tcp\r\na=setup:actpass\r\n"

func TestAnswerOffer(t *testing.T) {
	tests := []struct {
		name      string
		offer     string
		prefer    []string
		opts      session.Options
		setup     func(msrp, cpim *fakeEndpoint)
		wantIndex int
		wantErr   error
	}{
		{name: "MSRP preferred by default", offer: multiOffer, wantIndex: 2},
		{name: "prefer cpim", offer: multiOffer, prefer: []string{"cpim/tcp"}, wantIndex: 1},
		{name: "prefer unknown falls back to offer order", offer: multiOffer, prefer: []string{"TCP/BFCP"}, wantIndex: 1},
		{name: "MSRP endpoint refuses, cpim taken", offer: multiOffer,
			setup: func(m, _ *fakeEndpoint) { m.answerErr = session.ErrNotAcceptable }, wantIndex: 1},
		{name: "MSRP endpoint fails, cpim taken", offer: multiOffer,
			setup: func(m, _ *fakeEndpoint) { m.answerErr = errors.New("listen failed") }, wantIndex: 1},
		{name: "invalid endpoint answer is cancelled", offer: multiOffer,
			setup: func(m, _ *fakeEndpoint) { m.badAnswer = true }, wantIndex: 1},
		{name: "no common type", offer: multiOffer,
			opts: session.Options{AcceptTypes: []string{"text/html"}}, wantErr: session.ErrNotAcceptable},
		{name: "everything refused", offer: multiOffer,
			setup: func(m, c *fakeEndpoint) {
				m.answerErr, c.answerErr = session.ErrNotAcceptable, session.ErrNotAcceptable
			},
			wantErr: session.ErrNotAcceptable},
		{name: "no message line", offer: answerHead + "m=audio 5000 RTP/AVP 0\r\n", wantErr: session.ErrNotAcceptable},
		{name: "only rejected lines", offer: answerHead + msrpReject + cpimReject, wantErr: session.ErrNotAcceptable},
		{name: "unserved proto", offer: answerHead + "m=message 9 TCP/TLS/MSRP *\r\na=accept-types:*\r\na=path:msrps://h:9/s;tcp\r\n", wantErr: session.ErrNotAcceptable},
		{name: "invalid MSRP line skipped", offer: answerHead + "m=message 9 TCP/MSRP *\r\na=accept-types:*\r\n" + cpimAccept, wantIndex: 1},
		{name: "garbage", offer: "v=0\r\n", wantErr: messagesdp.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msrp, cpim, eps := twoEndpoints()
			if tt.setup != nil {
				tt.setup(msrp, cpim)
			}
			ma, err := session.AnswerOffer(context.Background(), eps, []byte(tt.offer), tt.opts, tt.prefer)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("AnswerOffer = %v, want %v", err, tt.wantErr)
				}
				for _, a := range append(msrp.answers, cpim.answers...) {
					if a.cancels != 1 {
						t.Errorf("answer for %s not cancelled", a.media.Proto)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("AnswerOffer = %v", err)
			}
			offer, _ := messagesdp.Parse([]byte(tt.offer))
			ans, err := messagesdp.Parse(ma.SDP())
			if err != nil {
				t.Fatalf("answer SDP: %v\n%s", err, ma.SDP())
			}
			// RFC 3264 §6: same number and order of m-lines, one accepted.
			if len(ans.Streams) != len(offer.Streams) {
				t.Fatalf("%d m-lines for %d offered", len(ans.Streams), len(offer.Streams))
			}
			for i, s := range ans.Streams {
				o := offer.Streams[i]
				if i == tt.wantIndex {
					if s.Media == nil || s.Media.Port == 0 || !s.Media.Equal(ma.Local()) {
						t.Errorf("m-line %d not accepted: %+v", i, s)
					}
					continue
				}
				if got, want := mline(s), mline(o); got != strings.Replace(want, fmt.Sprint(" ", port(o), " "), " 0 ", 1) {
					t.Errorf("m-line %d: %q, want rejection of %q", i, got, want)
				}
			}
			if ma.Index() != tt.wantIndex || !ma.Remote().Equal(offer.Streams[tt.wantIndex].Media) {
				t.Errorf("Index %d Remote %+v", ma.Index(), ma.Remote())
			}
			// Answers that lost the race were cancelled; the winner was not.
			for _, a := range append(msrp.answers, cpim.answers...) {
				winner := a.media.Equal(ma.Local())
				if winner == (a.cancels == 1) {
					t.Errorf("answer %s: cancels %d, winner %v", a.media.Proto, a.cancels, winner)
				}
			}
			s, err := ma.Open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !s.Remote().Equal(ma.Remote()) {
				t.Error("session opened with the wrong remote media")
			}
			if _, err := ma.Open(context.Background()); err == nil {
				t.Error("second Open succeeded")
			}
			ma.Cancel()
			for _, a := range append(msrp.answers, cpim.answers...) {
				if a.cancels > 1 || a.opens > 1 || (a.opens == 1 && a.cancels == 1) {
					t.Errorf("answer %s: opens %d cancels %d", a.media.Proto, a.opens, a.cancels)
				}
			}
		})
	}
}

// mline returns the m= line of a stream, parsed or not.
func mline(s messagesdp.Stream) string {
	if s.Media != nil {
		return s.Media.MediaDescription().MediaName.String()
	}
	return s.Other.MediaName.String()
}

func port(s messagesdp.Stream) int {
	if s.Media != nil {
		return s.Media.Port
	}
	return s.Other.MediaName.Port.Value
}

func TestAnswerOfferCancel(t *testing.T) {
	msrp, _, eps := twoEndpoints()
	ma, err := session.AnswerOffer(context.Background(), eps, []byte(multiOffer), session.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ma.Cancel()
	ma.Cancel()
	if a := msrp.answers[0]; a.cancels != 1 || a.opens != 0 {
		t.Errorf("opens %d cancels %d", a.opens, a.cancels)
	}
	if _, err := ma.Open(context.Background()); err == nil {
		t.Error("Open after Cancel succeeded")
	}
}

func TestAnswerOfferContext(t *testing.T) {
	_, _, eps := twoEndpoints()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := session.AnswerOffer(ctx, eps, []byte(multiOffer), session.Options{}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("AnswerOffer = %v, want context.Canceled", err)
	}
}

func TestAnswerOfferOpenFails(t *testing.T) {
	msrp, _, eps := twoEndpoints()
	boom := errors.New("accept: timeout")
	msrp.openErr = boom
	ma, err := session.AnswerOffer(context.Background(), eps, []byte(multiOffer), session.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ma.Open(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Open = %v, want %v", err, boom)
	}
}

// Both ends of one negotiation, offerer and answerer, each with an MSRP
// and a cpim endpoint: they agree on MSRP and on who connects.
func TestNegotiateBothEnds(t *testing.T) {
	_, _, alice := twoEndpoints()
	bobMSRP := &fakeEndpoint{proto: messagesdp.ProtoMSRP, port: 8888}
	bobCPIM := &fakeEndpoint{proto: messagesdp.ProtoCPIMTCP, port: 8493}
	ctx := context.Background()
	mo, err := session.OfferAll(ctx, alice, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ma, err := session.AnswerOffer(ctx, []session.Endpoint{bobCPIM, bobMSRP}, mo.SDP(), session.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	as, err := mo.Open(ctx, ma.SDP())
	if err != nil {
		t.Fatal(err)
	}
	bs, err := ma.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if as.Local().Proto != messagesdp.ProtoMSRP || bs.Local().Proto != messagesdp.ProtoMSRP {
		t.Fatalf("negotiated %s / %s", as.Local().Proto, bs.Local().Proto)
	}
	if !as.Remote().Equal(bs.Local()) || !bs.Remote().Equal(as.Local()) {
		t.Error("the two ends disagree on the media")
	}
	// actpass offer, passive answer: the offerer connects (RFC 4145 §4.1).
	aliceActive := messagesdp.IsActive(as.Local(), as.Remote(), true)
	bobActive := messagesdp.IsActive(bs.Local(), bs.Remote(), false)
	if !aliceActive || bobActive {
		t.Errorf("active: alice %v bob %v", aliceActive, bobActive)
	}
	if len(bobCPIM.answered) != 0 {
		t.Error("cpim endpoint asked although MSRP is preferred")
	}
}

// exampleEndpoint is a minimal MSRP endpoint for the example.
type exampleEndpoint struct{ port int }

func (e exampleEndpoint) Protocols() []string { return []string{messagesdp.ProtoMSRP} }

func (e exampleEndpoint) media(setup string) *messagesdp.Media {
	return &messagesdp.Media{
		Proto: messagesdp.ProtoMSRP, Port: e.port, Address: "127.0.0.1", Formats: []string{"*"},
		AcceptTypes: []string{"message/cpim", "text/plain"}, Setup: setup,
		Path: []string{fmt.Sprintf("msrp://127.0.0.1:%d/s%d;tcp", e.port, e.port)},
	}
}

func (e exampleEndpoint) Offer(context.Context, session.Options) (session.Offer, error) {
	return &fakeOffer{ep: &fakeEndpoint{}, media: e.media(messagesdp.SetupActpass)}, nil
}

func (e exampleEndpoint) Answer(_ context.Context, remote *messagesdp.Media, _ session.Options) (session.Answer, error) {
	setup, err := messagesdp.AnswerSetup(remote.Setup, true)
	if err != nil {
		return nil, err
	}
	return &fakeAnswer{ep: &fakeEndpoint{}, media: e.media(setup), remote: remote}, nil
}

func ExampleAnswerOffer() {
	ctx := context.Background()
	// The offerer puts one m=message line per transport in its INVITE.
	offer, err := session.OfferAll(ctx, []session.Endpoint{exampleEndpoint{port: 2855}}, session.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The answerer keeps one line and rejects the others (488 if none).
	answer, err := session.AnswerOffer(ctx, []session.Endpoint{exampleEndpoint{port: 8888}}, offer.SDP(), session.Options{}, nil)
	if errors.Is(err, session.ErrNotAcceptable) {
		fmt.Println("488 Not Acceptable Here")
		return
	} else if err != nil {
		fmt.Println(err)
		return
	}
	sdp := string(answer.SDP())
	fmt.Print(strings.ReplaceAll(sdp[strings.Index(sdp, "m="):], "\r\n", "\n"))

	// On the 200 OK the offerer opens the accepted line; on the ACK the
	// answerer opens its side.
	s, err := offer.Open(ctx, answer.SDP())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	fmt.Println("offerer opened", s.Remote().Path[0])
	// Output:
	// m=message 8888 TCP/MSRP *
	// a=accept-types:message/cpim text/plain
	// a=path:msrp://127.0.0.1:8888/s8888;tcp
	// a=setup:passive
	// offerer opened msrp://127.0.0.1:8888/s8888;tcp
}
