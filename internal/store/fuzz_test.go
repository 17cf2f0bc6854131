package store_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parley-im/parley/internal/store"
)

func validText(v string) bool {
	return len(v) <= store.MaxText && utf8.ValidString(v) && !strings.ContainsRune(v, 0)
}

// FuzzMessageRoundTrip: whatever a MESSAGE carries, Enqueue either refuses
// it with ErrInvalid (exactly when a field is not storable text) or stores
// it so that it reads back byte for byte, once.
func FuzzMessageRoundTrip(f *testing.F) {
	f.Add("sip:bob@example.com", "sip:alice@example.com", "id-1", "message/cpim", []byte("From: <sip:alice@example.com>\r\n\r\nhi"), int64(1767225600000000))
	f.Add("sip:bob@example.com", "sip:alice@example.com", "", "text/plain", []byte{}, int64(0))
	f.Add("sip:\xff@x", "sip:a@b", "c", "t", []byte{0, 0xff}, int64(-1))
	f.Add("sip:b@x", "sip:a@b", "c\x00", "t", []byte("x"), int64(1<<62))
	s, err := store.Open(f.Context(), "file:"+filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, rcpt, sender, cid, ctype string, body []byte, dt int64) {
		ctx := t.Context()
		m := store.Message{Rcpt: rcpt, Sender: sender, ClientID: cid, ContentType: ctype, Body: body}
		if dt != 0 {
			m.DateTime = time.UnixMicro(dt)
		}
		valid := rcpt != "" && sender != "" && validText(rcpt) && validText(sender) && validText(cid) && validText(ctype)
		id, created, err := s.Enqueue(ctx, m)
		if !valid {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("invalid message: Enqueue = %d, %v; want ErrInvalid", id, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		got, err := s.Message(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !created {
			// The fuzzer repeated an input: it must be the stored one.
			if cid == "" || got.ClientID != cid || got.Rcpt != rcpt || got.Sender != sender {
				t.Fatalf("created=false for a new message: %+v", got.Message)
			}
			return
		}
		if got.Rcpt != rcpt || got.Sender != sender || got.ClientID != cid || got.ContentType != ctype ||
			!bytes.Equal(got.Body, body) || !got.DateTime.Equal(m.DateTime) || got.State != store.Pending {
			t.Fatalf("round trip: got %+v, want %+v", got.Message, m)
		}
		if cid != "" {
			id2, created, err := s.Enqueue(ctx, m)
			if err != nil || created || id2 != id {
				t.Fatalf("retransmission = %d, %v, %v; want %d, false", id2, created, err, id)
			}
		}
	})
}
