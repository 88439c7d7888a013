package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/protocol"
)

// The attacks of issue 5 each have a test here: each fails when its
// defence is removed, and each checks that the server keeps serving others.

var testSecret = []byte("0123456789abcdef0123456789abcdef") // 32 bytes

func mint(t testing.TB, key any, c TokenClaims) string {
	t.Helper()
	tok, err := MintToken(c, key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// claimsFor are valid claims for a name in a session, for an hour.
func claimsFor(name string, sessions ...string) TokenClaims {
	return TokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: name, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		Sessions:         sessions,
	}
}

// hello dials and sends a hello with the given token.
func (s *testServer) hello(t testing.TB, name, session, token string) *client {
	t.Helper()
	c := s.dial(t)
	c.send(fmt.Sprintf(`{"type":"hello","name":%q,"session_id":%q,"token":%q}`, name, session, token))
	return c
}

// mustWelcome checks that the server welcomed c.
func (c *client) mustWelcome() *client {
	c.t.Helper()
	c.welcome = c.expect("welcome")
	c.id = c.welcome.ClientID
	return c
}

// mustClose checks that the server closed c with code.
func (c *client) mustClose(code protocol.CloseCode) {
	c.t.Helper()
	if got := c.closeStatus(); got != websocket.StatusCode(code) {
		c.t.Fatalf("close status %d, want %d", got, code)
	}
}

// stillServes checks that the server routes messages for others.
func stillServes(t *testing.T, s *testServer, token func(name, session string) string) {
	t.Helper()
	tok := func(n, sess string) string {
		if token == nil {
			return ""
		}
		return token(n, sess)
	}
	a := s.hello(t, "witness-a", "witness", tok("witness-a", "witness")).mustWelcome()
	b := s.hello(t, "witness-b", "witness", tok("witness-b", "witness")).mustWelcome()
	a.send(`{"type":"subscribe","id":"1","topic":"w"}`)
	a.expect("ack")
	b.send(`{"type":"publish","id":"2","topic":"w","payload":"still here"}`)
	b.expect("ack")
	if m := a.expect("message"); string(m.Payload) != `"still here"` {
		t.Fatalf("witness got %s", js(m))
	}
}

func TestAuthTokens(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	s := newServer(t, Config{AuthSecret: testSecret, AuthPublicKey: pub})
	otherPub, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	_ = otherPub
	now := time.Now()
	valid := claimsFor("alice", "A")
	expired := claimsFor("alice", "A")
	expired.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
	early := claimsFor("alice", "A")
	early.NotBefore = jwt.NewNumericDate(now.Add(time.Hour))
	noExp := claimsFor("alice", "A")
	noExp.ExpiresAt = nil
	big := claimsFor("alice", "A")
	big.ID = strings.Repeat("x", protocol.MaxTokenBytes) // validly signed, but too large to be read

	signWith := func(m jwt.SigningMethod, key any, c TokenClaims) string {
		tok, err := jwt.NewWithClaims(m, &c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hsToken := mint(t, testSecret, valid)
	parts := strings.Split(hsToken, ".")
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))

	for _, tt := range []struct {
		name  string
		token string
		code  protocol.CloseCode // 0: welcome
	}{
		{"valid HS256", hsToken, 0},
		{"valid EdDSA", mint(t, priv, valid), 0},
		{"no token", "", protocol.CloseUnauthorized},
		{"garbage", "not.a.token", protocol.CloseUnauthorized},
		{"forged: another secret", mint(t, []byte("ffffffffffffffffffffffffffffffff"), valid), protocol.CloseUnauthorized},
		{"forged: another Ed25519 key", mint(t, otherPriv, valid), protocol.CloseUnauthorized},
		{"forged: claims edited", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice","sid":"A","service":true,"exp":9999999999}`)) + "." + parts[2], protocol.CloseUnauthorized},
		{"expired", mint(t, testSecret, expired), protocol.CloseUnauthorized},
		{"not yet valid", mint(t, testSecret, early), protocol.CloseUnauthorized},
		{"no expiry", mint(t, testSecret, noExp), protocol.CloseUnauthorized},
		{"alg none", noneHeader + "." + parts[1] + ".", protocol.CloseUnauthorized},
		{"alg none, signature kept", noneHeader + "." + parts[1] + "." + parts[2], protocol.CloseUnauthorized},
		{"wrong algorithm: HS512 with the secret", signWith(jwt.SigningMethodHS512, testSecret, valid), protocol.CloseUnauthorized},
		{"wrong algorithm: HS384 with the secret", signWith(jwt.SigningMethodHS384, testSecret, valid), protocol.CloseUnauthorized},
		{"oversized", mint(t, testSecret, big), protocol.CloseUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := s.hello(t, "alice", "A", tt.token)
			if tt.code == 0 {
				c.mustWelcome()
				return
			}
			c.mustClose(tt.code)
		})
	}
	waitFor(t, "refused connections gone", func() bool { return s.connCount() == 0 })
	stillServes(t, s, func(n, sess string) string { return mint(t, testSecret, claimsFor(n, sess)) })
}

// HS/EdDSA confusion: with only a public key configured, a token "signed"
// with HMAC under the public key's bytes (raw or PEM, both public) must not
// pass; nor may an EdDSA token pass a server that only knows a secret.
func TestAuthAlgorithmConfusion(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	pemKey := []byte("-----BEGIN PUBLIC KEY-----\n" + base64.StdEncoding.EncodeToString(append(
		[]byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}, pub...)) + "\n-----END PUBLIC KEY-----\n")
	valid := claimsFor("alice", "A")
	edOnly := newServer(t, Config{AuthPublicKey: pub})
	for _, key := range [][]byte{pub, pemKey} {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, &valid).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		edOnly.hello(t, "alice", "A", tok).mustClose(protocol.CloseUnauthorized)
	}
	edOnly.hello(t, "alice", "A", mint(t, priv, valid)).mustWelcome()

	hsOnly := newServer(t, Config{AuthSecret: testSecret})
	hsOnly.hello(t, "alice", "A", mint(t, priv, valid)).mustClose(protocol.CloseUnauthorized)
	hsOnly.hello(t, "alice", "A", mint(t, testSecret, valid)).mustWelcome()
}

func TestAuthBinding(t *testing.T) {
	s := newServer(t, Config{AuthSecret: testSecret})
	tok := mint(t, testSecret, claimsFor("alice", "A"))
	s.hello(t, "bob", "A", tok).mustClose(protocol.CloseForbidden)   // another name
	s.hello(t, "alice", "B", tok).mustClose(protocol.CloseForbidden) // another session
	if w := s.hello(t, "", "", tok).mustWelcome().welcome; w.Name != "alice" || w.SessionID != "A" {
		t.Fatalf("name and session from the token: %s", js(w))
	}

	// Several sessions, and patterns.
	multi := mint(t, testSecret, claimsFor("alice", "A", "user-42-*"))
	s.hello(t, "alice", "user-42-phone", multi).mustWelcome()
	s.hello(t, "alice", "A", multi).mustWelcome()
	s.hello(t, "alice", "user-43-phone", multi).mustClose(protocol.CloseForbidden)
	// Without sid: only the client's default session.
	noSid := mint(t, testSecret, claimsFor("carol"))
	s.hello(t, "carol", "", noSid).mustWelcome()
	s.hello(t, "carol", "A", noSid).mustClose(protocol.CloseForbidden)

	// The token may also come in the query or the upgrade's Authorization header.
	ws, _, err := dialRaw(t, s.url+"?name=alice&session_id=A&token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	(&client{t: t, ws: ws}).mustWelcome()
	ws, _, err = dialRaw(t, s.url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, ws: ws}
	c.send(`{"type":"hello","name":"alice","session_id":"A"}`)
	c.mustWelcome()
}

// A token for session A never reaches session B: not by hello, not by a
// publish, request, send or reply naming B.
func TestAuthSessionAIntoB(t *testing.T) {
	s := newServer(t, Config{AuthSecret: testSecret})
	tokA := mint(t, testSecret, claimsFor("mallory", "A"))
	victim := s.hello(t, "victim", "B", mint(t, testSecret, claimsFor("victim", "B"))).mustWelcome()
	victim.send(`{"type":"subscribe","id":"1","topic":">"}`)
	victim.expect("ack")

	s.hello(t, "mallory", "B", tokA).mustClose(protocol.CloseForbidden)
	m := s.hello(t, "mallory", "A", tokA).mustWelcome()
	m.send(`{"type":"publish","id":"p","topic":"x","payload":1,"session_id":"B"}`)
	m.expectError(protocol.CodeForbidden, "p")
	m.send(`{"type":"subscribe","id":"s","topic":">","all_sessions":true}`)
	m.expectError(protocol.CodeForbidden, "s")
	m.send(`{"type":"send","id":"d","to":"` + victim.id + `","topic":"x","payload":1}`)
	m.expectError(protocol.CodeNotFound, "d")
	m.send(`{"type":"reply","id":"r","reply_to":"r_guess","payload":1,"session_id":"B"}`)
	m.expectError(protocol.CodeForbidden, "r")
	victim.expectNothing()
}

func TestAuthTopicClaims(t *testing.T) {
	s := newServer(t, Config{AuthSecret: testSecret})
	c := claimsFor("alice", "A")
	c.Topics = &TopicClaims{Publish: []string{"chat.>"}, Subscribe: []string{"chat.*"}}
	a := s.hello(t, "alice", "A", mint(t, testSecret, c)).mustWelcome()
	a.send(`{"type":"publish","id":"1","topic":"admin.x","payload":1}`)
	a.expectError(protocol.CodeForbidden, "1")
	a.send(`{"type":"subscribe","id":"2","topic":">"}`)
	a.expectError(protocol.CodeForbidden, "2")
	a.send(`{"type":"subscribe","id":"3","topic":"chat.room"}`)
	a.expect("ack")
	a.send(`{"type":"publish","id":"4","topic":"chat.room","payload":1}`)
	got := a.sync()
	if len(got) != 2 {
		t.Fatalf("allowed publish: %s", jsAll(got))
	}
}

func TestAuthExpiryAndRefresh(t *testing.T) {
	s := newServer(t, Config{AuthSecret: testSecret, HelloTimeout: time.Second}) // sweeper tick 250 ms
	short := func(name string) TokenClaims {
		c := claimsFor(name, "A")
		c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(2 * time.Second))
		return c
	}
	// Without a refresh the connection ends with 4401 at expiry.
	lapsing := s.hello(t, "lapsing", "A", mint(t, testSecret, short("lapsing"))).mustWelcome()

	// With one it lives on.
	first := short("alice")
	a := s.hello(t, "alice", "A", mint(t, testSecret, first)).mustWelcome()
	a.send(`{"type":"subscribe","id":"s1","topic":"chat.x"}`)
	a.expect("ack")
	a.send(`{"type":"subscribe","id":"s2","topic":"admin.x"}`)
	a.expect("ack")

	// Refusals leave the connection as it was.
	a.send(`{"type":"refresh","id":"r0","token":"garbage"}`)
	a.expectError(protocol.CodeUnauthorized, "r0")
	a.send(`{"type":"refresh","id":"r1","token":"` + mint(t, testSecret, claimsFor("bob", "A")) + `"}`)
	a.expectError(protocol.CodeForbidden, "r1")
	a.send(`{"type":"refresh","id":"r2","token":"` + mint(t, testSecret, claimsFor("alice", "B")) + `"}`)
	a.expectError(protocol.CodeForbidden, "r2")
	svc := claimsFor("alice", "A")
	svc.Service = true
	a.send(`{"type":"refresh","id":"r3","token":"` + mint(t, testSecret, svc) + `"}`)
	a.expectError(protocol.CodeForbidden, "r3")

	// A good refresh: later expiry, narrower topics (admin.x is dropped).
	next := claimsFor("alice", "A")
	next.Topics = &TopicClaims{Subscribe: []string{"chat.>"}}
	a.send(`{"type":"refresh","id":"r4","token":"` + mint(t, testSecret, next) + `"}`)
	a.expect("ack")

	lapsing.mustClose(protocol.CloseUnauthorized)
	deadline := first.ExpiresAt.Add(time.Second) // past the first token and a sweep
	for time.Now().Before(deadline) {
		a.expectNothing() // polls: the connection stays open
	}
	pub := s.hello(t, "pub", "A", mint(t, testSecret, claimsFor("pub", "A"))).mustWelcome()
	pub.send(`{"type":"publish","topic":"admin.x","payload":1}`)
	pub.send(`{"type":"publish","topic":"chat.x","payload":2}`)
	pub.sync()
	if got := a.sync(); len(got) != 1 || got[0].Topic != "chat.x" {
		t.Fatalf("after the refresh: %s", jsAll(got))
	}
}

func TestRefreshOpenMode(t *testing.T) {
	s := newServer(t, Config{})
	c := s.connect(t, "a", "s")
	c.send(`{"type":"refresh","id":"r","token":"anything"}`)
	if a := c.expect("ack"); a.ID != "r" {
		t.Fatalf("ack %s", js(a))
	}
}

// Cross-site WebSocket hijacking: a page of a disallowed origin cannot open
// a connection, so it can neither act with the user's network position nor
// read what the session receives. The default allows the same origin only.
func TestCrossSiteWebSocketHijacking(t *testing.T) {
	for _, cfg := range []Config{{}, {AllowedOrigins: []string{"app.example"}}} {
		s := newServer(t, cfg)
		victim := s.connect(t, "victim", "S")
		victim.send(`{"type":"subscribe","id":"1","topic":">"}`)
		victim.expect("ack")
		for _, origin := range []string{"https://evil.example", "null", "http://app.example.evil.example"} {
			_, resp, err := dialRaw(t, s.url+"?name=victim&session_id=S",
				&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("origin %q: %v, want HTTP 403", origin, err)
			}
		}
		if n := len(s.Clients("S")); n != 1 {
			t.Fatalf("%d clients in the session", n)
		}
		victim.expectNothing()
		// Same origin and native clients (no Origin) are served.
		ws, _, err := dialRaw(t, s.url+"?name=page&session_id=S",
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {s.base}}})
		if err != nil {
			t.Fatal(err)
		}
		(&client{t: t, ws: ws}).mustWelcome()
		if cfg.AllowedOrigins != nil {
			ws, _, err := dialRaw(t, s.url+"?name=page2&session_id=S",
				&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://app.example"}}})
			if err != nil {
				t.Fatal(err)
			}
			(&client{t: t, ws: ws}).mustWelcome()
		}
	}
}

// A flood of publishes gets rate_limited errors, then 4429; nothing beyond
// the rate is delivered, and others keep being served.
func TestPublishFlood(t *testing.T) {
	s := newServer(t, Config{PublishRate: 200, PublishBurst: 200, MaxRateLimited: 150})
	sub := s.connect(t, "sub", "S")
	sub.send(`{"type":"subscribe","id":"1","topic":"t"}`)
	sub.expect("ack")
	flooder := s.connect(t, "flooder", "S")
	start := time.Now()
	// Over the burst: the excess is refused, each with rate_limited.
	flooder.send(strings.Repeat(`{"type":"publish","topic":"t","payload":1}`+"\n", 250))
	limited := 0
	for _, f := range flooder.sync() {
		if f.Code == protocol.CodeRateLimited {
			limited++
		}
	}
	if limited == 0 { // about 50, fewer as tokens refill meanwhile
		t.Fatal("no rate_limited error for 250 publishes against a burst of 200")
	}
	// Keeping at it: closed with 4429.
	flooder.send(strings.Repeat(`{"type":"publish","topic":"t","payload":1}`+"\n", 500))
	for {
		if _, err := flooder.tryRead(5 * time.Second); err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusCode(protocol.CloseRateLimited) {
				t.Fatalf("flooder ended with %v, want 4429", err)
			}
			break
		}
	}
	elapsed := time.Since(start)
	got := len(sub.sync())
	if allowed := 200 + int(200*elapsed.Seconds()) + 1; got > allowed || got < 200 {
		t.Fatalf("subscriber got %d messages, want 200..%d", got, allowed)
	}
	stillServes(t, s, nil)
}

// The publish rate of a session is shared by its connections.
func TestSessionPublishRate(t *testing.T) {
	s := newServer(t, Config{SessionPublishRate: 100})
	sub := s.connect(t, "sub", "S")
	sub.send(`{"type":"subscribe","id":"1","topic":"t"}`)
	sub.expect("ack")
	frame := strings.Repeat(`{"type":"publish","topic":"t","payload":1}`+"\n", 100)
	start := time.Now()
	limited := 0
	for _, name := range []string{"p1", "p2", "p3"} {
		p := s.connect(t, name, "S")
		p.send(frame)
		for _, f := range p.sync() {
			if f.Code == protocol.CodeRateLimited {
				limited++
			}
		}
	}
	got := len(sub.sync())
	if allowed := 100 + int(100*time.Since(start).Seconds()) + 1; got > allowed || limited < 300-allowed {
		t.Fatalf("subscriber got %d (at most %d allowed), %d rate_limited", got, allowed, limited)
	}
	other := s.connect(t, "other", "T") // another session has its own budget
	other.send(`{"type":"publish","id":"x","topic":"t","payload":1}`)
	other.expect("ack")
}

// A flood of subscribes: rate_limited, too_large beyond the subscription
// limit, then 4429; the server's tables stay bounded and others are served.
func TestSubscribeFlood(t *testing.T) {
	s := newServer(t, Config{SubscribeRate: 50, MaxRateLimited: 100})
	flooder := s.connect(t, "flooder", "S")
	var sb strings.Builder
	for j := range 150 {
		fmt.Fprintf(&sb, `{"type":"subscribe","id":"a%d","topic":"a%d"}`+"\n", j, j)
	}
	flooder.send(sb.String())
	acks, limited := 0, 0
	for _, f := range flooder.sync() {
		switch {
		case f.Type == "ack":
			acks++
		case f.Code == protocol.CodeRateLimited:
			limited++
		}
	}
	if acks != 100 || limited == 0 { // a burst of 100 (then 50/s), and at most 100 subscriptions
		t.Fatalf("%d acks, %d rate_limited", acks, limited)
	}
	for i := 0; i < 2000; i += 500 { // frames under 64 KiB
		var sb strings.Builder
		for j := i; j < i+500; j++ {
			fmt.Fprintf(&sb, `{"type":"subscribe","id":"%d","topic":"t%d"}`+"\n", j, j)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := flooder.ws.Write(ctx, websocket.MessageText, []byte(sb.String()))
		cancel()
		if err != nil {
			break // closed already
		}
	}
	for {
		if _, err := flooder.tryRead(5 * time.Second); err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusCode(protocol.CloseRateLimited) {
				t.Fatalf("flooder ended with %v, want 4429", err)
			}
			break
		}
	}
	waitFor(t, "the flooder gone", func() bool { return len(s.Clients("S")) == 0 })
	stillServes(t, s, nil)
}

func TestConnectionsPerSession(t *testing.T) {
	s := newServer(t, Config{MaxConnsPerSession: 2})
	a := s.connect(t, "a", "S")
	s.connect(t, "b", "S")
	c := s.dial(t)
	c.send(`{"type":"hello","name":"c","session_id":"S"}`)
	c.mustClose(protocol.CloseRateLimited)
	s.connect(t, "d", "T")
	a.ws.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "a gone", func() bool { return len(s.Clients("S")) == 1 })
	s.connect(t, "e", "S")
}

// Thousands of connections from one address: beyond the limit they are
// refused with HTTP 429 before the upgrade; another address is served.
func TestConnectionsPerAddress(t *testing.T) {
	const limit, attempts = 50, 2000
	s := newServer(t, Config{MaxConnsPerAddr: limit})
	dialFrom := func(ip string) (*websocket.Conn, *http.Response, error) {
		tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
		defer tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return websocket.Dial(ctx, s.url+"?name=n&session_id=S", &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	}
	var (
		mu      sync.Mutex
		open    []*websocket.Conn
		refused int
		wg      sync.WaitGroup
		work    = make(chan struct{})
	)
	for range 32 {
		wg.Go(func() {
			for range work {
				ws, resp, err := dialFrom("127.0.0.1")
				mu.Lock()
				switch {
				case err == nil:
					open = append(open, ws)
				case resp != nil && resp.StatusCode == http.StatusTooManyRequests:
					refused++
				default:
					t.Errorf("dial: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	for range attempts {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	defer func() {
		for _, ws := range open {
			ws.CloseNow()
		}
	}()
	if len(open) != limit || refused != attempts-limit {
		t.Fatalf("%d open, %d refused; want %d and %d", len(open), refused, limit, attempts-limit)
	}
	ws, _, err := dialFrom("127.0.0.2")
	if err != nil {
		t.Fatalf("another address refused: %v", err)
	}
	defer ws.CloseNow()
	c := &client{t: t, ws: ws}
	c.mustWelcome()
	c.expectNothing()
	// A connection that goes frees its place.
	open[0].Close(websocket.StatusNormalClosure, "")
	waitFor(t, "a place freed", func() bool {
		ws, _, err := dialFrom("127.0.0.1")
		if err == nil {
			ws.CloseNow()
		}
		return err == nil
	})
}

// Slowloris: a client that sends its upgrade request's headers a byte at a
// time is cut off after ReadHeaderTimeout, while others are served.
func TestSlowloris(t *testing.T) {
	rs := runServer(t, Config{ReadHeaderTimeout: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", rs.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n", rs.addr)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // one more header byte every 50 ms, never the end of the headers
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if _, err := conn.Write([]byte("X")); err != nil {
					return
				}
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	stillServes(t, rs.testServer, nil)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the slow client is still connected after 5 s")
			}
			break // closed by the server (after a 408, or reset)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cut off after %v", d)
	}
}

// runningServer is a server started with Run on a loopback port.
type runningServer struct {
	*testServer
	addr string
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// runServer runs a server (Run) on a loopback port until the test ends; its
// debug logs go to logs.
func runServer(t *testing.T, cfg Config) *runningServer {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.AdminToken == "" {
		cfg.AdminToken = testToken
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	addr := ln.Addr().String()
	scheme := "http"
	if cfg.TLSCertFile != "" {
		scheme = "https"
	}
	rs := &runningServer{
		testServer: &testServer{Server: srv, base: scheme + "://" + addr, url: "ws://" + addr + "/ws"},
		addr:       addr,
		logs:       logs,
	}
	waitFor(t, "the server to be ready", func() bool { return strings.Contains(logs.String(), "switchboard ready") })
	return rs
}

// Open development mode says so at start; tokens never reach the logs.
func TestAuthLogging(t *testing.T) {
	open := runServer(t, Config{})
	if !strings.Contains(open.logs.String(), "AUTHENTICATION IS OFF") {
		t.Fatalf("no warning in:\n%s", open.logs)
	}

	rs := runServer(t, Config{AuthSecret: testSecret})
	if strings.Contains(rs.logs.String(), "AUTHENTICATION IS OFF") {
		t.Fatal("open-mode warning with authentication on")
	}
	good := mint(t, testSecret, claimsFor("alice", "A"))
	expired := claimsFor("alice", "A")
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	bad := mint(t, testSecret, expired)
	ws, _, err := dialRaw(t, rs.url+"?name=alice&session_id=A&token="+good, nil)
	if err != nil {
		t.Fatal(err)
	}
	(&client{t: t, ws: ws}).mustWelcome()
	rs.hello(t, "alice", "A", bad).mustClose(protocol.CloseUnauthorized)
	rs.hello(t, "alice", "B", good).mustClose(protocol.CloseForbidden)
	waitFor(t, "the refusals logged", func() bool {
		return strings.Count(rs.logs.String(), "hello refused") == 2
	})
	ws.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "the access log", func() bool {
		return strings.Count(rs.logs.String(), "websocket closed") == 3
	})
	logs := rs.logs.String()
	for _, secret := range []string{good, bad, strings.Split(good, ".")[2], string(testSecret), testToken} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret is in the logs:\n%s", logs)
		}
	}
}

// The admin API takes its token from the Authorization header only: a
// cross-site form or image cannot send it, and cookies or query
// parameters are not accepted. /metrics and /healthz are configurable.
func TestAdminTokenOnlyInHeader(t *testing.T) {
	s := newServer(t, Config{})
	for _, req := range []func(*http.Request){
		func(r *http.Request) {},
		func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "token", Value: testToken}) },
		func(r *http.Request) { r.URL.RawQuery = "token=" + testToken },
		func(r *http.Request) { r.Header.Set("Authorization", "Basic "+testToken) },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken+"x") },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken[:len(testToken)-1]) },
	} {
		r, _ := http.NewRequest("GET", s.base+"/api/v1/clients", nil)
		req(r)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%v: %d", r.URL, resp.StatusCode)
		}
	}
	if status, _ := s.api(t, "GET", "/api/v1/clients", testToken, ""); status != 200 {
		t.Fatalf("with the bearer token: %d", status)
	}

	status := func(s *testServer, path, token string) int {
		r, _ := http.NewRequest("GET", s.base+path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status(s, "/metrics", "") != 401 || status(s, "/metrics", testToken) != 200 || status(s, "/healthz", "") != 200 {
		t.Fatal("default: /metrics private, /healthz public")
	}
	p := newServer(t, Config{PublicMetrics: true, PrivateHealth: true})
	if status(p, "/metrics", "") != 200 || status(p, "/healthz", "") != 401 || status(p, "/readyz", "") != 401 ||
		status(p, "/healthz", testToken) != 200 {
		t.Fatal("PublicMetrics, PrivateHealth")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{AuthSecret: []byte("short")},
		{AuthPublicKey: ed25519.PublicKey("short")},
		{TLSCertFile: "cert.pem"},
		{TLSRedirectAddr: ":80"},
		{TLSCertFile: "/nonexistent/cert.pem", TLSKeyFile: "/nonexistent/key.pem"},
	} {
		if s, err := New(cfg); err == nil {
			s.Close()
			t.Errorf("%+v accepted", cfg)
		}
	}
}
