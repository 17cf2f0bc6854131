// Package session is Parley's transport-neutral message-session API.
//
// A message session is negotiated with an SDP offer/answer (RFC 3264)
// carried in SIP INVITE, and then carries instant messages in both
// directions until it is closed. Two transports implement it:
//
//   - MSRP (RFC 4975, relays RFC 4976), package msrp;
//   - the CPIM transport session of draft-campbell-simple-cpimmsg-sessions-00
//     (cpim/tcp, cpim/tls), package cpimtransport.
//
// The application sees the same Session either way: Send returns a Delivery
// whose Result says whether the message was delivered (MSRP success
// report, or the seed's message/im-delivery-status receipt), merely sent,
// failed with a status, or timed out; Receive yields Incoming messages with
// their CPIM metadata. An Endpoint creates Offers and Answers; negotiate.go
// combines several Endpoints into one SDP with one m=message line each, so
// an offerer can offer both transports and the answerer keep one.
package session
