package natsengine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// How a node receives its sessions' messages.
//
// The stream republishes every message it stores, in its order, on
// <prefix>.rp.<enc(S)>.<topic>, with headers naming its seq
// (Nats-Sequence) and the seq of the same topic's previous message
// (Nats-Last-Sequence). A node subscribes to <prefix>.rp.<enc(S)>.> for each
// session it has clients in: NATS routes a session's messages only to those
// nodes. Core NATS does not resend what a node missed (its connection
// dropped it as a slow consumer, the stream's leader moved between storing a
// message and republishing it), but the previous-seq header tells: when it
// names a message this node has not delivered, the node reads the missing
// messages from the stream before delivering this one. (An ordered consumer
// per session would not tell: with the stream's per-topic limit, messages a
// lagging consumer has not read yet are discarded, and it silently skips
// them.)
//
// A message missed at the end of a burst has no successor to tell: when
// the connection reports that it dropped messages (slow consumer) or
// reconnects, every watched session catches up: once its subscription's
// backlog is handled, each of its topics is compared with the stream's
// latest message of that topic.
//
// Before the first client of a session joins, a short-lived ordered
// consumer delivers the last message of each of the session's topics (the
// snapshot: every topic's seq and retained value).

// rpPrefix is the prefix of a session's republished subjects.
func (e *Engine) rpPrefix(session string) string {
	return e.cfg.Prefix + ".rp." + encodeSession(session) + "."
}

// rpPending bounds what a session's subscription may buffer before NATS
// drops (and the gap check then reads from the stream). Variables for the
// tests.
var (
	rpPendingMsgs  = 1 << 20
	rpPendingBytes = 256 << 20
)

// consume starts w's delivery of session's messages: the republished
// subscription, then the snapshot.
func (e *Engine) consume(session string, w *watch) {
	w.last = make(map[string]uint64)
	prefix := e.rpPrefix(session)
	sub, err := e.nc.Subscribe(prefix+">", func(msg *nats.Msg) {
		topic, ok := strings.CutPrefix(msg.Subject, prefix)
		if !ok {
			return
		}
		seq, err1 := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
		prev, err2 := strconv.ParseUint(msg.Header.Get(jetstream.LastSequenceHeader), 10, 64)
		if err1 != nil || err2 != nil {
			return
		}
		e.deliverLive(session, topic, seq, prev, w, msg.Header, msg.Data)
	})
	if err != nil {
		e.ready(w, fmt.Errorf("natsengine: subscribe: %w", err))
		return
	}
	sub.SetPendingLimits(rpPendingMsgs, rpPendingBytes)
	if err := e.nc.Flush(); err != nil { // the subscription is in place before the snapshot starts
		sub.Unsubscribe()
		e.ready(w, fmt.Errorf("natsengine: subscribe: %w", err))
		return
	}
	if !e.keep(w, func() { w.sub = sub }) {
		sub.Unsubscribe()
		return
	}
	e.snapshot(session, w)
}

// keep runs set under e.mu unless w has been unwatched meanwhile.
func (e *Engine) keep(w *watch, set func()) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if w.refs <= 0 || e.closed {
		return false
	}
	set()
	return true
}

// snapshot delivers the last message of every topic of the session
// (Initial), then marks w ready.
func (e *Engine) snapshot(session string, w *watch) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	prefix := e.subj.session(session)
	cons, err := e.js.OrderedConsumer(ctx, e.name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + ">"},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		e.ready(w, fmt.Errorf("natsengine: snapshot: %w", err))
		return
	}
	var done atomic.Bool
	finish := func() {
		if done.CompareAndSwap(false, true) {
			e.ready(w, nil)
		}
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		if done.Load() {
			return
		}
		md, err := msg.Metadata()
		if err != nil {
			return
		}
		if topic, ok := strings.CutPrefix(msg.Subject(), prefix); ok {
			w.dmu.Lock()
			if md.Sequence.Stream > w.last[topic] {
				w.last[topic] = md.Sequence.Stream
				d := delivery(session, topic, md.Sequence.Stream, msg.Headers(), msg.Data())
				d.Initial = true
				e.sink.Deliver(d)
			}
			w.dmu.Unlock()
		}
		if md.NumPending == 0 {
			finish()
		}
	})
	if err != nil {
		e.ready(w, fmt.Errorf("natsengine: snapshot: %w", err))
		return
	}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		finish() // nothing stored for the session
	}
	if !e.keep(w, func() { w.cc = cc }) {
		cc.Stop()
		return
	}
	select {
	case <-w.ready:
	case <-ctx.Done():
		e.ready(w, fmt.Errorf("natsengine: snapshot: %w", ctx.Err()))
	}
	cc.Stop()
	e.keep(w, func() { w.cc = nil })
}

// deliverLive hands a republished message to the hub, after reading from
// the stream any message of its topic this node missed.
func (e *Engine) deliverLive(session, topic string, seq, prev uint64, w *watch, h nats.Header, data []byte) {
	w.dmu.Lock()
	defer w.dmu.Unlock()
	known, seen := w.last[topic]
	if seen && seq <= known {
		return // had it already (from the snapshot or a gap's reading)
	}
	// After the snapshot, a topic it did not name had no message before:
	// anything before prev was published since, and belongs here.
	select {
	case <-w.ready:
		seen = true
	default:
	}
	if seen && prev > known {
		e.fillGap(session, topic, known, prev, w)
	}
	w.last[topic] = seq
	e.sink.Deliver(delivery(session, topic, seq, h, data))
}

// gapRead bounds the reading of the messages a node missed.
const gapRead = 5 * time.Second

// fillGap delivers topic's stored messages after known up to and including
// upTo. Called with w.dmu held.
func (e *Engine) fillGap(session, topic string, known, upTo uint64, w *watch) {
	ctx, cancel := context.WithTimeout(context.Background(), gapRead)
	defer cancel()
	subject := e.subj.topic(session, topic)
	n := 0
	for seq := known + 1; seq <= upTo; {
		m, err := e.getMsg(ctx, seq, subject, true)
		if err != nil || m.Sequence > upTo {
			break
		}
		d := delivery(session, topic, m.Sequence, m.Header, m.Data)
		e.sink.Deliver(d)
		w.last[topic] = m.Sequence
		seq = m.Sequence + 1
		n++
	}
	if w.last[topic] < upTo {
		e.gapsLost.Add(1)
		e.log.Warn("nats: messages missed by this node are no longer stored: its subscribers miss them",
			"session", session, "topic", topic, "after", w.last[topic], "up_to", upTo)
	} else {
		e.gapsFilled.Add(1)
		e.log.Debug("nats: read missed messages from the stream", "session", session, "topic", topic, "n", n)
	}
}

// catchUpAll makes every watched session catch up (catchUp).
func (e *Engine) catchUpAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for session, w := range e.watches {
		w.catchReq.Store(true)
		if w.catching.CompareAndSwap(false, true) {
			go func() {
				defer w.catching.Store(false)
				for w.catchReq.CompareAndSwap(true, false) {
					e.catchUp(session, w)
				}
			}()
		}
	}
}

// catchUp waits until w's subscription has handed over its backlog, then
// delivers what the stream holds beyond what w delivered, topic by topic.
func (e *Engine) catchUp(session string, w *watch) {
	e.mu.Lock()
	sub := w.sub
	e.mu.Unlock()
	if sub == nil {
		return
	}
	deadline := time.Now().Add(gapRead)
	for {
		n, _, err := sub.Pending()
		if err != nil || n == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-e.quit:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), gapRead)
	defer cancel()
	w.dmu.Lock()
	defer w.dmu.Unlock()
	for topic, known := range w.last {
		m, err := e.stream.GetLastMsgForSubject(ctx, e.subj.topic(session, topic))
		if err != nil {
			continue
		}
		if m.Sequence > known {
			e.fillGap(session, topic, known, m.Sequence, w)
		}
	}
}
