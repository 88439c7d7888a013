package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Integration tests: the client against a Switchboard server, reached
// through testServerURL (server_notjs_test.go starts one in the process;
// server_js_test.go uses SWITCHBOARD_TEST_URL under js/wasm and skips
// without it). Every test uses sessions of its own, so that they can share
// one server.

// uniqueSession returns a session id no other test run uses.
func uniqueSession(label string) string {
	return fmt.Sprintf("it-%s-%x", label, rand.Uint64())
}

func dialIntegration(t *testing.T, url, name, session string, o Options) *Client {
	t.Helper()
	o.Name, o.SessionID = name, session
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, url, o)
	if err != nil {
		t.Fatalf("Dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// collector gathers messages; wait polls for a count.
type collector struct {
	mu   sync.Mutex
	msgs []*Message
}

func (c *collector) add(m *Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *collector) all() []*Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Message(nil), c.msgs...)
}

func (c *collector) wait(t *testing.T, n int) []*Message {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("%d messages", n), func() bool { return len(c.all()) >= n })
	return c.all()[:n]
}

func itContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestIntegrationPubSub(t *testing.T) {
	url := testServerURL(t)
	ctx := itContext(t)
	s := uniqueSession("pubsub")
	a := dialIntegration(t, url, "alice", s, Options{})
	b := dialIntegration(t, url, "bob", s, Options{})
	if a.ClientID() == "" || a.ClientID() == b.ClientID() || a.SessionID() != s {
		t.Fatalf("client ids %q %q, session %q", a.ClientID(), b.ClientID(), a.SessionID())
	}

	var got collector
	if _, err := b.Subscribe(ctx, "orders.*", got.add); err != nil {
		t.Fatal(err)
	}
	seq1, err := a.Publish(ctx, "orders.eu", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	seq2, err := a.Publish(ctx, "orders.eu", map[string]int{"n": 2})
	if err != nil {
		t.Fatal(err)
	}
	if seq1 != 1 || seq2 != 2 {
		t.Errorf("seqs %d %d, want 1 2", seq1, seq2)
	}
	if err := a.PublishAsync(ctx, "orders.us", "async"); err != nil {
		t.Fatal(err)
	}
	msgs := got.wait(t, 3)
	if m := msgs[0]; m.Topic != "orders.eu" || string(m.Payload) != `{"n":1}` || m.PublisherName != "alice" || m.SessionID != s || m.Seq != 1 || m.Timestamp.IsZero() {
		t.Errorf("message = %+v", m)
	}
	if msgs[1].Seq != 2 || msgs[2].Topic != "orders.us" || string(msgs[2].Payload) != `"async"` {
		t.Errorf("messages out of order or wrong: %+v %+v", msgs[1], msgs[2])
	}
	if _, err := a.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestIntegrationRequestReply(t *testing.T) {
	url := testServerURL(t)
	ctx := itContext(t)
	s := uniqueSession("rr")
	svc := dialIntegration(t, url, "svc", s, Options{})
	cli := dialIntegration(t, url, "cli", s, Options{})
	if _, err := svc.Subscribe(ctx, "math.double", func(m *Message) {
		var n int
		if err := m.Decode(&n); err != nil {
			t.Errorf("Decode: %v", err)
			return
		}
		if err := m.Reply(ctx, 2*n); err != nil {
			t.Errorf("Reply: %v", err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Request(ctx, "math.double", 21)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Payload) != "42" || resp.PublisherName != "svc" {
		t.Errorf("response = %+v", resp)
	}
	if _, err := cli.Request(ctx, "math.nobody", 1); !errors.Is(err, &protocol.Error{Code: protocol.CodeNoResponders}) {
		t.Errorf("no responders: %v", err)
	}
	if _, err := svc.Subscribe(ctx, "math.silent", func(*Message) {}); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := cli.Request(short, "math.silent", 1); !errors.Is(err, &protocol.Error{Code: protocol.CodeTimeout}) {
		t.Errorf("timeout: %v", err)
	}
}

func TestIntegrationSend(t *testing.T) {
	url := testServerURL(t)
	ctx := itContext(t)
	s := uniqueSession("send")
	var direct collector
	a := dialIntegration(t, url, "a", s, Options{})
	b := dialIntegration(t, url, "b", s, Options{DefaultHandler: direct.add})
	if err := a.Send(ctx, b.ClientID(), "notice", "hello"); err != nil {
		t.Fatal(err)
	}
	m := direct.wait(t, 1)[0]
	if m.Topic != "notice" || m.From != a.ClientID() || string(m.Payload) != `"hello"` || m.Seq != 0 {
		t.Errorf("sent message = %+v", m)
	}
	if err := a.Send(ctx, "c_does_not_exist", "notice", 1); !errors.Is(err, &protocol.Error{Code: protocol.CodeNotFound}) {
		t.Errorf("send to unknown: %v", err)
	}
}

func TestIntegrationSessionIsolation(t *testing.T) {
	url := testServerURL(t)
	ctx := itContext(t)
	s1, s2 := uniqueSession("iso1"), uniqueSession("iso2")
	a := dialIntegration(t, url, "a", s1, Options{})
	b := dialIntegration(t, url, "b", s2, Options{})
	var leaked, sync collector
	if _, err := b.Subscribe(ctx, "room.>", leaked.add); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(ctx, "sync", sync.add); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, "room.1", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, b.ClientID(), "room.1", "secret"); !errors.Is(err, &protocol.Error{Code: protocol.CodeNotFound}) {
		t.Errorf("send across sessions: %v, want not_found", err)
	}
	// b's own publish comes after a's: once it arrives, a's would have.
	if _, err := b.Publish(ctx, "sync", 1); err != nil {
		t.Fatal(err)
	}
	sync.wait(t, 1)
	if n := len(leaked.all()); n != 0 {
		t.Errorf("session %s received %d messages from %s", s2, n, s1)
	}
}
