package hub

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Options configure a Hub. Zero values mean the documented default.
type Options struct {
	// MaxSubscriptions per connection; more get too_large. Default
	// protocol.DefaultMaxSubscriptions (100).
	MaxSubscriptions int
	// QueueBytes bounds each connection's outgoing queue; a connection whose
	// queue would exceed it is closed as a slow consumer (4001). Default 4 MiB.
	QueueBytes int
	// MaxPendingRequests per connection; more get too_large. Default 1000.
	MaxPendingRequests int
	// StreamTTL is how long a topic that has no subscribers keeps its seq and
	// epoch after its last use; then it is forgotten and starts again at seq 1
	// with a new epoch. Default 5 minutes (the history's maximum age).
	StreamTTL time.Duration
	// RetainTTL is how long retained $meta. values outlive the last client of
	// their session. Default 24 hours.
	RetainTTL time.Duration

	// Store keeps the streams' histories. Default MemoryStore (nothing
	// survives the process); call Load to restore a durable store's.
	Store HistoryStore
	// History sets history limits per topic pattern; the first matching
	// rule wins. Default for every topic: the last 100 messages, at most 5
	// minutes old (retained $meta. topics keep their current value).
	History []HistoryRule
	// HistoryBytes bounds the memory all histories hold together (message
	// bytes plus about 72 bytes per message). Over it, a publish drops the
	// oldest messages of its own topic's history first. Default 256 MiB.
	HistoryBytes int64
	// DedupWindow is how long the hub remembers the id of a publish from a
	// connection that declared an instance in hello: a publish with the same
	// (instance, id) within it is acknowledged again and not stored twice.
	// Default 2 minutes.
	DedupWindow time.Duration
	// DedupIDs bounds the ids remembered per (session, instance), the
	// oldest forgotten first. Default 1000.
	DedupIDs int

	// Engine, when set, makes the hub one node of a cluster (engine.go):
	// publishes are ordered, stored and routed by it, and Store, History,
	// HistoryBytes and the Dedup options are the engine's business.
	Engine Engine
}

// Defaults.
const (
	DefaultQueueBytes         = 4 << 20
	DefaultMaxPendingRequests = 1000
	DefaultStreamTTL          = 5 * time.Minute
	DefaultRetainTTL          = 24 * time.Hour
)

func (o Options) withDefaults() Options {
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = protocol.DefaultMaxSubscriptions
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	if o.MaxPendingRequests <= 0 {
		o.MaxPendingRequests = DefaultMaxPendingRequests
	}
	if o.StreamTTL <= 0 {
		o.StreamTTL = DefaultStreamTTL
	}
	if o.RetainTTL <= 0 {
		o.RetainTTL = DefaultRetainTTL
	}
	if o.Store == nil {
		o.Store = MemoryStore{}
	}
	if o.HistoryBytes <= 0 {
		o.HistoryBytes = DefaultHistoryBytes
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = DefaultDedupWindow
	}
	if o.DedupIDs <= 0 {
		o.DedupIDs = DefaultDedupIDs
	}
	return o
}

const numShards = 64

// shard holds the sessions whose id hashes to it.
type shard struct {
	mu       sync.RWMutex
	sessions map[string]*session
	index    int
	_        [32]byte // keep neighbouring shards' locks off one cache line
}

// clientShard indexes connections by client id, for operator APIs.
type clientShard struct {
	mu      sync.RWMutex
	conns   map[string]*Conn
	retired counters // of the connections unregistered from this shard
}

// counters are traffic totals.
type counters struct {
	msgsIn, msgsOut, bytesIn, bytesOut uint64
}

// Hub is the in-memory routing core. All its methods are safe for concurrent
// use.
type Hub struct {
	opts    Options
	closed  atomic.Bool
	shards  [numShards]shard
	clients [numShards]clientShard

	monMu    sync.Mutex                 // serializes changes of monitors
	monitors atomic.Pointer[[]*Monitor] // nil while there is none

	histReserved atomic.Int64 // bytes of Options.HistoryBytes granted to sessions

	sec hubSec // service subscriptions and metrics (security.go, metrics.go)

	eng Engine // nil: this node is alone (engine.go)
}

// New returns a Hub.
func New(opts Options) *Hub {
	h := &Hub{opts: opts.withDefaults(), eng: opts.Engine}
	for i := range h.shards {
		h.shards[i].index = i
		h.shards[i].sessions = make(map[string]*session)
		h.clients[i].conns = make(map[string]*Conn)
	}
	if h.eng != nil {
		h.eng.Start(h)
	}
	return h
}

// Options returns the hub's options with defaults applied.
func (h *Hub) Options() Options { return h.opts }

func shardIndex(s string) int {
	// FNV-1a, inline so that it does not allocate.
	x := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		x ^= uint32(s[i])
		x *= 16777619
	}
	return int(x % numShards)
}

// lockSession returns the live session id locked, creating it when create
// is set (else nil when absent).
func (h *Hub) lockSession(id string, create bool) *session {
	sh := &h.shards[shardIndex(id)]
	for {
		sh.mu.RLock()
		s := sh.sessions[id]
		sh.mu.RUnlock()
		if s == nil {
			if !create {
				return nil
			}
			sh.mu.Lock()
			if s = sh.sessions[id]; s == nil {
				s = newSession(h, id, sh.index)
				sh.sessions[id] = s
			}
			sh.mu.Unlock()
		}
		s.mu.Lock()
		if !s.dead {
			return s
		}
		s.mu.Unlock() // removed meanwhile: look again
	}
}

// maybeRemove removes s from its shard when it holds nothing. Called without
// locks.
func (h *Hub) maybeRemove(s *session) {
	s.mu.Lock()
	empty := s.isEmpty()
	s.mu.Unlock()
	if !empty {
		return
	}
	sh := &h.shards[shardIndex(s.id)]
	sh.mu.Lock()
	s.mu.Lock()
	if !s.dead && s.isEmpty() {
		s.dead = true
		h.retire(s)
		h.histReserved.Add(-s.reserved)
		s.reserved = 0
		if sh.sessions[s.id] == s {
			delete(sh.sessions, s.id)
		}
	}
	s.mu.Unlock()
	sh.mu.Unlock()
}

// NewConn creates a connection with a fresh, unique client id. It is not in
// any session until Register. Every Conn must end with Unregister.
func (h *Hub) NewConn(cfg ConnConfig) (*Conn, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	c := &Conn{
		h:           h,
		remote:      cfg.RemoteAddr,
		connectedAt: time.Now(),
		wake:        cfg.Wake,
		onClose:     cfg.OnClose,
		maxBytes:    h.opts.QueueBytes,
	}
	for {
		c.id = newClientID()
		cs := &h.clients[shardIndex(c.id)]
		cs.mu.Lock()
		if _, taken := cs.conns[c.id]; !taken {
			cs.conns[c.id] = c
			cs.mu.Unlock()
			return c, nil
		}
		cs.mu.Unlock()
	}
}

// conn returns the registered connection with the given client id, or nil.
func (h *Hub) conn(id string) *Conn {
	cs := &h.clients[shardIndex(id)]
	cs.mu.RLock()
	c := cs.conns[id]
	cs.mu.RUnlock()
	if c == nil || !c.live.Load() {
		return nil
	}
	return c
}

// Register joins c to a session under a name. echo false means c does not
// receive its own publishes. welcome, if not empty, is queued to c as the
// very first object, atomically with joining: anything else that reaches c
// comes after it, and once it is on its way c is visible to everyone.
func (h *Hub) Register(c *Conn, name, sessionID string, echo bool, welcome []byte) error {
	if err := protocol.ValidateName(name); err != nil {
		return &protocol.Error{Code: protocol.CodeBadRequest, Message: err.Error()}
	}
	if err := protocol.ValidateSessionID(sessionID); err != nil {
		return &protocol.Error{Code: protocol.CodeBadRequest, Message: err.Error()}
	}
	if h.closed.Load() {
		return ErrClosed
	}
	if !c.regOnce.CompareAndSwap(false, true) {
		return &protocol.Error{Code: protocol.CodeBadRequest, Message: "already registered"}
	}
	if closed, _ := c.Closed(); closed {
		return ErrClosed
	}
	if err := h.watch(sessionID); err != nil {
		c.regOnce.Store(false)
		return errUnavailable
	}
	s := h.lockSession(sessionID, true)
	c.name, c.session, c.echo, c.sess = name, sessionID, echo, s
	if h.eng != nil {
		h.eng.Member(sessionID, c.id, true)
	}
	s.members[c.id] = c
	c.live.Store(true)
	// Deliveries to c all take s.mu: none can overtake the welcome.
	c.Enqueue(welcome)
	s.mu.Unlock()
	return nil
}

// Unregister removes c from the hub: its subscriptions and pending requests
// go, its queue is dropped, and the session is forgotten when nothing is
// left in it. It does not call OnClose. Safe to call more than once, but
// not concurrently with Register: both belong to the connection's owner.
func (h *Hub) Unregister(c *Conn) {
	cs := &h.clients[shardIndex(c.id)]
	cs.mu.Lock()
	if cs.conns[c.id] == c {
		delete(cs.conns, c.id)
		// Totals stay monotonic: what leaves the index joins retired
		// under the same lock that Stats reads both with.
		r := &cs.retired
		r.msgsIn += c.msgsIn.Load()
		r.msgsOut += c.msgsOut.Load()
		r.bytesIn += c.bytesIn.Load()
		r.bytesOut += c.bytesOut.Load()
	}
	cs.mu.Unlock()
	c.shut(0)
	h.dropServiceSubs(c)
	if !c.live.Load() {
		return
	}
	s := c.sess
	now := time.Now()
	s.mu.Lock()
	if s.members[c.id] != c {
		s.mu.Unlock()
		return
	}
	for _, sb := range c.subs {
		s.detach(sb, now)
	}
	for replyTo, p := range c.pending {
		p.timer.Stop()
		delete(s.requests, replyTo)
	}
	c.pending = nil
	delete(s.members, c.id)
	if len(s.members) == 0 {
		s.emptySince = now
	}
	s.mu.Unlock()
	if h.eng != nil {
		h.eng.Member(s.id, c.id, false)
		h.unwatch(s)
	}
	h.maybeRemove(s)
}

// CloseAll closes every connection with code (their OnClose runs). The
// server uses it at shutdown with protocol.CloseShutdown.
func (h *Hub) CloseAll(code protocol.CloseCode, reason string) {
	var conns []*Conn
	for i := range h.clients {
		cs := &h.clients[i]
		cs.mu.RLock()
		for _, c := range cs.conns {
			conns = append(conns, c)
		}
		cs.mu.RUnlock()
	}
	for _, c := range conns {
		c.Close(code, reason)
	}
}

// Close stops the hub: NewConn and Register fail from now on and pending
// request timers are stopped. Connections are not closed (see CloseAll).
func (h *Hub) Close() {
	if h.closed.Swap(true) {
		return
	}
	for _, s := range h.allSessions() {
		s.mu.Lock()
		for replyTo, p := range s.requests {
			p.timer.Stop()
			delete(p.requester.pending, replyTo)
			delete(s.requests, replyTo)
		}
		s.mu.Unlock()
	}
}

// allSessions returns a snapshot of the live sessions.
func (h *Hub) allSessions() []*session {
	var out []*session
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, s := range sh.sessions {
			out = append(out, s)
		}
		sh.mu.RUnlock()
	}
	return out
}

// Sweep forgets state that has outlived its TTL: topics without subscribers
// unused for StreamTTL, and retained $meta. values of sessions without
// clients for RetainTTL. The server calls it periodically.
func (h *Hub) Sweep(now time.Time) {
	ns := now.UnixNano()
	for _, s := range h.allSessions() {
		s.mu.Lock()
		for _, st := range s.streams {
			s.release(st.hist.Trim(ns))
			if len(st.subs) > 0 {
				continue
			}
			if h.eng != nil {
				continue // forgetStreams below
			}
			if st.retained != nil {
				if len(s.members) == 0 && now.Sub(s.emptySince) > h.opts.RetainTTL {
					s.deleteStream(st)
				}
				continue
			}
			// A stream lives while it keeps history, and StreamTTL after
			// its last use: then it starts again under a new epoch.
			if st.hist.Len() == 0 && now.Sub(st.lastUsed) > h.opts.StreamTTL {
				s.deleteStream(st)
			}
		}
		if h.eng != nil {
			s.forgetStreams() // (the engine's store keeps them)
		}
		s.sweepDedup(ns)
		s.sweepRemote(now)
		s.returnReserve(0)
		empty := s.isEmpty()
		s.mu.Unlock()
		if empty {
			h.maybeRemove(s)
		}
	}
}

// Stats are the hub's totals.
type Stats struct {
	Connections int // connections, welcomed or not
	Sessions    int // sessions, including those that only keep retained values
	// Objects and bytes received from and sent to clients since the hub
	// started, closed connections included. They never decrease.
	MsgsIn, MsgsOut, BytesIn, BytesOut uint64
}

// Stats returns the hub's totals. It reads each connection's counters
// under its client-shard read lock: cheap enough to call every second,
// and free when nobody calls it.
func (h *Hub) Stats() Stats {
	var st Stats
	for i := range h.clients {
		cs := &h.clients[i]
		cs.mu.RLock()
		st.Connections += len(cs.conns)
		st.MsgsIn += cs.retired.msgsIn
		st.MsgsOut += cs.retired.msgsOut
		st.BytesIn += cs.retired.bytesIn
		st.BytesOut += cs.retired.bytesOut
		for _, c := range cs.conns {
			st.MsgsIn += c.msgsIn.Load()
			st.MsgsOut += c.msgsOut.Load()
			st.BytesIn += c.bytesIn.Load()
			st.BytesOut += c.bytesOut.Load()
		}
		cs.mu.RUnlock()
	}
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		st.Sessions += len(sh.sessions)
		sh.mu.RUnlock()
	}
	return st
}
