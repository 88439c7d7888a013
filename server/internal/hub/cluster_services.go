package hub

// Service connections' all-sessions subscriptions in a cluster: a node with
// service connections receives every session's messages and requests, also
// of sessions without clients on it (the engine delivers those through
// DeliverService and DeliverRequest).

// serviceEngine is an Engine that routes every session's traffic to nodes
// with service connections.
type serviceEngine interface {
	// ServiceInterest: this node has (on) or no longer has (off) service
	// connections with all-sessions subscriptions. Called with locks held:
	// it must not block or call the hub.
	ServiceInterest(on bool)
}

// serviceInterest tells the engine whether this node has all-sessions
// subscriptions. Called with svcMu held.
func (h *Hub) serviceInterest(on bool) {
	if se, ok := h.eng.(serviceEngine); ok {
		se.ServiceInterest(on)
	}
}

// DeliverService queues a message of a session this node has no clients in
// to the service connections subscribed to its topic.
func (h *Hub) DeliverService(d *Delivery) {
	p := h.sec.services.Load()
	if p == nil {
		return
	}
	var b []byte
	for i := range *p {
		e := &(*p)[i]
		if !matchesAny(e.patterns, d.Msg.Topic) {
			continue
		}
		if b == nil {
			b = encodeMessage(&d.Msg)
		}
		e.conn.Enqueue(b)
	}
}
