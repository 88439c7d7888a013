//go:build js && wasm

package main

import (
	"github.com/hack-pad/safejs"
)

// promise is a JavaScript Promise that Go settles. safejs has no Promise
// helper: the executor Func captures resolve and reject while the Promise
// constructor runs it (synchronously), and is released right after.
type promise struct {
	value, resolve, reject safejs.Value
}

func newPromise() (*promise, error) {
	p := new(promise)
	exec, err := newFunc(func(_ safejs.Value, args []safejs.Value) any {
		if len(args) >= 2 {
			p.resolve, p.reject = args[0], args[1]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	defer releaseFunc(exec)
	if p.value, err = g.Promise.New(exec); err != nil {
		return nil, err
	}
	return p, nil
}

// settle resolves the promise with v (converted like safejs.ValueOf: bool,
// numbers, strings, safejs values; nil is undefined, for Promise<void>), or
// rejects it with jsError(err). It may be called from any goroutine, once.
func (p *promise) settle(v any, err error) {
	if err != nil {
		_, _ = p.reject.Invoke(jsError(err))
		return
	}
	if v == nil {
		v = safejs.Undefined()
	}
	if _, err := p.resolve.Invoke(v); err != nil {
		// v has no JavaScript form: a bug in this package, not the caller's.
		_, _ = p.reject.Invoke(jsError(&codeError{code: codeInternal, msg: "switchboard: " + err.Error()}))
	}
}

// rejected returns Promise.reject(jsError(err)), for a call that fails
// before any work starts (bad arguments, closed client).
func rejected(err error) any {
	v, jerr := g.Promise.Call("reject", jsError(err))
	if jerr != nil {
		return nil
	}
	return v
}

// resolved returns Promise.resolve(v); nil is undefined.
func resolved(v any) any {
	if v == nil {
		v = safejs.Undefined()
	}
	p, err := g.Promise.Call("resolve", v)
	if err != nil {
		return nil
	}
	return p
}

// awaitJS waits, like await, for v to settle when it is a thenable, and
// returns its value or its rejection reason (a *thrownError). It returns
// errClosed when stop is closed first. It blocks: call it from a goroutine,
// never from a JavaScript callback.
func awaitJS(v safejs.Value, stop <-chan struct{}) (safejs.Value, error) {
	if !isThenable(v) {
		return v, nil
	}
	type result struct {
		v  safejs.Value
		ok bool
	}
	ch := make(chan result, 1)
	settled := func(ok bool) func(safejs.Value, []safejs.Value) any {
		return func(_ safejs.Value, args []safejs.Value) any {
			r := result{v: safejs.Undefined(), ok: ok}
			if len(args) > 0 {
				r.v = args[0]
			}
			select { // never blocks: the callback runs on the event loop
			case ch <- r:
			default:
			}
			return nil
		}
	}
	onOK, err := newFunc(settled(true))
	if err != nil {
		return v, err
	}
	defer releaseFunc(onOK)
	onErr, err := newFunc(settled(false))
	if err != nil {
		return v, err
	}
	defer releaseFunc(onErr)
	if _, err := v.Call("then", onOK, onErr); err != nil {
		return v, &thrownError{v: thrownValue(err)}
	}
	select {
	case r := <-ch:
		if !r.ok {
			return r.v, &thrownError{v: r.v}
		}
		return r.v, nil
	case <-stop:
		return safejs.Undefined(), errClosed
	}
}
