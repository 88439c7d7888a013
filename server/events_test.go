package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventStream reads GET /api/v1/events.
type eventStream struct {
	t      testing.TB
	resp   *http.Response
	sc     *bufio.Scanner
	cancel context.CancelFunc
}

// openEvents opens the event stream with the admin token; the request ends
// with the test (or after 30 s).
func (s *testServer) openEvents(t testing.TB, client *http.Client) *eventStream {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", s.base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	es := &eventStream{t: t, resp: resp, sc: bufio.NewScanner(resp.Body), cancel: cancel}
	es.sc.Buffer(nil, 1<<20)
	t.Cleanup(es.close)
	if resp.StatusCode != 200 {
		t.Fatalf("events: HTTP %d", resp.StatusCode)
	}
	return es
}

func (es *eventStream) close() {
	es.cancel()
	es.resp.Body.Close()
}

// next returns the next event, or nil when the stream has ended.
func (es *eventStream) next() map[string]any {
	es.t.Helper()
	if !es.sc.Scan() {
		if err := es.sc.Err(); err != nil && !errors.Is(err, io.EOF) {
			es.t.Fatalf("event stream: %v", err)
		}
		return nil
	}
	var ev map[string]any
	if err := json.Unmarshal(es.sc.Bytes(), &ev); err != nil {
		es.t.Fatalf("event %q: %v", es.sc.Bytes(), err)
	}
	return ev
}

// until reads events until one of type typ satisfies cond (nil: any) and
// returns it; it fails when the stream ends first.
func (es *eventStream) until(typ string, cond func(map[string]any) bool) map[string]any {
	es.t.Helper()
	for {
		ev := es.next()
		if ev == nil {
			es.t.Fatalf("stream ended before a %s event", typ)
		}
		if ev["type"] == typ && (cond == nil || cond(ev)) {
			return ev
		}
	}
}

func fastStats(cfg Config) Config {
	cfg.statsEvery = 20 * time.Millisecond
	return cfg
}

func TestEvents(t *testing.T) {
	s := newServer(t, fastStats(Config{}))
	es := s.openEvents(t, nil)
	if ct := es.resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := es.resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	if n := s.hub.Monitors(); n != 1 {
		t.Fatalf("%d monitors", n)
	}

	alice := s.connect(t, "alice", "s1")
	bob := s.connect(t, "bob", "s2")
	bob.send(`{"type":"subscribe","id":"1","topic":"secret"}`)
	bob.expect("ack")
	st := es.until("stats", func(ev map[string]any) bool { return ev["connections"] == 2.0 })
	if st["sessions"] != 2.0 {
		t.Fatalf("stats %v", st)
	}
	if tm, _ := st["time"].(string); tm == "" {
		t.Fatalf("stats without time: %v", st)
	} else if _, err := time.Parse(time.RFC3339, tm); err != nil {
		t.Fatalf("stats time %q: %v", tm, err)
	}
	for _, k := range []string{"msgs_in_per_sec", "msgs_out_per_sec", "bytes_in_per_sec", "bytes_out_per_sec"} {
		if _, ok := st[k].(float64); !ok {
			t.Fatalf("stats lack %s: %v", k, st)
		}
	}

	long := strings.Repeat("ü", 300)
	alice.send(`{"type":"publish","id":"p","topic":"news","payload":{"headline":"<hi>"},"timestamp":"2024-01-24T10:25:37Z"}`)
	alice.expect("ack")
	bob.send(`{"type":"publish","topic":"secret","payload":"e2e:AAECAwQ"}`)
	bob.expect("message")
	alice.send(`{"type":"publish","id":"q","topic":"news","payload":"` + long + `"}`)
	alice.expect("ack") // before the operator's publish in another session: events in this order
	if status, _ := s.api(t, "POST", "/api/v1/sessions/s2/publish", testToken, `{"topic":"secret","payload":[1, 2]}`); status != 200 {
		t.Fatalf("operator publish: %d", status)
	}
	bob.expect("message")

	want := []map[string]any{
		{"kind": "publish", "session_id": "s1", "topic": "news", "publisher_name": "alice", "seq": 1.0,
			"timestamp": "2024-01-24T10:25:37Z", "size": 19.0, "delivered": 0.0, "preview": `{"headline":"<hi>"}`, "encrypted": false},
		{"kind": "publish", "session_id": "s2", "topic": "secret", "publisher_name": "bob", "seq": 1.0,
			"size": 13.0, "delivered": 1.0, "preview": `"e2e:AAECAwQ"`, "encrypted": true},
		{"kind": "publish", "session_id": "s1", "topic": "news", "publisher_name": "alice", "seq": 2.0,
			"size": float64(len(long) + 2), "preview": `"` + long[:2*199] + "…", "truncated": true, "encrypted": false},
		{"kind": "publish", "session_id": "s2", "topic": "secret", "publisher_name": "$server", "seq": 2.0,
			"size": 5.0, "delivered": 1.0, "preview": `[1,2]`, "encrypted": false},
	}
	for i, w := range want {
		ev := es.until("message", nil)
		for k, v := range w {
			if ev[k] != v {
				t.Errorf("message %d: %s = %#v, want %#v (%v)", i, k, ev[k], v, ev)
			}
		}
		if ts, _ := ev["timestamp"].(string); ts == "" {
			t.Errorf("message %d without timestamp: %v", i, ev)
		}
	}

	// Requests, sends and broadcasts are reported too, without seq.
	alice.send(`{"type":"send","to":"` + alice.id + `","topic":"self","payload":true}`)
	alice.expect("message")
	if status, _ := s.api(t, "POST", "/api/v1/broadcast", testToken, `{"topic":"all","payload":0}`); status != 200 {
		t.Fatal("broadcast failed")
	}
	ev := es.until("message", nil)
	if ev["kind"] != "send" || ev["session_id"] != "s1" || ev["seq"] != nil || ev["delivered"] != 1.0 {
		t.Fatalf("send event %v", ev)
	}
	ev = es.until("message", nil)
	if _, has := ev["session_id"]; ev["kind"] != "broadcast" || has || ev["delivered"] != 2.0 || ev["publisher_name"] != "$server" {
		t.Fatalf("broadcast event %v", ev)
	}

	// Rates follow the traffic: alice's 10 objects within one stats period.
	for i := range 10 {
		alice.send(fmt.Sprintf(`{"type":"ping","id":"%d"}`, i))
	}
	es.until("stats", func(ev map[string]any) bool {
		in, _ := ev["msgs_in_per_sec"].(float64)
		return in > 0
	})

	es.close()
	waitFor(t, "the monitor to close", func() bool { return s.hub.Monitors() == 0 })
}

func TestEventsAuth(t *testing.T) {
	s := newServer(t, Config{AllowedOrigins: []string{"app.example.com"}})
	for _, token := range []string{"", "wrong"} {
		status, body := s.api(t, "GET", "/api/v1/events", token, "")
		if status != http.StatusUnauthorized || body["code"] != "unauthorized" {
			t.Fatalf("token %q: %d %v", token, status, body)
		}
	}
	if n := s.hub.Monitors(); n != 0 {
		t.Fatalf("unauthorized stream left %d monitors", n)
	}
	// The admin API is for the same-origin dashboard: no CORS, even for an
	// origin allowed to embed the browser client.
	for _, p := range []string{"/api/v1/clients", "/api/v1/events"} {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", s.base+p, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Origin", "http://app.example.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: %d %v", p, resp.StatusCode, resp.Header)
		}
		cancel()
		resp.Body.Close()
	}
}

// Over EventRate, message events are counted in sampled events.
func TestEventsSampled(t *testing.T) {
	s := newServer(t, fastStats(Config{EventRate: 10}))
	es := s.openEvents(t, nil)
	pub := s.connect(t, "pub", "s")
	const n = 50
	var batch strings.Builder
	for range n {
		batch.WriteString(`{"type":"publish","topic":"t","payload":1}` + "\n")
	}
	pub.send(batch.String())
	pub.sync()
	messages, sampled := 0, 0
	for messages+sampled < n {
		ev := es.next()
		switch {
		case ev == nil:
			t.Fatal("stream ended")
		case ev["type"] == "message":
			messages++
		case ev["type"] == "sampled":
			if ev["limit"] != 10.0 {
				t.Fatalf("sampled event %v", ev)
			}
			sampled += int(ev["count"].(float64))
		case ev["type"] == "dropped":
			t.Fatalf("dropped %v", ev)
		}
	}
	if messages < 2 || messages > 10 || messages+sampled != n {
		t.Fatalf("%d message events, %d sampled, of %d", messages, sampled, n)
	}
}

// pipeListener serves HTTP over net.Pipe: no socket buffers, so a client
// that stops reading blocks the server's writes at once.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A dashboard that does not read never slows publishers: its stream drops
// events, counts them, and reports them once it reads again.
func TestEventsSlowReader(t *testing.T) {
	s := newServer(t, fastStats(Config{EventRate: 1e6}))
	ln := newPipeListener()
	hs := &http.Server{Handler: s.Handler()}
	served := make(chan struct{})
	go func() {
		defer close(served)
		hs.Serve(ln)
	}()
	tr := &http.Transport{DialContext: ln.dial}
	t.Cleanup(func() {
		hs.Close()
		<-served
		tr.CloseIdleConnections()
	})
	es := s.openEvents(t, &http.Client{Transport: tr}) // not read until the publishing is done

	pub := s.connect(t, "pub", "s")
	const n, perFrame = 3000, 100
	frame := strings.Repeat(`{"type":"publish","topic":"t","payload":"`+strings.Repeat("x", 300)+`"}`+"\n", perFrame)
	start := time.Now()
	for range n / perFrame {
		pub.send(frame)
	}
	pub.sync() // every publish has been served
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("publishing took %v", d)
	}

	messages, dropped := 0, 0
	for messages+dropped < n {
		ev := es.next()
		switch {
		case ev == nil:
			t.Fatal("stream ended")
		case ev["type"] == "message":
			messages++
		case ev["type"] == "dropped":
			dropped += int(ev["count"].(float64))
		case ev["type"] == "sampled":
			t.Fatalf("sampled %v", ev)
		}
	}
	if dropped == 0 || messages+dropped != n {
		t.Fatalf("%d message events, %d dropped, of %d", messages, dropped, n)
	}
}

func TestEventsEndOnShutdown(t *testing.T) {
	t.Run("Run", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv, err := New(fastStats(Config{Logger: quietLogger(), AdminToken: testToken, ShutdownTimeout: time.Minute}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ran := make(chan error, 1)
		go func() { ran <- srv.Run(ctx, ln) }()
		s := &testServer{Server: srv, base: "http://" + ln.Addr().String()}
		es := s.openEvents(t, nil)
		es.until("stats", nil)
		start := time.Now()
		cancel()
		for es.next() != nil {
		}
		select {
		case err := <-ran:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("shutdown took %v with an open event stream", d)
		}
		if n := srv.hub.Monitors(); n != 0 {
			t.Fatalf("%d monitors left", n)
		}
	})
	t.Run("Close", func(t *testing.T) {
		s := newServer(t, fastStats(Config{}))
		es := s.openEvents(t, nil)
		es.until("stats", nil)
		s.Close()
		for es.next() != nil {
		}
		waitFor(t, "the monitor to close", func() bool { return s.hub.Monitors() == 0 })
		if status, _ := s.api(t, "GET", "/api/v1/events", testToken, ""); status != http.StatusServiceUnavailable {
			t.Fatalf("events after Close: %d", status)
		}
	})
}

func TestPreviewOf(t *testing.T) {
	for _, tc := range []struct {
		in        string
		size      int
		want      string
		truncated bool
	}{
		{`1`, 1, `1`, false},
		{`""`, 2, `""`, false},
		{strings.Repeat("a", 200), 200, strings.Repeat("a", 200), false},
		{strings.Repeat("a", 201), 201, strings.Repeat("a", 200) + "…", true},
		{strings.Repeat("日", 300), 900, strings.Repeat("日", 200) + "…", true},
		{"ab", 5000, "ab…", true}, // only the beginning is at hand
	} {
		got, tr := previewOf([]byte(tc.in), tc.size)
		if got != tc.want || tr != tc.truncated {
			t.Errorf("previewOf(%.20q, %d) = %.30q, %v", tc.in, tc.size, got, tr)
		}
	}
}
