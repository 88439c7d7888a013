// Package bolt is a durable hub.HistoryStore in one bbolt file
// (go.etcd.io/bbolt): with it, the streams' histories, epochs and seqs
// survive a server restart, so that clients recover across it with no loss.
//
// # Why bbolt
//
// The data is small and bounded (each history is trimmed to its count and
// age limits), the access pattern is append, trim the oldest and delete
// whole streams, and it is read back once, at start. bbolt is a single-file
// B+tree with ACID transactions, pure Go (no cgo), with few dependencies,
// maintained by the etcd project. An LSM engine such as Pebble is built for
// write volumes far beyond this, and brings a much larger dependency tree
// and background compactions.
//
// # How it works
//
// Reads never touch the disk: each History keeps its entries in the hub's
// in-memory ring (hub.NewMemoryHistory), which serves replay and the admin
// API. Every change (append, trim, create, delete) is also queued to one
// writer goroutine, which commits what has accumulated in one transaction
// (group commit: one fsync for many messages) and then tells the waiting
// acknowledgements (History.OnStored): a publish is acknowledged once it is
// on disk. The queue is not bounded by count: it holds what arrived during
// one commit.
//
// Layout: bucket "streams" holds one bucket per stream, named
// session "\x00" topic, with keys "epoch" and "last" (the last seq, 8 bytes
// big-endian) and bucket "m" of entries by seq (8 bytes big-endian): time
// (8 bytes), origin and id (each a uvarint length and bytes), then the
// encoded message. Bucket "meta" holds "state": "open" while a process uses
// the file, "clean" after Close.
//
// # Crashes
//
// A message is delivered to subscribers before it is on disk (the hub never
// waits for the disk while holding a session's lock), so after a crash the
// seqs of the last messages, delivered but not stored, would be used again.
// When Open finds the file was not closed cleanly, every stream therefore
// gets a new epoch (its stored history is kept): clients that ask to
// recover are told recovered:false, reason epoch_changed, instead of being
// given other messages under seqs they already saw. Acknowledged publishes
// are on disk and survive a crash.
//
// # Concurrency
//
// The hub serializes calls on one History; the Store's queue has its own
// mutex (a leaf lock). OnStored callbacks run on the writer goroutine, or
// at once when already stored. Close flushes the queue, marks the file
// clean and waits for the writer.
package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// Errors.
var (
	// ErrClosed: the store is closed; what was queued after Close is not
	// stored.
	ErrClosed = errors.New("bolt: store closed")
	// ErrLocked: another process holds the file.
	ErrLocked = errors.New("bolt: the data file is in use by another process")
)

var (
	bucketStreams = []byte("streams")
	bucketMeta    = []byte("meta")
	bucketEntries = []byte("m")
	keyEpoch      = []byte("epoch")
	keyLast       = []byte("last")
	keyState      = []byte("state")
	stateOpen     = []byte("open")
	stateClean    = []byte("clean")
)

// Options configure a Store. Zero values mean the documented default.
type Options struct {
	// Logger receives write errors. Default slog.Default().
	Logger *slog.Logger
	// NoSync skips fsync after each commit: faster, and a power loss may
	// lose recent writes (a process crash does not). Default false.
	NoSync bool
}

// Store is a durable hub.HistoryStore in one bbolt file.
type Store struct {
	db      *bbolt.DB
	log     *slog.Logger
	unclean bool // the file was not closed cleanly: epochs change on Restore

	committed atomic.Uint64 // ops stored (numbered from 1)

	mu      sync.Mutex // a leaf: never held while calling out
	queue   []op
	spare   []op
	nextOp  uint64
	waiters []waiter
	closed  bool
	sig     chan struct{} // cap 1: the queue has work
	done    chan struct{} // closed when the writer ends
}

var _ hub.HistoryStore = (*Store)(nil)

type opKind uint8

const (
	opCreate opKind = iota
	opPut
	opTrim
	opDelete
	opEpoch // a new epoch for a stream kept after a crash
)

type op struct {
	kind  opKind
	key   string // session "\x00" topic
	epoch string // opCreate
	e     hub.Entry
	first uint64 // opPut, opTrim: entries below it are dropped
}

type waiter struct {
	op uint64
	fn func(error)
}

// Open opens (creating it if needed) the store in the file at path. It
// fails with ErrLocked when another process has it open.
func Open(path string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, NoSync: o.NoSync})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	s := &Store{db: db, log: o.Logger, sig: make(chan struct{}, 1), done: make(chan struct{})}
	err = db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketStreams); err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		state := meta.Get(keyState)
		s.unclean = state != nil && string(state) != string(stateClean)
		return meta.Put(keyState, stateOpen)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	go s.run() // owned by the Store: Close waits for it
	return s, nil
}

// Close stores what is queued, marks the file clean and closes it. Safe to
// call more than once.
func (s *Store) Close() error { return s.close(true) }

func (s *Store) close(clean bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.signal()
	<-s.done
	var err error
	if clean {
		err = s.db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keyState, stateClean)
		})
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *Store) signal() {
	select {
	case s.sig <- struct{}{}:
	default:
	}
}

// closedOp is the number of an op refused because the store is closed: it
// is never stored.
const closedOp = math.MaxUint64

// push queues o and returns its number (closedOp once closed).
func (s *Store) push(o op) uint64 {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return closedOp
	}
	s.nextOp++
	n := s.nextOp
	s.queue = append(s.queue, o)
	s.mu.Unlock()
	s.signal()
	return n
}

// onStored calls fn once op n is stored.
func (s *Store) onStored(n uint64, fn func(error)) {
	s.mu.Lock()
	if s.committed.Load() >= n {
		s.mu.Unlock()
		fn(nil)
		return
	}
	if n == closedOp {
		s.mu.Unlock()
		fn(ErrClosed)
		return
	}
	s.waiters = append(s.waiters, waiter{op: n, fn: fn})
	s.mu.Unlock()
}

// run is the writer: it commits what is queued, one transaction per batch,
// then releases the waiters of the batch.
func (s *Store) run() {
	defer close(s.done)
	for {
		<-s.sig
		for {
			s.mu.Lock()
			ops, upto, closed := s.queue, s.nextOp, s.closed
			s.queue, s.spare = s.spare[:0], nil
			s.mu.Unlock()
			if len(ops) == 0 {
				if closed {
					s.release(upto, nil) // everything queued is stored
					return
				}
				break
			}
			err := s.db.Update(func(tx *bbolt.Tx) error { return apply(tx, ops) })
			if err != nil {
				s.log.Error("history store: write failed", "ops", len(ops), "err", err)
			}
			clear(ops)
			s.mu.Lock()
			s.spare = ops[:0]
			s.mu.Unlock()
			s.release(upto, err)
		}
	}
}

// release marks ops up to upto stored and calls their waiters with err.
func (s *Store) release(upto uint64, err error) {
	s.mu.Lock()
	s.committed.Store(upto)
	var ready []waiter
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		if w.op <= upto {
			ready = append(ready, w)
		} else {
			kept = append(kept, w)
		}
	}
	clear(s.waiters[len(kept):])
	s.waiters = kept
	s.mu.Unlock()
	for _, w := range ready {
		w.fn(err)
	}
}

func apply(tx *bbolt.Tx, ops []op) error {
	streams := tx.Bucket(bucketStreams)
	for i := range ops {
		o := &ops[i]
		key := []byte(o.key)
		switch o.kind {
		case opCreate:
			if streams.Bucket(key) != nil {
				if err := streams.DeleteBucket(key); err != nil {
					return err
				}
			}
			b, err := streams.CreateBucket(key)
			if err != nil {
				return err
			}
			if err := b.Put(keyEpoch, []byte(o.epoch)); err != nil {
				return err
			}
			if _, err := b.CreateBucket(bucketEntries); err != nil {
				return err
			}
		case opPut:
			b := streams.Bucket(key)
			if b == nil {
				continue // deleted meanwhile
			}
			seq := be64(o.e.Seq)
			if err := b.Put(keyLast, seq); err != nil {
				return err
			}
			m := b.Bucket(bucketEntries)
			if o.first <= o.e.Seq { // else the entry is already dropped (no history)
				if err := m.Put(seq, encodeEntry(&o.e)); err != nil {
					return err
				}
			}
			if err := trimBelow(m, o.first); err != nil {
				return err
			}
		case opTrim:
			if b := streams.Bucket(key); b != nil {
				if err := trimBelow(b.Bucket(bucketEntries), o.first); err != nil {
					return err
				}
			}
		case opEpoch:
			if b := streams.Bucket(key); b != nil {
				if err := b.Put(keyEpoch, []byte(o.epoch)); err != nil {
					return err
				}
			}
		case opDelete:
			if err := streams.DeleteBucket(key); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
				return err
			}
		}
	}
	return nil
}

// trimBelow deletes the entries with seq < first.
func trimBelow(m *bbolt.Bucket, first uint64) error {
	var dead [][]byte
	c := m.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < first; k, _ = c.Next() {
		dead = append(dead, append([]byte(nil), k...))
	}
	for _, k := range dead {
		if err := m.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

func encodeEntry(e *hub.Entry) []byte {
	b := make([]byte, 0, 8+2*binary.MaxVarintLen16+len(e.Origin)+len(e.ID)+len(e.Data))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time))
	b = binary.AppendUvarint(b, uint64(len(e.Origin)))
	b = append(b, e.Origin...)
	b = binary.AppendUvarint(b, uint64(len(e.ID)))
	b = append(b, e.ID...)
	return append(b, e.Data...)
}

var errCorrupt = errors.New("bolt: corrupt entry")

// decodeEntry decodes v (which bbolt owns) into an Entry holding copies.
func decodeEntry(seq uint64, v []byte) (hub.Entry, error) {
	e := hub.Entry{Seq: seq}
	if len(v) < 8 {
		return e, errCorrupt
	}
	e.Time = int64(binary.BigEndian.Uint64(v))
	v = v[8:]
	str := func() (string, error) {
		n, k := binary.Uvarint(v)
		if k <= 0 || n > uint64(len(v)-k) {
			return "", errCorrupt
		}
		s := string(v[k : k+int(n)])
		v = v[k+int(n):]
		return s, nil
	}
	var err error
	if e.Origin, err = str(); err != nil {
		return e, err
	}
	if e.ID, err = str(); err != nil {
		return e, err
	}
	e.Data = append([]byte(nil), v...)
	return e, nil
}

// Create returns a new, empty history for (session, topic); it is stored
// (epoch and seq) from now on.
func (s *Store) Create(session, topic string, lim hub.HistoryLimits) hub.History {
	h := &history{History: hub.NewMemoryHistory(hub.NewEpoch(), 0, lim), s: s, key: session + "\x00" + topic}
	h.first = h.History.First()
	h.lastOp = s.push(op{kind: opCreate, key: h.key, epoch: h.Epoch()})
	return h
}

// stored is one stream as read back from the file.
type stored struct {
	key, epoch string
	last       uint64
	entries    []hub.Entry
}

// Restore hands over every stored history. After an unclean shutdown each
// gets a new epoch (see the package documentation).
func (s *Store) Restore(limits func(topic string) hub.HistoryLimits, fn func(session, topic string, h hub.History)) error {
	var all []stored
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketStreams).ForEachBucket(func(k []byte) error {
			b := tx.Bucket(bucketStreams).Bucket(k)
			st := stored{key: string(k), epoch: string(b.Get(keyEpoch))}
			if v := b.Get(keyLast); len(v) == 8 {
				st.last = binary.BigEndian.Uint64(v)
			}
			if m := b.Bucket(bucketEntries); m != nil {
				err := m.ForEach(func(k, v []byte) error {
					if len(k) != 8 {
						return errCorrupt
					}
					e, err := decodeEntry(binary.BigEndian.Uint64(k), v)
					if err != nil {
						return err
					}
					st.entries = append(st.entries, e)
					return nil
				})
				if err != nil {
					return fmt.Errorf("stream %q: %w", strings.ReplaceAll(st.key, "\x00", "/"), err)
				}
			}
			all = append(all, st)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("bolt: restore: %w", err)
	}
	for i := range all {
		st := &all[i]
		if s.unclean || st.epoch == "" {
			st.epoch = hub.NewEpoch()
			s.push(op{kind: opEpoch, key: st.key, epoch: st.epoch})
		}
		session, topic, ok := strings.Cut(st.key, "\x00")
		if !ok {
			continue
		}
		lim := limits(topic)
		start := st.last
		if len(st.entries) > 0 {
			start = st.entries[0].Seq - 1
		}
		mem := hub.NewMemoryHistory(st.epoch, start, lim)
		for _, e := range st.entries {
			mem.Append(e)
		}
		h := &history{History: mem, s: s, key: st.key, first: firstOnDisk(st)}
		h.syncFirst()
		fn(session, topic, h)
	}
	s.unclean = false
	return nil
}

func firstOnDisk(st *stored) uint64 {
	if len(st.entries) == 0 {
		return st.last + 1
	}
	return st.entries[0].Seq
}

// history is a stream's history: the in-memory ring, and the store it
// writes through.
type history struct {
	hub.History
	s      *Store
	key    string
	first  uint64 // First() as last queued to the writer
	lastOp uint64 // the store op of its latest change
}

func (h *history) Append(e hub.Entry) int {
	d := h.History.Append(e)
	h.first = h.History.First()
	h.lastOp = h.s.push(op{kind: opPut, key: h.key, e: e, first: h.first})
	return d
}

func (h *history) Trim(now int64) int {
	freed := h.History.Trim(now)
	h.syncFirst()
	return freed
}

func (h *history) DropOldest() int {
	freed := h.History.DropOldest()
	h.syncFirst()
	return freed
}

// syncFirst queues the removal of the entries the ring dropped.
func (h *history) syncFirst() {
	if f := h.History.First(); f != h.first {
		h.first = f
		h.lastOp = h.s.push(op{kind: opTrim, key: h.key, first: f})
	}
}

func (h *history) Stored() bool { return h.s.committed.Load() >= h.lastOp }

func (h *history) OnStored(fn func(error)) { h.s.onStored(h.lastOp, fn) }

func (h *history) Delete() {
	h.History.Delete()
	h.lastOp = h.s.push(op{kind: opDelete, key: h.key})
}
