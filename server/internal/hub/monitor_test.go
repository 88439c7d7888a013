package hub

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// drainEvents takes what a monitor has received so far.
func drainEvents(m *Monitor) []*MonitorEvent {
	var out []*MonitorEvent
	for {
		select {
		case ev := <-m.Events():
			out = append(out, ev)
		default:
			return out
		}
	}
}

func TestMonitorEvents(t *testing.T) {
	h := newHub(t, Options{})
	a := connect(t, h, "alice", "s1", true)
	b := connect(t, h, "bob", "s1", true)
	c := connect(t, h, "carol", "s2", true)
	b.do(`{"type":"subscribe","id":"1","topic":"news.*"}`)
	b.frames()

	if h.watched() {
		t.Fatal("watched without monitors")
	}
	a.do(`{"type":"publish","topic":"news.a","payload":"unseen"}`) // before the monitor: not reported
	m := h.Monitor(MonitorOptions{})
	defer m.Close()
	if h.Monitors() != 1 || !h.watched() {
		t.Fatalf("monitors %d", h.Monitors())
	}

	a.do(`{"type":"publish","topic":"news.a","payload":{"n": 1},"timestamp":"2024-01-24T10:25:37Z"}`)
	c.do(`{"type":"publish","topic":"news.a","payload":"e2e:AAAA"}`)
	a.do(`{"type":"request","id":"r","topic":"news.b","payload":1}`)
	a.do(`{"type":"send","to":"` + b.ID() + `","topic":"dm","payload":2}`)
	a.do(`{"type":"publish","topic":"$meta.x","if_seq":5,"payload":3}`) // conflict: not a message
	if _, _, err := h.PublishToSession("s2", "ops", []byte(`"op"`), ""); err != nil {
		t.Fatal(err)
	}
	if err := h.SendToClient(c.ID(), "dm", []byte(`4`)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Broadcast("all", []byte(`5`)); err != nil {
		t.Fatal(err)
	}

	evs := drainEvents(m)
	want := []MonitorEvent{
		{Kind: KindPublish, SessionID: "s1", Topic: "news.a", PublisherName: "alice", Timestamp: "2024-01-24T10:25:37Z", Seq: 2, Size: 8, Delivered: 1, Preview: []byte(`{"n": 1}`)},
		{Kind: KindPublish, SessionID: "s2", Topic: "news.a", PublisherName: "carol", Seq: 1, Size: 10, Delivered: 0, Preview: []byte(`"e2e:AAAA"`)},
		{Kind: KindRequest, SessionID: "s1", Topic: "news.b", PublisherName: "alice", Size: 1, Delivered: 1, Preview: []byte(`1`)},
		{Kind: KindSend, SessionID: "s1", Topic: "dm", PublisherName: "alice", Size: 1, Delivered: 1, Preview: []byte(`2`)},
		{Kind: KindPublish, SessionID: "s2", Topic: "ops", PublisherName: "$server", Seq: 1, Size: 4, Delivered: 0, Preview: []byte(`"op"`)},
		{Kind: KindSend, SessionID: "s2", Topic: "dm", PublisherName: "$server", Size: 1, Delivered: 1, Preview: []byte(`4`)},
		{Kind: KindBroadcast, Topic: "all", PublisherName: "$server", Size: 1, Delivered: 3, Preview: []byte(`5`)},
	}
	if len(evs) != len(want) {
		t.Fatalf("got %d events, want %d", len(evs), len(want))
	}
	for i, w := range want {
		g := *evs[i]
		if w.Timestamp == "" {
			if g.Timestamp == "" {
				t.Errorf("event %d: no timestamp", i)
			}
			w.Timestamp = g.Timestamp
		}
		if g.Kind != w.Kind || g.SessionID != w.SessionID || g.Topic != w.Topic || g.PublisherName != w.PublisherName ||
			g.Timestamp != w.Timestamp || g.Seq != w.Seq || g.Size != w.Size || g.Delivered != w.Delivered ||
			string(g.Preview) != string(w.Preview) {
			t.Errorf("event %d: got %+v, want %+v", i, g, w)
		}
	}
	if n := m.TakeDropped() + m.TakeSkipped(); n != 0 {
		t.Fatalf("%d events lost", n)
	}

	m.Close()
	m.Close()
	if h.Monitors() != 0 || h.watched() {
		t.Fatalf("monitors after Close: %d", h.Monitors())
	}
	a.do(`{"type":"publish","topic":"news.a","payload":"after"}`)
	if evs := drainEvents(m); len(evs) != 0 {
		t.Fatalf("closed monitor got %d events", len(evs))
	}
}

func TestMonitorPreviewIsACopy(t *testing.T) {
	h := newHub(t, Options{})
	a := connect(t, h, "alice", "s", true)
	m := h.Monitor(MonitorOptions{})
	defer m.Close()
	big := `"` + strings.Repeat("é", 1000) + `"`
	a.do(`{"type":"publish","topic":"t","payload":` + big + `}`)
	ev := <-m.Events()
	if ev.Size != len(big) || len(ev.Preview) != MonitorPreviewBytes || string(ev.Preview) != big[:MonitorPreviewBytes] {
		t.Fatalf("size %d preview %d bytes", ev.Size, len(ev.Preview))
	}
}

// A monitor nobody reads never blocks a publisher: its events are dropped
// and counted, and every message is accounted for.
func TestMonitorNeverBlocks(t *testing.T) {
	h := newHub(t, Options{})
	a := connect(t, h, "alice", "s", true)
	b := connect(t, h, "bob", "s", true)
	b.do(`{"type":"subscribe","id":"1","topic":"t"}`)
	m := h.Monitor(MonitorOptions{Rate: 1e9, Burst: 1e9, Buffer: 10})
	defer m.Close()
	const n = 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			a.do(`{"type":"publish","topic":"t","payload":1}`)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publisher blocked by an unread monitor")
	}
	got, dropped := len(drainEvents(m)), m.TakeDropped()
	if got != 10 || uint64(got)+dropped != n || m.TakeSkipped() != 0 {
		t.Fatalf("received %d, dropped %d of %d", got, dropped, n)
	}
	if len(b.only("message")) != n {
		t.Fatal("subscriber missed messages")
	}
}

// Over its rate a monitor skips events, counts them, and admits about Rate
// per second after a burst.
func TestMonitorRate(t *testing.T) {
	h := newHub(t, Options{})
	conns := []*testConn{connect(t, h, "a", "s1", true), connect(t, h, "b", "s2", true), connect(t, h, "c", "s3", true)}
	m := h.Monitor(MonitorOptions{Rate: 100, Burst: 5, Buffer: 1000})
	defer m.Close()
	other := h.Monitor(MonitorOptions{Rate: 1e9, Burst: 1e9, Buffer: 10000}) // each monitor has its own budget
	defer other.Close()
	const per = 1000
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			for range per {
				c.do(`{"type":"publish","topic":"t","payload":1}`)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	got, skipped := uint64(len(drainEvents(m))), m.TakeSkipped()
	if got+skipped+m.TakeDropped() != 3*per {
		t.Fatalf("received %d + skipped %d != %d", got, skipped, 3*per)
	}
	if limit := 5 + uint64(elapsed.Seconds()*100) + 1; got < 5 || got > limit {
		t.Fatalf("received %d in %v, want 5..%d", got, elapsed, limit)
	}
	if n := len(drainEvents(other)); n != 3*per {
		t.Fatalf("second monitor received %d", n)
	}
	if m.TakeSkipped() != 0 {
		t.Fatal("TakeSkipped does not reset")
	}
	// After a pause the rate allows events again.
	time.Sleep(50 * time.Millisecond)
	conns[0].do(`{"type":"publish","topic":"t","payload":1}`)
	if n := len(drainEvents(m)); n != 1 {
		t.Fatalf("after a pause: %d events", n)
	}
}

func TestStats(t *testing.T) {
	h := newHub(t, Options{})
	if st := h.Stats(); st != (Stats{}) {
		t.Fatalf("empty hub: %+v", st)
	}
	a := connect(t, h, "alice", "s1", true)
	b := connect(t, h, "bob", "s2", true)
	pending, err := h.NewConn(ConnConfig{}) // not welcomed yet: a connection, no session
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unregister(pending)
	a.CountIn(10)
	b.CountIn(5)
	b.CountIn(5)
	b.do(`{"type":"subscribe","id":"1","topic":"t"}`) // not counted: the transport calls CountIn
	b.frames()
	st := h.Stats()
	if st.Connections != 3 || st.Sessions != 2 || st.MsgsIn != 3 || st.BytesIn != 20 || st.MsgsOut != 1 || st.BytesOut == 0 {
		t.Fatalf("stats %+v", st)
	}
	h.Unregister(b.Conn)
	after := h.Stats()
	// s2 stays: its topic keeps its seq and epoch for StreamTTL.
	if after.Connections != 2 || after.Sessions != 2 || after.MsgsIn != st.MsgsIn || after.MsgsOut != st.MsgsOut ||
		after.BytesIn != st.BytesIn || after.BytesOut != st.BytesOut {
		t.Fatalf("stats after a disconnect %+v, before %+v", after, st)
	}
}
