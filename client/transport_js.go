//go:build js && wasm

package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/switchboardhq/switchboard/protocol"
)

// jsTransport is the browser transport: the global WebSocket object, reached
// through safejs so that JavaScript exceptions become Go errors. It does not
// import net/http, which keeps the wasm binary small.
//
// Event callbacks never block: they copy what they need, append under a
// short mutex and signal through buffered channels. Every js.Func is
// released when the socket closes or is aborted.
type jsTransport struct {
	ws safejs.Value

	mu        sync.Mutex
	queue     [][]byte
	limit     int64
	closeErr  error
	listeners []jsListener // nil once released

	sig        chan struct{} // cap 1: queue has data
	opened     chan struct{}
	closed     chan struct{}
	openOnce   sync.Once
	finishOnce sync.Once
}

type jsListener struct {
	event string
	fn    safejs.Func
}

var _ transport = (*jsTransport)(nil)

// errAborted ends reads on a transport the client itself aborted.
var errAborted = errors.New("client: connection aborted")

// jsCloseWait bounds how long Close waits for the browser's close event.
const jsCloseWait = 5 * time.Second

func dialTransport(ctx context.Context, url string, o *Options) (transport, error) {
	ctor, err := safejs.Global().Get("WebSocket")
	if err != nil || ctor.Type() != safejs.TypeFunction {
		return nil, errors.New("client: this JavaScript environment has no WebSocket")
	}
	ws, err := ctor.New(url, []any{protocol.Subprotocol})
	if err != nil {
		return nil, fmt.Errorf("new WebSocket: %w", err)
	}
	t := &jsTransport{
		ws:     ws,
		limit:  o.ReadLimit,
		sig:    make(chan struct{}, 1),
		opened: make(chan struct{}),
		closed: make(chan struct{}),
	}
	if err := ws.Set("binaryType", "arraybuffer"); err != nil {
		t.Abort()
		return nil, err
	}
	for _, l := range []struct {
		event string
		fn    func(ev safejs.Value)
	}{
		{"open", func(safejs.Value) { t.openOnce.Do(func() { close(t.opened) }) }},
		{"message", t.onMessage},
		{"close", t.onClose},
		// The error event carries no detail; the close event that follows
		// it says how the socket ended.
		{"error", func(safejs.Value) {}},
	} {
		if err := t.listen(l.event, l.fn); err != nil {
			t.Abort()
			return nil, err
		}
	}
	select {
	case <-t.opened:
		return t, nil
	case <-t.closed:
		t.release()
		return nil, fmt.Errorf("WebSocket closed before opening: %w", t.err())
	case <-ctx.Done():
		t.Abort()
		return nil, ctx.Err()
	}
}

func (t *jsTransport) listen(event string, fn func(ev safejs.Value)) error {
	f, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		if len(args) > 0 {
			fn(args[0])
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := t.ws.Call("addEventListener", event, f); err != nil {
		f.Release()
		return err
	}
	t.mu.Lock()
	t.listeners = append(t.listeners, jsListener{event, f})
	t.mu.Unlock()
	return nil
}

// release removes and releases every event listener.
func (t *jsTransport) release() {
	t.mu.Lock()
	ls := t.listeners
	t.listeners = nil
	t.mu.Unlock()
	for _, l := range ls {
		_, _ = t.ws.Call("removeEventListener", l.event, l.fn)
		l.fn.Release()
	}
}

// finish records why the socket ended, once, and wakes readers.
func (t *jsTransport) finish(err error) {
	t.finishOnce.Do(func() {
		t.mu.Lock()
		t.closeErr = err
		t.mu.Unlock()
		close(t.closed)
	})
}

func (t *jsTransport) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closeErr
}

func (t *jsTransport) onMessage(ev safejs.Value) {
	data, err := ev.Get("data")
	if err != nil {
		return
	}
	var p []byte
	if data.Type() == safejs.TypeString {
		s, err := data.String()
		if err != nil {
			return
		}
		p = []byte(s)
	} else {
		// A binary message (never sent by a Switchboard server): an
		// ArrayBuffer, since binaryType is "arraybuffer".
		u8ctor, err := safejs.Global().Get("Uint8Array")
		if err != nil {
			return
		}
		u8, err := u8ctor.New(data)
		if err != nil {
			return
		}
		n, err := u8.Length()
		if err != nil {
			return
		}
		p = make([]byte, n)
		if _, err := safejs.CopyBytesToGo(p, u8); err != nil {
			return
		}
	}
	t.mu.Lock()
	t.queue = append(t.queue, p)
	t.mu.Unlock()
	select {
	case t.sig <- struct{}{}:
	default:
	}
}

func (t *jsTransport) onClose(ev safejs.Value) {
	ce := &CloseError{Code: 1006}
	if v, err := ev.Get("code"); err == nil {
		if code, err := v.Int(); err == nil {
			ce.Code = protocol.CloseCode(code)
		}
	}
	if v, err := ev.Get("reason"); err == nil {
		if s, err := v.String(); err == nil {
			ce.Reason = s
		}
	}
	t.finish(ce)
	t.release() // allowed while this callback runs
}

func (t *jsTransport) Read(ctx context.Context) ([]byte, error) {
	for {
		t.mu.Lock()
		if len(t.queue) > 0 {
			p := t.queue[0]
			t.queue[0] = nil
			t.queue = t.queue[1:]
			limit := t.limit
			t.mu.Unlock()
			if int64(len(p)) > limit {
				t.Abort()
				return nil, fmt.Errorf("message of %d bytes exceeds the read limit of %d", len(p), limit)
			}
			return p, nil
		}
		t.mu.Unlock()
		select {
		case <-t.sig:
		case <-t.closed:
			t.mu.Lock()
			empty := len(t.queue) == 0
			t.mu.Unlock()
			if empty {
				return nil, t.err()
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (t *jsTransport) Write(ctx context.Context, p []byte) error {
	select {
	case <-t.closed:
		return t.err()
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// send never blocks: the browser buffers (bufferedAmount).
	_, err := t.ws.Call("send", string(p))
	return err
}

func (t *jsTransport) SetReadLimit(n int64) {
	t.mu.Lock()
	t.limit = n
	t.mu.Unlock()
}

func (t *jsTransport) Close(code int, reason string) error {
	// Browsers accept only 1000 and 3000–4999 from scripts.
	_, err := t.ws.Call("close", code, reason)
	if err != nil {
		t.Abort()
		return err
	}
	timer := time.NewTimer(jsCloseWait)
	defer timer.Stop()
	select {
	case <-t.closed:
	case <-timer.C:
		t.finish(errAborted)
		t.release()
	}
	return nil
}

func (t *jsTransport) Abort() {
	_, _ = t.ws.Call("close")
	t.finish(errAborted)
	t.release()
}
