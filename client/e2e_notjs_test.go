//go:build !js

package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/seal"
)

// relay is a WebSocket man in the middle between one client and the
// server: it records every frame both ways and may rewrite the objects the
// server sends to the client (rewrite returns the objects to forward in
// place of one: none, the same, a changed one, or several).
type relay struct {
	t      *testing.T
	target string
	srv    *httptest.Server

	mu      sync.Mutex
	down    bool // refuse upgrades with HTTP 503
	rewrite func(obj []byte) [][]byte
	frames  [][]byte
	conns   []*websocket.Conn
	wg      sync.WaitGroup
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	r := &relay{t: t, target: target}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.close)
	return r
}

func (r *relay) url() string { return "ws://" + r.srv.Listener.Addr().String() + "/ws" }

func (r *relay) setRewrite(fn func(obj []byte) [][]byte) {
	r.mu.Lock()
	r.rewrite = fn
	r.mu.Unlock()
}

func (r *relay) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

func (r *relay) record(b []byte) {
	r.mu.Lock()
	r.frames = append(r.frames, bytes.Clone(b))
	r.mu.Unlock()
}

func (r *relay) recorded() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.frames...)
}

func (r *relay) close() {
	r.mu.Lock()
	for _, c := range r.conns {
		_ = c.CloseNow()
	}
	r.mu.Unlock()
	r.srv.Close()
	r.wg.Wait()
}

func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	refuse := r.down
	r.mu.Unlock()
	if refuse {
		http.Error(w, "relay down for the test", http.StatusServiceUnavailable)
		return
	}
	down, err := websocket.Accept(w, req, &websocket.AcceptOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	up, _, err := websocket.Dial(ctx, r.target, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	cancel()
	if err != nil {
		_ = down.Close(websocket.StatusCode(protocol.CloseShutdown), "relay: upstream down")
		return
	}
	up.SetReadLimit(protocol.ClientMaxFrameBytes)
	down.SetReadLimit(protocol.ClientMaxFrameBytes)
	r.mu.Lock()
	r.conns = append(r.conns, down, up)
	r.wg.Add(1)
	r.mu.Unlock()
	defer r.wg.Done()
	pipe := func(from, to *websocket.Conn, toClient bool) {
		defer func() { _ = from.CloseNow(); _ = to.CloseNow() }()
		for {
			_, data, err := from.Read(context.Background())
			if err != nil {
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					_ = to.Close(ce.Code, ce.Reason)
				}
				return
			}
			r.record(data)
			if toClient {
				r.mu.Lock()
				fn := r.rewrite
				r.mu.Unlock()
				if fn != nil {
					var out [][]byte
					_ = protocol.Split(data, func(obj []byte) error {
						out = append(out, fn(bytes.Clone(obj))...)
						return nil
					})
					if len(out) == 0 {
						continue
					}
					data = bytes.Join(out, []byte("\n"))
				}
			}
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = to.Write(wctx, websocket.MessageText, data)
			cancel()
			if err != nil {
				return
			}
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		pipe(up, down, true)
	}()
	pipe(down, up, false)
	<-done
}

// rewriteOnce returns a rewrite that applies fn to the first message
// object on topic and forwards everything else untouched.
func rewriteOnce(topic string, fn func(m map[string]json.RawMessage) [][]byte) func([]byte) [][]byte {
	var once sync.Once
	return func(obj []byte) [][]byte {
		var m map[string]json.RawMessage
		if json.Unmarshal(obj, &m) != nil || string(m["type"]) != `"message"` || string(m["topic"]) != `"`+topic+`"` {
			return [][]byte{obj}
		}
		out := [][]byte{obj}
		once.Do(func() { out = fn(m) })
		return out
	}
}

func encode(t *testing.T, m map[string]json.RawMessage) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A privileged observer — a raw connection in the session subscribed to
// everything, and relays on both clients' connections that see every frame
// either way — never sees the plaintext of any call.
func TestE2EObserverSeesOnlyCiphertext(t *testing.T) {
	url := testServerURL(t)
	s := uniqueSession("e2e-observer")
	ctx := itContext(t)

	obs, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.CloseNow()
	obs.SetReadLimit(protocol.ClientMaxFrameBytes)
	var obsMu sync.Mutex
	var seen [][]byte
	hello := `{"type":"hello","name":"observer","session_id":"` + s + `"}` + "\n" +
		`{"type":"subscribe","id":"1","topic":">"}` + "\n" + `{"type":"subscribe","id":"2","topic":"$meta.>"}`
	if err := obs.Write(ctx, websocket.MessageText, []byte(hello)); err != nil {
		t.Fatal(err)
	}
	obsDone := make(chan struct{})
	go func() {
		defer close(obsDone)
		for {
			_, data, err := obs.Read(context.Background())
			if err != nil {
				return
			}
			obsMu.Lock()
			seen = append(seen, data)
			obsMu.Unlock()
		}
	}()
	defer func() { _ = obs.CloseNow(); <-obsDone }()
	observed := func() []byte {
		obsMu.Lock()
		defer obsMu.Unlock()
		return bytes.Join(seen, []byte("\n"))
	}
	waitFor(t, 5*time.Second, "the observer's subscriptions", func() bool {
		return bytes.Contains(observed(), []byte(`"id":"2"`))
	})

	ra, rb := newRelay(t, url), newRelay(t, url)
	pass := &E2E{Passphrase: "observer test passphrase"}
	alice := dialE2E(t, ra.url(), "alice", s, pass, Options{})
	bob := dialE2E(t, rb.url(), "bob", s, pass, Options{})
	mark := marker()
	exchange(t, alice, bob, mark)

	// The observer got the chat messages and requests (it subscribes to
	// everything), as ciphertext.
	waitFor(t, 5*time.Second, "the observer to see the exchange", func() bool {
		o := observed()
		return bytes.Count(o, []byte(`"topic":"chat.room"`)) >= 2 && bytes.Count(o, []byte(`"topic":"svc.`)) >= 3
	})
	var sealedSeen int
	_ = protocol.Split(observed(), func(obj []byte) error {
		var f protocol.Frame
		if protocol.Decode(obj, &f) != nil || f.Type != protocol.TypeMessage {
			return nil
		}
		if protocol.IsMeta(f.Topic) {
			return nil // public parameters
		}
		if !bytes.HasPrefix(f.Payload, []byte(`"e2e:`)) {
			t.Errorf("the observer saw a payload that is not sealed on %s: %s", f.Topic, f.Payload)
		}
		sealedSeen++
		return nil
	})
	if sealedSeen < 5 {
		t.Errorf("the observer saw %d sealed messages, want at least 5", sealedSeen)
	}
	all := [][]byte{observed()}
	all = append(all, ra.recorded()...)
	all = append(all, rb.recorded()...)
	for _, f := range all {
		if bytes.Contains(f, []byte("plaintext-marker")) {
			t.Fatalf("plaintext on the wire: %s", f)
		}
	}
	if n := len(ra.recorded()) + len(rb.recorded()); n < 10 {
		t.Errorf("the relays saw only %d frames", n)
	}
}

// A malicious relay between bob and the server moves, relabels, edits and
// replays sealed messages: each attempt reaches OnError with its seal
// sentinel, and no handler sees it.
func TestE2EMaliciousRelay(t *testing.T) {
	url := testServerURL(t)
	cases := []struct {
		name    string
		want    error
		rewrite func(t *testing.T, m map[string]json.RawMessage) [][]byte
		// delivered: how many copies of the tampered message the handler
		// must see (1 for a replay: the original).
		delivered int
	}{
		{"move to another topic", seal.ErrAuth, func(t *testing.T, m map[string]json.RawMessage) [][]byte {
			m["topic"] = json.RawMessage(`"room.moved"`)
			return [][]byte{encode(t, m)}
		}, 0},
		{"relabel the publisher", seal.ErrAuth, func(t *testing.T, m map[string]json.RawMessage) [][]byte {
			m["publisher_name"] = json.RawMessage(`"carol"`)
			return [][]byte{encode(t, m)}
		}, 0},
		{"flip a ciphertext bit", seal.ErrAuth, func(t *testing.T, m map[string]json.RawMessage) [][]byte {
			var p string
			if err := json.Unmarshal(m["payload"], &p); err != nil {
				t.Fatal(err)
			}
			env, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(p, seal.Prefix))
			if err != nil {
				t.Fatal(err)
			}
			env[62] ^= 0x01 // the first ciphertext byte
			m["payload"], _ = json.Marshal(seal.Prefix + base64.RawURLEncoding.EncodeToString(env))
			return [][]byte{encode(t, m)}
		}, 0},
		{"replay a message", seal.ErrReplay, func(t *testing.T, m map[string]json.RawMessage) [][]byte {
			b := encode(t, m)
			return [][]byte{b, b}
		}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := itContext(t)
			s := uniqueSession("e2e-relay")
			secret := newSecret(t)
			r := newRelay(t, url)
			r.setRewrite(rewriteOnce("room.tamper", func(m map[string]json.RawMessage) [][]byte { return tc.rewrite(t, m) }))
			var errs errSink
			alice := dialE2E(t, url, "alice", s, &E2E{Secret: secret}, Options{})
			bob := dialE2E(t, r.url(), "bob", s, &E2E{Secret: secret}, Options{OnError: errs.add})
			var got collector
			if _, err := bob.Subscribe(ctx, "room.>", got.add); err != nil {
				t.Fatal(err)
			}
			if _, err := alice.Publish(ctx, "room.tamper", "tampered"); err != nil {
				t.Fatal(err)
			}
			oe := errs.waitOpenError(t, tc.want)
			if oe.PublisherName == "" || !strings.HasPrefix(oe.Topic, "room.") {
				t.Errorf("OpenError = %+v", oe)
			}
			t.Logf("reported: %v", oe)
			// A clean message after it: once it arrived, the tampered one
			// would have.
			if _, err := alice.Publish(ctx, "room.ok", "clean"); err != nil {
				t.Fatal(err)
			}
			msgs := got.wait(t, tc.delivered+1)
			if last := msgs[len(msgs)-1]; last.Topic != "room.ok" || string(last.Payload) != `"clean"` || !last.Encrypted {
				t.Errorf("last message %s %s", last.Topic, last.Payload)
			}
			if n := len(got.all()); n != tc.delivered+1 {
				t.Errorf("handler saw %d messages, want %d", n, tc.delivered+1)
			}
			for _, m := range got.all()[:tc.delivered] {
				if m.Topic != "room.tamper" || string(m.Payload) != `"tampered"` || m.PublisherName != "alice" {
					t.Errorf("handler saw %s %s from %s", m.Topic, m.Payload, m.PublisherName)
				}
			}
			if n := len(errs.openErrors()); n != 1 {
				t.Errorf("%d OpenErrors, want 1: %v", n, errs.all())
			}
		})
	}

	// A response relabelled on its way to the requester: Request fails
	// with the OpenError, which OnError gets too.
	t.Run("relabel a response", func(t *testing.T) {
		ctx := itContext(t)
		s := uniqueSession("e2e-relay-resp")
		secret := newSecret(t)
		r := newRelay(t, url)
		r.setRewrite(func(obj []byte) [][]byte {
			return [][]byte{bytes.Replace(obj, []byte(`"publisher_name":"svc"`), []byte(`"publisher_name":"mallory"`), 1)}
		})
		var errs errSink
		svc := dialE2E(t, url, "svc", s, &E2E{Secret: secret}, Options{})
		if _, err := svc.Subscribe(ctx, "q", func(m *Message) { _ = m.Respond("answer") }); err != nil {
			t.Fatal(err)
		}
		cli := dialE2E(t, r.url(), "cli", s, &E2E{Secret: secret}, Options{OnError: errs.add})
		resp, err := cli.Request(ctx, "q", "question")
		var oe *OpenError
		if !errors.Is(err, seal.ErrAuth) || !errors.As(err, &oe) || oe.PublisherName != "mallory" || oe.Topic != "q" {
			t.Fatalf("Request = %v, %v; want an OpenError matching seal.ErrAuth", resp, err)
		}
		errs.waitOpenError(t, seal.ErrAuth)
	})
}

// A server restart loses $meta.e2e (the server keeps nothing): the
// members publish their parameters again with if_seq 0 when they
// resubscribe, so the session keeps its key and newcomers join it.
func TestE2EServerRestart(t *testing.T) {
	if os.Getenv("SWITCHBOARD_TEST_URL") != "" {
		t.Skip("restarts a server of its own")
	}
	srv := startTestServer(t, "127.0.0.1:0")
	ctx := itContext(t)
	s := uniqueSession("e2e-restart")
	pass := &E2E{Passphrase: "restart passphrase", Signed: true}
	fast := Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	alice := dialE2E(t, srv.url, "alice", s, pass, fast)
	bob := dialE2E(t, srv.url, "bob", s, pass, fast)
	before, _ := alice.E2EParams()
	var got collector
	if _, err := bob.Subscribe(ctx, "chat", got.add); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Publish(ctx, "chat", "before"); err != nil {
		t.Fatal(err)
	}
	got.wait(t, 1)

	srv.stop()
	waitFor(t, 10*time.Second, "the clients to notice", func() bool {
		return alice.State() == StateReconnecting && bob.State() == StateReconnecting
	})
	srv2 := startTestServer(t, srv.addr)
	waitFor(t, 10*time.Second, "both clients reconnected", func() bool {
		return alice.State() == StateConnected && bob.State() == StateConnected
	})
	// The parameters are back, unchanged.
	probe := dialIntegration(t, srv2.url, "probe", s, Options{})
	var meta collector
	if _, err := probe.Subscribe(ctx, seal.ParamsTopic, meta.add); err != nil {
		t.Fatal(err)
	}
	var after seal.Params
	if err := meta.wait(t, 1)[0].Decode(&after); err != nil {
		t.Fatal(err)
	}
	if !sameParams(&before, &after) {
		t.Fatalf("parameters after the restart differ:\n%+v\n%+v", before, after)
	}
	// A newcomer joins them, and everyone talks; carol learns the
	// announcements the members renewed after the restart.
	carol := dialE2E(t, srv2.url, "carol", s, &E2E{Passphrase: "restart passphrase"}, Options{})
	if p, _ := carol.E2EParams(); !sameParams(&before, &p) {
		t.Errorf("carol joined other parameters: %+v", p)
	}
	var atCarol collector
	if _, err := carol.Subscribe(ctx, "chat", atCarol.add); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Ping(ctx); err != nil { // bob's resubscribe is answered
		t.Fatal(err)
	}
	if _, err := alice.Publish(ctx, "chat", "after"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*collector{&got, &atCarol} {
		msgs := c.all()
		waitFor(t, 10*time.Second, "the message after the restart", func() bool {
			msgs = c.all()
			return len(msgs) > 0 && string(msgs[len(msgs)-1].Payload) == `"after"`
		})
		if m := msgs[len(msgs)-1]; !m.Encrypted {
			t.Errorf("not opened: %+v", m)
		}
	}
}

// After a restart, a newcomer creates the parameters before any member is
// back: the members find its value (same epoch, matching key check) when
// they resubscribe, adopt it, and everyone converges on one key. A message
// alice sealed under the old key during the outage still opens at bob,
// who switched before it arrived.
func TestE2EServerRestartNewcomerFirst(t *testing.T) {
	if os.Getenv("SWITCHBOARD_TEST_URL") != "" {
		t.Skip("restarts a server of its own")
	}
	srv := startTestServer(t, "127.0.0.1:0")
	ctx := itContext(t)
	s := uniqueSession("e2e-newcomer")
	pass := &E2E{Passphrase: "newcomer passphrase"}
	// The members' ways in, held shut during the restart.
	ra, rb := newRelay(t, srv.url), newRelay(t, srv.url)
	fast := Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	alice := dialE2E(t, ra.url(), "alice", s, pass, fast)
	var errsB errSink
	fast.OnError = errsB.add
	bob := dialE2E(t, rb.url(), "bob", s, pass, fast)
	before, _ := alice.E2EParams()
	var atBob collector
	if _, err := bob.Subscribe(ctx, "chat", atBob.add); err != nil {
		t.Fatal(err)
	}

	ra.setDown(true)
	rb.setDown(true)
	srv.stop()
	waitFor(t, 10*time.Second, "the members to notice", func() bool {
		return alice.State() == StateReconnecting && bob.State() == StateReconnecting
	})
	if err := alice.PublishAsync(ctx, "chat", "sealed under the old key"); err != nil {
		t.Fatal(err) // buffered until alice is back
	}
	srv2 := startTestServer(t, srv.addr)
	carol := dialE2E(t, srv2.url, "carol", s, pass, Options{})
	created, _ := carol.E2EParams()
	if sameParams(&before, &created) {
		t.Fatal("carol did not create new parameters")
	}
	var atCarol collector
	if _, err := carol.Subscribe(ctx, "chat", atCarol.add); err != nil {
		t.Fatal(err)
	}

	rb.setDown(false)
	waitFor(t, 10*time.Second, "bob on carol's parameters", func() bool {
		p, _ := bob.E2EParams()
		return bob.State() == StateConnected && sameParams(&created, &p)
	})
	if _, err := bob.Ping(ctx); err != nil { // bob's resubscribes are answered
		t.Fatal(err)
	}
	ra.setDown(false)
	waitFor(t, 10*time.Second, "alice on carol's parameters", func() bool {
		p, _ := alice.E2EParams()
		return sameParams(&created, &p)
	})
	if _, err := alice.Publish(ctx, "chat", "converged"); err != nil {
		t.Fatal(err)
	}
	msgs := atBob.wait(t, 2)
	if string(msgs[0].Payload) != `"sealed under the old key"` || string(msgs[1].Payload) != `"converged"` || !msgs[0].Encrypted || !msgs[1].Encrypted {
		t.Errorf("bob got %s, %s", msgs[0].Payload, msgs[1].Payload)
	}
	if m := atCarol.wait(t, 1); string(m[len(m)-1].Payload) != `"converged"` {
		t.Errorf("carol got %s", m[len(m)-1].Payload)
	}
	if oes := errsB.openErrors(); len(oes) > 0 {
		t.Errorf("bob could not open: %v", oes)
	}
}
