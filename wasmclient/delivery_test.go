//go:build js && wasm

package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/switchboardhq/switchboard/client"
	"github.com/switchboardhq/switchboard/protocol"
)

func TestParseSubscribeOptions(t *testing.T) {
	for _, tc := range []struct {
		src           string
		presence, gap bool
		since         *client.Position
		wantErr       bool
		errContains   string
	}{
		{src: `undefined`},
		{src: `null`},
		{src: `({})`},
		{src: `({presence: null, onGap: undefined, since: null})`},
		{src: `({presence: () => {}})`, presence: true},
		{src: `({onGap: () => {}})`, gap: true},
		{src: `({presence: () => {}, onGap: async () => {}, since: {epoch: "E1", seq: 41}})`, presence: true, gap: true,
			since: &client.Position{Epoch: "E1", Seq: 41}},
		{src: `({since: {epoch: "", seq: 0}})`, since: &client.Position{}},
		{src: `({since: {seq: 9007199254740991}})`, since: &client.Position{Seq: 1<<53 - 1}},
		{src: `"presence"`, wantErr: true, errContains: "options must be an object"},
		{src: `({presence: true})`, wantErr: true, errContains: "options.presence must be a function"},
		{src: `({onGap: "later"})`, wantErr: true, errContains: "options.onGap must be a function"},
		{src: `({since: 5})`, wantErr: true, errContains: "options.since must be a position"},
		{src: `({since: {epoch: 1, seq: 1}})`, wantErr: true, errContains: "options.since.epoch must be a string"},
		{src: `({since: {epoch: "E"}})`, wantErr: true, errContains: "options.since must be a position"},
		{src: `({since: {epoch: "E", seq: "3"}})`, wantErr: true},
		{src: `({since: {epoch: "E", seq: -1}})`, wantErr: true},
		{src: `({since: {epoch: "E", seq: 1.5}})`, wantErr: true},
		{src: `({since: {epoch: "E", seq: 2 ** 53}})`, wantErr: true},
		{src: `({since: {epoch: "E", seq: NaN}})`, wantErr: true},
	} {
		so, err := parseSubscribeOptions(jsEval(t, tc.src))
		if tc.wantErr {
			if errorCode(err) != codeBadRequest || !strings.Contains(fmt.Sprint(err), tc.errContains) {
				t.Errorf("%s: err %v, want bad_request containing %q", tc.src, err, tc.errContains)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if isFunction(so.presence) != tc.presence || isFunction(so.onGap) != tc.gap {
			t.Errorf("%s: presence %v, onGap %v", tc.src, isFunction(so.presence), isFunction(so.onGap))
		}
		switch {
		case (so.since == nil) != (tc.since == nil):
			t.Errorf("%s: since %v, want %v", tc.src, so.since, tc.since)
		case so.since != nil && *so.since != *tc.since:
			t.Errorf("%s: since %+v, want %+v", tc.src, *so.since, *tc.since)
		}
		if n := len(so.goOptions(nil, "t")); n != btoi(tc.presence)+btoi(tc.gap)+btoi(tc.since != nil) {
			t.Errorf("%s: %d client options", tc.src, n)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestDeliveryToJS(t *testing.T) {
	v, err := presenceEventToJS(client.PresenceEvent{Topic: "room", Event: protocol.PresenceJoin, ClientID: "c_1", Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonOf(t, v), `{"topic":"room","event":"join","clientId":"c_1","name":"bob"}`; got != want {
		t.Errorf("presence event %s, want %s", got, want)
	}
	re := &client.RecoveryError{Topic: "room", Reason: protocol.ReasonTooFarBehind, LastSeq: 7, Epoch: "E2", Seq: 250}
	v, err = gapToJS(re)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonOf(t, v), `{"topic":"room","reason":"too_far_behind","lastSeq":7,"epoch":"E2","seq":250}`; got != want {
		t.Errorf("gap %s, want %s", got, want)
	}
	v, err = positionToJS(client.Position{Epoch: "E2", Seq: 1 << 52})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonOf(t, v), `{"epoch":"E2","seq":4503599627370496}`; got != want {
		t.Errorf("position %s, want %s", got, want)
	}
	for _, tc := range []struct {
		ms   []client.Member
		want string
	}{
		{nil, `[]`},
		{[]client.Member{{ClientID: "c_1", Name: "alice"}, {ClientID: "c_2", Name: "bob"}},
			`[{"clientId":"c_1","name":"alice"},{"clientId":"c_2","name":"bob"}]`},
	} {
		a, err := membersToJS(tc.ms)
		if err != nil {
			t.Fatal(err)
		}
		// Through a promise, as presence() delivers it.
		p, _ := newPromise()
		go p.settle(a, nil)
		if got := jsonOf(t, mustAwait(t, p.value)); got != tc.want {
			t.Errorf("members %s, want %s", got, tc.want)
		}
	}

	// onError's SwitchboardError for a gap: code not_recovered with the gap.
	e := jsError(re)
	if got, want := jsonOf(t, obj(t, "code", prop(e, "code"), "topic", prop(e, "topic"), "reason", prop(e, "reason"),
		"lastSeq", prop(e, "lastSeq"), "epoch", prop(e, "epoch"), "seq", prop(e, "seq"))),
		`{"code":"not_recovered","topic":"room","reason":"too_far_behind","lastSeq":7,"epoch":"E2","seq":250}`; got != want {
		t.Errorf("gap error %s, want %s", got, want)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", re), "not_recovered"},
		{fmt.Errorf("client: subscribe \"a.>\": %w", client.ErrWildcardOption), "bad_request"},
	} {
		if got := errorCode(tc.err); got != tc.want {
			t.Errorf("errorCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestPresence: Client.presence lists a topic's subscribers, and
// subscribe's presence option hears others join and leave: by unsubscribe
// and by close. It also checks the arguments presence refuses.
func TestPresence(t *testing.T) {
	url := testServerURL(t)
	api := testAPI(t)
	session := uniqueSession("presence")
	errs := newRecorder(t)
	a := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "alice", "sessionId", session, "onError", errs.fn)))
	b := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "bob", "sessionId", session)))
	other := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "mallory", "sessionId", uniqueSession("elsewhere"))))
	aID, bID := str(prop(a, "clientId")), str(prop(b, "clientId"))

	if got := jsonOf(t, mustAwait(t, call(t, a, "presence", "room.lobby"))); got != `[]` {
		t.Errorf("presence of an empty topic: %s", got)
	}
	events, msgs := newRecorder(t), newRecorder(t)
	mustAwait(t, call(t, a, "subscribe", "room.lobby", msgs.fn, obj(t, "presence", events.fn)))
	// A subscriber in another session is neither listed nor announced.
	mustAwait(t, call(t, other, "subscribe", "room.lobby", msgs.fn))

	bSub := mustAwait(t, call(t, b, "subscribe", "room.lobby", msgs.fn))
	want := `{"topic":"room.lobby","event":"join","clientId":"` + bID + `","name":"bob"}`
	if got := jsonOf(t, events.next(t)); got != want {
		t.Errorf("join event %s, want %s", got, want)
	}
	// Sorted by name; a list answers for every event received before it.
	wantList := `[{"clientId":"` + aID + `","name":"alice"},{"clientId":"` + bID + `","name":"bob"}]`
	for _, c := range []safejs.Value{a, b} {
		if got := jsonOf(t, mustAwait(t, call(t, c, "presence", "room.lobby"))); got != wantList {
			t.Errorf("presence %s, want %s", got, wantList)
		}
	}

	mustAwait(t, call(t, bSub, "unsubscribe"))
	if got := jsonOf(t, events.next(t)); got != strings.Replace(want, "join", "leave", 1) {
		t.Errorf("leave event (unsubscribe) %s", got)
	}
	if got := jsonOf(t, mustAwait(t, call(t, a, "presence", "room.lobby"))); got != `[{"clientId":"`+aID+`","name":"alice"}]` {
		t.Errorf("presence after leave: %s", got)
	}

	// Join again, then close: the server says leave as the connection goes.
	mustAwait(t, call(t, b, "subscribe", "room.lobby", msgs.fn))
	if got := str(prop(events.next(t), "event")); got != "join" {
		t.Errorf("event %q, want join", got)
	}
	mustAwait(t, call(t, b, "close"))
	if ev := events.next(t); str(prop(ev, "event")) != "leave" || str(prop(ev, "clientId")) != bID {
		t.Errorf("leave event (close) %s", jsonOf(t, ev))
	}

	// A presence handler that throws is reported, and events go on.
	thrower := jsEval(t, `(ev) => { throw new Error("no " + ev.event) }`)
	mustAwait(t, call(t, a, "subscribe", "room.hall", msgs.fn, obj(t, "presence", thrower)))
	mustAwait(t, call(t, other, "subscribe", "room.hall", msgs.fn)) // another session: no event
	c := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "carol", "sessionId", session)))
	mustAwait(t, call(t, c, "subscribe", "room.hall", msgs.fn))
	e := errs.next(t)
	if code, msg := str(prop(e, "code")), str(prop(e, "message")); code != "handler" || !strings.Contains(msg, "no join") {
		t.Errorf("onError: %s: %s", code, msg)
	}

	// Refused before a round trip: presence of a pattern or a bad topic,
	// presence events on a pattern, options of the wrong type.
	awaitCode(t, call(t, a, "presence", "room.>"), "bad_request")
	awaitCode(t, call(t, a, "presence", 42), "bad_request")
	awaitCode(t, call(t, a, "presence", "$sys.x"), "bad_request")
	awaitCode(t, call(t, a, "subscribe", "room.*", msgs.fn, obj(t, "presence", events.fn)), "bad_request")
	awaitCode(t, call(t, a, "subscribe", "room.x", msgs.fn, obj(t, "presence", "yes")), "bad_request")
	awaitCode(t, call(t, a, "subscribe", "room.x", msgs.fn, "presence"), "bad_request")

	for _, x := range []safejs.Value{a, c, other} {
		mustAwait(t, call(t, x, "close"))
	}
	awaitCode(t, call(t, a, "presence", "room.lobby"), "closed")
	select {
	case ev := <-events.ch:
		t.Errorf("unexpected presence event %s", jsonOf(t, ev))
	default:
	}
}

// TestPositionAndRecovery: Subscription.position follows the messages
// received; subscribing with since resumes from a saved position (the
// server replays what came after it), and one the server cannot resume
// from reaches onGap and onError (not_recovered) while delivery goes on.
// unsubscribe releases the subscription's two Funcs and position keeps
// its last value.
func TestPositionAndRecovery(t *testing.T) {
	url := testServerURL(t)
	api := testAPI(t)
	session := uniqueSession("recover")
	errs := newRecorder(t)
	a := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "alice", "sessionId", session, "onError", errs.fn)))

	msgs := newRecorder(t)
	before := liveFuncs.Load()
	sub := mustAwait(t, call(t, a, "subscribe", "feed.news", msgs.fn))
	if n := liveFuncs.Load() - before; n != 2 {
		t.Errorf("a subscription holds %d Funcs, want 2 (position, unsubscribe)", n)
	}
	p0 := prop(sub, "position")
	epoch := str(prop(p0, "epoch"))
	if epoch == "" || jsonOf(t, prop(p0, "seq")) != "0" {
		t.Errorf("position of a new topic: %s", jsonOf(t, p0))
	}
	if got := jsonOf(t, call(t, g.Object, "keys", sub)); got != `["pattern","position","unsubscribe"]` {
		t.Errorf("keys %s", got)
	}
	for i := 1; i <= 3; i++ {
		mustAwait(t, call(t, a, "publish", "feed.news", i))
		msgs.next(t)
	}
	waitFor(t, 5*time.Second, "position seq 3", func() bool { return jsonOf(t, prop(prop(sub, "position"), "seq")) == "3" })
	saved := prop(sub, "position")
	if got := str(prop(saved, "epoch")); got != epoch {
		t.Errorf("epoch changed: %q, want %q", got, epoch)
	}

	// A pattern has no position.
	psub := mustAwait(t, call(t, a, "subscribe", "feed.*", msgs.fn))
	if got := jsonOf(t, prop(psub, "position")); got != `{"epoch":"","seq":0}` {
		t.Errorf("pattern position %s", got)
	}
	mustAwait(t, call(t, psub, "unsubscribe"))

	// unsubscribe: both Funcs released; position frozen at its last value.
	mustAwait(t, call(t, sub, "unsubscribe"))
	if n := liveFuncs.Load(); n != before {
		t.Errorf("after unsubscribe: %d live Funcs, want %d", n, before)
	}
	if got := jsonOf(t, prop(sub, "position")); got != jsonOf(t, saved) {
		t.Errorf("position after unsubscribe %s, want %s", got, jsonOf(t, saved))
	}

	// Missed while away: 4 and 5. Resume from the saved position on another
	// client, as a page would after a reload.
	for i := 4; i <= 5; i++ {
		mustAwait(t, call(t, a, "publish", "feed.news", i))
	}
	b := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "bob", "sessionId", session, "onError", errs.fn)))
	gaps, resumed := newRecorder(t), newRecorder(t)
	rsub := mustAwait(t, call(t, b, "subscribe", "feed.news", resumed.fn, obj(t, "since", saved, "onGap", gaps.fn)))
	for _, want := range []string{"4", "5"} {
		m := resumed.next(t)
		if got := jsonOf(t, prop(m, "payload")); got != want {
			t.Errorf("replayed payload %s, want %s", got, want)
		}
		if got := jsonOf(t, prop(m, "seq")); got != want {
			t.Errorf("replayed seq %s, want %s", got, want)
		}
	}
	waitFor(t, 5*time.Second, "position seq 5", func() bool { return jsonOf(t, prop(prop(rsub, "position"), "seq")) == "5" })

	// An epoch the stream never had: not recovered (epoch_changed), live
	// from seq 5.
	c := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "carol", "sessionId", session, "onError", errs.fn)))
	live := newRecorder(t)
	mustAwait(t, call(t, c, "subscribe", "feed.news", live.fn,
		obj(t, "since", obj(t, "epoch", "not-an-epoch", "seq", 2), "onGap", gaps.fn)))
	gap := gaps.next(t)
	if got, want := jsonOf(t, obj(t, "topic", prop(gap, "topic"), "reason", prop(gap, "reason"), "lastSeq", prop(gap, "lastSeq"), "epoch", prop(gap, "epoch"), "seq", prop(gap, "seq"))),
		`{"topic":"feed.news","reason":"epoch_changed","lastSeq":2,"epoch":"`+epoch+`","seq":5}`; got != want {
		t.Errorf("onGap %s, want %s", got, want)
	}
	e := errs.next(t)
	if got := jsonOf(t, obj(t, "code", prop(e, "code"), "reason", prop(e, "reason"), "seq", prop(e, "seq"))); got != `{"code":"not_recovered","reason":"epoch_changed","seq":5}` {
		t.Errorf("onError %s (%s)", got, str(prop(e, "message")))
	}
	mustAwait(t, call(t, a, "publish", "feed.news", 6))
	if m := live.next(t); jsonOf(t, prop(m, "seq")) != "6" {
		t.Errorf("live after the gap: %s", jsonOf(t, m))
	}
	select {
	case v := <-live.ch:
		t.Errorf("replayed despite the gap: %s", jsonOf(t, v))
	default:
	}

	// Further behind than the history keeps (the last 100): too_far_behind.
	burst, err := jsEval(t, `async (c) => { for (let i = 0; i < 101; i++) await c.publish("feed.news", i) }`).Invoke(c)
	if err != nil {
		t.Fatal(err)
	}
	mustAwait(t, burst)
	dErrs := newRecorder(t)
	d := mustAwait(t, call(t, api, "connect", obj(t, "url", url, "name", "dave", "sessionId", session, "onError", dErrs.fn)))
	mustAwait(t, call(t, d, "subscribe", "feed.news", live.fn, obj(t, "since", obj(t, "epoch", epoch, "seq", 6), "onGap", gaps.fn)))
	wantGap := `{"topic":"feed.news","reason":"too_far_behind","lastSeq":6,"epoch":"` + epoch + `","seq":107}`
	if got := jsonOf(t, gaps.next(t)); got != wantGap {
		t.Errorf("onGap %s, want %s", got, wantGap)
	}
	if e := dErrs.next(t); str(prop(e, "code")) != "not_recovered" || str(prop(e, "reason")) != "too_far_behind" {
		t.Errorf("onError %s: %s", str(prop(e, "code")), str(prop(e, "message")))
	}

	// since on a pattern is refused.
	awaitCode(t, call(t, c, "subscribe", "feed.>", live.fn, obj(t, "since", saved)), "bad_request")
	awaitCode(t, call(t, c, "subscribe", "feed.x", live.fn, obj(t, "since", obj(t, "epoch", "E", "seq", -1))), "bad_request")

	for _, x := range []safejs.Value{a, b, c, d} {
		mustAwait(t, call(t, x, "close"))
	}
}
