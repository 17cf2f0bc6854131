// Package cpim parses and builds message/cpim objects (RFC 3862, Common
// Presence and Instant Messaging: Message Format, read as
// draft-ietf-impp-cpim-msgfmt-08, whose section numbers match).
//
// A message/cpim object is a block of CPIM message headers, a blank line,
// and an encapsulated MIME object with its own headers and body (§2). The
// outer MIME header (Content-Type: message/cpim) is the carrying
// protocol's: in MSRP and SIP it is the request's Content-Type, so Parse
// takes the object that follows it.
//
//	m, err := cpim.Parse(body)          // keeps every octet (§2.2)
//	from, err := m.From()
//	id, ok := m.Get(cpim.NSIMDN, cpim.IMDNMessageID)
//	text := m.Body()
//
//	out := cpim.New()
//	out.SetFrom(cpim.Address{URI: "sip:alice@example.com"})
//	out.Set(cpim.NSIMDN, cpim.IMDNMessageID, id) // declares NS: imdn
//	out.SetContent("text/plain;charset=UTF-8", text)
//	wire := out.Append(buf[:0])
//
// # Implemented
//
//   - §2, §2.2: the overall layout; header lines are kept as received and in
//     order, so Append of a parsed Message returns its input exactly
//     (signatures depend on it, §2.2, §6, §9). Setters re-render only the
//     lines they change or add, always in canonical form (one SP after the
//     colon, CRLF).
//   - §2.2, §3.1: header names are case-sensitive ("From" is not "from");
//     names are NAMECHARs with at most one "." separating a prefix.
//   - §2.3: escapes (\\ \" \' \b \t \n \r \uXXXX, UTF-16 surrogate pairs
//     combined) are decoded by the accessors; an unknown escape yields the
//     next character and an isolated trailing backslash is ignored
//     (§2.3.1). Setters generate the escapes §2.3.1 requires.
//   - §2.4: the encapsulated MIME object must have a Content-Type; its header
//     names are case-insensitive (MIME), folded lines are unfolded by the
//     accessors, the body is opaque.
//   - §3.3: parameters after the colon, in particular ;lang= on Subject
//     (several Subjects, one per language; Subject(lang) selects one).
//   - §3.4, §4.6: namespaces. A header is identified by namespace URI and
//     name (HeaderName), not by the prefix the sender chose: after
//     "NS: x <urn:ietf:params:imdn>", "x.Message-ID" is Get(NSIMDN,
//     "Message-ID"). Declarations apply to the headers after them; a prefix
//     used before its declaration is ErrUnknownPrefix. Unprefixed names are
//     in urn:ietf:params:cpim-headers: (NSCPIM) until "NS: <uri>" changes the
//     default namespace, after which even "From" is {uri}From. An unprefixed
//     "NS" is always a declaration, so prefixes can still be declared after
//     the default changes. URIs are compared as strings. Setters reuse a
//     prefix bound at the end of the headers or declare one (imdn, cpim,
//     ns1, ns2…).
//   - §3.5, §4.7: Require, with prefixes resolved where the Require header
//     stands; AddRequire keeps a single Require header.
//   - §4.1–4.5: From, To, cc, DateTime (RFC 3339, lowercase t/z accepted),
//     Subject. From and DateTime must not repeat (ErrRepeated).
//   - RFC 5438 §6 header names (IMDN*) and namespace (NSIMDN) as constants,
//     and NewMessageID for fresh imdn.Message-ID values (96 random bits).
//
// Setters write values with the escapes of §2.3.1, and leading or trailing
// spaces as \u0020 (a line may not end in whitespace, §2.2, and a tolerant
// receiver drops extra spaces after the colon). AppendHeader writes
// everything before the encapsulated object, for callers that stream a
// large body instead of copying it in with SetContent.
//
// # Tolerated deviations
//
// Each is accepted on input and reproduced byte for byte on output; the
// setters never generate them.
//
//   - Missing blank line between the CPIM headers and the MIME headers (the
//     IMDN drafts' examples, some RCS clients): after at least one CPIM
//     header, a line whose name starts with "Content-" (any case) begins
//     the encapsulated object. Hence an unprefixed CPIM extension header
//     named Content-… cannot follow another CPIM header.
//   - Extra blank lines before the MIME headers (DoubangoTelecom/boghe#76):
//     an encapsulated object cannot start with a blank line (it needs a
//     Content-Type), so they are skipped as part of the separator.
//   - "CC" or "Cc" for "cc" (MSRP's prose writes CC): any case of cc in
//     NSCPIM is the courtesy-copy header; the setters write "cc".
//   - No space, or several, after the colon (and after the parameters);
//     trailing spaces, which §2.2 forbids, are left out of the value.
//   - LF-only line ends in the CPIM and MIME headers, also mixed with CRLF.
//     Safe because a header line can contain neither CR nor LF; the body is
//     never touched.
//   - A missing or doubled space between the NS prefix and "<", and between
//     a Formal-name and "<".
//   - A From/To/cc value that is a bare absolute URI without angle brackets.
//   - MIME headers that run to the end of the input (empty body, no blank
//     line after them).
//
// # Not implemented
//
//   - S/MIME (§5.2, §9): multipart/signed and encrypted wrappers are not
//     built or verified. Because a parsed Message is byte-exact, a caller
//     can sign or verify Bytes() or Entity() with its own S/MIME code.
//   - Folded CPIM header lines, tabs and other control characters in CPIM
//     headers are rejected (ErrSyntax), as §2.2 requires; invalid UTF-8 in
//     header values is kept as received, not rejected (setters refuse it).
//   - The §3.6 rule that a namespace URI carry no fragment is not checked.
//   - §3.4's application-specific predefined prefixes: none are predefined.
//   - Semantics of headers beyond §4 (IMDN dispositions, RFC 7701 chat
//     headers) are the callers'.
//
// # Limits and errors
//
// Limits bounds the header lines, the length of each line and, for Read,
// the whole object; they are checked while scanning, so no more than
// MaxLineLength+2 octets are examined looking for a line end. Parse does
// not copy its input: the Message, its Body and its header values alias b.
//
// Errors from Parse and Read are *ParseError, with the 1-based line and a
// sentinel (ErrSyntax, ErrHeaderTooLong, ErrTooManyHeaders, ErrTruncated,
// ErrUnknownPrefix, ErrBadNS, ErrNoContentType); a receiver answers any of
// them with 400 (ErrTooLarge from Read with 413). Accessors return
// ErrNoHeader, ErrRepeated, ErrBadAddress or ErrBadDateTime; setters
// ErrInvalid. Whether the encapsulated Content-Type is acceptable (415) is
// the caller's decision, from ContentType.
package cpim
