package messagesdp

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// MaxDescriptionSize is the largest SDP body Parse accepts, in octets.
const MaxDescriptionSize = 64 << 10

// Keys of the typed attributes. keyMode stands for the four direction
// flags of RFC 4566 §6 (sendrecv, sendonly, recvonly, inactive).
const (
	keyPath          = "path"                 // RFC 4975 §8.2
	keyAcceptTypes   = "accept-types"         // RFC 4975 §8.6
	keyAcceptWrapped = "accept-wrapped-types" // RFC 4975 §8.6
	keyMaxSize       = "max-size"             // RFC 4975 §8.6
	keySetup         = "setup"                // RFC 4145 §4, RFC 6135 §4
	keyFingerprint   = "fingerprint"          // RFC 4572 §5
	keyURI           = "uri"                  // seed draft §4.2
	keyDirection     = "direction"            // seed draft §4.3 (early COMEDIA)
	keyMode          = "\x00mode"             // RFC 4566 §6, RFC 4975 §8.9
)

// typedOrder is the order in which typed attributes are written when they
// have no original position (media built in code, or added after parsing).
var typedOrder = []string{
	keyAcceptTypes, keyAcceptWrapped, keyMaxSize, keyPath, keySetup,
	keyFingerprint, keyDirection, keyURI, keyMode,
}

// parsedMedia remembers what ParseMedia saw, so that unchanged fields are
// written back as they were received.
type parsedMedia struct {
	md   *sdp.MediaDescription // deep copy of the original
	snap Media                 // typed fields as parsed (own copies of slices)
	// slots has one entry per md.Attributes: the typed key it set, or ""
	// when it went to Media.Attributes.
	slots []string
	// inherited marks typed keys whose value came from a session-level
	// attribute (RFC 4145 §4 setup, RFC 4572 §5 fingerprint, RFC 4566 §6
	// direction flags); addrInherited marks an Address taken from the
	// session-level c= line.
	inherited     map[string]bool
	addrInherited bool
}

// typedKey returns the typed key an attribute sets, or "" for any other
// attribute. Names compare case-insensitively.
func typedKey(key, value string) string {
	switch k := strings.ToLower(key); k {
	case keyPath, keyAcceptTypes, keyAcceptWrapped, keyMaxSize, keySetup,
		keyFingerprint, keyURI, keyDirection:
		return k
	case "sendrecv", "sendonly", "recvonly", "inactive":
		if value == "" {
			return keyMode
		}
	}
	return ""
}

func attrName(k string) string {
	if k == keyMode {
		return "sendrecv/sendonly/recvonly/inactive"
	}
	return k
}

// ParseMedia parses one m=message media description. sess, if not nil, is
// the session it belongs to: its c= line supplies Address when the media
// has none, and its a=setup, a=fingerprint and direction flags apply when
// the media level has none. (So, inside a Description, clearing such a
// field writes nothing at media level and the session-level value applies
// again; change Description.Attributes to remove it.) ParseMedia
// validates the result (see Media.Validate); errors wrap ErrInvalid.
func ParseMedia(md *sdp.MediaDescription, sess *sdp.SessionDescription) (*Media, error) {
	if md == nil {
		return nil, fmt.Errorf("%w: nil media description", ErrInvalid)
	}
	if md.MediaName.Media != "message" {
		return nil, fmt.Errorf("%w: m=%s is not m=message", ErrInvalid, md.MediaName.Media)
	}
	m := &Media{
		Proto:   strings.Join(md.MediaName.Protos, "/"),
		Port:    md.MediaName.Port.Value,
		Formats: slices.Clone(md.MediaName.Formats),
	}
	p := &parsedMedia{slots: make([]string, len(md.Attributes))}
	if addr, ok := connAddress(md.ConnectionInformation); ok {
		m.Address = addr
	} else if sess != nil {
		if addr, ok := connAddress(sess.ConnectionInformation); ok {
			m.Address = addr
			p.addrInherited = true
		}
	}
	seen := make(map[string]bool)
	for i, a := range md.Attributes {
		k := typedKey(a.Key, a.Value)
		if k == keyFingerprint && seen[k] {
			k = "" // further fingerprints stay in Attributes (RFC 8122 §5)
		}
		if k == "" {
			m.Attributes = append(m.Attributes, Attribute{Key: a.Key, Value: a.Value})
			continue
		}
		if seen[k] {
			return nil, fmt.Errorf("%w: more than one a=%s", ErrInvalid, attrName(k))
		}
		seen[k] = true
		p.slots[i] = k
		if err := m.setTyped(k, a.Key, a.Value); err != nil {
			return nil, err
		}
	}
	if sess != nil {
		for _, a := range sess.Attributes {
			k := typedKey(a.Key, a.Value)
			switch k {
			case keySetup, keyFingerprint, keyMode:
			default:
				continue
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			if err := m.setTyped(k, a.Key, a.Value); err != nil {
				return nil, fmt.Errorf("session level: %w", err)
			}
			if p.inherited == nil {
				p.inherited = make(map[string]bool)
			}
			p.inherited[k] = true
		}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	p.md = cloneMediaDescription(md)
	p.snap = m.typedCopy()
	m.parsed = p
	return m, nil
}

// setTyped parses the value of a typed attribute into m.
func (m *Media) setTyped(k, key, value string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: a=%s:%s: %s", ErrInvalid, key, value, why)
	}
	switch k {
	case keyPath: // RFC 4975 §8.2: path-list = MSRP-URI *(SP MSRP-URI)
		m.Path = splitList(value)
		if len(m.Path) == 0 {
			return bad("no URI")
		}
	case keyAcceptTypes: // RFC 4975 §8.6: format-list
		m.AcceptTypes = splitList(value)
		if len(m.AcceptTypes) == 0 {
			return bad("no type")
		}
	case keyAcceptWrapped:
		m.AcceptWrappedTypes = splitList(value)
		if len(m.AcceptWrappedTypes) == 0 {
			return bad("no type")
		}
	case keyMaxSize: // RFC 4975 §8.6: max-size-value = 1*(DIGIT)
		v := strings.TrimSpace(value)
		if v == "" || strings.Trim(v, "0123456789") != "" {
			return bad("not a number of octets")
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return bad("out of range")
		}
		m.MaxSize = n
	case keySetup: // RFC 4145 §4
		v := strings.ToLower(strings.TrimSpace(value))
		switch v {
		case SetupActive, SetupPassive, SetupActpass, SetupHoldconn:
		default:
			return bad("want active, passive, actpass or holdconn")
		}
		m.Setup = v
	case keyDirection: // seed draft §4.3
		v := strings.ToLower(strings.TrimSpace(value))
		switch v {
		case DirectionBoth, DirectionActive, DirectionPassive:
		default:
			return bad("want both, active or passive")
		}
		m.Direction = v
	case keyFingerprint: // RFC 4572 §5: hash-func SP fingerprint
		v := strings.TrimSpace(value)
		if len(splitList(v)) != 2 {
			return bad("want a hash function and a fingerprint")
		}
		m.Fingerprint = v
	case keyURI: // seed draft §4.2
		v := strings.TrimSpace(value)
		if v == "" || len(splitList(v)) != 1 {
			return bad("want one URI")
		}
		m.URI = v
	case keyMode:
		m.Mode = strings.ToLower(key)
	}
	return nil
}

// splitList splits an SDP list on spaces and tabs (the separators pion's
// lexer knows), dropping empty entries.
func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(f) == 0 {
		return nil
	}
	return f
}

func connAddress(c *sdp.ConnectionInformation) (string, bool) {
	if c == nil || c.Address == nil || c.Address.Address == "" {
		return "", false
	}
	return c.Address.Address, true
}

// typedCopy returns the typed fields of m with private slices; Attributes
// and the parse state are left out.
func (m *Media) typedCopy() Media {
	return Media{
		Proto:              m.Proto,
		Port:               m.Port,
		Address:            m.Address,
		Formats:            slices.Clone(m.Formats),
		Path:               slices.Clone(m.Path),
		AcceptTypes:        slices.Clone(m.AcceptTypes),
		AcceptWrappedTypes: slices.Clone(m.AcceptWrappedTypes),
		MaxSize:            m.MaxSize,
		Setup:              m.Setup,
		Direction:          m.Direction,
		URI:                m.URI,
		Fingerprint:        m.Fingerprint,
		Mode:               m.Mode,
	}
}

// Clone returns a deep copy of m. The copy keeps the parse state, so it
// re-serialises like m.
func (m *Media) Clone() *Media {
	if m == nil {
		return nil
	}
	c := m.typedCopy()
	c.Attributes = slices.Clone(m.Attributes)
	c.parsed = m.parsed // immutable once set
	return &c
}

// Equal reports whether m and o have the same fields (the parse state, which
// only affects formatting, is ignored).
func (m *Media) Equal(o *Media) bool {
	if m == nil || o == nil {
		return m == o
	}
	for _, k := range typedOrder {
		if !m.sameTyped(k, o) {
			return false
		}
	}
	return m.Proto == o.Proto && m.Port == o.Port && m.Address == o.Address &&
		slices.Equal(m.Formats, o.Formats) && slices.Equal(m.Attributes, o.Attributes)
}

// sameTyped reports whether m and o agree on the typed attribute k.
func (m *Media) sameTyped(k string, o *Media) bool {
	switch k {
	case keyPath:
		return slices.Equal(m.Path, o.Path)
	case keyAcceptTypes:
		return slices.Equal(m.AcceptTypes, o.AcceptTypes)
	case keyAcceptWrapped:
		return slices.Equal(m.AcceptWrappedTypes, o.AcceptWrappedTypes)
	case keyMaxSize:
		return m.MaxSize == o.MaxSize
	case keySetup:
		return m.Setup == o.Setup
	case keyFingerprint:
		return m.Fingerprint == o.Fingerprint
	case keyURI:
		return m.URI == o.URI
	case keyDirection:
		return m.Direction == o.Direction
	case keyMode:
		return m.Mode == o.Mode
	}
	return false
}

// Stream is one m-line of a Description, in SDP order.
type Stream struct {
	// Media is the parsed m=message media description, or nil.
	Media *Media
	// Other is any other m-line (audio, video, …) kept as parsed, or an
	// m=message line that ParseMedia refused (Err says why). It is nil when
	// Media is set.
	Other *sdp.MediaDescription
	// Err is why an m=message line is in Other rather than Media.
	Err error
}

// Indexed is an m=message media with its position among the m-lines.
type Indexed struct {
	Index int
	Media *Media
}

// Description is a whole SDP session description as Parley uses it: the
// session-level lines plus every m-line, m=message ones parsed into Media.
// A Description is not safe for concurrent use.
type Description struct {
	// Origin is the o= line. Marshal increments SessionVersion when the
	// description changed since the previous Parse or Marshal, and keeps it
	// otherwise (RFC 3264 §8, RFC 4975 §8.4).
	Origin sdp.Origin
	// SessionName is the s= value; "" is written as "-".
	SessionName string
	// Address is the session-level c= address. When empty, Marshal uses the
	// Address of the first accepted media.
	Address string
	// Attributes are the session-level a= lines, in order.
	Attributes []Attribute
	// Streams holds every m-line in order. The answer to an offer keeps
	// their number and order (RFC 3264 §6).
	Streams []Stream

	base     *sdp.SessionDescription // parsed session: keeps i=, u=, b=, t=, …
	baseAddr string                  // Address as parsed
	last     []byte                  // last body written or parsed, without o=
}

// Messages returns the m=message media of d with their m-line index.
func (d *Description) Messages() []Indexed {
	var out []Indexed
	for i, s := range d.Streams {
		if s.Media != nil {
			out = append(out, Indexed{Index: i, Media: s.Media})
		}
	}
	return out
}

// Session returns a copy of the session description as pion/sdp parsed it,
// or nil for a Description made by Build.
func (d *Description) Session() *sdp.SessionDescription {
	if d.base == nil {
		return nil
	}
	c := *d.base
	c.MediaDescriptions = nil
	return &c
}

// pion/sdp v3.0.20 rejects m-lines whose media or proto it does not know
// (the seed's "cpim/tcp" among them). Parse swaps such fields for known
// placeholders, lets pion parse, and restores the originals.
var (
	pionMedia  = []string{"audio", "video", "text", "application", "message"}
	pionProtos = []string{"UDP", "RTP", "AVP", "SAVP", "SAVPF", "TLS", "DTLS", "SCTP",
		"AVPF", "TCP", "MSRP", "BFCP", "UDT", "IX", "MRCPv2", "FEC"}
)

type mlineFix struct {
	media, proto string
	fixed        bool
}

// prepare checks the raw text and rewrites the m-lines pion cannot read.
func prepare(b []byte) ([]byte, []mlineFix, error) {
	if len(b) > MaxDescriptionSize {
		return nil, nil, fmt.Errorf("%w: %d octets exceeds the limit of %d", ErrSyntax, len(b), MaxDescriptionSize)
	}
	for i, c := range b {
		switch {
		case c == 0:
			return nil, nil, fmt.Errorf("%w: NUL at offset %d", ErrSyntax, i)
		case c == '\r' && (i+1 == len(b) || b[i+1] != '\n'):
			return nil, nil, fmt.Errorf("%w: CR without LF at offset %d", ErrSyntax, i)
		}
	}
	var out bytes.Buffer
	out.Grow(len(b) + 2)
	var fixes []mlineFix
	for rest := b; len(rest) > 0; {
		line, tail, found := bytes.Cut(rest, []byte{'\n'})
		rest = tail
		eol := "\n"
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line, eol = line[:n-1], "\r\n"
		}
		if !found {
			eol = "\r\n" // pion needs a final line end
		}
		if !bytes.HasPrefix(line, []byte("m=")) {
			out.Write(line)
			out.WriteString(eol)
			continue
		}
		f := fieldSpans(line[2:])
		if len(f) < 3 {
			out.Write(line)
			out.WriteString(eol)
			fixes = append(fixes, mlineFix{})
			continue
		}
		v := line[2:]
		media, proto := string(v[f[0][0]:f[0][1]]), string(v[f[2][0]:f[2][1]])
		fix := mlineFix{media: media, proto: proto}
		if !slices.Contains(pionMedia, media) {
			fix.fixed = true
			media = "message"
		}
		for part := range strings.SplitSeq(proto, "/") {
			if !slices.Contains(pionProtos, part) {
				fix.fixed = true
				proto = "TCP"
				break
			}
		}
		fixes = append(fixes, fix)
		out.WriteString("m=")
		if fix.fixed {
			out.WriteString(media)
			out.Write(v[f[0][1]:f[2][0]])
			out.WriteString(proto)
			out.Write(v[f[2][1]:])
		} else {
			out.Write(v)
		}
		out.WriteString(eol)
	}
	return out.Bytes(), fixes, nil
}

// fieldSpans returns the [start, end) offsets of the first three fields of
// an SDP line, split on spaces and tabs as pion does.
func fieldSpans(v []byte) [][2]int {
	var spans [][2]int
	for i := 0; i < len(v) && len(spans) < 3; {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		j := i
		for j < len(v) && v[j] != ' ' && v[j] != '\t' {
			j++
		}
		if j > i {
			spans = append(spans, [2]int{i, j})
		}
		i = j
	}
	return spans
}

// Parse parses a whole SDP body. Every m=message line is parsed with
// ParseMedia; one that fails validation does not fail Parse but is kept in
// Stream.Other with Stream.Err set, so that the answerer can reject just
// that line (RFC 3264 §6). Other m-lines are kept untouched. Errors wrap
// ErrSyntax.
//
// Parse tolerates LF line ends and a missing final line end; a body in the
// canonical form (CRLF, single spaces) re-serialises byte for byte with
// Marshal as long as nothing is changed.
func Parse(b []byte) (*Description, error) {
	text, fixes, err := prepare(b)
	if err != nil {
		return nil, err
	}
	s := new(sdp.SessionDescription)
	if err := s.Unmarshal(text); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	// pion accepts an empty body or a lone v= line (go-ecosystem.md §1.2).
	if s.Origin.NetworkType == "" {
		return nil, fmt.Errorf("%w: no o= line", ErrSyntax)
	}
	if len(s.TimeDescriptions) == 0 {
		return nil, fmt.Errorf("%w: no t= line", ErrSyntax)
	}
	if len(s.MediaDescriptions) != len(fixes) {
		return nil, fmt.Errorf("%w: %d m-lines parsed, %d seen", ErrSyntax, len(s.MediaDescriptions), len(fixes))
	}
	for i, md := range s.MediaDescriptions {
		if f := fixes[i]; f.fixed {
			md.MediaName.Media = f.media
			md.MediaName.Protos = strings.Split(f.proto, "/")
		}
	}
	// RFC 4566 §5.2, §5.3: neither may be empty; "-" stands for none.
	if s.Origin.Username == "" {
		s.Origin.Username = "-"
	}
	if s.SessionName == "" {
		s.SessionName = "-"
	}
	d := &Description{
		Origin:      s.Origin,
		SessionName: string(s.SessionName),
		base:        s,
	}
	if addr, ok := connAddress(s.ConnectionInformation); ok {
		d.Address = addr
		d.baseAddr = addr
	}
	for _, a := range s.Attributes {
		d.Attributes = append(d.Attributes, Attribute{Key: a.Key, Value: a.Value})
	}
	for i, md := range s.MediaDescriptions {
		if md.MediaName.Media != "message" {
			d.Streams = append(d.Streams, Stream{Other: md})
			continue
		}
		m, err := ParseMedia(md, s)
		if err != nil {
			d.Streams = append(d.Streams, Stream{Other: md, Err: fmt.Errorf("m-line %d: %w", i, err)})
			continue
		}
		d.Streams = append(d.Streams, Stream{Media: m})
	}
	d.last = d.body(d.render())
	return d, nil
}

func cloneMediaDescription(md *sdp.MediaDescription) *sdp.MediaDescription {
	c := *md
	c.MediaName.Protos = slices.Clone(md.MediaName.Protos)
	c.MediaName.Formats = slices.Clone(md.MediaName.Formats)
	if r := md.MediaName.Port.Range; r != nil {
		v := *r
		c.MediaName.Port.Range = &v
	}
	if md.MediaTitle != nil {
		v := *md.MediaTitle
		c.MediaTitle = &v
	}
	c.ConnectionInformation = cloneConn(md.ConnectionInformation)
	c.Bandwidth = slices.Clone(md.Bandwidth)
	if md.EncryptionKey != nil {
		v := *md.EncryptionKey
		c.EncryptionKey = &v
	}
	c.Attributes = slices.Clone(md.Attributes)
	return &c
}

func cloneConn(ci *sdp.ConnectionInformation) *sdp.ConnectionInformation {
	if ci == nil {
		return nil
	}
	c := *ci
	if ci.Address != nil {
		a := *ci.Address
		if a.TTL != nil {
			v := *a.TTL
			a.TTL = &v
		}
		if a.Range != nil {
			v := *a.Range
			a.Range = &v
		}
		c.Address = &a
	}
	return &c
}
