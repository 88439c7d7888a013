package hub

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Engine links the hub to the other nodes of a cluster: it orders, stores
// and routes publishes (history and seq), so that a message published on
// one node reaches the subscribers of its session on every node. Without an
// engine (Options.Engine nil) the hub is alone and does all of this in
// memory itself. The NATS engine (server/internal/natsengine) implements it
// over JetStream.
//
// In cluster mode a topic's seq is the engine's (strictly increasing per
// (session, topic) across the cluster, not necessarily contiguous), its
// epoch is Engine.Epoch, and every delivery to a subscriber comes through
// Hub.Deliver, also for messages published on this node.
type Engine interface {
	// Start is called once by New with the hub that receives deliveries.
	Start(sink Sink)
	// Epoch names the engine's message store: every topic's epoch.
	Epoch() string
	// Watch makes this node receive session's messages (reference
	// counted: the hub calls it for each client that joins the session
	// here). Before it returns, Sink.Deliver has been called with the last
	// message of every topic of the session that has one (Initial set):
	// from then on every message of the session reaches Sink.Deliver
	// once, in seq order per topic.
	Watch(ctx context.Context, session string) error
	// Unwatch undoes one Watch.
	Unwatch(session string)
	// Publish stores m (Seq unset) as the next message of (m.SessionID,
	// m.Topic) and routes it to every node watching the session. origin
	// and from name the publishing client's instance and client id (empty
	// for the operator). A non-empty msgID de-duplicates: a second publish
	// with it within the engine's window is not stored again and reports
	// the first one's seq with dup set. ifSeq, when not nil, is a
	// compare-and-set on the topic's last seq (0: no message yet); a
	// mismatch is a *protocol.Error with CodeConflict. done is called once,
	// on another goroutine.
	Publish(m *protocol.Message, origin, from, msgID string, ifSeq *uint64, done func(seq uint64, dup bool, err error))
	// Replay returns session topic's stored messages with after < seq ≤
	// upTo, in order. ok is false when the message with seq after is no
	// longer stored (some that followed it may be gone too). upTo
	// math.MaxUint64 means every one stored after after (History).
	Replay(ctx context.Context, session, topic string, after, upTo uint64) (msgs []Delivery, ok bool, err error)

	// Interest tells the engine that this node's clients subscribe (on)
	// or no longer subscribe (off) to pattern in session: requests to
	// matching topics published on other nodes reach Sink.DeliverRequest
	// here while it is on. Called with the session's lock held: it must
	// not block or call the hub.
	Interest(session, pattern string, on bool)
	// ForwardRequest carries an encoded request message b (with replyTo)
	// to the other nodes with interest in topic, each of which delivers it
	// once to its subscribers. With wait it reports whether one of them
	// did (false when none has interest, or none answers within a short
	// time); without wait it returns true at once. timeout is the
	// request's, for the replying node's bookkeeping.
	ForwardRequest(session, topic, replyTo string, b []byte, timeout time.Duration, wait bool) bool
	// ForwardReply carries a reply to a forwarded request back to node,
	// the one the request came from (Sink.DeliverReply there).
	ForwardReply(node, session, replyTo string, payload []byte, name, ts string)
	// Member tells the engine that client clientID of session is
	// connected here (on) or gone (off), for ForwardSend.
	Member(session, clientID string, on bool)
	// ForwardSend delivers b to client to of session on the node it is
	// connected to (Sink.DeliverSend there) and reports whether one had it.
	ForwardSend(session, to string, b []byte) bool
}

// Sink receives an engine's deliveries: the Hub implements it.
type Sink interface {
	Deliver(d *Delivery)
	// DeliverRequest queues a request forwarded by node origin to this
	// node's subscribers of topic in session and returns how many got it.
	DeliverRequest(session, topic, replyTo, origin string, b []byte, timeout time.Duration) int
	// DeliverReply answers this node's pending request replyTo.
	DeliverReply(session, replyTo string, payload []byte, name, ts string)
	// DeliverSend queues b to client to of session; false when it is not
	// connected here.
	DeliverSend(session, to string, b []byte) bool
}

// Delivery is one stored message as an engine hands it to the hub.
type Delivery struct {
	Msg     protocol.Message // with Seq and SessionID set
	Origin  string           // the publisher's instance, if it declared one
	From    string           // the publisher's client id, empty for the operator
	Initial bool             // part of Watch's snapshot: state, not news
}

// engineTimeout bounds what the hub waits for the engine when a client
// joins a session or recovers.
const engineTimeout = 10 * time.Second

var errUnavailable = perr(protocol.CodeInternal, "the cluster engine did not answer; try again")

// engineErr turns an engine's error into the client's error.
func engineErr(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	return errUnavailable
}

// Deliver takes a message from the engine: it becomes its topic's latest
// (seq, retained value) on this node and, unless it is part of a Watch
// snapshot, reaches the session's subscribers here. A message at or below
// the topic's seq on this node is a repeat and is dropped.
func (h *Hub) Deliver(d *Delivery) {
	m := &d.Msg
	s := h.lockSession(m.SessionID, true)
	defer s.mu.Unlock()
	now := time.Now()
	st := s.stream(m.Topic, true, now)
	if m.Seq <= st.seq {
		return
	}
	st.seq = m.Seq
	st.lastUsed = now
	b := encodeMessage(m)
	if protocol.IsMeta(m.Topic) {
		st.retained = b
	}
	if d.Initial {
		return
	}
	n := s.fanout(st, m.Topic, b, s.members[d.From]) // nil unless the publisher is here
	if h.watched() {
		h.observe(KindPublish, m, n, s.shard, now)
	}
}

// watch joins this node to session's traffic before a client joins it.
func (h *Hub) watch(sessionID string) error {
	if h.eng == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	return h.eng.Watch(ctx, sessionID)
}

// unwatch undoes watch, after a client has left: with the session's last
// client gone, what this node knew of its topics goes too (the engine's
// store keeps it).
func (h *Hub) unwatch(s *session) {
	s.mu.Lock()
	s.forgetStreams()
	s.mu.Unlock()
	h.eng.Unwatch(s.id)
}

// forgetStreams drops what this node knew of s's topics once s has no
// client here (cluster mode: the engine's store keeps them; a Deliver after
// the last client left may have made some again). Called with s.mu held.
func (s *session) forgetStreams() {
	if len(s.members) > 0 {
		return
	}
	for _, st := range s.streams {
		s.deleteStream(st)
	}
}

// publishEngine is publish in cluster mode: the engine orders and stores m,
// and every node's subscribers get it through Deliver. The ack (when f has
// an id) follows the engine's confirmation that m is stored.
func (h *Hub) publishEngine(c *Conn, f *protocol.Frame, m *protocol.Message) *protocol.Error {
	msgID := ""
	if f.ID != "" && c.instance != "" {
		// De-duplicated per session and instance, as in memory.
		msgID = strconv.Itoa(len(m.SessionID)) + ":" + m.SessionID + ":" + c.instance + ":" + f.ID
	}
	id := f.ID
	h.eng.Publish(m, c.instance, c.id, msgID, f.IfSeq, func(seq uint64, dup bool, err error) {
		if id == "" {
			return
		}
		if err != nil {
			pe := engineErr(err)
			c.Enqueue(protocol.AppendError(nil, id, pe.Code, pe.Message))
			return
		}
		ack(c, &protocol.Ack{ID: id, HasSeq: true, Seq: seq, Duplicate: dup})
	})
	return nil
}

// recoverEngine is recover in cluster mode: the engine's store has the
// history. Called with s.mu held, which holds back the session's
// deliveries on this node until the replay is queued.
func (s *session) recoverEngine(st *stream, c *Conn, since *protocol.Since) (bool, string, []Entry) {
	switch {
	case since.Epoch != st.epoch || since.Seq > st.seq:
		return false, protocol.ReasonEpochChanged, nil
	case since.Seq == st.seq:
		return true, "", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	msgs, ok, err := s.h.eng.Replay(ctx, s.id, st.topic, since.Seq, st.seq)
	if err != nil || !ok {
		return false, protocol.ReasonTooFarBehind, nil
	}
	if !c.echo && c.instance != "" {
		msgs = slices.DeleteFunc(msgs, func(d Delivery) bool { return d.Origin == c.instance })
	}
	replay := make([]Entry, len(msgs))
	size := 0
	for i := range msgs {
		replay[i] = Entry{Seq: msgs[i].Msg.Seq, Data: encodeMessage(&msgs[i].Msg), Origin: msgs[i].Origin}
		size += len(replay[i].Data)
	}
	if size > c.maxBytes-c.QueuedBytes() {
		return false, protocol.ReasonTooFarBehind, nil
	}
	return true, "", replay
}

// publishToSessionEngine is PublishToSession in cluster mode: it waits for
// the engine to store m. delivered is -1: unknown, every node delivers
// asynchronously.
func (h *Hub) publishToSessionEngine(m *protocol.Message) (uint64, int, error) {
	type result struct {
		seq uint64
		err error
	}
	ch := make(chan result, 1)
	h.eng.Publish(m, "", "", "", nil, func(seq uint64, _ bool, err error) { ch <- result{seq, err} })
	t := time.NewTimer(engineTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.seq, -1, r.err
	case <-t.C:
		return 0, 0, errUnavailable
	}
}
