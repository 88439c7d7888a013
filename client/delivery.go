package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/switchboardhq/switchboard/protocol"
)

// Delivery that loses nothing (docs/delivery.md): recovery of missed
// messages after a reconnect, publishes retried with their id and stored
// once, presence.

// Errors of delivery.
var (
	// ErrNotRecovered: after a reconnect, the messages a subscription
	// missed could not be replayed (see RecoveryError); delivery goes on
	// live and the application should resynchronize.
	ErrNotRecovered = errors.New("client: missed messages could not be recovered")
	// ErrWildcardOption: WithPresence or WithSince on a pattern with
	// wildcards (they apply to one topic).
	ErrWildcardOption = errors.New("client: presence and since apply to topics without wildcards only")
)

// RecoveryError says that a subscription missed messages the server could
// not replay: Reason is protocol.ReasonEpochChanged (the stream's history
// was lost, e.g. a server restart without durable storage, or the topic
// expired), protocol.ReasonTooFarBehind (the messages were no longer
// retained: the outage outlasted the history's count or age limit) or
// protocol.ReasonNoHistory (the topic keeps none). It matches
// ErrNotRecovered. Delivery continues from Seq on.
type RecoveryError struct {
	Topic   string
	Reason  string
	LastSeq uint64 // the last seq received before the outage
	Epoch   string // the stream's epoch now
	Seq     uint64 // the stream's latest seq when delivery resumed
}

func (e *RecoveryError) Error() string {
	return fmt.Sprintf("client: %s: messages after seq %d could not be recovered (%s); delivery resumes after seq %d",
		quote(e.Topic), e.LastSeq, e.Reason, e.Seq)
}

func (e *RecoveryError) Unwrap() error { return ErrNotRecovered }

// PresenceEvent says that a client joined (subscribed to) or left
// (unsubscribed from, or disconnected, as the server noticed: a close or a
// heartbeat timeout) Topic in the client's session.
type PresenceEvent struct {
	Topic    string
	Event    string // protocol.PresenceJoin ("join") or protocol.PresenceLeave ("leave")
	ClientID string
	Name     string
}

// Member is a client subscribed to a topic (Client.Presence).
type Member = protocol.PresenceClient

// Position is where a subscription to a topic stands: the stream's epoch
// and the last seq received. Store it to resume later with WithSince.
type Position struct {
	Epoch string
	Seq   uint64
}

// SubscribeOption adjusts Subscribe.
type SubscribeOption func(*subscribeOptions)

type subscribeOptions struct {
	presence func(PresenceEvent)
	gap      func(*RecoveryError)
	since    *Position
	all      bool // WithAllSessions (service.go)
}

// WithPresence asks the server for presence events on the topic (not a
// pattern): fn receives a PresenceEvent each time another client joins or
// leaves it, on the handler goroutine, in order with the messages. Default:
// no presence events. Client.Presence lists the members at any time; a
// list answers for every event received before it.
func WithPresence(fn func(PresenceEvent)) SubscribeOption {
	return func(o *subscribeOptions) { o.presence = fn }
}

// WithGapHandler registers fn to hear, on the handler goroutine, when a
// resubscribe after a reconnect could not recover the missed messages
// (the *RecoveryError is also reported to Options.OnError). Default: only
// OnError hears of it.
func WithGapHandler(fn func(*RecoveryError)) SubscribeOption {
	return func(o *subscribeOptions) { o.gap = fn }
}

// WithSince starts a subscription to a topic (not a pattern) from a known
// position (Subscription.Position, saved earlier): the server replays the
// retained messages after it, or the gap handler hears why it could not.
// It applies only when the client holds no subscription to the topic yet.
// Default: from now.
func WithSince(p Position) SubscribeOption {
	return func(o *subscribeOptions) { o.since = &p }
}

// Position returns the subscription's stream epoch and the last seq
// received (for a topic without wildcards; zero before the first ack and
// for patterns).
func (s *Subscription) Position() Position {
	if s.entry == nil {
		return Position{}
	}
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return Position{Epoch: s.entry.epoch, Seq: s.entry.lastSeq}
}

// Presence lists the clients of the session subscribed to topic (a topic,
// not a pattern; subscribers through a wildcard are not listed), sorted by
// name then client id. Without a deadline in ctx, Options.CallTimeout
// applies.
func (c *Client) Presence(ctx context.Context, topic string) ([]Member, error) {
	op := "presence " + quote(topic)
	if err := protocol.ValidateClientTopic(topic); err != nil {
		return nil, wrap(op, err)
	}
	f, err := c.roundTrip(ctx, &protocol.Frame{Type: protocol.TypePresence, Topic: topic})
	if err != nil {
		return nil, wrap(op, err)
	}
	if f.Clients == nil {
		return []Member{}, nil
	}
	return f.Clients, nil
}

// newInstance names this Client object for the server's publish
// de-duplication: unique (128 random bits), and the same on every
// connection.
func newInstance() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// addExtraLocked registers a Subscription without a message handler whose
// presence or gap handler must be found.
func (c *Client) addExtraLocked(s *Subscription) {
	xs := make([]*Subscription, len(c.extras), len(c.extras)+1)
	copy(xs, c.extras)
	c.extras = append(xs, s)
}

// notRecoveredLocked reports a resubscribe answered with recovered:false:
// delivery resumes after the ack's seq. lastSeq is the last seq received
// before the resubscribe.
func (c *Client) notRecoveredLocked(e *subEntry, f *protocol.Frame, lastSeq uint64) {
	re := &RecoveryError{Topic: e.pattern, Reason: f.Reason, LastSeq: lastSeq, Epoch: f.Epoch, Seq: f.SeqValue()}
	e.lastSeq = f.SeqValue()
	c.disp.push(dispItem{kind: dispFunc, fn: func() {
		for _, s := range c.subscriptionsOf(e) {
			if s.gap != nil && !s.removed.Load() {
				s.gap(re)
			}
		}
	}})
	c.reportError(re)
}

// subscriptionsOf returns the Subscriptions of e (with or without a
// message handler).
func (c *Client) subscriptionsOf(e *subEntry) []*Subscription {
	c.mu.Lock()
	hs, xs := c.handlers, c.extras
	c.mu.Unlock()
	var out []*Subscription
	for _, list := range [][]*Subscription{hs, xs} {
		for _, s := range list {
			if s.entry == e {
				out = append(out, s)
			}
		}
	}
	return out
}

// handlePresenceEvent hands a presence_event to the presence handlers of
// its topic, on the handler goroutine (in order with messages).
func (c *Client) handlePresenceEvent(f *protocol.Frame) {
	ev := PresenceEvent{Topic: f.Topic, Event: f.Event, ClientID: f.ClientID, Name: f.Name}
	c.mu.Lock()
	e := c.subs[f.Topic]
	c.mu.Unlock()
	if e == nil {
		return
	}
	c.disp.push(dispItem{kind: dispFunc, fn: func() {
		for _, s := range c.subscriptionsOf(e) {
			if s.presence != nil && !s.removed.Load() {
				s.presence(ev)
			}
		}
	}})
}
