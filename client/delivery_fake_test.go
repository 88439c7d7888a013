//go:build !js

package client

import (
	"errors"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// A publish written to a connection that drops before its ack is sent again
// on the next connection with the same id and the same instance (so that
// the server stores it once), ahead of what was published during the
// outage; then its ack completes the Publish.
func TestPublishRetriedAfterReconnect(t *testing.T) {
	fs := newFakeServer(t)
	fs.set(func(fs *fakeServer) { fs.hold["held"] = true })
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Publish(ctx, "held", 1)
		errc <- err
	}()
	waitFor(t, 5*time.Second, "the publish written", func() bool {
		return len(get(fs, func(fs *fakeServer) []protocol.Frame { return fs.publishes })) == 1
	})
	fs.set(func(fs *fakeServer) { fs.down = true; delete(fs.hold, "held") })
	fs.dropAll(protocol.CloseShutdown)
	waitFor(t, 5*time.Second, "reconnecting", func() bool { return c.State() == StateReconnecting })
	if err := c.PublishAsync(ctx, "later", 2); err != nil {
		t.Fatal(err)
	}
	fs.set(func(fs *fakeServer) { fs.down = false })
	if err := <-errc; err != nil {
		t.Fatalf("retried publish: %v", err)
	}
	waitFor(t, 5*time.Second, "the later publish", func() bool {
		return len(get(fs, func(fs *fakeServer) []protocol.Frame { return fs.publishes })) == 3
	})
	pubs := get(fs, func(fs *fakeServer) []protocol.Frame { return fs.publishes })
	if pubs[0].Topic != "held" || pubs[1].Topic != "held" || pubs[1].ID != pubs[0].ID || pubs[0].ID == "" || pubs[2].Topic != "later" {
		t.Fatalf("publishes: %+v", pubs)
	}
	hellos := get(fs, func(fs *fakeServer) []protocol.Frame { return fs.hellos })
	if len(hellos) < 2 || hellos[0].Instance == "" || hellos[len(hellos)-1].Instance != hellos[0].Instance {
		t.Fatalf("instances in hello: %q … %q", hellos[0].Instance, hellos[len(hellos)-1].Instance)
	}
	other := dialTest(t, fs.url(), Options{})
	if in := get(fs, func(fs *fakeServer) []protocol.Frame { return fs.hellos }); in[len(in)-1].Instance == hellos[0].Instance {
		t.Fatal("two clients share an instance")
	}
	other.Close()
}

// Requests are not retried: a request in flight fails with
// ErrConnectionLost (a retried request could be answered twice).
func TestRequestNotRetried(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{})
	svc := dialTest(t, fs.url(), Options{Name: "svc", SessionID: c.SessionID()})
	if _, err := svc.Subscribe(ctx, "slow", func(*Message) {}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Request(ctx, "slow", 1)
		errc <- err
	}()
	waitFor(t, 5*time.Second, "the request written", func() bool {
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
		t.Fatalf("request in flight: %v, want ErrConnectionLost", err)
	}
}

// The resubscribe after a reconnect asks for what was missed (since), and
// a recovered:false answer reaches the gap handler and OnError with the
// reason; delivery then resumes from the ack's seq.
func TestNotRecoveredIsReported(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	var rec recorder
	c := dialTest(t, fs.url(), Options{OnError: rec.err, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	gaps := make(chan *RecoveryError, 1)
	var in inbox
	sub, err := c.Subscribe(ctx, "feed", in.add, WithGapHandler(func(e *RecoveryError) { gaps <- e }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "feed", 1); err != nil {
		t.Fatal(err)
	}
	in.wait(t, 1)
	if p := sub.Position(); p.Epoch != "e1" || p.Seq != 1 {
		t.Fatalf("position %+v", p)
	}
	fs.set(func(fs *fakeServer) {
		fs.notRecovered = protocol.ReasonTooFarBehind
		fs.seqs[c.SessionID()+" feed"] = 40
	})
	fs.dropAll(protocol.CloseSlowConsumer)
	var gap *RecoveryError
	select {
	case gap = <-gaps:
	case <-ctx.Done():
		t.Fatal("no gap reported")
	}
	if gap.Topic != "feed" || gap.Reason != protocol.ReasonTooFarBehind || gap.LastSeq != 1 || gap.Seq != 40 || !errors.Is(gap, ErrNotRecovered) {
		t.Fatalf("gap %+v", gap)
	}
	waitFor(t, 5*time.Second, "OnError to hear of it", func() bool { return rec.hasErr(ErrNotRecovered) })
	subs := get(fs, func(fs *fakeServer) []protocol.Frame { return fs.subscribes })
	if last := subs[len(subs)-1]; last.Since == nil || last.Since.Seq != 1 || last.Since.Epoch != "e1" {
		t.Fatalf("resubscribe %+v", last)
	}
	if p := sub.Position(); p.Seq != 40 {
		t.Fatalf("position after the gap %+v, want seq 40", p)
	}
	if _, err := c.Subscribe(ctx, "a.*", nil, WithPresence(func(PresenceEvent) {})); !errors.Is(err, ErrWildcardOption) {
		t.Fatalf("presence on a pattern: %v", err)
	}
}

// WithSince starts a subscription from a saved position.
func TestSubscribeWithSince(t *testing.T) {
	fs := newFakeServer(t)
	ctx := testContext(t)
	c := dialTest(t, fs.url(), Options{})
	if _, err := c.Subscribe(ctx, "feed", nil, WithSince(Position{Epoch: "e0", Seq: 7})); err != nil {
		t.Fatal(err)
	}
	subs := get(fs, func(fs *fakeServer) []protocol.Frame { return fs.subscribes })
	if s := subs[len(subs)-1]; s.Since == nil || s.Since.Seq != 7 || s.Since.Epoch != "e0" {
		t.Fatalf("subscribe %+v", s)
	}
}
