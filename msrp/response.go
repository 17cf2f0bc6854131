package msrp

// Respond builds the transaction response to req (RFC 4975 §7.2):
//
//   - the same TID;
//   - To-Path: for SEND only the last (right-most) From-Path URI, the
//     previous hop; for other methods the request's From-Path reversed;
//   - From-Path: the request's first To-Path URI, the receiving hop's own;
//   - the request's Message-ID and, for SEND, its Byte-Range (as in the
//     RFC 4975 §4 example);
//   - no body, flag "$".
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
		if n := len(req.FromPath); n > 0 {
			resp.ToPath = []URI{req.FromPath[n-1]}
		}
		resp.ByteRange, resp.HasByteRange = req.ByteRange, req.HasByteRange
	} else {
		resp.ToPath = make([]URI, len(req.FromPath))
		for i, u := range req.FromPath {
			resp.ToPath[len(req.FromPath)-1-i] = u
		}
	}
	if len(req.ToPath) > 0 {
		resp.FromPath = []URI{req.ToPath[0]}
	}
	return resp
}
