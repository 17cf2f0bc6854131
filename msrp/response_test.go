package msrp

import (
	"bytes"
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
	// §7.2: a SEND response goes to the previous hop only.
	if len(resp.ToPath) != 1 || !resp.ToPath[0].Equal(req.FromPath[1]) {
		t.Errorf("To-Path = %v, want the last From-Path URI", FormatPath(resp.ToPath))
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
	// §7.2: other methods get the reversed From-Path.
	if got := FormatPath(resp.ToPath); got != "msrp://b.example.com:2/y;tcp msrp://a.example.com:1/x;tcp" {
		t.Errorf("To-Path = %q", got)
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
