package natsengine

import (
	"strings"

	"github.com/nats-io/nats.go"
)

// Presence events travel between nodes on <prefix>.pe.<enc(S)>.<topic>;
// a node subscribes to a topic's while it has clients that asked for that
// topic's presence events.

// PresenceInterest implements the hub's presence engine.
func (e *Engine) PresenceInterest(session, topic string, on bool) {
	e.toggle("pe\x00"+session+"\x00"+topic, e.presenceSubject(session, topic), on, func(msg *nats.Msg) {
		if msg.Header.Get(hdrNode) == e.node {
			return
		}
		if d, ok := e.sink.(interface {
			DeliverPresenceEvent(session, topic string, b []byte)
		}); ok {
			d.DeliverPresenceEvent(session, topic, msg.Data)
		}
	})
}

// PresenceEvent implements the hub's presence engine.
func (e *Engine) PresenceEvent(session, topic string, b []byte) {
	msg := &nats.Msg{Subject: e.presenceSubject(session, topic), Data: b, Header: nats.Header{hdrNode: {e.node}}}
	if err := e.nc.PublishMsg(msg); err != nil {
		e.log.Warn("nats: presence event", "err", err)
	}
}

func (e *Engine) presenceSubject(session, topic string) string {
	var b strings.Builder
	b.WriteString(e.cfg.Prefix)
	b.WriteString(".pe.")
	b.WriteString(encodeSession(session))
	b.WriteByte('.')
	b.WriteString(topic)
	return b.String()
}
