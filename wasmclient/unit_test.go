//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/switchboardhq/switchboard/client"
	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/seal"
)

func TestPayloadFromJS(t *testing.T) {
	for _, tc := range []struct {
		src, want string
	}{
		{`({text: "hi", n: 1, nested: [true, null]})`, `{"text":"hi","n":1,"nested":[true,null]}`},
		{`"a \"quoted\" é ✓"`, `"a \"quoted\" é ✓"`},
		{`42.5`, `42.5`},
		{`null`, `null`},
		{`undefined`, `null`},
		{`() => 1`, `null`},
		{`new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))`, `"2024-01-02T03:04:05.678Z"`},
		{`({toJSON() { return "custom" }})`, `"custom"`},
		{`({skip: undefined, keep: 1})`, `{"keep":1}`},
	} {
		raw, err := payloadFromJS(jsEval(t, tc.src))
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if string(raw) != tc.want {
			t.Errorf("%s: got %s, want %s", tc.src, raw, tc.want)
		}
		if !json.Valid(raw) {
			t.Errorf("%s: %s is not valid JSON", tc.src, raw)
		}
	}
	for _, src := range []string{`10n`, `(() => { const o = {}; o.self = o; return o })()`} {
		_, err := payloadFromJS(jsEval(t, src))
		if got := errorCode(err); got != codeBadRequest {
			t.Errorf("%s: code %q (%v), want bad_request", src, got, err)
		}
	}
}

func TestPayloadToJS(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`{"a":[1,2,{"b":null}]}`, `{"a":[1,2,{"b":null}]}`},
		{`"e2e:AQ"`, `"e2e:AQ"`},
		{``, `null`},
		{`not json`, `"not json"`},
	} {
		if got := jsonOf(t, payloadToJS(json.RawMessage(tc.raw))); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.raw, got, tc.want)
		}
	}
}

func TestMessageToJS(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)
	for _, tc := range []struct {
		name string
		m    client.Message
		want string
	}{
		{"publish", client.Message{Topic: "chat.room1", Payload: json.RawMessage(`{"text":"hi"}`), PublisherName: "alice",
			Timestamp: ts, SessionID: "demo", Seq: 7, Encrypted: true},
			`{"topic":"chat.room1","payload":{"text":"hi"},"publisherName":"alice","timestamp":"2024-01-02T03:04:05.678Z","sessionId":"demo","seq":7,"encrypted":true}`},
		{"request", client.Message{Topic: "math.double", Payload: json.RawMessage(`21`), PublisherName: "bob",
			Timestamp: ts, SessionID: "demo", ReplyTo: "r1"},
			`{"topic":"math.double","payload":21,"publisherName":"bob","timestamp":"2024-01-02T03:04:05.678Z","sessionId":"demo","replyTo":"r1","encrypted":false}`},
		{"send without timestamp", client.Message{Topic: "direct", Payload: json.RawMessage(`null`), PublisherName: "$server",
			SessionID: "demo", From: "c9"},
			`{"topic":"direct","payload":null,"publisherName":"$server","sessionId":"demo","from":"c9","encrypted":false}`},
	} {
		v, err := messageToJS(&tc.m)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := jsonOf(t, v); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// seq is a number, not a string or a BigInt.
	v, _ := messageToJS(&client.Message{Topic: "t", Seq: 1 << 52})
	if f, err := prop(v, "seq").Float(); err != nil || f != 1<<52 {
		t.Errorf("seq = %v, %v", f, err)
	}
}

func TestTimestampFromJS(t *testing.T) {
	want := time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)
	for _, src := range []string{`"2024-01-02T03:04:05.678Z"`, `"2024-01-02T04:04:05.678+01:00"`, `new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))`} {
		got, err := timestampFromJS(jsEval(t, src))
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v, %v", src, got, err)
		}
	}
	for _, src := range []string{`"yesterday"`, `1704164645678`, `new Date(NaN)`, `({})`} {
		if _, err := timestampFromJS(jsEval(t, src)); errorCode(err) != codeBadRequest {
			t.Errorf("%s: err %v, want bad_request", src, err)
		}
	}
}

func TestErrorCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&protocol.Error{Code: protocol.CodeForbidden, Message: "no"}, "forbidden"},
		{fmt.Errorf("client: publish: %w", &protocol.Error{Code: protocol.CodeNoResponders}), "no_responders"},
		{fmt.Errorf("%w (%w)", &protocol.Error{Code: protocol.CodeTimeout}, context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("x: %w", client.ErrClosed), "closed"},
		{fmt.Errorf("%w: %w", client.ErrClosed, &protocol.Error{Code: protocol.CodeUnauthorized}), "closed"},
		{fmt.Errorf("x: %w", client.ErrNotConnected), "not_connected"},
		{fmt.Errorf("x: %w", client.ErrBufferFull), "not_connected"},
		{fmt.Errorf("x: %w", client.ErrConnectionLost), "network"},
		{fmt.Errorf("x: %w", client.ErrHeartbeatTimeout), "network"},
		{fmt.Errorf("x: %w", client.ErrReconnectFailed), "network"},
		{fmt.Errorf("dial: WebSocket closed before opening: %w", &client.CloseError{Code: 1006}), "network"},
		{&client.CloseError{Code: protocol.CloseShutdown}, "network"},
		{&client.CloseError{Code: protocol.CloseUnauthorized}, "closed"},
		{&client.CloseError{Code: protocol.CloseNormal}, "closed"},
		{fmt.Errorf("x: %w", client.ErrTooLarge), "too_large"},
		{fmt.Errorf("x: %w", client.ErrSlowConsumer), "slow_consumer"},
		{fmt.Errorf("x: %w", client.ErrInvalidPayload), "bad_request"},
		{fmt.Errorf("x: %w", client.ErrInvalidURL), "bad_request"},
		{fmt.Errorf("x: %w", protocol.ErrInvalidTopic), "bad_request"},
		{fmt.Errorf("x: %w", protocol.ErrReservedTopic), "bad_request"},
		{fmt.Errorf("x: %w", protocol.ErrInvalidName), "bad_request"},
		{fmt.Errorf("dial: %w", seal.ErrWrongKey), "wrong_key"},
		{&client.OpenError{Topic: "t", Err: fmt.Errorf("seal: %w", seal.ErrAuth)}, "tampered"},
		{&client.OpenError{Topic: "t", Err: seal.ErrMalformed}, "tampered"},
		{&client.OpenError{Topic: "t", Err: seal.ErrReplay}, "replay"},
		{&client.OpenError{Topic: "t", Err: seal.ErrStale}, "stale"},
		{&client.OpenError{Topic: "t", Err: seal.ErrOutOfWindow}, "stale"},
		{&client.OpenError{Topic: "t", Err: seal.ErrUnsigned}, "unsigned"},
		{&client.OpenError{Topic: "t", Err: seal.ErrUnknownSender}, "unknown_sender"},
		{&client.OpenError{Topic: "t", Err: seal.ErrKeyChanged}, "key_changed"},
		{&client.OpenError{Topic: "t", Err: seal.ErrEpoch}, "wrong_key"},
		{&client.OpenError{Topic: "t", Err: client.ErrPlaintext}, "plaintext"},
		{fmt.Errorf("x: %w", client.ErrInvalidE2E), "bad_request"},
		{errClosed, "closed"},
		{&codeError{code: codeHandler, msg: "x"}, "handler"},
		{errors.New("something else"), "internal"},
	} {
		if got := errorCode(tc.err); got != tc.want {
			t.Errorf("errorCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestJSError(t *testing.T) {
	err := fmt.Errorf("client: publish \"t\": %w", &protocol.Error{Code: protocol.CodeForbidden, Message: "not yours"})
	e := jsError(err)
	if ok, _ := e.InstanceOf(g.Error); !ok {
		t.Error("not an instance of Error")
	}
	if got := str(prop(e, "name")); got != "SwitchboardError" {
		t.Errorf("name = %q", got)
	}
	if got := str(prop(e, "code")); got != "forbidden" {
		t.Errorf("code = %q", got)
	}
	if got := str(prop(e, "message")); got != err.Error() {
		t.Errorf("message = %q, want %q", got, err.Error())
	}
	if !prop(e, "cause").IsUndefined() {
		t.Error("cause set without a JavaScript cause")
	}

	// An exception caught by safejs becomes the cause.
	_, jerr := jsEval(t, `() => { throw new TypeError("boom") }`).Invoke()
	if jerr == nil {
		t.Fatal("no error from a throwing function")
	}
	if got := thrownMessage(jerr); got != "boom" {
		t.Errorf("thrownMessage = %q", got)
	}
	e = jsError(&codeError{code: codeHandler, msg: "handler failed", cause: thrownValue(jerr)})
	if got := str(prop(prop(e, "cause"), "name")); got != "TypeError" {
		t.Errorf("cause.name = %q", got)
	}
	// Thrown non-Errors are described with String().
	_, jerr = jsEval(t, `() => { throw "plain" }`).Invoke()
	if got := thrownMessage(jerr); got != "plain" {
		t.Errorf("thrownMessage(string) = %q", got)
	}
	_, jerr = jsEval(t, `() => { throw {code: 1} }`).Invoke()
	if got := thrownMessage(jerr); got != "[object Object]" {
		t.Errorf("thrownMessage(object) = %q", got)
	}

	// An OpenError says where the message came from.
	e = jsError(&client.OpenError{Topic: "chat.x", PublisherName: "mallory", Seq: 3, Err: seal.ErrAuth})
	if got := jsonOf(t, obj(t, "code", prop(e, "code"), "topic", prop(e, "topic"), "publisherName", prop(e, "publisherName"), "seq", prop(e, "seq"))); got != `{"code":"tampered","topic":"chat.x","publisherName":"mallory","seq":3}` {
		t.Errorf("open error: %s", got)
	}
}

func TestPromise(t *testing.T) {
	p, err := newPromise()
	if err != nil {
		t.Fatal(err)
	}
	go p.settle(float64(42), nil)
	if v := mustAwait(t, p.value); jsonOf(t, v) != "42" {
		t.Errorf("resolved with %s", jsonOf(t, v))
	}

	p, _ = newPromise()
	go p.settle(nil, fmt.Errorf("x: %w", &protocol.Error{Code: protocol.CodeNoResponders}))
	awaitCode(t, p.value, "no_responders")

	p, _ = newPromise()
	go p.settle(map[string]any{"a": "b"}, nil)
	if v := mustAwait(t, p.value); jsonOf(t, v) != `{"a":"b"}` {
		t.Errorf("resolved with %s", jsonOf(t, v))
	}

	// A value with no JavaScript form rejects with internal instead of
	// killing the program.
	p, _ = newPromise()
	go p.settle(struct{}{}, nil)
	awaitCode(t, p.value, "internal")

	awaitCode(t, safejsValue(rejected(errClosed)), "closed")
	if v := mustAwait(t, safejsValue(resolved("ok"))); str(v) != "ok" {
		t.Errorf("resolved(ok) = %s", jsString(v))
	}
}

func safejsValue(v any) safejs.Value {
	if sv, ok := v.(safejs.Value); ok {
		return sv
	}
	return safejs.Undefined()
}

func TestAwaitJS(t *testing.T) {
	stop := make(chan struct{})
	// Not a thenable: returned as is.
	v, err := awaitJS(jsEval(t, `5`), stop)
	if err != nil || jsonOf(t, v) != "5" {
		t.Errorf("plain value: %s, %v", jsonOf(t, v), err)
	}
	// A thenable that is not a Promise.
	v, err = awaitJS(jsEval(t, `({then(ok) { setTimeout(() => ok("later"), 5) }})`), stop)
	if err != nil || str(v) != "later" {
		t.Errorf("thenable: %s, %v", jsString(v), err)
	}
	_, err = awaitJS(jsEval(t, `Promise.reject(new Error("nope"))`), stop)
	if thrownMessage(err) != "nope" {
		t.Errorf("rejection: %v", err)
	}
	// stop ends the wait for a promise that never settles.
	before := liveFuncs.Load()
	close(stop)
	if _, err := awaitJS(jsEval(t, `new Promise(() => {})`), stop); err != errClosed {
		t.Errorf("never settles: %v", err)
	}
	if n := liveFuncs.Load(); n != before {
		t.Errorf("awaitJS leaked %d Funcs", n-before)
	}
}

func TestFuncSet(t *testing.T) {
	before := liveFuncs.Load()
	var s funcSet
	o := obj(t)
	if _, err := s.method(o, "publish", g.afterClose, func(safejs.Value, []safejs.Value) any { return "live" }); err != nil {
		t.Fatal(err)
	}
	id, err := s.method(o, "unsubscribe", g.afterDone, func(safejs.Value, []safejs.Value) any { return "live" })
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if _, err := s.getter(o, "clientId", func() any { n++; return fmt.Sprint("c", n) }); err != nil {
		t.Fatal(err)
	}
	if got := liveFuncs.Load() - before; got != 3 {
		t.Errorf("%d live Funcs, want 3", got)
	}
	if got := str(call(t, o, "publish")); got != "live" {
		t.Errorf("publish() = %q", got)
	}
	if a, b := str(prop(o, "clientId")), str(prop(o, "clientId")); a != "c1" || b != "c2" {
		t.Errorf("getter: %q, %q", a, b)
	}
	if got := jsonOf(t, call(t, g.Object, "keys", o)); got != `["publish","unsubscribe","clientId"]` {
		t.Errorf("keys: %s", got)
	}

	s.release(id)
	mustAwait(t, call(t, o, "unsubscribe")) // now g.afterDone: resolves

	s.releaseAll()
	if got := liveFuncs.Load() - before; got != 0 {
		t.Errorf("%d live Funcs after releaseAll", got)
	}
	awaitCode(t, call(t, o, "publish"), "closed")
	if got := str(prop(o, "clientId")); got != "c3" {
		t.Errorf("clientId after release = %q, want the last value c3", got)
	}
	if _, err := s.method(o, "late", g.afterClose, func(safejs.Value, []safejs.Value) any { return nil }); err != errClosed {
		t.Errorf("method after releaseAll: %v", err)
	}
	if got := liveFuncs.Load() - before; got != 0 {
		t.Errorf("%d live Funcs after a refused method", got)
	}
}

// TestAPIArguments checks what is refused before anything is dialled.
func TestAPIArguments(t *testing.T) {
	api, release, err := newAPI()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if got := str(prop(api, "version")); got != version {
		t.Errorf("version = %q", got)
	}
	for _, tc := range []struct {
		name string
		args []any
	}{
		{"no options", nil},
		{"not an object", []any{"ws://x"}},
		{"no url", []any{obj(t, "name", "a")}},
		{"url not a string", []any{obj(t, "url", 5, "name", "a")}},
		{"onError not a function", []any{obj(t, "url", "ws://127.0.0.1:1/ws", "name", "a", "onError", "x")}},
		{"negative timeout", []any{obj(t, "url", "ws://127.0.0.1:1/ws", "name", "a", "connectTimeoutMs", -1)}},
		{"both passphrase and secret", []any{obj(t, "url", "ws://127.0.0.1:1/ws", "name", "a", "passphrase", "p", "secret", "s")}},
		{"signed without a key", []any{obj(t, "url", "ws://127.0.0.1:1/ws", "name", "a", "signed", true)}},
		{"invalid name", []any{obj(t, "url", "ws://127.0.0.1:1/ws", "name", "no spaces")}},
		{"invalid url", []any{obj(t, "url", "ftp://x", "name", "a")}},
		{"empty urls", []any{obj(t, "urls", jsEval(t, `[]`), "name", "a")}},
		{"urls not an array", []any{obj(t, "urls", "ws://127.0.0.1:1/ws", "name", "a")}},
		{"urls with a number", []any{obj(t, "urls", jsEval(t, `["ws://127.0.0.1:1/ws", 5]`), "name", "a")}},
		{"invalid url in urls", []any{obj(t, "url", "ws://127.0.0.1:1/ws", "urls", jsEval(t, `["ftp://x"]`), "name", "a")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			awaitCode(t, call(t, api, "connect", tc.args...), "bad_request")
		})
	}
	for _, tc := range []struct {
		name string
		args []any
	}{
		{"no name", nil},
		{"subscription not a function", []any{"a", "ws://127.0.0.1:1/ws", obj(t, "subscriptions", obj(t, "t", 1))}},
		{"publishAction not a function", []any{"a", "ws://127.0.0.1:1/ws", nil, "x"}},
		{"sessionId not a string", []any{"a", "ws://127.0.0.1:1/ws", nil, nil, 5}},
	} {
		t.Run("createClient "+tc.name, func(t *testing.T) {
			awaitCode(t, call(t, api, "createClient", tc.args...), "bad_request")
		})
	}
}

// TestConnectRefused: nothing listens on port 1, so the WebSocket fails to
// open: code network, after onState saw connecting and closed, and nothing
// reached onError (the rejection carries the error).
//
// Node 20's WebSocket fires error but no close event for a refused
// connection (browsers fire close with 1006), and the client's transport
// waits for close: there the connect times out instead (code timeout).
func TestConnectRefused(t *testing.T) {
	api, release, err := newAPI()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	states, errs := newRecorder(t), newRecorder(t)
	before := liveFuncs.Load()
	_, err = await(t, call(t, api, "connect", obj(t, "url", "ws://127.0.0.1:1/ws", "name", "a",
		"onState", states.fn, "onError", errs.fn, "connectTimeoutMs", 1000)))
	if code := rejectionCode(err); code != "network" && code != "timeout" {
		t.Fatalf("rejected with %q (%v), want network (or timeout on Node 20)", code, err)
	}
	if a, b := str(states.next(t)), str(states.next(t)); a != "connecting" || b != "closed" {
		t.Errorf("states %q, %q", a, b)
	}
	select {
	case e := <-errs.ch:
		t.Errorf("onError got %s", jsString(e))
	default:
	}
	if n := liveFuncs.Load(); n != before {
		t.Errorf("%d Funcs leaked", n-before)
	}
}
