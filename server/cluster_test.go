package server

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// newCluster starts n Switchboard nodes whose embedded NATS servers form
// one cluster (the stream with the given replicas), all on loopback; opts
// adjust each node's ClusterConfig.
func newCluster(t *testing.T, n, replicas int, opts ...func(*ClusterConfig)) []*testServer {
	t.Helper()
	return newClusterWith(t, n, replicas, Config{}, opts...)
}

// newClusterWith is newCluster with base as every node's configuration.
func newClusterWith(t *testing.T, n, replicas int, base Config, opts ...func(*ClusterConfig)) []*testServer {
	t.Helper()
	ports := freePorts(t, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	nodes := make([]*testServer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cfg := base
			cfg.Logger, cfg.AdminToken, cfg.Version = quietLogger(), testToken, "test"
			cfg.Cluster = &ClusterConfig{
				Embedded:      true,
				EmbeddedName:  fmt.Sprintf("node-%d", i),
				ClusterName:   "test",
				ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]),
				Routes:        routes,
				Replicas:      replicas,
			}
			for _, o := range opts {
				o(cfg.Cluster)
			}
			s, err := New(cfg)
			if err != nil {
				errs[i] = err
				return
			}
			nodes[i] = wrapServer(t, s)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	return nodes
}

// forEachEngine runs test against the in-memory engine and the NATS
// engine: the conformance suite. nodes has n entries: n nodes of one
// cluster with NATS, the one server n times in memory, so that every
// behaviour a test checks across nodes holds identically on one.
func forEachEngine(t *testing.T, n int, test func(t *testing.T, nodes []*testServer, cluster bool)) {
	forEachEngineWith(t, n, Config{}, test)
}

// forEachEngineWith is forEachEngine with base as the configuration.
func forEachEngineWith(t *testing.T, n int, base Config, test func(t *testing.T, nodes []*testServer, cluster bool)) {
	t.Run("memory", func(t *testing.T) {
		s := newServer(t, base)
		nodes := make([]*testServer, n)
		for i := range nodes {
			nodes[i] = s
		}
		test(t, nodes, false)
	})
	t.Run("nats", func(t *testing.T) {
		test(t, newClusterWith(t, n, 1, base), true)
	})
}

// poll syncs c until an object it received matches, or d passes; the
// objects before it are dropped. (A read with a deadline would not do:
// coder/websocket closes the connection when a read's context ends.)
func (c *client) poll(d time.Duration, match func(protocol.Frame) bool) (protocol.Frame, bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, f := range c.sync() {
			if match(f) {
				return f, true
			}
		}
		if time.Now().After(deadline) {
			return protocol.Frame{}, false
		}
		time.Sleep(time.Millisecond)
	}
}

func isMessage(f protocol.Frame) bool { return f.Type == "message" }

// subscribe subscribes c to pattern and returns the ack.
func (c *client) subscribe(pattern string, extra ...string) protocol.Frame {
	c.t.Helper()
	obj := fmt.Sprintf(`{"type":"subscribe","id":"sub-%s","topic":%q`, pattern, pattern)
	for _, e := range extra {
		obj += "," + e
	}
	c.send(obj + "}")
	return c.expect("ack")
}

func TestConformancePublishReachesEveryNodeAndNoOtherSession(t *testing.T) {
	forEachEngine(t, 3, func(t *testing.T, nodes []*testServer, cluster bool) {
		sessions := []string{"team.a@example", "team.b", "team:c.x"}
		type sub struct {
			c       *client
			session string
		}
		var subs []sub
		for i, node := range nodes {
			for _, s := range sessions {
				c := node.connect(t, fmt.Sprintf("sub-%d", i), s)
				c.subscribe("chat.>")
				subs = append(subs, sub{c, s})
			}
		}
		// Every session gets publishes from every node, in random order.
		type pubKey struct{ session, payload string }
		want := map[string][]string{}
		pubs := make([][]*client, len(nodes))
		for i, node := range nodes {
			for _, s := range sessions {
				pubs[i] = append(pubs[i], node.connect(t, fmt.Sprintf("pub-%d", i), s))
			}
		}
		const perPair = 5
		var order []pubKey
		for i := range nodes {
			for j, s := range sessions {
				for k := range perPair {
					order = append(order, pubKey{s, fmt.Sprintf(`"%d/%d/%d"`, i, j, k)})
				}
			}
		}
		rand.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, p := range order {
			var i, j int
			fmt.Sscanf(strings.Trim(p.payload, `"`), "%d/%d/", &i, &j)
			pubs[i][j].send(fmt.Sprintf(`{"type":"publish","id":"p","topic":"chat.room","payload":%s}`, p.payload))
			pubs[i][j].expect("ack")
			want[p.session] = append(want[p.session], p.payload)
		}
		for _, sb := range subs {
			var got []string
			var last uint64
			for len(got) < len(want[sb.session]) {
				f := sb.c.expect("message")
				if f.SessionID != sb.session {
					t.Fatalf("session %s got a message of session %s", sb.session, f.SessionID)
				}
				if f.SeqValue() <= last {
					t.Fatalf("seq %d after %d", f.SeqValue(), last)
				}
				last = f.SeqValue()
				got = append(got, string(f.Payload))
			}
			if strings.Join(got, ",") != strings.Join(want[sb.session], ",") {
				t.Fatalf("session %s: got %v, want %v", sb.session, got, want[sb.session])
			}
			sb.c.expectNothing()
		}
	})
}

func TestConformanceRecoveryOnAnotherNode(t *testing.T) {
	forEachEngine(t, 3, func(t *testing.T, nodes []*testServer, cluster bool) {
		pub := nodes[0].connect(t, "pub", "s")
		sub := nodes[1].connect(t, "sub", "s")
		ack := sub.subscribe("news")
		epoch := ack.Epoch
		publish := func(n int) {
			for i := range n {
				pub.send(fmt.Sprintf(`{"type":"publish","id":"p","topic":"news","payload":%d}`, i))
				pub.expect("ack")
			}
		}
		publish(3)
		var last uint64
		for range 3 {
			f := sub.expect("message")
			last = f.SeqValue()
		}
		sub.ws.CloseNow()
		publish(4) // missed
		again := nodes[2].connect(t, "sub", "s")
		a := again.subscribe("news", fmt.Sprintf(`"since":{"seq":%d,"epoch":%q}`, last, epoch))
		if a.Recovered == nil || !*a.Recovered || a.Epoch != epoch {
			t.Fatalf("not recovered: %s", js(a))
		}
		var got []string
		for range 4 {
			f := again.expect("message")
			if f.SeqValue() <= last {
				t.Fatalf("duplicate: seq %d after %d", f.SeqValue(), last)
			}
			last = f.SeqValue()
			got = append(got, string(f.Payload))
		}
		if strings.Join(got, ",") != "0,1,2,3" {
			t.Fatalf("replayed %v", got)
		}
		publish(1) // and then live
		live := again.expect("message")
		if string(live.Payload) != "0" || live.SeqValue() <= last {
			t.Fatalf("live after replay: %s", js(live))
		}
		again.expectNothing()

		// A wrong epoch is told, not silently replayed.
		other := nodes[0].connect(t, "other", "s")
		a = other.subscribe("news", `"since":{"seq":1,"epoch":"nope"}`)
		if a.Recovered == nil || *a.Recovered || a.Reason != protocol.ReasonEpochChanged {
			t.Fatalf("wrong epoch: %s", js(a))
		}
	})
}

func TestConformanceCompareAndSetAndDedupAcrossNodes(t *testing.T) {
	forEachEngine(t, 2, func(t *testing.T, nodes []*testServer, cluster bool) {
		a := nodes[0].connect(t, "a", "s", `"instance":"inst-1"`)
		b := nodes[1].connect(t, "b", "s", `"instance":"inst-1"`)
		a.send(`{"type":"publish","id":"m1","topic":"$meta.e2e","payload":{"v":1},"if_seq":0}`)
		first := a.expect("ack")
		b.send(`{"type":"publish","id":"m2","topic":"$meta.e2e","payload":{"v":2},"if_seq":0}`)
		b.expectError(protocol.CodeConflict, "m2")
		b.send(fmt.Sprintf(`{"type":"publish","id":"m3","topic":"$meta.e2e","payload":{"v":3},"if_seq":%d}`, first.SeqValue()))
		third := b.expect("ack")
		if third.SeqValue() <= first.SeqValue() {
			t.Fatalf("seq %d after %d", third.SeqValue(), first.SeqValue())
		}
		// A late joiner on either node gets the retained value.
		c := nodes[0].connect(t, "c", "s")
		c.subscribe("$meta.e2e")
		if f := c.expect("message"); string(f.Payload) != `{"v":3}` {
			t.Fatalf("retained: %s", js(f))
		}
		// The same instance retrying the same id on the other node is a duplicate.
		a.send(`{"type":"publish","id":"x1","topic":"t","payload":1}`)
		orig := a.expect("ack")
		b.send(`{"type":"publish","id":"x1","topic":"t","payload":1}`)
		dup := b.expect("ack")
		if !dup.Duplicate || dup.SeqValue() != orig.SeqValue() {
			t.Fatalf("retry: %s after %s", js(dup), js(orig))
		}
	})
}

func TestConformanceRequestReplyAndSendAcrossNodes(t *testing.T) {
	forEachEngine(t, 3, func(t *testing.T, nodes []*testServer, cluster bool) {
		requester := nodes[0].connect(t, "requester", "s")
		responder := nodes[1].connect(t, "responder", "s")
		responder.subscribe("svc.>")
		stranger := nodes[1].connect(t, "stranger", "other")

		// A subscription reaches the other nodes through NATS's interest
		// propagation, within moments: until then a request meets no_responders.
		var msg protocol.Frame
		waitFor(t, "the responder's interest to reach node 0", func() bool {
			requester.send(`{"type":"request","id":"q1","topic":"svc.echo","payload":"ping","timeout_ms":5000}`)
			// The server answers no_responders before it handles the ping.
			if fs := requester.sync(); len(fs) == 1 && fs[0].Code == protocol.CodeNoResponders {
				return false
			}
			f, ok := responder.poll(5*time.Second, isMessage)
			if !ok {
				t.Fatal("a pending request never reached the responder")
			}
			msg = f
			return true
		})
		if msg.Type != "message" || msg.ReplyTo == "" || string(msg.Payload) != `"ping"` || msg.SessionID != "s" {
			t.Fatalf("request as delivered: %s", js(msg))
		}
		// Another session's client cannot answer it, even on the same node.
		stranger.send(fmt.Sprintf(`{"type":"reply","id":"x","reply_to":%q,"payload":"evil"}`, msg.ReplyTo))
		stranger.expectError(protocol.CodeNotFound, "x")
		responder.send(fmt.Sprintf(`{"type":"reply","id":"a1","reply_to":%q,"payload":"pong"}`, msg.ReplyTo))
		responder.expect("ack")
		resp := requester.expect("response")
		if resp.ID != "q1" || string(resp.Payload) != `"pong"` || resp.PublisherName != "responder" {
			t.Fatalf("response: %s", js(resp))
		}
		// Nobody subscribed anywhere: no_responders.
		requester.send(`{"type":"request","id":"q2","topic":"nobody.here","payload":1}`)
		requester.expectError(protocol.CodeNoResponders, "q2")

		// send by client id reaches a client on another node, and nobody else.
		target := nodes[2].connect(t, "target", "s")
		// (The target's subscription reaches node 0 within moments: until
		// then it is not_found, and nothing is delivered.)
		waitFor(t, "the target to be reachable from node 0", func() bool {
			requester.send(fmt.Sprintf(`{"type":"send","id":"d1","to":%q,"topic":"direct","payload":"hi"}`, target.id))
			f := requester.read()
			if f.Type == "error" && f.Code == protocol.CodeNotFound {
				return false
			}
			if f.Type != "ack" {
				t.Fatalf("send: %s", js(f))
			}
			return true
		})
		got := target.expect("message")
		if got.From != requester.id || string(got.Payload) != `"hi"` || got.SessionID != "s" {
			t.Fatalf("send: %s", js(got))
		}
		// A client of another session is not found, wherever it is connected.
		requester.send(fmt.Sprintf(`{"type":"send","id":"d2","to":%q,"topic":"direct","payload":"hi"}`, stranger.id))
		requester.expectError(protocol.CodeNotFound, "d2")
		requester.send(`{"type":"send","id":"d3","to":"c_nosuchclient","topic":"direct","payload":"hi"}`)
		requester.expectError(protocol.CodeNotFound, "d3")
		requester.send(`{"type":"send","id":"d4","to":"c_x.*","topic":"direct","payload":"hi"}`)
		requester.expectError(protocol.CodeNotFound, "d4")
		stranger.expectNothing()
		target.expectNothing()
	})
}

func TestConformanceAdminAPIAndPresenceSeeEveryNode(t *testing.T) {
	forEachEngine(t, 3, func(t *testing.T, nodes []*testServer, cluster bool) {
		a := nodes[0].connect(t, "alice", "s")
		b := nodes[1].connect(t, "bob", "s")
		c := nodes[2].connect(t, "carol", "s")
		o := nodes[2].connect(t, "oscar", "other")
		b.subscribe("room")
		c.subscribe("room")

		for _, node := range nodes {
			waitFor(t, "every node to know the others", func() bool {
				_, out := node.api(t, "GET", "/api/v1/cluster", testToken, "")
				ns, _ := out["nodes"].([]any)
				if !cluster {
					return out["mode"] == "single" && len(ns) == 1
				}
				return out["mode"] == "cluster" && len(ns) == 3
			})
		}
		// Clients of every node, each with its node.
		_, out := nodes[1].api(t, "GET", "/api/v1/clients", testToken, "")
		cs, _ := out["clients"].([]any)
		nodeOf := map[string]string{}
		for _, x := range cs {
			m := x.(map[string]any)
			nodeOf[m["name"].(string)], _ = m["node"].(string)
		}
		if len(cs) != 4 {
			t.Fatalf("clients: %v", out)
		}
		if cluster && (nodeOf["alice"] == "" || nodeOf["alice"] == nodeOf["bob"] || nodeOf["bob"] == nodeOf["carol"]) {
			t.Fatalf("clients' nodes: %v", out)
		}
		_, out = nodes[0].api(t, "GET", "/api/v1/sessions", testToken, "")
		var room map[string]any
		for _, x := range out["sessions"].([]any) {
			if m := x.(map[string]any); m["session_id"] == "s" {
				if len(m["clients"].([]any)) != 3 {
					t.Fatalf("session s: %v", m)
				}
				for _, tp := range m["topics"].([]any) {
					if tm := tp.(map[string]any); tm["topic"] == "room" {
						room = tm
					}
				}
			}
		}
		if room == nil || room["subscribers"] != float64(2) {
			t.Fatalf("topic room across nodes: %v", out)
		}
		// Presence: the protocol object and the admin API see both nodes' subscribers.
		a.send(`{"type":"presence","id":"pr","topic":"room"}`)
		pr := a.expect("presence")
		if len(pr.Clients) != 2 {
			t.Fatalf("presence: %s", js(pr))
		}
		_, out = nodes[0].api(t, "GET", "/api/v1/sessions/s/topics/room/presence", testToken, "")
		if cl, _ := out["clients"].([]any); len(cl) != 2 {
			t.Fatalf("admin presence: %v", out)
		}
		// Send and disconnect reach a client on another node; broadcast every node.
		st, _ := nodes[0].api(t, "POST", "/api/v1/clients/"+c.id+"/send", testToken, `{"topic":"ops","payload":"hi carol"}`)
		if st != 200 {
			t.Fatalf("send across nodes: %d", st)
		}
		if f := c.expect("message"); string(f.Payload) != `"hi carol"` {
			t.Fatalf("carol got %s", js(f))
		}
		st, _ = nodes[0].api(t, "POST", "/api/v1/clients/c_nobody/send", testToken, `{"topic":"ops","payload":1}`)
		if st != 404 {
			t.Fatalf("send to nobody: %d", st)
		}
		st, out = nodes[1].api(t, "POST", "/api/v1/broadcast", testToken, `{"topic":"ops","payload":"all"}`)
		if st != 200 || out["delivered"] != float64(4) {
			t.Fatalf("broadcast: %d %v", st, out)
		}
		for _, cl := range []*client{a, b, c, o} {
			if f := cl.expect("message"); string(f.Payload) != `"all"` {
				t.Fatalf("broadcast got %s", js(f))
			}
		}
		st, _ = nodes[0].api(t, "DELETE", "/api/v1/clients/"+o.id, testToken, "")
		if st != 200 {
			t.Fatalf("disconnect across nodes: %d", st)
		}
		if code := o.closeStatus(); code != 4003 {
			t.Fatalf("oscar closed with %d", code)
		}
		// History from JetStream, on any node.
		a.send(`{"type":"publish","id":"h","topic":"room","payload":"kept"}`)
		a.expect("ack")
		_, out = nodes[2].api(t, "GET", "/api/v1/sessions/s/history?topic=room", testToken, "")
		if ms, _ := out["messages"].([]any); len(ms) != 1 {
			t.Fatalf("history: %v", out)
		}
		if cluster {
			req, _ := http.NewRequest("GET", nodes[1].base+"/metrics", nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), "switchboard_cluster_gaps_lost_total 0") {
				t.Fatalf("metrics lack the cluster's gap counters")
			}
		}
	})
}

func TestConformancePresenceEventsCrossNodes(t *testing.T) {
	forEachEngine(t, 2, func(t *testing.T, nodes []*testServer, cluster bool) {
		watcher := nodes[0].connect(t, "watcher", "s")
		watcher.subscribe("room", `"presence":true`)
		// The watcher's interest reaches node 1 within moments: join until an
		// event arrives.
		var joined *client
		waitFor(t, "a join event from node 1", func() bool {
			if joined != nil {
				joined.ws.CloseNow()
				watcher.queue = nil
			}
			joined = nodes[1].connect(t, "bob", "s")
			joined.subscribe("room")
			_, ok := watcher.poll(300*time.Millisecond, func(f protocol.Frame) bool {
				return f.Type == "presence_event" && f.Event == "join" && f.ClientID == joined.id
			})
			return ok
		})
		// Past the leave events of earlier attempts, see bob leave.
		joined.ws.Close(1000, "")
		if _, ok := watcher.poll(5*time.Second, func(f protocol.Frame) bool {
			return f.Type == "presence_event" && f.Event == "leave" && f.ClientID == joined.id
		}); !ok {
			t.Fatal("no leave event for bob")
		}
		// Another session's joins are not seen.
		other := nodes[1].connect(t, "eve", "other")
		other.subscribe("room")
		watcher.expectNothing()
	})
}

// A service token reaches every session, also of clients on other nodes:
// its all-sessions subscription, its replies, its publishes into a chosen
// session. Nothing else does.
func TestConformanceServiceClientAcrossNodes(t *testing.T) {
	forEachEngineWith(t, 3, Config{AuthSecret: testSecret}, func(t *testing.T, nodes []*testServer, cluster bool) {
		svcClaims := claimsFor("billing", "backend")
		svcClaims.Service = true
		svc := nodes[0].hello(t, "billing", "backend", mint(t, testSecret, svcClaims)).mustWelcome()
		a := nodes[1].hello(t, "a", "A", mint(t, testSecret, claimsFor("a", "A"))).mustWelcome()
		b := nodes[2].hello(t, "b", "B", mint(t, testSecret, claimsFor("b", "B"))).mustWelcome()
		plain := nodes[0].hello(t, "plain", "P", mint(t, testSecret, claimsFor("plain", "P"))).mustWelcome()
		plain.send(`{"type":"subscribe","id":"x","topic":"orders.>","all_sessions":true}`)
		plain.expectError(protocol.CodeForbidden, "x")
		plain.send(`{"type":"publish","id":"y","topic":"orders.new","payload":1,"session_id":"A"}`)
		plain.expectError(protocol.CodeForbidden, "y")
		svc.send(`{"type":"subscribe","id":"s","topic":"orders.>","all_sessions":true}`)
		svc.expect("ack")
		// The service's interest reaches the other nodes within moments.
		waitFor(t, "the service to hear session A", func() bool {
			a.send(`{"type":"publish","id":"w","topic":"orders.warmup","payload":0}`)
			a.expect("ack")
			_, ok := svc.poll(300*time.Millisecond, isMessage)
			return ok
		})
		a.send(`{"type":"publish","id":"1","topic":"orders.new","payload":"a1"}`)
		a.expect("ack")
		m1 := svc.expect("message")
		for m1.Topic == "orders.warmup" { // late ones
			m1 = svc.expect("message")
		}
		b.send(`{"type":"publish","id":"1","topic":"orders.new","payload":"b1"}`)
		b.expect("ack")
		m2 := svc.expect("message")
		if m1.SessionID != "A" || m2.SessionID != "B" || string(m1.Payload) != `"a1"` || string(m2.Payload) != `"b1"` {
			t.Fatalf("service got %s %s", js(m1), js(m2))
		}
		// A request in session A (on node 1) answered by the service (node 0).
		a.send(`{"type":"request","id":"q","topic":"orders.quote","payload":1}`)
		req := svc.expect("message")
		if req.SessionID != "A" || req.ReplyTo == "" {
			t.Fatalf("request %s", js(req))
		}
		svc.send(fmt.Sprintf(`{"type":"reply","id":"r","reply_to":%q,"payload":"42","session_id":%q}`, req.ReplyTo, req.SessionID))
		svc.expect("ack")
		if r := a.expect("response"); r.ID != "q" || string(r.Payload) != `"42"` {
			t.Fatalf("response %s", js(r))
		}
		// The service publishes into session B, on node 2.
		b.subscribe("invoices")
		svc.send(`{"type":"publish","id":"p","topic":"invoices","payload":"for B","session_id":"B"}`)
		svc.expect("ack")
		if m := b.expect("message"); m.SessionID != "B" || m.PublisherName != "billing" {
			t.Fatalf("B got %s", js(m))
		}
		a.expectNothing()
		plain.expectNothing()
	})
}
