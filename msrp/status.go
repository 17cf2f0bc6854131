package msrp

// Response codes registered for MSRP (RFC 4975 §10, §15.3; RFC 4976 §5.4;
// RFC 7701 §12).
const (
	StatusOK                    = 200 // RFC 4975 §10.1
	StatusBadRequest            = 400 // RFC 4975 §10.2: unintelligible
	StatusUnauthorized          = 401 // RFC 4976: relay AUTH challenge
	StatusForbidden             = 403 // RFC 4975 §10.3
	StatusNicknameNotAllowed    = 404 // RFC 7701: nickname not available
	StatusRequestTimeout        = 408 // RFC 4975 §10.4: treat as local timeout
	StatusRequestEntityTooLarge = 413 // RFC 4975 §10.5: stop sending this message
	StatusUnsupportedMediaType  = 415 // RFC 4975 §10.6
	StatusIntervalOutOfBounds   = 423 // RFC 4975 §10.7 (relay Expires)
	StatusNicknameReserved      = 424 // RFC 7701
	StatusNicknameAlreadyInUse  = 425 // RFC 7701
	StatusPrivateMessagesNotOK  = 428 // RFC 7701: private messages not supported
	StatusSessionDoesNotExist   = 481 // RFC 4975 §10.8
	StatusUnknownMethod         = 501 // RFC 4975 §10.9
	StatusSessionAlreadyInUse   = 506 // RFC 4975 §10.10: bound to another connection
)

var statusText = map[int]string{
	StatusOK:                    "OK",
	StatusBadRequest:            "Bad Request",
	StatusUnauthorized:          "Unauthorized",
	StatusForbidden:             "Forbidden",
	StatusNicknameNotAllowed:    "Nickname Not Allowed",
	StatusRequestTimeout:        "Request Timeout",
	StatusRequestEntityTooLarge: "Request Entity Too Large",
	StatusUnsupportedMediaType:  "Unsupported Media Type",
	StatusIntervalOutOfBounds:   "Interval Out Of Bounds",
	StatusNicknameReserved:      "Nickname Reserved",
	StatusNicknameAlreadyInUse:  "Nickname Already In Use",
	StatusPrivateMessagesNotOK:  "Private Messages Not Supported",
	StatusSessionDoesNotExist:   "Session Does Not Exist",
	StatusUnknownMethod:         "Unknown Method",
	StatusSessionAlreadyInUse:   "Session Already In Use",
}

// StatusText returns a reason phrase for a registered MSRP response code,
// or "" for an unknown one.
func StatusText(code int) string { return statusText[code] }

// ParseStatus parses the value of a Status header (RFC 4975 §9):
//
//	namespace SP status-code [SP text-reason]
//
// namespace and status-code are exactly three digits. Runs of spaces
// between the fields are tolerated.
func ParseStatus(s string) (Status, error) {
	ns, rest, ok := threeDigits(s)
	if !ok || rest == "" || rest[0] != ' ' {
		return Status{}, ErrBadStatus
	}
	rest = trimLeftSP(rest)
	code, rest, ok := threeDigits(rest)
	if !ok {
		return Status{}, ErrBadStatus
	}
	var comment string
	if rest != "" {
		if rest[0] != ' ' {
			return Status{}, ErrBadStatus
		}
		comment = trimLeftSP(rest)
		if !validText(comment) {
			return Status{}, ErrBadStatus
		}
	}
	return Status{Namespace: ns, Code: code, Comment: comment}, nil
}

// String formats s as a Status header value, e.g. "000 200 OK".
func (s Status) String() string { return string(s.AppendTo(nil)) }

// AppendTo appends the Status header value to b.
func (s Status) AppendTo(b []byte) []byte {
	b = append3(b, s.Namespace)
	b = append(b, ' ')
	b = append3(b, s.Code)
	if s.Comment != "" {
		b = append(b, ' ')
		b = append(b, s.Comment...)
	}
	return b
}

// append3 appends n as exactly three digits (n is taken modulo 1000 if
// out of range, so the output is always grammatical).
func append3(b []byte, n int) []byte {
	if n < 0 {
		n = -n
	}
	n %= 1000
	return append(b, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10))
}

func threeDigits(s string) (int, string, bool) {
	if len(s) < 3 || !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[2]) {
		return 0, s, false
	}
	if len(s) > 3 && isDigit(s[3]) {
		return 0, s, false
	}
	return int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0'), s[3:], true
}

func trimLeftSP(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	return s
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validText reports whether s is utf8text (RFC 4975 §9) as far as control
// characters go: HTAB, SP and everything from 0x21 up except DEL. Octets
// ≥ 0x80 are accepted without UTF-8 validation (be liberal).
func validText(s string) bool {
	// Eight octets at a time: any octet < 0x20 or == 0x7f sends the rest
	// to the exact loop (which also admits HTAB).
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		y := x ^ 0x7f*lo
		if ((x-0x20*lo)&^x|(y-lo)&^y)&hi != 0 {
			break
		}
	}
	return allIn(s[i:], cText)
}
