package sipua

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/emiago/sipgo/sip"
)

// Sentinel errors. Every error the UA returns for a failed request wraps one
// of these (test with errors.Is) and, when the peer answered with a status,
// is a *StatusError (test with errors.As) carrying the code and reason.
var (
	// ErrAuthFailed: the registrar or proxy rejected our credentials
	// (401/407 again after a digest retry, or 403), or asked for
	// credentials when none are configured.
	ErrAuthFailed = errors.New("authentication failed: check the username and password")
	// ErrNotFound: the target does not exist (404, 604).
	ErrNotFound = errors.New("user not found: check the address")
	// ErrUnavailable: the target exists but cannot be reached now
	// (480, 503, or no answer at all).
	ErrUnavailable = errors.New("user temporarily unavailable: try again later")
	// ErrBusy: the target is busy (486, 600).
	ErrBusy = errors.New("user busy")
	// ErrDeclined: the user declined (603).
	ErrDeclined = errors.New("declined by the user")
	// ErrNotAcceptable: the peer accepts none of the offered media or
	// content types (488, 606, 415).
	ErrNotAcceptable = errors.New("not acceptable: the peer supports none of the offered message transports or types")
	// ErrTLSVerify: the peer's TLS certificate did not verify; install the
	// peer's CA in the TLS configuration or check the host name.
	ErrTLSVerify = errors.New("TLS certificate verification failed: check the peer's certificate, its CA and the host name")
	// ErrTimeout: no final response came in time (408, or the RFC 3261
	// §17.1 transaction timer fired).
	ErrTimeout = errors.New("request timed out: the peer did not answer")
	// ErrCanceled: the caller's context ended before the peer answered.
	ErrCanceled = errors.New("request canceled")
	// ErrClosed: the UA (or the call) is closed.
	ErrClosed = errors.New("sipua: closed")
	// ErrRejected: any other failure status from the peer.
	ErrRejected = errors.New("request rejected by the peer")
	// ErrBadTarget: the target is not a usable sip: or sips: URI.
	ErrBadTarget = errors.New("invalid target address")
	// ErrNoTransport: the UA has no listener for the transport a request
	// needs (the Contact must name one).
	ErrNoTransport = errors.New("no listener for the needed transport")
)

// StatusError is a final failure response from the peer (or a proxy).
type StatusError struct {
	Method string // the request method, e.g. "INVITE"
	Target string // the request target
	Code   int
	Reason string
	// Detail, when set, says more about what to do.
	Detail string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("sipua: %s %s: %d %s: %v", e.Method, e.Target, e.Code, e.Reason, e.Unwrap())
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Unwrap returns the sentinel error for the status class.
func (e *StatusError) Unwrap() error { return statusSentinel(e.Code) }

func statusSentinel(code int) error {
	switch code {
	case 401, 403, 407:
		return ErrAuthFailed
	case 404, 604:
		return ErrNotFound
	case 408:
		return ErrTimeout
	case 410, 480, 503:
		return ErrUnavailable
	case 486, 600:
		return ErrBusy
	case 603:
		return ErrDeclined
	case 415, 488, 606:
		return ErrNotAcceptable
	}
	return ErrRejected
}

func statusError(method string, target string, res *sip.Response) error {
	return &StatusError{Method: method, Target: target, Code: res.StatusCode, Reason: res.Reason}
}

// classify wraps a transport or transaction error from sipgo in the
// matching sentinel so callers never need to know sipgo's error values.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var (
		verr  *tls.CertificateVerificationError
		uae   x509.UnknownAuthorityError
		hne   x509.HostnameError
		cie   x509.CertificateInvalidError
		alert tls.AlertError
	)
	switch {
	case errors.As(err, &verr), errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie):
		return fmt.Errorf("sipua: %s: %w: %w", op, ErrTLSVerify, err)
	case errors.As(err, &alert) && (alert == 42 || alert == 45 || alert == 46 || alert == 48):
		// bad_certificate, certificate_expired, certificate_unknown,
		// unknown_ca: the peer rejected our certificate.
		return fmt.Errorf("sipua: %s: %w: %w", op, ErrTLSVerify, err)
	case errors.Is(err, sip.ErrTransactionTimeout):
		return fmt.Errorf("sipua: %s: %w: %w", op, ErrTimeout, err)
	}
	return fmt.Errorf("sipua: %s: %w", op, err)
}
