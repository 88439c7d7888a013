//go:build js && wasm

package main

import (
	"context"
	"errors"
	"syscall/js"

	"github.com/hack-pad/safejs"

	"github.com/switchboardhq/switchboard/client"
	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/seal"
)

// Client-side error codes (SwitchboardError.code in switchboard.d.ts). The
// server's codes are protocol.Code values, passed through unchanged.
const (
	codeBadRequest   = string(protocol.CodeBadRequest)
	codeInternal     = string(protocol.CodeInternal)
	codeTimeout      = string(protocol.CodeTimeout)
	codeTooLarge     = string(protocol.CodeTooLarge)
	codeClosed       = "closed"
	codeNotConnected = "not_connected"
	codeNetwork      = "network"
	codeHandler      = "handler"
	codeSlowConsumer = "slow_consumer"
	codeNotRecovered = "not_recovered"
)

// sealCodes maps the seal package's sentinels to the decryption codes of
// switchboard.d.ts. The first match wins: ErrOutOfWindow wraps ErrStale.
var sealCodes = []struct {
	err  error
	code string
}{
	{seal.ErrWrongKey, "wrong_key"},
	{seal.ErrEpoch, "wrong_key"}, // sealed under another epoch's key: rotated parameters
	{seal.ErrAuth, "tampered"},
	{seal.ErrMalformed, "tampered"},
	{seal.ErrReplay, "replay"},
	{seal.ErrStale, "stale"},
	{seal.ErrUnsigned, "unsigned"},
	{seal.ErrUnknownSender, "unknown_sender"},
	{seal.ErrKeyChanged, "key_changed"},
}

// badRequest lists the client-side validation errors reported as
// bad_request, like the server's answer to the same mistake.
var badRequest = []error{
	client.ErrInvalidPayload, client.ErrInvalidURL, client.ErrIfSeqRequired, client.ErrNoReplyTo,
	protocol.ErrInvalidName, protocol.ErrInvalidSessionID, protocol.ErrInvalidTopic,
	protocol.ErrInvalidPattern, protocol.ErrWildcardTopic, protocol.ErrReservedTopic, protocol.ErrInvalidID,
	client.ErrWildcardOption,
}

// errClosed rejects calls on a client that is closed or closing.
var errClosed = &codeError{code: codeClosed, msg: "switchboard: client closed"}

// codeError is an error raised by this package with its code, the
// JavaScript value that caused it, if any (a handler's exception), and the
// Go error it stands for, if any.
type codeError struct {
	code  string
	msg   string
	cause safejs.Value // undefined when there is none (the zero Value)
	err   error
}

func (e *codeError) Error() string { return e.msg }
func (e *codeError) Unwrap() error { return e.err }

// terminal marks the error that ended a client (a terminal close code, a
// refused reconnect, reconnect attempts exhausted): code 'closed', as
// switchboard.d.ts documents for onError, whatever the cause.
func terminal(err error) error {
	return &codeError{code: codeClosed, msg: err.Error(), err: err}
}

// errorCode returns the stable code of err, as documented for
// SwitchboardError.code.
func errorCode(err error) string {
	var ce *codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	// Before the protocol codes: a call on a client that the server closed
	// with an error is "closed", whatever the reason was.
	if errors.Is(err, client.ErrClosed) {
		return codeClosed
	}
	for _, s := range sealCodes {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	for _, s := range e2eCodes {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code != "" {
		return string(pe.Code)
	}
	switch {
	case errors.Is(err, client.ErrNotConnected), errors.Is(err, client.ErrBufferFull):
		return codeNotConnected
	case errors.Is(err, client.ErrConnectionLost), errors.Is(err, client.ErrHeartbeatTimeout),
		errors.Is(err, client.ErrReconnectFailed):
		return codeNetwork
	case errors.Is(err, context.DeadlineExceeded):
		return codeTimeout
	case errors.Is(err, client.ErrTooLarge):
		return codeTooLarge
	case errors.Is(err, client.ErrSlowConsumer):
		return codeSlowConsumer
	case errors.Is(err, client.ErrNotRecovered):
		return codeNotRecovered
	}
	for _, b := range badRequest {
		if errors.Is(err, b) {
			return codeBadRequest
		}
	}
	var cl *client.CloseError
	if errors.As(err, &cl) {
		// 1006 (the socket never opened, or dropped) and the other
		// reconnect codes are network trouble; the rest end the client.
		if cl.Code.Reconnect() {
			return codeNetwork
		}
		return codeClosed
	}
	return codeInternal
}

// jsError converts err into a JavaScript Error with name
// "SwitchboardError", the message of err, a code property (errorCode) and,
// when a JavaScript value caused it, that value as cause.
func jsError(err error) safejs.Value {
	msg := err.Error()
	code := errorCode(err)
	cause := thrownValue(err)
	var ce *codeError
	if errors.As(err, &ce) && !ce.cause.IsUndefined() {
		cause = ce.cause
	}
	var e safejs.Value
	var jerr error
	if cause.IsUndefined() {
		e, jerr = g.Error.New(msg)
	} else {
		opts, oerr := newObject()
		if oerr == nil {
			oerr = opts.Set("cause", cause)
		}
		if oerr != nil {
			e, jerr = g.Error.New(msg)
		} else {
			e, jerr = g.Error.New(msg, opts)
		}
	}
	if jerr == nil {
		jerr = setAll(e, "name", "SwitchboardError", "code", code)
	}
	if jerr == nil {
		var cl *client.CloseError
		if errors.As(err, &cl) {
			_ = e.Set("closeCode", int(cl.Code))
		}
		decorateOpenError(e, err)
		decorateRecoveryError(e, err)
		return e
	}
	// Not expected (Error is a builtin); a plain object still carries the
	// message and code.
	v, _ := safejs.ValueOf(map[string]any{"name": "SwitchboardError", "message": msg, "code": code})
	return v
}

// thrownError is a rejection reason or exception received from JavaScript.
type thrownError struct{ v safejs.Value }

func (e *thrownError) Error() string { return describeThrown(e.v) }

// thrownValue returns the JavaScript value behind err: an exception caught
// by safejs (a syscall/js Error, the one use of syscall/js in the package),
// or a rejection reason. It is undefined when err did not come from
// JavaScript.
func thrownValue(err error) safejs.Value {
	var te *thrownError
	if errors.As(err, &te) {
		return te.v
	}
	var je js.Error
	if errors.As(err, &je) {
		return safejs.Safe(je.Value)
	}
	return safejs.Undefined()
}

// thrownMessage is the message of the JavaScript value behind err, or
// err's own message.
func thrownMessage(err error) string {
	if v := thrownValue(err); !v.IsUndefined() {
		return describeThrown(v)
	}
	return err.Error()
}

// describeThrown is what a thrown value says: an Error's message (or its
// String() when it has none), String(v) for anything else.
func describeThrown(v safejs.Value) string {
	if v.Type() == safejs.TypeObject {
		if m, err := v.Get("message"); err == nil && m.Type() == safejs.TypeString {
			if s, err := m.String(); err == nil && s != "" {
				return s
			}
		}
	}
	return jsString(v)
}
