// Package iscomposing encodes and decodes isComposing status messages,
// application/im-iscomposing+xml (RFC 3994, read as
// draft-ietf-simple-iscomposing-02, whose section numbers are used here),
// and tracks composer state on both ends.
//
// # Implemented
//
//   - §6: the XML document: <isComposing> in namespace
//     urn:ietf:params:xml:ns:im-iscomposing with <state> and the optional
//     <lastactive> (RFC 3339 date-time), <contenttype> and <refresh>
//     (positive integer seconds). Elements of other namespaces (the
//     schema's xs:any) and unknown elements are ignored. Documents must be
//     UTF-8 (a declared other encoding is rejected).
//   - §3.4: state tokens other than "active" read as Idle; the token as
//     received is kept in Status.StateToken.
//   - §3.3 (Figure 2): Receiver, idle after an idle status, a content
//     message, or the refresh interval (DefaultRefresh, 120 s, when the
//     last active status had no <refresh>); consecutive actives accepted.
//   - §3.2 (Figure 1): Sender, active on the first edit, idle after
//     IdleTimeout (15 s) without edits, no idle message when the content
//     message is sent, active refreshes every Refresh (60 s by default,
//     announced in <refresh>).
//
// Receiver and Sender have no timers and no goroutines: every method takes
// the current time, and Deadline tells the caller when to call again.
//
// # Tolerated deviations
//
//   - A document without any namespace (<isComposing><state>…) is read as
//     if it had the isComposing namespace.
//   - Whitespace around element text is ignored.
//
// # Not implemented
//
//   - Carrying the status (in MSRP SEND, SIP MESSAGE, or wrapped in CPIM,
//     §3.4, §4) is the caller's: use ContentType and package cpim.
//   - The §7 advice to send page-mode indications only for replies is
//     policy for the application.
//   - Validation against the XML schema beyond the elements above.
//
// Parse and Read accept at most MaxSize octets; errors wrap ErrSyntax,
// ErrNotIsComposing, ErrNoState, ErrBadValue or ErrTooLarge.
package iscomposing
