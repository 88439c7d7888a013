package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/protocol"
)

// scrape reads /metrics into "name{labels}" → value.
func (s *testServer) scrape(t testing.TB) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", s.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetrics(t *testing.T) {
	s := newServer(t, Config{})
	sub := s.connect(t, "sub", "S")
	pub := s.connect(t, "pub", "S")
	s.connect(t, "alone", "T")
	sub.send(`{"type":"subscribe","id":"1","topic":"t"}`)
	sub.expect("ack")
	for i := range 40 {
		pub.send(fmt.Sprintf(`{"type":"publish","id":"%d","topic":"t","payload":%d}`, i, i))
		pub.expect("ack")
		sub.expect("message")
	}
	pub.send(`{"type":"publish","id":"x","topic":"$server.x","payload":1}`)
	pub.expectError(protocol.CodeForbidden, "x")
	pub.send(`{"type":"request","id":"r","topic":"t","payload":1}`)
	req := sub.expect("message")
	sub.send(fmt.Sprintf(`{"type":"reply","reply_to":%q,"payload":2}`, req.ReplyTo))
	pub.expect("response")
	pub.send(`{"type":"request","id":"r2","topic":"t","payload":1,"timeout_ms":1}`)
	sub.expect("message")
	pub.expectError(protocol.CodeTimeout, "r2")
	bye := s.connect(t, "bye", "U")
	bye.ws.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "bye gone", func() bool { return len(s.Clients("U")) == 0 })

	m := s.scrape(t)
	for name, want := range map[string]float64{
		"switchboard_connections":                                  3,
		"switchboard_session_connections_count":                    2, // S with 2, T with 1
		"switchboard_session_connections_sum":                      3,
		`switchboard_session_connections_bucket{le="1"}`:           1,
		`switchboard_session_connections_bucket{le="2"}`:           2,
		"switchboard_fanout_connections_count":                     42, // 40 publishes, 2 requests
		"switchboard_fanout_connections_sum":                       42,
		"switchboard_request_duration_seconds_count":               1,
		`switchboard_errors_total{code="forbidden"}`:               1,
		`switchboard_errors_total{code="timeout"}`:                 1,
		`switchboard_disconnects_total{code="1000"}`:               1,
		"switchboard_ready":                                        1,
		`switchboard_build_info{auth="off",version="test"}`:        1,
		"switchboard_slow_consumer_disconnects_total":              0,
		`switchboard_connections_refused_total{reason="shutdown"}`: 0,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if m[`switchboard_messages_total{direction="in"}`] < 45 || m[`switchboard_messages_total{direction="out"}`] < 80 {
		t.Errorf("messages in %v out %v", m[`switchboard_messages_total{direction="in"}`], m[`switchboard_messages_total{direction="out"}`])
	}
	if m["switchboard_queue_write_latency_seconds_count"] < 1 { // 1 batch in 16 of some 130
		t.Errorf("no queue → write latency sampled")
	}
	for _, name := range []string{"go_goroutines", "process_open_fds"} {
		if _, ok := m[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

// /readyz fails and switchboard_ready drops as soon as shutdown begins.
func TestMetricsReadyDuringShutdown(t *testing.T) {
	s := newServer(t, Config{})
	c := s.connect(t, "idle", "S") // keeps the drain waiting until it answers the close
	done := make(chan struct{})
	go func() { s.drain(5 * time.Second); close(done) }()
	waitFor(t, "draining", func() bool { return s.draining.Load() })
	if m := s.scrape(t); m["switchboard_ready"] != 0 {
		t.Fatal("still ready while shutting down")
	}
	if status, _ := s.api(t, "GET", "/readyz", "", ""); status != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d", status)
	}
	c.mustClose(protocol.CloseShutdown)
	<-done
}

// permessage-deflate: negotiated when the server enables it and the client
// asks; compressed frames arrive intact.
func TestCompression(t *testing.T) {
	big := `"` + strings.Repeat("compressible ", 400) + `"`
	for _, on := range []bool{false, true} {
		s := newServer(t, Config{Compression: on})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ws, resp, err := websocket.Dial(ctx, s.url+"?name=z&session_id=S",
			&websocket.DialOptions{CompressionMode: websocket.CompressionNoContextTakeover})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		ext := resp.Header.Get("Sec-WebSocket-Extensions")
		if got := strings.Contains(ext, "permessage-deflate"); got != on {
			t.Fatalf("compression %v: extensions %q", on, ext)
		}
		c := &client{t: t, ws: ws}
		c.mustWelcome()
		c.send(`{"type":"subscribe","id":"1","topic":"t"}`)
		c.expect("ack")
		c.send(`{"type":"publish","topic":"t","payload":` + big + `}`)
		if m := c.expect("message"); string(m.Payload) != big {
			t.Fatal("payload changed")
		}
	}
}
