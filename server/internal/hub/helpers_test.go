package hub

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// TestMain fails the run when goroutines outlive the tests.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	// The fuzzing engine leaves its own goroutines (signal handling).
	if fz := flag.Lookup("test.fuzz"); code == 0 && (fz == nil || fz.Value.String() == "") {
		if err := waitGoroutines(before, 5*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// waitGoroutines polls until at most n goroutines run, else reports them.
func waitGoroutines(n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("leaked goroutines: %d running, %d before:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newHub(t testing.TB, opts Options) *Hub {
	h := New(opts)
	t.Cleanup(h.Close)
	return h
}

// closeRecorder records OnClose calls.
type closeRecorder struct {
	mu    sync.Mutex
	codes []protocol.CloseCode
}

func (r *closeRecorder) onClose(code protocol.CloseCode, _ string) {
	r.mu.Lock()
	r.codes = append(r.codes, code)
	r.mu.Unlock()
}

func (r *closeRecorder) get() []protocol.CloseCode {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]protocol.CloseCode(nil), r.codes...)
}

type testConn struct {
	*Conn
	t      testing.TB
	closes *closeRecorder
}

// connect registers a connection without a writer: tests drain it.
func connect(t testing.TB, h *Hub, name, session string, echo bool) *testConn {
	t.Helper()
	rec := &closeRecorder{}
	c, err := h.NewConn(ConnConfig{RemoteAddr: "test", OnClose: rec.onClose})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Register(c, name, session, echo, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Unregister(c) })
	return &testConn{Conn: c, t: t, closes: rec}
}

// do decodes obj and hands it to the hub.
func (c *testConn) do(obj string) error {
	c.t.Helper()
	var f protocol.Frame
	if err := protocol.Decode([]byte(obj), &f); err != nil {
		c.t.Fatalf("decode %s: %v", obj, err)
	}
	return c.h.Handle(c.Conn, &f)
}

// frames drains what is queued and decodes it.
func (c *testConn) frames() []protocol.Frame {
	c.t.Helper()
	var out []protocol.Frame
	for {
		b, ok := c.TryNext()
		if !ok {
			return out
		}
		err := protocol.Split(b.Bytes, func(obj []byte) error {
			var f protocol.Frame
			if err := protocol.Decode(obj, &f); err != nil {
				return fmt.Errorf("%s: %w", obj, err)
			}
			out = append(out, f)
			return nil
		})
		b.Release()
		if err != nil {
			c.t.Fatal(err)
		}
	}
}

// raw drains what is queued as raw objects.
func (c *testConn) raw() []string {
	var out []string
	for {
		b, ok := c.TryNext()
		if !ok {
			return out
		}
		for _, obj := range bytes.Split(b.Bytes, []byte("\n")) {
			out = append(out, string(obj))
		}
		b.Release()
	}
}

func (c *testConn) only(typ string) []protocol.Frame {
	c.t.Helper()
	var out []protocol.Frame
	for _, f := range c.frames() {
		if f.Type == typ {
			out = append(out, f)
		}
	}
	return out
}

// expectError drains and checks for exactly one error with code and id.
func (c *testConn) expectError(code protocol.Code, id string) {
	c.t.Helper()
	fs := c.frames()
	if len(fs) != 1 || fs[0].Type != protocol.TypeError || fs[0].Code != code || fs[0].ID != id {
		c.t.Fatalf("want one error %s id %q, got %s", code, id, dump(fs))
	}
}

func dump(fs []protocol.Frame) string {
	var sb strings.Builder
	for _, f := range fs {
		b, _ := json.Marshal(f)
		sb.Write(b)
		sb.WriteByte('\n')
	}
	return sb.String()
}
