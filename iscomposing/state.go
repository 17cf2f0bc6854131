package iscomposing

import "time"

// Receiver tracks the state of a remote composer from the status and
// content messages it receives (§3.3, Figure 2). It starts Idle. It has no
// timers: callers pass the current time, and Deadline says when the state
// will change by itself, for the caller's own timer. The zero Receiver is
// ready for use; it is not safe for concurrent use.
type Receiver struct {
	active  bool
	expires time.Time
	last    Status
}

// Status records a received status message. An "active" one makes the
// composer Active until its refresh interval (or DefaultRefresh without
// one) has passed; any other state makes it Idle. Consecutive active
// messages are fine whatever their spacing (§3.3).
func (r *Receiver) Status(s Status, now time.Time) {
	r.last = s
	if s.State != Active {
		r.active = false
		return
	}
	refresh := s.Refresh
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	r.active = true
	r.expires = now.Add(refresh)
}

// Content records that a content message arrived: the composer is Idle
// (§3.3, condition 2).
func (r *Receiver) Content(now time.Time) { r.active = false }

// State returns the composer's state at now: Active between an active
// status message and its refresh time-out, Idle otherwise (§3.3,
// condition 3).
func (r *Receiver) State(now time.Time) State {
	if r.active && now.Before(r.expires) {
		return Active
	}
	return Idle
}

// Last returns the most recent status message (for its ContentType hint).
func (r *Receiver) Last() Status { return r.last }

// Deadline returns when an Active composer times out to Idle; ok is false
// when the composer is not Active (nothing will happen by itself).
func (r *Receiver) Deadline() (t time.Time, ok bool) {
	if !r.active {
		return time.Time{}, false
	}
	return r.expires, true
}

// DefaultIdleTimeout is the composer's idle time-out (§3.2: fifteen seconds
// unless the user configured otherwise).
const DefaultIdleTimeout = 15 * time.Second

// DefaultSenderRefresh is the refresh interval a Sender announces and keeps
// by default: the shortest §3.2 allows (SHOULD be no shorter than 60 s).
const DefaultSenderRefresh = 60 * time.Second

// Sender decides which status messages the local composer sends (§3.2,
// Figure 1). Call Typing on each edit, Sent when the content message goes
// out, and Tick when Deadline passes; each returns the status message to
// send, if any. It has no timers. Transitions are sent when they happen;
// refreshes no more often than Refresh. The zero Sender is ready for use
// with the defaults; it is not safe for concurrent use.
type Sender struct {
	// IdleTimeout is how long without edits before the composer goes idle;
	// 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Refresh is the interval at which an active status is resent and
	// which it announces in <refresh>; 0 means DefaultSenderRefresh, a
	// negative value sends no refreshes and no <refresh> (the receiver
	// then gives up after DefaultRefresh, §3.2).
	Refresh time.Duration
	// ContentType, if set, is announced in <contenttype> (§3.4).
	ContentType string

	active   bool
	lastEdit time.Time
	lastSent time.Time
}

func (s *Sender) idleTimeout() time.Duration {
	if s.IdleTimeout <= 0 {
		return DefaultIdleTimeout
	}
	return s.IdleTimeout
}

func (s *Sender) refresh() time.Duration {
	if s.Refresh == 0 {
		return DefaultSenderRefresh
	}
	return s.Refresh
}

func (s *Sender) activeStatus(now time.Time) Status {
	s.lastSent = now
	st := Status{State: Active, ContentType: s.ContentType}
	if r := s.refresh(); r > 0 {
		st.Refresh = r
	}
	return st
}

// Typing records an edit at now. It returns an active status to send when
// the composer was idle (idle → active) or a refresh is due.
func (s *Sender) Typing(now time.Time) (Status, bool) {
	s.lastEdit = now
	if !s.active {
		s.active = true
		return s.activeStatus(now), true
	}
	if r := s.refresh(); r > 0 && !now.Before(s.lastSent.Add(r)) {
		return s.activeStatus(now), true
	}
	return Status{}, false
}

// Sent records that the content message was sent: the composer is idle
// and, as §3.2 says, no idle status message is needed.
func (s *Sender) Sent(now time.Time) { s.active = false }

// Tick returns the status message due at now, if any: an idle status
// (with LastActive) once IdleTimeout has passed since the last edit, else
// an active refresh once Refresh has passed since the last status.
func (s *Sender) Tick(now time.Time) (Status, bool) {
	if !s.active {
		return Status{}, false
	}
	if !now.Before(s.lastEdit.Add(s.idleTimeout())) {
		s.active = false
		s.lastSent = now
		return Status{State: Idle, LastActive: s.lastEdit, ContentType: s.ContentType}, true
	}
	if r := s.refresh(); r > 0 && !now.Before(s.lastSent.Add(r)) {
		return s.activeStatus(now), true
	}
	return Status{}, false
}

// State returns the composer's state as last sent.
func (s *Sender) State() State {
	if s.active {
		return Active
	}
	return Idle
}

// Deadline returns when Tick next has something to send; ok is false when
// the composer is idle.
func (s *Sender) Deadline() (t time.Time, ok bool) {
	if !s.active {
		return time.Time{}, false
	}
	t = s.lastEdit.Add(s.idleTimeout())
	if r := s.refresh(); r > 0 {
		if rt := s.lastSent.Add(r); rt.Before(t) {
			t = rt
		}
	}
	return t, true
}
