//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/switchboardhq/switchboard/client"
	"github.com/switchboardhq/switchboard/protocol"
)

// jsClient is one Client object of switchboard.d.ts over a *client.Client.
//
// Goroutines: every Promise-returning method does its work in a goroutine
// started by goTracked and counted in wg; the watcher goroutine (watch)
// owns the shutdown: after close() or a terminal close by the server it
// refuses new calls, closes the client, waits for wg, and releases every
// Func. User callbacks run on the client's handler goroutine.
type jsClient struct {
	c   *client.Client // set once Dial returned, before any method exists
	obj safejs.Value

	onStateFn, onErrorFn safejs.Value // from ConnectOptions; functions or undefined
	live                 atomic.Bool  // Dial returned: asynchronous errors go to onError

	funcs funcSet

	mu        sync.Mutex
	closing   bool         // no more goroutines may start
	onDefault safejs.Value // the default handler, or undefined
	rejectFn  safejs.Value // reports a message handler's rejected promise

	wg           sync.WaitGroup
	stop         chan struct{} // closed when the shutdown starts: awaits give up
	closeReq     chan struct{} // closed by close()
	closeReqOnce sync.Once
	closed       chan struct{} // closed when the shutdown is complete
}

func newJSClient(onState, onError safejs.Value) *jsClient {
	return &jsClient{
		onStateFn: onState,
		onErrorFn: onError,
		stop:      make(chan struct{}),
		closeReq:  make(chan struct{}),
		closed:    make(chan struct{}),
	}
}

// hook installs the client's callbacks into o.
func (jc *jsClient) hook(o *client.Options) {
	o.OnState = func(s client.State) {
		if isFunction(jc.onStateFn) {
			jc.call("onState", jc.onStateFn, s.String())
		}
	}
	o.OnError = func(err error) {
		// Before Dial returns, errors belong to connect's rejection.
		if !jc.live.Load() {
			return
		}
		if jc.c.State() == client.StateClosed {
			if cause := jc.c.Err(); cause != nil && errors.Is(err, cause) {
				err = terminal(err)
			}
		}
		jc.report(err)
	}
	o.DefaultHandler = func(m *client.Message) {
		jc.mu.Lock()
		fn := jc.onDefault
		jc.mu.Unlock()
		if isFunction(fn) {
			jc.deliver("default handler", fn, m)
		}
	}
}

// dial connects and builds the JavaScript object.
func dial(co *connectOptions) (*jsClient, error) {
	jc := newJSClient(co.onState, co.onError)
	o := co.opts
	jc.hook(&o)
	if err := applyE2E(&o, co.e2e); err != nil {
		return nil, err
	}
	o.URLs = co.urls
	c, err := client.Dial(context.Background(), co.url, o)
	if err != nil {
		return nil, err
	}
	jc.c = c
	if err := jc.build(); err != nil {
		_ = c.Close()
		jc.funcs.releaseAll()
		return nil, err
	}
	jc.live.Store(true)
	go jc.watch()
	return jc, nil
}

// build creates the Client object: clientId and url (getters: they change
// on every reconnect, url on a failover), name, sessionId, encrypted, and
// the methods.
func (jc *jsClient) build() error {
	obj, err := newObject()
	if err != nil {
		return err
	}
	jc.obj = obj
	c := jc.c
	if _, err := jc.funcs.getter(obj, "clientId", func() any { return c.ClientID() }); err != nil {
		return err
	}
	if _, err := jc.funcs.getter(obj, "url", func() any { return c.URL() }); err != nil {
		return err
	}
	if err := setAll(obj, "name", c.Name(), "sessionId", c.SessionID(), "encrypted", clientEncrypted(c)); err != nil {
		return err
	}
	for _, m := range []struct {
		name  string
		after safejs.Func
		impl  func(safejs.Value, []safejs.Value) any
	}{
		{"subscribe", g.afterClose, jc.subscribe},
		{"publish", g.afterClose, jc.publish},
		{"request", g.afterClose, jc.request},
		{"onRequest", g.afterClose, jc.onRequest},
		{"send", g.afterClose, jc.send},
		{"presence", g.afterClose, jc.presence},
		{"onDefault", g.afterDone, jc.setDefault},
		{"ping", g.afterClose, jc.ping},
		{"close", g.afterDone, jc.close},
	} {
		if _, err := jc.funcs.method(obj, m.name, m.after, m.impl); err != nil {
			return err
		}
	}
	reject, err := newFunc(func(_ safejs.Value, args []safejs.Value) any {
		jc.report(&codeError{code: codeHandler, msg: "switchboard: a message handler's promise rejected: " + describeThrown(arg(args, 0)), cause: arg(args, 0)})
		return nil
	})
	if err != nil {
		return err
	}
	if _, ok := jc.funcs.add(reject, nil); !ok {
		return errClosed
	}
	jc.mu.Lock()
	jc.rejectFn = reject.Value()
	jc.mu.Unlock()
	return nil
}

// watch owns the shutdown, after close() or when the client closed by
// itself (terminal close code, reconnect given up).
func (jc *jsClient) watch() {
	select {
	case <-jc.c.Done():
	case <-jc.closeReq:
	}
	jc.mu.Lock()
	jc.closing = true
	jc.onDefault = safejs.Undefined()
	jc.mu.Unlock()
	close(jc.stop)
	_ = jc.c.Close() // fails pending calls with ErrClosed; waits for the handler goroutine
	jc.wg.Wait()
	jc.funcs.releaseAll()
	close(jc.closed)
}

// goTracked runs fn in a goroutine counted in wg, unless the client is
// closing (then it reports false and does nothing).
func (jc *jsClient) goTracked(fn func()) bool {
	jc.mu.Lock()
	defer jc.mu.Unlock()
	if jc.closing {
		return false
	}
	jc.wg.Add(1)
	go func() {
		defer jc.wg.Done()
		fn()
	}()
	return true
}

// async returns a Promise settled with work's result, computed in a
// tracked goroutine. It never blocks: methods called from JavaScript return
// it at once.
func (jc *jsClient) async(work func() (any, error)) any {
	p, err := newPromise()
	if err != nil {
		return rejected(err)
	}
	if !jc.goTracked(func() { p.settle(work()) }) {
		p.settle(nil, errClosed)
	}
	return p.value
}

// call invokes a user callback; an exception is reported to onError with
// code 'handler'. It reports whether the callback returned normally.
func (jc *jsClient) call(what string, fn safejs.Value, args ...any) (safejs.Value, bool) {
	ret, err := fn.Invoke(args...)
	if err != nil {
		jc.handlerFailed(what, err)
		return ret, false
	}
	return ret, true
}

func (jc *jsClient) handlerFailed(what string, err error) {
	jc.report(&codeError{code: codeHandler, msg: "switchboard: " + what + " failed: " + thrownMessage(err), cause: thrownValue(err)})
}

// report hands err to onError as a SwitchboardError, or to console.error
// when there is no onError or it threw.
func (jc *jsClient) report(err error) {
	e := jsError(err)
	if isFunction(jc.onErrorFn) {
		_, ierr := jc.onErrorFn.Invoke(e)
		if ierr == nil {
			return
		}
		_, _ = g.console.Call("error", "switchboard: onError threw", thrownValue(ierr))
	}
	_, _ = g.console.Call("error", e)
}

// deliver passes m to a message handler (on the handler goroutine).
func (jc *jsClient) deliver(what string, h safejs.Value, m *client.Message) {
	msg, err := messageToJS(m)
	if err != nil {
		jc.report(err)
		return
	}
	jc.invoke(what, h, msg)
}

// invoke calls a handler that answers nothing (messages, presence events,
// gaps) with v, on the handler goroutine. A handler that returns a promise
// has its rejection reported like an exception.
func (jc *jsClient) invoke(what string, h, v safejs.Value) {
	ret, ok := jc.call(what, h, v)
	if !ok || !isThenable(ret) {
		return
	}
	jc.mu.Lock()
	reject := jc.rejectFn
	jc.mu.Unlock()
	if isFunction(reject) {
		_, _ = ret.Call("then", safejs.Undefined(), reject)
	}
}

// answer runs a request handler (on the handler goroutine) and replies with
// its return value, or the value its promise resolves to. A handler that
// throws or rejects is reported to onError and the requester gets
// {"error": message}. A promise is awaited in a tracked goroutine, so that
// later messages are not held up.
func (jc *jsClient) answer(pattern string, h safejs.Value, m *client.Message) {
	if m.ReplyTo == "" {
		return // a plain publish on the pattern: not a request
	}
	what := "request handler for " + strconv.Quote(pattern)
	msg, err := messageToJS(m)
	if err != nil {
		jc.failRequest(what, m, err)
		return
	}
	ret, err := h.Invoke(msg)
	if err != nil {
		jc.failRequest(what, m, err)
		return
	}
	if !isThenable(ret) {
		jc.finishRequest(what, m, ret)
		return
	}
	jc.goTracked(func() {
		v, err := awaitJS(ret, jc.stop)
		switch {
		case err == errClosed:
			// closing: the request goes unanswered
		case err != nil:
			jc.failRequest(what, m, err)
		default:
			jc.finishRequest(what, m, v)
		}
	})
}

func (jc *jsClient) finishRequest(what string, m *client.Message, v safejs.Value) {
	raw, err := payloadFromJS(v)
	if err != nil {
		jc.failRequest(what, m, err)
		return
	}
	jc.respond(m, raw)
}

func (jc *jsClient) failRequest(what string, m *client.Message, err error) {
	jc.handlerFailed(what, err)
	jc.respond(m, errorReply(thrownMessage(err)))
}

// respond queues the reply without waiting for the ack: a refusal by the
// server (e.g. not_found after the request timed out) reaches onError.
func (jc *jsClient) respond(m *client.Message, raw json.RawMessage) {
	if err := m.Respond(raw); err != nil && !errors.Is(err, client.ErrClosed) {
		jc.report(err)
	}
}

// errorReply is the reply payload of a failed request handler.
func errorReply(msg string) json.RawMessage {
	b := append([]byte(`{"error":`), protocol.AppendString(nil, msg)...)
	return append(b, '}')
}

// subscribe(pattern, handler, {presence, onGap, since}):
// Promise<Subscription>. The options map to the client's WithPresence,
// WithGapHandler and WithSince (delivery.go).
func (jc *jsClient) subscribe(_ safejs.Value, args []safejs.Value) any {
	pattern, err := argString(args, 0, "pattern")
	if err != nil {
		return rejected(err)
	}
	h, err := argFunc(args, 1, "handler")
	if err != nil {
		return rejected(err)
	}
	so, err := parseSubscribeOptions(arg(args, 2))
	if err != nil {
		return rejected(err)
	}
	what := "handler for " + strconv.Quote(pattern)
	opts := so.goOptions(jc, pattern)
	return jc.async(func() (any, error) {
		return jc.subscription(jc.c.Subscribe(context.Background(), pattern, func(m *client.Message) {
			jc.deliver(what, h, m)
		}, opts...))
	})
}

// presence(topic): Promise<Member[]>.
func (jc *jsClient) presence(_ safejs.Value, args []safejs.Value) any {
	topic, err := argString(args, 0, "topic")
	if err != nil {
		return rejected(err)
	}
	return jc.async(func() (any, error) {
		ms, err := jc.c.Presence(context.Background(), topic)
		if err != nil {
			return nil, err
		}
		return membersToJS(ms)
	})
}

// onRequest(pattern, handler): Promise<Subscription>.
func (jc *jsClient) onRequest(_ safejs.Value, args []safejs.Value) any {
	pattern, err := argString(args, 0, "pattern")
	if err != nil {
		return rejected(err)
	}
	h, err := argFunc(args, 1, "handler")
	if err != nil {
		return rejected(err)
	}
	return jc.async(func() (any, error) {
		return jc.subscription(jc.c.Subscribe(context.Background(), pattern, func(m *client.Message) {
			jc.answer(pattern, h, m)
		}))
	})
}

// subscription builds the Subscription object {pattern, position,
// unsubscribe()}. Its two Funcs (the position getter and unsubscribe) are
// released when unsubscribe is called, or when the client closes; position
// then keeps its last value.
func (jc *jsClient) subscription(s *client.Subscription, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	obj, err := newObject()
	if err == nil {
		err = obj.Set("pattern", s.Pattern())
	}
	var posID uint64
	if err == nil {
		posID, err = jc.funcs.getter(obj, "position", func() any {
			v, err := positionToJS(s.Position())
			if err != nil {
				return nil // null: only if the page's Object is broken
			}
			return v
		})
	}
	if err != nil {
		_ = s.Unsubscribe()
		return nil, err
	}
	var id atomic.Uint64
	n, err := jc.funcs.method(obj, "unsubscribe", g.afterDone, func(safejs.Value, []safejs.Value) any {
		// Unsubscribe never blocks: the handler is removed at once and the
		// unsubscribe queued. After close there is nothing left to do.
		_ = s.Unsubscribe()
		jc.funcs.release(posID)
		jc.funcs.release(id.Load())
		return resolved(nil)
	})
	if err != nil {
		jc.funcs.release(posID)
		_ = s.Unsubscribe()
		return nil, err
	}
	id.Store(n)
	return obj, nil
}

// publish(topic, payload, {timestamp}): Promise<number> (the seq).
func (jc *jsClient) publish(_ safejs.Value, args []safejs.Value) any {
	topic, err := argString(args, 0, "topic")
	if err != nil {
		return rejected(err)
	}
	raw, err := payloadFromJS(arg(args, 1))
	if err != nil {
		return rejected(err)
	}
	var opts []client.PublishOption
	if o := arg(args, 2); isObject(o) {
		if ts, err := o.Get("timestamp"); err == nil && !isNullish(ts) {
			t, err := timestampFromJS(ts)
			if err != nil {
				return rejected(err)
			}
			opts = append(opts, client.WithTimestamp(t))
		}
	}
	return jc.async(func() (any, error) {
		seq, err := jc.c.Publish(context.Background(), topic, raw, opts...)
		return float64(seq), err
	})
}

// request(topic, payload, {timeoutMs}): Promise<Message>.
func (jc *jsClient) request(_ safejs.Value, args []safejs.Value) any {
	topic, err := argString(args, 0, "topic")
	if err != nil {
		return rejected(err)
	}
	raw, err := payloadFromJS(arg(args, 1))
	if err != nil {
		return rejected(err)
	}
	var timeout time.Duration
	if o := arg(args, 2); isObject(o) {
		r := optReader{obj: o, where: "options"}
		timeout = r.millis("timeoutMs")
		if r.err != nil {
			return rejected(r.err)
		}
	}
	return jc.async(func() (any, error) {
		ctx := context.Background()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		m, err := jc.c.Request(ctx, topic, raw)
		if err != nil {
			return nil, err
		}
		return messageToJS(m)
	})
}

// send(toClientId, topic, payload): Promise<void>.
func (jc *jsClient) send(_ safejs.Value, args []safejs.Value) any {
	to, err := argString(args, 0, "toClientId")
	if err != nil {
		return rejected(err)
	}
	topic, err := argString(args, 1, "topic")
	if err != nil {
		return rejected(err)
	}
	raw, err := payloadFromJS(arg(args, 2))
	if err != nil {
		return rejected(err)
	}
	return jc.async(func() (any, error) {
		return nil, jc.c.Send(context.Background(), to, topic, raw)
	})
}

// onDefault(handler): void. null or undefined removes the handler.
func (jc *jsClient) setDefault(_ safejs.Value, args []safejs.Value) any {
	h := arg(args, 0)
	if !isFunction(h) && !isNullish(h) {
		_, _ = g.console.Call("error", "switchboard: onDefault takes a function or null")
		return safejs.Undefined()
	}
	jc.mu.Lock()
	if !jc.closing {
		jc.onDefault = h
	}
	jc.mu.Unlock()
	return safejs.Undefined()
}

// ping(): Promise<number> (milliseconds, fractional).
func (jc *jsClient) ping(safejs.Value, []safejs.Value) any {
	return jc.async(func() (any, error) {
		d, err := jc.c.Ping(context.Background())
		return float64(d.Microseconds()) / 1000, err
	})
}

// close(): Promise<void>, resolved when the connection is closed and every
// Func released. Idempotent.
func (jc *jsClient) close(safejs.Value, []safejs.Value) any {
	jc.closeReqOnce.Do(func() { close(jc.closeReq) })
	p, err := newPromise()
	if err != nil {
		return rejected(err)
	}
	// Not tracked in wg (the shutdown waits for wg): it ends with the
	// shutdown, which nothing can hold up for long.
	go func() {
		<-jc.closed
		p.settle(nil, nil)
	}()
	return p.value
}

// Argument helpers. A wrong argument rejects with bad_request.

func arg(args []safejs.Value, i int) safejs.Value {
	if i < len(args) {
		return args[i]
	}
	return safejs.Undefined()
}

func argString(args []safejs.Value, i int, name string) (string, error) {
	v := arg(args, i)
	if v.Type() != safejs.TypeString {
		return "", &codeError{code: codeBadRequest, msg: "switchboard: " + name + " must be a string"}
	}
	return v.String()
}

func argFunc(args []safejs.Value, i int, name string) (safejs.Value, error) {
	v := arg(args, i)
	if !isFunction(v) {
		return v, &codeError{code: codeBadRequest, msg: "switchboard: " + name + " must be a function"}
	}
	return v, nil
}

func isNullish(v safejs.Value) bool { return v.IsUndefined() || v.IsNull() }

func isObject(v safejs.Value) bool { return v.Type() == safejs.TypeObject && !v.IsNull() }

// optReader reads an options object, keeping the first error: a property
// of the wrong type is a bad_request. undefined and null mean "not set".
type optReader struct {
	obj   safejs.Value
	where string // "options", for messages
	err   error
}

func (r *optReader) get(key string) safejs.Value {
	if r.err != nil || !isObject(r.obj) {
		return safejs.Undefined()
	}
	v, err := r.obj.Get(key)
	if err != nil {
		r.err = err
		return safejs.Undefined()
	}
	if v.IsNull() {
		return safejs.Undefined()
	}
	return v
}

func (r *optReader) fail(key, what string) {
	if r.err == nil {
		r.err = &codeError{code: codeBadRequest, msg: "switchboard: " + r.where + "." + key + " must be " + what}
	}
}

func (r *optReader) str(key string) string {
	v := r.get(key)
	if v.IsUndefined() {
		return ""
	}
	if v.Type() != safejs.TypeString {
		r.fail(key, "a string")
		return ""
	}
	s, _ := v.String()
	return s
}

// strs reads an array of strings (nil when absent).
func (r *optReader) strs(key string) []string {
	v := r.get(key)
	if v.IsUndefined() {
		return nil
	}
	isArray, err := g.Array.Call("isArray", v)
	if ok, _ := isArray.Bool(); err != nil || !ok {
		r.fail(key, "an array of strings")
		return nil
	}
	n, err := v.Length()
	if err != nil {
		r.err = err
		return nil
	}
	out := make([]string, 0, n)
	for i := range n {
		e, err := v.Index(i)
		if err != nil || e.Type() != safejs.TypeString {
			r.fail(key, "an array of strings")
			return nil
		}
		s, _ := e.String()
		out = append(out, s)
	}
	return out
}

func (r *optReader) boolean(key string) (b, set bool) {
	v := r.get(key)
	if v.IsUndefined() {
		return false, false
	}
	if v.Type() != safejs.TypeBoolean {
		r.fail(key, "a boolean")
		return false, false
	}
	b, _ = v.Bool()
	return b, true
}

// millis reads a duration in milliseconds: a finite number ≥ 0 (0: the
// default).
func (r *optReader) millis(key string) time.Duration {
	v := r.get(key)
	if v.IsUndefined() {
		return 0
	}
	f, err := v.Float()
	if v.Type() != safejs.TypeNumber || err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		r.fail(key, "a number of milliseconds ≥ 0")
		return 0
	}
	return time.Duration(f * float64(time.Millisecond))
}

func (r *optReader) fn(key string) safejs.Value {
	v := r.get(key)
	if !v.IsUndefined() && !isFunction(v) {
		r.fail(key, "a function")
		return safejs.Undefined()
	}
	return v
}
