package natsengine

import (
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// A node with service connections (all-sessions subscriptions) subscribes
// to every session's republished messages (<prefix>.rp.*.>) and requests
// (<prefix>.q.*.>). Messages of the sessions it watches reach its services
// through the session's own delivery; the others through DeliverService.
// These are core NATS deliveries without gap filling: a service misses what
// the node's connection drops under load (the slow-consumer metric tells).

// serviceSink is the hub's side of it.
type serviceSink interface {
	DeliverService(d *hub.Delivery)
}

// ServiceInterest implements the hub's service engine.
func (e *Engine) ServiceInterest(on bool) {
	rp := e.cfg.Prefix + ".rp."
	e.toggle("svc\x00rp", rp+"*.>", on, func(msg *nats.Msg) {
		tok, topic, ok := strings.Cut(strings.TrimPrefix(msg.Subject, rp), ".")
		session, err := decodeSession(tok)
		if !ok || err != nil || e.watching(session) {
			return
		}
		seq, err := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return
		}
		if ss, ok := e.sink.(serviceSink); ok {
			ss.DeliverService(delivery(session, topic, seq, msg.Header, msg.Data))
		}
	})
	q := e.cfg.Prefix + ".q."
	e.toggle("svc\x00q", q+"*.>", on, func(msg *nats.Msg) {
		tok, topic, ok := strings.Cut(strings.TrimPrefix(msg.Subject, q), ".")
		if session, err := decodeSession(tok); ok && err == nil {
			e.deliverRequest(session, topic, msg)
		}
	})
}

// watching reports whether this node delivers session's messages itself.
func (e *Engine) watching(session string) bool {
	e.mu.Lock()
	w := e.watches[session]
	e.mu.Unlock()
	if w == nil {
		return false
	}
	select {
	case <-w.ready:
		return w.err == nil
	default:
		return false
	}
}
