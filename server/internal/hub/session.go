package hub

import (
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// session is one isolation scope. Everything a message can reach is found
// through the session it was published in: its members, its streams (exact
// subscriptions), its wildcard subscriptions and its pending requests.
type session struct {
	h     *Hub
	id    string
	shard int // index of its shard in Hub.shards

	mu   sync.Mutex // guards everything below and the session fields of its Conns
	dead bool       // removed from its shard; lockSession retries

	members     map[string]*Conn   // client id → conn
	streams     map[string]*stream // topic → stream
	wild        []*wildGroup       // wildcard subscriptions grouped by pattern
	wildIdx     map[string]*wildGroup
	requests    map[string]*pending  // reply_to → pending request
	remote      map[string]remoteReq // reply_to → request forwarded by another node (cluster.go)
	fanoutStamp uint64               // de-duplicates deliveries when wildcards overlap
	emptySince  time.Time            // when the last member left

	dedup     map[string]*dedupWindow // publisher instance → the publish ids it used recently
	histBytes int64                   // bytes its streams' histories hold
	reserved  int64                   // bytes granted by the hub's global bound (≥ histBytes, or the bound is reached)

	m sessMetrics // metrics.go
}

func newSession(h *Hub, id string, shard int) *session {
	return &session{
		h:        h,
		id:       id,
		shard:    shard,
		members:  make(map[string]*Conn),
		streams:  make(map[string]*stream),
		wildIdx:  make(map[string]*wildGroup),
		requests: make(map[string]*pending),
	}
}

func (s *session) isEmpty() bool {
	return len(s.members) == 0 && len(s.streams) == 0 && len(s.wild) == 0 && len(s.requests) == 0 &&
		len(s.dedup) == 0 && len(s.remote) == 0
}

// stream is one (session, topic): its sequence, epoch, history, exact
// subscribers and, for $meta. topics, the retained value (also its
// history's one entry). seq and epoch mirror hist's Last and Epoch.
type stream struct {
	topic    string
	seq      uint64
	epoch    string
	hist     History
	subs     []*sub
	watchers int    // subscribers that asked for presence events
	retained []byte // the encoded message holding the current $meta. value
	lastUsed time.Time
}

// sub is one subscription of one connection.
type sub struct {
	conn     *Conn
	pattern  string
	idx      int        // position in st.subs or wg.subs
	st       *stream    // exact subscription
	wg       *wildGroup // wildcard subscription
	presence bool       // exact subscription that receives presence events
}

// wildGroup holds the subscriptions to one wildcard pattern, so that a
// publish matches each distinct pattern once.
type wildGroup struct {
	pattern string
	idx     int // position in session.wild
	subs    []*sub
}

// pending is a request waiting for its first reply.
type pending struct {
	replyTo   string
	id        string
	requester *Conn
	timer     *time.Timer
	start     time.Time // for the request latency metric
}

// stream returns the stream of topic, creating it when create is set.
// Called with s.mu held.
func (s *session) stream(topic string, create bool, now time.Time) *stream {
	st := s.streams[topic]
	if st == nil && create {
		hist := s.h.opts.Store.Create(s.id, topic, s.h.limitsFor(topic))
		st = &stream{topic: topic, hist: hist, seq: hist.Last(), epoch: hist.Epoch(), lastUsed: now}
		if s.h.eng != nil {
			st.epoch = s.h.eng.Epoch() // and seq comes from Deliver
		}
		s.streams[topic] = st
	}
	return st
}

// dropIfIdle forgets a stream that holds nothing worth keeping. Called with
// s.mu held.
func (s *session) dropIfIdle(st *stream) {
	if len(st.subs) == 0 && st.seq == 0 && st.retained == nil {
		s.deleteStream(st)
	}
}

// deleteStream forgets st and its history. Called with s.mu held.
func (s *session) deleteStream(st *stream) {
	for st.hist.Len() > 0 {
		s.release(st.hist.DropOldest())
	}
	st.hist.Delete()
	delete(s.streams, st.topic)
}

// attach adds sb (with conn and pattern set) to the session's tables.
// Called with s.mu held.
func (s *session) attach(sb *sub, wildcard bool, now time.Time) {
	c := sb.conn
	if c.subs == nil {
		c.subs = make(map[string]*sub)
	}
	c.subs[sb.pattern] = sb
	if !wildcard {
		st := s.stream(sb.pattern, true, now)
		st.lastUsed = now
		s.presenceEvent(st, protocol.PresenceJoin, c)
		sb.st, sb.idx = st, len(st.subs)
		st.subs = append(st.subs, sb)
		s.interest(sb, true)
		return
	}
	g := s.wildIdx[sb.pattern]
	if g == nil {
		g = &wildGroup{pattern: sb.pattern, idx: len(s.wild)}
		s.wild = append(s.wild, g)
		s.wildIdx[sb.pattern] = g
	}
	sb.wg, sb.idx = g, len(g.subs)
	g.subs = append(g.subs, sb)
	s.interest(sb, true)
}

// detach removes sb from the session's tables. Called with s.mu held.
func (s *session) detach(sb *sub, now time.Time) {
	delete(sb.conn.subs, sb.pattern)
	if st := sb.st; st != nil {
		st.subs = removeSub(st.subs, sb)
		if sb.presence {
			st.watchers--
			s.presenceWatchers(st)
		}
		st.lastUsed = now
		s.presenceEvent(st, protocol.PresenceLeave, sb.conn)
		s.interest(sb, false)
		// The stream stays (Sweep drops it after StreamTTL): a subscriber
		// that comes back recovers in the same epoch.
		return
	}
	g := sb.wg
	g.subs = removeSub(g.subs, sb)
	s.interest(sb, false)
	if len(g.subs) == 0 {
		last := len(s.wild) - 1
		s.wild[g.idx] = s.wild[last]
		s.wild[g.idx].idx = g.idx
		s.wild[last] = nil
		s.wild = s.wild[:last]
		delete(s.wildIdx, g.pattern)
	}
}

func removeSub(subs []*sub, sb *sub) []*sub {
	last := len(subs) - 1
	subs[sb.idx] = subs[last]
	subs[sb.idx].idx = sb.idx
	subs[last] = nil
	subs = subs[:last]
	if len(subs) == 0 {
		return nil
	}
	return subs
}

// fanoutLocal queues b to every connection of the session subscribed to topic
// (st, which may be nil, holds its exact subscribers), at most once per
// connection, skipping the publisher when its echo is off. It returns the
// number of connections that got b. Called with s.mu held: that is what
// keeps each topic's messages in seq order on every connection.
func (s *session) fanoutLocal(st *stream, topic string, b []byte, publisher *Conn) int {
	n := 0
	if len(s.wild) == 0 {
		if st == nil {
			return 0
		}
		for _, sb := range st.subs {
			c := sb.conn
			if c == publisher && !c.echo {
				continue
			}
			if c.Enqueue(b) {
				n++
			}
		}
		return n
	}
	s.fanoutStamp++
	stamp := s.fanoutStamp
	if st != nil {
		for _, sb := range st.subs {
			c := sb.conn
			c.mark = stamp
			if c == publisher && !c.echo {
				continue
			}
			if c.Enqueue(b) {
				n++
			}
		}
	}
	for _, g := range s.wild {
		if !protocol.Match(g.pattern, topic) {
			continue
		}
		for _, sb := range g.subs {
			c := sb.conn
			if c.mark == stamp {
				continue
			}
			c.mark = stamp
			if c == publisher && !c.echo {
				continue
			}
			if c.Enqueue(b) {
				n++
			}
		}
	}
	return n
}
