package seal

import (
	"fmt"
	"sync"
)

// Replay window: the newest sequence number of a stream and the 1023 before
// it are tracked in a ring of 64-bit blocks (the WireGuard/RFC 6479 scheme).
// One block more than the window needs lets the ring advance a block at a
// time without dropping tracked numbers.
const (
	// ReplayWindow is how many sequence numbers per stream are remembered:
	// an envelope more than ReplayWindow-1 behind the newest one seen on its
	// stream is refused with ErrOutOfWindow.
	ReplayWindow = 1024

	// DefaultMaxStreams is the default number of streams whose replay state a
	// Session keeps (WithMaxStreams).
	DefaultMaxStreams = 4096

	windowBlocks = ReplayWindow/64 + 1
)

type streamKey struct {
	epoch  uint32
	kid    KeyID
	stream [8]byte
}

// window is one stream's replay state (about 200 bytes with its map entry).
type window struct {
	key        streamKey
	last       uint64
	ring       [windowBlocks]uint64
	seenMs     int64 // receiver clock at the latest accepted envelope
	prev, next *window
}

// replayState tracks at most max streams, least recently used evicted first.
//
// Eviction is safe when the evicted stream has been idle longer than the
// time window (past+future): every envelope it ever had accepted is then
// refused as stale anyway. A stream evicted earlier (more than max streams
// active within that span, which only key holders can cause, since state
// changes only after authentication) is protected by the time window alone
// until it ages out; forced counts those evictions.
type replayState struct {
	mu      sync.Mutex
	max     int
	idleMs  int64
	streams map[streamKey]*window
	head    *window // most recently used
	tail    *window // least recently used
	forced  uint64
}

func newReplayState(max int, idleMs int64) *replayState {
	return &replayState{max: max, idleMs: idleMs, streams: make(map[streamKey]*window)}
}

// accept records seq on stream k at receiver time nowMs, or reports why it
// must be refused. seq is at least 1.
func (r *replayState) accept(k streamKey, seq uint64, nowMs int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.streams[k]
	if w == nil {
		w = r.insert(k, nowMs)
	}
	if seq > w.last {
		cur := w.last >> 6
		diff := seq>>6 - cur
		if diff > windowBlocks {
			diff = windowBlocks
		}
		for i := uint64(1); i <= diff; i++ {
			w.ring[(cur+i)%windowBlocks] = 0
		}
		w.last = seq
	} else if w.last-seq >= ReplayWindow {
		return fmt.Errorf("%w (stream %x, seq %d, newest %d)", ErrOutOfWindow, k.stream, seq, w.last)
	}
	b := &w.ring[(seq>>6)%windowBlocks]
	bit := uint64(1) << (seq & 63)
	if *b&bit != 0 {
		return fmt.Errorf("%w: stream %x seq %d", ErrReplay, k.stream, seq)
	}
	*b |= bit
	w.seenMs = nowMs
	r.touch(w)
	return nil
}

// insert adds a fresh window for k, evicting the least recently used one
// when full. The new window is linked at the head.
func (r *replayState) insert(k streamKey, nowMs int64) *window {
	var w *window
	if len(r.streams) >= r.max && r.tail != nil {
		w = r.tail
		r.unlink(w)
		delete(r.streams, w.key)
		if nowMs-w.seenMs <= r.idleMs {
			r.forced++
		}
		*w = window{}
	} else {
		w = new(window)
	}
	w.key = k
	r.streams[k] = w
	r.pushFront(w)
	return w
}

func (r *replayState) touch(w *window) {
	if r.head == w {
		return
	}
	r.unlink(w)
	r.pushFront(w)
}

func (r *replayState) pushFront(w *window) {
	w.prev = nil
	w.next = r.head
	if r.head != nil {
		r.head.prev = w
	}
	r.head = w
	if r.tail == nil {
		r.tail = w
	}
}

func (r *replayState) unlink(w *window) {
	if w.prev != nil {
		w.prev.next = w.next
	} else if r.head == w {
		r.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else if r.tail == w {
		r.tail = w.prev
	}
	w.prev, w.next = nil, nil
}

// stats returns the number of tracked streams and of forced evictions.
func (r *replayState) stats() (streams int, forced uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.streams), r.forced
}
