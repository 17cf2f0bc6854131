package loadgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

func sampleResult() *Result {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	r := &Result{Scenario: "small", Target: "127.0.0.1:2855", Mode: TwoHop, Sessions: 10, Window: 8, ChunkSize: 100,
		Elapsed: 2 * time.Second, Errors: map[string]uint64{"status 481": 2, "timeout": 1}}
	r.Classes = append(r.Classes, newClass("msg", 1000, 100000, &h, r.Elapsed))
	return r
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := sampleResult().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Scenario string  `json:"scenario"`
		ElapsedS float64 `json:"elapsed_s"`
		Classes  []struct {
			Name     string             `json:"name"`
			Count    uint64             `json:"count"`
			PerSec   float64            `json:"per_sec"`
			MBPerSec float64            `json:"mb_per_sec"`
			Latency  map[string]float64 `json:"latency_us"`
		} `json:"classes"`
		Errors map[string]uint64 `json:"errors"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	c := got.Classes[0]
	if got.Scenario != "small" || got.ElapsedS != 2 || c.Count != 1000 || c.PerSec != 500 || c.MBPerSec != 0.05 {
		t.Errorf("decoded %+v", got)
	}
	// 1..1000 µs: nearest-rank p50 = 500 µs, p99 = 990 µs (within 1/64).
	for k, want := range map[string]float64{"p50": 500, "p99": 990, "p99.9": 999, "min": 1, "max": 1000, "mean": 500.5} {
		if v := c.Latency[k]; v < want*(1-1.0/64) || v > want*(1+1.0/64) {
			t.Errorf("latency %s = %v µs, want ≈%v", k, v, want)
		}
	}
	if got.Errors["status 481"] != 2 || got.Errors["timeout"] != 1 {
		t.Errorf("errors %v", got.Errors)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	r := sampleResult()
	r.Idle = &IdleResult{Sessions: 100, Connections: 100, PIDs: []int{1}, RSSBeforeKB: 1000, RSSAfterKB: 1400,
		PSSBeforeKB: 900, PSSAfterKB: 1200, PerSessionRSS: 4096, PerSessionPSS: 3072, Settle: time.Second}
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"scenario small, two-hop to 127.0.0.1:2855, 10 sessions, window 8, 100 B per message, 2.00 s",
		"class", "p99.9", "msg", "1000", "500", "0.05", "502µs", "987µs", // bucket midpoints of 500 and 990 µs
		"4096 B/session", "3072 B/session",
		"errors: status 481=2 timeout=1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	r.Errors = nil
	b.Reset()
	r.WriteTable(&b)
	if !strings.Contains(b.String(), "errors: none") {
		t.Errorf("no-error table:\n%s", b.String())
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		500: "500ns", 1500: "1.5µs", 2500 * time.Microsecond: "2.5ms", 3 * time.Second: "3s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}

// parseOne parses a single frame with package msrp's Reader.
func parseOne(t *testing.T, b []byte) *msrp.Frame {
	t.Helper()
	r := msrp.NewReader(bufio.NewReader(bytes.NewReader(b)), msrp.Limits{})
	f, err := r.ReadFrame()
	if err != nil {
		t.Fatalf("%v in %q", err, b)
	}
	if f.HasBody() {
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestAppendSendAndOK(t *testing.T) {
	to, _ := msrp.ParsePath("msrp://127.0.0.1:2855/aaaa;tcp msrp://127.0.0.1:2855/bbbb;tcp msrp://127.0.0.1:9/cccc;tcp")
	from, _ := msrp.ParsePath("msrp://127.0.0.1:7/dddd;tcp")
	p := &pair{ids: newIDGen(), body: makeBody(300)}
	p.head = appendPathLine(nil, "To-Path", to)
	p.head = appendPathLine(p.head, "From-Path", from)
	b := p.appendSend(nil, time.Second)
	b = p.appendSend(b, 2*time.Second)
	r := msrp.NewReader(bytes.NewReader(b), msrp.Limits{})
	for i := range 2 {
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r)
		if f.Method != "SEND" || len(f.ToPath) != 3 || !f.FromPath[0].Equal(from[0]) || len(body) != 300 ||
			f.ByteRange != (msrp.ByteRange{Start: 1, End: 300, Total: 300}) || f.Flag != msrp.FlagEnd {
			t.Fatalf("frame %d: %+v, body %d", i, f, len(body))
		}
		if err := f.Check(); err != nil {
			t.Errorf("frame %d: %v", i, err)
		}
		ok := parseOne(t, appendOK(nil, f))
		if ok.StatusCode != 200 || ok.TID != f.TID || !ok.ToPath[0].Equal(from[0]) || !ok.FromPath[0].Equal(to[0]) {
			t.Errorf("response %+v", ok)
		}
	}
}
