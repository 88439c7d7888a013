package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/server"
)

// TestMain fails the run when goroutines outlive the tests.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			fmt.Fprintf(os.Stderr, "leaked goroutines: %d > %d\n%s\n", n, before, buf[:runtime.Stack(buf, true)])
			code = 1
		}
	}
	os.Exit(code)
}

var quiet = slog.New(slog.DiscardHandler)

// startServer serves a real Switchboard server on a loopback port.
func startServer(t *testing.T) string {
	t.Helper()
	srv, err := server.New(server.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
}

// startRelay serves the relay floor on a loopback port.
func startRelay(t *testing.T) string {
	t.Helper()
	r := NewRelay()
	hs := httptest.NewServer(r.Handler())
	t.Cleanup(func() { r.Close(); hs.Close() })
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
}

func targets(t *testing.T) map[string]string {
	return map[string]string{"switchboard": startServer(t), "relay": startRelay(t)}
}

func TestFanoutDeliversEverything(t *testing.T) {
	for name, url := range targets(t) {
		for _, mode := range []struct {
			name string
			cfg  FanoutConfig
		}{
			{"max", FanoutConfig{Subscribers: 10, Topics: 1}},
			{"rate", FanoutConfig{Subscribers: 10, Publishers: 2, Topics: 3, Rate: 500, Batch: 2, AckEvery: 7}},
		} {
			t.Run(name+"/"+mode.name, func(t *testing.T) {
				var progress bytes.Buffer
				cfg := mode.cfg
				cfg.Common = Common{URL: url, Target: name, Duration: time.Second, Warmup: 200 * time.Millisecond, ServerPID: os.Getpid(), Progress: &syncWriter{w: &progress}}
				res, err := Fanout(t.Context(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if res.Errors != 0 || res.Lost != 0 {
					t.Fatalf("errors %d %v, lost %d", res.Errors, res.ErrorSamples, res.Lost)
				}
				if res.Published == 0 || res.Delivered != res.Expected {
					t.Fatalf("published %d, delivered %d of %d", res.Published, res.Delivered, res.Expected)
				}
				if cfg.Topics == 1 && res.Delivered != res.Published*int64(cfg.Subscribers) {
					t.Fatalf("delivered %d, want %d × %d", res.Delivered, res.Published, cfg.Subscribers)
				}
				if res.Latency == nil || res.Latency.Count == 0 || res.DeliveredInWindow == 0 {
					t.Errorf("latency %+v for %d deliveries in the window", res.Latency, res.DeliveredInWindow)
				}
				if res.Server == nil || res.Server.PID != os.Getpid() || res.Load == nil {
					t.Errorf("process stats missing: %+v %+v", res.Server, res.Load)
				}
				var js bytes.Buffer
				if err := res.WriteJSON(&js); err != nil || bytes.Count(js.Bytes(), []byte("\n")) != 1 {
					t.Errorf("JSON: %v %q", err, js.String())
				}
			})
		}
	}
}

// syncWriter serializes writes (progress comes from its own goroutine).
type syncWriter struct {
	mu chanMutex
	w  *bytes.Buffer
}

type chanMutex struct{ c chan struct{} }

func (w *syncWriter) Write(p []byte) (int, error) {
	if w.mu.c == nil {
		w.mu.c = make(chan struct{}, 1)
	}
	w.mu.c <- struct{}{}
	defer func() { <-w.mu.c }()
	return w.w.Write(p)
}

func TestIdle(t *testing.T) {
	for name, url := range targets(t) {
		t.Run(name, func(t *testing.T) {
			res, err := Idle(t.Context(), IdleConfig{Common: Common{URL: url, Target: name, Duration: 200 * time.Millisecond, ServerPID: os.Getpid()}, Connections: 50, Topics: 3, Settle: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if res.Connected != 50 || res.Alive != 50 || res.Errors != 0 {
				t.Fatalf("connected %d alive %d errors %d %v", res.Connected, res.Alive, res.Errors, res.ErrorSamples)
			}
			if res.Server == nil || res.Server.RSSEnd == 0 {
				t.Errorf("server stats: %+v", res.Server)
			}
		})
	}
}

func TestReqRep(t *testing.T) {
	res, err := ReqRep(t.Context(), ReqRepConfig{Common: Common{URL: startServer(t), Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond}, Responders: 2, Requesters: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Lost != 0 || res.Requests == 0 || res.Latency.Count != uint64(res.Requests) {
		t.Fatalf("errors %d %v, lost %d, requests %d, latency samples %d", res.Errors, res.ErrorSamples, res.Lost, res.Requests, res.Latency.Count)
	}
}

func TestSourceAddressSpreading(t *testing.T) {
	// With one connection per source address, connection i comes from
	// 127.0.0.(i+1): the server sees distinct remote addresses.
	srv, err := server.New(server.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { srv.Close(); hs.Close() }()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Idle(ctx, IdleConfig{Common: Common{URL: url, Duration: 5 * time.Second, PerSourceIP: 1, Session: "spread"}, Connections: 3, Settle: time.Millisecond})
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Clients("spread")) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	hosts := map[string]bool{}
	for _, c := range srv.Clients("spread") {
		hosts[strings.Split(c.RemoteAddr, ":")[0]] = true
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		if !hosts[h] {
			t.Errorf("no connection from %s: %v", h, hosts)
		}
	}
}
