package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboardhq/switchboard/protocol"
)

// TestAdminHistory: GET /api/v1/sessions/{sid}/history reads a topic's
// history: the latest messages, or a page after a seq.
func TestAdminHistory(t *testing.T) {
	s := newServer(t, Config{})
	a := s.connect(t, "alice", "s1")
	for i := 1; i <= 5; i++ {
		a.send(fmt.Sprintf(`{"type":"publish","id":"p%d","topic":"chat.room","payload":{"n":%d}}`, i, i))
		a.expect("ack")
	}
	if status, _ := s.api(t, "GET", "/api/v1/sessions/s1/history?topic=chat.room", "", ""); status != 401 {
		t.Fatalf("without the token: %d", status)
	}
	status, body := s.api(t, "GET", "/api/v1/sessions/s1/history?topic=chat.room&limit=2", testToken, "")
	if status != 200 {
		t.Fatalf("history: %d %v", status, body)
	}
	msgs, _ := body["messages"].([]any)
	if body["seq"] != 5.0 || body["first_seq"] != 1.0 || body["epoch"] == "" || body["more"] != true || len(msgs) != 2 {
		t.Fatalf("history: %v", body)
	}
	if m := msgs[0].(map[string]any); m["seq"] != 4.0 || m["type"] != "message" || m["publisher_name"] != "alice" || m["session_id"] != "s1" {
		t.Fatalf("first message: %v", m)
	}
	_, body = s.api(t, "GET", "/api/v1/sessions/s1/history?topic=chat.room&since=3", testToken, "")
	if msgs, _ := body["messages"].([]any); len(msgs) != 2 || msgs[0].(map[string]any)["seq"] != 4.0 || body["more"] != nil {
		t.Fatalf("since 3: %v", body)
	}
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/sessions/s1/history", 400, "bad_request"},
		{"/api/v1/sessions/s1/history?topic=chat.room&since=x", 400, "bad_request"},
		{"/api/v1/sessions/s1/history?topic=chat.room&limit=0", 400, "bad_request"},
		{"/api/v1/sessions/s1/history?topic=bad%20topic", 400, "bad_request"},
		{"/api/v1/sessions/s1/history?topic=nope", 404, "not_found"},
		{"/api/v1/sessions/s2/history?topic=chat.room", 404, "not_found"},
	} {
		if status, body := s.api(t, "GET", tc.path, testToken, ""); status != tc.status || body["code"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.path, status, body, tc.status, tc.code)
		}
	}
	if _, err := s.History("s2", "chat.room", HistoryQuery{}); !errors.Is(err, ErrNoTopic) {
		t.Fatalf("Server.History of another session: %v", err)
	}
}

// TestAdminPresence: GET /api/v1/sessions/{sid}/topics/{topic}/presence
// lists a topic's subscribers, per session.
func TestAdminPresence(t *testing.T) {
	s := newServer(t, Config{})
	a := s.connect(t, "alice", "s1")
	b := s.connect(t, "bob", "s1")
	other := s.connect(t, "eve", "s2")
	for _, c := range []*client{a, b, other} {
		c.send(`{"type":"subscribe","id":"1","topic":"room"}`)
		c.expect("ack")
	}
	status, body := s.api(t, "GET", "/api/v1/sessions/s1/topics/room/presence", testToken, "")
	list, _ := body["clients"].([]any)
	if status != 200 || len(list) != 2 || list[0].(map[string]any)["name"] != "alice" || list[1].(map[string]any)["client_id"] != b.id {
		t.Fatalf("presence: %d %v", status, body)
	}
	if status, body := s.api(t, "GET", "/api/v1/sessions/s3/topics/room/presence", testToken, ""); status != 200 || len(body["clients"].([]any)) != 0 {
		t.Fatalf("presence in an empty session: %d %v", status, body)
	}
	// Over the protocol, with events for who asks.
	a.send(`{"type":"subscribe","id":"2","topic":"room","presence":true}`)
	a.expect("ack")
	b.ws.CloseNow() // abrupt: the server notices and says so
	if ev := a.expect("presence_event"); ev.Event != "leave" || ev.ClientID != b.id || ev.Name != "bob" || ev.Topic != "room" {
		t.Fatalf("leave: %s", js(ev))
	}
	a.send(`{"type":"presence","id":"q","topic":"room"}`)
	if f := a.expect("presence"); f.ID != "q" || len(f.Clients) != 1 || f.Clients[0].ClientID != a.id {
		t.Fatalf("presence answer: %s", js(f))
	}
}

// TestHelloInstance: a hello's instance must be 1-64 printable characters.
func TestHelloInstance(t *testing.T) {
	s := newServer(t, Config{})
	c := s.dial(t)
	c.send(`{"type":"hello","id":"h","name":"a","instance":"has space"}`)
	c.expectError(protocol.CodeBadRequest, "h")
	c.send(`{"type":"hello","name":"a","instance":"inst-1"}`)
	c.expect("welcome")
	c.send(`{"type":"publish","id":"1","topic":"t","payload":1}`)
	c.send(`{"type":"publish","id":"1","topic":"t","payload":1}`)
	if a, b := c.expect("ack"), c.expect("ack"); a.SeqValue() != 1 || b.SeqValue() != 1 || !b.Duplicate {
		t.Fatalf("acks %s %s", js(a), js(b))
	}
}

// TestHistoryConfig: history rules need valid patterns.
func TestHistoryConfig(t *testing.T) {
	if _, err := New(Config{History: []HistoryRule{{Pattern: "a..b"}}, Logger: quietLogger()}); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad pattern: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{DataDir: dir, Logger: quietLogger()}); err == nil {
		t.Fatal("a data dir that is a file was accepted")
	}
}

// TestDataDirRestart: with DataDir, a restarted server has every topic's
// history with the same epoch and seq, its retained values, and its
// publish ids (a retry across the restart is not stored twice).
func TestDataDirRestart(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, Config{DataDir: dir})
	a := s.connect(t, "alice", "s1", `"instance":"alice-1"`)
	a.send(`{"type":"subscribe","id":"s","topic":"feed"}`)
	epoch := a.expect("ack").Epoch
	for i := 1; i <= 3; i++ {
		a.send(fmt.Sprintf(`{"type":"publish","id":"p%d","topic":"feed","payload":%d}`, i, i))
	}
	a.send(`{"type":"publish","id":"m","topic":"$meta.e2e","payload":{"v":1},"if_seq":0}`)
	for range 7 { // 4 acks, 3 messages: every ack means stored on disk
		a.read()
	}
	s.Close()

	s = newServer(t, Config{DataDir: dir})
	p, err := s.History("s1", "feed", HistoryQuery{})
	if err != nil || p.Epoch != epoch || p.Seq != 3 || len(p.Messages) != 3 {
		t.Fatalf("after the restart: %+v %v (epoch before %q)", p, err, epoch)
	}
	b := s.connect(t, "alice", "s1", `"instance":"alice-1"`)
	b.send(fmt.Sprintf(`{"type":"subscribe","id":"s","topic":"feed","since":{"seq":1,"epoch":%q}}`, epoch))
	if ack := b.expect("ack"); ack.Recovered == nil || !*ack.Recovered || ack.Epoch != epoch {
		t.Fatalf("recovery across the restart: %s", js(ack))
	}
	if m2, m3 := b.expect("message"), b.expect("message"); m2.SeqValue() != 2 || m3.SeqValue() != 3 {
		t.Fatalf("replay %s %s", js(m2), js(m3))
	}
	b.send(`{"type":"publish","id":"p3","topic":"feed","payload":3}`)
	if ack := b.expect("ack"); ack.SeqValue() != 3 || !ack.Duplicate {
		t.Fatalf("retry across the restart: %s", js(ack))
	}
	b.send(`{"type":"publish","id":"p4","topic":"feed","payload":4}`)
	// Its echo and its ack (sent once on disk) may come in either order.
	if x, y := b.read(), b.read(); x.Type == y.Type || (x.Type == "ack" && x.SeqValue() != 4) || (y.Type == "ack" && y.SeqValue() != 4) {
		t.Fatalf("next publish: %s %s", js(x), js(y))
	}
	b.send(`{"type":"subscribe","id":"m","topic":"$meta.e2e"}`)
	fs := b.sync()
	if len(fs) < 2 || fs[len(fs)-1].Type != "message" || string(fs[len(fs)-1].Payload) != `{"v":1}` {
		t.Fatalf("retained value after the restart: %s", jsAll(fs))
	}
}
