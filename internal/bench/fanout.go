package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FanoutConfig describes a fan-out run: Publishers publish on Topics topics
// (round robin), each of Subscribers subscribes to one of them (subscriber i
// to topic i mod Topics), and every delivered message is counted and timed.
type FanoutConfig struct {
	Common

	Subscribers  int     // default 1000
	Publishers   int     // default 1
	Topics       int     // default 1
	PayloadBytes int     // the payload's JSON value, quotes included; default 64, at least MinPayload
	Rate         float64 // publishes per second over all publishers; 0: as fast as the window allows
	Batch        int     // publishes per frame; default 1

	// Window bounds, as fast as possible, how many published messages a
	// subscriber may not have received yet: publishers wait beyond it, so
	// that no subscriber queue on the server overflows (4001). Default 1000;
	// negative: no bound (also the behaviour at a fixed rate).
	Window int

	// AckEvery: every AckEvery-th publish carries an id, and a publisher
	// sends the next such publish only once the previous one's ack came:
	// the server never holds more than about 2×AckEvery of one publisher's
	// publishes unread. Default 100; negative: never.
	AckEvery int

	Drain time.Duration // after the window, how long to wait for the last deliveries; default 5 s
}

func (c *FanoutConfig) normalize() error {
	if err := c.Common.normalize(); err != nil {
		return err
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Subscribers, 1000)
	def(&c.Publishers, 1)
	def(&c.Topics, 1)
	def(&c.PayloadBytes, 64)
	def(&c.Batch, 1)
	def(&c.Window, DefaultWindow)
	def(&c.AckEvery, DefaultAckEvery)
	c.AckEvery = max(c.AckEvery, 0) // negative: never
	if c.Drain <= 0 {
		c.Drain = DefaultDrain
	}
	c.Drain = min(c.Drain, time.Minute)
	switch {
	case c.Subscribers < 0 || c.Publishers < 0 || c.Topics < 0 || c.Batch < 0:
		return fmt.Errorf("bench: negative count")
	case c.Subscribers+c.Publishers > MaxConnections:
		return fmt.Errorf("bench: %d connections: at most %d", c.Subscribers+c.Publishers, MaxConnections)
	case c.Topics > c.Subscribers:
		return fmt.Errorf("bench: %d topics for %d subscribers: want at most one topic per subscriber", c.Topics, c.Subscribers)
	case c.PayloadBytes < MinPayload || c.PayloadBytes > MaxPayload:
		return fmt.Errorf("bench: payload %d bytes: want %d to %d", c.PayloadBytes, MinPayload, MaxPayload)
	case c.Rate < 0 || c.Rate > MaxRate:
		return fmt.Errorf("bench: rate %g: want 0 (max) to %g", c.Rate, float64(MaxRate))
	case c.Batch > MaxBatch:
		return fmt.Errorf("bench: batch %d: at most %d", c.Batch, MaxBatch)
	case c.Batch*(c.PayloadBytes+64+10) > 60<<10:
		return fmt.Errorf("bench: batch %d of %d-byte payloads exceeds a 60 KiB frame", c.Batch, c.PayloadBytes)
	}
	return checkFiles(c.Subscribers + c.Publishers)
}

type fanoutSub struct {
	c        *conn
	topic    int
	received atomic.Int64
	dead     atomic.Bool
	hist     *Histogram // reader-owned until the reader ends
}

type fanoutPub struct {
	c           *conn
	idx         int
	outstanding atomic.Bool // a publish with an id awaits its ack
	acked       chan struct{}
}

type fanoutRun struct {
	cfg       FanoutConfig
	clock     Clock
	topics    []string
	subsOf    []int64        // subscribers per topic
	published []atomic.Int64 // messages published per topic
	subs      []*fanoutSub
	pubs      []*fanoutPub
	received  atomic.Int64 // over all subscribers
	measuring atomic.Bool
	stopping  atomic.Bool
	errs      errorLog
	badStamp  atomic.Int64
	phase     atomic.Value // string, for progress lines
}

func (r *fanoutRun) expected() int64 {
	var n int64
	for t := range r.published {
		n += r.published[t].Load() * r.subsOf[t]
	}
	return n
}

func (r *fanoutRun) totalPublished() int64 {
	var n int64
	for t := range r.published {
		n += r.published[t].Load()
	}
	return n
}

// maxLag is the largest number of messages a live subscriber has yet to receive.
func (r *fanoutRun) maxLag() int64 {
	var m int64
	for _, s := range r.subs {
		if s.dead.Load() {
			continue
		}
		m = max(m, r.published[s.topic].Load()-s.received.Load())
	}
	return m
}

// Fanout runs a fan-out load against cfg.URL and reports what it measured.
func Fanout(ctx context.Context, cfg FanoutConfig) (*Result, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	// Several URLs (nodes of a cluster): subscribers round robin over
	// them, publishers on the first.
	var dialers []*dialer
	for _, raw := range strings.Split(cfg.URL, ",") {
		u, err := CheckURL(raw)
		if err != nil {
			return nil, err
		}
		dialers = append(dialers, newDialer(u, cfg.PerSourceIP))
	}
	r := &fanoutRun{cfg: cfg, clock: NewClock(), subsOf: make([]int64, cfg.Topics), published: make([]atomic.Int64, cfg.Topics)}
	for t := range cfg.Topics {
		r.topics = append(r.topics, "bench.t"+strconv.Itoa(t))
	}
	r.subs = make([]*fanoutSub, cfg.Subscribers)
	r.pubs = make([]*fanoutPub, cfg.Publishers)
	probe := newProbe(&cfg.Common)
	base, err := probe.sample()
	if err != nil {
		return nil, err
	}

	// Connect: subscribers first, then publishers.
	var connected atomic.Int64
	stopProgress := make(chan struct{})
	n := cfg.Subscribers + cfg.Publishers
	var lastRx int64
	waitProgress := progress(cfg.Progress, stopProgress, func(el time.Duration) string {
		if c := connected.Load(); c < int64(n) {
			return fmt.Sprintf("[%s] %4.0fs connecting %d/%d", cfg.Target, el.Seconds(), c, n)
		}
		rx := r.received.Load()
		rate := rx - lastRx
		lastRx = rx
		phase, _ := r.phase.Load().(string)
		return fmt.Sprintf("[%s] %4.0fs %s: %s msg/s, delivered %d, published %d, max lag %d, errors %d",
			cfg.Target, el.Seconds(), phase, si(float64(rate)), rx, r.totalPublished(), r.maxLag(), r.errs.count())
	})
	defer func() { close(stopProgress); waitProgress() }()
	setupCtx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	err = connectAll(setupCtx, n, cfg.DialConcurrency, &connected, func(ctx context.Context, i int) error {
		d := dialers[0]
		if i < cfg.Subscribers {
			d = dialers[i%len(dialers)]
		}
		c, err := d.dial(ctx, i)
		if err != nil {
			return err
		}
		if i < cfg.Subscribers {
			s := &fanoutSub{c: c, topic: i % cfg.Topics, hist: NewHistogram()}
			r.subs[i] = s
			return c.handshake(ctx, "sub-"+strconv.Itoa(i), cfg.Session, r.topics[s.topic])
		}
		p := &fanoutPub{c: c, idx: i - cfg.Subscribers, acked: make(chan struct{}, 1)}
		r.pubs[p.idx] = p
		return c.handshake(ctx, "pub-"+strconv.Itoa(p.idx), cfg.Session)
	})
	cancel()
	all := make([]*conn, 0, n)
	for _, s := range r.subs {
		if s != nil {
			all = append(all, s.c)
		}
	}
	for _, p := range r.pubs {
		if p != nil {
			all = append(all, p.c)
		}
	}
	if err != nil {
		closeAll(all)
		return nil, fmt.Errorf("bench: connecting: %w", err)
	}
	for _, s := range r.subs {
		r.subsOf[s.topic]++
	}
	afterConnect, err := probe.sample()
	if err != nil {
		closeAll(all)
		return nil, err
	}

	var readers, writers sync.WaitGroup
	for _, s := range r.subs {
		readers.Go(func() { r.readSub(s) })
	}
	for _, p := range r.pubs {
		readers.Go(func() { r.readPub(p) })
	}
	pubStop := make(chan struct{})
	r.phase.Store("warm-up")
	t0 := time.Now()
	windowStart, windowEnd := t0.Add(cfg.Warmup), t0.Add(cfg.Warmup+cfg.Duration)
	deadline := windowEnd.Add(cfg.Drain)
	for _, p := range r.pubs {
		writers.Go(func() { r.publish(ctx, p, t0, pubStop, deadline) })
	}
	finish := func() {
		select {
		case <-pubStop:
		default:
			close(pubStop)
		}
		writers.Wait()
		r.stopping.Store(true)
		closeAll(all)
		readers.Wait()
	}

	if !sleepUntil(ctx, windowStart) {
		finish()
		return nil, ctx.Err()
	}
	s0, err0 := probe.sample()
	rx0 := r.received.Load()
	r.measuring.Store(true)
	r.phase.Store("measuring")
	sleepUntil(ctx, windowEnd) // an interrupt ends the window early
	rx1 := r.received.Load()
	s1, err1 := probe.sample()
	r.measuring.Store(false)
	r.phase.Store("draining")
	close(pubStop)
	writers.Wait()

	// Drain: wait for what was published to arrive.
	drainEnd := time.Now().Add(cfg.Drain)
	for r.received.Load() < r.expected() && time.Now().Before(drainEnd) && ctx.Err() == nil {
		alive := false
		for _, s := range r.subs {
			if !s.dead.Load() {
				alive = true
				break
			}
		}
		if !alive {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	finish()
	if err := cmpErr(err0, err1); err != nil {
		return nil, err
	}

	res := &Result{
		Bench: "fanout", Target: cfg.Target, URL: cfg.URL,
		Subscribers: cfg.Subscribers, Publishers: cfg.Publishers, Topics: cfg.Topics,
		PayloadBytes: cfg.PayloadBytes, Rate: cfg.Rate, Batch: cfg.Batch,
		WarmupS: cfg.Warmup.Seconds(), DurationS: round3(s1.self.At.Sub(s0.self.At).Seconds()),
		Published: r.totalPublished(), Expected: r.expected(), Delivered: r.received.Load(),
		DeliveredInWindow: rx1 - rx0,
	}
	if cfg.Rate == 0 {
		res.Window = cfg.Window
	}
	res.Lost = res.Expected - res.Delivered
	if res.DurationS > 0 {
		res.DeliveredPerS = float64(res.DeliveredInWindow) / res.DurationS
	}
	h := NewHistogram()
	for _, s := range r.subs {
		h.Merge(s.hist)
	}
	res.Latency = h.Summary()
	if n := r.badStamp.Load(); n > 0 {
		r.errs.add(fmt.Sprintf("%d messages without a readable send stamp", n))
	}
	r.errs.fill(res)
	if base.serverOK {
		res.Server = procStats(cfg.ServerPID, base.server, s0.server, s1.server, res.DeliveredInWindow, n)
		res.Server.RSSEnd = afterConnect.server.RSS
		res.Server.RSSPerConn = float64(afterConnect.server.RSS-base.server.RSS) / float64(n)
	}
	res.Load = procStats(os.Getpid(), base.self, s0.self, s1.self, res.DeliveredInWindow, 0)
	noise(res, s0, s1)
	return res, nil
}

func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// readSub is a subscriber's read loop: split, recognise messages by prefix,
// read the send stamp, count once per frame.
func (r *fanoutRun) readSub(s *fanoutSub) {
	bg := context.Background()
	for {
		frame, err := s.c.read(bg)
		if err != nil {
			s.dead.Store(true)
			if !r.stopping.Load() {
				r.errs.add("subscriber: " + closeStatus(err))
			}
			return
		}
		now := r.clock.Now()
		measuring := r.measuring.Load()
		var n int64
		for obj := range splitObjects(frame) {
			switch string(objType(obj)) {
			case "message":
				n++
				if measuring {
					if st, ok := PayloadStamp(obj); ok {
						s.hist.Record(now - st)
					} else {
						r.badStamp.Add(1)
					}
				}
			case "error":
				r.errs.add("subscriber: " + serverError(obj).Error())
			}
		}
		if n > 0 {
			s.received.Add(n)
			r.received.Add(n)
		}
	}
}

// readPub reads a publisher's acks and errors.
func (r *fanoutRun) readPub(p *fanoutPub) {
	bg := context.Background()
	for {
		frame, err := p.c.read(bg)
		if err != nil {
			if !r.stopping.Load() {
				r.errs.add("publisher: " + closeStatus(err))
			}
			p.outstanding.Store(false)
			select {
			case p.acked <- struct{}{}:
			default:
			}
			return
		}
		for obj := range splitObjects(frame) {
			t := objType(obj)
			if string(t) == "error" {
				r.errs.add("publisher: " + serverError(obj).Error())
			}
			if (string(t) == "ack" || string(t) == "error") && bytes.HasPrefix(field(obj, idKey), []byte("p")) {
				p.outstanding.Store(false)
				select {
				case p.acked <- struct{}{}:
				default:
				}
			}
		}
	}
}

// publish is a publisher's write loop until stop is closed or deadline.
func (r *fanoutRun) publish(ctx context.Context, p *fanoutPub, t0 time.Time, stop <-chan struct{}, deadline time.Time) {
	cfg := &r.cfg
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(cfg.Batch*cfg.Publishers) / cfg.Rate)
	}
	checkEvery := 1
	if cfg.Window > 0 {
		checkEvery = max(1, cfg.Window/(10*cfg.Batch))
	}
	stopped := func() bool {
		select {
		case <-stop:
			return true
		case <-ctx.Done():
			return true
		default:
			return time.Now().After(deadline)
		}
	}
	buf := make([]byte, 0, cfg.Batch*(cfg.PayloadBytes+80))
	var seq int64 // publishes by this publisher
	for frame := int64(0); ; frame++ {
		if stopped() {
			return
		}
		switch {
		case interval > 0:
			if !sleepUntil(ctx, t0.Add(time.Duration(frame)*interval)) {
				return
			}
		case cfg.Window > 0 && frame%int64(checkEvery) == 0:
			for r.maxLag() > int64(cfg.Window) {
				if stopped() {
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		buf = buf[:0]
		for i := range cfg.Batch {
			seq++
			withID := cfg.AckEvery > 0 && seq%int64(cfg.AckEvery) == 0
			if withID && p.outstanding.Load() {
				// Wait for the previous id's ack before this one.
				timer := time.NewTimer(time.Until(deadline))
				select {
				case <-p.acked:
				case <-stop:
				case <-ctx.Done():
				case <-timer.C:
				}
				timer.Stop()
				if p.outstanding.Load() {
					return
				}
			}
			if i > 0 {
				buf = append(buf, '\n')
			}
			topic := (p.idx + int(seq)) % cfg.Topics
			buf = append(buf, `{"type":"publish",`...)
			if withID {
				select { // drop a stale signal
				case <-p.acked:
				default:
				}
				p.outstanding.Store(true)
				buf = append(buf, `"id":"p`...)
				buf = strconv.AppendInt(buf, seq, 10)
				buf = append(buf, `",`...)
			}
			buf = append(buf, `"topic":"`...)
			buf = append(buf, r.topics[topic]...)
			buf = append(buf, `","payload":`...)
			buf = AppendPayload(buf, r.clock.Now(), cfg.PayloadBytes)
			buf = append(buf, '}')
			r.published[topic].Add(1)
		}
		if err := p.c.write(buf); err != nil {
			if !r.stopping.Load() {
				r.errs.add("publisher write: " + closeStatus(err))
			}
			return
		}
	}
}
