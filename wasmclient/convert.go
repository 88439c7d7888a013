//go:build js && wasm

package main

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/switchboardhq/switchboard/client"
	"github.com/switchboardhq/switchboard/protocol"
)

// jsGlobals are the JavaScript globals the package uses, looked up once.
type jsGlobals struct {
	Object, Array, Promise, JSON, Error, String, Date, console safejs.Value

	// afterClose and afterDone replace a client's methods once their Funcs
	// are released, so that a call after close gets a rejected ('closed') or
	// resolved Promise instead of Go's "call to released function". They
	// live as long as the program.
	afterClose, afterDone safejs.Func
}

var (
	g        jsGlobals
	initOnce sync.Once
	initErr  error
)

// initGlobals looks the globals up and creates the program-lifetime Funcs.
// It is idempotent.
func initGlobals() error {
	initOnce.Do(func() { initErr = g.init() })
	return initErr
}

func (j *jsGlobals) init() error {
	global := safejs.Global()
	for _, x := range []struct {
		name string
		dst  *safejs.Value
	}{
		{"Object", &j.Object}, {"Array", &j.Array}, {"Promise", &j.Promise}, {"JSON", &j.JSON},
		{"Error", &j.Error}, {"String", &j.String}, {"Date", &j.Date}, {"console", &j.console},
	} {
		v, err := global.Get(x.name)
		if err != nil {
			return err
		}
		if v.IsUndefined() {
			return &codeError{code: codeInternal, msg: "switchboard: this JavaScript environment has no " + x.name}
		}
		*x.dst = v
	}
	var err error
	j.afterClose, err = newFunc(func(safejs.Value, []safejs.Value) any {
		return rejected(errClosed)
	})
	if err != nil {
		return err
	}
	j.afterDone, err = newFunc(func(safejs.Value, []safejs.Value) any {
		return resolved(nil)
	})
	return err
}

// newObject returns a new empty JavaScript object.
func newObject() (safejs.Value, error) { return g.Object.New() }

// setAll sets obj's properties in order (so that they print and serialise
// in that order), stopping at the first error.
func setAll(obj safejs.Value, kv ...any) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := obj.Set(kv[i].(string), kv[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// payloadFromJS serialises a JavaScript value with the global JSON.stringify,
// as JSON.stringify would for fetch or postMessage: undefined (and functions,
// symbols) become null, Dates ISO strings, toJSON is honoured. A value that
// cannot be serialised (a BigInt, a cycle) is a bad_request error.
//
// It must run synchronously in the call that received v, so that the
// payload is what the caller passed even if it mutates the object later.
func payloadFromJS(v safejs.Value) (json.RawMessage, error) {
	s, err := g.JSON.Call("stringify", v)
	if err != nil {
		return nil, &codeError{code: codeBadRequest, msg: "switchboard: payload is not JSON-serialisable: " + thrownMessage(err), cause: thrownValue(err)}
	}
	if s.Type() != safejs.TypeString {
		return json.RawMessage("null"), nil
	}
	str, err := s.String()
	if err != nil {
		return nil, err
	}
	return json.RawMessage(str), nil
}

// payloadToJS parses a JSON payload with the global JSON.parse. An empty
// payload is null; text that does not parse (never sent by a Switchboard
// server) is returned as a string.
func payloadToJS(raw json.RawMessage) safejs.Value {
	if len(raw) == 0 {
		return safejs.Null()
	}
	v, err := g.JSON.Call("parse", string(raw))
	if err != nil {
		s, _ := safejs.ValueOf(string(raw))
		return s
	}
	return v
}

// messageToJS builds the Message object of switchboard.d.ts:
// {topic, payload, publisherName, timestamp, sessionId, seq?, replyTo?,
// from?, encrypted}. Optional fields are absent, not undefined, when unset;
// timestamp is absent only when the server sent none.
func messageToJS(m *client.Message) (safejs.Value, error) {
	o, err := newObject()
	if err != nil {
		return o, err
	}
	err = setAll(o,
		"topic", m.Topic,
		"payload", payloadToJS(m.Payload),
		"publisherName", m.PublisherName,
	)
	if err == nil && !m.Timestamp.IsZero() {
		err = o.Set("timestamp", protocol.FormatTimestamp(m.Timestamp))
	}
	if err == nil {
		err = o.Set("sessionId", m.SessionID)
	}
	if err == nil && m.Seq != 0 {
		err = o.Set("seq", float64(m.Seq)) // exact up to 2^53
	}
	if err == nil && m.ReplyTo != "" {
		err = o.Set("replyTo", m.ReplyTo)
	}
	if err == nil && m.From != "" {
		err = o.Set("from", m.From)
	}
	if err == nil {
		err = o.Set("encrypted", messageEncrypted(m))
	}
	return o, err
}

// timestampFromJS reads publish's options.timestamp: an RFC 3339 string or
// a Date.
func timestampFromJS(v safejs.Value) (time.Time, error) {
	bad := &codeError{code: codeBadRequest, msg: "switchboard: options.timestamp must be an RFC 3339 string or a Date"}
	if v.Type() == safejs.TypeObject {
		if ok, _ := v.InstanceOf(g.Date); !ok {
			return time.Time{}, bad
		}
		iso, err := v.Call("toISOString") // throws for an invalid Date
		if err != nil {
			return time.Time{}, bad
		}
		v = iso
	}
	if v.Type() != safejs.TypeString {
		return time.Time{}, bad
	}
	s, err := v.String()
	if err != nil {
		return time.Time{}, bad
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, bad
	}
	return t, nil
}

// jsString converts any JavaScript value to a string as String(v) does.
func jsString(v safejs.Value) string {
	s, err := g.String.Invoke(v)
	if err != nil {
		return "(unprintable value)"
	}
	str, _ := s.String()
	return str
}

// isFunction reports whether v is callable.
func isFunction(v safejs.Value) bool { return v.Type() == safejs.TypeFunction }

// isThenable reports whether v is an object or function with a then method
// (a Promise or a Promise-like), as await would treat it.
func isThenable(v safejs.Value) bool {
	if t := v.Type(); t != safejs.TypeObject && t != safejs.TypeFunction {
		return false
	}
	then, err := v.Get("then")
	return err == nil && isFunction(then)
}
