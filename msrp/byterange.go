package msrp

import "strconv"

// maxRangeDigits bounds the digits of a Byte-Range number: 18 decimal
// digits always fit an int64 (RFC 4975 §14.5: sanity-check before use).
const maxRangeDigits = 18

// ParseByteRange parses the value of a Byte-Range header (RFC 4975 §9,
// §7.1.1):
//
//	range-start "-" range-end "/" total     e.g. 1-25/25, 1-*/8, 1-0/0
//
// range-end and total may be "*" (Unknown). The bounds are checked
// (§14.5): start ≥ 1; end ≥ start-1 (an empty range ends at start-1, as in
// 1-0/0); end ≤ total and start-1 ≤ total when known; no number may exceed
// 18 digits, so arithmetic on the result cannot overflow an int64.
func ParseByteRange(s string) (ByteRange, error) {
	start, rest, ok := rangeNum(s, false)
	if !ok || rest == "" || rest[0] != '-' {
		return ByteRange{}, ErrBadByteRange
	}
	end, rest, ok := rangeNum(rest[1:], true)
	if !ok || rest == "" || rest[0] != '/' {
		return ByteRange{}, ErrBadByteRange
	}
	total, rest, ok := rangeNum(rest[1:], true)
	if !ok || rest != "" {
		return ByteRange{}, ErrBadByteRange
	}
	r := ByteRange{Start: start, End: end, Total: total}
	if !r.valid() {
		return ByteRange{}, ErrBadByteRange
	}
	return r, nil
}

// valid reports whether r satisfies the bounds ParseByteRange checks.
func (r ByteRange) valid() bool {
	if r.Start < 1 || r.Start > maxRangeValue {
		return false
	}
	if r.End != Unknown && (r.End < r.Start-1 || r.End > maxRangeValue) {
		return false
	}
	if r.Total != Unknown {
		if r.Total < 0 || r.Total > maxRangeValue || r.Start-1 > r.Total {
			return false
		}
		if r.End != Unknown && r.End > r.Total {
			return false
		}
	}
	return true
}

const maxRangeValue = 999_999_999_999_999_999

func rangeNum(s string, star bool) (int64, string, bool) {
	if star && len(s) > 0 && s[0] == '*' {
		return Unknown, s[1:], true
	}
	i := 0
	var n int64
	for i < len(s) && isDigit(s[i]) {
		if i == maxRangeDigits {
			return 0, s, false
		}
		n = n*10 + int64(s[i]-'0')
		i++
	}
	if i == 0 {
		return 0, s, false
	}
	return n, s[i:], true
}

// String formats r as a Byte-Range header value, e.g. "1-*/8".
func (r ByteRange) String() string { return string(r.AppendTo(nil)) }

// AppendTo appends the Byte-Range header value to b. Negative End or Total
// (Unknown) is written as "*".
func (r ByteRange) AppendTo(b []byte) []byte {
	b = strconv.AppendInt(b, r.Start, 10)
	b = append(b, '-')
	b = appendRangeNum(b, r.End)
	b = append(b, '/')
	return appendRangeNum(b, r.Total)
}

func appendRangeNum(b []byte, n int64) []byte {
	if n < 0 {
		return append(b, '*')
	}
	return strconv.AppendInt(b, n, 10)
}
