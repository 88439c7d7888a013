package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/protocol"
)

func TestHelloWelcome(t *testing.T) {
	s := newServer(t, Config{})
	c := s.dial(t)
	if got := c.ws.Subprotocol(); got != protocol.Subprotocol {
		t.Fatalf("subprotocol %q", got)
	}
	c.send(`{"type":"hello","name":"Client1","session_id":"user-session-123","token":"x","protocol":1}`)
	// The welcome, byte for byte (but for the client id).
	_, data, err := c.ws.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var w protocol.Frame
	protocol.Decode(data, &w)
	want := `{"type":"welcome","client_id":"` + w.ClientID + `","name":"Client1","session_id":"user-session-123","protocol":1,"server":"switchboard/test","heartbeat_ms":25000,"max_frame_bytes":65536}`
	if string(data) != want || !strings.HasPrefix(w.ClientID, "c_") || len(w.ClientID) < 18 {
		t.Fatalf("welcome\n got %s\nwant %s", data, want)
	}

	// session_id defaults to session-<name>; no subprotocol is fine.
	ws, _, err := dialRaw(t, s.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2 := &client{t: t, ws: ws}
	c2.send(`{"type":"hello","name":"solo"}`)
	if w := c2.expect("welcome"); w.SessionID != "session-solo" || w.ClientID == c.id {
		t.Fatalf("welcome %s", js(w))
	}
	if ws.Subprotocol() != "" {
		t.Fatalf("subprotocol %q selected though none offered", ws.Subprotocol())
	}
}

func TestQueryHello(t *testing.T) {
	s := newServer(t, Config{})
	ws, _, err := dialRaw(t, s.url+"?name=cli&session_id=s1&token=x", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, ws: ws}
	w := c.expect("welcome") // without sending anything
	if w.Name != "cli" || w.SessionID != "s1" {
		t.Fatalf("welcome %s", js(w))
	}
	c.send(`{"type":"hello","name":"again"}`)
	c.expectError(protocol.CodeBadRequest, "")

	// A bad query hello is answered, and a hello object still works.
	ws, _, err = dialRaw(t, s.url+"?name=bad%20name", nil)
	if err != nil {
		t.Fatal(err)
	}
	c = &client{t: t, ws: ws}
	c.expectError(protocol.CodeBadRequest, "")
	c.send(`{"type":"hello","name":"good"}`)
	c.expect("welcome")
}

func TestBeforeHello(t *testing.T) {
	s := newServer(t, Config{})
	c := s.dial(t)
	c.send(`{"type":"subscribe","id":"1","topic":"a"}`)
	c.expectError(protocol.CodeNotReady, "1")
	c.send(`publish-json:{"topic":"a","payload":1}`)
	c.expectError(protocol.CodeNotReady, "")
	c.send(`{"type":"hello","name":"bad name"}`)
	c.expectError(protocol.CodeBadRequest, "")
	c.send(`{"type":"hello","id":"h","name":"n","session_id":"` + strings.Repeat("s", 129) + `"}`)
	c.expectError(protocol.CodeBadRequest, "h")
	c.send(`{"type":"hello","name":"` + strings.Repeat("n", 65) + `"}`)
	c.expectError(protocol.CodeBadRequest, "")
	c.send(`{"type":"hello","name":"n","protocol":2}`)
	c.expectError(protocol.CodeUnsupported, "")
	c.send(`{"type":"hello","name":"n","protocol":1}`)
	c.expect("welcome")
}

func TestPubSub(t *testing.T) {
	s := newServer(t, Config{})
	a := s.connect(t, "a", "s1")
	b := s.connect(t, "b", "s1")
	quiet := s.connect(t, "quiet", "s1", `"echo":false`)
	for _, c := range []*client{a, b, quiet} {
		c.send(`{"type":"subscribe","id":"sub","topic":"chat.*"}`)
		if ack := c.expect("ack"); ack.ID != "sub" || ack.Seq != nil {
			t.Fatalf("pattern ack %s", js(ack))
		}
	}
	b.send(`{"type":"subscribe","id":"sub2","topic":"chat.room1"}`)
	ack := b.expect("ack")
	if ack.Seq == nil || *ack.Seq != 0 || ack.Epoch == "" {
		t.Fatalf("topic ack %s", js(ack))
	}

	a.send(`{"type":"publish","id":"p1","topic":"chat.room1","payload":{"text":"hi"},"timestamp":"2024-01-24T10:25:37Z"}`)
	got := a.sync()
	if len(got) != 2 {
		t.Fatalf("publisher got %s", jsAll(got))
	}
	for _, f := range got {
		switch f.Type {
		case "ack":
			if f.ID != "p1" || f.SeqValue() != 1 {
				t.Fatalf("publish ack %s", js(f))
			}
		case "message": // echo
		default:
			t.Fatalf("publisher got %s", js(f))
		}
	}
	m := b.expect("message") // once, though two subscriptions match
	want := `{"type":"message","topic":"chat.room1","payload":{"text":"hi"},"publisher_name":"a","timestamp":"2024-01-24T10:25:37Z","session_id":"s1","seq":1}`
	if js(m) != js(mustDecode(t, want)) {
		t.Fatalf("message\n got %s\nwant %s", js(m), want)
	}
	b.expectNothing()
	quiet.expect("message")

	quiet.send(`{"type":"publish","topic":"chat.room1","payload":2}`) // no id: no ack
	quiet.expectNothing()
	if m := b.expect("message"); m.SeqValue() != 2 || m.PublisherName != "quiet" {
		t.Fatalf("second message %s", js(m))
	}

	b.send(`{"type":"unsubscribe","id":"u","topic":"chat.*"}`)
	b.expect("ack")
	b.send(`{"type":"unsubscribe","id":"u2","topic":"chat.*"}`)
	b.expectError(protocol.CodeNotFound, "u2")
}

func mustDecode(t testing.TB, obj string) protocol.Frame {
	t.Helper()
	var f protocol.Frame
	if err := protocol.Decode([]byte(obj), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBatchedFrames(t *testing.T) {
	s := newServer(t, Config{})
	c := s.connect(t, "a", "s")
	// Several objects in one frame are served in order.
	c.send(`{"type":"subscribe","id":"1","topic":"t"}` + "\n" +
		`{"type":"publish","id":"2","topic":"t","payload":1}` + "\r\n\n" +
		`{"type":"ping","id":"3"}`)
	var types []string
	for _, f := range c.sync() {
		types = append(types, f.Type+":"+f.ID)
	}
	if got := strings.Join(types, ","); got != "ack:1,message:,ack:2,pong:3" && got != "ack:1,ack:2,message:,pong:3" {
		t.Fatalf("got %s", got)
	}
}

func TestLegacyPublish(t *testing.T) {
	s := newServer(t, Config{})
	sub := s.connect(t, "sub", "user-session-123")
	sub.send(`{"type":"subscribe","id":"1","topic":"NetworkConnectedEvent"}`)
	sub.expect("ack")
	pub := s.connect(t, "Client1", "user-session-123")
	pub.send(`publish-json:{"publisher_name":"Spoofed","topic":"NetworkConnectedEvent","payload":"Network connected","timestamp":"2024-01-24T10:25:37Z","session_id":"user-session-123"}`)
	m := sub.expect("message")
	if m.PublisherName != "Client1" || string(m.Payload) != `"Network connected"` || m.SeqValue() != 1 ||
		m.Timestamp != "2024-01-24T10:25:37Z" {
		t.Fatalf("legacy publish delivered %s", js(m))
	}
	pub.send(`publish-json:{"topic":"NetworkConnectedEvent","payload":1,"session_id":"other"}`)
	pub.expectError(protocol.CodeForbidden, "")
	pub.send(`publish-json:{not json`)
	pub.expectError(protocol.CodeBadRequest, "")
	sub.expectNothing()
}

func TestBadInput(t *testing.T) {
	s := newServer(t, Config{})
	c := s.connect(t, "a", "s")
	long := strings.Repeat("x", 257)
	tests := []struct {
		in   string
		code protocol.Code
		id   string
	}{
		{`{"type":"publish","id":"1","topic":"t","payload":`, protocol.CodeBadRequest, ""},
		{`not json at all`, protocol.CodeBadRequest, ""},
		{`{"id":"1","topic":"t"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"publish","id":"7","topic":5,"payload":1}`, protocol.CodeBadRequest, "7"},
		{`[1,2]`, protocol.CodeBadRequest, ""},
		{`{"type":"frobnicate","id":"1"}`, protocol.CodeUnsupported, "1"},
		{`{"type":"subscribe","id":"1"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"subscribe","topic":"t"}`, protocol.CodeBadRequest, ""},
		{`{"type":"subscribe","id":"1","topic":"` + long + `"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"subscribe","id":"1","topic":"a.b*"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"subscribe","id":"1","topic":"$sys.x"}`, protocol.CodeForbidden, "1"},
		{`{"type":"publish","id":"1","topic":"a.*","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"publish","id":"1","topic":"a.>","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"publish","id":"1","topic":"t"}`, protocol.CodeBadRequest, "1"},
		{`{"type":"publish","id":"1","topic":"` + long + `","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"publish","id":"1","topic":"$server.x","payload":1}`, protocol.CodeForbidden, "1"},
		{`{"type":"publish","id":"1","topic":"$meta.e2e","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"publish","id":"` + strings.Repeat("i", 65) + `","topic":"t","payload":1}`, protocol.CodeBadRequest, ""},
		{`{"type":"request","id":"1","topic":"t","payload":1}`, protocol.CodeNoResponders, "1"},
		{`{"type":"request","topic":"t","payload":1}`, protocol.CodeBadRequest, ""},
		{`{"type":"reply","id":"1","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"reply","id":"1","reply_to":"r_unknown","payload":1}`, protocol.CodeNotFound, "1"},
		{`{"type":"send","id":"1","to":"c_nobody","topic":"t","payload":1}`, protocol.CodeNotFound, "1"},
		{`{"type":"send","id":"1","topic":"t","payload":1}`, protocol.CodeBadRequest, "1"},
		{`{"type":"hello","id":"1","name":"x"}`, protocol.CodeBadRequest, "1"},
	}
	for _, tt := range tests {
		c.send(tt.in)
		f := c.read()
		if f.Type != "error" || f.Code != tt.code || f.ID != tt.id || f.Message == "" {
			t.Errorf("%.70s: got %s, want error %s id %q", tt.in, js(f), tt.code, tt.id)
		}
	}
	// Binary frames are refused; the connection stays usable.
	c.write(websocket.MessageBinary, []byte(`{"type":"ping"}`))
	c.expectError(protocol.CodeUnsupported, "")
	// A bad object in a batch does not stop the others.
	c.send(`{"type":"ping","id":"a"}` + "\n{oops}\n" + `{"type":"ping","id":"b"}`)
	c.expect("pong")
	c.expectError(protocol.CodeBadRequest, "")
	if f := c.expect("pong"); f.ID != "b" {
		t.Fatalf("got %s", js(f))
	}
}

func TestFrameTooBig(t *testing.T) {
	s := newServer(t, Config{MaxFrameBytes: 1024})
	c := s.connect(t, "a", "s")
	if c.welcome.MaxFrameBytes != 1024 {
		t.Fatalf("welcome %s", js(c.welcome))
	}
	c.send(`{"type":"publish","topic":"t","payload":"` + strings.Repeat("x", 1024) + `"}`)
	if code := c.closeStatus(); code != websocket.StatusMessageTooBig {
		t.Fatalf("close status %d, want 1009", code)
	}
	waitFor(t, "client gone", func() bool { return len(s.Clients("")) == 0 })
}

func TestHelloTimeout(t *testing.T) {
	s := newServer(t, Config{HelloTimeout: 100 * time.Millisecond})
	c := s.dial(t)
	if code := c.closeStatus(); code != websocket.StatusCode(protocol.CloseTimeout) {
		t.Fatalf("close status %d, want 4002", code)
	}
	// A client that said hello stays.
	ok := s.connect(t, "a", "s")
	ok.expectNothing()
}

func TestHeartbeat(t *testing.T) {
	s := newServer(t, Config{Heartbeat: 50 * time.Millisecond})
	c := s.connect(t, "a", "s")
	if c.welcome.HeartbeatMS != 50 {
		t.Fatalf("welcome %s", js(c.welcome))
	}
	// A client that reads answers the pings and stays past 2 heartbeats.
	wc := s.wsConnOf(c.id)
	start := wc.lastPing.Load()
	waitFor(t, "a few pings", func() bool {
		c.sync()
		return wc.lastPing.Load()-start > int64(4*s.cfg.Heartbeat)
	})
	if wc.closing.Load() {
		t.Fatal("responsive client closed")
	}
	// A silent one (not reading, so not answering pings) is closed.
	s.waitClosing(t, c.id)
	if code := c.closeStatus(); code != websocket.StatusCode(protocol.CloseTimeout) {
		t.Fatalf("close status %d, want 4002", code)
	}
}

func TestIsolationManySessions(t *testing.T) {
	s := newServer(t, Config{})
	const sessions, perSession = 15, 3
	var clients []*client
	for i := range sessions {
		for j := range perSession {
			c := s.connect(t, fmt.Sprintf("n%d", j), fmt.Sprintf("sess-%d", i))
			c.send(`{"type":"subscribe","id":"1","topic":">"}`)
			c.expect("ack")
			c.send(`{"type":"subscribe","id":"2","topic":"*.*"}`)
			c.expect("ack")
			clients = append(clients, c)
		}
	}
	for i, c := range clients {
		c.send(fmt.Sprintf(`{"type":"publish","id":"p","topic":"room.t%d","payload":%d}`, i%4, i))
		c.send(fmt.Sprintf(`{"type":"publish","id":"p","topic":"room","payload":%d,"session_id":"sess-%d"}`, i, (i/perSession+1)%sessions))
	}
	// First every client's own publishes are done (their answers precede
	// the pong), then everything they caused has been queued.
	got := make([][]protocol.Frame, len(clients))
	for i, c := range clients {
		got[i] = c.sync()
	}
	for i, c := range clients {
		got[i] = append(got[i], c.sync()...)
	}
	for i := range clients {
		var msgs, acks, forbidden int
		for _, f := range got[i] {
			switch {
			case f.Type == "message":
				if f.SessionID != fmt.Sprintf("sess-%d", i/perSession) {
					t.Fatalf("client %d of sess-%d got a message of %s", i, i/perSession, f.SessionID)
				}
				msgs++
			case f.Type == "ack":
				acks++
			case f.Type == "error" && f.Code == protocol.CodeForbidden:
				forbidden++
			default:
				t.Fatalf("unexpected %s", js(f))
			}
		}
		if msgs != perSession || acks != 1 || forbidden != 1 {
			t.Fatalf("client %d: %d messages, %d acks, %d forbidden", i, msgs, acks, forbidden)
		}
	}
}

func TestRequestReply(t *testing.T) {
	s := newServer(t, Config{})
	svc := s.connect(t, "svc", "s")
	svc.send(`{"type":"subscribe","id":"1","topic":"rpc.>"}`)
	svc.expect("ack")
	cli := s.connect(t, "cli", "s")
	cli.send(`{"type":"request","id":"r1","topic":"rpc.echo","payload":{"q":1},"timeout_ms":5000}`)
	m := svc.expect("message")
	if m.ReplyTo == "" || m.Seq != nil || m.PublisherName != "cli" {
		t.Fatalf("request delivered as %s", js(m))
	}
	// Another session cannot answer it.
	evil := s.connect(t, "evil", "other")
	evil.send(`{"type":"reply","id":"x","reply_to":"` + m.ReplyTo + `","payload":"forged"}`)
	evil.expectError(protocol.CodeNotFound, "x")
	cli.expectNothing()

	svc.send(`{"type":"reply","id":"a","reply_to":"` + m.ReplyTo + `","payload":{"a":1}}`)
	svc.expect("ack")
	r := cli.expect("response")
	if r.ID != "r1" || string(r.Payload) != `{"a":1}` || r.PublisherName != "svc" || r.Timestamp == "" {
		t.Fatalf("response %s", js(r))
	}
	svc.send(`{"type":"reply","id":"b","reply_to":"` + m.ReplyTo + `","payload":2}`)
	svc.expectError(protocol.CodeNotFound, "b")

	cli.send(`{"type":"request","id":"r2","topic":"rpc.slow","payload":1,"timeout_ms":50}`)
	svc.expect("message")
	cli.expectError(protocol.CodeTimeout, "r2")
}

func TestSend(t *testing.T) {
	s := newServer(t, Config{})
	a := s.connect(t, "a", "s")
	b := s.connect(t, "b", "s")
	x := s.connect(t, "x", "other")
	a.send(`{"type":"send","id":"1","to":"` + b.id + `","topic":"dm","payload":"psst"}`)
	a.expect("ack")
	m := b.expect("message")
	if m.From != a.id || m.Seq != nil || m.PublisherName != "a" || m.SessionID != "s" {
		t.Fatalf("send delivered as %s", js(m))
	}
	x.send(`{"type":"send","id":"2","to":"` + b.id + `","topic":"dm","payload":"psst"}`)
	x.expectError(protocol.CodeNotFound, "2")
	b.expectNothing()
}

func TestRetainedMeta(t *testing.T) {
	s := newServer(t, Config{})
	a := s.connect(t, "a", "s")
	a.send(`{"type":"publish","id":"1","topic":"$meta.e2e","payload":{"salt":"x"},"if_seq":0}`)
	if ack := a.expect("ack"); ack.SeqValue() != 1 {
		t.Fatalf("ack %s", js(ack))
	}
	a.send(`{"type":"publish","id":"2","topic":"$meta.e2e","payload":{"salt":"y"},"if_seq":0}`)
	a.expectError(protocol.CodeConflict, "2")
	b := s.connect(t, "b", "s")
	b.send(`{"type":"subscribe","id":"s","topic":"$meta.e2e"}`)
	got := b.sync()
	if len(got) != 2 || got[0].Type != "ack" || got[0].SeqValue() != 1 || got[1].Type != "message" ||
		string(got[1].Payload) != `{"salt":"x"}` {
		t.Fatalf("subscribe to $meta.e2e: %s", jsAll(got))
	}
	o := s.connect(t, "o", "other")
	o.send(`{"type":"subscribe","id":"s","topic":"$meta.e2e"}`)
	if got := o.sync(); len(got) != 1 || got[0].SeqValue() != 0 {
		t.Fatalf("other session: %s", jsAll(got))
	}
}

// A client flooding frames slows only itself: another client keeps being
// served while the flood goes on.
func TestFlood(t *testing.T) {
	s := newServer(t, Config{PublishRate: -1}) // the rate limit is tested in security_test.go
	flooder := s.connect(t, "flood", "s")
	other := s.connect(t, "other", "s2")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	frame := strings.Repeat(`{"type":"publish","topic":"nobody.listens","payload":"xxxxxxxxxxxxxxxx"}`+"\n", 500)
	wg.Go(func() {
		ctx := context.Background()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if flooder.ws.Write(ctx, websocket.MessageText, []byte(frame)) != nil {
				return
			}
		}
	})
	for range 50 {
		other.expectNothing() // a ping round trip
	}
	close(stop)
	wg.Wait()
	flooder.sync() // the flooder itself is still served
}

// A client that never reads is closed as a slow consumer (4001); others are
// not affected and the publisher is never slowed.
func TestSlowConsumer(t *testing.T) {
	s := newServer(t, Config{QueueBytes: 256 << 10})
	slow := s.connect(t, "slow", "s")
	fast := s.connect(t, "fast", "s")
	pub := s.connect(t, "pub", "s")
	for _, c := range []*client{slow, fast} {
		c.send(`{"type":"subscribe","id":"1","topic":"t"}`)
		c.expect("ack")
	}
	var received atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			_, data, err := fast.ws.Read(context.Background())
			if err != nil {
				return
			}
			received.Add(int64(bytes.Count(data, []byte(`"type":"message"`))))
		}
	})
	// Rounds of publishes that the fast subscriber keeps up with, until the
	// slow one, which never reads, overflows its socket buffers and queue.
	frame := strings.Repeat(`{"type":"publish","topic":"t","payload":"`+strings.Repeat("p", 1000)+`"}`+"\n", 50)
	sent := 0
	for round := 0; ; round++ {
		if wc := s.wsConnOf(slow.id); wc == nil || wc.closing.Load() {
			break
		}
		if round > 2000 {
			t.Fatal("slow consumer not closed")
		}
		for range 4 {
			pub.send(frame)
			sent += 50
		}
		waitFor(t, "fast subscriber to keep up", func() bool { return received.Load() == int64(sent) })
	}
	if code := slow.closeStatus(); code != websocket.StatusCode(protocol.CloseSlowConsumer) {
		t.Fatalf("slow consumer close status %d, want 4001", code)
	}
	pub.send(frame)
	waitFor(t, "fast subscriber to get more", func() bool { return received.Load() == int64(sent+50) })
	pub.expectNothing()
	fast.ws.CloseNow()
	wg.Wait()
}

// A client that sends but never reads fills its own queue and is closed
// with 4001; other clients are served meanwhile.
func TestNeverReads(t *testing.T) {
	s := newServer(t, Config{QueueBytes: 32 << 10})
	deaf := s.connect(t, "deaf", "s")
	other := s.connect(t, "other", "s")
	pings := strings.Repeat(`{"type":"ping","id":"0123456789"}`+"\n", 1000)
	for i := 0; ; i++ {
		wc := s.wsConnOf(deaf.id)
		if wc == nil || wc.closing.Load() {
			break
		}
		if i > 10000 {
			t.Fatal("never-reading client not closed")
		}
		deaf.send(pings)
		if i%20 == 0 {
			other.expectNothing()
		}
	}
	other.expectNothing()
	if code := deaf.closeStatus(); code != websocket.StatusCode(protocol.CloseSlowConsumer) {
		t.Fatalf("close status %d, want 4001", code)
	}
}

func TestViolations(t *testing.T) {
	s := newServer(t, Config{MaxViolations: 10})
	c := s.connect(t, "a", "s")
	// Ordinary failures are not violations.
	for range 20 {
		c.send(`{"type":"send","id":"1","to":"c_nobody","topic":"t","payload":1}`)
		c.expectError(protocol.CodeNotFound, "1")
	}
	c.send(strings.Repeat(`{"type":"bogus"}`+"\n", 11))
	// The close drops what is still queued: some of the errors may not
	// arrive, the close code does.
	for {
		f, err := c.tryRead(5 * time.Second)
		if err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusCode(protocol.CloseViolations) {
				t.Fatalf("close status %d (%v), want 4400", code, err)
			}
			break
		}
		if f.Type != "error" {
			t.Fatalf("got %s", js(f))
		}
	}
}

func TestOrigins(t *testing.T) {
	s := newServer(t, Config{AllowedOrigins: []string{"good.example", "*.trusted.example:8443"}})
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://good.example", true},
		{"https://app.trusted.example:8443", true},
		{"http://" + strings.TrimPrefix(s.base, "http://"), true}, // same origin
		{"http://evil.example", false},
		{"http://good.example.evil.example", false},
		{"http://localhost:1", false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		ws, resp, err := dialRaw(t, s.url+"?name=o", &websocket.DialOptions{HTTPHeader: h})
		if tt.ok {
			if err != nil {
				t.Errorf("origin %q refused: %v", tt.origin, err)
				continue
			}
			c := &client{t: t, ws: ws}
			c.expect("welcome")
			continue
		}
		if err == nil {
			t.Errorf("origin %q accepted", tt.origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: %v, want HTTP 403", tt.origin, err)
		}
	}
	if _, err := New(Config{AllowedOrigins: []string{"["}}); err == nil {
		t.Fatal("bad origin pattern accepted")
	}
	if _, err := New(Config{AllowedOrigins: []string{"*"}}); err == nil {
		t.Fatal("* accepted as an origin pattern")
	}
}

func TestWriteTimeout(t *testing.T) {
	s := newServer(t, Config{WriteTimeout: 100 * time.Millisecond, QueueBytes: 256 << 20})
	stuck := s.connect(t, "stuck", "s")
	stuck.send(`{"type":"subscribe","id":"1","topic":"t"}`)
	stuck.expect("ack")
	pub := s.connect(t, "pub", "s")
	batch := strings.Repeat(`{"type":"publish","topic":"t","payload":"`+strings.Repeat("p", 4000)+`"}`+"\n", 15)
	// Publish until the socket buffers fill, the writer stalls and the
	// server drops the connection.
	for i := 0; ; i++ {
		if s.wsConnOf(stuck.id) == nil {
			break
		}
		if i > 20000 {
			t.Fatal("stalled writer not dropped")
		}
		pub.send(batch)
		if i%50 == 0 {
			pub.expectNothing()
		}
	}
	pub.expectNothing()
	code := stuck.closeStatus()
	if code == websocket.StatusCode(protocol.CloseSlowConsumer) || code == websocket.StatusNormalClosure {
		t.Fatalf("dropped connection ended with close status %d", code)
	}
}
