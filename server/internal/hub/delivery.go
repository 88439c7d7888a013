package hub

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// This file holds what makes delivery lose nothing: recovery from history,
// acknowledgements after storage, publish de-duplication, the global
// memory bound of histories, and presence.

// ErrNoTopic: the session has no such topic (never published, or expired).
var ErrNoTopic = errors.New("hub: no such topic")

// SetInstance records the publisher instance a client declared in hello:
// its publishes with an id are then de-duplicated by (session, instance,
// id) within Options.DedupWindow, across its connections. Call it before
// Register; empty means none (no de-duplication).
func (c *Conn) SetInstance(instance string) error {
	if instance == "" {
		return nil
	}
	if err := protocol.ValidateInstance(instance); err != nil {
		return &protocol.Error{Code: protocol.CodeBadRequest, Message: err.Error()}
	}
	if c.regOnce.Load() {
		return &protocol.Error{Code: protocol.CodeBadRequest, Message: "already registered"}
	}
	c.instance = instance
	return nil
}

// Instance returns what SetInstance recorded.
func (c *Conn) Instance() string { return c.instance }

// recover decides a subscribe with since on st and returns the entries to
// replay. Called with s.mu held: whatever it returns is queued before any
// later publish to the topic.
func (s *session) recover(st *stream, c *Conn, since *protocol.Since, now time.Time) (bool, string, []Entry) {
	switch {
	case since.Epoch != st.epoch || since.Seq > st.seq:
		return false, protocol.ReasonEpochChanged, nil
	case since.Seq == st.seq:
		return true, "", nil // nothing missed
	case s.h.limitsFor(st.topic).MaxMessages == 0:
		return false, protocol.ReasonNoHistory, nil
	}
	s.release(st.hist.Trim(now.UnixNano()))
	if since.Seq+1 < st.hist.First() {
		return false, protocol.ReasonTooFarBehind, nil
	}
	replay := st.hist.Since(since.Seq, make([]Entry, 0, min(int(st.seq-since.Seq), st.hist.Len())))
	// A connection with echo off does not get its own publishes: nor their
	// replay (known by its instance).
	if !c.echo && c.instance != "" {
		replay = slices.DeleteFunc(replay, func(e Entry) bool { return e.Origin == c.instance })
	}
	size := 0
	for i := range replay {
		size += len(replay[i].Data)
	}
	if size > c.maxBytes-c.QueuedBytes() {
		// Replaying would close it as a slow consumer, and it would come
		// back for the same: better say so.
		return false, protocol.ReasonTooFarBehind, nil
	}
	return true, "", replay
}

// ackStored queues a publish's ack to c once st's history has stored it:
// at once in memory, from the store's writer with a durable store. Called
// with s.mu held.
func (s *session) ackStored(c *Conn, st *stream, a *protocol.Ack) {
	if st.hist.Stored() {
		ack(c, a)
		return
	}
	b := protocol.AppendAck(make([]byte, 0, 64+len(a.ID)), a)
	id := a.ID
	st.hist.OnStored(func(err error) {
		if err != nil {
			c.Enqueue(protocol.AppendError(nil, id, protocol.CodeInternal, "the message could not be stored"))
			return
		}
		c.Enqueue(b)
	})
}

// The global memory bound: sessions reserve bytes from Hub.histReserved in
// chunks, so that the shared counter is touched once per chunk, not per
// publish.
const reserveChunk = 64 << 10

// reserve takes n bytes from the global bound; false when it would exceed it.
func (h *Hub) reserve(n int64) bool {
	for {
		cur := h.histReserved.Load()
		if cur+n > h.opts.HistoryBytes {
			return false
		}
		if h.histReserved.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// charge accounts a change of delta bytes in st's history. Over the global
// bound, st's own oldest entries go first (the topic that publishes pays);
// when only the newest is left, it is kept and the bound is exceeded by it.
// Called with s.mu held.
func (s *session) charge(st *stream, delta int) {
	s.histBytes += int64(delta)
	if delta <= 0 {
		s.returnReserve(2 * reserveChunk)
		return
	}
	if s.histBytes <= s.reserved {
		return
	}
	need := s.histBytes - s.reserved
	grant := (need + reserveChunk - 1) / reserveChunk * reserveChunk
	if s.h.reserve(grant) {
		s.reserved += grant
		return
	}
	for s.histBytes > s.reserved && st.hist.Len() > 1 {
		s.histBytes -= int64(st.hist.DropOldest())
	}
	if need = s.histBytes - s.reserved; need > 0 {
		s.h.histReserved.Add(need)
		s.reserved += need
	}
}

// release accounts freed bytes. Called with s.mu held.
func (s *session) release(freed int) {
	if freed > 0 {
		s.histBytes -= int64(freed)
		s.returnReserve(2 * reserveChunk)
	}
}

// returnReserve gives back what s holds beyond its use plus keep. Called
// with s.mu held.
func (s *session) returnReserve(keep int64) {
	if extra := s.reserved - s.histBytes - keep; extra > 0 {
		s.reserved -= extra
		s.h.histReserved.Add(-extra)
	}
}

// dedupWindow remembers the publish ids of one instance in one session.
type dedupWindow struct {
	ids   map[string]dedupRec
	order []string // ids, oldest first from head
	head  int
	last  int64 // when the newest was recorded (Unix ns)
}

type dedupRec struct {
	topic string
	seq   uint64
	at    int64
}

// dedupLookup returns the publish instance made with id within the window.
// Called with s.mu held.
func (s *session) dedupLookup(instance, id string, now int64) (dedupRec, bool) {
	w := s.dedup[instance]
	if w == nil {
		return dedupRec{}, false
	}
	rec, ok := w.ids[id]
	if !ok || now-rec.at > int64(s.h.opts.DedupWindow) {
		return dedupRec{}, false
	}
	return rec, true
}

// dedupRecord remembers that instance's publish id got seq on topic.
// Called with s.mu held.
func (s *session) dedupRecord(instance, id, topic string, seq uint64, at int64) {
	if s.dedup == nil {
		s.dedup = make(map[string]*dedupWindow)
	}
	w := s.dedup[instance]
	if w == nil {
		w = &dedupWindow{ids: make(map[string]dedupRec)}
		s.dedup[instance] = w
	}
	w.expire(at, int64(s.h.opts.DedupWindow), s.h.opts.DedupIDs-1)
	if _, dup := w.ids[id]; !dup {
		w.order = append(w.order, id)
	}
	w.ids[id] = dedupRec{topic: topic, seq: seq, at: at}
	w.last = max(w.last, at)
}

// expire forgets the ids older than window and the oldest beyond keep.
func (w *dedupWindow) expire(now, window int64, keep int) {
	for w.head < len(w.order) {
		id := w.order[w.head]
		rec, ok := w.ids[id]
		if ok && now-rec.at <= window && len(w.order)-w.head <= keep {
			break
		}
		delete(w.ids, id)
		w.order[w.head] = ""
		w.head++
	}
	if w.head > 64 && w.head > len(w.order)/2 {
		n := copy(w.order, w.order[w.head:])
		clear(w.order[n:])
		w.order, w.head = w.order[:n], 0
	}
}

// sweepDedup forgets the windows of instances that published nothing for
// a whole window. Called with s.mu held.
func (s *session) sweepDedup(now int64) {
	window := int64(s.h.opts.DedupWindow)
	for inst, w := range s.dedup {
		if now-w.last > window {
			delete(s.dedup, inst)
		} else {
			w.expire(now, window, s.h.opts.DedupIDs)
		}
	}
}

// presenceEvent tells st's subscribers that asked for presence events
// (except subject itself) that subject joined or left. Called with s.mu
// held.
func (s *session) presenceEvent(st *stream, event string, subject *Conn) {
	if st.watchers == 0 && s.h.eng == nil {
		return
	}
	b := protocol.AppendPresenceEvent(nil, st.topic, event, subject.id, subject.name)
	if s.h.eng != nil {
		s.forwardPresence(st, b) // other nodes may have watchers (cluster_presence.go)
	}
	for _, sb := range st.subs {
		if sb.presence && sb.conn != subject {
			sb.conn.Enqueue(b)
		}
	}
}

// presenceList returns who subscribes to topic (exactly: not through a
// wildcard), by name then client id. Called with s.mu held.
func (s *session) presenceList(topic string) []protocol.PresenceClient {
	st := s.streams[topic]
	if st == nil {
		return []protocol.PresenceClient{}
	}
	out := make([]protocol.PresenceClient, 0, len(st.subs))
	for _, sb := range st.subs {
		out = append(out, protocol.PresenceClient{ClientID: sb.conn.id, Name: sb.conn.name})
	}
	slices.SortFunc(out, func(a, b protocol.PresenceClient) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
	return out
}

// presence answers a presence object: who subscribes to f.Topic in c's
// session.
func (h *Hub) presence(c *Conn, f *protocol.Frame) *protocol.Error {
	if err := needID(f.ID); err != nil {
		return err
	}
	if err := topicErr(f.Topic); err != nil {
		return err
	}
	if !c.live.Load() {
		return errNotReady
	}
	var list []protocol.PresenceClient
	if pe, ok := h.eng.(presenceEngine); ok {
		list = h.clusterPresence(pe, c.session, f.Topic) // cluster_presence.go
	} else {
		s := c.sess
		s.mu.Lock()
		list = s.presenceList(f.Topic)
		s.mu.Unlock()
	}
	n := 64 + len(f.ID) + len(f.Topic)
	for _, p := range list {
		n += 32 + len(p.ClientID) + len(p.Name)
	}
	c.Enqueue(protocol.AppendPresence(make([]byte, 0, n), f.ID, f.Topic, list))
	return nil
}

// Presence lists who subscribes to topic in sessionID (the operator's
// view of what a presence object answers): empty when nobody does. In
// cluster mode it asks every node.
func (h *Hub) Presence(sessionID, topic string) ([]protocol.PresenceClient, error) {
	list, err := h.LocalPresence(sessionID, topic)
	if err != nil {
		return nil, err
	}
	if pe, ok := h.eng.(presenceEngine); ok {
		return h.clusterPresence(pe, sessionID, topic), nil
	}
	return list, nil
}

// LocalPresence is Presence on this node alone.
func (h *Hub) LocalPresence(sessionID, topic string) ([]protocol.PresenceClient, error) {
	if err := protocol.ValidateSessionID(sessionID); err != nil {
		return nil, err
	}
	if err := protocol.ValidateTopic(topic); err != nil {
		return nil, err
	}
	s := h.lockSession(sessionID, false)
	if s == nil {
		return []protocol.PresenceClient{}, nil
	}
	defer s.mu.Unlock()
	return s.presenceList(topic), nil
}

// HistoryQuery selects messages of a topic's history.
type HistoryQuery struct {
	// Since, when set, selects the messages after that seq, oldest first
	// (paging forward). Without it, the latest Limit messages.
	Since *uint64
	// Limit is the most messages returned. Default (0) and maximum 10000.
	Limit int
}

// MaxHistoryLimit bounds HistoryQuery.Limit.
const MaxHistoryLimit = 10000

// HistoryPage is a slice of a topic's history.
type HistoryPage struct {
	SessionID string            `json:"session_id"`
	Topic     string            `json:"topic"`
	Epoch     string            `json:"epoch"`
	Seq       uint64            `json:"seq"`       // the topic's latest seq
	FirstSeq  uint64            `json:"first_seq"` // the oldest seq kept; seq+1 when none is
	Messages  []json.RawMessage `json:"messages"`  // message objects as delivered, oldest first
	More      bool              `json:"more,omitempty"`
}

// History reads topic's history in sessionID (the operator's view).
// ErrNoTopic when the session has no such topic.
func (h *Hub) History(sessionID, topic string, q HistoryQuery) (*HistoryPage, error) {
	if err := protocol.ValidateSessionID(sessionID); err != nil {
		return nil, err
	}
	if err := protocol.ValidateTopic(topic); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxHistoryLimit {
		limit = MaxHistoryLimit
	}
	if h.eng != nil {
		return h.historyEngine(sessionID, topic, q, limit) // cluster_history.go
	}
	s := h.lockSession(sessionID, false)
	if s == nil {
		return nil, ErrNoTopic
	}
	defer s.mu.Unlock()
	st := s.streams[topic]
	if st == nil {
		return nil, ErrNoTopic
	}
	s.release(st.hist.Trim(time.Now().UnixNano()))
	after := uint64(0)
	if q.Since != nil {
		after = *q.Since
	}
	entries := st.hist.Since(after, nil)
	p := &HistoryPage{SessionID: sessionID, Topic: topic, Epoch: st.epoch, Seq: st.seq,
		FirstSeq: st.hist.First(), Messages: []json.RawMessage{}}
	entries, p.More = page(entries, q, limit)
	for _, e := range entries {
		p.Messages = append(p.Messages, json.RawMessage(e.Data))
	}
	return p, nil
}

// page cuts a history to limit messages: the first ones after q.Since, or
// the latest; more reports whether some were cut.
func page[T any](xs []T, q HistoryQuery, limit int) (_ []T, more bool) {
	if len(xs) <= limit {
		return xs, false
	}
	if q.Since != nil {
		return xs[:limit], true
	}
	return xs[len(xs)-limit:], true
}

// Load restores the histories Options.Store kept (a durable store's, after
// a restart): their streams come back with the same epoch and seq, and the
// publish ids they hold are de-duplicated again. Call it once, before
// serving.
func (h *Hub) Load() error {
	now := time.Now()
	return h.opts.Store.Restore(h.limitsFor, func(session, topic string, hist History) {
		if protocol.ValidateSessionID(session) != nil || protocol.ValidateTopic(topic) != nil {
			hist.Delete()
			return
		}
		s := h.lockSession(session, true)
		defer s.mu.Unlock()
		if old := s.streams[topic]; old != nil {
			s.deleteStream(old)
		}
		st := &stream{topic: topic, hist: hist, seq: hist.Last(), epoch: hist.Epoch(), lastUsed: now}
		s.streams[topic] = st
		if len(s.members) == 0 {
			s.emptySince = now
		}
		size := 0
		for _, e := range hist.Since(0, nil) {
			size += e.size()
			if e.ID != "" && e.Origin != "" {
				s.dedupRecord(e.Origin, e.ID, topic, e.Seq, e.Time)
			}
			if protocol.IsMeta(topic) {
				st.retained = e.Data
			}
		}
		s.charge(st, size)
		s.release(hist.Trim(now.UnixNano()))
	})
}
