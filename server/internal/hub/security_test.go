package hub

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// connectWith registers a connection with permissions.
func connectWith(t testing.TB, h *Hub, name, session string, p *Permissions) *testConn {
	t.Helper()
	rec := &closeRecorder{}
	c, err := h.NewConn(ConnConfig{RemoteAddr: "test", OnClose: rec.onClose})
	if err != nil {
		t.Fatal(err)
	}
	c.SetPermissions(p)
	if err := h.Register(c, name, session, true, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Unregister(c) })
	return &testConn{Conn: c, t: t, closes: rec}
}

func TestCovers(t *testing.T) {
	for _, tt := range []struct {
		allowed, pattern string
		want             bool
	}{
		{"orders.>", "orders.eu", true},
		{"orders.>", "orders.*", true},
		{"orders.>", "orders.>", true},
		{"orders.>", "orders.eu.>", true},
		{"orders.>", "orders", false},
		{"orders.>", ">", false},
		{"orders.*", "orders.eu", true},
		{"orders.*", "orders.*", true},
		{"orders.*", "orders.>", false},
		{"orders.*", "orders.eu.x", false},
		{"orders.eu", "orders.eu", true},
		{"orders.eu", "orders.*", false},
		{"orders.eu", "orders.eu.x", false},
		{"*.eu", "orders.eu", true},
		{"*.eu", "*.eu", true},
		{"*.eu", ">", false},
		{">", "anything.at.all", true},
		{">", "*", true},
		{">", "$meta.e2e", false}, // a first-token wildcard never reaches $ topics
		{"*.e2e", "$meta.e2e", false},
		{"$meta.>", "$meta.e2e", true},
		{"$meta.>", "$meta.keys.*", true},
		{"$meta.e2e", "$meta.>", false},
	} {
		if got := Covers(tt.allowed, tt.pattern); got != tt.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tt.allowed, tt.pattern, got, tt.want)
		}
		// Covers must never claim more than Match allows.
		if tt.want && !slices.Contains([]string{"*", ">"}, tt.pattern) {
			for _, topic := range []string{tt.pattern, "orders.eu", "orders.eu.x", "$meta.e2e", "$meta.keys.k1"} {
				if _, err := protocol.ValidatePattern(topic); err != nil || hasWild(topic) {
					continue
				}
				if protocol.Match(tt.pattern, topic) && !protocol.Match(tt.allowed, topic) {
					t.Errorf("Covers(%q, %q) but %q matches only the second", tt.allowed, tt.pattern, topic)
				}
			}
		}
	}
}

func hasWild(s string) bool {
	for i := range len(s) {
		if s[i] == '*' || s[i] == '>' {
			return true
		}
	}
	return false
}

func TestTopicPermissions(t *testing.T) {
	h := newHub(t, Options{})
	p := &Permissions{Publish: []string{"chat.>"}, Subscribe: []string{"chat.*", "$meta.>"}}
	c := connectWith(t, h, "alice", "s1", p)

	c.do(`{"type":"publish","id":"p1","topic":"chat.room","payload":1}`)
	if fs := c.only(protocol.TypeAck); len(fs) != 1 {
		t.Fatalf("allowed publish: %s", dump(fs))
	}
	for _, obj := range []string{
		`{"type":"publish","id":"x","topic":"admin.cmd","payload":1}`,
		`{"type":"request","id":"x","topic":"admin.cmd","payload":1}`,
		`{"type":"send","id":"x","to":"c_x","topic":"admin.cmd","payload":1}`,
		`{"type":"subscribe","id":"x","topic":"chat.>"}`,
		`{"type":"subscribe","id":"x","topic":">"}`,
		`{"type":"subscribe","id":"x","topic":"admin.cmd"}`,
	} {
		c.do(obj)
		c.expectError(protocol.CodeForbidden, "x")
	}
	for _, pattern := range []string{"chat.room", "chat.*", "$meta.e2e"} {
		c.do(`{"type":"subscribe","id":"s","topic":"` + pattern + `"}`)
		if fs := c.only(protocol.TypeAck); len(fs) != 1 {
			t.Fatalf("allowed subscribe %s: %s", pattern, dump(fs))
		}
	}

	// Empty lists allow nothing; nil lists allow everything.
	none := connectWith(t, h, "bob", "s1", &Permissions{Publish: []string{}, Subscribe: []string{}})
	none.do(`{"type":"publish","id":"x","topic":"chat.room","payload":1}`)
	none.expectError(protocol.CodeForbidden, "x")
	none.do(`{"type":"subscribe","id":"x","topic":"chat.room"}`)
	none.expectError(protocol.CodeForbidden, "x")
	open := connectWith(t, h, "carol", "s1", nil)
	open.do(`{"type":"subscribe","id":"s","topic":">"}`)
	if fs := open.only(protocol.TypeAck); len(fs) != 1 {
		t.Fatalf("open subscribe: %s", dump(fs))
	}
}

func TestUpdatePermissionsDropsSubscriptions(t *testing.T) {
	h := newHub(t, Options{})
	c := connectWith(t, h, "alice", "s1", nil)
	pub := connect(t, h, "pub", "s1", true)
	for _, p := range []string{"a.x", "b.*"} {
		c.do(`{"type":"subscribe","id":"s","topic":"` + p + `"}`)
	}
	c.frames()
	dropped := h.UpdatePermissions(c.Conn, &Permissions{Subscribe: []string{"a.>"}})
	if !slices.Equal(dropped, []string{"b.*"}) {
		t.Fatalf("dropped %q", dropped)
	}
	pub.do(`{"type":"publish","topic":"b.y","payload":1}`)
	pub.do(`{"type":"publish","topic":"a.x","payload":2}`)
	fs := c.only(protocol.TypeMessage)
	if len(fs) != 1 || fs[0].Topic != "a.x" {
		t.Fatalf("after the update: %s", dump(fs))
	}
}

func TestServiceAllSessions(t *testing.T) {
	h := newHub(t, Options{})
	svc := connectWith(t, h, "svc", "backend", &Permissions{Service: true})
	a := connect(t, h, "a", "A", true)
	b := connect(t, h, "b", "B", true)
	plain := connect(t, h, "plain", "P", true)

	// Nobody but a service reaches across sessions.
	plain.do(`{"type":"subscribe","id":"x","topic":"orders.>","all_sessions":true}`)
	plain.expectError(protocol.CodeForbidden, "x")
	plain.do(`{"type":"publish","id":"x","topic":"orders.new","payload":1,"session_id":"A"}`)
	plain.expectError(protocol.CodeForbidden, "x")
	plain.do(`{"type":"reply","id":"x","reply_to":"r_x","payload":1,"session_id":"A"}`)
	plain.expectError(protocol.CodeForbidden, "x")

	svc.do(`{"type":"subscribe","id":"s1","topic":"orders.>","all_sessions":true}`)
	if fs := svc.frames(); len(fs) != 1 || fs[0].Type != protocol.TypeAck {
		t.Fatalf("service subscribe: %s", dump(fs))
	}
	svc.do(`{"type":"subscribe","id":"x","topic":"orders.new","all_sessions":true,"since":{"seq":0,"epoch":"e"}}`)
	svc.expectError(protocol.CodeBadRequest, "x")

	a.do(`{"type":"publish","topic":"orders.new","payload":"from A"}`)
	b.do(`{"type":"publish","topic":"orders.new","payload":"from B"}`)
	b.do(`{"type":"publish","topic":"other","payload":"not this"}`)
	fs := svc.only(protocol.TypeMessage)
	if len(fs) != 2 || fs[0].SessionID != "A" || fs[1].SessionID != "B" || fs[0].PublisherName != "a" {
		t.Fatalf("service got %s", dump(fs))
	}

	// Publish into a chosen session: only that session's subscribers get it.
	a.do(`{"type":"subscribe","id":"s","topic":"notes"}`)
	b.do(`{"type":"subscribe","id":"s","topic":"notes"}`)
	a.frames()
	b.frames()
	svc.do(`{"type":"publish","id":"p","topic":"notes","payload":"for A","session_id":"A"}`)
	if fs := svc.only(protocol.TypeAck); len(fs) != 1 || fs[0].SeqValue() != 1 {
		t.Fatalf("service publish ack: %s", dump(fs))
	}
	if fs := a.only(protocol.TypeMessage); len(fs) != 1 || fs[0].SessionID != "A" || fs[0].PublisherName != "svc" {
		t.Fatalf("A got %s", dump(fs))
	}
	if fs := b.frames(); len(fs) != 0 {
		t.Fatalf("B got %s", dump(fs))
	}

	// Request in A, answered by the service through the message's session_id.
	a.do(`{"type":"request","id":"r1","topic":"orders.quote","payload":1}`)
	fs = svc.only(protocol.TypeMessage)
	if len(fs) != 1 || fs[0].ReplyTo == "" || fs[0].SessionID != "A" {
		t.Fatalf("service request: %s", dump(fs))
	}
	svc.do(fmt.Sprintf(`{"type":"reply","reply_to":%q,"payload":"quote","session_id":"B"}`, fs[0].ReplyTo))
	svc.frames()
	if got := a.frames(); len(got) != 0 {
		t.Fatalf("a reply_to looked up in the wrong session answered: %s", dump(got))
	}
	svc.do(fmt.Sprintf(`{"type":"reply","id":"y","reply_to":%q,"payload":"quote","session_id":"A"}`, fs[0].ReplyTo))
	if got := a.only(protocol.TypeResponse); len(got) != 1 || string(got[0].Payload) != `"quote"` {
		t.Fatalf("A's response: %s", dump(got))
	}

	// Unsubscribe, and the subscription is gone.
	svc.do(`{"type":"unsubscribe","id":"u","topic":"orders.>","all_sessions":true}`)
	svc.frames()
	a.do(`{"type":"publish","topic":"orders.new","payload":2}`)
	if fs := svc.frames(); len(fs) != 0 {
		t.Fatalf("after unsubscribe: %s", dump(fs))
	}
	if m := h.Metrics(); m.ServiceConns != 0 {
		t.Fatalf("service conns %d", m.ServiceConns)
	}
}

func TestServiceOwnSessionOnce(t *testing.T) {
	h := newHub(t, Options{})
	svc := connectWith(t, h, "svc", "A", &Permissions{Service: true})
	a := connect(t, h, "a", "A", true)
	svc.do(`{"type":"subscribe","id":"1","topic":"t","all_sessions":true}`)
	svc.do(`{"type":"subscribe","id":"2","topic":"t"}`)
	svc.frames()
	a.do(`{"type":"publish","topic":"t","payload":1}`)
	if fs := svc.only(protocol.TypeMessage); len(fs) != 1 {
		t.Fatalf("want one delivery, got %s", dump(fs))
	}
	// The service role taken away drops its all-sessions subscriptions.
	if d := h.UpdatePermissions(svc.Conn, nil); !slices.Equal(d, []string{"t"}) {
		t.Fatalf("dropped %q", d)
	}
	if h.sec.services.Load() != nil {
		t.Fatal("service snapshot kept")
	}
}

func TestMetricsCounters(t *testing.T) {
	h := newHub(t, Options{QueueBytes: 1 << 10})
	pub := connect(t, h, "pub", "s", true)
	subs := make([]*testConn, 3)
	for i := range subs {
		subs[i] = connect(t, h, fmt.Sprint("c", i), "s", true)
		subs[i].do(`{"type":"subscribe","id":"1","topic":"t"}`)
		subs[i].frames()
	}
	pub.do(`{"type":"publish","topic":"t","payload":1}`)    // reaches 3
	pub.do(`{"type":"publish","topic":"none","payload":1}`) // reaches 0
	m := h.Metrics()
	if m.Fanout.Count() != 2 || m.Fanout.Sum != 3 || m.Fanout.Counts[0] != 1 || m.Fanout.Counts[2] != 1 {
		t.Fatalf("fanout %+v", m.Fanout)
	}
	if m.SessionSizes.Count() != 1 || m.SessionSizes.Sum != 4 {
		t.Fatalf("session sizes %+v", m.SessionSizes)
	}

	for _, c := range subs {
		c.frames()
	}
	// Request latency and timeouts.
	pub.do(`{"type":"request","id":"r","topic":"t","payload":1}`)
	rt := subs[0].only(protocol.TypeMessage)[0].ReplyTo
	subs[0].do(fmt.Sprintf(`{"type":"reply","reply_to":%q,"payload":1}`, rt))
	pub.do(`{"type":"request","id":"r2","topic":"t","payload":1,"timeout_ms":1}`)
	waitFor(t, "the timeout", func() bool { return h.Metrics().RequestTimeouts == 1 })
	if m := h.Metrics(); m.RequestLatency.Count() != 1 {
		t.Fatalf("latency %+v", m.RequestLatency)
	}

	// A slow consumer and what its queue lost.
	for i := 0; i < 100 && !func() bool { c, _ := subs[1].Closed(); return c }(); i++ {
		pub.do(`{"type":"publish","topic":"t","payload":"0123456789012345678901234567890123456789"}`)
	}
	closed := 0
	for _, c := range subs {
		if ok, code := c.Closed(); ok && code == protocol.CloseSlowConsumer {
			closed++
		}
	}
	m = h.Metrics()
	if closed == 0 || m.SlowConsumers != uint64(closed) || m.QueueDrops < 2*uint64(closed) {
		t.Fatalf("%d closed: slow %d drops %d", closed, m.SlowConsumers, m.QueueDrops)
	}

	// Counters of a removed session are kept.
	before := h.Metrics().Fanout.Count()
	for _, c := range append(subs, pub) {
		h.Unregister(c.Conn)
	}
	h.Sweep(time.Now().Add(time.Hour))
	if s := h.Stats().Sessions; s != 0 {
		t.Fatalf("%d sessions left", s)
	}
	if after := h.Metrics().Fanout.Count(); after != before {
		t.Fatalf("fanout count %d after the session went, %d before", after, before)
	}
}
