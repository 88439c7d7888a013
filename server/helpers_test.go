package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/protocol"
)

// TestMain fails the run when goroutines outlive the tests.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	// The fuzzing engine leaves its own goroutines (signal handling).
	if fz := flag.Lookup("test.fuzz"); code == 0 && (fz == nil || fz.Value.String() == "") {
		http.DefaultClient.CloseIdleConnections()
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				fmt.Fprintf(os.Stderr, "leaked goroutines: %d running, %d before:\n%s\n",
					runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
				code = 1
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	os.Exit(code)
}

const testToken = "test-admin-token"

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testServer struct {
	*Server
	base string // http://host
	url  string // ws://host/ws
}

// newServer starts a server on a loopback port; both end with the test.
func newServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.AdminToken == "" {
		cfg.AdminToken = testToken
	}
	if cfg.Version == "" {
		cfg.Version = "test"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return wrapServer(t, s)
}

// wrapServer serves s on a loopback port; both end with the test.
func wrapServer(t testing.TB, s *Server) *testServer {
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return &testServer{Server: s, base: ts.URL, url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"}
}

// wsConnOf returns the server side of a client id (nil if gone).
func (s *testServer) wsConnOf(clientID string) *wsConn {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	for wc := range s.conns {
		if wc.hc.ID() == clientID {
			return wc
		}
	}
	return nil
}

// waitClosing waits until the server has decided to close a client.
func (s *testServer) waitClosing(t testing.TB, clientID string) {
	t.Helper()
	waitFor(t, "server to close "+clientID, func() bool {
		wc := s.wsConnOf(clientID)
		return wc == nil || wc.closing.Load()
	})
}

// client is a raw protocol client over coder/websocket.
type client struct {
	t       testing.TB
	ws      *websocket.Conn
	queue   []protocol.Frame
	id      string // client_id from welcome
	syncs   int
	welcome protocol.Frame
}

func dialRaw(t testing.TB, url string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, opts)
	if err == nil {
		ws.SetReadLimit(4 << 20)
		t.Cleanup(func() { ws.CloseNow() })
	}
	return ws, resp, err
}

// dial connects without saying hello.
func (s *testServer) dial(t testing.TB) *client {
	t.Helper()
	ws, _, err := dialRaw(t, s.url, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, ws: ws}
}

// connect dials and says hello; extra is merged into the hello object.
func (s *testServer) connect(t testing.TB, name, session string, extra ...string) *client {
	t.Helper()
	c := s.dial(t)
	hello := fmt.Sprintf(`{"type":"hello","name":%q,"session_id":%q,"protocol":1`, name, session)
	for _, e := range extra {
		hello += "," + e
	}
	c.send(hello + "}")
	c.welcome = c.expect("welcome")
	c.id = c.welcome.ClientID
	return c
}

func (c *client) send(obj string) {
	c.t.Helper()
	c.write(websocket.MessageText, []byte(obj))
}

func (c *client) write(typ websocket.MessageType, data []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, typ, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next object, failing the test after 5 s.
func (c *client) read() protocol.Frame {
	c.t.Helper()
	f, err := c.tryRead(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

func (c *client) tryRead(d time.Duration) (protocol.Frame, error) {
	if len(c.queue) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		typ, data, err := c.ws.Read(ctx)
		if err != nil {
			return protocol.Frame{}, err
		}
		if typ != websocket.MessageText {
			return protocol.Frame{}, fmt.Errorf("binary frame from server")
		}
		err = protocol.Split(data, func(obj []byte) error {
			var f protocol.Frame
			if err := protocol.Decode(obj, &f); err != nil {
				return fmt.Errorf("server sent %s: %w", obj, err)
			}
			c.queue = append(c.queue, f)
			return nil
		})
		if err != nil {
			return protocol.Frame{}, err
		}
	}
	f := c.queue[0]
	c.queue = c.queue[1:]
	return f, nil
}

// expect reads the next object and checks its type.
func (c *client) expect(typ string) protocol.Frame {
	c.t.Helper()
	f := c.read()
	if f.Type != typ {
		c.t.Fatalf("want %s, got %s", typ, js(f))
	}
	return f
}

// expectError reads the next object and checks it is an error with code and id.
func (c *client) expectError(code protocol.Code, id string) protocol.Frame {
	c.t.Helper()
	f := c.read()
	if f.Type != "error" || f.Code != code || f.ID != id {
		c.t.Fatalf("want error %s id %q, got %s", code, id, js(f))
	}
	return f
}

// sync pings and returns every object received before the pong: everything
// the server queued for this client before it handled the ping.
func (c *client) sync() []protocol.Frame {
	c.t.Helper()
	c.syncs++
	id := fmt.Sprintf("sync-%d", c.syncs)
	c.send(`{"type":"ping","id":"` + id + `"}`)
	var out []protocol.Frame
	for {
		f := c.read()
		if f.Type == "pong" && f.ID == id {
			return out
		}
		out = append(out, f)
	}
}

// expectNothing checks that nothing was queued for the client.
func (c *client) expectNothing() {
	c.t.Helper()
	if fs := c.sync(); len(fs) != 0 {
		c.t.Fatalf("unexpected objects: %s", jsAll(fs))
	}
}

// closeStatus reads until the connection ends and returns its close code.
func (c *client) closeStatus() websocket.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := c.ws.Read(ctx)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func js(f protocol.Frame) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func jsAll(fs []protocol.Frame) string {
	var sb strings.Builder
	for _, f := range fs {
		sb.WriteString(js(f))
		sb.WriteByte('\n')
	}
	return sb.String()
}

// api calls the admin API; token "" sends none.
func (s *testServer) api(t testing.TB, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: %d non-JSON body %q", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, out
}
