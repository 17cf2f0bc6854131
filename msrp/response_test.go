package msrp

import (
	"bytes"
	"io"
	"reflect"
	"testing"
)

func TestRespondSEND(t *testing.T) {
	req := &Frame{TID: "d93kswow", Method: MethodSEND,
		ToPath:    []URI{mustURI(t, "msrp://bob.example.com:8888/9di4eae923wzd;tcp")},
		FromPath:  []URI{mustURI(t, "msrps://relay.example.com:2855/r1;tcp"), mustURI(t, uAlicePC)},
		MessageID: "12339sdqwer", ByteRange: ByteRange{1, 16, 16}, HasByteRange: true,
		ContentType: "text/plain", Flag: FlagEnd}
	resp := Respond(req, 200, "")
	if resp.TID != req.TID || resp.StatusCode != 200 || resp.Comment != "OK" || resp.Method != "" {
		t.Errorf("start line: %+v", resp)
	}
	// §7.2: a SEND response goes to the previous hop only: the relay that
	// prepended itself to From-Path (RFC 4976 §6.4.1).
	if len(resp.ToPath) != 1 || !resp.ToPath[0].Equal(req.FromPath[0]) {
		t.Errorf("To-Path = %v, want the first From-Path URI", FormatPath(resp.ToPath))
	}
	if len(resp.FromPath) != 1 || !resp.FromPath[0].Equal(req.ToPath[0]) {
		t.Errorf("From-Path = %v", FormatPath(resp.FromPath))
	}
	if resp.MessageID != req.MessageID || !resp.HasByteRange || resp.ByteRange != req.ByteRange {
		t.Errorf("Message-ID/Byte-Range not copied: %+v", resp)
	}
	if resp.HasBody() || resp.Flag != FlagEnd {
		t.Errorf("response has a body or bad flag: %+v", resp)
	}
	if err := resp.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestRespondOtherMethod(t *testing.T) {
	req := &Frame{TID: "abcd1234", Method: "NICKNAME",
		ToPath:   []URI{mustURI(t, "msrps://relay.example.com:2855/r1;tcp"), mustURI(t, "msrp://conf.example.com:9/c;tcp")},
		FromPath: []URI{mustURI(t, "msrp://a.example.com:1/x;tcp"), mustURI(t, "msrp://b.example.com:2/y;tcp")}}
	resp := Respond(req, 501, "")
	if resp.Comment != "Unknown Method" {
		t.Errorf("comment %q", resp.Comment)
	}
	// Other methods go back along the whole From-Path, in received order
	// (previous hop first, RFC 4976 §6.4.2).
	if got := FormatPath(resp.ToPath); got != "msrp://a.example.com:1/x;tcp msrp://b.example.com:2/y;tcp" {
		t.Errorf("To-Path = %q", got)
	}
	resp.ToPath[0].Host = "changed"
	if req.FromPath[0].Host != "a.example.com" {
		t.Errorf("response shares the request's From-Path storage")
	}
	if !resp.FromPath[0].Equal(req.ToPath[0]) {
		t.Errorf("From-Path = %v", FormatPath(resp.FromPath))
	}
	if resp.HasByteRange {
		t.Errorf("Byte-Range copied for a non-SEND")
	}
}

// TestRespondGolden builds the RFC 4975 §11.1 step 5 response from the
// step 4 request: identical on the wire except for the Message-ID that
// Respond copies and the example omits.
func TestRespondGolden(t *testing.T) {
	got, _ := readAllFrames(t, bytes.NewReader(mustRead(t, "rfc4975-s4-basic.msrp")), Limits{}, true)
	resp := Respond(got[0].f, 200, "OK")
	resp.MessageID = ""
	want := splitFrames(mustRead(t, "rfc4975-s4-basic.msrp"), []string{"a786hjs2", "a786hjs2"})[1]
	if enc := AppendFrame(nil, resp, nil); !bytes.Equal(enc, want) {
		t.Errorf("Respond:\n got %q\nwant %q", enc, want)
	}
}

func TestStatusText(t *testing.T) {
	for _, c := range []int{200, 400, 401, 403, 404, 408, 413, 415, 423, 424, 425, 428, 481, 501, 506} {
		if StatusText(c) == "" {
			t.Errorf("StatusText(%d) empty", c)
		}
	}
	if StatusText(299) != "" {
		t.Errorf("StatusText(299) = %q", StatusText(299))
	}
}

// TestRespondRelayedGolden replays the relayed flow of RFC 4976 §3 (Alice,
// relays a.example.org and b.example.net, Bob): each hop's 200 is Respond
// of the SEND it received, and each REPORT hop follows the same path rule.
// (The example's Bob 200 lacks its end-line, a typo; the golden file has
// one. The examples' 200s carry no Byte-Range, which Respond copies.)
func TestRespondRelayedGolden(t *testing.T) {
	data := mustRead(t, "rfc4976-s3-relayed.msrp")
	frames, err := readAllFrames(t, bytes.NewReader(data), Limits{}, true)
	if err != io.EOF || len(frames) != 9 {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
	tids := []string{"6aef", "6aef", "juh76", "juh76", "xght6", "xght6", "yh67", "yh67", "yh67"}
	wire := splitFrames(data, tids)
	for i := 0; i < 6; i += 2 {
		send, want := frames[i].f, frames[i+1].f
		if frames[i].err != nil || send.Method != MethodSEND {
			t.Fatalf("frame %d: %+v %v", i, send, frames[i].err)
		}
		resp := Respond(send, 200, "OK")
		resp.ByteRange, resp.HasByteRange = ByteRange{}, false
		if !reflect.DeepEqual(resp, want) {
			t.Errorf("hop %d: Respond\n got %+v\nwant %+v", i/2, resp, want)
		}
		if enc := AppendFrame(nil, resp, nil); !bytes.Equal(enc, wire[i+1]) {
			t.Errorf("hop %d: encoded\n got %q\nwant %q", i/2, enc, wire[i+1])
		}
	}
	// The REPORTs are written in Parley's header order: byte for byte.
	for i := 6; i < 9; i++ {
		if enc := AppendFrame(nil, frames[i].f, nil); !bytes.Equal(enc, wire[i]) {
			t.Errorf("REPORT %d:\n got %q\nwant %q", i, enc, wire[i])
		}
	}
	// Bob's REPORT goes back along the From-Path of the SEND he received.
	if got, want := FormatPath(frames[6].f.ToPath), FormatPath(frames[4].f.FromPath); got != want {
		t.Errorf("REPORT To-Path %q, want the SEND's From-Path %q", got, want)
	}
}

func TestFrameClone(t *testing.T) {
	f := sampleSEND(t)
	f.ToPath[0].Params = []string{"a=b"}
	f.Headers = []Header{{"X-A", "1"}}
	g := f.Clone()
	if !reflect.DeepEqual(f, g) {
		t.Fatalf("clone differs: %+v", g)
	}
	g.ToPath[0].Host = "x"
	g.ToPath[0].Params[0] = "c=d"
	g.FromPath[0].Port = 1
	g.Headers[0].Value = "2"
	if f.ToPath[0].Host == "x" || f.ToPath[0].Params[0] != "a=b" || f.FromPath[0].Port == 1 || f.Headers[0].Value != "1" {
		t.Errorf("clone shares storage: %+v", f)
	}
	if (&Frame{}).Clone().ToPath != nil {
		t.Errorf("nil slices not kept nil")
	}
}
