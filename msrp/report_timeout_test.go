package msrp

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-im/parley/session"
)

// TestReportTimeout: a message that asked for a success report and whose
// chunks were all answered completes as Sent, with a comment, once
// Config.ReportTimeout has passed without REPORTs covering it (a Parley
// choice: RFC 4975 has no timer for reports); the clock starts at the
// last chunk's 200 (or, under Failure-Report no, when the last chunk is
// written). A REPORT in time still makes it Delivered. Fake clock.
func TestReportTimeout(t *testing.T) {
	const body = "receipt?"
	for _, tc := range []struct {
		name       string
		cfg        Config
		fr         string        // SessionOptions.FailureReport
		answerIn   time.Duration // delay before the 200 ("" mode only)
		reportAt   time.Duration // when the peer sends a REPORT, 0: never
		reportEnd  int64         // its range-end
		want       session.Outcome
		wantAfter  time.Duration // from the last 200 (or the last chunk written)
		commentHas string
	}{
		{name: "default 2 min", want: session.Sent, wantAfter: 2 * time.Minute, commentHas: "0 of 8 octets confirmed"},
		{name: "clock starts at the 200", cfg: Config{ReportTimeout: 10 * time.Second}, answerIn: 20 * time.Second,
			want: session.Sent, wantAfter: 10 * time.Second, commentHas: "no success report within 10s"},
		{name: "partial report", cfg: Config{ReportTimeout: 10 * time.Second}, reportAt: 3 * time.Second, reportEnd: 3,
			want: session.Sent, wantAfter: 10 * time.Second, commentHas: "3 of 8 octets confirmed"},
		{name: "report in time", cfg: Config{ReportTimeout: 10 * time.Second}, reportAt: 9 * time.Second, reportEnd: 8,
			want: session.Delivered, wantAfter: 9 * time.Second},
		{name: "negative waits forever", cfg: Config{ReportTimeout: -1}, reportAt: 5 * time.Hour, reportEnd: 8,
			want: session.Delivered, wantAfter: 5 * time.Hour},
		{name: "failure-report no", cfg: Config{ReportTimeout: 10 * time.Second}, fr: "no",
			want: session.Sent, wantAfter: 10 * time.Second, commentHas: "no success report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, s, p := pipeSessionWith(t, tc.cfg, session.Options{WantReceipts: true}, SessionOptions{FailureReport: tc.fr})
				d, err := s.Send(context.Background(), &session.Outgoing{ContentType: "text/plain", Body: []byte(body)})
				if err != nil {
					t.Fatal(err)
				}
				f, got := p.read()
				if f.Method != MethodSEND || string(got) != body || !f.WantsSuccessReport() {
					t.Fatalf("got %s %q, Success-Report %q", f.Method, got, f.SuccessReport)
				}
				if tc.fr == "" {
					time.Sleep(tc.answerIn)
					p.respond(f, 200)
				}
				start := time.Now()
				if tc.reportAt > 0 {
					time.Sleep(tc.reportAt)
					p.sendReq(&Frame{Method: MethodREPORT, ToPath: f.FromPath, MessageID: f.MessageID, HasStatus: true,
						Status: Status{Code: 200}, HasByteRange: true, ByteRange: ByteRange{1, tc.reportEnd, 8}}, nil)
				}
				r, _ := d.Wait(context.Background())
				if el := time.Since(start); r.Outcome != tc.want || el != tc.wantAfter {
					t.Fatalf("outcome %v (%+v) after %v, want %v after %v", r.Outcome, r, el, tc.want, tc.wantAfter)
				}
				if r.Err != nil || !strings.Contains(r.Comment, tc.commentHas) {
					t.Fatalf("result %+v, want a comment with %q and no error", r, tc.commentHas)
				}
				if _, confirmed := d.Progress(); confirmed != tc.reportEnd {
					t.Fatalf("confirmed %d, want %d", confirmed, tc.reportEnd)
				}
			})
		})
	}
}
