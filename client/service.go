package client

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/switchboardhq/switchboard/protocol"
)

// Service clients: a backend connected with a service token (a JWT with
// "service": true, e.g. from switchboard token --service) works across
// sessions. See "Service clients" in the package documentation.

// ErrAllSessionsOption: WithPresence or WithSince together with
// WithAllSessions.
var ErrAllSessionsOption = errors.New("client: presence and since are not available with all sessions")

// WithAllSessions makes the subscription a service's subscription in every
// session, present and future ("all_sessions": true): each Message carries
// the SessionID it was published in. It needs a service token (else the
// server refuses with forbidden), cannot be combined with WithPresence or
// WithSince, and replays no retained values; after a reconnect it is
// re-established as it was, without recovery of what was missed. It is
// distinct from an ordinary subscription to the same pattern (which only
// covers the client's own session): each is released by its own
// Unsubscribe. Default: the client's own session only.
func WithAllSessions() SubscribeOption {
	return func(o *subscribeOptions) { o.all = true }
}

// PublishTo publishes payload on topic in the session sessionID and waits
// for the server's ack; it returns the message's seq in that session. Only
// that session's subscribers (and services subscribed with
// WithAllSessions) receive it. Publishing into another session than the
// client's own needs a service token: without one the server answers with
// a *protocol.Error of code forbidden. Otherwise it behaves as Publish
// (retries after a reconnect, Options.Outage, CallTimeout). In an end-to-end
// encrypted client, a payload for another session is sent as it is: the
// client holds only its own session's keys.
func (c *Client) PublishTo(ctx context.Context, sessionID, topic string, payload any, opts ...PublishOption) (uint64, error) {
	op := "publish " + quote(topic) + " to session " + quote(sessionID)
	if err := protocol.ValidateSessionID(sessionID); err != nil {
		return 0, wrap(op, err)
	}
	f, err := c.publishFrame(sessionID, topic, payload, nil, opts)
	if err != nil {
		return 0, wrap(op, err)
	}
	ack, err := c.roundTripRetry(ctx, f, true)
	if err != nil {
		return 0, wrap(op, err)
	}
	return ack.SeqValue(), nil
}

// foreign reports whether sessionID names another session than the
// client's own (empty: its own).
func (c *Client) foreign(sessionID string) bool {
	return sessionID != "" && sessionID != c.SessionID()
}

// payloadIn encodes a payload for topic in sessionID: sealed in an
// end-to-end encrypted client's own session, as it is in another one.
func (c *Client) payloadIn(sessionID, topic string, v any) (json.RawMessage, error) {
	if c.foreign(sessionID) {
		return marshalPayload(v)
	}
	return c.payload(topic, v)
}

// subKey is the key of a wire subscription in Client.subs: its pattern,
// or for an all-sessions one the pattern after a NUL byte (which no
// pattern contains), since the server holds the two apart.
func subKey(pattern string, all bool) string {
	if all {
		return "\x00" + pattern
	}
	return pattern
}
