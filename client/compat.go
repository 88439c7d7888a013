package client

// The original framework's client shape, as thin wrappers over the main
// API: connect with a name and a URL, subscribe to a topic, register a
// handler with OnMessage, publish with a timestamp, each returning an error
// and none taking a context. They wait at most Options.CallTimeout (10s)
// for the server; use Dial, Subscribe and Publish for contexts and options.
//
//	c, err := client.Connect("Client1", "ws://localhost:8080/ws")
//	if err != nil { … }
//	defer c.Close()
//	c.OnMessage("NetworkConnectedEvent", func(m *client.Message) { … })
//	if err := c.SubscribeTopic("NetworkConnectedEvent"); err != nil { … }
//	err = c.PublishWithTimestamp("NetworkConnectedEvent", "Network connected", time.Now())

import (
	"context"
	"time"
)

// Connect connects to url as name, in the session "session-" + name, with
// default options (automatic reconnection included).
func Connect(name, url string) (*Client, error) {
	return ConnectWithSession(name, "", url)
}

// ConnectWithSession connects to url as name in session (the default
// session when empty), with default options.
func ConnectWithSession(name, session, url string) (*Client, error) {
	return Dial(context.Background(), url, Options{Name: name, SessionID: session})
}

// SubscribeTopic subscribes to topic (a pattern is allowed) without a
// handler of its own: messages go to the OnMessage handlers that match, and
// then to Options.DefaultHandler. Subscribing twice to the same topic is a
// no-op.
func (c *Client) SubscribeTopic(topic string) error {
	c.mu.Lock()
	_, ok := c.compat[topic]
	c.mu.Unlock()
	if ok {
		return nil
	}
	s, err := c.Subscribe(context.Background(), topic, nil)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.compat == nil {
		c.compat = make(map[string]*Subscription)
	}
	_, dup := c.compat[topic]
	if !dup {
		c.compat[topic] = s
	}
	c.mu.Unlock()
	if dup {
		_ = s.Unsubscribe() // a concurrent SubscribeTopic won
	}
	return nil
}

// UnsubscribeTopic ends a subscription made with SubscribeTopic. OnMessage
// handlers stay registered.
func (c *Client) UnsubscribeTopic(topic string) error {
	c.mu.Lock()
	s := c.compat[topic]
	delete(c.compat, topic)
	c.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Unsubscribe()
}

// PublishWithTimestamp publishes payload on topic with the given timestamp
// (the server's time when zero) and waits for the ack.
func (c *Client) PublishWithTimestamp(topic string, payload any, timestamp time.Time) error {
	_, err := c.Publish(context.Background(), topic, payload, WithTimestamp(timestamp))
	return err
}
