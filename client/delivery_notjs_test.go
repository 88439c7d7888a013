//go:build !js

package client

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server"
)

// The proofs of docs/delivery.md that need real connections: the client
// against the real server, through a TCP proxy that the tests cut.

// startServerWith serves server.New(cfg) on addr ("127.0.0.1:0" for any
// port); stop is idempotent and also runs at the end of the test.
func startServerWith(t *testing.T, addr string, cfg server.Config) *testServer {
	t.Helper()
	ln := listen(t, addr)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = hs.Serve(ln)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = hs.Close()
			_ = srv.Close()
			<-served
		})
	}
	t.Cleanup(stop)
	return &testServer{url: "ws://" + ln.Addr().String() + "/ws", addr: ln.Addr().String(), stop: stop, srv: srv}
}

// proxy forwards TCP connections to a target, and lets a test drop them
// (the TCP connection reset, as a broken network does), blackhole them
// (bytes vanish, nothing is closed: only heartbeats notice), or refuse new
// ones.
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu      sync.Mutex
	pairs   map[*proxyPair]bool
	refuse  bool
	stopped bool
}

type proxyPair struct {
	client, server net.Conn
	frozen         atomic.Bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, pairs: map[*proxyPair]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) url() string { return "ws://" + p.ln.Addr().String() + "/ws" }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.refuse || p.stopped {
			p.mu.Unlock()
			reset(c)
			continue
		}
		p.mu.Unlock()
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			reset(c)
			continue
		}
		pair := &proxyPair{client: c, server: s}
		p.mu.Lock()
		if p.stopped {
			p.mu.Unlock()
			reset(c)
			reset(s)
			continue
		}
		p.pairs[pair] = true
		p.mu.Unlock()
		p.wg.Go(func() { pair.pipe(c, s) })
		p.wg.Go(func() { pair.pipe(s, c) })
	}
}

// pipe copies src to dst (discarding while frozen) until either fails,
// then resets both.
func (pp *proxyPair) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pp.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	reset(pp.client)
	reset(pp.server)
}

// reset closes c with a TCP reset (no orderly FIN): a broken connection.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func (p *proxy) list() []*proxyPair {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*proxyPair, 0, len(p.pairs))
	for pp := range p.pairs {
		out = append(out, pp)
	}
	return out
}

// drop resets one connection (a random one), or all with n < 0; it reports
// how many.
func (p *proxy) drop(n int) int {
	pairs := p.list()
	rand.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	if n >= 0 && n < len(pairs) {
		pairs = pairs[:n]
	}
	p.mu.Lock()
	for _, pp := range pairs {
		delete(p.pairs, pp)
	}
	p.mu.Unlock()
	for _, pp := range pairs {
		reset(pp.client)
		reset(pp.server)
	}
	return len(pairs)
}

// freeze blackholes the current connections: their bytes vanish.
func (p *proxy) freeze() {
	for _, pp := range p.list() {
		pp.frozen.Store(true)
	}
}

func (p *proxy) setRefuse(v bool) {
	p.mu.Lock()
	p.refuse = v
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.ln.Close()
	p.drop(-1)
	p.wg.Wait()
}

// abort drops c's current connection from the client's side.
func abort(c *Client) bool {
	c.mu.Lock()
	cn := c.cn
	c.mu.Unlock()
	if cn == nil {
		return false
	}
	cn.tr.Abort()
	return true
}

// numbered is a chaos message's payload: publisher p's n-th message.
type numbered struct {
	P int `json:"p"`
	N int `json:"n"`
}

// seqLog records what one subscriber receives.
type seqLog struct {
	mu   sync.Mutex
	msgs []*Message
	gaps []*RecoveryError
}

func (l *seqLog) add(m *Message) {
	l.mu.Lock()
	l.msgs = append(l.msgs, m)
	l.mu.Unlock()
}

func (l *seqLog) gap(e *RecoveryError) {
	l.mu.Lock()
	l.gaps = append(l.gaps, e)
	l.mu.Unlock()
}

func (l *seqLog) snapshot() ([]*Message, []*RecoveryError) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Message(nil), l.msgs...), append([]*RecoveryError(nil), l.gaps...)
}

func (l *seqLog) lastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.msgs) == 0 {
		return 0
	}
	return l.msgs[len(l.msgs)-1].Seq
}

// checkExactlyOnce fails unless msgs have seqs from, from+1, …, to.
func checkExactlyOnce(t *testing.T, who string, msgs []*Message, from, to uint64) {
	t.Helper()
	if uint64(len(msgs)) != to-from+1 {
		t.Errorf("%s: %d messages, want seqs %d..%d", who, len(msgs), from, to)
	}
	for i, m := range msgs {
		if m.Seq != from+uint64(i) {
			t.Fatalf("%s: message %d has seq %d, want %d (lost, duplicated or out of order)", who, i, m.Seq, from+uint64(i))
		}
	}
}

var fastReconnect = Options{MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, CallTimeout: 30 * time.Second, DispatchQueueSize: 1 << 18}

// TestChaosExactlyOnce: publishers publish numbered messages continuously
// while every connection is cut at random — by the server (an operator
// disconnect, a slow-consumer close), by the client (its socket dropped),
// by the network (the proxy resets the TCP connection). At the end each
// subscriber has every message exactly once, in seq order, and each
// publisher's messages were stored exactly once, in the order published.
func TestChaosExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos runs for seconds")
	}
	srv := startServerWith(t, "127.0.0.1:0", server.Config{
		History: []server.HistoryRule{{Pattern: "chaos", MaxMessages: 1 << 20, MaxAge: time.Minute}},
	})
	px := newProxy(t, srv.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	session := uniqueSession("chaos")
	const publishers, subscribers = 2, 4
	chaosFor := 6 * time.Second

	var clients []*Client
	logs := make([]*seqLog, subscribers)
	for i := range logs {
		logs[i] = &seqLog{}
		c := dialIntegration(t, px.url(), fmt.Sprintf("sub%d", i), session, fastReconnect)
		if _, err := c.Subscribe(ctx, "chaos", logs[i].add, WithGapHandler(logs[i].gap)); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	sent := make([]int, publishers)
	for p := range publishers {
		c := dialIntegration(t, px.url(), fmt.Sprintf("pub%d", p), session, fastReconnect)
		clients = append(clients, c)
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				if _, err := c.Publish(ctx, "chaos", numbered{P: p, N: n}); err != nil {
					t.Errorf("publisher %d, message %d: %v", p, n, err)
					return
				}
				sent[p] = n + 1
			}
		})
	}

	cuts := map[string]int{}
	deadline := time.Now().Add(chaosFor)
	for time.Now().Before(deadline) {
		time.Sleep(time.Duration(10+rand.IntN(40)) * time.Millisecond) // the pace of the chaos, not a wait for a condition
		c := clients[rand.IntN(len(clients))]
		switch rand.IntN(4) {
		case 0:
			if srv.srv.Disconnect(c.ClientID(), protocol.CloseKicked) == nil {
				cuts["server kick (4003)"]++
			}
		case 1:
			if srv.srv.Disconnect(c.ClientID(), protocol.CloseSlowConsumer) == nil {
				cuts["server slow consumer (4001)"]++
			}
		case 2:
			if abort(c) {
				cuts["client-side close"]++
			}
		case 3:
			cuts["proxy reset"] += px.drop(1)
		}
	}
	stop.Store(true)
	wg.Wait()
	total := uint64(0)
	for _, n := range sent {
		total += uint64(n)
	}
	t.Logf("cuts %v; %d messages published", cuts, total)
	if total == 0 || t.Failed() {
		t.FailNow()
	}

	// Exactly-once storage: the topic's seq is the number of acknowledged
	// publishes, although retries were sent.
	page, err := srv.srv.History(session, "chaos", server.HistoryQuery{Limit: 1})
	if err != nil || page.Seq != total {
		t.Fatalf("stored messages up to seq %d (err %v), want %d", page.Seq, err, total)
	}
	for i, l := range logs {
		waitFor(t, 20*time.Second, fmt.Sprintf("subscriber %d to catch up to seq %d", i, total), func() bool { return l.lastSeq() >= total })
		msgs, gaps := l.snapshot()
		if len(gaps) > 0 {
			t.Fatalf("subscriber %d was told of gaps within the history window: %v", i, gaps[0])
		}
		checkExactlyOnce(t, fmt.Sprintf("subscriber %d", i), msgs, 1, total)
		next := make([]int, publishers)
		for _, m := range msgs {
			var v numbered
			if err := json.Unmarshal(m.Payload, &v); err != nil {
				t.Fatal(err)
			}
			if v.N != next[v.P] {
				t.Fatalf("subscriber %d: publisher %d's message %d came where %d was due (stored twice, lost or reordered)", i, v.P, v.N, next[v.P])
			}
			next[v.P]++
		}
		for p := range publishers {
			if next[p] != sent[p] {
				t.Fatalf("subscriber %d has %d of publisher %d's %d messages", i, next[p], p, sent[p])
			}
		}
	}
}

// TestChaosBeyondHistoryWindow: a subscriber away for longer than the
// history keeps is told recovered:false (too_far_behind), through its gap
// handler and OnError, and resumes live; within the window it recovers.
func TestChaosBeyondHistoryWindow(t *testing.T) {
	srv := startServerWith(t, "127.0.0.1:0", server.Config{
		History: []server.HistoryRule{{Pattern: "small", MaxMessages: 10}},
	})
	px := newProxy(t, srv.addr)
	ctx := itContext(t)
	session := uniqueSession("window")
	var l seqLog
	var errs recorder
	o := fastReconnect
	o.OnError = errs.err
	sub := dialIntegration(t, px.url(), "sub", session, o)
	if _, err := sub.Subscribe(ctx, "small", l.add, WithGapHandler(l.gap)); err != nil {
		t.Fatal(err)
	}
	pub := dialIntegration(t, srv.url, "pub", session, Options{})
	publish := func(from, to int) {
		for i := from; i <= to; i++ {
			if _, err := pub.Publish(ctx, "small", i); err != nil {
				t.Fatal(err)
			}
		}
	}
	away := func(publishWhileAway func()) {
		px.setRefuse(true)
		px.drop(-1)
		waitFor(t, 5*time.Second, "the subscriber away", func() bool { return sub.State() == StateReconnecting })
		publishWhileAway()
		px.setRefuse(false)
		waitFor(t, 5*time.Second, "the subscriber back", func() bool { return sub.State() == StateConnected })
		if _, err := sub.Ping(ctx); err != nil { // its resubscribe has been answered
			t.Fatal(err)
		}
	}
	publish(1, 5)
	waitFor(t, 5*time.Second, "5 messages", func() bool { return l.lastSeq() == 5 })

	away(func() { publish(6, 35) }) // 30 missed, 10 kept
	publish(36, 36)
	waitFor(t, 5*time.Second, "the live message", func() bool { return l.lastSeq() == 36 })
	msgs, gaps := l.snapshot()
	if len(gaps) != 1 || gaps[0].Reason != protocol.ReasonTooFarBehind || gaps[0].LastSeq != 5 || gaps[0].Seq != 35 {
		t.Fatalf("gaps %+v", gaps)
	}
	if !errs.hasErr(ErrNotRecovered) {
		t.Fatal("OnError did not hear of the gap")
	}
	checkExactlyOnce(t, "before the gap", msgs[:5], 1, 5)
	checkExactlyOnce(t, "after the gap", msgs[5:], 36, 36)

	away(func() { publish(37, 44) }) // 8 missed: within the 10 kept
	publish(45, 45)
	waitFor(t, 5*time.Second, "the live message", func() bool { return l.lastSeq() == 45 })
	msgs, gaps = l.snapshot()
	if len(gaps) != 1 {
		t.Fatalf("a gap within the window: %+v", gaps[1:])
	}
	checkExactlyOnce(t, "recovered within the window", msgs[5:], 36, 45)
}

// TestRecoveryAcrossRestartWithDataDir: with a data dir, a subscriber that
// was away while messages were published, and then the server restarted,
// recovers them from the restarted server in the same epoch: no loss, no
// duplicate.
func TestRecoveryAcrossRestartWithDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg := server.Config{DataDir: dir}
	srv := startServerWith(t, "127.0.0.1:0", cfg)
	px := newProxy(t, srv.addr)
	ctx := itContext(t)
	session := uniqueSession("durable")
	var l seqLog
	sub := dialIntegration(t, px.url(), "sub", session, fastReconnect)
	s, err := sub.Subscribe(ctx, "feed", l.add, WithGapHandler(l.gap))
	if err != nil {
		t.Fatal(err)
	}
	pub := dialIntegration(t, srv.url, "pub", session, fastReconnect)
	for i := 1; i <= 5; i++ {
		if _, err := pub.Publish(ctx, "feed", i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "5 messages", func() bool { return l.lastSeq() == 5 })
	epoch := s.Position().Epoch

	px.setRefuse(true)
	px.drop(-1)
	waitFor(t, 5*time.Second, "the subscriber away", func() bool { return sub.State() == StateReconnecting })
	for i := 6; i <= 8; i++ { // acknowledged: on disk
		if _, err := pub.Publish(ctx, "feed", i); err != nil {
			t.Fatal(err)
		}
	}
	srv.stop()
	waitFor(t, 5*time.Second, "the publisher to notice", func() bool { return pub.State() == StateReconnecting })
	done := make(chan error, 1)
	go func() { // buffered during the outage, sent after the restart
		_, err := pub.Publish(ctx, "feed", 9)
		done <- err
	}()
	startServerWith(t, srv.addr, cfg)
	px.setRefuse(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "9 messages", func() bool { return l.lastSeq() == 9 })
	msgs, gaps := l.snapshot()
	if len(gaps) > 0 {
		t.Fatalf("not recovered across the restart: %v", gaps[0])
	}
	checkExactlyOnce(t, "across the restart", msgs, 1, 9)
	if p := s.Position(); p.Epoch != epoch || p.Seq != 9 {
		t.Fatalf("position %+v, epoch before %q", p, epoch)
	}
}

// TestPresenceAfterAbruptDisconnect: a client whose network goes silent
// (no close, no reset: the proxy blackholes it) leaves the topic's presence
// within the heartbeat timeout, and watchers get its leave; a reset
// connection leaves at once.
func TestPresenceAfterAbruptDisconnect(t *testing.T) {
	const heartbeat = 200 * time.Millisecond
	srv := startServerWith(t, "127.0.0.1:0", server.Config{Heartbeat: heartbeat})
	px := newProxy(t, srv.addr)
	ctx := itContext(t)
	session := uniqueSession("presence")
	events := make(chan PresenceEvent, 16)
	watcher := dialIntegration(t, srv.url, "watcher", session, Options{})
	if _, err := watcher.Subscribe(ctx, "room", nil, WithPresence(func(e PresenceEvent) { events <- e })); err != nil {
		t.Fatal(err)
	}
	expect := func(event, clientID string, within time.Duration) {
		t.Helper()
		timer := time.NewTimer(within)
		defer timer.Stop()
		for {
			select {
			case e := <-events:
				if e.Event == event && e.ClientID == clientID && e.Topic == "room" {
					return
				}
			case <-timer.C:
				t.Fatalf("no %s of %s within %v", event, clientID, within)
			}
		}
	}
	members := func() []string {
		list, err := watcher.Presence(ctx, "room")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range list {
			ids = append(ids, m.ClientID)
		}
		return ids
	}

	for _, how := range []string{"silent network", "reset"} {
		victim := dialIntegration(t, px.url(), "victim", session, Options{DisableReconnect: true})
		if _, err := victim.Subscribe(ctx, "room", nil); err != nil {
			t.Fatal(err)
		}
		id := victim.ClientID()
		expect("join", id, 5*time.Second)
		if got := fmt.Sprint(members()); got != fmt.Sprint([]string{id, watcher.ClientID()}) && got != fmt.Sprint([]string{watcher.ClientID(), id}) {
			t.Fatalf("%s: members %s", how, got)
		}
		start := time.Now()
		if how == "reset" {
			px.drop(-1)
		} else {
			px.freeze()
		}
		// Two heartbeats of silence, the sweeper's tick and the close
		// grace; a second more for a loaded machine.
		expect("leave", id, 2*heartbeat+time.Second+time.Second)
		t.Logf("%s: leave after %v", how, time.Since(start).Round(time.Millisecond))
		if got := members(); len(got) != 1 || got[0] != watcher.ClientID() {
			t.Fatalf("%s: members after the leave: %v", how, got)
		}
		victim.Close()
		px.drop(-1)
	}
	if _, err := watcher.Presence(ctx, "a.*"); err == nil {
		t.Fatal("presence of a pattern accepted")
	}
	if _, err := watcher.Presence(ctx, "$server.x"); err == nil {
		t.Fatal("presence of a reserved topic accepted")
	}
}
