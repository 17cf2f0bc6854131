package msrp

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/session"
)

// CPIM inside MSRP (RFC 4975 §13, RFC 3862): the CPIM object is built
// before chunking, so Byte-Range counts the whole object and its headers
// appear in the first chunk only.

const cpimType = "message/cpim"

// wrapCPIM returns what goes on the wire for an Outgoing with CPIM set.
func wrapCPIM(m *session.Outgoing) (ctype string, body []byte, rd io.Reader, size int64, err error) {
	msg := m.CPIM
	switch {
	case m.BodyReader != nil:
		if m.ContentType == "" {
			return "", nil, nil, 0, fmt.Errorf("msrp: Send: CPIM wrapping needs the inner ContentType")
		}
		c := msg.Clone()
		if err := c.SetContent(m.ContentType, nil); err != nil {
			return "", nil, nil, 0, fmt.Errorf("msrp: Send: CPIM: %w", err)
		}
		head := c.Append(nil)
		size = Unknown
		if m.Size >= 0 {
			size = int64(len(head)) + m.Size
		}
		return cpimType, nil, io.MultiReader(bytes.NewReader(head), m.BodyReader), size, nil
	case len(m.Body) > 0:
		if m.ContentType == "" {
			return "", nil, nil, 0, fmt.Errorf("msrp: Send: CPIM wrapping needs the inner ContentType")
		}
		c := msg.Clone()
		if err := c.SetContent(m.ContentType, m.Body); err != nil {
			return "", nil, nil, 0, fmt.Errorf("msrp: Send: CPIM: %w", err)
		}
		b := c.Append(make([]byte, 0, c.Len()))
		return cpimType, b, nil, int64(len(b)), nil
	default:
		b := msg.Append(make([]byte, 0, msg.Len()))
		return cpimType, b, nil, int64(len(b)), nil
	}
}

// parseCPIM parses a message/cpim body: nil, nil for other types. A
// message/cpim body that does not parse is malformed (package cpim: a
// receiver answers its parse errors with 400; FINDINGS F2) and must not
// be delivered.
func parseCPIM(ctype string, body []byte) (*cpim.Message, error) {
	if !strings.EqualFold(baseType(ctype), cpimType) {
		return nil, nil
	}
	return cpim.Parse(body)
}

// baseType returns a media type without parameters, lowercased.
func baseType(t string) string {
	t, _, _ = strings.Cut(t, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// innerType is the type of the content wrapped in CPIM by an Outgoing.
func innerType(m *session.Outgoing) string {
	if len(m.Body) > 0 || m.BodyReader != nil {
		return m.ContentType
	}
	return m.CPIM.ContentType()
}
