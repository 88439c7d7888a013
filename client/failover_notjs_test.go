//go:build !js

package client

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Failover across several URLs: against fake servers for the exact plan
// (failover_test.go tests the plan itself), against real servers for the
// whole path.

// dialEvent is one dial that reached a fake server.
type dialEvent struct {
	server string
	at     time.Time
}

// dialsOf merges the dials the servers saw, in time order: the client
// makes one at a time, so this is the order it made them in.
func dialsOf(servers map[string]*fakeServer) []dialEvent {
	var evs []dialEvent
	for name, fs := range servers {
		for _, at := range get(fs, func(fs *fakeServer) []time.Time { return slices.Clone(fs.dialedAt) }) {
			evs = append(evs, dialEvent{name, at})
		}
	}
	slices.SortFunc(evs, func(a, b dialEvent) int { return a.at.Compare(b.at) })
	return evs
}

// With three servers all down, the real reconnect loop follows the plan:
// b, c, a in every round, the backoff before each round and growing per
// round, none between the URLs of a round; MaxReconnectAttempts counts
// rounds.
func TestFailoverRotationAndBackoff(t *testing.T) {
	a, b, c := newFakeServer(t), newFakeServer(t), newFakeServer(t)
	const base = 200 * time.Millisecond
	cl := dialTest(t, a.url(), Options{URLs: []string{b.url(), c.url()}, MinBackoff: base, MaxBackoff: 10 * time.Second,
		DisableJitter: true, MaxReconnectAttempts: 3})
	if cl.URL() != a.url() {
		t.Fatalf("URL() = %q, want the first, %q", cl.URL(), a.url())
	}
	for _, fs := range []*fakeServer{a, b, c} {
		fs.set(func(fs *fakeServer) { fs.down = true })
	}
	lost := time.Now()
	a.dropAll(protocol.CloseShutdown)
	select {
	case <-cl.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not give up after 3 rounds")
	}
	if err := cl.Err(); !errors.Is(err, ErrReconnectFailed) || !strings.Contains(err.Error(), "after 9 attempts") {
		t.Errorf("Err() = %v, want ErrReconnectFailed after 9 attempts (3 rounds of 3)", err)
	}

	evs := dialsOf(map[string]*fakeServer{"a": a, "b": b, "c": c})[1:] // the first is Dial's, to a
	var order []string
	for _, ev := range evs {
		order = append(order, ev.server)
	}
	if got, want := strings.Join(order, " "), "b c a b c a b c a"; got != want {
		t.Fatalf("dial order %q, want %q", got, want)
	}
	prev := lost
	for i, ev := range evs {
		gap := ev.at.Sub(prev)
		prev = ev.at
		if i%3 == 0 {
			// A round starts after its backoff: base·2^round.
			if want := base << (i / 3); gap < want {
				t.Errorf("round %d started %v after the previous attempt, want at least %v", i/3, gap, want)
			}
		} else if gap >= base {
			// Per-URL backoff would wait base·2^i here.
			t.Errorf("attempt %d (%s) waited %v after a failure in its round, want no backoff", i, ev.server, gap)
		}
	}
}

// A failover is a reconnect like any other: the subscriptions are made
// again on the new server, a publish that the lost server never
// acknowledged is sent again with the same id and completes, buffered
// calls follow, and the rotation wraps round.
func TestFailoverResubscribesAndRetriesPublish(t *testing.T) {
	a, b := newFakeServer(t), newFakeServer(t)
	ctx := testContext(t)
	var rec recorder
	c := dialTest(t, a.url(), Options{SessionID: "s", URLs: []string{b.url()}, OnState: rec.state})
	var news inbox
	if _, err := c.Subscribe(ctx, "news", news.add); err != nil {
		t.Fatal(err)
	}
	a.set(func(fs *fakeServer) { fs.hold["pending"] = true })
	type result struct {
		seq uint64
		err error
	}
	done := make(chan result, 1)
	go func() {
		seq, err := c.Publish(ctx, "pending", "once")
		done <- result{seq, err}
	}()
	waitFor(t, 5*time.Second, "the publish to reach a", func() bool {
		return len(get(a, func(fs *fakeServer) []protocol.Frame { return fs.publishes })) == 1
	})

	a.set(func(fs *fakeServer) { fs.down = true })
	a.dropAll(protocol.CloseShutdown)
	waitFor(t, 5*time.Second, "failover to b", func() bool { return c.State() == StateConnected && c.URL() == b.url() })
	select {
	case r := <-done:
		if r.err != nil || r.seq != 1 {
			t.Fatalf("the unacknowledged publish after failover: seq %d, %v; want seq 1 from b", r.seq, r.err)
		}
	case <-ctx.Done():
		t.Fatal("the unacknowledged publish did not complete on b")
	}
	sent, resent := get(a, func(fs *fakeServer) []protocol.Frame { return fs.publishes })[0], get(b, func(fs *fakeServer) []protocol.Frame { return fs.publishes })
	if len(resent) != 1 || resent[0].ID != sent.ID || resent[0].Topic != "pending" {
		t.Errorf("b got %+v, want the publish %q again with the same id", resent, sent.ID)
	}
	if subs := get(b, func(fs *fakeServer) []protocol.Frame { return fs.subscribes }); len(subs) != 1 || subs[0].Topic != "news" {
		t.Errorf("b got subscribes %+v, want news", subs)
	}
	if h := get(b, func(fs *fakeServer) []protocol.Frame { return fs.hellos }); len(h) != 1 || h[0].Instance != get(a, func(fs *fakeServer) []protocol.Frame { return fs.hellos })[0].Instance {
		t.Error("the client named another instance on b")
	}
	peer := dialTest(t, b.url(), Options{Name: "bob", SessionID: "s"})
	if _, err := peer.Publish(ctx, "news", "on b"); err != nil {
		t.Fatal(err)
	}
	if m := news.wait(t, 1)[0]; string(m.Payload) != `"on b"` || m.PublisherName != "bob" {
		t.Errorf("on b: %+v", m)
	}

	// Lost again: the next URL after b is a, back up by now.
	a.set(func(fs *fakeServer) { fs.down = false })
	b.dropAll(protocol.CloseShutdown)
	waitFor(t, 5*time.Second, "failover back to a", func() bool { return c.State() == StateConnected && c.URL() == a.url() })
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if subs := get(a, func(fs *fakeServer) []protocol.Frame { return fs.subscribes }); len(subs) != 2 || subs[1].Topic != "news" {
		t.Errorf("a got subscribes %+v, want news twice", subs)
	}
	want := fmt.Sprint([]State{StateConnecting, StateConnected, StateReconnecting, StateConnected, StateReconnecting, StateConnected})
	waitFor(t, 5*time.Second, "states "+want, func() bool { return fmt.Sprint(rec.getStates()) == want })
}

// Two real servers: the client connects to the first, which shuts down;
// it fails over to the second by itself, subscribes there again, and gets
// what another client of the second publishes. The second server numbers
// the topic afresh, so the missed messages are reported, not recovered.
func TestIntegrationFailover(t *testing.T) {
	a, b := startTestServer(t, "127.0.0.1:0"), startTestServer(t, "127.0.0.1:0")
	ctx := itContext(t)
	s := uniqueSession("failover")
	var rec recorder
	fast := Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	o := fast
	o.URLs, o.OnError = []string{a.url, b.url}, rec.err
	c := dialIntegration(t, "", "sub", s, o)
	if c.URL() != a.url {
		t.Fatalf("URL() = %q, want %q", c.URL(), a.url)
	}
	var got collector
	if _, err := c.Subscribe(ctx, "feed", got.add); err != nil {
		t.Fatal(err)
	}
	pubA := dialIntegration(t, a.url, "pubA", s, fast)
	if _, err := pubA.Publish(ctx, "feed", "on a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "feed", "own on a"); err != nil {
		t.Fatal(err)
	}
	got.wait(t, 2)

	a.stop()
	waitFor(t, 10*time.Second, "failover to b", func() bool { return c.State() == StateConnected && c.URL() == b.url })
	if _, err := c.Ping(ctx); err != nil { // behind the resubscribe: b has the subscription
		t.Fatal(err)
	}
	pubB := dialIntegration(t, b.url, "pubB", s, fast)
	if _, err := pubB.Publish(ctx, "feed", "on b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "feed", "own on b"); err != nil {
		t.Fatal(err)
	}
	msgs := got.wait(t, 4)
	if m := msgs[2]; string(m.Payload) != `"on b"` || m.PublisherName != "pubB" || m.Seq != 1 {
		t.Errorf("first message on b: %+v", m)
	}
	if m := msgs[3]; string(m.Payload) != `"own on b"` || m.Seq != 2 {
		t.Errorf("own message on b: %+v", m)
	}
	var re *RecoveryError
	waitFor(t, 5*time.Second, "the gap reported", func() bool { return rec.hasErr(ErrNotRecovered) })
	rec.mu.Lock()
	errs := slices.Clone(rec.errs)
	rec.mu.Unlock()
	for _, err := range errs {
		if errors.As(err, &re) && (re.Topic != "feed" || re.LastSeq != 2 || re.Reason != protocol.ReasonEpochChanged) {
			t.Errorf("RecoveryError %+v, want feed after seq 2, %s", re, protocol.ReasonEpochChanged)
		}
	}
}

// A first URL that refuses connections: Dial goes on to the next. All
// refusing: the error names every URL and matches each cause.
func TestIntegrationFailoverFirstURLDead(t *testing.T) {
	dead := deadURL(t)
	b := startTestServer(t, "127.0.0.1:0")
	ctx := itContext(t)
	s := uniqueSession("firstdead")
	c := dialIntegration(t, dead, "sub", s, Options{URLs: []string{b.url}})
	if c.URL() != b.url {
		t.Fatalf("URL() = %q, want the live %q", c.URL(), b.url)
	}
	var got collector
	if _, err := c.Subscribe(ctx, "feed", got.add); err != nil {
		t.Fatal(err)
	}
	pub := dialIntegration(t, b.url, "pub", s, Options{})
	if _, err := pub.Publish(ctx, "feed", 1); err != nil {
		t.Fatal(err)
	}
	got.wait(t, 1)

	dead2 := deadURL(t)
	_, err := Dial(ctx, dead, Options{Name: "x", URLs: []string{dead2}})
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial to two dead URLs: %v, want connection refused", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "client: dial: "+dead+": ") || !strings.Contains(msg, "; "+dead2+": ") {
		t.Errorf("error %q does not name both URLs", msg)
	}
}

// deadURL returns a loopback URL on which nothing listens any more:
// connecting to it is refused at once.
func deadURL(t *testing.T) string {
	t.Helper()
	ln := listen(t, "127.0.0.1:0")
	url := "ws://" + ln.Addr().String() + "/ws"
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return url
}
