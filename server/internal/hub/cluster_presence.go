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
