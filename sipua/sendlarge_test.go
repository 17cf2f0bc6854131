package sipua

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/session"
)

// countingReader counts the octets read from it, so the test can see the
// body being streamed rather than read at once.
type countingReader struct {
	r  io.Reader
	mu sync.Mutex
	n  int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	c.n += int64(n)
	c.mu.Unlock()
	return n, err
}

// TestSendLarge streams a body over real MSRP with the large-message tag
// and progress reports.
func TestSendLarge(t *testing.T) {
	bobEP, aliceEP := msrpEndpoint(t), msrpEndpoint(t)
	box := newInbox()
	// No OnInvite: only the large-message tag gets the INVITE accepted
	// (else it is answered 480).
	bob := testUA(t, Config{AOR: "sip:bob@example.com", Endpoints: []session.Endpoint{bobEP}, OnMessage: box.on}, TCP)
	alice := testUA(t, Config{AOR: "sip:alice@example.com", Endpoints: []session.Endpoint{aliceEP}}, TCP)

	body := bytes.Repeat([]byte("streamed large message "), 20000) // 460 000 bytes
	size := int64(len(body))
	cr := &countingReader{r: bytes.NewReader(body)}
	var calls []int64
	res, err := alice.SendLarge(ctxT(t, 20*time.Second), bob.URI(TCP), &LargeMessage{
		ContentType: "application/octet-stream", Body: cr, Size: size, Subject: "big file",
		ProgressInterval: time.Millisecond,
		Progress: func(sent, total int64) {
			if total != size {
				t.Errorf("progress total = %d, want %d", total, size)
			}
			calls = append(calls, sent)
		},
	})
	if err != nil {
		t.Fatalf("SendLarge: %v", err)
	}
	if res.Mode != LargeMessageMode || res.Disposition != Delivered || res.Status != 200 {
		t.Errorf("result = %+v", res)
	}
	if len(calls) == 0 || calls[len(calls)-1] != size {
		t.Fatalf("progress calls %v, want the last to be %d", calls, size)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i] < calls[i-1] {
			t.Errorf("progress went back: %v", calls)
		}
	}
	if cr.n != size {
		t.Errorf("read %d octets from the body, want %d", cr.n, size)
	}
	m := box.next(t)
	if m.Mode != LargeMessageMode || m.Subject != "big file" || m.ContentType != "application/octet-stream" || !bytes.Equal(m.Body, body) {
		t.Errorf("got mode %v subject %q type %q, %d bytes", m.Mode, m.Subject, m.ContentType, len(m.Body))
	}
	waitNoCalls(t, alice, bob)
}

func TestSendLargeTooLarge(t *testing.T) {
	bobEP, aliceEP := msrpEndpoint(t), msrpEndpoint(t)
	bob := testUA(t, Config{AOR: "sip:bob@example.com", Endpoints: []session.Endpoint{bobEP}, OnMessage: func(*Message) { t.Error("delivered") },
		SessionOptions: session.Options{MaxSize: 1000}}, TCP)
	alice := testUA(t, Config{Endpoints: []session.Endpoint{aliceEP}}, TCP)
	_, err := alice.SendLarge(ctxT(t, 10*time.Second), bob.URI(TCP), &LargeMessage{ContentType: "text/plain", Body: strings.NewReader(strings.Repeat("x", 5000)), Size: 5000})
	if !errors.Is(err, ErrRejected) || !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrRejected and session.ErrTooLarge", err)
	}
	waitNoCalls(t, alice, bob)
}

func TestSendLargeBadInput(t *testing.T) {
	n := newFakeNet()
	alice := testUA(t, Config{Media: n.media(false)}, TCP)
	noMedia := testUA(t, Config{}, TCP)
	ctx := ctxT(t, 5*time.Second)
	for _, c := range []struct {
		name   string
		ua     *UA
		target string
		m      *LargeMessage
		want   error
	}{
		{"nil message", alice, "sip:bob@127.0.0.1", nil, nil},
		{"nil body", alice, "sip:bob@127.0.0.1", &LargeMessage{ContentType: "text/plain"}, nil},
		{"bad type", alice, "sip:bob@127.0.0.1", &LargeMessage{ContentType: "text/plain\r\nX: y", Body: strings.NewReader("x")}, nil},
		{"bad target", alice, "http://x", &LargeMessage{ContentType: "text/plain", Body: strings.NewReader("x")}, ErrBadTarget},
		{"no media", noMedia, "sip:bob@127.0.0.1", &LargeMessage{ContentType: "text/plain", Body: strings.NewReader("x")}, errNoMedia},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.ua.SendLarge(ctx, c.target, c.m)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}
