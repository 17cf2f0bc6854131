package iscomposing

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func TestReceiver(t *testing.T) {
	type step struct {
		at     float64
		op     string // "active", "active90", "idle", "other", "content", or "" just to look
		want   State
		expiry float64 // expected Deadline, -1 for none
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"starts idle", []step{{0, "", Idle, -1}}},
		{"active without refresh lasts 120 s", []step{
			{0, "active", Active, 120}, {119.9, "", Active, 120}, {120, "", Idle, 120},
		}},
		{"active with refresh lasts that long", []step{
			{0, "active90", Active, 90}, {89, "", Active, 90}, {90, "", Idle, 90},
		}},
		{"consecutive actives extend", []step{
			{0, "active", Active, 120}, {1, "active", Active, 121}, {2, "active90", Active, 92}, {100, "", Idle, 92},
		}},
		{"refresh taken from the most recent active", []step{
			{0, "active90", Active, 90}, {10, "active", Active, 130}, {125, "", Active, 130},
		}},
		{"idle message", []step{{0, "active", Active, 120}, {5, "idle", Idle, -1}, {6, "", Idle, -1}}},
		{"unknown state is idle", []step{{0, "active", Active, 120}, {5, "other", Idle, -1}}},
		{"content message", []step{{0, "active", Active, 120}, {5, "content", Idle, -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Receiver
			for i, s := range tt.steps {
				now := at(s.at)
				switch s.op {
				case "active":
					r.Status(Status{State: Active}, now)
				case "active90":
					r.Status(Status{State: Active, Refresh: 90 * time.Second}, now)
				case "idle":
					r.Status(Status{State: Idle}, now)
				case "other":
					st, err := Parse([]byte(`<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>paused</state></isComposing>`))
					if err != nil {
						t.Fatal(err)
					}
					r.Status(st, now)
				case "content":
					r.Content(now)
				}
				if got := r.State(now); got != s.want {
					t.Errorf("step %d at %vs: state %v, want %v", i, s.at, got, s.want)
				}
				d, ok := r.Deadline()
				if s.expiry < 0 && ok || s.expiry >= 0 && (!ok || !d.Equal(at(s.expiry))) {
					t.Errorf("step %d: deadline %v %v, want %v", i, d.Sub(t0), ok, s.expiry)
				}
			}
		})
	}
}

func TestSender(t *testing.T) {
	type step struct {
		at   float64
		op   string // "type", "tick", "sent"
		send string // "" nothing, "active", "idle"
	}
	tests := []struct {
		name   string
		sender Sender
		steps  []step
	}{
		{"first edit sends active", Sender{}, []step{{0, "type", "active"}, {1, "type", ""}, {2, "type", ""}}},
		{"idle 15 s after the last edit", Sender{}, []step{
			{0, "type", "active"}, {10, "type", ""}, {24.9, "tick", ""}, {25, "tick", "idle"}, {26, "tick", ""},
		}},
		{"edit after idle sends active again", Sender{}, []step{
			{0, "type", "active"}, {15, "tick", "idle"}, {20, "type", "active"},
		}},
		{"content sent: no idle message", Sender{}, []step{
			{0, "type", "active"}, {5, "sent", ""}, {20, "tick", ""}, {21, "type", "active"},
		}},
		{"refresh while typing", Sender{IdleTimeout: time.Hour}, []step{
			{0, "type", "active"}, {30, "type", ""}, {59, "tick", ""}, {60, "tick", "active"}, {119, "type", ""}, {120, "type", "active"},
		}},
		{"custom idle timeout", Sender{IdleTimeout: 5 * time.Second}, []step{{0, "type", "active"}, {5, "tick", "idle"}}},
		{"no refreshes", Sender{IdleTimeout: time.Hour, Refresh: -1}, []step{{0, "type", "active"}, {500, "tick", ""}, {501, "type", ""}}},
		{"tick while idle", Sender{}, []step{{0, "tick", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.sender
			for i, st := range tt.steps {
				now := at(st.at)
				var msg Status
				var ok bool
				switch st.op {
				case "type":
					msg, ok = s.Typing(now)
				case "tick":
					msg, ok = s.Tick(now)
				case "sent":
					s.Sent(now)
				}
				got := ""
				if ok {
					got = msg.State.String()
				}
				if got != st.send {
					t.Fatalf("step %d (%s at %vs): sent %q, want %q", i, st.op, st.at, got, st.send)
				}
			}
		})
	}
}

func TestSenderMessages(t *testing.T) {
	s := Sender{ContentType: "text/plain"}
	msg, ok := s.Typing(at(0))
	if !ok || msg.State != Active || msg.Refresh != DefaultSenderRefresh || msg.ContentType != "text/plain" {
		t.Errorf("active = %+v", msg)
	}
	if d, ok := s.Deadline(); !ok || !d.Equal(at(15)) {
		t.Errorf("deadline = %v, %v", d.Sub(t0), ok)
	}
	s.Typing(at(3))
	if d, _ := s.Deadline(); !d.Equal(at(18)) {
		t.Errorf("deadline after edit = %v", d.Sub(t0))
	}
	msg, ok = s.Tick(at(18))
	if !ok || msg.State != Idle || !msg.LastActive.Equal(at(3)) || s.State() != Idle {
		t.Errorf("idle = %+v", msg)
	}
	if _, ok := s.Deadline(); ok {
		t.Error("deadline while idle")
	}
	n := Sender{Refresh: -1, IdleTimeout: time.Hour}
	if msg, _ := n.Typing(at(0)); msg.Refresh != 0 {
		t.Errorf("Refresh -1 announced %v", msg.Refresh)
	}
	// Deadline is the refresh when it comes before the idle time-out.
	r := Sender{IdleTimeout: time.Hour}
	r.Typing(at(0))
	if d, _ := r.Deadline(); !d.Equal(at(60)) {
		t.Errorf("refresh deadline = %v", d.Sub(t0))
	}
}

// TestSenderReceiver drives both ends: the receiver sees the composer
// active exactly while the sender is.
func TestSenderReceiver(t *testing.T) {
	var s Sender
	var r Receiver
	var now time.Time
	deliver := func(msg Status, ok bool) {
		if ok {
			back, err := Parse(msg.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			r.Status(back, now)
		}
	}
	for sec := 0.0; sec <= 200; sec += 0.5 {
		now = at(sec)
		if sec < 100 && int(sec)%7 == 0 { // keeps typing for 100 s
			deliver(s.Typing(now))
		}
		deliver(s.Tick(now))
		if s.State() != r.State(now) {
			t.Fatalf("at %vs: sender %v, receiver %v", sec, s.State(), r.State(now))
		}
	}
	if r.State(at(200)) != Idle {
		t.Error("receiver still active")
	}
}
