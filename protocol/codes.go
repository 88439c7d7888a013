package protocol

import "fmt"

// Code is a stable, machine-readable error code carried by an error frame.
type Code string

// Error codes (PROTOCOL.md, "Server → client").
const (
	CodeConflict     Code = "conflict"      // a compare-and-set publish lost
	CodeBadRequest   Code = "bad_request"   // malformed JSON, missing or invalid field
	CodeNotReady     Code = "not_ready"     // object other than hello before welcome
	CodeUnauthorized Code = "unauthorized"  // missing or invalid credentials
	CodeForbidden    Code = "forbidden"     // e.g. a session_id other than the connection's
	CodeNotFound     Code = "not_found"     // unknown client, reply_to or subscription
	CodeTooLarge     Code = "too_large"     // a limit was exceeded
	CodeRateLimited  Code = "rate_limited"  // slow down
	CodeTimeout      Code = "timeout"       // a request got no reply in time
	CodeNoResponders Code = "no_responders" // nobody is subscribed to a request's topic
	CodeUnsupported  Code = "unsupported"   // unknown type, binary frame
	CodeInternal     Code = "internal"      // a server fault; details are logged, not sent
)

// Error is a protocol error: a code and a human-readable message. It is what
// an error frame carries and what the client returns for one.
type Error struct {
	Code    Code
	Message string
	ID      string // the id of the object that caused it, if any
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "switchboard: " + string(e.Code)
	}
	return fmt.Sprintf("switchboard: %s: %s", e.Code, e.Message)
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &protocol.Error{Code: protocol.CodeTimeout}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CloseCode is a WebSocket close status code used by Switchboard.
type CloseCode int

// Close codes (PROTOCOL.md, "Close codes"). Codes 4000–4399 mean the client
// should reconnect; 4400–4499 are terminal.
const (
	CloseNormal        CloseCode = 1000 // normal closure: stop
	CloseGoingAway     CloseCode = 1001 // the peer went away (browser tab closed)
	CloseTooBig        CloseCode = 1009 // frame over the limit: reconnect, fix the sender
	CloseShutdown      CloseCode = 4000 // server shutting down: reconnect with backoff
	CloseSlowConsumer  CloseCode = 4001 // outgoing queue overflowed: reconnect, resume from history
	CloseTimeout       CloseCode = 4002 // no hello in time, or heartbeat timeout: reconnect
	CloseKicked        CloseCode = 4003 // disconnected by an operator: reconnect with backoff
	CloseViolations    CloseCode = 4400 // repeated protocol violations: stop
	CloseUnauthorized  CloseCode = 4401 // authentication required or token invalid/expired: stop
	CloseForbidden     CloseCode = 4403 // session not allowed by the token: stop
	CloseRateLimited   CloseCode = 4429 // rate limit exceeded persistently: long backoff
	closeTerminalFirst CloseCode = 4400
	closeTerminalLast  CloseCode = 4499
)

// Reconnect reports whether a client should reconnect after the server closed
// the connection with this code. Codes in 4400–4499 and 1000 are terminal;
// 4429 is reconnectable only after a long backoff, which Reconnect reports as
// true (see LongBackoff).
func (c CloseCode) Reconnect() bool {
	switch {
	case c == CloseNormal:
		return false
	case c == CloseRateLimited:
		return true
	case c >= closeTerminalFirst && c <= closeTerminalLast:
		return false
	}
	return true
}

// LongBackoff reports whether a reconnect after this code should wait much
// longer than usual (persistent rate limiting).
func (c CloseCode) LongBackoff() bool { return c == CloseRateLimited }

func (c CloseCode) String() string {
	switch c {
	case CloseNormal:
		return "normal closure"
	case CloseGoingAway:
		return "going away"
	case CloseTooBig:
		return "frame too big"
	case CloseShutdown:
		return "server shutting down"
	case CloseSlowConsumer:
		return "slow consumer"
	case CloseTimeout:
		return "timeout"
	case CloseKicked:
		return "disconnected by operator"
	case CloseViolations:
		return "repeated protocol violations"
	case CloseUnauthorized:
		return "unauthorized"
	case CloseForbidden:
		return "forbidden"
	case CloseRateLimited:
		return "rate limited"
	}
	return fmt.Sprintf("close code %d", int(c))
}
