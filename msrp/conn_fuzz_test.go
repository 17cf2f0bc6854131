package msrp

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// FuzzConnInput feeds arbitrary bytes, split at random points, to the
// passive side of a connection whose session is known: the endpoint must
// never panic, hang or leak goroutines, whatever arrives. "@TO@" and
// "@FROM@" in the input stand for the session's URI and the peer's.
func FuzzConnInput(f *testing.F) {
	seeds := []string{
		"MSRP a786hjs2 SEND\r\nTo-Path: @TO@\r\nFrom-Path: @FROM@\r\nMessage-ID: 87652491\r\n-------a786hjs2$\r\n",
		"MSRP a786hjs2 SEND\r\nTo-Path: @TO@\r\nFrom-Path: @FROM@\r\nMessage-ID: 87652491\r\nByte-Range: 1-*/8\r\nSuccess-Report: yes\r\nContent-Type: text/plain\r\n\r\nabcd\r\n-------a786hjs2+\r\n" +
			"MSRP a786hjs3 SEND\r\nTo-Path: @TO@\r\nFrom-Path: @FROM@\r\nMessage-ID: 87652491\r\nByte-Range: 5-8/8\r\nContent-Type: text/plain\r\n\r\nefgh\r\n-------a786hjs3$\r\n",
		"MSRP a786hjs2 SEND\r\nTo-Path: @TO@\r\nFrom-Path: @FROM@\r\nMessage-ID: 87652491\r\nByte-Range: 5-8/8\r\nFailure-Report: partial\r\nContent-Type: text/plain\r\n\r\nefgh\r\n-------a786hjs2#\r\n",
		"MSRP dkei38sd REPORT\r\nTo-Path: @TO@\r\nFrom-Path: @FROM@\r\nMessage-ID: 12339sdqwer\r\nByte-Range: 1-106/106\r\nStatus: 000 200 OK\r\n-------dkei38sd$\r\n",
		"MSRP d93kswow 200 OK\r\nTo-Path: @TO@\r\nFrom-Path: @FROM@\r\n-------d93kswow$\r\n",
		"MSRP a786hjs2 FOO\r\nTo-Path: @TO@\r\nFrom-Path: @FROM@\r\n-------a786hjs2$\r\n",
		"MSRP a786hjs2 SEND\r\nTo-Path: @TO@\r\nFrom-Path: @FROM@\r\nMessage-ID: 87652491\r\nByte-Range: 1-999999999999/999999999999\r\nContent-Type: text/plain\r\n\r\nx\r\n-------a786hjs2+\r\n",
		"garbage\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint64(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		e, err := NewEndpoint(Config{MaxInMemory: 4096, TransactionTimeout: time.Second, IdleTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		me := URI{Host: "127.0.0.1", Port: 9, SessionID: "fuzzpeer123456", Transport: "tcp"}
		offer := &messagesdp.Media{Proto: messagesdp.ProtoMSRP, Port: 9, Address: "127.0.0.1", Formats: []string{"*"},
			Path: []string{me.String()}, AcceptTypes: []string{"*"}, Setup: "active"}
		// Answering needs a listener address; a closed one is enough.
		e.mu.Lock()
		e.addrs[0] = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2855}
		e.mu.Unlock()
		ans, err := e.Answer(context.Background(), offer, session.Options{AcceptTypes: []string{"text/plain"}, MaxSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte("@TO@"), []byte(ans.Media().Path[0]))
		data = bytes.ReplaceAll(data, []byte("@FROM@"), []byte(me.String()))
		mine, theirs := net.Pipe()
		e.ServeConn(mine)
		go io.Copy(io.Discard, theirs)
		rng := rand.New(rand.NewPCG(seed, 1))
		for len(data) > 0 {
			n := 1 + rng.IntN(len(data))
			theirs.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := theirs.Write(data[:n]); err != nil {
				break
			}
			data = data[n:]
		}
		theirs.Close()
		ans.Cancel()
	})
}

// TestFuzzSeedsSplitOneByte runs the seeds with one-byte writes.
func TestFuzzSeedsSplitOneByte(t *testing.T) {
	e := newTestEndpoint(t, Config{}, true)
	p, s := newRawPassive(t, e, session.Options{})
	msg := "MSRP a786hjs2 SEND\r\nTo-Path: @TO@\r\nFrom-Path: @FROM@\r\nMessage-ID: 87652491\r\nByte-Range: 1-*/8\r\nContent-Type: text/plain\r\n\r\nabcd\r\n-------a786hjs2+\r\n" +
		"MSRP a786hjs3 SEND\r\nTo-Path: @TO@\r\nFrom-Path: @FROM@\r\nMessage-ID: 87652491\r\nByte-Range: 5-8/8\r\nContent-Type: text/plain\r\n\r\nefgh\r\n-------a786hjs3$\r\n"
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "@TO@", p.to.String()), "@FROM@", p.me.String())
	go func() {
		for i := range len(msg) {
			if _, err := p.nc.Write([]byte{msg[i]}); err != nil {
				return
			}
		}
	}()
	p.expect("a786hjs2", 200)
	p.expect("a786hjs3", 200)
	if in := recv(t, s); string(in.Body) != "abcdefgh" {
		t.Fatalf("got %q", in.Body)
	}
}
