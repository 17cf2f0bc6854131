package hostile

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// update rewrites testdata/badinput from the table below:
//
//	go test ./hostile/ -run TestCorpusFiles -update
var update = flag.Bool("update", false, "rewrite testdata/badinput from the corpus table")

const corpusDir = "testdata/badinput"

// A corpus case is one file of hostile input and the reaction expected from
// each target it is replayed against (see cases.txt for the grammar).
//
// MSRP files hold placeholders that the replay fills in for the session it
// set up: {TO} is the To-Path that reaches the session (the endpoint's
// session URI, or, at the relay, the client's Use-Path URL and the
// client's URI), {TO_CASE} the same with the session-id's case changed,
// {TO_UNKNOWN} a session-id nobody issued, and {FROM} the attacker's own
// URI. Seed files use {TO} and {FROM} for the a=uri tokens; SIP files
// {TARGET} for the server's host:port.
type corpusCase struct {
	file   string
	expect string // space-separated target=reaction pairs
	data   string
}

const (
	crlf     = "\r\n"
	hxTID    = "hx1234ab"
	hxEnd    = "-------" + hxTID
	msrpHead = "MSRP " + hxTID + " SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n"
	msgID    = "Message-ID: hostile0001\r\n"
)

// send builds a SEND of body with the given extra headers.
func sendFrame(extra, ctype, body, flag string) string {
	s := msrpHead + msgID + extra
	if ctype == "" {
		return s + hxEnd + flag + crlf
	}
	return s + "Content-Type: " + ctype + crlf + crlf + body + crlf + hxEnd + flag + crlf
}

func manyHeaders(n, valueLen int) string {
	var b strings.Builder
	v := strings.Repeat("v", valueLen)
	for i := range n {
		fmt.Fprintf(&b, "X-Hostile-%d: %s\r\n", i, v)
	}
	return b.String()
}

func sdpWithAttrs(n int) string {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 7394 TCP/MSRP *\r\na=path:msrp://127.0.0.1:7394/abcdefghijklmnopqrst;tcp\r\na=accept-types:text/plain\r\n")
	for i := range n {
		fmt.Fprintf(&b, "a=x-hostile-%d:1\r\n", i)
	}
	return b.String()
}

const cpimOK = "From: <im:alice@example.com>\r\nTo: <im:bob@example.com>\r\nDateTime: 2026-12-01T22:00:00Z\r\n\r\nContent-Type: text/plain\r\n\r\nhello"

func sipReq(method, name, extra, ctype, body string) string {
	s := method + " sip:bob@localhost SIP/2.0\r\n" +
		"Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-" + name + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:mallory@evil.example>;tag=" + name + "\r\n" +
		"To: <sip:bob@localhost>\r\n" +
		"Call-ID: " + name + "@hostile\r\n" +
		"CSeq: 1 " + method + "\r\n" + extra
	if ctype != "" {
		s += "Content-Type: " + ctype + "\r\n"
	}
	return s + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body
}

func sipRaw(method, name, extra string) string {
	return method + " sip:bob@localhost SIP/2.0\r\n" +
		"Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-" + name + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:mallory@evil.example>;tag=" + name + "\r\n" +
		"To: <sip:bob@localhost>\r\n" +
		"Call-ID: " + name + "@hostile\r\n" +
		"CSeq: 1 " + method + "\r\n" + extra
}

func seedFrame(hdrs, msg string) string { return hdrs + crlf + msg }

func seedMsg(from, to string) string {
	return "From: <" + from + ">\r\nTo: <" + to + ">\r\nMsgID: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhostile"
}

// corpus is the bad-input corpus. Keep names stable: they are file names.
var corpus = []corpusCase{
	// ---- MSRP (RFC 4975) ----
	{"msrp/no-method.msrp", "endpoint=ignored relay=ignored",
		"MSRP " + hxTID + "\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n" + hxEnd + "$\r\n"},
	{"msrp/no-method-no-headers.msrp", "endpoint=ignored relay=ignored",
		"MSRP " + hxTID + "\r\n" + hxEnd + "$\r\n"},
	{"msrp/no-method-eof.msrp", "endpoint=truncated relay=truncated",
		"MSRP " + hxTID + "\r\n"},
	{"msrp/lowercase-method.msrp", "endpoint=status:400 relay=status:400",
		"MSRP " + hxTID + " send\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n" + hxEnd + "$\r\n"},
	{"msrp/unknown-method.msrp", "endpoint=status:501 relay=status:200",
		"MSRP " + hxTID + " FROBNICATE\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n" + hxEnd + "$\r\n"},
	{"msrp/non-numeric-status.msrp", "endpoint=ignored relay=ignored",
		"MSRP " + hxTID + " 2x0 OK\r\nTo-Path: {FROM}\r\nFrom-Path: {TO}\r\n" + hxEnd + "$\r\n"},
	{"msrp/stray-response.msrp", "endpoint=ignored relay=ignored",
		"MSRP " + hxTID + " 200 OK\r\nTo-Path: {FROM}\r\nFrom-Path: {TO}\r\n" + hxEnd + "$\r\n"},
	{"msrp/to-path-not-first.msrp", "endpoint=status:400 relay=status:400",
		"MSRP " + hxTID + " SEND\r\n" + msgID + "To-Path: {TO}\r\nFrom-Path: {FROM}\r\n" + hxEnd + "$\r\n"},
	{"msrp/from-before-to.msrp", "endpoint=status:400 relay=status:400",
		"MSRP " + hxTID + " SEND\r\nFrom-Path: {FROM}\r\nTo-Path: {TO}\r\n" + hxEnd + "$\r\n"},
	{"msrp/no-paths.msrp", "endpoint=status:400 relay=ignored",
		"MSRP " + hxTID + " SEND\r\n" + msgID + hxEnd + "$\r\n"},
	{"msrp/bad-uri.msrp", "endpoint=status:400 relay=status:400",
		"MSRP " + hxTID + " SEND\r\nTo-Path: http://evil.example/\r\nFrom-Path: {FROM}\r\n" + hxEnd + "$\r\n"},
	{"msrp/start-line-too-long.msrp", "endpoint=close relay=close",
		"MSRP " + hxTID + " " + strings.Repeat("A", 9000) + crlf},
	{"msrp/header-line-too-long.msrp", "endpoint=status:413 relay=status:413",
		sendFrame("X-Long: "+strings.Repeat("x", 9000)+crlf, "", "", "$")},
	{"msrp/too-many-headers.msrp", "endpoint=status:413 relay=status:413",
		sendFrame(manyHeaders(100, 4), "", "", "$")},
	{"msrp/header-section-too-large.msrp", "endpoint=status:413 relay=status:413",
		sendFrame(manyHeaders(40, 1000), "", "", "$")},
	{"msrp/byte-range-overflow.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("Byte-Range: 1-*/99999999999999999999\r\n", "text/plain", "hi", "$")},
	{"msrp/byte-range-int64-max.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("Byte-Range: 1-9223372036854775807/9223372036854775807\r\n", "text/plain", "hi", "$")},
	{"msrp/byte-range-negative.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("Byte-Range: 1--5/*\r\n", "text/plain", "hi", "$")},
	{"msrp/byte-range-negative-total.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("Byte-Range: 1-2/-2\r\n", "text/plain", "hi", "$")},
	{"msrp/byte-range-total-lt-end.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("Byte-Range: 1-10/5\r\n", "text/plain", "0123456789", "$")},
	{"msrp/byte-range-start-zero.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("Byte-Range: 0-1/2\r\n", "text/plain", "hi", "+")},
	{"msrp/byte-range-garbage.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("Byte-Range: one-two/three\r\n", "text/plain", "hi", "$")},
	{"msrp/byte-range-huge-total.msrp", "endpoint=status:413 relay=status:200",
		sendFrame("Byte-Range: 1-2/999999999999999999\r\n", "text/plain", "hi", "+")},
	{"msrp/byte-range-huge-start.msrp", "endpoint=status:413 relay=status:200",
		sendFrame("Byte-Range: 999999999999999990-999999999999999991/999999999999999999\r\n", "text/plain", "hi", "+")},
	{"msrp/duplicate-byte-range.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("Byte-Range: 1-2/2\r\nByte-Range: 1-2/2\r\n", "text/plain", "hi", "$")},
	{"msrp/body-over-max-size.msrp", "endpoint=status:413 relay=status:200",
		sendFrame("Byte-Range: 1-70000/70000\r\n", "text/plain", strings.Repeat("a", 70000), "$")},
	{"msrp/body-over-max-size-star.msrp", "endpoint=status:413 relay=status:200",
		sendFrame("Byte-Range: 1-*/*\r\n", "text/plain", strings.Repeat("a", 70000), "$")},
	{"msrp/missing-end-line.msrp", "endpoint=truncated relay=truncated",
		sendFrame("", "text/plain", "no end", "$")[:len(sendFrame("", "text/plain", "no end", "$"))-len(hxEnd+"$"+crlf)]},
	{"msrp/foreign-end-line-bodiless.msrp", "endpoint=close relay=close",
		msrpHead + msgID + "-------zz999999$\r\n"},
	{"msrp/foreign-end-line-in-body.msrp", "endpoint=status:200 relay=status:200",
		sendFrame("", "text/plain", "before\r\n-------zz999999$\r\nafter", "$")},
	{"msrp/end-line-bad-flag.msrp", "endpoint=close relay=close",
		msrpHead + msgID + hxEnd + "!\r\n"},
	{"msrp/lf-only.msrp", "endpoint=close relay=close",
		strings.ReplaceAll(sendFrame("", "text/plain", "lf", "$"), crlf, "\n")},
	{"msrp/lf-only-header.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("X-LF: 1\n", "", "", "$")},
	{"msrp/nul-in-header.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("X-Nul: a\x00b\r\n", "", "", "$")},
	{"msrp/nul-in-body.msrp", "endpoint=status:200 relay=status:200",
		sendFrame("", "application/octet-stream", "a\x00\x00b\x00", "$")},
	{"msrp/report-with-body.msrp", "endpoint=ignored relay=ignored",
		"MSRP " + hxTID + " REPORT\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n" + msgID + "Status: 000 200 OK\r\nContent-Type: text/plain\r\n\r\nreport body\r\n" + hxEnd + "$\r\n"},
	{"msrp/report-bad-status.msrp", "endpoint=ignored relay=ignored",
		"MSRP " + hxTID + " REPORT\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n" + msgID + "Status: 0 2\r\n" + hxEnd + "$\r\n"},
	{"msrp/report-huge-range.msrp", "endpoint=ignored relay=ignored",
		"MSRP " + hxTID + " REPORT\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n" + msgID + "Byte-Range: 1-999999999999999999/999999999999999999\r\nStatus: 000 200 OK\r\n" + hxEnd + "$\r\n"},
	{"msrp/bodiless-with-content-type.msrp", "endpoint=status:400 relay=status:400",
		msrpHead + msgID + "Content-Type: text/plain\r\n" + hxEnd + "$\r\n"},
	{"msrp/body-without-content-type.msrp", "endpoint=status:400 relay=status:400",
		msrpHead + msgID + crlf + "body\r\n" + hxEnd + "$\r\n"},
	{"msrp/content-type-not-last.msrp", "endpoint=status:400 relay=status:400",
		msrpHead + msgID + "Content-Type: text/plain\r\nContent-ID: <x@y>\r\n\r\nbody\r\n" + hxEnd + "$\r\n"},
	{"msrp/bad-content-type.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("", "text", "body", "$")},
	{"msrp/unaccepted-type.msrp", "endpoint=status:415 relay=status:200",
		sendFrame("", "application/x-hostile", "body", "$")},
	{"msrp/invalid-utf8-body.msrp", "endpoint=status:200 relay=status:200",
		sendFrame("", "text/plain;charset=UTF-8", "\xff\xfe\xc3\x28 \xed\xa0\x80", "$")},
	{"msrp/invalid-utf8-header.msrp", "endpoint=status:200 relay=status:200",
		sendFrame("X-Bytes: \xff\xfe\xc3\x28\r\n", "text/plain", "ok", "$")},
	{"msrp/bad-message-id.msrp", "endpoint=status:400 relay=status:400",
		"MSRP " + hxTID + " SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: a\r\n" + hxEnd + "$\r\n"},
	{"msrp/bad-report-value.msrp", "endpoint=status:400 relay=status:400",
		sendFrame("Success-Report: maybe\r\n", "", "", "$")},
	{"msrp/unknown-session.msrp", "endpoint=status:481 relay=status:481",
		"MSRP " + hxTID + " SEND\r\nTo-Path: {TO_UNKNOWN}\r\nFrom-Path: {FROM}\r\n" + msgID + hxEnd + "$\r\n"},
	{"msrp/case-altered-session.msrp", "endpoint=status:481 relay=status:481",
		"MSRP " + hxTID + " SEND\r\nTo-Path: {TO_CASE}\r\nFrom-Path: {FROM}\r\n" + msgID + "Content-Type: text/plain\r\n\r\ninjected\r\n" + hxEnd + "$\r\n"},
	{"msrp/unknown-session-failure-report-no.msrp", "endpoint=ignored relay=ignored",
		"MSRP " + hxTID + " SEND\r\nTo-Path: {TO_UNKNOWN}\r\nFrom-Path: {FROM}\r\n" + msgID + "Failure-Report: no\r\n" + hxEnd + "$\r\n"},
	{"msrp/failure-report-partial-ok.msrp", "endpoint=ignored relay=ignored",
		sendFrame("Failure-Report: partial\r\n", "text/plain", "partial", "$")},
	{"msrp/content-length-header.msrp", "endpoint=status:200 relay=status:200",
		sendFrame("Content-Length: -1\r\n", "text/plain", "ignored length", "$")},
	{"msrp/tid-too-short.msrp", "endpoint=close relay=close",
		"MSRP abc SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n-------abc$\r\n"},
	{"msrp/tid-too-long.msrp", "endpoint=close relay=close",
		"MSRP " + strings.Repeat("a", 33) + " SEND\r\n"},
	{"msrp/not-msrp-http.msrp", "endpoint=close relay=close",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"msrp/binary-garbage.msrp", "endpoint=close relay=close",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\xff\xfe\r\n"},
	{"msrp/nul-bytes-9k.msrp", "endpoint=close relay=close",
		strings.Repeat("\x00", 9000)},
	{"msrp/nul-bytes-4k.msrp", "endpoint=truncated relay=truncated",
		strings.Repeat("\x00", 4096)},
	{"msrp/cpim-unknown-ns-prefix.msrp", "endpoint=status:400 relay=status:200",
		sendFrame("", "message/cpim", "From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\nzz.Secret: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhi", "$")},
	{"msrp/cpim-no-inner-type.msrp", "endpoint=status:400 relay=status:200",
		sendFrame("", "message/cpim", "From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\n\r\n\r\nhi", "$")},
	{"msrp/abort-then-continue.msrp", "endpoint=status:200 relay=status:200",
		sendFrame("Byte-Range: 1-*/10\r\n", "text/plain", "abc", "#")},
	{"msrp/auth-at-endpoint.msrp", "endpoint=status:501 relay=status:200",
		"MSRP " + hxTID + " AUTH\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n" + hxEnd + "$\r\n"},
	{"msrp/auth-body-too-large.msrp", "endpoint=status:501 relay=status:413",
		"MSRP " + hxTID + " AUTH\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("b", 11000) + crlf + hxEnd + "$\r\n"},

	// ---- CPIM objects (RFC 3862), parsed by cpim.Parse ----
	{"cpim/unknown-ns-prefix.cpim", "cpim=reject", "From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\nzz.Secret: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhi"},
	{"cpim/prefix-before-ns.cpim", "cpim=reject", "From: <im:a@example.com>\r\nimdn.Message-ID: 1234\r\nNS: imdn <urn:ietf:params:imdn>\r\n\r\nContent-Type: text/plain\r\n\r\nhi"},
	{"cpim/no-content-type.cpim", "cpim=reject", "From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\n\r\nX-Not-Type: 1\r\n\r\nhi"},
	{"cpim/header-too-long.cpim", "cpim=reject", "From: <im:a@example.com>\r\nSubject: " + strings.Repeat("s", 20000) + "\r\n\r\nContent-Type: text/plain\r\n\r\nhi"},
	{"cpim/too-many-headers.cpim", "cpim=reject", strings.Repeat("Subject: s\r\n", 300) + "\r\nContent-Type: text/plain\r\n\r\nhi"},
	{"cpim/nul-in-header.cpim", "cpim=reject", "From: <im:a@\x00example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nhi"},
	{"cpim/folded-header.cpim", "cpim=reject", "From: <im:a@example.com>\r\nSubject: one\r\n two\r\n\r\nContent-Type: text/plain\r\n\r\nhi"},
	{"cpim/truncated-headers.cpim", "cpim=reject", "From: <im:a@example.com>\r\nTo: <im:b@exa"},
	{"cpim/invalid-utf8.cpim", "cpim=accept", "From: \xff\xfe <im:a@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\n\xc3\x28"},
	{"cpim/bad-ns-uri.cpim", "cpim=reject", "NS: x <not a uri>\r\nx.Y: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhi"},
	{"cpim/empty.cpim", "cpim=reject", ""},
	{"cpim/well-formed.cpim", "cpim=accept", cpimOK},

	// ---- SDP bodies (RFC 4566, RFC 4975 §8), parsed by messagesdp.Parse ----
	{"sdp/10000-attributes.sdp", "sdp=reject", sdpWithAttrs(10000)},
	{"sdp/10000-short-attributes.sdp", "sdp=accept", strings.Replace(sdpWithAttrs(0), "a=accept-types:text/plain\r\n", "a=accept-types:text/plain\r\n"+strings.Repeat("a=x\r\n", 10000), 1)},
	{"sdp/no-origin.sdp", "sdp=reject", "v=0\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\n"},
	{"sdp/nul.sdp", "sdp=reject", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=\x00\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\n"},
	{"sdp/bare-cr.sdp", "sdp=reject", "v=0\ro=- 1 1 IN IP4 127.0.0.1\rs=-\rt=0 0\r"},
	{"sdp/huge-port.sdp", "sdp=reject", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 99999999999999999999 TCP/MSRP *\r\na=path:msrp://127.0.0.1:7394/abcd;tcp\r\n"},
	{"sdp/huge-max-size.sdp", "sdp=media-refused", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 7394 TCP/MSRP *\r\na=path:msrp://127.0.0.1:7394/abcd;tcp\r\na=max-size:99999999999999999999999\r\n"},
	{"sdp/path-without-port.sdp", "sdp=media-refused", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 7394 TCP/MSRP *\r\na=path:msrp://evil.example/abcd;tcp\r\n"},
	{"sdp/too-large.sdp", "sdp=reject", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=" + strings.Repeat("s", 70000) + "\r\nt=0 0\r\n"},

	// ---- Seed CPIM transport frames (draft-campbell-simple-cpimmsg-sessions-00 §5, §6.1) ----
	{"seed/content-length-negative.cpim", "seed=ignored", seedFrame("Content-Type: message/cpim\r\nContent-Length: -1\r\n", "")},
	{"seed/content-length-2p63.cpim", "seed=truncated", seedFrame("Content-Type: message/cpim\r\nContent-Length: 9223372036854775808\r\n", "x")},
	{"seed/content-length-2p64.cpim", "seed=ignored", seedFrame("Content-Type: message/cpim\r\nContent-Length: 18446744073709551616\r\n", "")},
	{"seed/content-length-huge.cpim", "seed=truncated", seedFrame("Content-Type: message/cpim\r\nContent-Length: 999999999999\r\n", "xxxx")},
	{"seed/content-length-garbage.cpim", "seed=ignored", seedFrame("Content-Type: message/cpim\r\nContent-Length: 12abc\r\n", "")},
	{"seed/content-length-missing.cpim", "seed=ignored", seedFrame("Content-Type: message/cpim\r\n", "")},
	{"seed/content-length-twice.cpim", "seed=ignored", seedFrame("Content-Type: message/cpim\r\nContent-Length: 5\r\nContent-Length: 7\r\n", "")},
	{"seed/headers-swapped.cpim", "seed=ignored", seedFrame("Content-Length: 0\r\nContent-Type: message/cpim\r\n", "")},
	{"seed/header-line-too-long.cpim", "seed=ignored", "Content-Type: message/cpim" + strings.Repeat(" ", 3000) + "\r\nContent-Length: 0\r\n\r\n"},
	{"seed/garbage-before.cpim", "seed=delivered", "garbage\x00\xff\r\nmore garbage\r\n" + seedFrame("Content-Type: message/cpim\r\nContent-Length: {LEN}\r\n", seedMsg("{FROM}", "{TO}"))},
	{"seed/too-much-garbage.cpim", "seed=close", strings.Repeat("garbage\r\n", 9<<10)},
	{"seed/garbage-no-line-end-70k.cpim", "seed=close", strings.Repeat("g", 70<<10)},
	{"seed/truncated-body.cpim", "seed=truncated", seedFrame("Content-Type: message/cpim\r\nContent-Length: 500\r\n", "From: <{FROM}>\r\n")},
	{"seed/not-cpim-inside.cpim", "seed=ignored", seedFrame("Content-Type: message/cpim\r\nContent-Length: 11\r\n", "not a cpim!")},
	{"seed/unknown-session.cpim", "seed=ignored", seedFrame("Content-Type: message/cpim\r\nContent-Length: {LEN}\r\n", seedMsg("im:nobody@evil.example", "im:nosuch@evil.example"))},
	{"seed/forged-from.cpim", "seed=ignored", seedFrame("Content-Type: message/cpim\r\nContent-Length: {LEN}\r\n", seedMsg("im:mallory@evil.example", "{TO}"))},
	{"seed/nul-bytes.cpim", "seed=ignored", strings.Repeat("\x00", 2048) + crlf},
	{"seed/lf-only-envelope.cpim", "seed=delivered", strings.ReplaceAll(seedFrame("Content-Type: message/cpim\r\nContent-Length: {LEN}\r\n", ""), crlf, "\n") + seedMsg("{FROM}", "{TO}")},

	// ---- SIP requests (RFC 3261, RFC 3428) against `parley serve` ----
	{"sip/header-100k.sip", "sip=close", sipReq("MESSAGE", "h100k", "X-Big: "+strings.Repeat("b", 100<<10)+crlf, "text/plain", "hi")},
	{"sip/many-headers.sip", "sip=close", sipReq("MESSAGE", "manyhdr", manyHeaders(5000, 2), "text/plain", "hi")},
	{"sip/content-length-negative.sip", "sip=close", sipRaw("MESSAGE", "clneg", "Content-Type: text/plain\r\nContent-Length: -1\r\n\r\nhi")},
	{"sip/content-length-huge.sip", "sip=close", sipRaw("MESSAGE", "clhuge", "Content-Type: text/plain\r\nContent-Length: 99999999999999999999\r\n\r\nhi")},
	{"sip/content-length-garbage.sip", "sip=close", sipRaw("MESSAGE", "clgarb", "Content-Type: text/plain\r\nContent-Length: abc\r\n\r\nhi")},
	{"sip/body-1mb.sip", "sip=close", sipReq("MESSAGE", "body1m", "", "text/plain", strings.Repeat("m", 1<<20))},
	{"sip/no-call-id.sip", "sip=status:400", "MESSAGE sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-nocid\r\nMax-Forwards: 70\r\nFrom: <sip:mallory@evil.example>;tag=nocid\r\nTo: <sip:bob@localhost>\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"},
	{"sip/cseq-method-mismatch.sip", "sip=status:400", strings.Replace(sipReq("MESSAGE", "cseqmm", "", "text/plain", "hi"), "CSeq: 1 MESSAGE", "CSeq: 1 INVITE", 1)},
	{"sip/cseq-huge.sip", "sip=close", strings.Replace(sipReq("MESSAGE", "cseqhuge", "", "text/plain", "hi"), "CSeq: 1 MESSAGE", "CSeq: 99999999999999999999 MESSAGE", 1)},
	{"sip/bad-request-line.sip", "sip=close", "MESSAGE\r\n\r\n"},
	{"sip/nul-in-header.sip", "sip=status:400", sipReq("MESSAGE", "nulhdr", "Subject: a\x00b\r\n", "text/plain", "hi")},
	{"sip/unsupported-type-stored.sip", "sip=status:202", sipReq("MESSAGE", "uns", "", "application/x-hostile", "hi")},
	{"sip/invite-10000-attributes.sip", "sip=close", sipReq("INVITE", "inv10k", "Contact: <sip:mallory@127.0.0.1:5999;transport=tcp>\r\n", "application/sdp", sdpWithAttrs(10000))},
	{"sip/max-forwards-zero.sip", "sip=status:483", strings.Replace(sipReq("MESSAGE", "mf0", "", "text/plain", "hi"), "Max-Forwards: 70", "Max-Forwards: 0", 1)},
	{"sip/binary-garbage.sip", "sip=close", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"},

	// ---- SIP requests to a sipua.UA (RFC 3261, RFC 3264, RFC 3428, RFC 4975 §8) ----
	// INVITEs with bad SDP offers, then pager MESSAGEs.
	{"ua/invite-no-path.sip", "ua=status:488", uaInvite("nopath", sdpOffer("a=path:", ""))},
	{"ua/invite-path-not-msrp.sip", "ua=status:488", uaInvite("pathhttp", sdpOffer("a=path:", "a=path:http://evil.example/x"))},
	{"ua/invite-path-no-session-id.sip", "ua=status:200", uaInvite("pathnosid", sdpOffer("a=path:", "a=path:msrp://127.0.0.1:9;tcp"))},
	{"ua/invite-path-no-port.sip", "ua=status:488", uaInvite("pathnoport", sdpOffer("a=path:", "a=path:msrp://127.0.0.1/hostile01ab;tcp"))},
	{"ua/invite-path-garbage.sip", "ua=status:488", uaInvite("pathgarb", sdpOffer("a=path:", "a=path:\x01\x02 %zz"))},
	{"ua/invite-port-zero.sip", "ua=status:488", uaInvite("port0", sdpOffer("m=", "m=message 0 TCP/MSRP *"))},
	{"ua/invite-wrong-proto.sip", "ua=status:488", uaInvite("rtp", sdpOffer("m=", "m=message 9 RTP/AVP 0"))},
	{"ua/invite-audio-only.sip", "ua=status:488", uaInvite("audio", sdpOffer("m=", "m=audio 9 RTP/AVP 0"))},
	{"ua/invite-no-c-line.sip", "ua=status:488", uaInvite("noc", sdpOffer("c=", ""))},
	{"ua/invite-huge-port.sip", "ua=status:400", uaInvite("hugeport", sdpOffer("m=", "m=message 99999999999999999999 TCP/MSRP *"))},
	{"ua/invite-not-sdp.sip", "ua=status:400", uaInvite("notsdp", "this is not SDP\r\n")},
	{"ua/invite-no-origin.sip", "ua=status:400", uaInvite("noorigin", sdpOffer("o=", ""))},
	{"ua/invite-10000-short-attributes.sip", "ua=status:200", uaInvite("attr10k", sdpOffer("z", strings.Repeat("a=x\r\n", 10000)))},
	{"ua/invite-60k-session-name.sip", "ua=status:200", uaInvite("s60k", sdpOffer("s=", "s="+strings.Repeat("s", 60000)))},
	{"ua/invite-over-sip-limit.sip", "ua=close", uaInvite("sdpbig", sdpOffer("z", strings.Repeat("a=x-hostile:1\r\n", 10000)))},
	{"ua/invite-sdp-as-text.sip", "ua=status:415", uaReq{method: "INVITE", name: "sdptext", ctype: "text/plain", body: sdpOffer()}.String()},
	{"ua/invite-no-offer.sip", "ua=status:488", uaReq{method: "INVITE", name: "nooffer"}.String()},
	{"ua/message-cpim-unknown-ns-prefix.sip", "ua=status:400", uaMessage("cpimns", "message/cpim", "From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\nzz.Secret: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhi")},
	{"ua/message-cpim-no-inner-type.sip", "ua=status:400", uaMessage("cpimnotype", "message/cpim", "From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\n\r\n\r\nhi")},
	{"ua/message-cpim-not-cpim.sip", "ua=status:400", uaMessage("cpimtext", "message/cpim", "just text")},
	{"ua/message-cpim-well-formed.sip", "ua=delivered", uaMessage("cpimok", "message/cpim", cpimOK)},
	{"ua/message-unsupported-type.sip", "ua=status:415", uaMessage("unsup", "application/x-hostile", "x")},
	{"ua/message-bad-content-type.sip", "ua=status:415", uaMessage("badct", "text/", "x")},
	{"ua/message-body-60k.sip", "ua=delivered", uaMessage("body60k", "text/plain", strings.Repeat("m", 60000))},
	{"ua/message-over-sip-limit.sip", "ua=close", uaMessage("body70k", "text/plain", strings.Repeat("m", 70000))},
	{"ua/message-body-1mb.sip", "ua=close", uaMessage("body1m", "text/plain", strings.Repeat("m", 1<<20))},
}

// materialize returns the bytes of a case file with its placeholders
// filled in from vars.
func materialize(data []byte, vars map[string]string) []byte {
	for k, v := range vars {
		data = bytes.ReplaceAll(data, []byte(k), []byte(v))
	}
	return data
}

// manifestEntry is one line of cases.txt.
type manifestEntry struct {
	file   string
	expect map[string]string
}

// loadManifest reads testdata/badinput/cases.txt.
func loadManifest(t testing.TB) []manifestEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []manifestEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		e := manifestEntry{file: fields[0], expect: map[string]string{}}
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("cases.txt: %q: bad field %q", line, kv)
			}
			e.expect[k] = v
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// casesFor returns the manifest entries that have an expectation for target,
// with their file contents.
func casesFor(t testing.TB, target string) []struct {
	name, expect string
	data         []byte
} {
	t.Helper()
	var out []struct {
		name, expect string
		data         []byte
	}
	for _, e := range loadManifest(t) {
		exp, ok := e.expect[target]
		if !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(corpusDir, e.file))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, struct {
			name, expect string
			data         []byte
		}{e.file, exp, data})
	}
	if len(out) == 0 {
		t.Fatalf("no corpus cases for %s", target)
	}
	return out
}

const manifestHeader = `# Parley bad-input corpus: one file per case, and the reaction expected.
# Generated by: go test ./hostile/ -run TestCorpusFiles -update
#
# <file> <target>=<reaction> ...
#
# Targets and reactions:
#   endpoint  a live msrp.Endpoint session (To-Path names the session)
#   relay     a live msrp/relay.Server, from an unauthenticated peer toward
#             an authenticated client's Use-Path URL
#       status:NNN  the exact MSRP response code to the case's transaction
#                   (hx1234ab); the connection then still answers a probe SEND
#       ignored     no response; the connection still answers a probe SEND
#       close       the peer closes the connection (within 5 s)
#       truncated   after the case and a half-close the peer closes (no hang)
#   seed      a live cpimtransport.Endpoint session (no responses exist)
#       delivered   the message reaches the session
#       ignored     nothing is delivered; a following valid message is
#       close       the peer closes the connection
#       truncated   after the case and a half-close the peer closes
#   cpim      cpim.Parse: accept or reject (an error, never a panic)
#   sdp       messagesdp.Parse: accept, reject, or media-refused (the body
#             parses but its m=message line is refused, Stream.Err set)
#   sip       raw SIP over TCP to 'parley serve' (internal/server), whose
#             user bob@localhost exists with no device (MESSAGEs stored: 202)
#       status:NNN  the final response; close: the server closes (framing of
#                   the stream is lost, or the message is over sipgo's limit)
#             The same cases are replayed over SIP TLS (TestReplaySIPServerTLS,
#             Via transport TLS) with the same expected reactions.
#   ua        raw SIP over TCP to a sipua.UA (auto-answering, MSRP endpoint,
#             OnMessage set); {TARGET} is its host:port
#       status:NNN  the final response (no call and no message results)
#       delivered   200 and the MESSAGE reached OnMessage
#       close       the UA closes the connection (over sipgo's 65535 limit)
#
#   finding   the reaction listed is today's and differs from the one the RFC
#             wants; see hostile/FINDINGS.md for the bug and its fix
#
# Placeholders filled in by the replay: {TO} {TO_CASE} {TO_UNKNOWN} {FROM}
# (MSRP URIs or seed a=uri tokens), {LEN} (the seed message length),
# {TARGET} (the UA's host:port).
`

// renderManifest returns cases.txt for the corpus table. The manifest is
// authoritative for the expectations of the cases it already lists (the
// helpers fixing a finding correct its line there), so those lines are
// kept as they are; only cases missing from it take the
// table's expectation.
func renderManifest(lines map[string]string) string {
	var b strings.Builder
	b.WriteString(manifestHeader)
	for _, c := range corpus {
		if l, ok := lines[c.file]; ok {
			b.WriteString(l + "\n")
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", c.file, c.expect)
	}
	return b.String()
}

// manifestLines returns the entry lines of cases.txt by file.
func manifestLines(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return out
		}
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out[strings.Fields(l)[0]] = l
	}
	return out
}

// TestCorpusFiles checks that testdata/badinput holds exactly the corpus
// table (one file per case, same bytes) and that cases.txt lists the same
// files in the same order, each with valid target=reaction pairs; -update
// rewrites the files and adds the lines of new cases to cases.txt.
// Expectations are not compared with the table: cases.txt is the
// reference for them.
func TestCorpusFiles(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range corpus {
		if seen[c.file] {
			t.Fatalf("duplicate case %s", c.file)
		}
		seen[c.file] = true
		checkExpect(t, c.file, c.expect)
		path := filepath.Join(corpusDir, c.file)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(c.data), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if string(got) != c.data {
			t.Errorf("%s differs from the corpus table (run with -update)", c.file)
		}
	}
	mpath := filepath.Join(corpusDir, "cases.txt")
	if *update {
		lines := manifestLines(t, mpath)
		if err := os.WriteFile(mpath, []byte(renderManifest(lines)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	entries := loadManifest(t)
	if len(entries) != len(corpus) {
		t.Errorf("cases.txt lists %d cases, the corpus table %d (run with -update)", len(entries), len(corpus))
	}
	for i, e := range entries {
		if i < len(corpus) && e.file != corpus[i].file {
			t.Errorf("cases.txt entry %d is %s, the corpus table's %s (run with -update)", i, e.file, corpus[i].file)
			break
		}
		var kv []string
		for k, v := range e.expect {
			kv = append(kv, k+"="+v)
		}
		checkExpect(t, "cases.txt "+e.file, strings.Join(kv, " "))
	}
	// No stray files.
	filepath.WalkDir(corpusDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "cases.txt" {
			return err
		}
		rel, _ := filepath.Rel(corpusDir, p)
		if !seen[filepath.ToSlash(rel)] {
			t.Errorf("stray corpus file %s", rel)
		}
		return nil
	})
}

// checkExpect checks one case's space-separated target=reaction pairs.
func checkExpect(t *testing.T, what, expect string) {
	t.Helper()
	for _, kv := range strings.Fields(expect) {
		k, v, _ := strings.Cut(kv, "=")
		if !slices.Contains([]string{"endpoint", "relay", "seed", "cpim", "sdp", "sip", "ua", "finding"}, k) || v == "" {
			t.Errorf("%s: bad expectation %q", what, kv)
		}
	}
}
