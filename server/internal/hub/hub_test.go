package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

func TestPublishSubscribeSeq(t *testing.T) {
	h := newHub(t, Options{})
	sub := connect(t, h, "sub", "s1", true)
	pub := connect(t, h, "pub", "s1", true)

	if err := sub.do(`{"type":"subscribe","id":"1","topic":"chat.room1"}`); err != nil {
		t.Fatal(err)
	}
	fs := sub.frames()
	if len(fs) != 1 || fs[0].Type != "ack" || fs[0].ID != "1" || fs[0].Seq == nil || *fs[0].Seq != 0 || fs[0].Epoch == "" {
		t.Fatalf("subscribe ack: %s", dump(fs))
	}
	epoch := fs[0].Epoch

	for i := 1; i <= 3; i++ {
		obj := fmt.Sprintf(`{"type":"publish","id":"p%d","topic":"chat.room1","payload":{"n":%d},"publisher_name":"spoof","session_id":"s1"}`, i, i)
		if err := pub.do(obj); err != nil {
			t.Fatal(err)
		}
		acks := pub.only("ack")
		if len(acks) != 1 || acks[0].ID != fmt.Sprintf("p%d", i) || acks[0].SeqValue() != uint64(i) {
			t.Fatalf("publish ack %d: %s", i, dump(acks))
		}
	}
	msgs := sub.only("message")
	if len(msgs) != 3 {
		t.Fatalf("want 3 messages, got %s", dump(msgs))
	}
	for i, m := range msgs {
		if m.SeqValue() != uint64(i+1) || m.PublisherName != "pub" || m.SessionID != "s1" ||
			m.Topic != "chat.room1" || string(m.Payload) != fmt.Sprintf(`{"n":%d}`, i+1) || m.Timestamp == "" {
			t.Fatalf("message %d: %s", i, dump(msgs[i:i+1]))
		}
	}
	// A new subscriber learns the latest seq and the same epoch.
	late := connect(t, h, "late", "s1", true)
	late.do(`{"type":"subscribe","id":"2","topic":"chat.room1"}`)
	fs = late.frames()
	if len(fs) != 1 || fs[0].SeqValue() != 3 || fs[0].Epoch != epoch {
		t.Fatalf("late ack: %s", dump(fs))
	}
	// since replays what came after it (docs/delivery.md has the details).
	late.do(`{"type":"subscribe","id":"3","topic":"chat.room1","since":{"seq":1,"epoch":"` + epoch + `"}}`)
	fs = late.frames()
	if len(fs) != 3 || fs[0].Recovered == nil || !*fs[0].Recovered || fs[1].SeqValue() != 2 || fs[2].SeqValue() != 3 {
		t.Fatalf("since ack and replay: %s", dump(fs))
	}
}

func TestTimestamp(t *testing.T) {
	h := newHub(t, Options{})
	c := connect(t, h, "a", "s", true)
	c.do(`{"type":"subscribe","id":"1","topic":"t"}`)
	c.do(`{"type":"publish","topic":"t","payload":1,"timestamp":"2024-01-24T10:25:37Z"}`)
	c.do(`{"type":"publish","topic":"t","payload":2,"timestamp":"yesterday"}`)
	msgs := c.only("message")
	if len(msgs) != 2 || msgs[0].Timestamp != "2024-01-24T10:25:37Z" {
		t.Fatalf("%s", dump(msgs))
	}
	if msgs[1].Timestamp == "yesterday" || protocol.ValidateTimestamp(msgs[1].Timestamp) != nil {
		t.Fatalf("invalid timestamp not replaced: %s", dump(msgs[1:]))
	}
}

func TestFanOutSharesBytes(t *testing.T) {
	h := newHub(t, Options{})
	pub := connect(t, h, "pub", "s", true)
	var subs []*testConn
	for i := range 50 {
		c := connect(t, h, fmt.Sprintf("c%d", i), "s", true)
		c.do(`{"type":"subscribe","id":"1","topic":"news"}`)
		c.frames()
		subs = append(subs, c)
	}
	pub.do(`{"type":"publish","topic":"news","payload":"hello"}`)
	var first []byte
	for _, c := range subs {
		b, ok := c.TryNext()
		if !ok || b.Count != 1 {
			t.Fatalf("%s: no single message", c.Name())
		}
		if first == nil {
			first = b.Bytes
		} else if &first[0] != &b.Bytes[0] {
			t.Fatal("subscribers got different copies of one publish")
		}
		b.Release()
	}
	if len(pub.frames()) != 0 {
		t.Fatal("publisher not subscribed got something")
	}
}

func TestEchoOff(t *testing.T) {
	h := newHub(t, Options{})
	quiet := connect(t, h, "quiet", "s", false)
	loud := connect(t, h, "loud", "s", true)
	for _, c := range []*testConn{quiet, loud} {
		c.do(`{"type":"subscribe","id":"1","topic":"t"}`)
		c.do(`{"type":"subscribe","id":"2","topic":"*"}`)
		c.frames()
	}
	quiet.do(`{"type":"publish","id":"q","topic":"t","payload":1}`)
	if fs := quiet.frames(); len(fs) != 1 || fs[0].Type != "ack" {
		t.Fatalf("echo off publisher got: %s", dump(fs))
	}
	if n := len(loud.only("message")); n != 1 {
		t.Fatalf("other subscriber got %d messages", n)
	}
	loud.do(`{"type":"publish","topic":"t","payload":2}`)
	if n := len(loud.only("message")); n != 1 {
		t.Fatalf("echo on publisher got %d copies", n)
	}
}

func TestWildcards(t *testing.T) {
	h := newHub(t, Options{})
	c := connect(t, h, "c", "s", true)
	for i, p := range []string{"a.b", "a.*", "a.>", ">", "*.b"} {
		if err := c.do(fmt.Sprintf(`{"type":"subscribe","id":"%d","topic":%q}`, i, p)); err != nil {
			t.Fatal(err)
		}
	}
	c.frames()
	c.do(`{"type":"publish","topic":"a.b","payload":1}`)
	c.do(`{"type":"publish","topic":"a.b.c","payload":2}`)
	c.do(`{"type":"publish","topic":"x.y","payload":3}`)
	c.do(`{"type":"publish","topic":"$meta.x","payload":4,"if_seq":0}`)
	var got []string
	for _, m := range c.only("message") {
		got = append(got, string(m.Payload))
	}
	if strings.Join(got, ",") != "1,2,3" {
		t.Fatalf("got payloads %v, want each of 1,2,3 once and no $meta", got)
	}
	// Unsubscribing one pattern keeps the others.
	c.do(`{"type":"unsubscribe","id":"u","topic":">"}`)
	c.frames()
	c.do(`{"type":"publish","topic":"x.y","payload":5}`)
	c.do(`{"type":"publish","topic":"a.b","payload":6}`)
	got = got[:0]
	for _, m := range c.only("message") {
		got = append(got, string(m.Payload))
	}
	if strings.Join(got, ",") != "6" {
		t.Fatalf("after unsubscribe got %v", got)
	}
	c.do(`{"type":"unsubscribe","id":"u2","topic":">"}`)
	c.expectError(protocol.CodeNotFound, "u2")
}

// TestIsolation runs random subscriptions (exact and wildcard) and publishes
// over many sessions and checks every delivery against a reference: nothing
// crosses a session, nothing is missing, nothing is doubled.
func TestIsolation(t *testing.T) {
	h := newHub(t, Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	topics := []string{"a", "a.b", "a.c", "b.b", "a.b.c", "x.y.z"}
	patterns := append([]string{"*", ">", "a.*", "a.>", "*.b", "*.*.*", "x.>"}, topics...)
	type client struct {
		c    *testConn
		subs map[string]bool
	}
	var clients []*client
	for s := range 40 {
		for i := range 5 {
			cl := &client{c: connect(t, h, fmt.Sprintf("n%d", i), fmt.Sprintf("sess-%d", s), true), subs: map[string]bool{}}
			for range 1 + rng.IntN(4) {
				p := patterns[rng.IntN(len(patterns))]
				if !cl.subs[p] {
					cl.subs[p] = true
					cl.c.do(fmt.Sprintf(`{"type":"subscribe","id":"x","topic":%q}`, p))
				}
			}
			cl.c.frames()
			clients = append(clients, cl)
		}
	}
	want := map[*client]int{}
	for i := range 2000 {
		pub := clients[rng.IntN(len(clients))]
		topic := topics[rng.IntN(len(topics))]
		pub.c.do(fmt.Sprintf(`{"type":"publish","topic":%q,"payload":%d}`, topic, i))
		for _, cl := range clients {
			if cl.c.SessionID() != pub.c.SessionID() {
				continue
			}
			for p := range cl.subs {
				if protocol.Match(p, topic) {
					want[cl]++
					break
				}
			}
		}
	}
	for _, cl := range clients {
		msgs := cl.c.only("message")
		for _, m := range msgs {
			if m.SessionID != cl.c.SessionID() {
				t.Fatalf("cross-session delivery: %s got a message of %s", cl.c.SessionID(), m.SessionID)
			}
		}
		if len(msgs) != want[cl] {
			t.Fatalf("%s/%s got %d messages, want %d", cl.c.SessionID(), cl.c.Name(), len(msgs), want[cl])
		}
	}
}

func TestMetaCompareAndSet(t *testing.T) {
	h := newHub(t, Options{})
	a := connect(t, h, "a", "s", true)
	b := connect(t, h, "b", "s", true)
	other := connect(t, h, "o", "s2", true)
	other.do(`{"type":"subscribe","id":"1","topic":"$meta.>"}`)
	other.frames()

	if a.do(`{"type":"publish","id":"1","topic":"$meta.e2e","payload":{"v":1}}`) == nil {
		t.Fatal("publish to $meta without if_seq accepted")
	}
	a.expectError(protocol.CodeBadRequest, "1")
	a.do(`{"type":"publish","id":"2","topic":"$meta.e2e","payload":{"v":1},"if_seq":0}`)
	if acks := a.only("ack"); len(acks) != 1 || acks[0].SeqValue() != 1 {
		t.Fatalf("first CAS: %s", dump(acks))
	}
	b.do(`{"type":"publish","id":"3","topic":"$meta.e2e","payload":{"v":2},"if_seq":0}`)
	b.expectError(protocol.CodeConflict, "3")
	b.do(`{"type":"publish","id":"4","topic":"$meta.e2e","payload":{"v":2},"if_seq":1}`)
	if acks := b.only("ack"); len(acks) != 1 || acks[0].SeqValue() != 2 {
		t.Fatalf("second CAS: %s", dump(acks))
	}
	// Subscribing delivers the retained value at once (exact and pattern).
	for i, topic := range []string{"$meta.e2e", "$meta.*", "$meta.>"} {
		c := connect(t, h, fmt.Sprintf("late%d", i), "s", true)
		c.do(fmt.Sprintf(`{"type":"subscribe","id":"s","topic":%q}`, topic))
		fs := c.frames()
		if len(fs) != 2 || fs[0].Type != "ack" || fs[1].Type != "message" || string(fs[1].Payload) != `{"v":2}` ||
			fs[1].SeqValue() != 2 || fs[1].PublisherName != "b" {
			t.Fatalf("subscribe %s: %s", topic, dump(fs))
		}
	}
	// ">" and "*" never match reserved topics.
	c := connect(t, h, "wild", "s", true)
	c.do(`{"type":"subscribe","id":"s","topic":">"}`)
	if fs := c.frames(); len(fs) != 1 {
		t.Fatalf("> got retained values: %s", dump(fs))
	}
	if n := len(other.frames()); n != 0 {
		t.Fatalf("other session saw %d $meta objects", n)
	}
	// Only $meta. is open to clients.
	a.do(`{"type":"publish","id":"5","topic":"$sys.x","payload":1}`)
	a.expectError(protocol.CodeForbidden, "5")
	a.do(`{"type":"subscribe","id":"6","topic":"$sys.>"}`)
	a.expectError(protocol.CodeForbidden, "6")
}

func TestRequestReply(t *testing.T) {
	h := newHub(t, Options{})
	svc := connect(t, h, "svc", "s", true)
	svc2 := connect(t, h, "svc2", "s", true)
	cli := connect(t, h, "cli", "s", true)
	for _, c := range []*testConn{svc, svc2} {
		c.do(`{"type":"subscribe","id":"1","topic":"rpc.*"}`)
		c.frames()
	}
	cli.do(`{"type":"request","id":"r1","topic":"rpc.add","payload":[1,2]}`)
	msgs := svc.only("message")
	if len(msgs) != 1 || msgs[0].ReplyTo == "" || msgs[0].Seq != nil || msgs[0].PublisherName != "cli" {
		t.Fatalf("responder got: %s", dump(msgs))
	}
	replyTo := msgs[0].ReplyTo
	svc2.frames()

	svc.do(`{"type":"reply","id":"a1","reply_to":"` + replyTo + `","payload":3}`)
	if acks := svc.only("ack"); len(acks) != 1 || acks[0].ID != "a1" {
		t.Fatalf("replier ack: %s", dump(acks))
	}
	fs := cli.frames()
	if len(fs) != 1 || fs[0].Type != "response" || fs[0].ID != "r1" || string(fs[0].Payload) != "3" || fs[0].PublisherName != "svc" {
		t.Fatalf("requester got: %s", dump(fs))
	}
	// First reply wins: a later one with an id hears not_found, without an
	// id nothing.
	svc2.do(`{"type":"reply","id":"a2","reply_to":"` + replyTo + `","payload":4}`)
	svc2.expectError(protocol.CodeNotFound, "a2")
	svc2.do(`{"type":"reply","reply_to":"` + replyTo + `","payload":4}`)
	if fs := svc2.frames(); len(fs) != 0 {
		t.Fatalf("late reply without id answered: %s", dump(fs))
	}
	if fs := cli.frames(); len(fs) != 0 {
		t.Fatalf("requester got a second answer: %s", dump(fs))
	}
}

func TestRequestNoResponders(t *testing.T) {
	h := newHub(t, Options{})
	cli := connect(t, h, "cli", "s", false)
	cli.do(`{"type":"subscribe","id":"1","topic":"rpc.x"}`) // itself, echo off
	elsewhere := connect(t, h, "svc", "other", true)
	elsewhere.do(`{"type":"subscribe","id":"1","topic":"rpc.x"}`)
	cli.frames()
	elsewhere.frames()
	cli.do(`{"type":"request","id":"r","topic":"rpc.x","payload":1}`)
	cli.expectError(protocol.CodeNoResponders, "r")
	if fs := elsewhere.frames(); len(fs) != 0 {
		t.Fatalf("request crossed sessions: %s", dump(fs))
	}
}

func TestRequestTimeout(t *testing.T) {
	h := newHub(t, Options{})
	svc := connect(t, h, "svc", "s", true)
	svc.do(`{"type":"subscribe","id":"1","topic":"slow"}`)
	cli := connect(t, h, "cli", "s", true)
	cli.do(`{"type":"request","id":"r","topic":"slow","payload":1,"timeout_ms":20}`)
	var got protocol.Frame
	b, err := cli.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	protocol.Decode(b.Bytes, &got)
	b.Release()
	if got.Type != "error" || got.Code != protocol.CodeTimeout || got.ID != "r" {
		t.Fatalf("got %s", dump([]protocol.Frame{got}))
	}
	replyTo := svc.only("message")[0].ReplyTo
	svc.do(`{"type":"reply","id":"late","reply_to":"` + replyTo + `","payload":1}`)
	svc.expectError(protocol.CodeNotFound, "late")
}

func TestRequestCleanupOnDisconnect(t *testing.T) {
	h := newHub(t, Options{})
	svc := connect(t, h, "svc", "s", true)
	svc.do(`{"type":"subscribe","id":"1","topic":"t"}`)
	rec := &closeRecorder{}
	c, _ := h.NewConn(ConnConfig{OnClose: rec.onClose})
	h.Register(c, "cli", "s", true, nil)
	var f protocol.Frame
	protocol.Decode([]byte(`{"type":"request","id":"r","topic":"t","payload":1,"timeout_ms":60000}`), &f)
	if err := h.Handle(c, &f); err != nil {
		t.Fatal(err)
	}
	replyTo := svc.only("message")[0].ReplyTo
	h.Unregister(c)
	s := h.lockSession("s", false)
	n := len(s.requests)
	s.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d pending requests after the requester left", n)
	}
	svc.do(`{"type":"reply","id":"x","reply_to":"` + replyTo + `","payload":1}`)
	svc.expectError(protocol.CodeNotFound, "x")
}

func TestReplyAcrossSessions(t *testing.T) {
	h := newHub(t, Options{})
	svc := connect(t, h, "svc", "A", true)
	svc.do(`{"type":"subscribe","id":"1","topic":"t"}`)
	cli := connect(t, h, "cli", "A", true)
	cli.do(`{"type":"request","id":"r","topic":"t","payload":1}`)
	replyTo := svc.only("message")[0].ReplyTo
	intruder := connect(t, h, "evil", "B", true)
	intruder.do(`{"type":"reply","id":"x","reply_to":"` + replyTo + `","payload":"forged"}`)
	intruder.expectError(protocol.CodeNotFound, "x")
	if fs := cli.frames(); len(fs) != 0 {
		t.Fatalf("cross-session reply delivered: %s", dump(fs))
	}
	svc.do(`{"type":"reply","reply_to":"` + replyTo + `","payload":"real"}`)
	if fs := cli.frames(); len(fs) != 1 || string(fs[0].Payload) != `"real"` {
		t.Fatalf("real reply: %s", dump(fs))
	}
}

func TestSend(t *testing.T) {
	h := newHub(t, Options{})
	a := connect(t, h, "a", "A", true)
	b := connect(t, h, "b", "A", true)
	x := connect(t, h, "x", "B", true)
	a.do(`{"type":"send","id":"1","to":"` + b.ID() + `","topic":"dm","payload":"hi"}`)
	if acks := a.only("ack"); len(acks) != 1 || acks[0].ID != "1" {
		t.Fatalf("send ack: %s", dump(acks))
	}
	fs := b.frames()
	if len(fs) != 1 || fs[0].From != a.ID() || fs[0].Seq != nil || fs[0].Topic != "dm" || fs[0].SessionID != "A" {
		t.Fatalf("recipient got: %s", dump(fs))
	}
	x.do(`{"type":"send","id":"2","to":"` + b.ID() + `","topic":"dm","payload":"hi"}`)
	x.expectError(protocol.CodeNotFound, "2")
	a.do(`{"type":"send","id":"3","to":"c_nobody","topic":"dm","payload":"hi"}`)
	a.expectError(protocol.CodeNotFound, "3")
	if fs := b.frames(); len(fs) != 0 {
		t.Fatalf("cross-session send delivered: %s", dump(fs))
	}
}

func TestBadObjects(t *testing.T) {
	h := newHub(t, Options{})
	c := connect(t, h, "c", "s", true)
	long := strings.Repeat("a", 300)
	tests := []struct {
		obj  string
		code protocol.Code
		id   string
	}{
		{`{"type":"nope","id":"1"}`, protocol.CodeUnsupported, "1"},
		{`{"type":"welcome","id":"1"}`, protocol.CodeUnsupported, "1"},
		{`{"type":"subscribe","topic":"a"}`, protocol.CodeBadRequest, ""},
		{`{"type":"subscribe","id":"1"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"subscribe","id":"1","topic":"a..b"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"subscribe","id":"1","topic":"a.>.b"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"subscribe","id":"1","topic":"` + long + `"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"subscribe","id":"1","topic":"a.*","since":{"seq":1,"epoch":"e"}}`, protocol.CodeBadRequest, "1"},
		{`{"type":"subscribe","id":"` + long + `","topic":"a"}`, protocol.CodeBadRequest, ""},
		{`{"type":"unsubscribe","id":"1","topic":"never"}`, protocol.CodeNotFound, "1"},
		{`{"type":"publish","id":"1","topic":"a.*","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"publish","id":"1","topic":">","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"publish","id":"1","topic":"a"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"publish","id":"1","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"publish","id":"1","topic":"a b","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"publish","id":"1","topic":"a","payload":1,"session_id":"other"}`, protocol.CodeForbidden, "1"},
		{`{"type":"publish","id":"1","topic":"$x","payload":1}`, protocol.CodeForbidden, "1"},
		{`{"type":"request","topic":"a","payload":1}`, protocol.CodeBadRequest, ""},
		{`{"type":"request","id":"1","topic":"a"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"reply","id":"1","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"reply","id":"1","reply_to":"r_x"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"send","id":"1","topic":"a","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"send","id":"1","to":"c_x","topic":"a.*","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"ping","id":"` + long + `"}`, protocol.CodeBadRequest, ""},
	}
	for _, tt := range tests {
		err := c.do(tt.obj)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != tt.code {
			t.Errorf("%.80s: returned %v, want %s", tt.obj, err, tt.code)
		}
		fs := c.frames()
		if len(fs) != 1 || fs[0].Type != "error" || fs[0].Code != tt.code || fs[0].ID != tt.id || fs[0].Message == "" {
			t.Errorf("%.80s: queued %s", tt.obj, dump(fs))
		}
	}
	c.do(`{"type":"ping","id":"p"}`)
	if fs := c.frames(); len(fs) != 1 || fs[0].Type != "pong" || fs[0].ID != "p" {
		t.Fatalf("ping: %s", dump(fs))
	}
}

func TestSubscriptionLimit(t *testing.T) {
	h := newHub(t, Options{MaxSubscriptions: 3})
	c := connect(t, h, "c", "s", true)
	for i := range 3 {
		if err := c.do(fmt.Sprintf(`{"type":"subscribe","id":"%d","topic":"t%d"}`, i, i)); err != nil {
			t.Fatal(err)
		}
	}
	c.frames()
	c.do(`{"type":"subscribe","id":"x","topic":"t0"}`) // again: fine
	if fs := c.frames(); len(fs) != 1 || fs[0].Type != "ack" {
		t.Fatalf("re-subscribe: %s", dump(fs))
	}
	c.do(`{"type":"subscribe","id":"y","topic":"t.>"}`)
	c.expectError(protocol.CodeTooLarge, "y")
	c.do(`{"type":"unsubscribe","id":"u","topic":"t1"}`)
	c.do(`{"type":"subscribe","id":"z","topic":"t.>"}`)
	if acks := c.only("ack"); len(acks) != 2 {
		t.Fatalf("after unsubscribe: %s", dump(acks))
	}
}

func TestSlowConsumer(t *testing.T) {
	h := newHub(t, Options{QueueBytes: 4096})
	slow := connect(t, h, "slow", "s", true)
	fast := connect(t, h, "fast", "s", true)
	pub := connect(t, h, "pub", "s", true)
	slow.do(`{"type":"subscribe","id":"1","topic":"t"}`)
	fast.do(`{"type":"subscribe","id":"1","topic":"t"}`)
	slow.frames()
	fast.frames()
	payload := `"` + strings.Repeat("x", 200) + `"`
	got := 0
	for i := range 100 {
		// The publisher never blocks, whatever the slow one does.
		if err := pub.do(`{"type":"publish","topic":"t","payload":` + payload + `}`); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		got += len(fast.only("message"))
	}
	if got != 100 {
		t.Fatalf("fast subscriber got %d of 100", got)
	}
	if codes := slow.closes.get(); len(codes) != 1 || codes[0] != protocol.CloseSlowConsumer {
		t.Fatalf("slow consumer close codes: %v", codes)
	}
	if closed, code := slow.Closed(); !closed || code != protocol.CloseSlowConsumer {
		t.Fatalf("slow conn closed=%v code=%v", closed, code)
	}
	if _, ok := slow.TryNext(); ok {
		t.Fatal("closed conn still yields data")
	}
	if codes := fast.closes.get(); len(codes) != 0 {
		t.Fatalf("fast closed: %v", codes)
	}
	if _, err := slow.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next on closed: %v", err)
	}
}

func TestBatching(t *testing.T) {
	h := newHub(t, Options{QueueBytes: 8 << 20})
	c, _ := h.NewConn(ConnConfig{})
	defer h.Unregister(c)
	for i := range 5 {
		c.Enqueue(fmt.Appendf(nil, `{"n":%d}`, i))
	}
	b, err := c.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if string(b.Bytes) != `{"n":0}`+"\n"+`{"n":1}`+"\n"+`{"n":2}`+"\n"+`{"n":3}`+"\n"+`{"n":4}` || b.Count != 5 {
		t.Fatalf("batch %q", b.Bytes)
	}
	b.Release()

	// Batches hold at most MaxBatchBytes; a larger object goes alone.
	obj := bytes.Repeat([]byte("a"), 100<<10)
	big := bytes.Repeat([]byte("b"), protocol.MaxBatchBytes+1)
	for range 3 {
		c.Enqueue(obj)
	}
	c.Enqueue(big)
	c.Enqueue(obj)
	var sizes []int
	for {
		b, ok := c.TryNext()
		if !ok {
			break
		}
		if len(b.Bytes) > protocol.MaxBatchBytes && b.Count != 1 {
			t.Fatalf("batch of %d objects is %d bytes", b.Count, len(b.Bytes))
		}
		sizes = append(sizes, b.Count)
		b.Release()
	}
	if fmt.Sprint(sizes) != "[2 1 1 1]" {
		t.Fatalf("batch counts %v", sizes)
	}
	if c.QueuedBytes() != 0 {
		t.Fatalf("queued bytes %d after draining", c.QueuedBytes())
	}

	// Next waits for data and returns on cancel.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := c.Next(ctx)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel: %v", err)
	}
	go func() {
		b, err := c.Next(t.Context())
		if err == nil && string(b.Bytes) != "x" {
			err = fmt.Errorf("got %q", b.Bytes)
		}
		done <- err
	}()
	c.Enqueue([]byte("x"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWake(t *testing.T) {
	h := newHub(t, Options{})
	var mu sync.Mutex
	wakes := 0
	c, _ := h.NewConn(ConnConfig{Wake: func() { mu.Lock(); wakes++; mu.Unlock() }})
	defer h.Unregister(c)
	c.Enqueue([]byte("a"))
	c.Enqueue([]byte("b")) // writer already woken
	if b, ok := c.TryNext(); !ok || string(b.Bytes) != "a\nb" {
		t.Fatalf("TryNext: %q %v", b.Bytes, ok)
	}
	c.Enqueue([]byte("c")) // writer still active: no new wake
	c.TryNext()
	if _, ok := c.TryNext(); ok {
		t.Fatal("empty queue yielded")
	}
	c.Enqueue([]byte("d")) // writer went idle: wake again
	mu.Lock()
	defer mu.Unlock()
	if wakes != 2 {
		t.Fatalf("%d wakes, want 2", wakes)
	}
}

func TestOrderUnderConcurrency(t *testing.T) {
	h := newHub(t, Options{QueueBytes: 64 << 20})
	const pubs, each = 4, 500
	subs := make([]*testConn, 3)
	for i := range subs {
		subs[i] = connect(t, h, fmt.Sprintf("s%d", i), "s", true)
		subs[i].do(`{"type":"subscribe","id":"1","topic":"t"}`)
		subs[i].do(`{"type":"subscribe","id":"2","topic":"*"}`)
		subs[i].frames()
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(subs))
	for _, s := range subs {
		wg.Go(func() {
			var last uint64
			n := 0
			for n < pubs*each {
				b, err := s.Next(t.Context())
				if err != nil {
					errs <- err
					return
				}
				protocol.Split(b.Bytes, func(obj []byte) error {
					var f protocol.Frame
					protocol.Decode(obj, &f)
					if f.SeqValue() != last+1 {
						errs <- fmt.Errorf("seq %d after %d", f.SeqValue(), last)
					}
					last = f.SeqValue()
					n++
					return nil
				})
				b.Release()
			}
		})
	}
	var pw sync.WaitGroup
	for p := range pubs {
		c := connect(t, h, fmt.Sprintf("p%d", p), "s", true)
		pw.Go(func() {
			for range each {
				c.do(`{"type":"publish","topic":"t","payload":1}`)
			}
		})
	}
	pw.Wait()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestOperator(t *testing.T) {
	h := newHub(t, Options{})
	a := connect(t, h, "a", "A", true)
	b := connect(t, h, "b", "B", true)
	a.do(`{"type":"subscribe","id":"1","topic":"news"}`)
	a.frames()

	seq, n, err := h.PublishToSession("A", "news", []byte("{\n \"x\": 1\n}"), "")
	if err != nil || seq != 1 || n != 1 {
		t.Fatalf("PublishToSession: %d %d %v", seq, n, err)
	}
	fs := a.frames()
	if len(fs) != 1 || fs[0].PublisherName != "$server" || string(fs[0].Payload) != `{"x":1}` || fs[0].SeqValue() != 1 {
		t.Fatalf("operator publish: %s", dump(fs))
	}
	if _, n, _ := h.PublishToSession("B", "news", []byte(`1`), "billing"); n != 0 {
		t.Fatalf("publish into B reached %d", n)
	}
	if _, _, err := h.PublishToSession("A", "news", []byte(`{`), ""); err == nil {
		t.Fatal("invalid payload accepted")
	}
	if _, _, err := h.PublishToSession("A", "news", []byte(`1`), "bad name"); err == nil {
		t.Fatal("invalid publisher name accepted")
	}

	if err := h.SendToClient(b.ID(), "dm", []byte(`"hi"`)); err != nil {
		t.Fatal(err)
	}
	fs = b.frames()
	if len(fs) != 1 || fs[0].SessionID != "B" || fs[0].PublisherName != "$server" || fs[0].Seq != nil {
		t.Fatalf("operator send: %s", dump(fs))
	}
	if err := h.SendToClient("c_none", "dm", []byte(`1`)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("send to unknown: %v", err)
	}

	if n, err := h.Broadcast("all", []byte(`"x"`)); err != nil || n != 2 {
		t.Fatalf("Broadcast: %d %v", n, err)
	}
	for _, c := range []*testConn{a, b} {
		fs := c.frames()
		if len(fs) != 1 || fs[0].SessionID != c.SessionID() || fs[0].Topic != "all" || fs[0].Seq != nil {
			t.Fatalf("broadcast to %s: %s", c.SessionID(), dump(fs))
		}
	}

	cl := h.Clients("")
	if len(cl) != 2 || cl[0].ClientID != a.ID() || cl[0].Subscriptions[0] != "news" || cl[0].MsgsOut == 0 {
		t.Fatalf("Clients: %+v", cl)
	}
	if cl := h.Clients("B"); len(cl) != 1 || cl[0].Name != "b" {
		t.Fatalf("Clients(B): %+v", cl)
	}
	if cl := h.Clients("nope"); len(cl) != 0 {
		t.Fatalf("Clients(nope): %+v", cl)
	}
	ss := h.Sessions()
	if len(ss) != 2 || ss[0].SessionID != "A" || len(ss[0].Clients) != 1 || len(ss[0].Topics) != 1 ||
		ss[0].Topics[0].Subscribers != 1 || ss[0].Topics[0].Seq != 1 {
		t.Fatalf("Sessions: %+v", ss)
	}

	if err := h.Disconnect(b.ID(), 0); err != nil {
		t.Fatal(err)
	}
	if codes := b.closes.get(); len(codes) != 1 || codes[0] != protocol.CloseKicked {
		t.Fatalf("Disconnect codes %v", codes)
	}
	if err := h.Disconnect("c_none", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Disconnect unknown: %v", err)
	}
}

func TestCleanup(t *testing.T) {
	h := newHub(t, Options{StreamTTL: time.Minute, RetainTTL: time.Hour})
	c, _ := h.NewConn(ConnConfig{})
	h.Register(c, "a", "s", true, nil)
	for _, obj := range []string{
		`{"type":"subscribe","id":"1","topic":"a.>"}`,
		`{"type":"subscribe","id":"1","topic":"never.published"}`,
		`{"type":"publish","topic":"pub.lished","payload":1}`,
		`{"type":"publish","topic":"$meta.e2e","payload":1,"if_seq":0}`,
		`{"type":"publish","topic":"x","payload":1,"if_seq":7}`, // conflict: leaves nothing
	} {
		var f protocol.Frame
		protocol.Decode([]byte(obj), &f)
		h.Handle(c, &f)
	}
	h.Unregister(c)
	count := func() (sessions, streams int) {
		for _, s := range h.allSessions() {
			sessions++
			s.mu.Lock()
			streams += len(s.streams)
			s.mu.Unlock()
		}
		return
	}
	// Kept for StreamTTL: the subscribed topic (so that a subscriber coming
	// back recovers in the same epoch), the published topic's seq and
	// history, the retained value.
	if ss, st := count(); ss != 1 || st != 3 {
		t.Fatalf("after disconnect: %d sessions, %d streams", ss, st)
	}
	// The published topic keeps its history for 5 minutes (the default),
	// and its stream as long as its history.
	h.Sweep(time.Now().Add(2 * time.Minute))
	if ss, st := count(); ss != 1 || st != 2 {
		t.Fatalf("within the history's age: %d sessions, %d streams", ss, st)
	}
	h.Sweep(time.Now().Add(DefaultHistoryAge + time.Minute))
	if ss, st := count(); ss != 1 || st != 1 {
		t.Fatalf("after StreamTTL and the history's age: %d sessions, %d streams", ss, st)
	}
	h.Sweep(time.Now().Add(2 * time.Hour))
	if ss, st := count(); ss != 0 || st != 0 {
		t.Fatalf("after RetainTTL: %d sessions, %d streams", ss, st)
	}
	// The topic starts over under a new epoch.
	d := connect(t, h, "d", "s", true)
	d.do(`{"type":"publish","id":"p","topic":"pub.lished","payload":1}`)
	if acks := d.only("ack"); len(acks) != 1 || acks[0].SeqValue() != 1 {
		t.Fatalf("restarted stream: %s", dump(acks))
	}
}

func TestClosedHub(t *testing.T) {
	h := New(Options{})
	c := connect(t, h, "a", "s", true)
	svc := connect(t, h, "b", "s", true)
	svc.do(`{"type":"subscribe","id":"1","topic":"t"}`)
	c.do(`{"type":"request","id":"r","topic":"t","payload":1,"timeout_ms":60000}`)
	h.CloseAll(protocol.CloseShutdown, "bye")
	h.Close()
	for _, x := range []*testConn{c, svc} {
		if codes := x.closes.get(); len(codes) != 1 || codes[0] != protocol.CloseShutdown {
			t.Fatalf("CloseAll codes %v", codes)
		}
	}
	if _, err := h.NewConn(ConnConfig{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewConn on closed hub: %v", err)
	}
}
