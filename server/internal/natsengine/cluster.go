package natsengine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Requests, replies and sends between nodes go over core NATS (they are not
// stored):
//
//	<prefix>.q.<enc(S)>.<pattern>   requests: each node subscribes to the
//	                                patterns its clients subscribe to in S
//	<prefix>.r.<node>               replies to the requests node forwarded
//	<prefix>.x.<enc(S)>.<client>    sends: the node a client of S is
//	                                connected to subscribes to its subject
//
// A node that delivered a forwarded request or send answers the NATS
// message, so that the forwarding node knows whether anybody got it (NATS
// tells at once when nobody subscribes: no responders).

// forwardWait bounds how long a node waits to learn whether another node
// delivered a request or a send.
const forwardWait = 2 * time.Second

// Headers of forwarded requests and replies.
const (
	hdrReplyTo = "Sb-Reply-To"
	hdrNode    = "Sb-Node"
	hdrTimeout = "Sb-Timeout-Ms"
	hdrSession = "Sb-Session"
)

// newNodeID names this node in reply subjects.
func newNodeID() string {
	var b [8]byte
	rand.Read(b[:])
	return "n" + hex.EncodeToString(b[:])
}

// NodeID returns this node's id.
func (e *Engine) NodeID() string { return e.node }

// startCluster subscribes to this node's replies.
func (e *Engine) startCluster() error {
	sub, err := e.nc.Subscribe(e.cfg.Prefix+".r."+e.node, func(msg *nats.Msg) {
		h := msg.Header
		e.sink.DeliverReply(h.Get(hdrSession), h.Get(hdrReplyTo), msg.Data, h.Get(hdrPublisher), h.Get(hdrTime))
	})
	if err != nil {
		return err
	}
	e.replySub = sub
	return nil
}

// Interest implements hub.Engine: one NATS subscription per (session,
// pattern) that this node's clients subscribe to.
func (e *Engine) Interest(session, pattern string, on bool) {
	prefix := e.cfg.Prefix + ".q." + encodeSession(session) + "."
	e.toggle(session+"\x00"+pattern, prefix+pattern, on, func(msg *nats.Msg) {
		if topic, ok := strings.CutPrefix(msg.Subject, prefix); ok {
			e.deliverRequest(session, topic, msg)
		}
	})
}

// deliverRequest hands a request forwarded by another node to the hub and,
// when somebody here got it, tells the forwarding node so.
func (e *Engine) deliverRequest(session, topic string, msg *nats.Msg) {
	h := msg.Header
	if h.Get(hdrNode) == e.node {
		return // its own, delivered there already
	}
	ms, _ := strconv.Atoi(h.Get(hdrTimeout))
	n := e.sink.DeliverRequest(session, topic, h.Get(hdrReplyTo), h.Get(hdrNode), msg.Data, time.Duration(ms)*time.Millisecond)
	if n > 0 && msg.Reply != "" {
		msg.Respond(nil)
	}
}

// toggle subscribes handle to subject under key (on), or ends that
// subscription (off); subscribing twice under one key is a no-op.
func (e *Engine) toggle(key, subject string, on bool, handle nats.MsgHandler) {
	e.imu.Lock()
	defer e.imu.Unlock()
	if !on {
		if sub := e.interest[key]; sub != nil {
			sub.Unsubscribe()
			delete(e.interest, key)
		}
		return
	}
	if e.interest[key] != nil {
		return
	}
	sub, err := e.nc.Subscribe(subject, handle)
	if err != nil {
		e.log.Warn("nats: subscribe", "subject", subject, "err", err)
		return
	}
	e.interest[key] = sub
}

// ForwardRequest implements hub.Engine. A request in a bridged topic also
// goes out on the bridge (bridge.go), and then counts as delivered: NATS
// cannot tell whether a NATS service listens.
func (e *Engine) ForwardRequest(session, topic, replyTo string, b []byte, timeout time.Duration, wait bool) bool {
	if e.bridgeRequest(session, topic, replyTo, b, timeout) {
		wait = false
	}
	msg := requestMsg(e.cfg.Prefix, session, topic, replyTo, e.node, b, timeout)
	if !wait {
		if err := e.nc.PublishMsg(msg); err != nil {
			e.log.Warn("nats: forward request", "err", err)
		}
		return true
	}
	_, err := e.nc.RequestMsg(msg, forwardWait)
	return err == nil
}

// requestMsg is a request forwarded to the nodes with interest in topic;
// their replies go to node.
func requestMsg(prefix, session, topic, replyTo, node string, b []byte, timeout time.Duration) *nats.Msg {
	return &nats.Msg{
		Subject: prefix + ".q." + encodeSession(session) + "." + topic,
		Data:    b,
		Header: nats.Header{
			hdrReplyTo: {replyTo},
			hdrNode:    {node},
			hdrTimeout: {strconv.FormatInt(timeout.Milliseconds(), 10)},
		},
	}
}

// ForwardReply implements hub.Engine. A node "nats:<subject>" is a NATS
// requester on the bridge (bridge.go).
func (e *Engine) ForwardReply(node, session, replyTo string, payload []byte, name, ts string) {
	if subject, ok := strings.CutPrefix(node, bridgeNode); ok {
		e.bridgeReply(subject, payload, name, ts)
		return
	}
	msg := &nats.Msg{
		Subject: e.cfg.Prefix + ".r." + node,
		Data:    payload,
		Header: nats.Header{
			hdrSession:   {session},
			hdrReplyTo:   {replyTo},
			hdrPublisher: {name},
			hdrTime:      {ts},
		},
	}
	if err := e.nc.PublishMsg(msg); err != nil {
		e.log.Warn("nats: forward reply", "err", err)
	}
}

// ForwardSend implements hub.Engine.
func (e *Engine) ForwardSend(session, to string, b []byte) bool {
	_, err := e.nc.Request(e.cfg.Prefix+".x."+encodeSession(session)+"."+to, b, forwardWait)
	if err != nil && !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
		e.log.Warn("nats: forward send", "err", err)
	}
	return err == nil
}

// Member implements hub.Engine: one NATS subscription per client connected
// here, so that a send to a client connected nowhere in its session is told
// at once (no responders).
func (e *Engine) Member(session, clientID string, on bool) {
	e.imu.Lock()
	defer e.imu.Unlock()
	if !on {
		if sub := e.members[clientID]; sub != nil {
			sub.Unsubscribe()
			delete(e.members, clientID)
		}
		return
	}
	sub, err := e.nc.Subscribe(e.cfg.Prefix+".x."+encodeSession(session)+"."+clientID, func(msg *nats.Msg) {
		if e.sink.DeliverSend(session, clientID, msg.Data) {
			msg.Respond(nil)
		}
	})
	if err != nil {
		e.log.Warn("nats: subscribe", "client", clientID, "err", err)
		return
	}
	e.members[clientID] = sub
}
