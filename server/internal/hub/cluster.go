package hub

import (
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Requests, replies and sends across the nodes of a cluster (engine.go):
// a request reaches the subscribers of its topic on every node; a reply
// given on another node than the requester's travels back to the
// requester's node; a send reaches its client wherever it is connected.

// remoteReq is a request forwarded here by another node, until it is
// answered or expires.
type remoteReq struct {
	node    string // where the requester is
	expires time.Time
}

// interest keeps the engine told which patterns this node's clients
// subscribe to in s: on with the first subscription to a pattern, off with
// the last. Called with s.mu held.
func (s *session) interest(sb *sub, on bool) {
	if s.h.eng == nil {
		return
	}
	n := 0
	if sb.st != nil {
		n = len(sb.st.subs)
	} else if sb.wg != nil {
		n = len(sb.wg.subs)
	}
	if on && n == 1 || !on && n == 0 {
		s.h.eng.Interest(s.id, sb.pattern, on)
	}
}

// forwardRequest carries a request to the other nodes once it is pending
// here. With local subscribers it does not wait; without, it waits
// (releasing s.mu) to learn whether any other node had one and reports
// no_responders when none had. Called with s.mu held, returns with it held.
func (h *Hub) forwardRequest(s *session, c *Conn, p *pending, topic string, b []byte, timeout time.Duration, local int) *protocol.Error {
	if local > 0 {
		h.eng.ForwardRequest(s.id, topic, p.replyTo, b, timeout, false)
		return nil
	}
	s.mu.Unlock()
	ok := h.eng.ForwardRequest(s.id, topic, p.replyTo, b, timeout, true)
	s.mu.Lock()
	if !ok && s.requests[p.replyTo] == p {
		p.timer.Stop()
		delete(s.requests, p.replyTo)
		delete(c.pending, p.replyTo)
		return errNoResp
	}
	return nil
}

// DeliverRequest implements Sink.
func (h *Hub) DeliverRequest(sessionID, topic, replyTo, origin string, b []byte, timeout time.Duration) int {
	// With service connections here, a session without clients here is
	// made to keep the request for their reply.
	s := h.lockSession(sessionID, h.sec.services.Load() != nil)
	if s == nil {
		return 0
	}
	defer s.mu.Unlock()
	if _, dup := s.remote[replyTo]; dup {
		return 0 // (two of this node's patterns matched)
	}
	now := time.Now()
	n := s.fanout(s.streams[topic], topic, b, nil)
	if n > 0 {
		if s.remote == nil {
			s.remote = make(map[string]remoteReq)
		}
		s.remote[replyTo] = remoteReq{node: origin, expires: now.Add(timeout)}
	}
	return n
}

// replyRemote answers a request forwarded by another node, if replyTo is
// one. Called with s.mu held.
func (h *Hub) replyRemote(s *session, replyTo string, payload []byte, name, ts string, now time.Time) bool {
	r, ok := s.remote[replyTo]
	if !ok {
		return false
	}
	delete(s.remote, replyTo)
	if now.After(r.expires) {
		return false
	}
	h.eng.ForwardReply(r.node, s.id, replyTo, payload, name, ts)
	return true
}

// DeliverReply implements Sink.
func (h *Hub) DeliverReply(sessionID, replyTo string, payload []byte, name, ts string) {
	s := h.lockSession(sessionID, false)
	if s == nil {
		return
	}
	defer s.mu.Unlock()
	if p := s.requests[replyTo]; p != nil {
		s.answer(p, payload, name, ts, time.Now())
	}
}

// DeliverSend implements Sink.
func (h *Hub) DeliverSend(sessionID, to string, b []byte) bool {
	s := h.lockSession(sessionID, false)
	if s == nil {
		return false
	}
	defer s.mu.Unlock()
	c := s.members[to]
	return c != nil && c.Enqueue(b)
}

// sweepRemote forgets forwarded requests that expired unanswered. Called
// with s.mu held.
func (s *session) sweepRemote(now time.Time) {
	for r, rr := range s.remote {
		if now.After(rr.expires) {
			delete(s.remote, r)
		}
	}
}

// plainToken reports whether a client id can be a subject token: client ids
// are base62 with a "c_" prefix, and anything else cannot name a client.
func plainToken(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
