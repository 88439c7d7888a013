//go:build js && wasm

package main

import (
	"context"
	"errors"
	"strconv"

	"github.com/hack-pad/safejs"

	"github.com/switchboardhq/switchboard/client"
)

// version is the client library's version (Switchboard.version). Release
// builds set it with -ldflags '-X main.version=…'.
var version = "0.1.0"

// newAPI builds the Switchboard object of switchboard.d.ts: {version,
// connect, createClient}. release frees its two Funcs; the program never
// calls it (the API lives as long as the page), tests do.
func newAPI() (api safejs.Value, release func(), err error) {
	if err := initGlobals(); err != nil {
		return api, nil, err
	}
	api, err = newObject()
	if err != nil {
		return api, nil, err
	}
	if err := api.Set("version", version); err != nil {
		return api, nil, err
	}
	var fns []safejs.Func
	release = func() {
		for _, f := range fns {
			releaseFunc(f)
		}
	}
	for _, m := range []struct {
		name string
		impl func(safejs.Value, []safejs.Value) any
	}{
		{"connect", apiConnect},
		{"createClient", apiCreateClient},
	} {
		f, err := newFunc(m.impl)
		if err == nil {
			fns = append(fns, f)
			err = api.Set(m.name, f)
		}
		if err != nil {
			release()
			return api, nil, err
		}
	}
	return api, release, nil
}

// goPromise returns a Promise settled with work's result, computed in a
// goroutine owned by the API (it ends when work returns; Dial is bounded by
// the connect timeout).
func goPromise(work func() (any, error)) any {
	p, err := newPromise()
	if err != nil {
		return rejected(err)
	}
	go func() { p.settle(work()) }()
	return p.value
}

// connectOptions are the parsed ConnectOptions.
type connectOptions struct {
	url              string
	urls             []string // more servers, for failover (client.Options.URLs)
	opts             client.Options
	e2e              e2eConfig
	onState, onError safejs.Value
}

// parseConnectOptions reads a ConnectOptions object. It runs in the
// calling JavaScript callback, so later changes to the object do not
// matter.
func parseConnectOptions(v safejs.Value) (*connectOptions, error) {
	if !isObject(v) {
		return nil, &codeError{code: codeBadRequest, msg: "switchboard: connect takes an options object {url, name, …}"}
	}
	r := optReader{obj: v, where: "options"}
	co := &connectOptions{url: r.str("url"), urls: r.strs("urls")}
	co.opts.Name = r.str("name")
	co.opts.SessionID = r.str("sessionId")
	co.opts.Token = r.str("token")
	if provider := r.fn("tokenProvider"); !provider.IsUndefined() {
		co.opts.TokenFunc = tokenFunc(provider)
	}
	co.e2e.passphrase = r.str("passphrase")
	co.e2e.secret = r.str("secret")
	co.e2e.signed, _ = r.boolean("signed")
	if reconnect, set := r.boolean("reconnect"); set && !reconnect {
		co.opts.DisableReconnect = true
	}
	if echo, set := r.boolean("echo"); set {
		co.opts.Echo = &echo
	}
	co.opts.ConnectTimeout = r.millis("connectTimeoutMs")
	co.onState = r.fn("onState")
	co.onError = r.fn("onError")
	if r.err != nil {
		return nil, r.err
	}
	if err := co.e2e.validate(); err != nil {
		return nil, err
	}
	return co, nil
}

// tokenFunc adapts options.tokenProvider, () => string | Promise<string>,
// to client.Options.TokenFunc. The client calls it from its own goroutines
// (Dial's runs in goPromise), never from a JavaScript callback, so waiting
// for the promise here blocks no event. No Func outlives a call: awaitJS
// releases its two when the promise settles or ctx ends.
func tokenFunc(provider safejs.Value) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		ret, err := provider.Invoke()
		if err != nil {
			return "", &thrownError{v: thrownValue(err)}
		}
		v, err := awaitJS(ret, ctx.Done())
		if errors.Is(err, errClosed) {
			return "", ctx.Err()
		}
		if err != nil {
			return "", err
		}
		if v.Type() != safejs.TypeString {
			return "", &codeError{code: codeBadRequest, msg: "switchboard: options.tokenProvider must return a string or a promise of one"}
		}
		return v.String()
	}
}

// connect(options): Promise<Client>.
func apiConnect(_ safejs.Value, args []safejs.Value) any {
	co, err := parseConnectOptions(arg(args, 0))
	if err == nil && co.url == "" && len(co.urls) == 0 {
		err = &codeError{code: codeBadRequest, msg: "switchboard: options.url or options.urls is required"}
	}
	if err != nil {
		return rejected(err)
	}
	return goPromise(func() (any, error) {
		jc, err := dial(co)
		if err != nil {
			return nil, err
		}
		return jc.obj, nil
	})
}

// subscriptionHandler is one entry of createClient's options.subscriptions.
type subscriptionHandler struct {
	pattern string
	fn      safejs.Value
}

// createClient(name, url, {subscriptions}, publishAction?, sessionId?):
// Promise<Client>, the original framework's one-call helper. The options
// object also accepts the fields of ConnectOptions (passphrase, onError, …)
// except url, name and sessionId, which are the arguments.
func apiCreateClient(_ safejs.Value, args []safejs.Value) any {
	name, err := argString(args, 0, "name")
	if err != nil {
		return rejected(err)
	}
	url, err := argString(args, 1, "url")
	if err != nil {
		return rejected(err)
	}
	options := arg(args, 2)
	if isNullish(options) {
		options, err = newObject()
		if err != nil {
			return rejected(err)
		}
	}
	co, err := parseConnectOptions(options)
	if err != nil {
		return rejected(err)
	}
	co.url, co.opts.Name, co.opts.SessionID = url, name, ""
	subs, err := readSubscriptions(options)
	if err != nil {
		return rejected(err)
	}
	action := arg(args, 3)
	if !isNullish(action) && !isFunction(action) {
		return rejected(&codeError{code: codeBadRequest, msg: "switchboard: publishAction must be a function"})
	}
	if s := arg(args, 4); !isNullish(s) {
		if co.opts.SessionID, err = argString(args, 4, "sessionId"); err != nil {
			return rejected(err)
		}
	}
	return goPromise(func() (any, error) {
		jc, err := dial(co)
		if err != nil {
			return nil, err
		}
		if err := jc.setUp(subs, action); err != nil {
			jc.closeReqOnce.Do(func() { close(jc.closeReq) })
			<-jc.closed
			return nil, err
		}
		return jc.obj, nil
	})
}

// readSubscriptions reads options.subscriptions: an object whose own
// enumerable keys are topics or patterns, in Object.keys order, and whose
// values are handlers.
func readSubscriptions(options safejs.Value) ([]subscriptionHandler, error) {
	r := optReader{obj: options, where: "options"}
	obj := r.get("subscriptions")
	if r.err != nil || obj.IsUndefined() {
		return nil, r.err
	}
	if !isObject(obj) {
		return nil, &codeError{code: codeBadRequest, msg: "switchboard: options.subscriptions must be an object {topic: handler}"}
	}
	keys, err := g.Object.Call("keys", obj)
	if err != nil {
		return nil, err
	}
	n, err := keys.Length()
	if err != nil {
		return nil, err
	}
	subs := make([]subscriptionHandler, 0, n)
	for i := range n {
		k, err := keys.Index(i)
		if err != nil {
			return nil, err
		}
		pattern, _ := k.String()
		sr := optReader{obj: obj, where: "options.subscriptions"}
		fn := sr.get(pattern)
		if sr.err != nil {
			return nil, sr.err
		}
		if !isFunction(fn) {
			return nil, &codeError{code: codeBadRequest, msg: "switchboard: options.subscriptions[" + pattern + "] must be a function"}
		}
		subs = append(subs, subscriptionHandler{pattern: pattern, fn: fn})
	}
	return subs, nil
}

// setUp subscribes createClient's handlers, in order, then runs
// publishAction(client) and waits for its promise. It runs in a goroutine.
func (jc *jsClient) setUp(subs []subscriptionHandler, action safejs.Value) error {
	for _, s := range subs {
		what := "handler for " + strconv.Quote(s.pattern)
		fn := s.fn
		if _, err := jc.c.Subscribe(context.Background(), s.pattern, func(m *client.Message) {
			jc.deliver(what, fn, m)
		}); err != nil {
			return err
		}
	}
	if !isFunction(action) {
		return nil
	}
	ret, err := action.Invoke(jc.obj)
	if err == nil {
		_, err = awaitJS(ret, jc.stop)
	}
	if err != nil {
		if errors.Is(err, errClosed) {
			return err
		}
		return &codeError{code: codeHandler, msg: "switchboard: publishAction failed: " + thrownMessage(err), cause: thrownValue(err)}
	}
	return nil
}
