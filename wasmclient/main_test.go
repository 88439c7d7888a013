//go:build js && wasm

package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hack-pad/safejs"
)

// The tests run under Node:
//
//	GOOS=js GOARCH=wasm NODE_OPTIONS=--experimental-websocket \
//	  go test -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./wasmclient/
//
// With SWITCHBOARD_TEST_URL (e.g. ws://127.0.0.1:18931/ws) they also drive
// the JavaScript API against that server.

// TestMain fails the run if goroutines outlive the tests: a closed client
// must leave none behind.
func TestMain(m *testing.M) {
	if err := initGlobals(); err != nil {
		fmt.Fprintln(os.Stderr, "initGlobals:", err)
		os.Exit(1)
	}
	code := m.Run()
	var leaked []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		leaked = leakedGoroutines()
		if len(leaked) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(leaked) > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "goroutine leak: %d goroutines outlived the tests:\n\n%s\n", len(leaked), strings.Join(leaked, "\n\n"))
		code = 1
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of all goroutines but this one and the
// runtime's own (js/wasm keeps one waiting for JavaScript events).
func leakedGoroutines() []string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var leaked []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 || strings.Contains(g, "runtime.handleEvent") {
			continue
		}
		leaked = append(leaked, g)
	}
	return leaked
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// jsEval evaluates a JavaScript expression (tests only: pages may forbid
// eval, the package never uses it).
func jsEval(t testing.TB, src string) safejs.Value {
	t.Helper()
	ctor, err := safejs.Global().Get("Function")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ctor.New("return (" + src + ");")
	if err != nil {
		t.Fatalf("compile %s: %v", src, err)
	}
	v, err := f.Invoke()
	if err != nil {
		t.Fatalf("eval %s: %v", src, err)
	}
	return v
}

// jsonOf is JSON.stringify(v).
func jsonOf(t testing.TB, v safejs.Value) string {
	t.Helper()
	s, err := g.JSON.Call("stringify", v)
	if err != nil {
		t.Fatalf("JSON.stringify: %v", err)
	}
	str, _ := s.String()
	return str
}

// await waits for a promise from the test goroutine (which, unlike a
// JavaScript callback, may block).
func await(t testing.TB, p safejs.Value) (safejs.Value, error) {
	t.Helper()
	stop := make(chan struct{})
	timer := time.AfterFunc(15*time.Second, func() { close(stop) })
	defer timer.Stop()
	if !isThenable(p) {
		t.Fatalf("not a promise: %s", jsString(p))
	}
	v, err := awaitJS(p, stop)
	if err == errClosed {
		t.Fatal("promise not settled within 15s")
	}
	return v, err
}

// mustAwait awaits p and fails the test if it rejects.
func mustAwait(t testing.TB, p safejs.Value) safejs.Value {
	t.Helper()
	v, err := await(t, p)
	if err != nil {
		t.Fatalf("rejected: %s (code %s)", describeThrown(thrownValue(err)), rejectionCode(err))
	}
	return v
}

// awaitCode awaits p, which must reject with a SwitchboardError of code.
func awaitCode(t testing.TB, p safejs.Value, code string) safejs.Value {
	t.Helper()
	v, err := await(t, p)
	if err == nil {
		t.Fatalf("resolved with %s, want a rejection with code %q", jsString(v), code)
	}
	if got := rejectionCode(err); got != code {
		t.Fatalf("rejected with code %q (%s), want %q", got, describeThrown(thrownValue(err)), code)
	}
	return thrownValue(err)
}

func rejectionCode(err error) string {
	return str(prop(thrownValue(err), "code"))
}

// call calls obj[method](args...).
func call(t testing.TB, obj safejs.Value, method string, args ...any) safejs.Value {
	t.Helper()
	v, err := obj.Call(method, args...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return v
}

func prop(v safejs.Value, key string) safejs.Value {
	p, err := v.Get(key)
	if err != nil {
		return safejs.Undefined()
	}
	return p
}

func str(v safejs.Value) string {
	if v.Type() != safejs.TypeString {
		return "<" + v.Type().String() + ">"
	}
	s, _ := v.String()
	return s
}

// recorder is a JavaScript function that records its first argument.
type recorder struct {
	fn safejs.Func
	ch chan safejs.Value
}

func newRecorder(t testing.TB) *recorder {
	t.Helper()
	r := &recorder{ch: make(chan safejs.Value, 100)}
	var err error
	r.fn, err = safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		select { // never block in a callback
		case r.ch <- arg(args, 0):
		default:
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.fn.Release)
	return r
}

func (r *recorder) next(t testing.TB) safejs.Value {
	t.Helper()
	select {
	case v := <-r.ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("recorder: nothing within 10s")
		return safejs.Undefined()
	}
}

// nextWhere returns the next recorded value for which ok holds, skipping
// others.
func (r *recorder) nextWhere(t testing.TB, ok func(safejs.Value) bool) safejs.Value {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case v := <-r.ch:
			if ok(v) {
				return v
			}
		case <-deadline:
			t.Fatal("recorder: no matching value within 10s")
			return safejs.Undefined()
		}
	}
}

func obj(t testing.TB, kv ...any) safejs.Value {
	t.Helper()
	o, err := newObject()
	if err == nil {
		err = setAll(o, kv...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return o
}
