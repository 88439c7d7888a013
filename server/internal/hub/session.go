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
	id    string
	shard int // index of its shard in Hub.shards

	mu   sync.Mutex // guards everything below and the session fields of its Conns
	dead bool       // removed from its shard; lockSession retries

	members     map[string]*Conn   // client id → conn
	streams     map[string]*stream // topic → stream
	wild        []*wildGroup       // wildcard subscriptions grouped by pattern
	wildIdx     map[string]*wildGroup
	requests    map[string]*pending // reply_to → pending request
	fanoutStamp uint64              // de-duplicates deliveries when wildcards overlap
	emptySince  time.Time           // when the last member left
}

func newSession(id string, shard int) *session {
	return &session{
		id:       id,
		shard:    shard,
		members:  make(map[string]*Conn),
		streams:  make(map[string]*stream),
		wildIdx:  make(map[string]*wildGroup),
		requests: make(map[string]*pending),
	}
}

func (s *session) isEmpty() bool {
	return len(s.members) == 0 && len(s.streams) == 0 && len(s.wild) == 0 && len(s.requests) == 0
}

// stream is one (session, topic): its sequence, epoch, exact subscribers and,
// for $meta. topics, the retained value. History will live here.
type stream struct {
	topic    string
	seq      uint64
	epoch    string
	subs     []*sub
	retained []byte // the encoded message holding the current $meta. value
	lastUsed time.Time
}

// sub is one subscription of one connection.
type sub struct {
	conn    *Conn
	pattern string
	idx     int        // position in st.subs or wg.subs
	st      *stream    // exact subscription
	wg      *wildGroup // wildcard subscription
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
}

// stream returns the stream of topic, creating it when create is set.
// Called with s.mu held.
func (s *session) stream(topic string, create bool, now time.Time) *stream {
	st := s.streams[topic]
	if st == nil && create {
		st = &stream{topic: topic, epoch: newEpoch(), lastUsed: now}
		s.streams[topic] = st
	}
	return st
}

// dropIfIdle forgets a stream that holds nothing worth keeping. Called with
// s.mu held.
func (s *session) dropIfIdle(st *stream) {
	if len(st.subs) == 0 && st.seq == 0 && st.retained == nil {
		delete(s.streams, st.topic)
	}
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
		sb.st, sb.idx = st, len(st.subs)
		st.subs = append(st.subs, sb)
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
}

// detach removes sb from the session's tables. Called with s.mu held.
func (s *session) detach(sb *sub, now time.Time) {
	delete(sb.conn.subs, sb.pattern)
	if st := sb.st; st != nil {
		st.subs = removeSub(st.subs, sb)
		st.lastUsed = now
		s.dropIfIdle(st)
		return
	}
	g := sb.wg
	g.subs = removeSub(g.subs, sb)
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

// fanout queues b to every connection of the session subscribed to topic
// (st, which may be nil, holds its exact subscribers), at most once per
// connection, skipping the publisher when its echo is off. It returns the
// number of connections that got b. Called with s.mu held: that is what
// keeps each topic's messages in seq order on every connection.
func (s *session) fanout(st *stream, topic string, b []byte, publisher *Conn) int {
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
