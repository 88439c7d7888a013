package client

import (
	"context"
	"encoding/json"
	"strconv"
	"time"
)

// Message is a message delivered to a handler, or the response to a
// Request. Handlers may keep it; it is not reused.
type Message struct {
	Topic         string
	Payload       json.RawMessage // one compact JSON value
	PublisherName string          // stamped by the server; "$server" for operator messages
	Timestamp     time.Time       // the publisher's, or the server's receive time; zero if absent
	SessionID     string          // stamped by the server
	Seq           uint64          // per (session, topic) from 1; 0 for requests, sends and broadcasts
	ReplyTo       string          // set on a request: answer with Reply or Respond
	From          string          // the sender's client id, on a direct send
	// Encrypted: the payload was sealed end to end and opened (in signed
	// mode, also verified) by this client; Payload is the plaintext.
	Encrypted bool

	c *Client
}

// Decode unmarshals the payload into v.
func (m *Message) Decode(v any) error {
	return json.Unmarshal(m.Payload, v)
}

// Reply answers a request (a message with ReplyTo) and waits for the
// server's ack. The first reply to a request wins; a later one fails with
// a *protocol.Error of code not_found, as does a reply after the request
// timed out. A request of another session (received by a service through
// WithAllSessions) is answered in that session: the reply carries the
// message's SessionID.
func (m *Message) Reply(ctx context.Context, payload any) error {
	if m.ReplyTo == "" || m.c == nil {
		return wrap("reply", ErrNoReplyTo)
	}
	return m.c.reply(ctx, m.ReplyTo, m.SessionID, m.Topic, payload)
}

// Respond answers a request without waiting for an ack, in the request's
// session as Reply does: a refusal reaches Options.OnError. It returns once
// the reply is queued.
func (m *Message) Respond(payload any) error {
	if m.ReplyTo == "" || m.c == nil {
		return wrap("respond", ErrNoReplyTo)
	}
	return m.c.respond(m.ReplyTo, m.SessionID, m.Topic, payload)
}

// quote is strconv.Quote, for topics in error messages.
func quote(s string) string { return strconv.Quote(s) }
