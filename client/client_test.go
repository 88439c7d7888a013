//go:build !js

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// dialTest dials fs with fast reconnects and closes the client at the end
// of the test.
func dialTest(t *testing.T, url string, o Options) *Client {
	t.Helper()
	if o.Name == "" {
		o.Name = "alice"
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = 5 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 20 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, url, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// inbox collects messages from a handler.
type inbox struct {
	mu   sync.Mutex
	msgs []*Message
}

func (in *inbox) add(m *Message) {
	in.mu.Lock()
	in.msgs = append(in.msgs, m)
	in.mu.Unlock()
}

func (in *inbox) snapshot() []*Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]*Message(nil), in.msgs...)
}

// wait returns the first n messages once they have arrived.
func (in *inbox) wait(t *testing.T, n int) []*Message {
	t.Helper()
	waitFor(t, 5*time.Second, fmt.Sprintf("%d messages", n), func() bool { return len(in.snapshot()) >= n })
	return in.snapshot()[:n]
}

func (in *inbox) payloads() []string {
	var out []string
	for _, m := range in.snapshot() {
		out = append(out, string(m.Payload))
	}
	return out
}

// recorder collects OnState and OnError callbacks.
type recorder struct {
	mu     sync.Mutex
	states []State
	errs   []error
}

func (r *recorder) state(s State) {
	r.mu.Lock()
	r.states = append(r.states, s)
	r.mu.Unlock()
}

func (r *recorder) err(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *recorder) getStates() []State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]State(nil), r.states...)
}

func (r *recorder) hasErr(target error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.errs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func (r *recorder) statesAre(want ...State) func() bool {
	return func() bool { return fmt.Sprint(r.getStates()) == fmt.Sprint(want) }
}

func TestDialHelloWelcome(t *testing.T) {
	fs := newFakeServer(t)
	echo := false
	c := dialTest(t, strings.TrimSuffix(fs.url(), "/ws"), Options{Name: "alice", Token: "tok", Echo: &echo})
	if got := c.ClientID(); got != "c1" {
		t.Errorf("ClientID = %q, want c1", got)
	}
	if got := c.SessionID(); got != "session-alice" {
		t.Errorf("SessionID = %q, want session-alice", got)
	}
	if got := c.State(); got != StateConnected {
		t.Errorf("State = %v, want connected", got)
	}
	hellos := get(fs, func(fs *fakeServer) []protocol.Frame { return fs.hellos })
	if len(hellos) != 1 {
		t.Fatalf("hellos = %d, want 1", len(hellos))
	}
	h := hellos[0]
	if h.Name != "alice" || h.SessionID != "session-alice" || h.Token != "tok" || h.Protocol != 1 || h.Echo == nil || *h.Echo {
		t.Errorf("hello = %+v", h)
	}
	if sp := get(fs, func(fs *fakeServer) []string { return fs.subprotocols }); len(sp) != 1 || sp[0] != protocol.Subprotocol {
		t.Errorf("negotiated subprotocols = %q, want [%s]", sp, protocol.Subprotocol)
	}

	// Echo false: the client's own publishes do not come back.
	var own, sync inbox
	ctx := testContext(t)
	if _, err := c.Subscribe(ctx, "own", own.add); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "own", 1); err != nil {
		t.Fatal(err)
	}
	other := dialTest(t, fs.url(), Options{Name: "bob", SessionID: "session-alice"})
	if _, err := c.Subscribe(ctx, "sync", sync.add); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Publish(ctx, "sync", 1); err != nil {
		t.Fatal(err)
	}
	sync.wait(t, 1)
	if n := len(own.snapshot()); n != 0 {
		t.Errorf("echo false: got %d own messages", n)
	}
}

func TestDialRefused(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)

	if _, err := Dial(ctx, fs.url(), Options{Name: "bad name"}); !errors.Is(err, protocol.ErrInvalidName) {
		t.Errorf("invalid name: %v", err)
	}
	if _, err := Dial(ctx, fs.url(), Options{Name: "a", SessionID: "bad session"}); !errors.Is(err, protocol.ErrInvalidSessionID) {
		t.Errorf("invalid session: %v", err)
	}

	fs.set(func(fs *fakeServer) { fs.helloErr = protocol.CodeUnauthorized })
	_, err := Dial(ctx, fs.url(), Options{Name: "a"})
	if !errors.Is(err, &protocol.Error{Code: protocol.CodeUnauthorized}) {
		t.Errorf("hello refused: %v, want unauthorized", err)
	}

	fs.set(func(fs *fakeServer) { fs.helloErr, fs.closeOnHello = "", protocol.CloseForbidden })
	_, err = Dial(ctx, fs.url(), Options{Name: "a"})
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseForbidden {
		t.Errorf("closed on hello: %v, want CloseError 4403", err)
	}

	fs.set(func(fs *fakeServer) { fs.closeOnHello, fs.down = 0, true })
	_, err = Dial(ctx, fs.url(), Options{Name: "a"})
	var se *statusError
	if !errors.As(err, &se) || se.status != 503 {
		t.Errorf("HTTP 503: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "client: dial ws://") {
		t.Errorf("error %q does not say what failed", err)
	}
}

func TestPublishSubscribe(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{Name: "alice", SessionID: "s1"})
	peer := dialTest(t, fs.url(), Options{Name: "bob", SessionID: "s1"})
	stranger := dialTest(t, fs.url(), Options{Name: "eve", SessionID: "s2"})

	var mine, peers, strangers inbox
	sub, err := c.Subscribe(ctx, "chat.*", mine.add)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Pattern() != "chat.*" {
		t.Errorf("Pattern = %q", sub.Pattern())
	}
	if _, err := peer.Subscribe(ctx, "chat.room1", peers.add); err != nil {
		t.Fatal(err)
	}
	if _, err := stranger.Subscribe(ctx, "chat.>", strangers.add); err != nil {
		t.Fatal(err)
	}

	ts := time.Date(2024, 1, 24, 10, 25, 37, 123e6, time.UTC)
	seq1, err := c.Publish(ctx, "chat.room1", map[string]string{"text": "hi"}, WithTimestamp(ts))
	if err != nil || seq1 != 1 {
		t.Fatalf("Publish = %d, %v; want 1", seq1, err)
	}
	seq2, err := c.Publish(ctx, "chat.room1", json.RawMessage(`"two"`))
	if err != nil || seq2 != 2 {
		t.Fatalf("Publish = %d, %v; want 2", seq2, err)
	}
	if err := c.PublishAsync(ctx, "chat.room2", []byte(`[1, 2]`)); err != nil {
		t.Fatal(err)
	}

	got := mine.wait(t, 3)
	m := got[0]
	if m.Topic != "chat.room1" || string(m.Payload) != `{"text":"hi"}` || m.PublisherName != "alice" ||
		m.SessionID != "s1" || m.Seq != 1 || !m.Timestamp.Equal(ts) || m.ReplyTo != "" || m.From != "" {
		t.Errorf("message = %+v", m)
	}
	var v struct{ Text string }
	if err := m.Decode(&v); err != nil || v.Text != "hi" {
		t.Errorf("Decode = %+v, %v", v, err)
	}
	if got := fmt.Sprint(mine.payloads()); got != `[{"text":"hi"} "two" [1, 2]]` {
		t.Errorf("payloads = %s", got)
	}
	if p := peers.wait(t, 2); p[1].Seq != 2 {
		t.Errorf("peer got seq %d, want 2", p[1].Seq)
	}

	// After Unsubscribe the handler gets nothing more. The sync topic is
	// published after the unsubscribed one, so once it has arrived the
	// other would have too.
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	var sync inbox
	if _, err := c.Subscribe(ctx, "sync", sync.add); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "chat.room1", "after"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "sync", 1); err != nil {
		t.Fatal(err)
	}
	sync.wait(t, 1)
	if n := len(mine.snapshot()); n != 3 {
		t.Errorf("after Unsubscribe: %d messages, want 3", n)
	}
	if n := len(strangers.snapshot()); n != 0 {
		t.Errorf("another session received %d messages", n)
	}
}

func TestSubscribeErrors(t *testing.T) {
	fs := newFakeServer(t)
	fs.set(func(fs *fakeServer) { fs.refuse["secret"] = true })
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{})

	_, err := c.Subscribe(ctx, "secret", func(*Message) {})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeForbidden {
		t.Errorf("refused subscribe: %v, want forbidden", err)
	}
	if _, err := c.Subscribe(ctx, "a.>.b", nil); !errors.Is(err, protocol.ErrInvalidPattern) {
		t.Errorf("invalid pattern: %v", err)
	}
	if _, err := c.Subscribe(ctx, "$server.x", nil); !errors.Is(err, protocol.ErrReservedTopic) {
		t.Errorf("reserved pattern: %v", err)
	}
	c.mu.Lock()
	n, h := len(c.subs), len(c.handlers)
	c.mu.Unlock()
	if n != 0 || h != 0 {
		t.Errorf("after refusals: %d subscriptions, %d handlers; want none", n, h)
	}
	if _, err := c.Publish(ctx, "a.*", 1); !errors.Is(err, protocol.ErrWildcardTopic) {
		t.Errorf("publish to a pattern: %v", err)
	}
	if _, err := c.Publish(ctx, "$meta.e2e", 1); !errors.Is(err, ErrIfSeqRequired) {
		t.Errorf("publish to $meta without if_seq: %v", err)
	}
	if _, err := c.Publish(ctx, "t", json.RawMessage(`{`)); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("invalid payload: %v", err)
	}
}

func TestBatchedFrame(t *testing.T) {
	fs := newFakeServer(t)
	var rec recorder
	c := dialTest(t, fs.url(), Options{OnError: rec.err})
	ctx := testContext(t)
	var in inbox
	if _, err := c.OnMessage("b.*", in.add); err != nil {
		t.Fatal(err)
	}
	frame := strings.Join([]string{
		`{"type":"message","topic":"b.1","payload":{"n":1},"publisher_name":"x","timestamp":"2024-01-24T10:25:37Z","session_id":"session-alice","seq":1}`,
		`{"type":"pong","id":"unknown"}`,
		`{"type":"message","topic":"b.2","payload":"line\nbreak","publisher_name":"x","timestamp":"2024-01-24T10:25:37Z","session_id":"session-alice","seq":1}`,
		`{"type":"error","code":"rate_limited","message":"slow down"}`,
		``,
		`{"type":"message","topic":"b.3","payload":[1,2,3],"publisher_name":"x","timestamp":"2024-01-24T10:25:37Z","session_id":"session-alice","seq":1,"extra":true}`,
		`{"type":"future","x":1}`,
	}, "\n")
	fs.push(c.ClientID(), frame)
	got := in.wait(t, 3)
	if fmt.Sprint(got[0].Topic, got[1].Topic, got[2].Topic) != "b.1b.2b.3" {
		t.Errorf("topics out of order: %v %v %v", got[0].Topic, got[1].Topic, got[2].Topic)
	}
	if string(got[1].Payload) != `"line\nbreak"` || string(got[2].Payload) != `[1,2,3]` {
		t.Errorf("payloads %s %s", got[1].Payload, got[2].Payload)
	}
	waitFor(t, 5*time.Second, "the error without id at OnError", func() bool {
		return rec.hasErr(&protocol.Error{Code: protocol.CodeRateLimited})
	})
	if _, err := c.Ping(ctx); err != nil {
		t.Errorf("still usable after the frame: %v", err)
	}
}

func TestRequestReply(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	svc := dialTest(t, fs.url(), Options{Name: "svc", SessionID: "s"})
	cli := dialTest(t, fs.url(), Options{Name: "cli", SessionID: "s", RequestTimeout: 100 * time.Millisecond})

	if _, err := svc.Subscribe(ctx, "svc.echo", func(m *Message) {
		if err := m.Reply(ctx, map[string]json.RawMessage{"echo": m.Payload}); err != nil {
			t.Errorf("Reply: %v", err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Subscribe(ctx, "svc.respond", func(m *Message) {
		if err := m.Respond("quick"); err != nil {
			t.Errorf("Respond: %v", err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	var silent inbox
	if _, err := svc.Subscribe(ctx, "svc.silent", silent.add); err != nil {
		t.Fatal(err)
	}

	resp, err := cli.Request(ctx, "svc.echo", "hi")
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Payload) != `{"echo":"hi"}` || resp.PublisherName != "svc" || resp.Topic != "svc.echo" || resp.Timestamp.IsZero() {
		t.Errorf("response = %+v", resp)
	}
	if resp, err := cli.Request(ctx, "svc.respond", nil); err != nil || string(resp.Payload) != `"quick"` {
		t.Errorf("Respond: %+v, %v", resp, err)
	}

	_, err = cli.Request(ctx, "nobody.home", 1)
	if !errors.Is(err, &protocol.Error{Code: protocol.CodeNoResponders}) {
		t.Errorf("no responders: %v", err)
	}

	// Timeout from Options.RequestTimeout (the context has no deadline):
	// the server says timeout.
	_, err = cli.Request(t.Context(), "svc.silent", 1)
	if !errors.Is(err, &protocol.Error{Code: protocol.CodeTimeout}) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("server timeout: %v", err)
	}
	// Timeout from the context's deadline: timeout_ms follows it.
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	_, err = cli.Request(short, "svc.silent", 2)
	if !errors.Is(err, &protocol.Error{Code: protocol.CodeTimeout}) {
		t.Errorf("deadline timeout: %v", err)
	}
	msgs := silent.wait(t, 2)
	if msgs[0].ReplyTo == "" || msgs[0].Seq != 0 {
		t.Errorf("request message = %+v", msgs[0])
	}
	// A reply after the timeout is refused.
	if err := msgs[0].Reply(ctx, "late"); !errors.Is(err, &protocol.Error{Code: protocol.CodeNotFound}) {
		t.Errorf("late reply: %v", err)
	}
	m := &Message{Topic: "x"}
	if err := m.Reply(ctx, 1); !errors.Is(err, ErrNoReplyTo) {
		t.Errorf("Reply without reply_to: %v", err)
	}
}

func TestSendAndDefaultHandler(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	var fallback, special inbox
	a := dialTest(t, fs.url(), Options{Name: "a", SessionID: "s"})
	b := dialTest(t, fs.url(), Options{Name: "b", SessionID: "s", DefaultHandler: fallback.add})
	if _, err := b.OnMessage("direct.special", special.add); err != nil {
		t.Fatal(err)
	}

	if err := a.Send(ctx, b.ClientID(), "direct.x", "hello"); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, b.ClientID(), "direct.special", 1); err != nil {
		t.Fatal(err)
	}
	m := fallback.wait(t, 1)[0]
	if m.Topic != "direct.x" || m.From != a.ClientID() || m.Seq != 0 || string(m.Payload) != `"hello"` {
		t.Errorf("sent message = %+v", m)
	}
	special.wait(t, 1)
	if n := len(fallback.snapshot()); n != 1 {
		t.Errorf("default handler got %d messages, want 1 (the other had a handler)", n)
	}
	err := a.Send(ctx, "c999", "direct.x", 1)
	if !errors.Is(err, &protocol.Error{Code: protocol.CodeNotFound}) {
		t.Errorf("send to unknown client: %v", err)
	}
}

func TestHandlersInOrderOnOneGoroutine(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{})
	const n = 300
	var (
		running    atomic.Int32
		concurrent atomic.Bool
		seqs       []uint64
		mu         sync.Mutex
	)
	record := func(m *Message) {
		if running.Add(1) > 1 {
			concurrent.Store(true)
		}
		mu.Lock()
		seqs = append(seqs, m.Seq)
		mu.Unlock()
		running.Add(-1)
	}
	if _, err := c.Subscribe(ctx, "order", record); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OnMessage("order", record); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := c.PublishAsync(ctx, "order", i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "all messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seqs) == 2*n
	})
	for i, s := range seqs {
		if want := uint64(i/2 + 1); s != want {
			t.Fatalf("handler call %d got seq %d, want %d", i, s, want)
		}
	}
	if concurrent.Load() {
		t.Error("handlers ran concurrently")
	}
}

func TestSlowHandlerDoesNotBlockReader(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	var rec recorder
	c := dialTest(t, fs.url(), Options{DispatchQueueSize: 4, OnError: rec.err})
	block := make(chan struct{})
	var delivered atomic.Int32
	if _, err := c.Subscribe(ctx, "slow", func(*Message) {
		delivered.Add(1)
		<-block
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := c.Publish(ctx, "slow", i); err != nil {
			t.Fatal(err)
		}
	}
	// Acks kept flowing while the handler was stuck; so do pongs.
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	close(block)
	waitFor(t, 5*time.Second, "ErrSlowConsumer at OnError", func() bool { return rec.hasErr(ErrSlowConsumer) })
	if d := delivered.Load(); d < 1 || d > 5 {
		t.Errorf("delivered %d messages, want 1 running + at most 4 queued", d)
	}
}

func TestReconnectResubscribes(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	var rec recorder
	c := dialTest(t, fs.url(), Options{SessionID: "s", OnState: rec.state, OnError: rec.err})
	var news, alerts inbox
	if _, err := c.Subscribe(ctx, "news", news.add); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, "alerts.*", alerts.add); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "news", 1); err != nil {
		t.Fatal(err)
	}
	news.wait(t, 1)
	first := c.ClientID()

	fs.dropAll(protocol.CloseShutdown)
	waitFor(t, 5*time.Second, "connecting, connected, reconnecting, connected",
		rec.statesAre(StateConnecting, StateConnected, StateReconnecting, StateConnected))
	waitFor(t, 5*time.Second, "4 subscribes", func() bool {
		return len(get(fs, func(fs *fakeServer) []protocol.Frame { return fs.subscribes })) == 4
	})
	if c.ClientID() == first {
		t.Error("ClientID did not change on reconnect")
	}
	// OnError learned why the connection was lost.
	if !rec.hasErr(&CloseError{Code: protocol.CloseShutdown}) {
		t.Error("OnError did not get the CloseError 4000 that ended the connection")
	}
	subs := get(fs, func(fs *fakeServer) []protocol.Frame { return fs.subscribes })
	for _, s := range subs[2:] {
		switch s.Topic {
		case "news":
			if s.Since == nil || s.Since.Seq != 1 || s.Since.Epoch != "e1" {
				t.Errorf("resubscribe to news: since = %+v, want seq 1 epoch e1", s.Since)
			}
		case "alerts.*":
			if s.Since != nil {
				t.Errorf("resubscribe to a pattern with since %+v", s.Since)
			}
		default:
			t.Errorf("unexpected resubscribe %q", s.Topic)
		}
	}

	peer := dialTest(t, fs.url(), Options{Name: "bob", SessionID: "s"})
	if _, err := peer.Publish(ctx, "news", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Publish(ctx, "alerts.fire", 3); err != nil {
		t.Fatal(err)
	}
	if m := news.wait(t, 2)[1]; m.Seq != 2 || m.PublisherName != "bob" {
		t.Errorf("after reconnect: %+v", m)
	}
	alerts.wait(t, 1)
}

func TestTerminalCloseCodesStop(t *testing.T) {
	for _, code := range []protocol.CloseCode{protocol.CloseNormal, protocol.CloseViolations, protocol.CloseUnauthorized, protocol.CloseForbidden} {
		t.Run(fmt.Sprint(int(code)), func(t *testing.T) {
			fs := newFakeServer(t)
			var rec recorder
			c := dialTest(t, fs.url(), Options{OnState: rec.state})
			fs.dropAll(code)
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("client did not close")
			}
			var ce *CloseError
			if err := c.Err(); !errors.As(err, &ce) || ce.Code != code {
				t.Errorf("Err() = %v, want CloseError %d", err, code)
			}
			if c.State() != StateClosed {
				t.Errorf("State = %v", c.State())
			}
			if _, err := c.Publish(testContext(t), "t", 1); !errors.Is(err, ErrClosed) {
				t.Errorf("Publish after a terminal close: %v", err)
			}
			if d := get(fs, func(fs *fakeServer) int { return fs.dials }); d != 1 {
				t.Errorf("%d dials, want 1: a terminal code must not reconnect", d)
			}
			waitFor(t, 5*time.Second, "OnState(closed)", rec.statesAre(StateConnecting, StateConnected, StateClosed))
		})
	}
}

func TestRateLimitCloseWaitsLong(t *testing.T) {
	fs := newFakeServer(t)
	var rec recorder
	const long = 150 * time.Millisecond
	c := dialTest(t, fs.url(), Options{OnState: rec.state, RateLimitBackoff: long, MinBackoff: time.Millisecond})
	start := time.Now()
	fs.dropAll(protocol.CloseRateLimited)
	waitFor(t, 5*time.Second, "a reconnect", func() bool { return get(fs, func(fs *fakeServer) int { return fs.dials }) == 2 })
	if d := time.Since(start); d < long {
		t.Errorf("reconnected after %v, want at least the rate-limit backoff %v", d, long)
	}
	waitFor(t, 5*time.Second, "connected again", func() bool { return c.State() == StateConnected })
}

func TestMaxReconnectAttempts(t *testing.T) {
	fs := newFakeServer(t)
	c := dialTest(t, fs.url(), Options{MaxReconnectAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	fs.set(func(fs *fakeServer) { fs.down = true })
	fs.dropAll(protocol.CloseShutdown)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client did not give up")
	}
	if err := c.Err(); !errors.Is(err, ErrReconnectFailed) {
		t.Errorf("Err() = %v, want ErrReconnectFailed", err)
	}
	if d := get(fs, func(fs *fakeServer) int { return fs.dials }); d != 4 {
		t.Errorf("%d dials, want 1 + 3 attempts", d)
	}
}

func TestReconnectRefusedIsTerminal(t *testing.T) {
	fs := newFakeServer(t)
	c := dialTest(t, fs.url(), Options{})
	fs.set(func(fs *fakeServer) { fs.helloErr = protocol.CodeUnauthorized })
	fs.dropAll(protocol.CloseShutdown)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client did not stop")
	}
	if err := c.Err(); !errors.Is(err, &protocol.Error{Code: protocol.CodeUnauthorized}) {
		t.Errorf("Err() = %v, want unauthorized", err)
	}
}

// outage takes the fake server down and waits until c noticed.
func outage(t *testing.T, fs *fakeServer, c *Client) {
	t.Helper()
	fs.set(func(fs *fakeServer) { fs.down = true })
	fs.dropAll(protocol.CloseShutdown)
	waitFor(t, 5*time.Second, "reconnecting", func() bool { return c.State() == StateReconnecting })
}

func TestOutageBuffer(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{MaxBufferedMessages: 4})
	var in inbox
	if _, err := c.Subscribe(ctx, "buf", in.add); err != nil {
		t.Fatal(err)
	}
	outage(t, fs, c)

	for i := range 3 {
		if err := c.PublishAsync(ctx, "buf", i); err != nil {
			t.Fatalf("buffered publish %d: %v", i, err)
		}
	}
	acked := make(chan error, 1)
	go func() {
		seq, err := c.Publish(ctx, "buf", 3)
		if err == nil && seq != 4 {
			err = fmt.Errorf("seq %d, want 4", seq)
		}
		acked <- err
	}()
	waitFor(t, 5*time.Second, "the acked publish in the buffer", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.out.n == 4
	})
	if err := c.PublishAsync(ctx, "buf", 4); !errors.Is(err, ErrBufferFull) {
		t.Errorf("publish beyond the buffer: %v, want ErrBufferFull", err)
	}

	fs.set(func(fs *fakeServer) { fs.down = false })
	if err := <-acked; err != nil {
		t.Errorf("acked publish across the outage: %v", err)
	}
	in.wait(t, 4)
	if got := fmt.Sprint(in.payloads()); got != "[0 1 2 3]" {
		t.Errorf("buffered messages arrived as %s", got)
	}
}

func TestOutageFail(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{Outage: OutageFail})
	outage(t, fs, c)
	if _, err := c.Publish(ctx, "t", 1); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Publish: %v", err)
	}
	if err := c.PublishAsync(ctx, "t", 1); !errors.Is(err, ErrNotConnected) {
		t.Errorf("PublishAsync: %v", err)
	}
	if _, err := c.Ping(ctx); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Ping: %v", err)
	}
	if err := c.PublishAsync(ctx, "t", 1); err == nil || !strings.HasPrefix(err.Error(), `client: publish "t": not connected`) {
		t.Errorf("error text %q", err)
	}
}

// With OutageFail, a publish in flight fails (by default it is retried:
// TestPublishRetriedAfterReconnect).
func TestInFlightCallFailsOnDisconnect(t *testing.T) {
	fs := newFakeServer(t)
	fs.set(func(fs *fakeServer) { fs.hold["held"] = true })
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{Outage: OutageFail})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Publish(ctx, "held", 1)
		errc <- err
	}()
	waitFor(t, 5*time.Second, "the publish written", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, cl := range c.pending {
			if cl.sent {
				return true
			}
		}
		return false
	})
	fs.dropAll(protocol.CloseShutdown)
	if err := <-errc; !errors.Is(err, ErrConnectionLost) {
		t.Errorf("in-flight publish: %v, want ErrConnectionLost", err)
	}
}

func TestCancelledCallIsNotSentLater(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{})
	var in inbox
	if _, err := c.Subscribe(ctx, "t", in.add); err != nil {
		t.Fatal(err)
	}
	outage(t, fs, c)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.Publish(short, "t", "cancelled"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish during outage with a short deadline: %v", err)
	}
	fs.set(func(fs *fakeServer) { fs.down = false })
	if _, err := c.Publish(ctx, "t", "after"); err != nil {
		t.Fatal(err)
	}
	in.wait(t, 1)
	if got := fmt.Sprint(in.payloads()); got != `["after"]` {
		t.Errorf("received %s: a cancelled publish was sent", got)
	}
}

func TestSubscribeDuringOutage(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{})
	outage(t, fs, c)
	var in inbox
	subc := make(chan error, 1)
	go func() {
		_, err := c.Subscribe(ctx, "later", in.add)
		subc <- err
	}()
	waitFor(t, 5*time.Second, "the subscription registered", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.subs["later"] != nil
	})
	fs.set(func(fs *fakeServer) { fs.down = false })
	if err := <-subc; err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "later", 1); err != nil {
		t.Fatal(err)
	}
	in.wait(t, 1)
}

func TestSharedPattern(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{})
	var a, b, sync inbox
	sa, err := c.Subscribe(ctx, "shared", a.add)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Subscribe(ctx, "shared", b.add)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, "sync", sync.add); err != nil {
		t.Fatal(err)
	}
	if n := len(get(fs, func(fs *fakeServer) []protocol.Frame { return fs.subscribes })); n != 2 {
		t.Errorf("%d subscribes sent, want 2 (one per pattern)", n)
	}
	_ = sa.Unsubscribe()
	if _, err := c.Publish(ctx, "shared", 1); err != nil {
		t.Fatal(err)
	}
	b.wait(t, 1)
	_ = sb.Unsubscribe()
	_ = sb.Unsubscribe() // idempotent
	if _, err := c.Publish(ctx, "shared", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "sync", 1); err != nil {
		t.Fatal(err)
	}
	sync.wait(t, 1)
	if len(a.snapshot()) != 0 || len(b.snapshot()) != 1 {
		t.Errorf("a got %d, b got %d; want 0 and 1", len(a.snapshot()), len(b.snapshot()))
	}
	waitFor(t, 5*time.Second, "the server-side unsubscribe", func() bool {
		return get(fs, func(fs *fakeServer) bool {
			for conn := range fs.conns {
				if conn.subs["shared"] {
					return false
				}
			}
			return true
		})
	})
}

func TestTooLarge(t *testing.T) {
	fs := newFakeServer(t)
	fs.set(func(fs *fakeServer) { fs.maxFrame = 1024 })
	c := dialTest(t, fs.url(), Options{})
	if _, err := c.Publish(testContext(t), "t", strings.Repeat("x", 2000)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized publish: %v", err)
	}
}

func TestHeartbeatTimeout(t *testing.T) {
	fs := newFakeServer(t)
	fs.set(func(fs *fakeServer) { fs.heartbeatMS, fs.deaf = 40, true })
	var rec recorder
	dialTest(t, fs.url(), Options{OnError: rec.err})
	waitFor(t, 5*time.Second, "a reconnect after the heartbeat timeout", func() bool {
		return get(fs, func(fs *fakeServer) int { return fs.dials }) >= 2
	})
	waitFor(t, 5*time.Second, "ErrHeartbeatTimeout at OnError", func() bool { return rec.hasErr(ErrHeartbeatTimeout) })
}

func TestClose(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	var rec recorder
	c := dialTest(t, fs.url(), Options{OnState: rec.state})
	outage(t, fs, c)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Publish(ctx, "t", 1) // buffered, waiting
		errc <- err
	}()
	waitFor(t, 5*time.Second, "the publish buffered", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.out.n == 1
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("waiting publish after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed after Close")
	}
	if c.Err() != nil {
		t.Errorf("Err() after Close = %v, want nil", c.Err())
	}
	if _, err := c.Subscribe(ctx, "t", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if got := rec.getStates(); got[len(got)-1] != StateClosed {
		t.Errorf("last state %v, want closed (Close waits for the callbacks)", got)
	}
}

func TestCloseFromHandler(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{})
	if _, err := c.Subscribe(ctx, "bye", func(*Message) { c.Close() }); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishAsync(ctx, "bye", 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Close from a handler did not close")
	}
	// The server saw a normal closure.
	waitFor(t, 5*time.Second, "the server connection gone", func() bool {
		return get(fs, func(fs *fakeServer) int { return len(fs.conns) }) == 0
	})
}

func TestCompat(t *testing.T) {
	fs := newFakeServer(t)
	c, err := Connect("Client1", fs.url())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.SessionID() != "session-Client1" || c.Name() != "Client1" {
		t.Errorf("session %q name %q", c.SessionID(), c.Name())
	}
	d, err := ConnectWithSession("Client2", "session-Client1", fs.url())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	var in inbox
	if _, err := c.OnMessage("NetworkConnectedEvent", in.add); err != nil {
		t.Fatal(err)
	}
	if err := c.SubscribeTopic("NetworkConnectedEvent"); err != nil {
		t.Fatal(err)
	}
	if err := c.SubscribeTopic("NetworkConnectedEvent"); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 1, 24, 10, 25, 37, 0, time.UTC)
	if err := d.PublishWithTimestamp("NetworkConnectedEvent", "Network connected", ts); err != nil {
		t.Fatal(err)
	}
	m := in.wait(t, 1)[0]
	if string(m.Payload) != `"Network connected"` || m.PublisherName != "Client2" || !m.Timestamp.Equal(ts) || m.SessionID != "session-Client1" {
		t.Errorf("message = %+v", m)
	}
	if err := c.UnsubscribeTopic("NetworkConnectedEvent"); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	n := len(c.subs)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("%d subscriptions after UnsubscribeTopic", n)
	}
}
