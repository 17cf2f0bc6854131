package hostile

import (
	"bytes"
	"testing"
	"testing/iotest"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/messagesdp"
)

// TestCorpusCPIM feeds the CPIM cases to cpim.Parse and cpim.Read (one
// byte per read): each must be accepted or rejected as listed, with an
// error and never a panic.
func TestCorpusCPIM(t *testing.T) {
	for _, c := range casesFor(t, "cpim") {
		t.Run(c.name, func(t *testing.T) {
			_, err := cpim.Parse(c.data)
			_, rerr := cpim.Read(iotest.OneByteReader(bytes.NewReader(c.data)), cpim.Limits{})
			switch c.expect {
			case "accept":
				if err != nil || rerr != nil {
					t.Fatalf("want accepted: Parse %v, Read %v", err, rerr)
				}
			case "reject":
				if err == nil || rerr == nil {
					t.Fatalf("want rejected: Parse %v, Read %v", err, rerr)
				}
			default:
				t.Fatalf("unknown expectation %q", c.expect)
			}
		})
	}
}

// TestCorpusSDP feeds the SDP cases to messagesdp.Parse.
func TestCorpusSDP(t *testing.T) {
	for _, c := range casesFor(t, "sdp") {
		t.Run(c.name, func(t *testing.T) {
			d, err := messagesdp.Parse(c.data)
			switch c.expect {
			case "media-refused":
				if err != nil {
					t.Fatalf("want the body parsed: %v", err)
				}
				for _, s := range d.Streams {
					if s.Media != nil || s.Err == nil {
						t.Fatalf("want the m=message line refused, got %+v", s)
					}
				}
			case "accept":
				if err != nil {
					t.Fatalf("want accepted: %v", err)
				}
			case "reject":
				if err == nil {
					t.Fatal("want rejected")
				}
			default:
				t.Fatalf("unknown expectation %q", c.expect)
			}
		})
	}
}
