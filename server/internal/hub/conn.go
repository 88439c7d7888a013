package hub

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// ErrClosed is returned by Conn.Next and by hub operations on a closed
// connection or hub.
var ErrClosed = errors.New("hub: closed")

// ConnConfig describes the transport side of a connection.
type ConnConfig struct {
	// RemoteAddr is shown in client listings.
	RemoteAddr string

	// Wake, if set, is called when data becomes available and no writer is
	// active (see Conn.TryNext): the transport starts a writer then, so that an
	// idle connection holds no writer goroutine. It is called with hub locks
	// held: it must not block nor call into the Hub.
	Wake func()

	// OnClose is called once when the hub decides the connection must end:
	// slow consumer (4001), operator Disconnect, Hub.CloseAll, or Conn.Close.
	// It is called with hub locks held: it must not block nor call into the
	// Hub; the transport closes its socket from another goroutine.
	OnClose func(code protocol.CloseCode, reason string)
}

// Conn is one client connection as the hub sees it: identity, subscriptions
// and a bounded outgoing queue of encoded objects. Create it with Hub.NewConn,
// join a session with Hub.Register, and always end it with Hub.Unregister.
//
// The queue holds references to immutable encoded objects (a published
// message's bytes are shared by all its subscribers). Enqueue never blocks;
// when the queue would exceed its byte bound the connection is closed as a
// slow consumer. One consumer (the transport's writer) drains it with Next or
// TryNext.
type Conn struct {
	h           *Hub
	id          string
	remote      string
	connectedAt time.Time
	wake        func()
	onClose     func(protocol.CloseCode, string)

	// Set once by Register before the Conn is visible to other goroutines
	// through the session, read-only afterwards.
	name     string
	session  string
	instance string // hello's instance: the scope of publish de-duplication
	echo     bool
	sess     *session
	regOnce  atomic.Bool // Register was called
	live     atomic.Bool // Register completed: visible to operator APIs

	// Guarded by sess.mu.
	subs    map[string]*sub     // pattern → subscription
	pending map[string]*pending // reply_to → request this conn made
	mark    uint64              // fan-out de-duplication stamp

	// Queue, guarded by mu.
	mu        sync.Mutex
	q         [][]byte
	head      int
	qBytes    int
	maxBytes  int
	writing   bool
	used      bool // Enqueue since the last TrimIdle
	closed    bool
	closeCode protocol.CloseCode
	ready     chan struct{} // created by Next: blocking consumers
	done      chan struct{} // created by Next, closed on close

	// Consumer-owned (one consumer at a time).
	hdrs [][]byte

	msgsIn, bytesIn, msgsOut, bytesOut atomic.Uint64

	sec connSec // permissions and all-sessions subscriptions (security.go)
}

// ID returns the client id, unique on this hub.
func (c *Conn) ID() string { return c.id }

// Name returns the client name (empty before Register).
func (c *Conn) Name() string { return c.name }

// SessionID returns the session (empty before Register).
func (c *Conn) SessionID() string { return c.session }

// RemoteAddr returns the address given in ConnConfig.
func (c *Conn) RemoteAddr() string { return c.remote }

// ConnectedAt returns when NewConn created c.
func (c *Conn) ConnectedAt() time.Time { return c.connectedAt }

// CountIn records n bytes of one object received from the client.
func (c *Conn) CountIn(n int) {
	c.msgsIn.Add(1)
	c.bytesIn.Add(uint64(n))
}

// Closed reports whether c is closed and, if so, with which code (0 when it
// was closed by Unregister).
func (c *Conn) Closed() (bool, protocol.CloseCode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed, c.closeCode
}

// QueuedBytes returns the number of bytes waiting in the outgoing queue.
func (c *Conn) QueuedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.qBytes
}

// Enqueue appends one encoded object to the outgoing queue. It never blocks.
// b must not be modified afterwards (it may be shared by many connections).
// It reports false when c is closed, or when b would overflow the queue: c
// is then closed with CloseSlowConsumer.
func (c *Conn) Enqueue(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if c.qBytes+len(b) > c.maxBytes {
		dropped := len(c.q) - c.head + 1
		c.mu.Unlock()
		if c.Close(protocol.CloseSlowConsumer, "slow consumer") {
			c.h.sec.noteSlowConsumer(dropped)
		}
		return false
	}
	if len(c.q) == cap(c.q) && c.head > 0 {
		// Reuse the consumed front instead of growing.
		n := copy(c.q, c.q[c.head:])
		clear(c.q[n:])
		c.q, c.head = c.q[:n], 0
	}
	c.q = append(c.q, b)
	c.qBytes += len(b)
	c.used = true
	var wake func()
	if c.wake != nil && !c.writing {
		c.writing = true
		wake = c.wake
	}
	if c.ready != nil {
		select {
		case c.ready <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	if wake != nil {
		wake()
	}
	return true
}

// Close closes c with code: its queue is dropped, further Enqueues fail, a
// blocked Next returns, and OnClose is called (once). It reports whether this
// call closed c. It does not remove c from the hub: the transport calls
// Unregister when its reader ends.
func (c *Conn) Close(code protocol.CloseCode, reason string) bool {
	if !c.shut(code) {
		return false
	}
	if c.onClose != nil {
		c.onClose(code, reason)
	}
	return true
}

// shut marks c closed and drops its queue, without calling OnClose.
func (c *Conn) shut(code protocol.CloseCode) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.closed, c.closeCode = true, code
	clear(c.q)
	c.q, c.head, c.qBytes = nil, 0, 0
	if c.done != nil {
		close(c.done)
	}
	return true
}

// Batch is what a writer takes from the queue at once: the bytes of one
// WebSocket frame, the queued objects joined by '\n'. Call Release when the
// frame is written.
type Batch struct {
	Bytes []byte
	Count int // objects in Bytes
	buf   *[]byte
}

// Release returns the batch's buffer to the pool. Bytes must not be used
// afterwards.
func (b *Batch) Release() {
	if b.buf != nil {
		putBuf(b.buf, b.Bytes)
		b.buf = nil
	}
	b.Bytes = nil
}

// TryNext takes what is queued without blocking. When the queue is empty (or
// c is closed) it reports false and, in Wake mode, marks the writer idle: the
// next Enqueue calls Wake again. A writer started by Wake loops on TryNext
// until it reports false.
func (c *Conn) TryNext() (Batch, bool) {
	c.mu.Lock()
	if c.closed || c.head == len(c.q) {
		c.writing = false
		c.trim(busyKeep)
		c.mu.Unlock()
		return Batch{}, false
	}
	size := c.take()
	c.mu.Unlock()
	return c.join(size), true
}

// Next waits until something is queued, c is closed (ErrClosed) or ctx is
// done, and takes what is queued: up to protocol.MaxBatchBytes of objects
// joined by '\n', or one larger object alone.
func (c *Conn) Next(ctx context.Context) (Batch, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return Batch{}, ErrClosed
		}
		if c.head < len(c.q) {
			size := c.take()
			c.mu.Unlock()
			return c.join(size), nil
		}
		if c.ready == nil {
			c.ready = make(chan struct{}, 1)
			c.done = make(chan struct{})
		}
		c.trim(idleKeep)
		ready, done := c.ready, c.done
		c.mu.Unlock()
		select {
		case <-ready:
		case <-done:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		}
	}
}

// take moves the front objects that fit one batch into c.hdrs and returns
// the batch size. Called with c.mu held and a non-empty queue.
func (c *Conn) take() int {
	size, n := 0, 0
	for _, b := range c.q[c.head:] {
		add := len(b)
		if n > 0 {
			add++ // separator
			if size+add > protocol.MaxBatchBytes {
				break
			}
		}
		size += add
		n++
	}
	end := c.head + n
	c.hdrs = append(c.hdrs[:0], c.q[c.head:end]...)
	clear(c.q[c.head:end])
	c.head = end
	c.qBytes -= size - (n - 1)
	if c.head == len(c.q) {
		c.head, c.q = 0, c.q[:0]
	}
	return size
}

// Queue capacity (entries of c.q and c.hdrs): a connection keeps up to
// busyKeep between batches, so that a busy one does not regrow its slices
// from nil for every burst; TrimIdle (the server's sweeper) brings one that
// has queued nothing for a sweep interval down to idleKeep.
const (
	idleKeep = 16
	busyKeep = 1024
)

// trim drops capacity beyond keep. Called by the consumer with c.mu held and
// an empty queue.
func (c *Conn) trim(keep int) {
	if cap(c.q) > keep {
		c.q, c.head = nil, 0
	}
	if cap(c.hdrs) > keep {
		c.hdrs = nil
	}
}

// TrimIdle lets a connection that has queued nothing since the previous call
// drop the capacity its last burst left behind (at most idleKeep entries are
// kept), so that idle connections hold no large slices. The server's sweeper
// calls it periodically; a busy connection keeps its capacity.
func (c *Conn) TrimIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used {
		c.used = false
		return
	}
	if c.head != len(c.q) {
		return
	}
	if cap(c.q) > idleKeep {
		c.q, c.head = nil, 0
	}
	// c.hdrs is the consumer's; in Wake mode no consumer runs while
	// c.writing is false, and the next one starts after an Enqueue takes
	// c.mu. A blocking consumer (Next) trims its own.
	if c.wake != nil && !c.writing && cap(c.hdrs) > idleKeep {
		c.hdrs = nil
	}
}

// join builds the batch from c.hdrs outside the queue lock.
func (c *Conn) join(size int) Batch {
	hdrs := c.hdrs
	c.msgsOut.Add(uint64(len(hdrs)))
	c.bytesOut.Add(uint64(size))
	if len(hdrs) == 1 {
		b := Batch{Bytes: hdrs[0], Count: 1}
		hdrs[0] = nil
		return b
	}
	buf := getBuf(size)
	out := (*buf)[:0]
	for i, b := range hdrs {
		if i > 0 {
			out = append(out, '\n')
		}
		out = append(out, b...)
	}
	clear(hdrs)
	return Batch{Bytes: out, Count: len(hdrs), buf: buf}
}

// Batch buffers come from size-classed pools so that a small batch does not
// pin a 256 KiB buffer while its write is in progress.
var bufClasses = [...]int{4 << 10, 16 << 10, 64 << 10, protocol.MaxBatchBytes}

var bufPools [len(bufClasses)]sync.Pool

func getBuf(size int) *[]byte {
	for i, cls := range bufClasses {
		if size <= cls {
			if p, ok := bufPools[i].Get().(*[]byte); ok {
				return p
			}
			b := make([]byte, 0, cls)
			return &b
		}
	}
	b := make([]byte, 0, size) // cannot happen: batches are bounded
	return &b
}

func putBuf(p *[]byte, used []byte) {
	c := cap(used)
	for i, cls := range bufClasses {
		if c == cls {
			*p = used[:0]
			bufPools[i].Put(p)
			return
		}
	}
}
