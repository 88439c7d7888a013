package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// PublishOption adjusts one publish.
type PublishOption func(*protocol.Frame)

// WithTimestamp sets the message's timestamp (RFC 3339 in UTC, millisecond
// precision). Default: the server's receive time.
func WithTimestamp(t time.Time) PublishOption {
	return func(f *protocol.Frame) {
		if !t.IsZero() {
			f.Timestamp = protocol.FormatTimestamp(t)
		}
	}
}

// Publish publishes payload on topic in the client's session and waits for
// the server's ack; it returns the message's seq. payload is encoded with
// encoding/json, except json.RawMessage and []byte, which must hold one
// JSON value and are sent as they are (so []byte is not base64-encoded).
// Without a deadline in ctx, Options.CallTimeout applies. During an outage
// the publish is buffered or fails per Options.Outage. If the connection
// drops after it was written and before the ack, it is sent again after the
// reconnect with the same id, and the server stores it once (with
// OutageFail it fails with ErrConnectionLost instead): an acknowledged
// Publish is stored exactly once (docs/delivery.md).
func (c *Client) Publish(ctx context.Context, topic string, payload any, opts ...PublishOption) (uint64, error) {
	return c.publish(ctx, topic, payload, nil, opts)
}

// PublishIfSeq publishes on a retained $meta. topic with compare-and-set:
// it succeeds only when the topic's current seq is ifSeq (0: no value yet)
// and returns the new seq (ifSeq+1). When another value won, the error
// matches &protocol.Error{Code: protocol.CodeConflict}.
func (c *Client) PublishIfSeq(ctx context.Context, topic string, ifSeq uint64, payload any, opts ...PublishOption) (uint64, error) {
	return c.publish(ctx, topic, payload, &ifSeq, opts)
}

func (c *Client) publish(ctx context.Context, topic string, payload any, ifSeq *uint64, opts []PublishOption) (uint64, error) {
	op := "publish " + quote(topic)
	f, err := c.publishFrame("", topic, payload, ifSeq, opts)
	if err != nil {
		return 0, wrap(op, err)
	}
	ack, err := c.roundTripRetry(ctx, f, true)
	if err != nil {
		return 0, wrap(op, err)
	}
	return ack.SeqValue(), nil
}

// PublishAsync publishes without an ack: it returns once the message is
// queued for sending. ctx bounds the wait for room in the outbox while
// connected (see Options.MaxBufferedMessages); during an outage the
// message is buffered or refused per Options.Outage. A refusal by the
// server reaches Options.OnError. Delivery is at most once.
func (c *Client) PublishAsync(ctx context.Context, topic string, payload any, opts ...PublishOption) error {
	f, err := c.publishFrame("", topic, payload, nil, opts)
	if err == nil {
		err = c.send(ctx, f)
	}
	return wrap("publish "+quote(topic), err)
}

// publishFrame builds a publish into sessionID (empty: the client's own).
func (c *Client) publishFrame(sessionID, topic string, payload any, ifSeq *uint64, opts []PublishOption) (*protocol.Frame, error) {
	if err := protocol.ValidateClientTopic(topic); err != nil {
		return nil, err
	}
	if protocol.IsMeta(topic) != (ifSeq != nil) {
		return nil, ErrIfSeqRequired
	}
	raw, err := c.payloadIn(sessionID, topic, payload)
	if err != nil {
		return nil, err
	}
	f := &protocol.Frame{Type: protocol.TypePublish, Topic: topic, Payload: raw, IfSeq: ifSeq, SessionID: sessionID}
	for _, o := range opts {
		o(f)
	}
	return f, nil
}

// Request publishes payload on topic as a request and waits for the first
// reply. The timeout is ctx's deadline if it has one, else
// Options.RequestTimeout, at most 60s; it is sent as timeout_ms so the
// server gives up at the same time. Errors: a *protocol.Error matching
// &protocol.Error{Code: protocol.CodeTimeout} when no reply came in time
// (also when ctx's deadline passed first, then also matching
// context.DeadlineExceeded), or protocol.CodeNoResponders when nobody
// subscribes to topic. The response is returned as a Message with Topic,
// Payload, PublisherName and Timestamp set.
func (c *Client) Request(ctx context.Context, topic string, payload any) (*Message, error) {
	op := "request " + quote(topic)
	if err := protocol.ValidateClientTopic(topic); err != nil {
		return nil, wrap(op, err)
	}
	raw, err := c.payload(topic, payload)
	if err != nil {
		return nil, wrap(op, err)
	}
	timeout := c.opts.RequestTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	} else {
		// Leave the server time to say timeout itself.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout+time.Second)
		defer cancel()
	}
	timeout = min(timeout, protocol.MaxRequestTimeout)
	if timeout < time.Millisecond {
		return nil, wrap(op, requestTimeout(context.DeadlineExceeded))
	}
	f := &protocol.Frame{Type: protocol.TypeRequest, Topic: topic, Payload: raw, TimeoutMS: timeout.Milliseconds()}
	resp, err := c.roundTrip(ctx, f)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = requestTimeout(err)
		}
		return nil, wrap(op, err)
	}
	m := &Message{Topic: topic, Payload: resp.Payload, PublisherName: resp.PublisherName, SessionID: c.SessionID(), c: c}
	if resp.Timestamp != "" {
		m.Timestamp, _ = time.Parse(time.RFC3339Nano, resp.Timestamp)
	}
	if c.e2e != nil && !protocol.IsMeta(topic) {
		if oe := c.e2e.openMessage(ctx, m); oe != nil {
			c.reportError(oe)
			return nil, wrap(op, oe)
		}
	}
	return m, nil
}

// payload encodes a payload argument for topic, sealed in an end-to-end
// encrypted session.
func (c *Client) payload(topic string, v any) (json.RawMessage, error) {
	raw, err := marshalPayload(v)
	if err != nil || c.e2e == nil {
		return raw, err
	}
	return c.e2e.sealPayload(topic, raw)
}

// replyPayload encodes a reply's payload: in an end-to-end encrypted
// session it is sealed with the request's topic (a reply has none on the
// wire), looked up by replyTo when topic is empty. A reply into another
// session (a service's) is sent as it is.
func (c *Client) replyPayload(replyTo, sessionID, topic string, v any) (json.RawMessage, error) {
	if c.foreign(sessionID) {
		return marshalPayload(v)
	}
	if c.e2e != nil && topic == "" {
		var ok bool
		if topic, ok = c.e2e.requestTopic(replyTo); !ok {
			return nil, ErrUnknownRequest
		}
	}
	return c.payload(topic, v)
}

// requestTimeout is the error of a request whose context expired before the
// server's timeout error arrived: it matches both.
func requestTimeout(ctxErr error) error {
	return fmt.Errorf("%w (%w)", &protocol.Error{Code: protocol.CodeTimeout, Message: "no response before the deadline"}, ctxErr)
}

// Reply answers the request whose message carried replyTo, and waits for
// the server's ack. An unknown, expired or already answered replyTo fails
// with a *protocol.Error of code not_found. In an end-to-end encrypted
// session the reply is sealed with the request's topic, which the client
// remembers for requests it received (else ErrUnknownRequest):
// Message.Reply is the simpler call.
func (c *Client) Reply(ctx context.Context, replyTo string, payload any) error {
	return c.reply(ctx, replyTo, "", "", payload)
}

// reply answers replyTo; sessionID is the request's session: another one
// than the client's own is sent along (a service answering a request of
// another session), so the server looks the request up there.
func (c *Client) reply(ctx context.Context, replyTo, sessionID, topic string, payload any) error {
	raw, err := c.replyPayload(replyTo, sessionID, topic, payload)
	if err != nil {
		return wrap("reply", err)
	}
	_, err = c.roundTrip(ctx, c.replyFrame(replyTo, sessionID, raw))
	return wrap("reply", err)
}

func (c *Client) respond(replyTo, sessionID, topic string, payload any) error {
	raw, err := c.replyPayload(replyTo, sessionID, topic, payload)
	if err == nil {
		err = c.send(context.Background(), c.replyFrame(replyTo, sessionID, raw))
	}
	return wrap("respond", err)
}

func (c *Client) replyFrame(replyTo, sessionID string, raw json.RawMessage) *protocol.Frame {
	f := &protocol.Frame{Type: protocol.TypeReply, ReplyTo: replyTo, Payload: raw}
	if c.foreign(sessionID) {
		f.SessionID = sessionID
	}
	return f
}

// Send delivers payload on topic to one client of the same session, by its
// client id, whether or not it subscribes to topic, and waits for the ack.
// An unknown client id, or one in another session, fails with a
// *protocol.Error of code not_found.
func (c *Client) Send(ctx context.Context, to, topic string, payload any) error {
	op := "send to " + quote(to)
	if err := protocol.ValidateClientTopic(topic); err != nil {
		return wrap(op, err)
	}
	raw, err := c.payload(topic, payload)
	if err != nil {
		return wrap(op, err)
	}
	_, err = c.roundTrip(ctx, &protocol.Frame{Type: protocol.TypeSend, To: to, Topic: topic, Payload: raw})
	return wrap(op, err)
}

// Ping sends a ping object and returns the round-trip time to the pong.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if _, err := c.roundTrip(ctx, &protocol.Frame{Type: protocol.TypePing}); err != nil {
		return 0, wrap("ping", err)
	}
	return time.Since(start), nil
}
