package msrp

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// pipeSession opens a session from a fresh endpoint (active, offerer) to a
// hand-driven peer over net.Pipe, inside a synctest bubble. The peer
// answers the binding SEND and is returned for the test to drive.
func pipeSession(t *testing.T, cfg Config, so ...SessionOptions) (*Endpoint, *Session, *rawPeer) {
	t.Helper()
	return pipeSessionWith(t, cfg, session.Options{}, so...)
}

// pipeSessionWith is pipeSession with session options.
func pipeSessionWith(t *testing.T, cfg Config, opts session.Options, so ...SessionOptions) (*Endpoint, *Session, *rawPeer) {
	t.Helper()
	mine, theirs := net.Pipe()
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) { return mine, nil }
	e, err := NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); theirs.Close() })
	ctx := context.Background()
	var o SessionOptions
	if len(so) > 0 {
		o = so[0]
	}
	off, err := e.OfferWith(ctx, opts, o)
	if err != nil {
		t.Fatal(err)
	}
	me := URI{Host: "127.0.0.1", Port: 5000, SessionID: NewSessionID(), Transport: "tcp"}
	to, _ := ParseURI(off.Media().Path[0])
	answer := &messagesdp.Media{Proto: messagesdp.ProtoMSRP, Port: 5000, Address: "127.0.0.1", Formats: []string{"*"},
		Path: []string{me.String()}, AcceptTypes: []string{"*"}, Setup: "passive"}
	p := &rawPeer{t: t, nc: theirs, r: NewReader(theirs, Limits{}), me: me, to: to}
	go func() {
		f, err := p.r.ReadFrame()
		if err != nil {
			return
		}
		theirs.Write(AppendFrame(nil, Respond(f, 200, ""), nil))
	}()
	s, err := off.OpenOffer(ctx, answer)
	if err != nil {
		t.Fatal(err)
	}
	return e, s, p
}

// TestTransactionTimeout: no response within 30 s of the last byte sent
// gives TimedOut (RFC 4975 §7.1.1), measured on the fake clock.
func TestTransactionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, s, p := pipeSession(t, Config{})
		// The peer reads everything and never answers.
		go io.Copy(io.Discard, p.nc)
		start := time.Now()
		d, err := s.Send(context.Background(), &session.Outgoing{ContentType: "text/plain", Body: []byte("anyone?")})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := d.Wait(context.Background())
		if r.Outcome != session.TimedOut || !errors.Is(r.Err, ErrTimeout) {
			t.Fatalf("%+v", r)
		}
		if el := time.Since(start); el != 30*time.Second {
			t.Fatalf("timed out after %v, want 30s", el)
		}
		// The session itself is still usable (a timeout is per message).
		if s.Err() != nil {
			t.Fatalf("session failed: %v", s.Err())
		}
	})
}

// TestTimerStartsAtLastByte: for a message larger than the pipe can
// take at once, the timer runs from the end of the chunk, not its start.
func TestTimerStartsAtLastByte(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, s, p := pipeSession(t, Config{TransactionTimeout: 10 * time.Second})
		d, err := s.Send(context.Background(), &session.Outgoing{ContentType: "application/octet-stream", Body: make([]byte, 1<<20)})
		if err != nil {
			t.Fatal(err)
		}
		// The peer reads slowly: 64 KiB every 2 s (20 s for the whole
		// chunk, longer than the timeout), then stays silent.
		start := time.Now()
		buf := make([]byte, 64<<10)
		for {
			time.Sleep(2 * time.Second)
			p.nc.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := io.ReadFull(p.nc, buf); err != nil {
				break
			}
		}
		done := time.Since(start)
		r, _ := d.Wait(context.Background())
		if r.Outcome != session.TimedOut {
			t.Fatalf("%+v", r)
		}
		if el := time.Since(start); el < done || el > done+10*time.Second {
			t.Fatalf("timed out %v after start, body read by %v", el, done)
		}
	})
}

// TestPeerStopsReading: a peer that stops reading blocks the socket; the
// write deadline fails the connection and the session within the timer.
func TestPeerStopsReading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, s, _ := pipeSession(t, Config{})
		start := time.Now()
		d, err := s.Send(context.Background(), &session.Outgoing{ContentType: "text/plain", Body: []byte("stuck")})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := d.Wait(context.Background())
		if r.Outcome != session.Failed || !errors.Is(r.Err, ErrConnLost) {
			t.Fatalf("%+v", r)
		}
		<-s.Done()
		if el := time.Since(start); el > 30*time.Second {
			t.Fatalf("failure noticed after %v", el)
		}
	})
}

// TestKeepAlive: an idle session sends bodiless SENDs; a peer that stops
// answering fails the connection.
func TestKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, s, p := pipeSession(t, Config{KeepAlive: time.Minute})
		// Answer the first keep-alive, then go silent.
		f, err := p.r.ReadFrame()
		if err != nil || f.Method != MethodSEND || f.HasBody() {
			t.Fatalf("keep-alive %+v %v", f, err)
		}
		p.nc.Write(AppendFrame(nil, Respond(f, 200, ""), nil))
		go io.Copy(io.Discard, p.nc)
		start := time.Now()
		<-s.Done()
		if !errors.Is(s.Err(), ErrConnLost) || !errors.Is(s.Err(), ErrTimeout) {
			t.Fatalf("Err = %v", s.Err())
		}
		if el := time.Since(start); el != time.Minute+30*time.Second {
			t.Fatalf("noticed after %v", el)
		}
	})
}

// TestIdleConnectionClosed: a connection no session uses is closed
// IdleTimeout after the last session ended, not before (RFC 4975 §5.4).
func TestIdleConnectionClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, s, p := pipeSession(t, Config{})
		go io.Copy(io.Discard, p.nc)
		c := s.Conn()
		s.Close()
		time.Sleep(29 * time.Second)
		synctest.Wait()
		select {
		case <-c.Done():
			t.Fatal("closed before IdleTimeout")
		default:
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		select {
		case <-c.Done():
		default:
			t.Fatal("idle connection still open")
		}
		if c.Err() != nil {
			t.Fatalf("orderly idle close reported %v", c.Err())
		}
	})
}

// TestUnboundAcceptedConnectionClosed: an accepted connection that binds
// no session is closed after IdleTimeout.
func TestUnboundAcceptedConnectionClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := NewEndpoint(Config{IdleTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		mine, theirs := net.Pipe()
		defer theirs.Close()
		e.ServeConn(mine)
		start := time.Now()
		if _, err := theirs.Read(make([]byte, 1)); err == nil {
			t.Fatal("read data from an idle connection")
		}
		if el := time.Since(start); el != 10*time.Second {
			t.Fatalf("closed after %v", el)
		}
	})
}

// TestSendFailureReportModes: SENDs with Failure-Report "no" are Sent once
// written; with "partial" they are Sent when the timer passes without an
// error, and fail on an error response (RFC 4975 §7.1.2).
func TestSendFailureReportModes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, s, p := pipeSession(t, Config{}, SessionOptions{FailureReport: "no"})
		frames := make(chan *Frame, 10)
		go func() {
			for {
				f, err := p.r.ReadFrame()
				if err != nil {
					close(frames)
					return
				}
				io.Copy(io.Discard, p.r)
				frames <- f
			}
		}()
		start := time.Now()
		d, _ := s.Send(context.Background(), &session.Outgoing{ContentType: "text/plain", Body: []byte("fire and forget")})
		r, _ := d.Wait(context.Background())
		if r.Outcome != session.Sent || time.Since(start) != 0 {
			t.Fatalf("no: %+v after %v", r, time.Since(start))
		}
		if f := <-frames; f.FailureReport != "no" {
			t.Fatalf("Failure-Report %q", f.FailureReport)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		_, s, p := pipeSession(t, Config{}, SessionOptions{FailureReport: "partial"})
		frames := make(chan *Frame, 10)
		go func() {
			for {
				f, err := p.r.ReadFrame()
				if err != nil {
					return
				}
				io.Copy(io.Discard, p.r)
				frames <- f
			}
		}()
		start := time.Now()
		d, _ := s.Send(context.Background(), &session.Outgoing{ContentType: "text/plain", Body: []byte("quiet")})
		if f := <-frames; f.FailureReport != "partial" {
			t.Fatalf("Failure-Report %q", f.FailureReport)
		}
		r, _ := d.Wait(context.Background())
		if r.Outcome != session.Sent || time.Since(start) != 30*time.Second {
			t.Fatalf("partial: %+v after %v", r, time.Since(start))
		}
		d, _ = s.Send(context.Background(), &session.Outgoing{ContentType: "text/plain", Body: []byte("refused")})
		f := <-frames
		p.nc.Write(AppendFrame(nil, Respond(f, 415, ""), nil))
		if r, _ := d.Wait(context.Background()); r.Outcome != session.Failed || r.Status != 415 {
			t.Fatalf("partial error: %+v", r)
		}
	})
}
