package msrp

// Transaction response and report rules (RFC 4975 §7.1.2–§7.1.4, §7.2).

// mayRespond reports whether a response with code may be sent for req:
//
//   - REPORT requests are never answered (§7.1.2);
//   - Failure-Report "no": no response at all, not even an error (§7.1.2);
//   - Failure-Report "partial": only negative responses, never a 200;
//   - "yes" or absent (the default): always.
func mayRespond(req *Frame, code int) bool {
	if req.Method == MethodREPORT {
		return false
	}
	switch req.FailureReportMode() {
	case "no":
		return false
	case "partial":
		return code != 200
	}
	return true
}
