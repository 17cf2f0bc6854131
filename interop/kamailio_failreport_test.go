package interop

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/session"
)

// failAfter is a Sink destination that accepts limit octets, then fails.
type failAfter struct {
	limit int64
	got   atomic.Int64
}

func (w *failAfter) WriteAt(p []byte, off int64) (int, error) {
	if w.got.Add(int64(len(p))) > w.limit {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// TestParleyFailureReportThroughKamailio: Kamailio answers every chunk
// 200 itself and drops the receiver's error responses (README finding 2),
// so a receiver that fails mid-message can only tell the sender with a
// failure REPORT (RFC 4975 §7.1.4), which travels end to end. B's Sink
// fails after 256 KiB of a 1 MiB message: A's Delivery fails with 413
// from B's REPORT, A stops sending, and the session goes on.
func TestParleyFailureReportThroughKamailio(t *testing.T) {
	k := startKamailio(t, kamailioOptions{})
	capt := startCapture(t, k.Port)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	a, b := newParleyEndpoint(t), newParleyEndpoint(t)
	ra, rb := relayFor(t, ctx, a, k, "alice"), relayFor(t, ctx, b, k, "bob")
	sink := &failAfter{limit: 256 << 10}
	opts := session.Options{WantReceipts: true, MaxInMemory: 64 << 10,
		Sink: func(session.Info) (io.WriterAt, error) { return sink, nil }}
	sa, sb := parleyPair(t, ctx, a, b, ra, rb, opts)

	big := printable(1<<20, 7)
	d, err := sa.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream", Body: big})
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != session.Failed || r.Status != 413 {
		t.Fatalf("outcome %v status %d (%v), want failed 413 from B's failure REPORT", r.Outcome, r.Status, r.Err)
	}
	t.Logf("A's delivery: %v %d %q (%v)", r.Outcome, r.Status, r.Comment, r.Err)

	// The session survives: a text goes through, with its receipt.
	d2, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("after the failure")})
	if err != nil {
		t.Fatal(err)
	}
	in, err := sb.Receive(ctx)
	if err != nil || string(in.Body) != "after the failure" {
		t.Fatalf("Receive: %v %q", err, in.Body)
	}
	if r, err := d2.Wait(ctx); err != nil || r.Outcome != session.Delivered {
		t.Fatalf("text: %v %+v", err, r)
	}
	capt.stopAndCheckBulk(t, 40)
	// tshark misses PDUs that share a segment: count the REPORTs in the
	// reassembled streams. B's one failure REPORT and the text's success
	// REPORT each cross the wire three times (B → Kamailio → itself → A).
	w := capt.sendsOnWire(t)
	if got := w.methods["REPORT"]; got != 2*3 {
		t.Errorf("%d REPORTs on the wire, want 6 (one failure REPORT, one success REPORT, 3 hops each): %v", got, w.methods)
	}
}
