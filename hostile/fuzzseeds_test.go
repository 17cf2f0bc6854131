package hostile

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// fuzzSeeds writes the seed files of the fuzz targets from the bad-input
// corpus:
//
//	go test ./hostile/ -run TestFuzzSeeds -fuzzseeds
//
// Without the flag, TestFuzzSeeds checks that the seed files exist and
// match the corpus.
var fuzzSeeds = flag.Bool("fuzzseeds", false, "write the fuzz targets' badinput-* seed files from testdata/badinput")

// maxSeed leaves the largest cases (the 1 MiB bodies) out of the fuzz
// corpora: they would only slow every fuzzing iteration down, and the
// replays already cover them.
const maxSeed = 128 << 10

// A fuzzTarget is one fuzz function of another package and how the
// corpus cases become its arguments.
type fuzzTarget struct {
	dir, name string // package directory (module-relative) and FuzzXxx
	// seeds returns the argument lists for one corpus case (nil: the
	// case does not apply).
	seeds func(file string, data []byte) [][]any
}

// Fixed values for the placeholders of the MSRP cases: a session URI
// (the To-Path), the same with its case flipped, an unknown one and the
// sender's URI. FuzzConnInput substitutes its own @TO@ and @FROM@.
var (
	fuzzMSRPVars = map[string]string{
		"{TO}": "msrp://127.0.0.1:7394/hostilesess01;tcp", "{TO_CASE}": "msrp://127.0.0.1:7394/HOSTILESESS01;tcp",
		"{TO_UNKNOWN}": "msrp://127.0.0.1:7394/unknownsess99;tcp", "{FROM}": "msrp://127.0.0.1:9/hostilepeer01;tcp",
	}
	fuzzConnVars = map[string]string{
		"{TO}": "@TO@", "{TO_CASE}": "msrp://127.0.0.1:2855/UNKNOWNCASE;tcp",
		"{TO_UNKNOWN}": "msrp://127.0.0.1:2855/unknownsess99;tcp", "{FROM}": "@FROM@",
	}
	// The relay fuzz target's server is 127.0.0.1:2855.
	fuzzRelayVars = map[string]string{
		"{TO}": "msrp://127.0.0.1:2855/abcd;tcp msrp://127.0.0.1:9/y;tcp", "{TO_CASE}": "msrp://127.0.0.1:2855/ABCD;tcp msrp://127.0.0.1:9/y;tcp",
		"{TO_UNKNOWN}": "msrp://127.0.0.1:2855/nosuch;tcp msrp://127.0.0.1:9/y;tcp", "{FROM}": "msrp://127.0.0.1:9/x;tcp",
	}
	fuzzSIPVars = map[string]string{"{TARGET}": "127.0.0.1:5062"}
)

func kind(file string) string { k, _, _ := strings.Cut(file, "/"); return k }

// sipBody is the body of a raw SIP request.
func sipBody(data []byte) []byte {
	_, body, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	return body
}

// headerValues returns the values of the lines of data that start with
// name ("Byte-Range: ", "a=path:").
func headerValues(data []byte, name string) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\r\n") {
		if v, ok := strings.CutPrefix(l, name); ok {
			out = append(out, v)
		}
	}
	return out
}

// bytesAndSeed is the ([]byte, uint64) signature of the split-delivery
// targets; the seed varies with the case so the splits differ.
func bytesAndSeed(file string, b []byte) [][]any {
	return [][]any{{b, uint64(len(file)*31 + len(b))}}
}

var fuzzTargets = []fuzzTarget{
	// msrp: the wire reader (whole vs split), the endpoint's connection,
	// and the URI, Byte-Range and Status parsers on the corpus's values.
	{"msrp", "FuzzReader", func(f string, d []byte) [][]any {
		if kind(f) != "msrp" {
			return nil
		}
		return bytesAndSeed(f, materialize(d, fuzzMSRPVars))
	}},
	{"msrp", "FuzzConnInput", func(f string, d []byte) [][]any {
		if kind(f) != "msrp" {
			return nil
		}
		return bytesAndSeed(f, materialize(d, fuzzConnVars))
	}},
	{"msrp", "FuzzParseURI", func(f string, d []byte) [][]any {
		var out [][]any
		switch kind(f) {
		case "msrp":
			m := materialize(d, fuzzMSRPVars)
			for _, h := range []string{"To-Path: ", "From-Path: "} {
				for _, v := range headerValues(m, h) {
					if !strings.HasPrefix(v, "msrp://127.0.0.1:") || !strings.HasSuffix(v, ";tcp") || strings.Contains(v, " ") {
						out = append(out, []any{v}) // only the hostile ones
					}
				}
			}
		case "ua", "sdp":
			body := d
			if kind(f) == "ua" {
				body = sipBody(d)
			}
			for _, v := range headerValues(body, "a=path:") {
				out = append(out, []any{v})
			}
		}
		return out
	}},
	{"msrp", "FuzzParseByteRange", func(f string, d []byte) [][]any {
		if kind(f) != "msrp" {
			return nil
		}
		var out [][]any
		for _, v := range headerValues(d, "Byte-Range: ") {
			out = append(out, []any{v})
		}
		return out
	}},
	{"msrp", "FuzzParseStatus", func(f string, d []byte) [][]any {
		if kind(f) != "msrp" {
			return nil
		}
		var out [][]any
		for _, v := range headerValues(d, "Status: ") {
			out = append(out, []any{v})
		}
		return out
	}},
	// msrp/relay: a relay connection, and its end-line search.
	{"msrp/relay", "FuzzRelayInput", func(f string, d []byte) [][]any {
		if kind(f) != "msrp" {
			return nil
		}
		return bytesAndSeed(f, materialize(d, fuzzRelayVars))
	}},
	{"msrp/relay", "FuzzFindEndLine", func(f string, d []byte) [][]any {
		if kind(f) != "msrp" {
			return nil
		}
		// The target looks for the end-line of tid "tid1".
		return bytesAndSeed(f, bytes.ReplaceAll(materialize(d, fuzzMSRPVars), []byte(hxTID), []byte("tid1")))
	}},
	// cpim: message/cpim objects, also the bodies of the SIP MESSAGEs.
	{"cpim", "FuzzParse", func(f string, d []byte) [][]any {
		switch {
		case kind(f) == "cpim":
			return [][]any{{d}}
		case kind(f) == "ua" && bytes.Contains(d, []byte("Content-Type: message/cpim")):
			return [][]any{{sipBody(d)}}
		}
		return nil
	}},
	// messagesdp and the UA's SDP summary: the SDP bodies, also those of
	// the hostile INVITEs.
	{"messagesdp", "FuzzParse", sdpSeeds},
	{"sipua", "FuzzSummarizeSDP", sdpSeeds},
	// SIP streams: the UA's trace splitter and parley's transcript scanner.
	{"sipua", "FuzzTraceStream", func(f string, d []byte) [][]any {
		if k := kind(f); k != "sip" && k != "ua" {
			return nil
		}
		return bytesAndSeed(f, materialize(d, fuzzSIPVars))
	}},
	{"cmd/parley", "FuzzSIPScanner", func(f string, d []byte) [][]any {
		if k := kind(f); k != "sip" && k != "ua" {
			return nil
		}
		return [][]any{{materialize(d, fuzzSIPVars), uint8(len(f) % 16)}}
	}},
	// cpimtransport: the seed draft's framer.
	{"cpimtransport", "FuzzReader", func(f string, d []byte) [][]any {
		if kind(f) != "seed" {
			return nil
		}
		return bytesAndSeed(f, seedFill(d, &seedSession{mine: "im:alice@example.com", theirs: "im:bob@example.com"}))
	}},
}

func sdpSeeds(f string, d []byte) [][]any {
	switch kind(f) {
	case "sdp":
		return [][]any{{d}}
	case "ua":
		if b := sipBody(d); bytes.HasPrefix(d, []byte("INVITE ")) && len(b) > 0 {
			return [][]any{{b}}
		}
	}
	return nil
}

// marshalSeed encodes one seed in the "go test fuzz v1" format
// (internal/fuzz: %q for strings and byte slices, byte(%q) for uint8).
func marshalSeed(args []any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case uint64:
			fmt.Fprintf(&b, "uint64(%d)\n", v)
		case uint8:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		default:
			panic(fmt.Sprintf("seed argument of type %T", a))
		}
	}
	return b.Bytes()
}

var seedNameRE = regexp.MustCompile(`[^A-Za-z0-9-]+`)

// wantSeeds returns the seed files to write, by path relative to the
// module root.
func wantSeeds(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	dup := map[string]bool{} // target dir + seed bytes: the same value seeds a target once
	for _, e := range loadManifest(t) {
		data, err := os.ReadFile(filepath.Join(corpusDir, e.file))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > maxSeed {
			continue
		}
		base := "badinput-" + seedNameRE.ReplaceAllString(strings.TrimSuffix(e.file, filepath.Ext(e.file)), "-")
		for _, ft := range fuzzTargets {
			for i, args := range ft.seeds(e.file, data) {
				b := marshalSeed(args)
				dir := filepath.Join(ft.dir, "testdata", "fuzz", ft.name)
				if dup[dir+"\x00"+string(b)] {
					continue
				}
				dup[dir+"\x00"+string(b)] = true
				name := base
				if i > 0 {
					name = fmt.Sprintf("%s-%d", base, i+1)
				}
				out[filepath.Join(dir, name)] = b
			}
		}
	}
	return out
}

// TestFuzzSeeds checks (or, with -fuzzseeds, writes) the badinput-* seed
// files of the fuzz targets: every corpus case a target can take is in its
// corpus, with today's bytes. Seed files not named badinput-* belong to
// the packages and are left alone.
func TestFuzzSeeds(t *testing.T) {
	want := wantSeeds(t)
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	perTarget := map[string]int{}
	for _, p := range paths {
		full := filepath.Join("..", p)
		perTarget[filepath.Dir(p)]++
		if *fuzzSeeds {
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, want[p], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(full)
		if err != nil {
			t.Errorf("%v (run with -fuzzseeds)", err)
			continue
		}
		if !bytes.Equal(got, want[p]) {
			t.Errorf("%s differs from the corpus (run with -fuzzseeds)", p)
		}
	}
	for _, ft := range fuzzTargets {
		d := filepath.Join(ft.dir, "testdata", "fuzz", ft.name)
		if perTarget[d] == 0 {
			t.Errorf("no corpus case seeds %s.%s", ft.dir, ft.name)
		}
		t.Logf("%s %s: %d badinput seeds", ft.dir, ft.name, perTarget[d])
		// Stale badinput seeds (a case renamed or removed).
		ents, _ := os.ReadDir(filepath.Join("..", d))
		for _, en := range ents {
			if strings.HasPrefix(en.Name(), "badinput-") {
				if _, ok := want[filepath.Join(d, en.Name())]; !ok {
					t.Errorf("stale seed %s/%s", d, en.Name())
				}
			}
		}
	}
}
