//go:build !js

package client

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server"
)

// testServerURL returns the server integration tests run against:
// SWITCHBOARD_TEST_URL when set, else one started for the test on a
// loopback port.
func testServerURL(t *testing.T) string {
	t.Helper()
	if url := os.Getenv("SWITCHBOARD_TEST_URL"); url != "" {
		return url
	}
	return startTestServer(t, "127.0.0.1:0").url
}

// testServer is a Switchboard server started by a test.
type testServer struct {
	url  string
	addr string // host:port it listens on
	stop func() // idempotent; also called at the end of the test
	srv  *server.Server
}

// startTestServer serves the real Switchboard server (server.New) on addr.
func startTestServer(t *testing.T, addr string) *testServer {
	t.Helper()
	ln := listen(t, addr)
	srv, err := server.New(server.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	stop := serve(ln, srv)
	t.Cleanup(stop)
	return &testServer{url: "ws://" + ln.Addr().String() + "/ws", addr: ln.Addr().String(), stop: stop, srv: srv}
}

// serve serves srv on ln until the returned stop (idempotent): it closes
// the listener first, so that nobody reconnects to it, then the server
// (WebSockets closed with 4000; in a cluster, its engine and NATS server).
func serve(ln net.Listener, srv *server.Server) (stop func()) {
	hs := &http.Server{Handler: srv.Handler()}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = hs.Serve(ln)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = hs.Close()
			_ = srv.Close()
			<-served
		})
	}
}

// listen listens on addr, retrying while a just-closed server still holds
// the port.
func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			t.Fatalf("listen %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A server restart on the same address: the client reconnects by itself,
// resubscribes, and receives again.
func TestIntegrationServerRestart(t *testing.T) {
	if os.Getenv("SWITCHBOARD_TEST_URL") != "" {
		t.Skip("restarts a server of its own")
	}
	srv := startTestServer(t, "127.0.0.1:0")
	url := srv.url
	ctx := itContext(t)
	s := uniqueSession("restart")
	var rec recorder
	c := dialIntegration(t, url, "sub", s, Options{OnState: rec.state, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	var got collector
	if _, err := c.Subscribe(ctx, "events.*", got.add); err != nil {
		t.Fatal(err)
	}
	pub := dialIntegration(t, url, "pub", s, Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if _, err := pub.Publish(ctx, "events.before", 1); err != nil {
		t.Fatal(err)
	}
	got.wait(t, 1)

	srv.stop()
	waitFor(t, 10*time.Second, "the client to notice", func() bool { return c.State() == StateReconnecting })
	startTestServer(t, srv.addr)
	waitFor(t, 10*time.Second, "both clients reconnected", func() bool {
		return c.State() == StateConnected && pub.State() == StateConnected
	})
	// The resubscribe is queued ahead of the ping: the pong means the
	// server has the subscription again.
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx, "events.after", 2); err != nil {
		t.Fatal(err)
	}
	got.wait(t, 2)
	if m := got.all()[1]; m.Topic != "events.after" || m.PublisherName != "pub" {
		t.Errorf("after restart: %+v", m)
	}
	states := rec.getStates()
	if len(states) < 4 || states[2] != StateReconnecting || states[len(states)-1] != StateConnected {
		t.Errorf("states %v", states)
	}
}

// After an operator disconnect (4003) the client reconnects and resubscribes
// with since, and the server replays what was published meanwhile: no gap,
// no duplicate.
func TestIntegrationRecoveryAfterDisconnect(t *testing.T) {
	if os.Getenv("SWITCHBOARD_TEST_URL") != "" {
		t.Skip("needs a server of its own")
	}
	srv := startTestServer(t, "127.0.0.1:0")
	ctx := itContext(t)
	s := uniqueSession("recover")
	logs := &logCapture{}
	const away = 500 * time.Millisecond
	c := dialIntegration(t, srv.url, "sub", s, Options{MinBackoff: away, DisableJitter: true, Logger: slog.New(logs)})
	pub := dialIntegration(t, srv.url, "pub", s, Options{})
	var got collector
	if _, err := c.Subscribe(ctx, "feed", got.add); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx, "feed", 1); err != nil {
		t.Fatal(err)
	}
	got.wait(t, 1)

	if err := srv.srv.Disconnect(c.ClientID(), protocol.CloseKicked); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the client to notice", func() bool { return c.State() == StateReconnecting })
	for i := 2; i <= 3; i++ {
		if _, err := pub.Publish(ctx, "feed", i); err != nil {
			t.Fatal(err)
		}
	}
	if c.State() != StateReconnecting {
		t.Fatal("the client came back before the publishes: nothing to recover")
	}
	waitFor(t, 5*time.Second, "reconnected", func() bool { return c.State() == StateConnected })
	if _, err := c.Ping(ctx); err != nil { // the resubscribe has been answered
		t.Fatal(err)
	}
	if logs.contains("not recoverable") {
		t.Fatal("the server answered recovered:false")
	}
	if _, err := pub.Publish(ctx, "feed", 4); err != nil {
		t.Fatal(err)
	}
	msgs := got.wait(t, 4)
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Errorf("message %d has seq %d: gap or duplicate", i, m.Seq)
		}
	}
}

// logCapture is a slog.Handler that keeps the messages logged.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCapture) WithGroup(string) slog.Handler            { return l }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}

func (l *logCapture) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
