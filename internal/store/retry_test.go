package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRetryClassification(t *testing.T) {
	tests := []struct {
		name                  string
		err                   error
		notExecuted, connLost bool
	}{
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true, true},
		{"cannot connect now", fmt.Errorf("store: x: %w", &pgconn.PgError{Code: "57P03"}), true, true},
		{"bad conn", driver.ErrBadConn, true, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, false, true},
		{"eof mid-query", io.ErrUnexpectedEOF, false, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false, false},
		{"syntax", &pgconn.PgError{Code: "42601"}, false, false},
		{"no rows", sql.ErrNoRows, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := notExecuted(tc.err); got != tc.notExecuted {
				t.Errorf("notExecuted = %v", got)
			}
			if got := connLost(tc.err); got != tc.connLost {
				t.Errorf("connLost = %v", got)
			}
		})
	}
}

// The retry schedule runs in a synctest bubble: the delays are virtual.
func TestRetrySchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sqlStore{backend: "postgres"}
		ctx := context.Background()
		calls := 0
		start := time.Now()
		err := s.retry(ctx, func() error {
			calls++
			if calls < 4 {
				return &pgconn.PgError{Code: "57P01"}
			}
			return nil
		}, notExecuted)
		if err != nil || calls != 4 {
			t.Fatalf("retry = %v after %d calls; want success on the 4th", err, calls)
		}
		if d := time.Since(start); d != 1400*time.Millisecond {
			t.Errorf("retries took %v, want 0+100+300+1000 ms", d)
		}

		// Attempts run out: the last error is returned.
		calls = 0
		err = s.retry(ctx, func() error { calls++; return &pgconn.PgError{Code: "57P01"} }, notExecuted)
		if calls != len(retryDelays) || !errors.As(err, new(*pgconn.PgError)) {
			t.Errorf("exhausted retry = %v after %d calls", err, calls)
		}

		// Not retried: an error that proves nothing about execution, and
		// any error on SQLite.
		calls = 0
		s.retry(ctx, func() error { calls++; return io.ErrUnexpectedEOF }, notExecuted)
		if calls != 1 {
			t.Errorf("ambiguous write error retried %d times", calls-1)
		}
		calls = 0
		(&sqlStore{backend: "sqlite"}).retry(ctx, func() error { calls++; return driver.ErrBadConn }, notExecuted)
		if calls != 1 {
			t.Errorf("sqlite retried")
		}

		// A cancelled context stops the waiting.
		cctx, cancel := context.WithCancel(ctx)
		calls = 0
		go func() { time.Sleep(150 * time.Millisecond); cancel() }()
		err = s.retry(cctx, func() error { calls++; return &pgconn.PgError{Code: "57P01"} }, notExecuted)
		if calls != 2 || err == nil {
			t.Errorf("cancelled retry: %d calls, %v", calls, err)
		}
	})
}
