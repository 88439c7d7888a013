package server

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/protocol"
)

func TestGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Logger: quietLogger(), AdminToken: testToken, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(ctx, ln) }()
	s := &testServer{Server: srv, base: "http://" + ln.Addr().String(), url: "ws://" + ln.Addr().String() + "/ws"}
	waitFor(t, "server up", func() bool {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	if status, _ := s.api(t, "GET", "/readyz", "", ""); status != 200 {
		t.Fatalf("readyz before shutdown: %d", status)
	}
	reader := s.connect(t, "reader", "s")
	idle := s.connect(t, "idle", "s") // does not read until later: keeps the shutdown waiting
	pre := s.dial(t)                  // no hello yet
	reader.send(`{"type":"subscribe","id":"1","topic":"t"}`)
	reader.expect("ack")

	cancel()
	waitFor(t, "readyz to fail", func() bool {
		status, _ := s.api(t, "GET", "/readyz", "", "")
		return status == http.StatusServiceUnavailable
	})
	if _, resp, err := dialRaw(t, s.url+"?name=late", nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade during shutdown: %v", err)
	}
	for _, c := range []*client{reader, pre, idle} {
		if code := c.closeStatus(); code != websocket.StatusCode(protocol.CloseShutdown) {
			t.Fatalf("close status %d, want 4000", code)
		}
	}
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := http.Get(s.base + "/healthz"); err == nil {
		t.Fatal("still serving after Run returned")
	}
}

// Close does not wait forever for a client whose socket is full.
func TestCloseDropsStuckClients(t *testing.T) {
	s := newServer(t, Config{ShutdownTimeout: 200 * time.Millisecond, WriteTimeout: time.Hour, QueueBytes: 256 << 20})
	stuck := s.connect(t, "stuck", "s")
	stuck.send(`{"type":"subscribe","id":"1","topic":"t"}`)
	stuck.expect("ack")
	pub := s.connect(t, "pub", "s")
	batch := strings.Repeat(`{"type":"publish","topic":"t","payload":"`+strings.Repeat("p", 4000)+`"}`+"\n", 15)
	wc := s.wsConnOf(stuck.id)
	waitFor(t, "the writer to stall", func() bool {
		pub.send(batch)
		pub.expectNothing()
		start := wc.writeStart.Load()
		return start != 0 && s.now()-start > int64(50*time.Millisecond)
	})
	pub.ws.CloseNow()
	waitFor(t, "publisher gone", func() bool { return s.connCount() == 1 })
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a stuck client")
	}
	if n := s.connCount(); n != 0 {
		t.Fatalf("%d connections left after Close", n)
	}
}

func TestRunListenError(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:-1", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background(), nil); err == nil {
		t.Fatal("Run on a bad address succeeded")
	}
}

func TestDashboardURL(t *testing.T) {
	s := newServer(t, Config{AdminToken: "secret"})
	if u := s.dashboardURL(&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}); u != "http://localhost:8080/" {
		t.Fatalf("configured token leaked or bad URL: %s", u)
	}
	gen, err := New(Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	tok := gen.AdminToken()
	if len(tok) < 32 {
		t.Fatalf("generated token %q too short", tok)
	}
	if u := gen.dashboardURL(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}); u != "http://127.0.0.1:9/?token="+tok {
		t.Fatalf("dashboard URL %s", u)
	}
}
