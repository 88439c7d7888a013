package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboardhq/switchboard/protocol"
)

// withBridge configures the NATS bridge on every node of newCluster.
func withBridge(prefix string, sessions, topics []string) func(*ClusterConfig) {
	return func(cc *ClusterConfig) {
		cc.BridgePrefix, cc.BridgeSessions, cc.BridgeTopics = prefix, sessions, topics
	}
}

// natsClient is a plain NATS client of node's embedded server: a NATS
// service in any language.
func natsClient(t *testing.T, node *testServer) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(node.NATSURL(), nats.Name("test client"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// nextMsg reads sub's next message within a few seconds.
func nextMsg(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("NATS %s: %v", sub.Subject, err)
	}
	return m
}

func TestBridgeWebSocketPublishesGoOutOnlyWhenBridged(t *testing.T) {
	nodes := newCluster(t, 2, 1, withBridge("sb", []string{"team.*"}, []string{"chat.>", "probe"}))
	nc := natsClient(t, nodes[0])
	all, err := nc.SubscribeSync("sb.>")
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	const session, enc = "team.a@example", "team%2Ea%40example"
	alice := nodes[1].connect(t, "alice", session)
	bob := nodes[1].connect(t, "bob", "other") // not bridged
	publish := func(c *client, topic, payload string, extra ...string) uint64 {
		t.Helper()
		obj := fmt.Sprintf(`{"type":"publish","id":"p","topic":%q,"payload":%s`, topic, payload)
		for _, e := range extra {
			obj += "," + e
		}
		c.send(obj + "}")
		a := c.expect("ack")
		return a.SeqValue()
	}
	// The subscription reaches node 1's NATS server within moments.
	waitFor(t, "the NATS subscription to reach node 1", func() bool {
		publish(alice, "probe", "0")
		_, err := all.NextMsg(200 * time.Millisecond)
		return err == nil
	})

	seq := publish(alice, "chat.room", `{"n":1}`)
	publish(alice, "$meta.state", `{"v":1}`, `"if_seq":0`) // reserved: never bridged
	publish(alice, "news", `1`)                            // topic not bridged
	publish(bob, "chat.room", `2`)                         // session not bridged
	publish(alice, "chat.end", `"end"`)

	var got []*nats.Msg
	for {
		m := nextMsg(t, all)
		if strings.HasSuffix(m.Subject, ".probe") {
			continue // a late probe
		}
		got = append(got, m)
		if m.Subject == "sb."+enc+".chat.end" {
			break
		}
	}
	if len(got) != 2 {
		var subjects []string
		for _, m := range got {
			subjects = append(subjects, m.Subject)
		}
		t.Fatalf("bridged %v, want chat.room and chat.end of %s only", subjects, session)
	}
	m := got[0]
	h := m.Header
	if m.Subject != "sb."+enc+".chat.room" || string(m.Data) != `{"n":1}` || m.Reply != "" ||
		h.Get("Sb-Seq") != strconv.FormatUint(seq, 10) || h.Get("Sb-Publisher") != "alice" ||
		h.Get("Sb-Session") != session || protocol.ValidateTimestamp(h.Get("Sb-Time")) != nil {
		t.Fatalf("bridged message: %s %q %v (seq %d)", m.Subject, m.Data, h, seq)
	}
}

func TestBridgeNATSPublishReachesEveryNodeOnce(t *testing.T) {
	nodes := newCluster(t, 2, 1, withBridge("sb", nil, nil))
	const session, enc = "room.1", "room%2E1"
	a := nodes[0].connect(t, "a", session)
	a.subscribe("chat.>")
	b := nodes[1].connect(t, "b", session)
	b.subscribe("chat.>")
	stranger := nodes[1].connect(t, "stranger", "other")
	stranger.subscribe("chat.>")

	nc := natsClient(t, nodes[0])
	all, err := nc.SubscribeSync("sb.>") // sees its own publishes, and would see them bridged back
	if err != nil {
		t.Fatal(err)
	}
	pub := func(subject, data string, hdr ...string) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Data = []byte(data)
		for i := 0; i+1 < len(hdr); i += 2 {
			m.Header.Set(hdr[i], hdr[i+1])
		}
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	subject := "sb." + enc + ".chat.room"
	pub(subject, `{"hi":1}`, "Sb-Publisher", "billing", "Sb-Time", "2026-01-02T03:04:05Z")
	pub(subject, `not json`)               // refused
	pub("sb."+enc+".$meta.e2e", `{"v":1}`) // reserved: refused
	pub("sb.room.1.chat.room", `"unenc"`)  // session "room", topic "1.chat.room": nobody subscribed
	pub(subject, "\n[1,\n 2]\n", "Nats-Msg-Id", "m1")
	pub(subject, "[1,2]", "Nats-Msg-Id", "m1") // a retry: stored once
	pub(subject, `"end"`)
	const published = 7

	// One node takes each NATS message, at random: stored once each, in
	// the order of their seqs (not necessarily the order sent).
	want := map[string]string{`{"hi":1}`: "$nats:billing", `[1,2]`: "$nats", `"end"`: "$nats"}
	for _, c := range []*client{a, b} {
		var last uint64
		for range want {
			f := c.expect("message")
			name, ok := want[string(f.Payload)]
			if !ok || f.PublisherName != name || f.SessionID != session || f.ReplyTo != "" || f.SeqValue() <= last {
				t.Fatalf("inbound publish: %s after seq %d", js(f), last)
			}
			if string(f.Payload) == `{"hi":1}` && f.Timestamp != "2026-01-02T03:04:05Z" {
				t.Fatalf("timestamp not kept: %s", js(f))
			}
			last = f.SeqValue()
		}
	}
	// Stored once: a late subscriber recovers exactly these three.
	late := nodes[1].connect(t, "late", session)
	epoch := late.subscribe("chat.room").Epoch
	ack := late.subscribe("chat.room", `"since":{"seq":0,"epoch":"`+epoch+`"}`)
	if ack.Recovered == nil || !*ack.Recovered {
		t.Fatalf("recovery: %s", js(ack))
	}
	for range want {
		if f := late.expect("message"); want[string(f.Payload)] == "" {
			t.Fatalf("recovered %s", js(f))
		}
	}
	late.expectNothing()

	// Not bridged back out: after a WebSocket publish has gone out (from
	// the node that took the NATS publishes), the NATS side has seen its
	// own publishes and that one only.
	syncer := nodes[0].connect(t, "syncer", session)
	syncer.send(`{"type":"publish","id":"s","topic":"chat.sync","payload":0}`)
	syncer.expect("ack")
	for i := 0; ; i++ {
		m := nextMsg(t, all)
		if m.Subject == "sb."+enc+".chat.sync" {
			if i != published {
				t.Fatalf("NATS saw %d messages before the sync, want its own %d", i, published)
			}
			break
		}
		if m.Header.Get("Sb-Node") != "" {
			t.Fatalf("a NATS publish came back from the bridge: %s %q %v", m.Subject, m.Data, m.Header)
		}
	}
	for _, c := range []*client{a, b} {
		if f := c.expect("message"); f.Topic != "chat.sync" {
			t.Fatalf("want the sync, got %s", js(f))
		}
		c.expectNothing()
	}
	stranger.expectNothing()
	if n := nodes[0].engine.BridgeDropped() + nodes[1].engine.BridgeDropped(); n != 2 {
		t.Fatalf("dropped %d inbound messages, want 2 (not JSON, reserved topic)", n)
	}
}

func TestBridgeNATSRequestAnsweredByWebSocketReply(t *testing.T) {
	nodes := newCluster(t, 2, 1, withBridge("sb", []string{"s"}, nil))
	responder := nodes[1].connect(t, "responder", "s")
	responder.subscribe("svc.>")
	nc := natsClient(t, nodes[0])
	inbox := nc.NewInbox()
	answers, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	request := func(subject, data string) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Reply, m.Data = inbox, []byte(data)
		m.Header.Set("Sb-Timeout-Ms", "5000")
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(code protocol.Code) {
		t.Helper()
		m := nextMsg(t, answers)
		if m.Header.Get("Sb-Error") != string(code) {
			t.Fatalf("answer %q %v, want Sb-Error %s", m.Data, m.Header, code)
		}
	}

	// The responder's subscription reaches node 0 within moments; until
	// then the bridge answers no_responders.
	var msg protocol.Frame
	waitFor(t, "the responder's interest to reach node 0", func() bool {
		request("sb.s.svc.echo", `"ping"`)
		f, ok := responder.poll(300*time.Millisecond, isMessage)
		if !ok {
			refused(protocol.CodeNoResponders)
			return false
		}
		msg = f
		return true
	})
	if msg.Type != "message" || msg.ReplyTo == "" || string(msg.Payload) != `"ping"` || msg.SessionID != "s" ||
		msg.PublisherName != "$nats" || msg.Topic != "svc.echo" || msg.Seq != nil {
		t.Fatalf("request as delivered: %s", js(msg))
	}
	responder.send(fmt.Sprintf(`{"type":"reply","id":"r1","reply_to":%q,"payload":"pong"}`, msg.ReplyTo))
	responder.expect("ack")
	ans := nextMsg(t, answers)
	if string(ans.Data) != `"pong"` || ans.Header.Get("Sb-Publisher") != "responder" || ans.Header.Get("Sb-Error") != "" {
		t.Fatalf("answer: %q %v", ans.Data, ans.Header)
	}
	// Answered once: a second reply finds nothing to answer.
	responder.send(fmt.Sprintf(`{"type":"reply","id":"r2","reply_to":%q,"payload":"again"}`, msg.ReplyTo))
	responder.expectError(protocol.CodeNotFound, "r2")

	request("sb.s.nobody.here", `1`) // nobody subscribed
	refused(protocol.CodeNoResponders)
	request("sb.s.svc.echo", `ping`) // not JSON
	refused(protocol.CodeBadRequest)
	request("sb.t.svc.echo", `1`) // session not bridged
	refused(protocol.CodeForbidden)
	responder.expectNothing()
	if _, err := answers.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatal("more answers than requests")
	}
}

func TestBridgeWebSocketRequestAnsweredByNATSService(t *testing.T) {
	nodes := newCluster(t, 2, 1, withBridge("sb", []string{"s"}, []string{"svc.>"}))
	nc := natsClient(t, nodes[0])
	var last atomic.Pointer[nats.Header] // the headers of the last request the service saw
	svc, err := nc.Subscribe("sb.s.svc.>", func(m *nats.Msg) {
		last.Store(&m.Header)
		ans := nats.NewMsg(m.Reply)
		ans.Data = []byte(`{"pong":true}`)
		ans.Header.Set("Sb-Publisher", "billing")
		m.RespondMsg(ans)
	})
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()

	// Only a NATS service listens: no no_responders, and once its
	// subscription has reached node 1, its answer is the response.
	requester := nodes[1].connect(t, "req", "s")
	var resp protocol.Frame
	waitFor(t, "the NATS service to answer", func() bool {
		requester.send(`{"type":"request","id":"q","topic":"svc.echo","payload":"ping","timeout_ms":300}`)
		resp = requester.read()
		return resp.Type != "error" || resp.Code != protocol.CodeTimeout
	})
	if resp.Type != "response" || resp.ID != "q" || string(resp.Payload) != `{"pong":true}` || resp.PublisherName != "$nats:billing" {
		t.Fatalf("response: %s", js(resp))
	}
	if h := *last.Load(); h.Get("Sb-Session") != "s" || h.Get("Sb-Publisher") != "req" || h.Get("Sb-Timeout-Ms") != "300" {
		t.Fatalf("request headers: %v", h)
	}

	// A topic or session that is not bridged does not reach the service.
	requester.send(`{"type":"request","id":"q2","topic":"other","payload":1}`)
	requester.expectError(protocol.CodeNoResponders, "q2")
	stranger := nodes[1].connect(t, "stranger", "t")
	stranger.send(`{"type":"request","id":"q3","topic":"svc.echo","payload":1}`)
	stranger.expectError(protocol.CodeNoResponders, "q3")

	// A bridged request nobody answers times out: NATS cannot tell
	// whether a service listens, since the bridge itself does.
	if err := svc.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	waitFor(t, "the service to be gone", func() bool {
		requester.send(`{"type":"request","id":"q4","topic":"svc.echo","payload":1,"timeout_ms":100}`)
		f := requester.read()
		return f.Type == "error" && f.Code == protocol.CodeTimeout
	})
}

func TestBridgeConfigErrors(t *testing.T) {
	for _, cc := range []ClusterConfig{
		{Embedded: true, BridgePrefix: "switchboard"}, // the engine's own subjects
		{Embedded: true, BridgePrefix: "sb", BridgeTopics: []string{"$meta.>"}},
		{Embedded: true, BridgeSessions: []string{"s"}}, // no prefix
	} {
		// Refused before any NATS server starts.
		_, err := New(Config{Logger: quietLogger(), Cluster: &cc})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err = %v, want ErrConfig", cc, err)
		}
	}
}
