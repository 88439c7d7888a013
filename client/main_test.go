package client

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if goroutines outlive the tests: every client must
// release its goroutines on Close, and every fake server its connections.
func TestMain(m *testing.M) {
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
			continue // the first is the calling goroutine
		}
		leaked = append(leaked, g)
	}
	return leaked
}

// waitFor polls cond until it holds or timeout passes: tests never sleep
// for a fixed time to let something happen.
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
