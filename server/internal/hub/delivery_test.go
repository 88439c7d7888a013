package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// connectInstance registers a connection that declared a publisher
// instance in hello.
func connectInstance(t testing.TB, h *Hub, name, session, instance string, echo bool) *testConn {
	t.Helper()
	rec := &closeRecorder{}
	c, err := h.NewConn(ConnConfig{RemoteAddr: "test", OnClose: rec.onClose})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetInstance(instance); err != nil {
		t.Fatal(err)
	}
	if err := h.Register(c, name, session, echo, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Unregister(c) })
	return &testConn{Conn: c, t: t, closes: rec}
}

// publishN publishes payloads 1..n on topic from c, with ids.
func publishN(c *testConn, topic string, from, to int) {
	c.t.Helper()
	for i := from; i <= to; i++ {
		if err := c.do(fmt.Sprintf(`{"type":"publish","id":"p%d","topic":%q,"payload":%d}`, i, topic, i)); err != nil {
			c.t.Fatal(err)
		}
	}
}

// subscribeSince subscribes with since and returns the ack and the
// messages that followed it.
func subscribeSince(c *testConn, topic, epoch string, seq uint64) (protocol.Frame, []protocol.Frame) {
	c.t.Helper()
	c.do(fmt.Sprintf(`{"type":"subscribe","id":"s","topic":%q,"since":{"seq":%d,"epoch":%q}}`, topic, seq, epoch))
	fs := c.frames()
	if len(fs) == 0 || fs[0].Type != "ack" || fs[0].ID != "s" {
		c.t.Fatalf("subscribe with since: %s", dump(fs))
	}
	return fs[0], fs[1:]
}

func wantSeqRange(t *testing.T, msgs []protocol.Frame, from, to uint64) {
	t.Helper()
	n := 0 // to 0: none
	if to != 0 {
		n = int(to - from + 1)
	}
	if len(msgs) != n {
		t.Fatalf("want seqs %d..%d, got %s", from, to, dump(msgs))
	}
	for i, m := range msgs {
		if m.Type != "message" || m.SeqValue() != from+uint64(i) {
			t.Fatalf("want seqs %d..%d, got %s", from, to, dump(msgs))
		}
	}
}

// TestRecovery: a subscribe with since replays exactly the retained
// messages after seq, or says recovered:false with the reason; live
// delivery follows either way.
func TestRecovery(t *testing.T) {
	h := newHub(t, Options{History: []HistoryRule{
		{Pattern: "small.>", MaxMessages: 3},
		{Pattern: "off.>", MaxMessages: -1},
		{Pattern: "young.>", MaxAge: time.Millisecond},
	}})
	pub := connect(t, h, "pub", "s", false)
	cases := []struct {
		name, prefix string
		epoch        string // "": the topic's
		seq          uint64
		recovered    bool
		reason       string
		from, to     uint64
	}{
		{"all", "", "", 0, true, "", 1, 5},
		{"after 3", "", "", 3, true, "", 4, 5},
		{"up to date", "", "", 5, true, "", 0, 0},
		{"other epoch", "", "not-the-epoch", 3, false, protocol.ReasonEpochChanged, 0, 0},
		{"ahead of the stream", "", "", 9, false, protocol.ReasonEpochChanged, 0, 0},
		{"within the count limit", "small.", "", 2, true, "", 3, 5},
		{"beyond the count limit", "small.", "", 1, false, protocol.ReasonTooFarBehind, 0, 0},
		{"history off", "off.", "", 1, false, protocol.ReasonNoHistory, 0, 0},
		{"history off, up to date", "off.", "", 5, true, "", 0, 0},
		{"beyond the age limit", "young.", "", 1, false, protocol.ReasonTooFarBehind, 0, 0},
	}
	epochs := map[string]string{}
	for i, tc := range cases {
		topic := fmt.Sprintf("%st%d", tc.prefix, i)
		publishN(pub, topic, 1, 5)
		pub.frames()
		p, err := h.History("s", topic, HistoryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		epochs[topic] = p.Epoch
	}
	waitFor(t, "young. messages to age out", func() bool {
		p, _ := h.History("s", "young.t9", HistoryQuery{})
		return len(p.Messages) == 0
	})
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topic := fmt.Sprintf("%st%d", tc.prefix, i)
			epoch := tc.epoch
			if epoch == "" {
				epoch = epochs[topic]
			}
			c := connect(t, h, "c", "s", true)
			a, msgs := subscribeSince(c, topic, epoch, tc.seq)
			if a.Recovered == nil || *a.Recovered != tc.recovered || a.Reason != tc.reason || a.SeqValue() != 5 {
				t.Fatalf("ack %s: want recovered %v reason %q seq 5", dump([]protocol.Frame{a}), tc.recovered, tc.reason)
			}
			wantSeqRange(t, msgs, tc.from, tc.to)
			pub.do(fmt.Sprintf(`{"type":"publish","topic":%q,"payload":0}`, topic))
			if live := c.only("message"); len(live) != 1 || live[0].SeqValue() != 6 {
				t.Fatalf("live after the subscribe: %s", dump(live))
			}
		})
	}
	c := connect(t, h, "raw", "s", true)
	c.do(`{"type":"subscribe","id":"n","topic":"never.seen","since":{"seq":0,"epoch":"x"}}`)
	if fs := c.frames(); len(fs) != 1 || *fs[0].Recovered || fs[0].Reason != protocol.ReasonEpochChanged {
		t.Fatalf("unknown topic: %s", dump(fs))
	}
	// The reason is an addition to the ack, only with recovered:false.
	c.do(`{"type":"subscribe","id":"x","topic":"t0","since":{"seq":1,"epoch":"nope"}}`)
	if raw := c.raw(); len(raw) != 1 || !strings.Contains(raw[0], `"recovered":false,"reason":"epoch_changed"`) {
		t.Fatalf("raw ack: %v", raw)
	}
	c.do(`{"type":"subscribe","id":"w","topic":"t.*","since":{"seq":1,"epoch":"x"}}`)
	c.expectError(protocol.CodeBadRequest, "w")
}

// TestRecoveryTooLargeForQueue: a replay that would overflow the
// connection's queue is refused (too_far_behind) instead of closing it.
func TestRecoveryTooLargeForQueue(t *testing.T) {
	h := newHub(t, Options{QueueBytes: 4 << 10})
	pub := connect(t, h, "pub", "s", true)
	big := `"` + strings.Repeat("x", 1000) + `"`
	for range 10 {
		pub.do(`{"type":"publish","topic":"t","payload":` + big + `}`)
		pub.frames()
	}
	sub := connect(t, h, "sub", "s", true)
	sub.do(`{"type":"subscribe","id":"e","topic":"t"}`)
	epoch := sub.frames()[0].Epoch
	a, msgs := subscribeSince(sub, "t", epoch, 0)
	if *a.Recovered || a.Reason != protocol.ReasonTooFarBehind || len(msgs) != 0 {
		t.Fatalf("ack %s, %d messages", dump([]protocol.Frame{a}), len(msgs))
	}
	if closed, _ := sub.Closed(); closed {
		t.Fatal("the subscriber was closed")
	}
	a, msgs = subscribeSince(sub, "t", epoch, 8)
	if !*a.Recovered || len(msgs) != 2 {
		t.Fatalf("a replay that fits: ack %s, %d messages", dump([]protocol.Frame{a}), len(msgs))
	}
}

// TestReplayConcurrentPublish: while publishers keep publishing, a
// subscriber leaves and comes back with since again and again; what it gets
// is every seq exactly once, in order. Run it under -race with -count.
func TestReplayConcurrentPublish(t *testing.T) {
	h := newHub(t, Options{History: []HistoryRule{{Pattern: "hot", MaxMessages: 1 << 20}}})
	const publishers, rounds = 3, 200
	var wg sync.WaitGroup
	var stop atomic.Bool
	var published, allowed atomic.Uint64 // publishers keep within allowed: a few dozen per round
	for p := range publishers {
		pub := connect(t, h, fmt.Sprintf("pub%d", p), "s", true)
		wg.Go(func() {
			var f protocol.Frame
			for i := 0; !stop.Load(); i++ {
				for published.Load() >= allowed.Load() && !stop.Load() {
					runtime.Gosched()
				}
				protocol.Decode(fmt.Appendf(nil, `{"type":"publish","topic":"hot","payload":%d}`, i), &f)
				if _, err := h.Publish(pub.Conn, &f); err != nil {
					t.Error(err)
					return
				}
				published.Add(1)
				runtime.Gosched() // let the subscriber come and go in between
			}
		})
	}
	var epoch string
	var last uint64
	var got []uint64
	for round := 0; ; round++ {
		if round == rounds {
			stop.Store(true)
			wg.Wait()
		}
		allowed.Add(50)
		c := connect(t, h, "sub", "s", true)
		obj := `{"type":"subscribe","id":"s","topic":"hot"}`
		if epoch != "" {
			obj = fmt.Sprintf(`{"type":"subscribe","id":"s","topic":"hot","since":{"seq":%d,"epoch":%q}}`, last, epoch)
		}
		c.do(obj)
		// Take what is there while publishers go on, then leave.
		for _, f := range c.frames() {
			switch f.Type {
			case "ack":
				if epoch == "" {
					epoch, last = f.Epoch, f.SeqValue()
				} else if f.Recovered == nil || !*f.Recovered {
					t.Fatalf("round %d: not recovered: %s", round, dump([]protocol.Frame{f}))
				}
			case "message":
				got = append(got, f.SeqValue())
				last = f.SeqValue()
			}
		}
		h.Unregister(c.Conn)
		if round >= rounds {
			break
		}
	}
	if len(got) == 0 {
		t.Fatal("nothing received")
	}
	start := got[0]
	for i, seq := range got {
		if seq != start+uint64(i) {
			t.Fatalf("seq %d at position %d, want %d (gap or duplicate)", seq, i, start+uint64(i))
		}
	}
	if last != published.Load() {
		t.Fatalf("got up to seq %d, want %d", last, published.Load())
	}
	t.Logf("%d rounds, %d messages", rounds, len(got))
}

// TestPublishDedup: a publish with an id from a connection with an instance
// is stored once, however often it is retried (on new connections of the
// same instance); the retry is acknowledged with the original seq.
func TestPublishDedup(t *testing.T) {
	h := newHub(t, Options{DedupIDs: 3})
	sub := connect(t, h, "sub", "s", true)
	sub.do(`{"type":"subscribe","id":"1","topic":"t"}`)
	sub.frames()
	a := connectInstance(t, h, "pub", "s", "inst-A", true)
	a.do(`{"type":"publish","id":"7","topic":"t","payload":1}`)
	if acks := a.only("ack"); len(acks) != 1 || acks[0].SeqValue() != 1 || acks[0].Duplicate {
		t.Fatalf("first ack: %s", dump(acks))
	}
	h.Unregister(a.Conn)
	// The retry comes on a new connection of the same instance.
	b := connectInstance(t, h, "pub", "s", "inst-A", true)
	b.do(`{"type":"publish","id":"7","topic":"t","payload":1}`)
	if acks := b.only("ack"); len(acks) != 1 || acks[0].SeqValue() != 1 || !acks[0].Duplicate {
		t.Fatalf("retry ack: %s", dump(acks))
	}
	b.do(`{"type":"publish","id":"7","topic":"other","payload":1}`)
	b.expectError(protocol.CodeConflict, "7")
	// Another instance, or none, may use the same id.
	other := connectInstance(t, h, "pub", "s", "inst-B", true)
	other.do(`{"type":"publish","id":"7","topic":"t","payload":2}`)
	none := connect(t, h, "pub", "s", true)
	none.do(`{"type":"publish","id":"7","topic":"t","payload":3}`)
	none.do(`{"type":"publish","id":"7","topic":"t","payload":4}`)
	// Another session is another scope.
	elsewhere := connectInstance(t, h, "pub", "s2", "inst-A", true)
	elsewhere.do(`{"type":"publish","id":"7","topic":"t","payload":5}`)
	if acks := elsewhere.only("ack"); len(acks) != 1 || acks[0].Duplicate {
		t.Fatalf("another session: %s", dump(acks))
	}
	msgs := sub.only("message")
	var payloads []string
	for _, m := range msgs {
		payloads = append(payloads, string(m.Payload))
	}
	if fmt.Sprint(payloads) != "[1 2 3 4]" {
		t.Fatalf("delivered payloads %v, want [1 2 3 4]: the retry must not be delivered again", payloads)
	}
	// The window keeps the last DedupIDs ids: 7 is forgotten after 3 more.
	publishN(b, "t", 1, 3)
	b.frames()
	b.do(`{"type":"publish","id":"7","topic":"t","payload":1}`)
	if acks := b.only("ack"); len(acks) != 1 || acks[0].Duplicate {
		t.Fatalf("after the window: %s", dump(acks))
	}
	if err := b.Conn.SetInstance("late"); err == nil {
		t.Fatal("SetInstance after Register accepted")
	}
	c, _ := h.NewConn(ConnConfig{})
	defer h.Unregister(c)
	if err := c.SetInstance("has space"); err == nil {
		t.Fatal("invalid instance accepted")
	}
}

// TestDedupCompareAndSet: the retry of a compare-and-set publish that was
// stored is acknowledged, not answered with conflict.
func TestDedupCompareAndSet(t *testing.T) {
	h := newHub(t, Options{})
	a := connectInstance(t, h, "a", "s", "inst", true)
	a.do(`{"type":"publish","id":"m","topic":"$meta.e2e","payload":1,"if_seq":0}`)
	a.do(`{"type":"publish","id":"m","topic":"$meta.e2e","payload":1,"if_seq":0}`)
	acks := a.only("ack")
	if len(acks) != 2 || acks[0].SeqValue() != 1 || acks[1].SeqValue() != 1 || !acks[1].Duplicate {
		t.Fatalf("acks: %s", dump(acks))
	}
}

// TestEchoOffReplay: a connection with echo off does not get its own
// publishes replayed either (it is known by its instance).
func TestEchoOffReplay(t *testing.T) {
	h := newHub(t, Options{})
	me := connectInstance(t, h, "me", "s", "mine", false)
	other := connect(t, h, "other", "s", true)
	me.do(`{"type":"subscribe","id":"s","topic":"t"}`)
	epoch := me.frames()[0].Epoch
	other.do(`{"type":"publish","topic":"t","payload":"theirs"}`)
	me.do(`{"type":"publish","topic":"t","payload":"mine"}`)
	if msgs := me.only("message"); len(msgs) != 1 || msgs[0].SeqValue() != 1 {
		t.Fatalf("live: %s", dump(msgs))
	}
	h.Unregister(me.Conn)
	other.do(`{"type":"publish","topic":"t","payload":"theirs again"}`)
	back := connectInstance(t, h, "me", "s", "mine", false)
	_, msgs := subscribeSince(back, "t", epoch, 1)
	if len(msgs) != 1 || msgs[0].SeqValue() != 3 {
		t.Fatalf("replay: %s", dump(msgs))
	}
}

// slowStore is a MemoryStore whose histories store only when told to: it
// stands for a durable store's writer.
type slowStore struct {
	mu      sync.Mutex
	pending []func(error)
}

type slowHistory struct {
	History
	s      *slowStore
	stored bool
}

func (s *slowStore) Create(session, topic string, lim HistoryLimits) History {
	return &slowHistory{History: MemoryStore{}.Create(session, topic, lim), s: s}
}

func (s *slowStore) Restore(func(string) HistoryLimits, func(string, string, History)) error {
	return nil
}

func (h *slowHistory) Append(e Entry) int { h.stored = false; return h.History.Append(e) }
func (h *slowHistory) Stored() bool       { return h.stored }
func (h *slowHistory) OnStored(fn func(error)) {
	h.s.mu.Lock()
	h.s.pending = append(h.s.pending, fn)
	h.s.mu.Unlock()
}

func (s *slowStore) flush(err error) {
	s.mu.Lock()
	fns := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, fn := range fns {
		fn(err)
	}
}

// TestAckAfterStored: with a store that writes later, a publish is
// delivered at once but acknowledged only once stored; a failed write is
// answered with error internal.
func TestAckAfterStored(t *testing.T) {
	st := &slowStore{}
	h := newHub(t, Options{Store: st})
	sub := connect(t, h, "sub", "s", true)
	sub.do(`{"type":"subscribe","id":"1","topic":"t"}`)
	sub.frames()
	pub := connectInstance(t, h, "pub", "s", "i", false)
	pub.do(`{"type":"publish","id":"a","topic":"t","payload":1}`)
	if n := len(sub.only("message")); n != 1 {
		t.Fatalf("delivered %d", n)
	}
	if fs := pub.frames(); len(fs) != 0 {
		t.Fatalf("acknowledged before stored: %s", dump(fs))
	}
	// A retry meanwhile waits for the same storage.
	pub.do(`{"type":"publish","id":"a","topic":"t","payload":1}`)
	if fs := pub.frames(); len(fs) != 0 {
		t.Fatalf("retry acknowledged before stored: %s", dump(fs))
	}
	st.flush(nil)
	if acks := pub.only("ack"); len(acks) != 2 || acks[0].SeqValue() != 1 || acks[1].SeqValue() != 1 || !acks[1].Duplicate {
		t.Fatalf("acks after storing: %s", dump(acks))
	}
	pub.do(`{"type":"publish","id":"b","topic":"t","payload":2}`)
	st.flush(errors.New("disk full"))
	pub.expectError(protocol.CodeInternal, "b")
}

// TestHistoryMemoryBound: all histories together stay within HistoryBytes;
// the topic that publishes loses its oldest messages first.
func TestHistoryMemoryBound(t *testing.T) {
	const bound = 512 << 10
	h := newHub(t, Options{HistoryBytes: bound, History: []HistoryRule{{Pattern: ">", MaxMessages: 100000, MaxAge: time.Hour}}})
	pub := connect(t, h, "pub", "s", true)
	payload := `"` + strings.Repeat("y", 900) + `"`
	quiet := connect(t, h, "pub", "s2", true)
	quiet.do(`{"type":"publish","topic":"quiet","payload":1}`)
	for i := range 2000 {
		pub.do(fmt.Sprintf(`{"type":"publish","topic":"busy.%d","payload":%s}`, i%3, payload))
	}
	if r := h.histReserved.Load(); r > bound+reserveChunk {
		t.Fatalf("reserved %d bytes, bound %d", r, bound)
	}
	var held int64
	for _, s := range h.allSessions() {
		s.mu.Lock()
		held += s.histBytes
		s.mu.Unlock()
	}
	if held > bound || held < bound/2 {
		t.Fatalf("histories hold %d bytes, want at most %d and most of it used", held, bound)
	}
	p, err := h.History("s2", "quiet", HistoryQuery{})
	if err != nil || len(p.Messages) != 1 {
		t.Fatalf("the quiet topic lost its history: %v %v", p, err)
	}
	// Once the histories age out, the bound is free again.
	h.Unregister(pub.Conn)
	h.Unregister(quiet.Conn)
	h.Sweep(time.Now().Add(2 * time.Hour))
	if r, n := h.histReserved.Load(), len(h.allSessions()); r != 0 || n != 0 {
		t.Fatalf("after the histories aged out: %d bytes still reserved, %d sessions", r, n)
	}
}

// TestHistoryRules: the first matching rule sets a topic's limits.
func TestHistoryRules(t *testing.T) {
	h := newHub(t, Options{History: []HistoryRule{
		{Pattern: "a.b", MaxMessages: 2},
		{Pattern: "a.>", MaxMessages: 5, MaxAge: time.Hour},
		{Pattern: "none.*", MaxMessages: -1},
		{Pattern: "forever", MaxAge: -1},
	}})
	for topic, want := range map[string]HistoryLimits{
		"a.b":       {2, DefaultHistoryAge},
		"a.c":       {5, time.Hour},
		"none.x":    {0, DefaultHistoryAge},
		"forever":   {DefaultHistoryMessages, 0},
		"other":     {DefaultHistoryMessages, DefaultHistoryAge},
		"$meta.e2e": {1, 0},
	} {
		if got := h.limitsFor(topic); got != want {
			t.Errorf("%s: %+v, want %+v", topic, got, want)
		}
	}
}

// TestOperatorHistory: the operator reads a topic's history, the latest
// messages or a page after a seq; operator publishes are kept too.
func TestOperatorHistory(t *testing.T) {
	h := newHub(t, Options{})
	pub := connect(t, h, "pub", "s", true)
	publishN(pub, "t", 1, 7)
	if _, _, err := h.PublishToSession("s", "t", []byte(`"op"`), ""); err != nil {
		t.Fatal(err)
	}
	p, err := h.History("s", "t", HistoryQuery{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	seqOf := func(raw json.RawMessage) uint64 {
		var f protocol.Frame
		if err := protocol.Decode(raw, &f); err != nil {
			t.Fatal(err)
		}
		return f.SeqValue()
	}
	if p.Seq != 8 || p.FirstSeq != 1 || !p.More || len(p.Messages) != 3 || seqOf(p.Messages[0]) != 6 || !strings.Contains(string(p.Messages[2]), `"publisher_name":"$server"`) {
		t.Fatalf("latest 3: %+v", p)
	}
	since := uint64(2)
	p, _ = h.History("s", "t", HistoryQuery{Since: &since, Limit: 2})
	if len(p.Messages) != 2 || seqOf(p.Messages[0]) != 3 || !p.More {
		t.Fatalf("page after 2: %+v", p)
	}
	for _, q := range []struct{ session, topic string }{{"s", "nope"}, {"nobody", "t"}} {
		if _, err := h.History(q.session, q.topic, HistoryQuery{}); !errors.Is(err, ErrNoTopic) {
			t.Fatalf("%v: %v", q, err)
		}
	}
	if _, err := h.History("s", "bad topic", HistoryQuery{}); err == nil {
		t.Fatal("invalid topic accepted")
	}
}

// TestPresence: who subscribes to a topic, join and leave events for those
// who ask, scoped to the session, consistent when a connection goes.
func TestPresence(t *testing.T) {
	h := newHub(t, Options{})
	watcher := connect(t, h, "watcher", "s", true)
	watcher.do(`{"type":"subscribe","id":"w","topic":"room","presence":true}`)
	watcher.frames()
	plain := connect(t, h, "plain", "s", true)
	plain.do(`{"type":"subscribe","id":"p","topic":"room"}`)
	plain.frames()
	alice := connect(t, h, "alice", "s", true)
	alice.do(`{"type":"subscribe","id":"a","topic":"room"}`)
	alice.do(`{"type":"subscribe","id":"b","topic":"room.>"}`) // a pattern is not presence in room
	alice.frames()
	stranger := connect(t, h, "stranger", "other", true)
	stranger.do(`{"type":"subscribe","id":"x","topic":"room"}`)
	stranger.frames()

	events := watcher.only("presence_event")
	if len(events) != 2 || events[0].Event != "join" || events[0].Name != "plain" || events[0].ClientID != plain.ID() ||
		events[1].Name != "alice" || events[1].Topic != "room" {
		t.Fatalf("join events: %s", dump(events))
	}
	if n := len(plain.only("presence_event")); n != 0 {
		t.Fatalf("a subscriber that did not ask got %d presence events", n)
	}
	plain.do(`{"type":"presence","id":"q","topic":"room"}`)
	fs := plain.frames()
	if len(fs) != 1 || fs[0].Type != "presence" || fs[0].ID != "q" || fs[0].Topic != "room" || len(fs[0].Clients) != 3 {
		t.Fatalf("presence: %s", dump(fs))
	}
	names := []string{fs[0].Clients[0].Name, fs[0].Clients[1].Name, fs[0].Clients[2].Name}
	if fmt.Sprint(names) != "[alice plain watcher]" || fs[0].Clients[0].ClientID != alice.ID() {
		t.Fatalf("presence clients: %+v", fs[0].Clients)
	}
	// The connection goes (closed, or its heartbeat timed out): leave.
	h.Unregister(alice.Conn)
	plain.do(`{"type":"unsubscribe","id":"u","topic":"room"}`)
	events = watcher.only("presence_event")
	if len(events) != 2 || events[0].Event != "leave" || events[0].ClientID != alice.ID() || events[1].Event != "leave" || events[1].Name != "plain" {
		t.Fatalf("leave events: %s", dump(events))
	}
	list, err := h.Presence("s", "room")
	if err != nil || len(list) != 1 || list[0].Name != "watcher" {
		t.Fatalf("operator presence: %v %v", list, err)
	}
	if list, _ := h.Presence("s", "empty"); list == nil || len(list) != 0 {
		t.Fatalf("presence of a topic nobody subscribes: %v", list)
	}
	// Turning events off by subscribing again without presence.
	watcher.do(`{"type":"subscribe","id":"w2","topic":"room"}`)
	plain.do(`{"type":"subscribe","id":"p2","topic":"room"}`)
	if n := len(watcher.only("presence_event")); n != 0 {
		t.Fatalf("events after turning them off: %d", n)
	}
	watcher.do(`{"type":"subscribe","id":"w3","topic":"room.*","presence":true}`)
	watcher.expectError(protocol.CodeBadRequest, "w3")
	watcher.do(`{"type":"presence","topic":"room"}`)
	watcher.expectError(protocol.CodeBadRequest, "")
	watcher.do(`{"type":"presence","id":"r","topic":"room.*"}`)
	watcher.expectError(protocol.CodeBadRequest, "r")
}

// BenchmarkPublishHistory measures what history costs a publish (one
// subscriber, drained): none, the default ring of 100, and with an id from
// a connection with an instance (de-duplication and the ack).
func BenchmarkPublishHistory(b *testing.B) {
	for _, mode := range []string{"off", "ring", "ring+dedup"} {
		b.Run(mode, func(b *testing.B) {
			opts := Options{}
			if mode == "off" {
				opts.History = []HistoryRule{{Pattern: ">", MaxMessages: -1}}
			}
			h := newHub(b, opts)
			pub := connectInstance(b, h, "pub", "s", "inst", false)
			sub := connect(b, h, "sub", "s", true)
			sub.do(`{"type":"subscribe","id":"1","topic":"bench.topic"}`)
			sub.frames()
			var f protocol.Frame
			protocol.Decode([]byte(`{"type":"publish","topic":"bench.topic","payload":"0123456789012345678901234567890123456789012345678901234567890"}`), &f)
			ids := make([]string, 4096)
			for i := range ids {
				ids[i] = fmt.Sprint(i, "x") // reused only beyond the window's 1000 ids
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if mode == "ring+dedup" {
					f.ID = ids[i%len(ids)]
					i++
				}
				h.Publish(pub.Conn, &f)
				if batch, ok := sub.TryNext(); ok {
					batch.Release()
				}
				if batch, ok := pub.TryNext(); ok {
					batch.Release()
				}
			}
		})
	}
}

// TestMetaSinceOnce: a subscribe with since to a $meta. topic delivers its
// retained value once, replayed or not.
func TestMetaSinceOnce(t *testing.T) {
	h := newHub(t, Options{})
	a := connect(t, h, "a", "s", true)
	a.do(`{"type":"publish","id":"m","topic":"$meta.e2e","payload":1,"if_seq":0}`)
	a.do(`{"type":"subscribe","id":"e","topic":"$meta.e2e"}`)
	fs := a.frames()
	epoch := fs[len(fs)-2].Epoch
	for _, seq := range []uint64{0, 1} {
		_, msgs := subscribeSince(a, "$meta.e2e", epoch, seq)
		if len(msgs) != 1 || msgs[0].SeqValue() != 1 {
			t.Fatalf("since %d: %s", seq, dump(msgs))
		}
	}
}
