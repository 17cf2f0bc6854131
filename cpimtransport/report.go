package cpimtransport

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/parley-im/parley/session"
)

// Report is the body of a message/im-delivery-status (§6.3.1): the MsgID
// of the message it reports on, and optional Action and Status fields
// borrowed from RFC 1894 §2.3.3 and RFC 1893 §2.
type Report struct {
	OriginalMsgID int64
	// Action is an RFC 1894 action: "delivered", "failed", "delayed",
	// "relayed" or "expanded"; "" when absent.
	Action string
	// Status is an RFC 1893 status code class.subject.detail, e.g.
	// "2.0.0", "5.6.1"; "" when absent.
	Status string
}

// Actions and statuses this package writes.
const (
	ActionDelivered = "delivered"
	ActionFailed    = "failed"
	ActionDelayed   = "delayed"
	ActionRelayed   = "relayed"
	ActionExpanded  = "expanded"

	// StatusOK: success (RFC 1893 class 2).
	StatusOK = "2.0.0"
	// StatusTooBig: "message too big for system" (RFC 1893 X.3.4).
	StatusTooBig = "5.3.4"
	// StatusMediaNotSupported: "media not supported" (RFC 1893 X.6.1).
	StatusMediaNotSupported = "5.6.1"
	// StatusSessionGone: "bad destination mailbox address", used when the
	// session the message names has ended (RFC 1893 X.1.1).
	StatusSessionGone = "5.1.1"
	// StatusSinkFailed: the body could not be stored ("other or
	// undefined mail system status", RFC 1893 X.3.0).
	StatusSinkFailed = "5.3.0"
)

// ErrBadReport: a message/im-delivery-status body does not follow §6.3.1.
var ErrBadReport = errors.New("cpimtransport: malformed delivery status report")

// AppendReport appends the report body: CRLF-terminated name/value lines,
// Original-MsgID first (§6.3.1).
func AppendReport(b []byte, r Report) []byte {
	b = append(b, "Original-MsgID: "...)
	b = strconv.AppendInt(b, r.OriginalMsgID, 10)
	b = append(b, "\r\n"...)
	if r.Action != "" {
		b = append(b, "Action: "...)
		b = append(b, r.Action...)
		b = append(b, "\r\n"...)
	}
	if r.Status != "" {
		b = append(b, "Status: "...)
		b = append(b, r.Status...)
		b = append(b, "\r\n"...)
	}
	return b
}

// ParseReport parses a report body. Field names are matched case-
// insensitively; the grammar's HCOLON allows blanks around the colon.
// Unknown fields (extension-header) are ignored. Original-MsgID is
// required and must be a positive integer (the grammar's *DIGIT allows an
// empty value, which cannot name a message).
func ParseReport(body []byte) (Report, error) {
	var r Report
	seen := false
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return Report{}, fmt.Errorf("%w: line %q has no colon", ErrBadReport, line)
		}
		n := strings.TrimSpace(string(name))
		v := strings.TrimSpace(string(value))
		switch {
		case strings.EqualFold(n, "Original-MsgID"):
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 || seen {
				return Report{}, fmt.Errorf("%w: Original-MsgID %q", ErrBadReport, v)
			}
			r.OriginalMsgID, seen = id, true
		case strings.EqualFold(n, "Action"):
			r.Action = strings.ToLower(v)
		case strings.EqualFold(n, "Status"):
			r.Status = v
		}
	}
	if !seen {
		return Report{}, fmt.Errorf("%w: no Original-MsgID", ErrBadReport)
	}
	return r, nil
}

// Final reports whether the report ends the delivery: a "delayed" action
// is only news that the message is still on its way.
func (r Report) Final() bool { return r.Action != ActionDelayed }

// Result maps the report onto a session.Result (our reading of §6.3, whose
// use of RFC 1893/1894 is an open issue of the draft):
//
//   - Action failed, or a Status of class 4 or 5, is Failed; Status carries
//     an MSRP-style code (413 for X.3.4, 415 for X.6.1, 481 for X.1.1,
//     otherwise 400 for class 5 and 408 for class 4) and Comment the
//     original fields;
//   - Action relayed or expanded is Sent: a gateway or exploder took the
//     message and will not report further;
//   - anything else (delivered, no Action, a class 2 Status) is Delivered.
func (r Report) Result() session.Result {
	comment := strings.TrimSpace(strings.Join([]string{r.Action, r.Status}, " "))
	class := byte(0)
	if r.Status != "" {
		class = r.Status[0]
	}
	if r.Action == ActionFailed || class == '4' || class == '5' {
		code := 400
		if class == '4' {
			code = 408
		}
		if i := strings.IndexByte(r.Status, '.'); i >= 0 {
			switch r.Status[i:] {
			case ".3.4":
				code = 413
			case ".6.1":
				code = 415
			case ".1.1":
				code = 481
			}
		}
		return session.Result{Outcome: session.Failed, Status: code, Comment: comment,
			Err: fmt.Errorf("cpimtransport: delivery failed: %s", comment)}
	}
	if r.Action == ActionRelayed || r.Action == ActionExpanded {
		return session.Result{Outcome: session.Sent, Comment: comment}
	}
	return session.Result{Outcome: session.Delivered, Comment: comment}
}
