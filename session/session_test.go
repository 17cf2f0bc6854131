package session_test

import (
	"testing"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/session"
)

func TestIncomingContent(t *testing.T) {
	wrapped := []byte("From: <sip:a@example.com>\r\nTo: <sip:b@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nhello")
	m, err := cpim.Parse(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		in       session.Incoming
		wantType string
		wantBody string
	}{
		{"plain", session.Incoming{ContentType: "text/plain", Body: []byte("hi")}, "text/plain", "hi"},
		{"msrp cpim", session.Incoming{ContentType: "Message/CPIM", Body: wrapped, CPIM: m}, "text/plain", "hello"},
		{"cpim unparsed", session.Incoming{ContentType: "message/cpim", Body: []byte("x")}, "message/cpim", "x"},
		{"seed envelope", session.Incoming{ContentType: "text/plain", Body: []byte("inner"), CPIM: m}, "text/plain", "inner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := tt.in.Content()
			if ct != tt.wantType || string(body) != tt.wantBody {
				t.Errorf("Content() = %q, %q; want %q, %q", ct, body, tt.wantType, tt.wantBody)
			}
		})
	}
}
