//go:build !js

package client

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboardhq/switchboard/server"
)

// The proof of cluster failover (issue 8): real Switchboard nodes whose
// embedded NATS servers form one JetStream cluster, Go clients given every
// node's URL, and one node killed while publishers keep publishing.

// clusterNode is one node of a cluster started by a test.
type clusterNode struct {
	name string // its embedded NATS server's name
	url  string
	srv  *server.Server
	stop func() // idempotent; also called at the end of the test
}

// startClusterNodes starts n nodes whose embedded NATS servers form one
// cluster, the stream replicated on all of them (replicas n), each served
// on its own loopback port. They start together: each New waits until
// JetStream accepts the stream, which needs its peers.
func startClusterNodes(t *testing.T, n int, history int64) []*clusterNode {
	t.Helper()
	// Cluster (route) ports: free a moment ago, given to NATS by number
	// because every node must know all of them before any starts.
	routes := make([]string, n)
	listens := make([]string, n)
	for i := range n {
		ln := listen(t, "127.0.0.1:0")
		listens[i] = ln.Addr().String()
		routes[i] = "nats-route://" + listens[i]
		ln.Close()
	}
	nodes := make([]*clusterNode, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("node-%d", i)
			srv, err := server.New(server.Config{
				Logger: slog.New(slog.DiscardHandler),
				Cluster: &server.ClusterConfig{
					Embedded:      true,
					EmbeddedName:  name,
					ClusterName:   "failover",
					ClusterListen: listens[i],
					Routes:        routes,
					Replicas:      n,
					History:       history,
					StartTimeout:  30 * time.Second,
				},
			})
			if err != nil {
				errs[i] = err
				return
			}
			nodes[i] = serveNode(t, name, srv)
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

// serveNode serves srv on a loopback port of its own.
func serveNode(t *testing.T, name string, srv *server.Server) *clusterNode {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Error(err)
		return nil
	}
	stop := serve(ln, srv)
	t.Cleanup(stop)
	return &clusterNode{name: name, url: "ws://" + ln.Addr().String() + "/ws", srv: srv, stop: stop}
}

// streamLeader returns the name of the NATS server that leads the
// Switchboard stream, asked through node's embedded NATS server.
func streamLeader(ctx context.Context, t *testing.T, node *clusterNode) string {
	t.Helper()
	nc, err := nats.Connect(node.srv.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var leader string
	waitFor(t, 10*time.Second, "a stream leader", func() bool {
		s, err := js.Stream(ctx, "SWITCHBOARD")
		if err == nil && s.CachedInfo().Cluster != nil {
			leader = s.CachedInfo().Cluster.Leader
		}
		return leader != ""
	})
	return leader
}

// failoverPublisher publishes numbered messages one after the other, each
// acknowledged before the next, and keeps count.
type failoverPublisher struct {
	c      *Client
	start  int // index of the node it started on
	acked  atomic.Int64
	mu     sync.Mutex
	errs   []error
	acks   []time.Time // when each message was acknowledged
	maxGap time.Duration
}

func (p *failoverPublisher) run(ctx context.Context, id int, stop <-chan struct{}) {
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		// The client itself sends a publish that a lost connection
		// never acknowledged again, with the same id, on the next one:
		// an error here is the server's answer or the deadline. Then
		// the application can only publish again, under a new id.
		for {
			_, err := p.c.Publish(ctx, "feed", numbered{P: id, N: n})
			if err == nil {
				break
			}
			p.mu.Lock()
			p.errs = append(p.errs, fmt.Errorf("message %d: %w", n, err))
			p.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
		}
		now := time.Now()
		p.mu.Lock()
		if len(p.acks) > 0 {
			p.maxGap = max(p.maxGap, now.Sub(p.acks[len(p.acks)-1]))
		}
		p.acks = append(p.acks, now)
		p.mu.Unlock()
		p.acked.Store(int64(n))
	}
}

// TestClusterFailoverExactlyOnce: three nodes, the stream replicated on
// all three. Two publishers and six subscribers, each client given all
// three URLs and starting on a node of its own choosing, a publisher and
// three subscribers on the node that leads the stream. That node is killed while the publishers keep
// publishing: its clients fail over to the others (resubscribing with
// since, sending the unacknowledged publish again with the same id), the
// stream elects another leader, and every subscriber ends with every
// acknowledged message exactly once, in the order published, seq strictly
// increasing, without a gap reported.
func TestClusterFailoverExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	left := func() time.Duration { return time.Until(deadline) } // every wait ends by then
	// The history holds everything published here: a subscriber that
	// fails over recovers whatever it missed.
	nodes := startClusterNodes(t, 3, 1<<16)
	started := time.Since(began)

	// The victim leads the stream: its loss moves the leader, not only
	// clients.
	leader := streamLeader(ctx, t, nodes[0])
	victim := slices.IndexFunc(nodes, func(n *clusterNode) bool { return n.name == leader })
	if victim < 0 {
		t.Fatalf("stream leader %q is none of the nodes", leader)
	}
	// order[k]: the node of the first URL of publisher k and of
	// subscriber k: the victim gets a publisher and three subscribers,
	// the others a publisher and two subscribers, or one subscriber.
	order := []int{victim, (victim + 1) % 3, (victim + 2) % 3, victim, (victim + 1) % 3, victim}
	urlsFrom := func(first int) []string {
		var urls []string
		for k := range nodes {
			urls = append(urls, nodes[(first+k)%len(nodes)].url)
		}
		return urls
	}
	session := uniqueSession("cluster-failover")
	opts := func(first int) Options {
		return Options{URLs: urlsFrom(first), MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
			CallTimeout: 20 * time.Second, DispatchQueueSize: 1 << 18}
	}

	const subscribers, publishers = 6, 2
	logs := make([]*seqLog, subscribers)
	subs := make([]*Client, subscribers)
	errs := make([]*recorder, subscribers)
	for i := range subscribers {
		logs[i], errs[i] = &seqLog{}, &recorder{}
		o := opts(order[i])
		o.OnError = errs[i].err
		subs[i] = dialIntegration(t, "", fmt.Sprintf("sub%d", i), session, o)
		if _, err := subs[i].Subscribe(ctx, "feed", logs[i].add, WithGapHandler(logs[i].gap)); err != nil {
			t.Fatal(err)
		}
	}
	pubs := make([]*failoverPublisher, publishers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range publishers {
		pubs[p] = &failoverPublisher{start: order[p]}
		pubs[p].c = dialIntegration(t, "", fmt.Sprintf("pub%d", p), session, opts(order[p]))
		wg.Go(func() { pubs[p].run(ctx, p, stop) })
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for p, pub := range pubs {
			pub.mu.Lock()
			t.Logf("publisher %d: acked %d, state %v on %s, errors %v", p, pub.acked.Load(), pub.c.State(), pub.c.URL(), pub.errs)
			pub.mu.Unlock()
		}
		for i, l := range logs {
			msgs, gaps := l.snapshot()
			last := "none"
			if len(msgs) > 0 {
				last = fmt.Sprintf("seq %d %s", msgs[len(msgs)-1].Seq, msgs[len(msgs)-1].Payload)
			}
			t.Logf("subscriber %d: %d messages, last %s, gaps %v, state %v on %s", i, len(msgs), last, gaps, subs[i].State(), subs[i].URL())
		}
	})
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	const before, after = 100, 300
	waitFor(t, left(), fmt.Sprintf("%d messages from each publisher", before), func() bool {
		return pubs[0].acked.Load() >= before && pubs[1].acked.Load() >= before
	})
	var atKill [publishers]int64
	for p := range pubs {
		atKill[p] = pubs[p].acked.Load()
	}
	killed := time.Now()
	nodes[victim].stop()
	stopped := time.Since(killed)

	// Its clients come back on the others, and publishing goes on.
	var moved []*Client
	for i, c := range subs {
		if order[i] == victim {
			moved = append(moved, c)
		}
	}
	moved = append(moved, pubs[0].c)
	waitFor(t, left(), "the victim's clients on other nodes", func() bool {
		for _, c := range moved {
			if c.State() != StateConnected || c.URL() == nodes[victim].url {
				return false
			}
		}
		return true
	})
	failedOver := time.Since(killed)
	waitFor(t, left(), fmt.Sprintf("%d messages from each publisher after the kill", after), func() bool {
		return pubs[0].acked.Load() >= atKill[0]+after && pubs[1].acked.Load() >= atKill[1]+after
	})
	close(stop)
	wg.Wait()
	publishedAfter := time.Since(killed)

	// An end mark after everything: once a subscriber has it, it has had
	// its chance to get every message before it.
	const mark = -1
	marked := time.Now()
	if _, err := pubs[1].c.Publish(ctx, "feed", numbered{P: mark}); err != nil {
		t.Fatal(err)
	}
	total := 0
	for p, pub := range pubs {
		n := int(pub.acked.Load())
		total += n
		pub.mu.Lock()
		perrs, gap := slices.Clone(pub.errs), pub.maxGap
		pub.mu.Unlock()
		t.Logf("publisher %d (started on %s): %d messages, %d after the kill, longest wait for an ack %v, %d errors",
			p, nodes[pub.start].name, n, n-int(atKill[p]), gap.Round(time.Millisecond), len(perrs))
		for _, err := range perrs {
			t.Logf("publisher %d: %v", p, err)
		}
	}
	for i, l := range logs {
		waitFor(t, left(), fmt.Sprintf("subscriber %d to get the end mark", i), func() bool {
			msgs, _ := l.snapshot()
			return slices.ContainsFunc(msgs, func(m *Message) bool {
				var v numbered
				return json.Unmarshal(m.Payload, &v) == nil && v.P == mark
			})
		})
		t.Logf("subscriber %d (started on %s, now on %s) got the end mark %v after it was sent",
			i, nodes[order[i]].name, subs[i].URL(), time.Since(marked).Round(time.Millisecond))
		msgs, gaps := l.snapshot()
		if len(gaps) > 0 {
			t.Errorf("subscriber %d was told of a gap: %v", i, gaps[0])
		}
		next := make([]int, publishers)
		var last uint64
		for k, m := range msgs {
			if m.Seq <= last {
				t.Fatalf("subscriber %d: message %d has seq %d after %d (duplicated or out of order)", i, k, m.Seq, last)
			}
			last = m.Seq
			var v numbered
			if err := json.Unmarshal(m.Payload, &v); err != nil {
				t.Fatal(err)
			}
			if v.P == mark {
				if k != len(msgs)-1 {
					t.Fatalf("subscriber %d: %d messages after the end mark", i, len(msgs)-1-k)
				}
				break
			}
			if v.N != next[v.P]+1 {
				t.Fatalf("subscriber %d: publisher %d's message %d came where %d was due (lost, stored twice or reordered)", i, v.P, v.N, next[v.P]+1)
			}
			next[v.P] = v.N
		}
		for p, pub := range pubs {
			if want := int(pub.acked.Load()); next[p] != want {
				t.Errorf("subscriber %d (started on %s) has %d of publisher %d's %d messages", i, nodes[order[i]].name, next[p], p, want)
			}
		}
		if es := errs[i]; es.hasErr(ErrNotRecovered) {
			t.Errorf("subscriber %d: resubscribe not recovered", i)
		}
	}
	t.Logf("cluster up in %v; killed %s (stream leader, %s) in %v; its clients on other nodes %v after the kill; publishing stopped %v after it; %d messages; %v in all",
		started.Round(time.Millisecond), leader, nodes[victim].url, stopped.Round(time.Millisecond), failedOver.Round(time.Millisecond),
		publishedAfter.Round(time.Millisecond), total, time.Since(began).Round(time.Millisecond))
}
