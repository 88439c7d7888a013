package client

import (
	"bytes"
	"runtime"
	"strconv"
)

// goid returns the current goroutine's id. It is used once per handler
// goroutine and once per Close, so that Close called from a handler does not
// wait for the goroutine it runs on.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
