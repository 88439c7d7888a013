//go:build js && wasm

package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hack-pad/safejs"
)

// testServerURL returns SWITCHBOARD_TEST_URL, or skips the test.
func testServerURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("SWITCHBOARD_TEST_URL")
	if url == "" {
		t.Skip("SWITCHBOARD_TEST_URL not set: no server to test the JavaScript API against")
	}
	return url
}

// uniqueSession returns a session id no other test run uses.
func uniqueSession(prefix string) string {
	return prefix + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// testAPI returns the API object and checks, at the end of the test, that
// every Func the test's clients created was released.
func testAPI(t *testing.T) safejs.Value {
	t.Helper()
	api, release, err := newAPI()
	if err != nil {
		t.Fatal(err)
	}
	before := liveFuncs.Load()
	t.Cleanup(func() {
		waitFor(t, 5*time.Second, "every Func released", func() bool { return liveFuncs.Load() == before })
		release()
	})
	return api
}

// TestEndToEnd drives the JavaScript API as a page would: two clients in
// one session, subscribe and publish, request and onRequest (a value, a
// promise, a throw), send and onDefault, ping, unsubscribe, errors, close.
func TestEndToEnd(t *testing.T) {
	url := testServerURL(t)
	api := testAPI(t)
	session := uniqueSession("e2e")
	aStates, aErrs, bErrs := newRecorder(t), newRecorder(t), newRecorder(t)

	a := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "alice", "sessionId", session,
		"onState", aStates.fn, "onError", aErrs.fn)))
	b := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "bob", "sessionId", session,
		"onError", bErrs.fn, "echo", false)))
	if s1, s2 := str(aStates.next(t)), str(aStates.next(t)); s1 != "connecting" || s2 != "connected" {
		t.Errorf("states %q, %q", s1, s2)
	}
	for _, c := range []struct {
		v    safejs.Value
		name string
	}{{a, "alice"}, {b, "bob"}} {
		if got := str(prop(c.v, "name")); got != c.name {
			t.Errorf("name = %q", got)
		}
		if got := str(prop(c.v, "sessionId")); got != session {
			t.Errorf("sessionId = %q", got)
		}
		if id := str(prop(c.v, "clientId")); id == "" || strings.HasPrefix(id, "<") {
			t.Errorf("clientId = %q", id)
		}
		if enc, err := prop(c.v, "encrypted").Bool(); err != nil || enc {
			t.Errorf("encrypted = %v, %v", enc, err)
		}
	}

	// subscribe and publish
	msgs := newRecorder(t)
	sub := mustAwait(t, call(t, b, "subscribe", "chat.>", msgs.fn))
	if got := str(prop(sub, "pattern")); got != "chat.>" {
		t.Errorf("pattern = %q", got)
	}
	seq := mustAwait(t, call(t, a, "publish", "chat.room1", obj(t, "text", "hello", "n", 1),
		obj(t, "timestamp", "2024-01-02T03:04:05.678Z")))
	if n, err := seq.Int(); err != nil || n != 1 {
		t.Errorf("seq = %s", jsString(seq))
	}
	want := `{"topic":"chat.room1","payload":{"text":"hello","n":1},"publisherName":"alice","timestamp":"2024-01-02T03:04:05.678Z","sessionId":"` + session + `","seq":1,"encrypted":false}`
	if got := jsonOf(t, msgs.next(t)); got != want {
		t.Errorf("message:\n got %s\nwant %s", got, want)
	}

	// A handler that throws is reported (code handler) and delivery goes on.
	thrower := jsEval(t, `(m) => { throw new Error("bad handler " + m.payload) }`)
	mustAwait(t, call(t, b, "subscribe", "chat.room2", thrower))
	mustAwait(t, call(t, a, "publish", "chat.room2", 7))
	if got := str(prop(msgs.next(t), "topic")); got != "chat.room2" {
		t.Errorf("chat.> handler got %q", got)
	}
	e := bErrs.next(t)
	if code, msg := str(prop(e, "code")), str(prop(e, "message")); code != "handler" || !strings.Contains(msg, "bad handler 7") {
		t.Errorf("onError: %s: %s", code, msg)
	}
	if got := str(prop(prop(e, "cause"), "message")); got != "bad handler 7" {
		t.Errorf("cause.message = %q", got)
	}

	// request and onRequest
	mustAwait(t, call(t, b, "onRequest", "math.double", jsEval(t, `(m) => ({double: m.payload * 2, from: m.publisherName, replyTo: typeof m.replyTo})`)))
	mustAwait(t, call(t, b, "onRequest", "math.later", jsEval(t, `async (m) => { await new Promise((r) => setTimeout(r, 10)); return m.payload + "!" }`)))
	mustAwait(t, call(t, b, "onRequest", "math.fail", jsEval(t, `(m) => { throw new Error("no " + m.payload) }`)))
	mustAwait(t, call(t, b, "onRequest", "math.reject", jsEval(t, `async () => { throw new RangeError("too big") }`)))

	resp := mustAwait(t, call(t, a, "request", "math.double", 21))
	if got := jsonOf(t, prop(resp, "payload")); got != `{"double":42,"from":"alice","replyTo":"string"}` {
		t.Errorf("math.double: %s", got)
	}
	if got := str(prop(resp, "publisherName")); got != "bob" {
		t.Errorf("response publisherName = %q", got)
	}
	if got := jsonOf(t, prop(mustAwait(t, call(t, a, "request", "math.later", "wait", obj(t, "timeoutMs", 2000))), "payload")); got != `"wait!"` {
		t.Errorf("math.later: %s", got)
	}
	for _, tc := range []struct{ topic, reply, cause string }{
		{"math.fail", `{"error":"no 3"}`, "no 3"},
		{"math.reject", `{"error":"too big"}`, "too big"},
	} {
		if got := jsonOf(t, prop(mustAwait(t, call(t, a, "request", tc.topic, 3)), "payload")); got != tc.reply {
			t.Errorf("%s: reply %s, want %s", tc.topic, got, tc.reply)
		}
		e := bErrs.next(t)
		if code, msg := str(prop(e, "code")), str(prop(e, "message")); code != "handler" || !strings.Contains(msg, tc.cause) {
			t.Errorf("%s: onError %s: %s", tc.topic, code, msg)
		}
	}
	awaitCode(t, call(t, a, "request", "nobody.home", 1, obj(t, "timeoutMs", 1000)), "no_responders")
	// A request handler that never answers: the requester times out.
	mustAwait(t, call(t, b, "onRequest", "math.slow", jsEval(t, `() => new Promise(() => {})`)))
	awaitCode(t, call(t, a, "request", "math.slow", 1, obj(t, "timeoutMs", 200)), "timeout")

	// send and onDefault
	direct := newRecorder(t)
	if v := call(t, b, "onDefault", direct.fn); !v.IsUndefined() {
		t.Errorf("onDefault returned %s", jsString(v))
	}
	if v := mustAwait(t, call(t, a, "send", str(prop(b, "clientId")), "direct.hello", obj(t, "x", 1))); !v.IsUndefined() {
		t.Errorf("send resolved with %s", jsString(v))
	}
	d := direct.next(t)
	if got := str(prop(d, "from")); got != str(prop(a, "clientId")) {
		t.Errorf("from = %q, want alice's client id", got)
	}
	if got := jsonOf(t, prop(d, "payload")); got != `{"x":1}` {
		t.Errorf("direct payload %s", got)
	}
	awaitCode(t, call(t, a, "send", "no-such-client", "direct.hello", 1), "not_found")

	// ping
	ms, err := mustAwait(t, call(t, a, "ping")).Float()
	if err != nil || ms < 0 || ms > 5000 {
		t.Errorf("ping = %v ms, %v", ms, err)
	}

	// Bad arguments are refused with bad_request, without a round trip.
	awaitCode(t, call(t, a, "publish", 42), "bad_request")
	awaitCode(t, call(t, a, "publish", "t", jsEval(t, "10n")), "bad_request")
	awaitCode(t, call(t, a, "publish", "t", 1, obj(t, "timestamp", "soon")), "bad_request")
	awaitCode(t, call(t, a, "publish", "bad topic", 1), "bad_request")
	awaitCode(t, call(t, a, "subscribe", "chat.>"), "bad_request")
	awaitCode(t, call(t, a, "request", "t", 1, obj(t, "timeoutMs", "soon")), "bad_request")

	// unsubscribe releases its Funcs (position and unsubscribe) and is
	// idempotent.
	before := liveFuncs.Load()
	mustAwait(t, call(t, sub, "unsubscribe"))
	if n := liveFuncs.Load(); n != before-2 {
		t.Errorf("unsubscribe: %d live Funcs, want %d", n, before-2)
	}
	mustAwait(t, call(t, sub, "unsubscribe"))

	// close: resolves, is idempotent, and later calls reject with closed.
	aID := str(prop(a, "clientId"))
	mustAwait(t, call(t, a, "close"))
	mustAwait(t, call(t, a, "close"))
	if s := str(aStates.nextWhere(t, func(v safejs.Value) bool { return str(v) == "closed" })); s != "closed" {
		t.Errorf("last state %q", s)
	}
	awaitCode(t, call(t, a, "publish", "chat.room1", 1), "closed")
	awaitCode(t, call(t, a, "subscribe", "x", msgs.fn), "closed")
	if got := str(prop(a, "clientId")); got != aID {
		t.Errorf("clientId after close = %q, want %q", got, aID)
	}
	call(t, a, "onDefault", direct.fn) // a no-op now
	mustAwait(t, call(t, b, "close"))
}

// TestCloseFromHandler: a handler may close its own client.
func TestCloseFromHandler(t *testing.T) {
	url := testServerURL(t)
	api := testAPI(t)
	states := newRecorder(t)
	session := uniqueSession("close")
	c := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "closer", "sessionId", session,
		"onState", states.fn)))
	closing := newRecorder(t)
	h := jsEval(t, `(client, done) => (m) => { done(client.close()) }`)
	handler, err := h.Invoke(c, closing.fn)
	if err != nil {
		t.Fatal(err)
	}
	mustAwait(t, call(t, c, "subscribe", "bye", handler))
	// Published by another client: the handler's close must not race the
	// publisher's own acknowledgement.
	p := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "publisher", "sessionId", session)))
	mustAwait(t, call(t, p, "publish", "bye", 1))
	defer mustAwait(t, call(t, p, "close"))
	mustAwait(t, closing.next(t)) // the promise close() returned
	states.nextWhere(t, func(v safejs.Value) bool { return str(v) == "closed" })
}

// TestCreateClient: the original framework's helper.
func TestCreateClient(t *testing.T) {
	url := testServerURL(t)
	api := testAPI(t)
	news := newRecorder(t)
	action := jsEval(t, `async (client) => { await client.publish("news.today", {headline: "hi from " + client.name}) }`)
	c := mustAwait(t, call(t, api, "createClient", "carol", url, obj(t, "subscriptions", obj(t, "news.*", news.fn)), action))
	if got := str(prop(c, "sessionId")); got != "session-carol" {
		t.Errorf("default session %q", got)
	}
	m := news.next(t)
	if got := jsonOf(t, prop(m, "payload")); got != `{"headline":"hi from carol"}` {
		t.Errorf("payload %s", got)
	}
	mustAwait(t, call(t, c, "close"))

	// A failing publishAction rejects (code handler) and closes the client.
	failing := jsEval(t, `() => { throw new Error("action failed") }`)
	e := awaitCode(t, call(t, api, "createClient", "dave", url, nil, failing, uniqueSession("create")), "handler")
	if msg := str(prop(e, "message")); !strings.Contains(msg, "action failed") {
		t.Errorf("message %q", msg)
	}
	// A refused subscription too.
	awaitCode(t, call(t, api, "createClient", "erin", url, obj(t, "subscriptions", obj(t, "bad topic", news.fn))), "bad_request")
}

// TestEncrypted: the passphrase option turns on the client's end-to-end
// encryption: the messages say encrypted, and a wrong passphrase is
// refused at connect with wrong_key. (Argon2id at 64 MiB makes this test
// take a few seconds in wasm.)
func TestEncrypted(t *testing.T) {
	url := testServerURL(t)
	if testing.Short() {
		t.Skip("Argon2id in wasm is slow")
	}
	api := testAPI(t)
	session := uniqueSession("sealed")
	a := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "alice", "sessionId", session, "passphrase", "correct horse")))
	b := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "bob", "sessionId", session, "passphrase", "correct horse")))
	if enc, _ := prop(a, "encrypted").Bool(); !enc {
		t.Error("client not encrypted")
	}
	msgs := newRecorder(t)
	mustAwait(t, call(t, b, "subscribe", "secret.>", msgs.fn))
	mustAwait(t, call(t, a, "publish", "secret.plans", obj(t, "text", "attack at dawn")))
	m := msgs.next(t)
	if got := jsonOf(t, prop(m, "payload")); got != `{"text":"attack at dawn"}` {
		t.Errorf("payload %s", got)
	}
	if enc, _ := prop(m, "encrypted").Bool(); !enc {
		t.Error("message not marked encrypted")
	}
	mustAwait(t, call(t, b, "onRequest", "secret.echo", jsEval(t, `(m) => ({echo: m.payload, encrypted: m.encrypted})`)))
	resp := mustAwait(t, call(t, a, "request", "secret.echo", "psst"))
	if got := jsonOf(t, prop(resp, "payload")); got != `{"echo":"psst","encrypted":true}` {
		t.Errorf("reply %s", got)
	}
	if enc, _ := prop(resp, "encrypted").Bool(); !enc {
		t.Error("reply not marked encrypted")
	}
	awaitCode(t, call(t, api, "connect", obj(t, "url", url, "name", "mallory", "sessionId", session, "passphrase", "wrong")), "wrong_key")
	mustAwait(t, call(t, a, "close"))
	mustAwait(t, call(t, b, "close"))
}

// TestServerClosed: a client whose connection the server ends for good
// (here an operator's disconnect, 4003, with reconnect off) reports
// 'closed' to onError with the close code, reaches the closed state, and
// releases its Funcs by itself; close() still resolves. It needs the
// server's admin token in SWITCHBOARD_TEST_ADMIN_TOKEN.
func TestServerClosed(t *testing.T) {
	url := testServerURL(t)
	token := os.Getenv("SWITCHBOARD_TEST_ADMIN_TOKEN")
	if token == "" {
		t.Skip("SWITCHBOARD_TEST_ADMIN_TOKEN not set")
	}
	api := testAPI(t)
	states, errs := newRecorder(t), newRecorder(t)
	before := liveFuncs.Load()
	c := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "kicked", "sessionId", uniqueSession("kick"),
		"reconnect", false, "onState", states.fn, "onError", errs.fn)))
	mustAwait(t, call(t, c, "subscribe", "x", errs.fn))
	admin := strings.Replace(strings.TrimSuffix(url, "/ws"), "ws", "http", 1) + "/api/v1/clients/" + str(prop(c, "clientId"))
	kick := jsEval(t, `(url, token) => fetch(url, {method: "DELETE", headers: {Authorization: "Bearer " + token}}).then((r) => r.status)`)
	status, err := kick.Invoke(admin, token)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := mustAwait(t, status).Int(); n != 200 {
		t.Fatalf("DELETE %s: HTTP %d", admin, n)
	}
	e := errs.next(t)
	if code, closeCode := str(prop(e, "code")), jsString(prop(e, "closeCode")); code != "closed" || closeCode != "4003" {
		t.Errorf("onError: code %s, closeCode %s (%s)", code, closeCode, str(prop(e, "message")))
	}
	states.nextWhere(t, func(v safejs.Value) bool { return str(v) == "closed" })
	waitFor(t, 5*time.Second, "the client's Funcs released", func() bool { return liveFuncs.Load() == before })
	awaitCode(t, call(t, c, "publish", "x", 1), "closed")
	mustAwait(t, call(t, c, "close"))
}

// TestTokenProvider: connect calls options.tokenProvider (sync or async)
// for the connection's token; a provider that returns no string fails
// connect with bad_request. An open-mode server accepts any token.
func TestTokenProvider(t *testing.T) {
	url := testServerURL(t)
	api := testAPI(t)
	provider := jsEval(t, `(() => { let n = 0; const f = async () => { n++; return "tok-" + n }; f.calls = () => n; return f })()`)
	c := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "tp", "sessionId", uniqueSession("token"),
		"token", "ignored", "tokenProvider", provider)))
	if n := call(t, provider, "calls"); jsonOf(t, n) != "1" {
		t.Errorf("tokenProvider called %s times, want 1", jsonOf(t, n))
	}
	mustAwait(t, call(t, c, "close"))

	sync := jsEval(t, `() => "plain-string"`)
	c = mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "tp2", "tokenProvider", sync)))
	mustAwait(t, call(t, c, "close"))

	bad := jsEval(t, `async () => 42`)
	awaitCode(t, call(t, api, "connect", obj(t, "url", url, "name", "tp3", "tokenProvider", bad)), "bad_request")
	awaitCode(t, call(t, api, "connect", obj(t, "url", url, "name", "tp4", "tokenProvider", "not a function")), "bad_request")
}

// TestConnectURLs: with urls whose first entry is dead (nothing listens on
// port 1), connect goes on to the live server, and client.url says so.
// Node 20 reports a refused WebSocket only by the connect timeout, hence
// the short one.
func TestConnectURLs(t *testing.T) {
	url := testServerURL(t)
	api := testAPI(t)
	const dead = "ws://127.0.0.1:1/ws"
	urls, err := newArray(dead, url)
	if err != nil {
		t.Fatal(err)
	}
	c := mustAwait(t, call(t, api, "connect", obj(t, "urls", urls, "name", "roamer", "sessionId", uniqueSession("urls"),
		"connectTimeoutMs", 1000)))
	if got := str(prop(c, "url")); got != url {
		t.Errorf("url = %q, want the live %q", got, url)
	}
	msgs := newRecorder(t)
	mustAwait(t, call(t, c, "subscribe", "here", msgs.fn))
	mustAwait(t, call(t, c, "publish", "here", 1))
	if got := jsonOf(t, prop(msgs.next(t), "payload")); got != "1" {
		t.Errorf("payload %s", got)
	}
	mustAwait(t, call(t, c, "close"))
	if got := str(prop(c, "url")); got != url {
		t.Errorf("url after close = %q, want its last value %q", got, url)
	}
}

// newArray returns a JavaScript array of the values.
func newArray(vs ...any) (safejs.Value, error) {
	return g.Array.Call("of", vs...)
}
