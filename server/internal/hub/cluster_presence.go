package hub

import (
	"context"
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard/protocol"
)

// presenceEngine is an Engine that lists a topic's subscribers on every
// node (the NATS engine asks each node's LocalPresence).
type presenceEngine interface {
	Presence(ctx context.Context, session, topic string) ([]protocol.PresenceClient, error)
	// PresenceInterest: this node has (on) or no longer has (off)
	// subscribers asking for topic's presence events. Called with the
	// session's lock held: it must not block or call the hub.
	PresenceInterest(session, topic string, on bool)
	// PresenceEvent carries an encoded presence event of topic to the
	// other nodes with interest (DeliverPresenceEvent there). Called with
	// the session's lock held: it must not block or call the hub.
	PresenceEvent(session, topic string, b []byte)
}

// presenceWatchers keeps the engine told whether this node has presence
// watchers of st: call it after st.watchers changed by one. Called with
// s.mu held.
func (s *session) presenceWatchers(st *stream) {
	pe, ok := s.h.eng.(presenceEngine)
	if !ok {
		return
	}
	switch st.watchers {
	case 1:
		pe.PresenceInterest(s.id, st.topic, true)
	case 0:
		pe.PresenceInterest(s.id, st.topic, false)
	}
}

// forwardPresence carries a presence event to the other nodes. Called with
// s.mu held.
func (s *session) forwardPresence(st *stream, b []byte) {
	if pe, ok := s.h.eng.(presenceEngine); ok {
		pe.PresenceEvent(s.id, st.topic, b)
	}
}

// DeliverPresenceEvent queues a presence event from another node to this
// node's subscribers of topic that asked for them.
func (h *Hub) DeliverPresenceEvent(sessionID, topic string, b []byte) {
	s := h.lockSession(sessionID, false)
	if s == nil {
		return
	}
	defer s.mu.Unlock()
	st := s.streams[topic]
	if st == nil || st.watchers == 0 {
		return
	}
	for _, sb := range st.subs {
		if sb.presence {
			sb.conn.Enqueue(b)
		}
	}
}

// clusterPresence lists topic's subscribers in session on every node that
// answers within the engine's wait, this one included.
func (h *Hub) clusterPresence(pe presenceEngine, session, topic string) []protocol.PresenceClient {
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	list, err := pe.Presence(ctx, session, topic)
	if err != nil {
		local, _ := h.LocalPresence(session, topic)
		return local
	}
	return list
}

// MergePresence joins presence lists (of several nodes) into one, by name
// then client id, each client once.
func MergePresence(lists ...[]protocol.PresenceClient) []protocol.PresenceClient {
	out := []protocol.PresenceClient{}
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.SortFunc(out, func(a, b protocol.PresenceClient) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
	return slices.CompactFunc(out, func(a, b protocol.PresenceClient) bool { return a.ClientID == b.ClientID })
}
