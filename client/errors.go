package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/switchboardhq/switchboard/protocol"
)

// Errors returned by the client, wrapped once with the operation that failed
// ("client: publish \"chat\": not connected"). Test for them with errors.Is.
// Errors that the server answered with are *protocol.Error values: test for
// them with errors.Is(err, &protocol.Error{Code: protocol.CodeTimeout}) or
// errors.As.
var (
	// ErrClosed: the client was closed, by Close or because the server ended
	// the connection with a terminal close code (see Client.Err for the cause).
	ErrClosed = errors.New("client: closed")
	// ErrNotConnected: the client is between connections and Options.Outage
	// is OutageFail. Retryable.
	ErrNotConnected = errors.New("client: not connected")
	// ErrConnectionLost: an acknowledged call was written to a connection
	// that dropped before its answer arrived. The server may or may not have
	// processed it. Retryable, but a retried publish may be delivered twice.
	ErrConnectionLost = errors.New("client: connection lost")
	// ErrBufferFull: the outage buffer (Options.MaxBufferedMessages,
	// MaxBufferedBytes) is full while the client is reconnecting. Retryable.
	ErrBufferFull = errors.New("client: outage buffer full")
	// ErrTooLarge: an object is larger than the server's max_frame_bytes.
	ErrTooLarge = errors.New("client: object larger than the server's max_frame_bytes")
	// ErrInvalidPayload: a json.RawMessage or []byte payload is not one
	// valid JSON value.
	ErrInvalidPayload = errors.New("client: payload is not valid JSON")
	// ErrIfSeqRequired: a publish to a $meta. topic without PublishIfSeq, or
	// PublishIfSeq to another topic.
	ErrIfSeqRequired = errors.New("client: $meta. topics are published with PublishIfSeq only")
	// ErrNoReplyTo: Reply or Respond on a message that is not a request.
	ErrNoReplyTo = errors.New("client: message has no reply_to")
	// ErrSlowConsumer is reported to Options.OnError when the dispatch queue
	// was full and incoming messages were dropped.
	ErrSlowConsumer = errors.New("client: dispatch queue full, messages dropped")
	// ErrHeartbeatTimeout: the server sent nothing, not even a pong, for
	// twice its heartbeat interval; the client dropped the connection.
	ErrHeartbeatTimeout = errors.New("client: heartbeat timeout")
	// ErrReconnectFailed: Options.MaxReconnectAttempts consecutive attempts
	// (rounds over the URLs, with several) failed; the client is closed.
	ErrReconnectFailed = errors.New("client: reconnect attempts exhausted")
	// ErrInvalidURL: the URL is not ws://, wss://, http:// or https://,
	// or there is no URL at all.
	ErrInvalidURL = errors.New("client: invalid URL")
)

// CloseError is the reason a WebSocket connection ended when the peer sent a
// close frame. Its Code tells whether the client reconnects
// (protocol.CloseCode.Reconnect).
type CloseError struct {
	Code   protocol.CloseCode
	Reason string
}

func (e *CloseError) Error() string {
	s := fmt.Sprintf("client: connection closed by the server: %d %s", int(e.Code), e.Code)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// statusError is a WebSocket handshake refused with an HTTP status (native
// transport only: browsers do not expose it).
type statusError struct {
	status int
	err    error
}

// Is matches a *CloseError target with the same code, so that
// errors.Is(err, &CloseError{Code: protocol.CloseUnauthorized}) works.
func (e *CloseError) Is(target error) bool {
	t, ok := target.(*CloseError)
	return ok && t.Code == e.Code
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// opError wraps an error once with the operation that failed. Our own
// sentinels already start with "client: ", which is not repeated.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "client: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "client: ")
}

func (e *opError) Unwrap() error { return e.err }

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op: op, err: err}
}

// reconnectPolicy reports whether a connection that ended (or failed to
// start) with err is worth another attempt, and whether only after a long
// backoff.
func reconnectPolicy(err error) (retry, long bool) {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code.Reconnect(), ce.Code.LongBackoff()
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case protocol.CodeUnauthorized, protocol.CodeForbidden, protocol.CodeBadRequest:
			return false, false
		case protocol.CodeRateLimited:
			return true, true
		}
		return true, false
	}
	var se *statusError
	if errors.As(err, &se) {
		switch se.status {
		case 401, 403:
			return false, false
		case 429:
			return true, true
		}
	}
	return true, false
}
