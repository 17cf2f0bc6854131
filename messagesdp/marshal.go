package messagesdp

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// MediaDescription returns m as a pion/sdp media description, with a
// media-level c= line when Address is set. For a Media from ParseMedia,
// fields left unchanged keep their original text and position; changed or
// new ones are written in canonical form. Values inherited from the
// session level by ParseMedia are written at media level, so the result
// stands alone.
func (m *Media) MediaDescription() *sdp.MediaDescription {
	return m.mediaDescription(false, "")
}

// mediaDescription builds the media description. inSession is true when it
// is written inside a Description whose session-level c= address is
// sessAddr: inherited values are then left to the session level.
func (m *Media) mediaDescription(inSession bool, sessAddr string) *sdp.MediaDescription {
	p := m.parsed
	md := &sdp.MediaDescription{}
	var o *sdp.MediaDescription
	if p != nil {
		o = cloneMediaDescription(p.md)
		// Lines this package has no field for (i=, b=, k=) ride along.
		md.MediaTitle, md.Bandwidth, md.EncryptionKey = o.MediaTitle, o.Bandwidth, o.EncryptionKey
	}
	if p != nil && p.snap.Port == m.Port && p.snap.Proto == m.Proto && slices.Equal(p.snap.Formats, m.Formats) {
		md.MediaName = o.MediaName
	} else {
		md.MediaName = sdp.MediaName{
			Media:   "message",
			Port:    sdp.RangedPort{Value: m.Port},
			Protos:  strings.Split(clean(m.Proto), "/"),
			Formats: cleanAll(m.Formats),
		}
	}

	// c= (RFC 4566 §5.7): the original line if the address is unchanged,
	// else a new one unless the session-level line already says it.
	switch {
	case p != nil && p.snap.Address == m.Address && !p.addrInherited:
		md.ConnectionInformation = o.ConnectionInformation
	case m.Address == "":
	case inSession && m.Address == sessAddr:
	default:
		md.ConnectionInformation = newConn(m.Address)
	}

	changed := func(k string) bool { return p == nil || !m.sameTyped(k, &p.snap) }
	emitted := make(map[string]bool)
	emit := func(k string) {
		if !emitted[k] {
			emitted[k] = true
			md.Attributes = append(md.Attributes, m.typedLines(k)...)
		}
	}
	extra := 0
	if p != nil {
		for i, a := range p.md.Attributes {
			k := p.slots[i]
			switch {
			case k == "":
				if extra < len(m.Attributes) {
					md.Attributes = append(md.Attributes, toSDP(m.Attributes[extra]))
					extra++
				}
			case !changed(k):
				md.Attributes = append(md.Attributes, a)
				emitted[k] = true
			default:
				emit(k)
			}
		}
	}
	for _, k := range typedOrder {
		if changed(k) || (!inSession && p != nil && p.inherited[k]) {
			emit(k)
		}
	}
	for _, a := range m.Attributes[extra:] {
		md.Attributes = append(md.Attributes, toSDP(a))
	}
	return md
}

// typedLines returns the a= lines for the typed attribute k, none when the
// field is empty.
func (m *Media) typedLines(k string) []sdp.Attribute {
	one := func(key, v string) []sdp.Attribute {
		if v == "" {
			return nil
		}
		return []sdp.Attribute{{Key: key, Value: clean(v)}}
	}
	switch k {
	case keyPath:
		return one(k, strings.Join(m.Path, " "))
	case keyAcceptTypes:
		return one(k, strings.Join(m.AcceptTypes, " "))
	case keyAcceptWrapped:
		return one(k, strings.Join(m.AcceptWrappedTypes, " "))
	case keyMaxSize:
		if m.MaxSize <= 0 {
			return nil
		}
		return one(k, strconv.FormatInt(m.MaxSize, 10))
	case keySetup:
		return one(k, m.Setup)
	case keyFingerprint:
		return one(k, m.Fingerprint)
	case keyURI:
		return one(k, m.URI)
	case keyDirection:
		return one(k, m.Direction)
	case keyMode:
		if m.Mode == "" {
			return nil
		}
		return []sdp.Attribute{{Key: clean(m.Mode)}}
	}
	return nil
}

func toSDP(a Attribute) sdp.Attribute {
	return sdp.Attribute{Key: clean(a.Key), Value: clean(a.Value)}
}

// clean keeps a value from breaking out of its line: CR, LF and NUL become
// spaces. Validate reports such values; clean only makes sure Marshal
// never writes a line that was not asked for.
func clean(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

func cleanAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = clean(v)
	}
	return out
}

// addrType returns the SDP address type of an address: IP6 for an IPv6
// literal, else IP4 (which RFC 4975's examples also use for domain names).
func addrType(addr string) string {
	if strings.Contains(addr, ":") {
		return "IP6"
	}
	return "IP4"
}

func newConn(addr string) *sdp.ConnectionInformation {
	addr = clean(addr)
	return &sdp.ConnectionInformation{
		NetworkType: "IN",
		AddressType: addrType(addr),
		Address:     &sdp.Address{Address: addr},
	}
}

// Build returns a Description of the given m=message media, in order,
// after validating each. The origin gets a random session id, username "-"
// and the first media's address; change Origin before the first Marshal if
// needed. Keep the Description for the life of the SIP dialog and Marshal
// it again for re-offers: the o= version then follows RFC 3264 §8.
func Build(media ...*Media) (*Description, error) {
	d := &Description{}
	for i, m := range media {
		if m == nil {
			return nil, fmt.Errorf("%w: m-line %d: nil media", ErrInvalid, i)
		}
		if err := m.Validate(); err != nil {
			return nil, fmt.Errorf("m-line %d: %w", i, err)
		}
		d.Streams = append(d.Streams, Stream{Media: m})
	}
	d.Origin = newOrigin(d.sessionAddress())
	return d, nil
}

func newOrigin(addr string) sdp.Origin {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	// RFC 4566 §5.2: a numeric id; 62 bits leave room for version bumps.
	id := binary.BigEndian.Uint64(b[:])>>2 | 1
	return sdp.Origin{
		Username:       "-",
		SessionID:      id,
		SessionVersion: id,
		NetworkType:    "IN",
		AddressType:    addrType(addr),
		UnicastAddress: addr,
	}
}

// NewAnswer builds the answer to offer (RFC 3264 §6): one m-line per
// offered m-line, in the same order. m-line i carries accepted[i] when
// present (it must be an offered m=message line); every other line is
// rejected with port 0, keeping its media, proto and formats.
func NewAnswer(offer *Description, accepted map[int]*Media) (*Description, error) {
	for i, m := range accepted {
		if i < 0 || i >= len(offer.Streams) || offer.Streams[i].Media == nil {
			return nil, fmt.Errorf("%w: m-line %d is not an offered m=message line", ErrInvalid, i)
		}
		if m == nil {
			return nil, fmt.Errorf("%w: m-line %d: nil media", ErrInvalid, i)
		}
		if err := m.Validate(); err != nil {
			return nil, fmt.Errorf("m-line %d: %w", i, err)
		}
	}
	d := &Description{}
	for i, s := range offer.Streams {
		switch {
		case accepted[i] != nil:
			d.Streams = append(d.Streams, Stream{Media: accepted[i]})
		case s.Media != nil:
			d.Streams = append(d.Streams, Stream{Media: Reject(s.Media)})
		default:
			d.Streams = append(d.Streams, Stream{Other: RejectOther(s.Other)})
		}
	}
	d.Origin = newOrigin(d.sessionAddress())
	return d, nil
}

// sessionAddress is the address for the session-level c= line: Address,
// else that of the first accepted media, else of any media, else 0.0.0.0.
func (d *Description) sessionAddress() string {
	if d.Address != "" {
		return d.Address
	}
	for _, s := range d.Streams {
		if s.Media != nil && s.Media.Port != 0 && s.Media.Address != "" {
			return s.Media.Address
		}
	}
	for _, s := range d.Streams {
		if s.Media != nil && s.Media.Address != "" {
			return s.Media.Address
		}
	}
	return "0.0.0.0"
}

// render builds the complete session description with the current origin.
func (d *Description) render() *sdp.SessionDescription {
	s := &sdp.SessionDescription{}
	if d.base != nil {
		*s = *d.base
		s.TimeDescriptions = slices.Clone(d.base.TimeDescriptions)
	} else {
		s.TimeDescriptions = []sdp.TimeDescription{{}} // t=0 0
	}
	s.Version = 0
	s.Origin = d.Origin
	s.Origin.Username = clean(s.Origin.Username)
	if s.Origin.Username == "" {
		s.Origin.Username = "-"
	}
	s.Origin.UnicastAddress = clean(s.Origin.UnicastAddress)
	s.SessionName = sdp.SessionName(clean(d.SessionName))
	if d.SessionName == "" {
		s.SessionName = "-"
	}
	var sessAddr string
	switch {
	case d.base != nil && d.Address == d.baseAddr:
		s.ConnectionInformation = cloneConn(d.base.ConnectionInformation)
		sessAddr = d.Address
	default:
		sessAddr = d.sessionAddress()
		s.ConnectionInformation = newConn(sessAddr)
	}
	s.Attributes = nil
	for _, a := range d.Attributes {
		s.Attributes = append(s.Attributes, toSDP(a))
	}
	s.MediaDescriptions = nil
	for _, st := range d.Streams {
		switch {
		case st.Media != nil:
			s.MediaDescriptions = append(s.MediaDescriptions, st.Media.mediaDescription(true, sessAddr))
		case st.Other != nil:
			s.MediaDescriptions = append(s.MediaDescriptions, st.Other)
		}
	}
	return s
}

// body marshals s and drops its o= line (always the second line), for
// change detection.
func (d *Description) body(s *sdp.SessionDescription) []byte {
	b, _ := s.Marshal() // never fails in pion/sdp v3.0.20
	first := bytes.Index(b, []byte("\r\n"))
	second := bytes.Index(b[first+2:], []byte("\r\n"))
	return slices.Concat(b[:first+2], b[first+2+second+2:])
}

// Marshal returns the SDP text. If anything but the o= line changed since
// the previous Parse or Marshal, Origin.SessionVersion is incremented
// first; an unchanged description keeps its o= line (RFC 4975 §8.4, RFC
// 3264 §8). Call Validate on descriptions assembled by hand: Marshal
// writes CR, LF and NUL inside values as spaces rather than fail.
func (d *Description) Marshal() []byte {
	s := d.render()
	body := d.body(s)
	if d.last != nil && !bytes.Equal(body, d.last) {
		d.Origin.SessionVersion++
		s.Origin.SessionVersion = d.Origin.SessionVersion
	}
	d.last = body
	b, _ := s.Marshal()
	return b
}

// Validate checks every m=message media of d (see Media.Validate).
func (d *Description) Validate() error {
	for i, s := range d.Streams {
		if s.Media == nil {
			if s.Other == nil {
				return fmt.Errorf("%w: m-line %d is empty", ErrInvalid, i)
			}
			continue
		}
		if err := s.Media.Validate(); err != nil {
			return fmt.Errorf("m-line %d: %w", i, err)
		}
	}
	for _, a := range d.Attributes {
		if err := checkAttribute(a); err != nil {
			return fmt.Errorf("session level: %w", err)
		}
	}
	return nil
}
