package hub

import (
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Entry is one message of a stream's history.
type Entry struct {
	Seq  uint64
	Time int64  // when the hub stored it, in Unix nanoseconds (the age limit's clock)
	Data []byte // the encoded message object: shared with the subscribers' queues, never modified
	// Origin and ID identify the publish for de-duplication: the
	// publisher's instance (hello's "instance") and the publish's id. Both
	// are empty when the publish had no id or its connection no instance.
	Origin, ID string
}

// entryOverhead approximates what an Entry costs besides its bytes, for
// the global memory bound.
const entryOverhead = 72

// size is what e counts against the global memory bound.
func (e *Entry) size() int { return len(e.Data) + len(e.ID) + entryOverhead }

// HistoryLimits bound one stream's history. The hub resolves them from
// Options.History; stores receive them resolved (MaxMessages ≥ 0, MaxAge ≥
// 0, where 0 means no limit for MaxAge and no history for MaxMessages).
type HistoryLimits struct {
	MaxMessages int           // entries kept; 0: none (the stream keeps only its seq and epoch)
	MaxAge      time.Duration // entries older than this are dropped; 0: no age limit
}

// HistoryRule sets the history limits of the topics matching Pattern (a
// subscription pattern: "orders.>", "chat.*", "ticker"). The first
// matching rule of Options.History wins; topics no rule matches get the
// defaults.
type HistoryRule struct {
	Pattern string
	// MaxMessages kept per (session, topic). 0: the default (100);
	// negative: no history at all (recovery answers reason "no_history").
	MaxMessages int
	// MaxAge of kept messages. 0: the default (5 minutes); negative: no age
	// limit (only MaxMessages and the global memory bound apply).
	MaxAge time.Duration
}

// History defaults (PROTOCOL.md, "History and recovery").
const (
	DefaultHistoryMessages = 100
	DefaultHistoryAge      = 5 * time.Minute
	DefaultHistoryBytes    = 256 << 20
	DefaultDedupWindow     = 2 * time.Minute
	DefaultDedupIDs        = 1000
)

// limitsFor resolves the history limits of topic. Retained $meta. topics
// keep exactly their current value, without an age limit: the history of
// such a topic is its retained value.
func (h *Hub) limitsFor(topic string) HistoryLimits {
	if protocol.IsMeta(topic) {
		return HistoryLimits{MaxMessages: 1}
	}
	lim := HistoryLimits{MaxMessages: DefaultHistoryMessages, MaxAge: DefaultHistoryAge}
	for _, r := range h.opts.History {
		if !protocol.Match(r.Pattern, topic) {
			continue
		}
		switch {
		case r.MaxMessages < 0:
			lim.MaxMessages = 0
		case r.MaxMessages > 0:
			lim.MaxMessages = r.MaxMessages
		}
		switch {
		case r.MaxAge < 0:
			lim.MaxAge = 0
		case r.MaxAge > 0:
			lim.MaxAge = r.MaxAge
		}
		break
	}
	return lim
}

// HistoryStore creates the histories of streams and restores those it
// kept. The hub calls Create when a stream first appears and Restore once,
// from Hub.Load, before serving. The memory implementation is MemoryStore;
// server/internal/store/bolt keeps histories on disk across restarts.
//
// Delivery guarantee: a History holds every entry appended to it, oldest
// dropped first, within its limits; a durable store keeps, across a clean
// Close and reopen, the epoch, the last seq and the entries of every
// history not deleted, and an entry is on disk once OnStored says so.
type HistoryStore interface {
	// Create returns an empty history for (session, topic) with a new
	// random epoch and last seq 0.
	Create(session, topic string, lim HistoryLimits) History
	// Restore calls fn for every history the store kept (nothing in
	// memory), with the limits that limits gives for it now.
	Restore(limits func(topic string) HistoryLimits, fn func(session, topic string, h History)) error
}

// History is one stream's bounded history: its epoch, its last seq, and its
// latest entries. The hub serializes all calls on one History (under its
// session's lock), so implementations need no lock of their own for it;
// different Histories are used concurrently.
type History interface {
	// Epoch names this incarnation of the stream.
	Epoch() string
	// Last is the seq of the last entry appended (0: none yet).
	Last() uint64
	// First is the seq of the oldest entry kept, Last()+1 when none is.
	First() uint64
	// Len is the number of entries kept.
	Len() int
	// Append adds e, whose Seq is Last()+1, and drops the entries beyond
	// the limits (count; age relative to e.Time). It returns the change in
	// the bytes kept (Entry sizes), negative when it dropped more than it
	// added.
	Append(e Entry) int
	// Trim drops the entries older than the age limit at now (Unix ns) and
	// returns the bytes freed.
	Trim(now int64) int
	// DropOldest drops the oldest entry, for the global memory bound, and
	// returns the bytes freed (0 when empty).
	DropOldest() int
	// Since appends to dst the entries with Seq > after, oldest first.
	Since(after uint64, dst []Entry) []Entry
	// Stored reports whether every entry appended so far is stored as
	// durably as the store can (always true in memory).
	Stored() bool
	// OnStored calls fn once every entry appended so far is stored, with
	// the error if storing failed. fn may run on another goroutine and must
	// not block nor call into the hub.
	OnStored(fn func(error))
	// Delete forgets the history (the stream expired): a durable store
	// removes it.
	Delete()
}

// MemoryStore is the in-memory HistoryStore: histories live as long as
// their streams, and nothing survives the process.
type MemoryStore struct{}

var _ HistoryStore = MemoryStore{}

// Create returns an empty in-memory history.
func (MemoryStore) Create(_, _ string, lim HistoryLimits) History {
	return NewMemoryHistory(newEpoch(), 0, lim)
}

// Restore does nothing: memory keeps nothing across restarts.
func (MemoryStore) Restore(func(string) HistoryLimits, func(string, string, History)) error {
	return nil
}

// NewMemoryHistory returns an empty in-memory history with the given epoch
// whose next entry has seq last+1. Durable stores use it as their
// in-memory copy.
func NewMemoryHistory(epoch string, last uint64, lim HistoryLimits) History {
	return &memHistory{epoch: epoch, last: last, max: lim.MaxMessages, maxAge: int64(lim.MaxAge)}
}

// memHistory is a ring of entries that grows (by doubling) up to its
// maximum, so that a quiet stream does not hold a full ring.
type memHistory struct {
	epoch  string
	last   uint64
	max    int
	maxAge int64 // ns; 0: none
	ring   []Entry
	head   int // index of the oldest entry
	n      int
}

var _ History = (*memHistory)(nil)

func (m *memHistory) Epoch() string { return m.epoch }
func (m *memHistory) Last() uint64  { return m.last }
func (m *memHistory) Len() int      { return m.n }
func (m *memHistory) Stored() bool  { return true }
func (m *memHistory) Delete()       { m.clear() }

func (m *memHistory) OnStored(fn func(error)) { fn(nil) }

func (m *memHistory) First() uint64 {
	if m.n == 0 {
		return m.last + 1
	}
	return m.ring[m.head].Seq
}

func (m *memHistory) at(i int) *Entry { return &m.ring[(m.head+i)%len(m.ring)] }

func (m *memHistory) Append(e Entry) int {
	m.last = e.Seq
	if m.max <= 0 {
		return 0
	}
	delta := 0
	if m.n == m.max {
		delta -= m.dropOldest()
	}
	if m.n == len(m.ring) {
		m.grow()
	}
	*m.at(m.n) = e
	m.n++
	delta += e.size()
	if m.maxAge > 0 {
		delta -= m.trimBefore(e.Time - m.maxAge)
	}
	return delta
}

// grow doubles the ring (at most to max), keeping the entries in order.
func (m *memHistory) grow() {
	size := min(max(4, 2*len(m.ring)), m.max)
	ring := make([]Entry, size)
	for i := range m.n {
		ring[i] = *m.at(i)
	}
	m.ring, m.head = ring, 0
}

func (m *memHistory) dropOldest() int {
	if m.n == 0 {
		return 0
	}
	e := &m.ring[m.head]
	freed := e.size()
	*e = Entry{}
	m.head = (m.head + 1) % len(m.ring)
	m.n--
	if m.n == 0 {
		m.head = 0
	}
	return freed
}

func (m *memHistory) DropOldest() int { return m.dropOldest() }

func (m *memHistory) trimBefore(t int64) int {
	freed := 0
	for m.n > 0 && m.ring[m.head].Time < t {
		freed += m.dropOldest()
	}
	if m.n == 0 && len(m.ring) > 4 {
		m.ring, m.head = nil, 0 // a stream gone quiet gives its ring back
	}
	return freed
}

func (m *memHistory) Trim(now int64) int {
	if m.maxAge <= 0 {
		return 0
	}
	return m.trimBefore(now - m.maxAge)
}

func (m *memHistory) Since(after uint64, dst []Entry) []Entry {
	if m.n == 0 || after >= m.last {
		return dst
	}
	// Entries are consecutive: the one with seq after+1 is at a known index.
	first := m.ring[m.head].Seq
	start := 0
	if after >= first {
		start = int(after - first + 1)
	}
	for i := start; i < m.n; i++ {
		dst = append(dst, *m.at(i))
	}
	return dst
}

func (m *memHistory) clear() {
	m.ring, m.head, m.n = nil, 0, 0
}

// NewEpoch returns a new random epoch, for HistoryStore implementations.
func NewEpoch() string { return newEpoch() }
