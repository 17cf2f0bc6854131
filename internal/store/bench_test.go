package store_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/store"
)

// Run with, for example:
//
//	eval "$(bash .ci/postgres.sh)"
//	go test -run '^$' -bench . -benchtime 2s ./internal/store/

func benchBackends(b *testing.B, f func(b *testing.B, s store.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := store.Open(b.Context(), "file:"+filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		f(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := postgresDSN(b)
		s, err := store.Open(b.Context(), newSchema(b, dsn))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		f(b, s)
	})
}

var benchBody = []byte("CPIM-like body of about two hundred bytes: " + string(make([]byte, 160)))

// BenchmarkEnqueue: one durable Enqueue (commit, fsync) after another, the
// latency the server adds before answering 202.
func BenchmarkEnqueue(b *testing.B) {
	benchBackends(b, func(b *testing.B, s store.Store) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchBody)))
		i := 0
		for b.Loop() {
			i++
			if _, _, err := s.Enqueue(b.Context(), store.Message{Rcpt: fmt.Sprintf("sip:u%d@example.com", i%100),
				Sender: "sip:alice@example.com", ClientID: fmt.Sprint(i), ContentType: "message/cpim", Body: benchBody}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// BenchmarkEnqueueParallel: many concurrent senders. SQLite has one writer;
// PostgreSQL commits concurrently (group commit).
func BenchmarkEnqueueParallel(b *testing.B) {
	benchBackends(b, func(b *testing.B, s store.Store) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchBody)))
		b.SetParallelism(8)
		var n atomic.Int64
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				if _, _, err := s.Enqueue(b.Context(), store.Message{Rcpt: fmt.Sprintf("sip:u%d@example.com", i%100),
					Sender: "sip:alice@example.com", ClientID: fmt.Sprint(i), ContentType: "message/cpim", Body: benchBody}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "msgs/s")
	})
}

// BenchmarkLookup: the registrar look-up of one AOR among 1000 with three
// devices each.
func BenchmarkLookup(b *testing.B) {
	benchBackends(b, func(b *testing.B, s store.Store) {
		exp := time.Now().Add(time.Hour)
		for u := range 1000 {
			for d := range 3 {
				if err := s.Bind(b.Context(), store.Binding{AOR: fmt.Sprintf("sip:u%d@example.com", u),
					Contact: fmt.Sprintf("sip:u%d@192.0.2.%d:5060", u, d+1), CallID: "c", CSeq: 1, Expires: exp, Node: "n1"}); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			bs, err := s.Lookup(b.Context(), fmt.Sprintf("sip:u%d@example.com", i%1000))
			if err != nil || len(bs) != 3 {
				b.Fatalf("Lookup = %d, %v", len(bs), err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	})
}

// BenchmarkBind: a REGISTER refresh.
func BenchmarkBind(b *testing.B) {
	benchBackends(b, func(b *testing.B, s store.Store) {
		exp := time.Now().Add(time.Hour)
		b.ReportAllocs()
		var cseq uint32
		for b.Loop() {
			cseq++
			if err := s.Bind(b.Context(), store.Binding{AOR: fmt.Sprintf("sip:u%d@example.com", cseq%100),
				Contact: "sip:u@192.0.2.1", CallID: "c", CSeq: cseq, Expires: exp}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
