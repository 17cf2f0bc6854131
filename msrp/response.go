package msrp

// Respond builds the transaction response to req (RFC 4975 §7.2, with
// the path order of RFC 4976):
//
//   - the same TID;
//   - To-Path: for SEND only the previous hop (§7.2: "Responses to SEND
//     requests are returned only to the previous hop"), which is the first
//     (left-most) From-Path URI; for other methods the whole From-Path, in
//     the order received, which leads back through the relays to the
//     sender;
//   - From-Path: the request's first To-Path URI, the receiving hop's own;
//   - the request's Message-ID and, for SEND, its Byte-Range (as in the
//     RFC 4975 §4 example);
//   - no body, flag "$".
//
// RFC 4975 §7.2 words the SEND case as "the last (right-most) URI" and
// the other case as the From-Path "reversed"; both agree with the above
// for the single-URI paths of a direct session, but relays prepend their
// URI to From-Path (RFC 4976 §6.4.1, §6.4.2), so the previous hop is the
// left-most URI and the received order is already the way back. The
// examples of RFC 4976 §3 show exactly this (the 200 to a relayed SEND
// goes to the first From-Path URI; a REPORT's To-Path is the received
// From-Path); a relay drops a response whose first To-Path URI is not its
// own (§6.4.3).
//
// An empty comment is replaced by StatusText(code). Respond does not
// decide whether a response may be sent at all: none is sent to REPORT
// requests (§7.1.2) nor when Failure-Report is "no", and "partial" forbids
// a 200 (§7.1.4).
func Respond(req *Frame, code int, comment string) *Frame {
	if comment == "" {
		comment = StatusText(code)
	}
	resp := &Frame{
		TID:        req.TID,
		StatusCode: code,
		Comment:    comment,
		MessageID:  req.MessageID,
		Flag:       FlagEnd,
	}
	if req.Method == MethodSEND {
		if len(req.FromPath) > 0 {
			resp.ToPath = []URI{req.FromPath[0]}
		}
		resp.ByteRange, resp.HasByteRange = req.ByteRange, req.HasByteRange
	} else if len(req.FromPath) > 0 {
		resp.ToPath = append([]URI(nil), req.FromPath...)
	}
	if len(req.ToPath) > 0 {
		resp.FromPath = []URI{req.ToPath[0]}
	}
	return resp
}
