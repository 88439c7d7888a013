//go:build js && wasm

package main

import (
	"sync"
	"sync/atomic"

	"github.com/hack-pad/safejs"
)

// liveFuncs counts the Funcs created by newFunc and not yet released: the
// tests check that closing a client brings it back to where it was.
var liveFuncs atomic.Int64

// newFunc is safejs.FuncOf, counted. Every Func of the package is made here
// and released with releaseFunc.
func newFunc(fn func(this safejs.Value, args []safejs.Value) any) (safejs.Func, error) {
	f, err := safejs.FuncOf(fn)
	if err == nil {
		liveFuncs.Add(1)
	}
	return f, err
}

func releaseFunc(f safejs.Func) {
	f.Release()
	liveFuncs.Add(-1)
}

// funcSet owns the Funcs that one client exposes to JavaScript: its
// methods and getter, and its subscriptions' unsubscribe methods. Each
// entry has a detach function that replaces the Func in its object before
// the Func is released (with g.afterClose or g.afterDone), so a reference
// kept by the page fails politely instead of calling a released Func.
type funcSet struct {
	mu     sync.Mutex
	next   uint64
	fns    map[uint64]funcEntry
	closed bool // released: nothing more is accepted
}

type funcEntry struct {
	fn     safejs.Func
	detach func()
}

// add registers fn and returns its id. When the set is already released it
// releases fn at once and reports false.
func (s *funcSet) add(fn safejs.Func, detach func()) (uint64, bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		releaseFunc(fn)
		return 0, false
	}
	if s.fns == nil {
		s.fns = make(map[uint64]funcEntry)
	}
	s.next++
	id := s.next
	s.fns[id] = funcEntry{fn: fn, detach: detach}
	s.mu.Unlock()
	return id, true
}

// release detaches and releases the Func with id, if it is still held.
func (s *funcSet) release(id uint64) {
	s.mu.Lock()
	e, ok := s.fns[id]
	delete(s.fns, id)
	s.mu.Unlock()
	if ok {
		e.free()
	}
}

// releaseAll detaches and releases every Func, and refuses new ones.
func (s *funcSet) releaseAll() {
	s.mu.Lock()
	fns := s.fns
	s.fns = nil
	s.closed = true
	s.mu.Unlock()
	for _, e := range fns {
		e.free()
	}
}

// len is the number of Funcs held.
func (s *funcSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.fns)
}

// free runs outside the set's lock: detach calls into JavaScript.
func (e funcEntry) free() {
	if e.detach != nil {
		e.detach()
	}
	releaseFunc(e.fn)
}

// method installs impl as obj[name]; once released, obj[name] becomes
// after. It returns the entry's id.
func (s *funcSet) method(obj safejs.Value, name string, after safejs.Func, impl func(this safejs.Value, args []safejs.Value) any) (uint64, error) {
	fn, err := newFunc(impl)
	if err != nil {
		return 0, err
	}
	if err := obj.Set(name, fn); err != nil {
		releaseFunc(fn)
		return 0, err
	}
	id, ok := s.add(fn, func() { _ = obj.Set(name, after) })
	if !ok {
		_ = obj.Set(name, after)
		return 0, errClosed
	}
	return id, nil
}

// getter defines obj[name] as an enumerable read-only accessor that calls
// get; once released, the property keeps the last value get returned. It
// returns the entry's id.
func (s *funcSet) getter(obj safejs.Value, name string, get func() any) (uint64, error) {
	fn, err := newFunc(func(safejs.Value, []safejs.Value) any { return get() })
	if err != nil {
		return 0, err
	}
	define := func(kv ...any) error {
		desc, err := newObject()
		if err == nil {
			err = setAll(desc, kv...)
		}
		if err == nil {
			_, err = g.Object.Call("defineProperty", obj, name, desc)
		}
		return err
	}
	if err := define("get", fn, "enumerable", true, "configurable", true); err != nil {
		releaseFunc(fn)
		return 0, err
	}
	freeze := func() { _ = define("value", get(), "enumerable", true, "configurable", false, "writable", false) }
	id, ok := s.add(fn, freeze)
	if !ok {
		freeze()
		return 0, errClosed
	}
	return id, nil
}
