package client

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/seal"
)

// Subscription is a handler registration: by Subscribe, which also holds a
// subscription on the server, or by OnMessage, which does not.
type Subscription struct {
	c        *Client
	pattern  string
	fn       func(*Message)
	entry    *subEntry // nil for OnMessage
	removed  atomic.Bool
	presence func(PresenceEvent)  // WithPresence
	gap      func(*RecoveryError) // WithGapHandler
}

// Pattern returns the topic or pattern the subscription was made for.
func (s *Subscription) Pattern() string { return s.pattern }

// subEntry is one subscription on the server, shared by every Subscription
// of the same pattern. It is re-established on every new connection.
type subEntry struct {
	pattern string
	refs    int
	ready   chan struct{} // closed on the first ack, or on failure
	err     error         // why it failed before its first ack
	settled bool          // ready is closed
	// For recovery after a reconnect (topics without wildcards only): the
	// stream's epoch from the last ack and the highest seq received.
	epoch    string
	lastSeq  uint64
	ackSeq   uint64 // the seq of the latest ack (a concrete topic's latest seq when subscribed)
	presence bool   // presence events asked for (WithPresence)
	all      bool   // in every session (WithAllSessions, a service's)
}

// key is e's key in Client.subs.
func (e *subEntry) key() string { return subKey(e.pattern, e.all) }

// settle closes ready once, with err (nil: subscribed).
func (e *subEntry) settle(err error) {
	if !e.settled {
		e.settled, e.err = true, err
		close(e.ready)
	}
}

// Subscribe subscribes to a topic or pattern ("orders.*", "orders.>") and
// returns once the server acknowledged it. handler, if not nil, receives
// every message whose topic matches pattern, including messages sent
// directly to this client on such a topic; with a nil handler, messages go
// to OnMessage handlers and then to Options.DefaultHandler. Several
// Subscriptions may share a pattern: the server holds one subscription,
// released with the last Unsubscribe.
//
// Subscriptions are re-established after every reconnect; Subscribe called
// while the client is reconnecting waits for the next connection (until ctx
// ends). A refusal by the server is returned as a *protocol.Error
// (bad_request, too_large, forbidden). Without a deadline in ctx,
// Options.CallTimeout applies; on a timeout the subscription is removed.
//
// Options (delivery.go): WithPresence for join and leave events,
// WithGapHandler to hear of messages missed beyond recovery, WithSince to
// start from a known position, WithAllSessions (service tokens) for every
// session.
func (c *Client) Subscribe(ctx context.Context, pattern string, handler func(*Message), opts ...SubscribeOption) (*Subscription, error) {
	op := "subscribe " + quote(pattern)
	wild, err := protocol.ValidatePattern(pattern)
	if err != nil {
		return nil, wrap(op, err)
	}
	var so subscribeOptions
	for _, o := range opts {
		o(&so)
	}
	if so.all && (so.presence != nil || so.since != nil) {
		return nil, wrap(op, ErrAllSessionsOption)
	}
	if wild && (so.presence != nil || so.since != nil) {
		return nil, wrap(op, ErrWildcardOption)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.CallTimeout)
		defer cancel()
	}
	c.mu.Lock()
	if c.closed {
		err := c.closedErrLocked()
		c.mu.Unlock()
		return nil, wrap(op, err)
	}
	key := subKey(pattern, so.all)
	e := c.subs[key]
	if e == nil {
		e = &subEntry{pattern: pattern, ready: make(chan struct{}), presence: so.presence != nil, all: so.all}
		if so.since != nil {
			e.epoch, e.lastSeq = so.since.Epoch, so.since.Seq
		}
		c.subs[key] = e
		if c.cn != nil {
			c.out.push(c.subscribeItemLocked(e, true))
			c.signalWriterLocked()
		}
	} else if so.presence != nil && !e.presence {
		// Ask the server again, now with presence events (without since:
		// the subscription is live, a replay would duplicate).
		e.presence = true
		if c.cn != nil {
			c.out.push(c.subscribeItemLocked(e, false))
			c.signalWriterLocked()
		}
	}
	e.refs++
	s := &Subscription{c: c, pattern: pattern, fn: handler, entry: e, presence: so.presence, gap: so.gap}
	c.addHandlerLocked(s) // before the ack: messages may arrive first
	if s.fn == nil && (s.presence != nil || s.gap != nil) {
		c.addExtraLocked(s)
	}
	c.mu.Unlock()

	select {
	case <-e.ready:
		if e.err != nil {
			s.unsubscribe()
			return nil, wrap(op, e.err)
		}
		return s, nil
	case <-ctx.Done():
		s.unsubscribe()
		return nil, wrap(op, ctx.Err())
	}
}

// OnMessage registers fn for messages whose topic matches pattern, without
// subscribing: for messages sent to this client directly, or together with
// a Subscribe with a nil handler (the original framework's shape:
// SubscribeTopic(topic) then OnMessage(topic, fn)). Unsubscribe on the
// returned Subscription removes the handler.
func (c *Client) OnMessage(pattern string, fn func(*Message)) (*Subscription, error) {
	if _, err := protocol.ValidatePattern(pattern); err != nil {
		return nil, wrap("on message "+quote(pattern), err)
	}
	s := &Subscription{c: c, pattern: pattern, fn: fn}
	c.mu.Lock()
	c.addHandlerLocked(s)
	c.mu.Unlock()
	return s, nil
}

// Unsubscribe removes the handler at once: it is not called again, except
// for a call already started. When it is the last Subscription of its
// pattern, an unsubscribe is sent to the server without waiting for the
// ack. Unsubscribe is idempotent and returns nil; it returns ErrClosed
// when the client is closed.
func (s *Subscription) Unsubscribe() error {
	if !s.unsubscribe() {
		return wrap("unsubscribe "+quote(s.pattern), ErrClosed)
	}
	return nil
}

// unsubscribe reports false when the client is closed.
func (s *Subscription) unsubscribe() bool {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.removed.Swap(true) {
		return !c.closed
	}
	if s.fn != nil {
		c.handlers = deleteHandler(c.handlers, s)
	} else if s.presence != nil || s.gap != nil {
		c.extras = deleteHandler(c.extras, s)
	}
	e := s.entry
	if e == nil || c.closed {
		return !c.closed
	}
	e.refs--
	if e.refs > 0 || c.subs[e.key()] != e {
		return true
	}
	delete(c.subs, e.key())
	// If the subscribe is still queued, dropping it is enough.
	sentSub := true
	for _, cl := range c.pending {
		if cl.sub == e && cl.queued {
			c.forgetLocked(cl)
			sentSub = false
		}
	}
	if c.cn != nil && sentSub {
		cl := &call{id: c.newID(), unsub: true}
		c.pending[cl.id] = cl
		cl.queued = true
		c.out.push(outItem{
			data:    appendObject(nil, &protocol.Frame{Type: protocol.TypeUnsubscribe, ID: cl.id, Topic: e.pattern, AllSessions: e.all}),
			call:    cl,
			control: true,
		})
		c.signalWriterLocked()
	}
	return true
}

func (c *Client) addHandlerLocked(s *Subscription) {
	if s.fn == nil {
		return
	}
	hs := make([]*Subscription, len(c.handlers), len(c.handlers)+1)
	copy(hs, c.handlers)
	c.handlers = append(hs, s)
}

// deleteHandler returns a copy of hs without s (copy on write: the handler
// goroutine may be iterating over hs).
func deleteHandler(hs []*Subscription, s *Subscription) []*Subscription {
	out := make([]*Subscription, 0, len(hs))
	for _, h := range hs {
		if h != s {
			out = append(out, h)
		}
	}
	return out
}

// subscribeItemLocked encodes a subscribe for e with a fresh id and
// registers its call. With since (a new subscription on the server: after
// a reconnect, or WithSince), a topic without wildcards asks for the
// messages it missed (since the last seq received in the acked epoch).
func (c *Client) subscribeItemLocked(e *subEntry, since bool) outItem {
	cl := &call{id: c.newID(), sub: e, queued: true}
	c.pending[cl.id] = cl
	f := protocol.Frame{Type: protocol.TypeSubscribe, ID: cl.id, Topic: e.pattern, Presence: e.presence, AllSessions: e.all}
	if since && !e.all && e.epoch != "" && !protocol.IsMeta(e.pattern) && !protocol.HasWildcard(e.pattern) {
		f.Since = &protocol.Since{Seq: e.lastSeq, Epoch: e.epoch}
	}
	return outItem{data: appendObject(nil, &f), call: cl, control: true}
}

// subAnsweredLocked handles the server's answer to a subscribe of e.
func (c *Client) subAnsweredLocked(e *subEntry, f *protocol.Frame, err error) {
	if c.subs[e.key()] != e {
		return // unsubscribed meanwhile
	}
	if err == nil {
		e.ackSeq = f.SeqValue()
		if c.e2e != nil && e.settled && e.pattern == seal.ParamsTopic {
			// A resubscribe on a new connection: the server may have
			// lost the session's parameters (a restart).
			seq := e.ackSeq
			c.disp.push(dispItem{kind: dispFunc, fn: func() { c.e2e.resubscribed(seq) }})
		}
		lastSeq := e.lastSeq // the last seq received, before the ack moves it
		if f.Epoch != "" {
			if f.Epoch != e.epoch {
				e.lastSeq = f.SeqValue()
			}
			e.epoch = f.Epoch
		}
		if f.Recovered != nil && !*f.Recovered {
			// Live from now: what was missed is not coming (delivery.go).
			c.log.Info("switchboard: messages missed during the outage are not recoverable", "topic", e.pattern, "reason", f.Reason)
			c.notRecoveredLocked(e, f, lastSeq)
		}
		e.settle(nil)
		return
	}
	// Refused: the subscription is gone, with every handler on it.
	delete(c.subs, e.key())
	hs := c.handlers[:0:0]
	for _, h := range c.handlers {
		if h.entry == e {
			h.removed.Store(true)
		} else {
			hs = append(hs, h)
		}
	}
	c.handlers = hs
	xs := c.extras[:0:0]
	for _, x := range c.extras {
		if x.entry == e {
			x.removed.Store(true)
		} else {
			xs = append(xs, x)
		}
	}
	c.extras = xs
	if e.settled {
		c.reportError(wrap("resubscribe "+quote(e.pattern), err))
	}
	e.settle(err)
}

// handleMessage turns a message frame into a Message for the handler
// goroutine. It runs on the reader.
func (c *Client) handleMessage(f *protocol.Frame) {
	m := &Message{
		Topic:         f.Topic,
		Payload:       f.Payload,
		PublisherName: f.PublisherName,
		SessionID:     f.SessionID,
		Seq:           f.SeqValue(),
		ReplyTo:       f.ReplyTo,
		From:          f.From,
		c:             c,
	}
	if f.Timestamp != "" {
		m.Timestamp, _ = time.Parse(time.RFC3339Nano, f.Timestamp)
	}
	own := true
	if m.Seq != 0 || c.e2e != nil {
		c.mu.Lock()
		// A message of another session (an all-sessions subscription)
		// has its own seqs: it moves no position of the client's own
		// session, and carries none of its keys.
		own = m.SessionID == "" || m.SessionID == c.sessionID
		if e := c.subs[m.Topic]; own && m.Seq != 0 && e != nil && m.Seq > e.lastSeq {
			e.lastSeq = m.Seq
		}
		c.mu.Unlock()
	}
	if own && c.e2e != nil && strings.HasPrefix(m.Topic, keysTopicPrefix) {
		// A key fetch may be waiting on the handler goroutine.
		c.e2e.keySeen(m.Topic, m.Payload)
	}
	c.disp.pushMessage(m)
}

// deliver runs on the handler goroutine: in an end-to-end encrypted
// session the payload is opened first (a message that fails to open is
// reported and dropped), then the message is routed. A message of another
// session (a service's all-sessions subscription) is routed untouched: the
// client holds no keys of other sessions.
func (c *Client) deliver(m *Message) {
	if c.e2e != nil && !c.foreign(m.SessionID) && !c.e2e.prepare(m) {
		return
	}
	c.route(m)
}

// route runs on the handler goroutine: every handler whose pattern
// matches, in registration order, else the default handler (except for
// the end-to-end metadata the client reads for itself).
func (c *Client) route(m *Message) {
	c.mu.Lock()
	hs := c.handlers
	c.mu.Unlock()
	matched := false
	for _, h := range hs {
		if h.removed.Load() || !protocol.Match(h.pattern, m.Topic) {
			continue
		}
		matched = true
		h.fn(m)
	}
	if !matched && c.opts.DefaultHandler != nil && (c.e2e == nil || !isE2ETopic(m.Topic)) {
		c.opts.DefaultHandler(m)
	}
}

// subscribeSeq subscribes without a handler and returns the seq of the
// ack: for a concrete topic, its latest seq (0: no message yet).
func (c *Client) subscribeSeq(ctx context.Context, topic string) (*Subscription, uint64, error) {
	s, err := c.Subscribe(ctx, topic, nil)
	if err != nil {
		return nil, 0, err
	}
	c.mu.Lock()
	seq := s.entry.ackSeq
	c.mu.Unlock()
	return s, seq, nil
}
