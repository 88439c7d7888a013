package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ReqRepConfig describes a request/reply run: Responders subscribe to one
// topic and answer every request they get; each of Requesters sends a
// request, waits for its response, and sends the next (closed loop), paced
// to Rate over all requesters when it is set. Only Switchboard speaks
// request/reply: the relay floor does not.
type ReqRepConfig struct {
	Common

	Responders   int     // default 1
	Requesters   int     // default 10
	PayloadBytes int     // default 64
	Rate         float64 // requests per second over all requesters; 0: closed loop
	Drain        time.Duration
}

func (c *ReqRepConfig) normalize() error {
	if err := c.Common.normalize(); err != nil {
		return err
	}
	if c.Responders == 0 {
		c.Responders = 1
	}
	if c.Requesters == 0 {
		c.Requesters = 10
	}
	if c.PayloadBytes == 0 {
		c.PayloadBytes = 64
	}
	if c.Drain <= 0 {
		c.Drain = DefaultDrain
	}
	c.Drain = min(c.Drain, time.Minute)
	switch {
	case c.Responders < 0 || c.Requesters < 0 || c.Responders+c.Requesters > MaxConnections:
		return fmt.Errorf("bench: responders and requesters: want 1 to %d in all", MaxConnections)
	case c.PayloadBytes < MinPayload || c.PayloadBytes > MaxPayload:
		return fmt.Errorf("bench: payload %d bytes: want %d to %d", c.PayloadBytes, MinPayload, MaxPayload)
	case c.Rate < 0 || c.Rate > MaxRate:
		return fmt.Errorf("bench: rate %g: want 0 (closed loop) to %g", c.Rate, float64(MaxRate))
	}
	return checkFiles(c.Responders + c.Requesters)
}

const rpcTopic = "bench.rpc"

// ReqRep runs a request/reply load against cfg.URL.
func ReqRep(ctx context.Context, cfg ReqRepConfig) (*Result, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	u, err := CheckURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	probe := newProbe(&cfg.Common)
	base, err := probe.sample()
	if err != nil {
		return nil, err
	}
	clock := NewClock()
	d := newDialer(u, cfg.PerSourceIP)
	n := cfg.Responders + cfg.Requesters
	conns := make([]*conn, n)
	var connected, sent, answered atomic.Int64
	var measuring, stopping atomic.Bool
	var errs errorLog
	stopProgress := make(chan struct{})
	waitProgress := progress(cfg.Progress, stopProgress, func(el time.Duration) string {
		return fmt.Sprintf("[%s] %4.0fs connected %d/%d requests %d answered %d errors %d",
			cfg.Target, el.Seconds(), connected.Load(), n, sent.Load(), answered.Load(), errs.count())
	})
	defer func() { close(stopProgress); waitProgress() }()
	setupCtx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	err = connectAll(setupCtx, n, cfg.DialConcurrency, &connected, func(ctx context.Context, i int) error {
		c, err := d.dial(ctx, i)
		if err != nil {
			return err
		}
		conns[i] = c
		if i < cfg.Responders {
			return c.handshake(ctx, "responder-"+strconv.Itoa(i), cfg.Session, rpcTopic)
		}
		return c.handshake(ctx, "requester-"+strconv.Itoa(i-cfg.Responders), cfg.Session)
	})
	cancel()
	if err != nil {
		closeAll(conns)
		return nil, fmt.Errorf("bench: connecting: %w", err)
	}

	var wg sync.WaitGroup
	for _, c := range conns[:cfg.Responders] {
		wg.Go(func() {
			if err := respond(c); err != nil && !stopping.Load() {
				errs.add("responder: " + closeStatus(err))
			}
		})
	}
	stop := make(chan struct{})
	hists := make([]*Histogram, cfg.Requesters)
	var reqWG sync.WaitGroup
	t0 := time.Now()
	windowStart, windowEnd := t0.Add(cfg.Warmup), t0.Add(cfg.Warmup+cfg.Duration)
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(cfg.Requesters) / cfg.Rate)
	}
	for i, c := range conns[cfg.Responders:] {
		h := NewHistogram()
		hists[i] = h
		reqWG.Go(func() {
			buf := make([]byte, 0, cfg.PayloadBytes+96)
			for k := int64(0); ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				if interval > 0 && !sleepUntil(ctx, t0.Add(time.Duration(k)*interval)) {
					return
				}
				id := "q" + strconv.FormatInt(k, 10)
				buf = append(buf[:0], `{"type":"request","id":"`...)
				buf = append(buf, id...)
				buf = append(buf, `","topic":"`+rpcTopic+`","payload":`...)
				buf = AppendPayload(buf, clock.Now(), cfg.PayloadBytes)
				buf = append(buf, '}')
				if err := c.write(buf); err != nil {
					if !stopping.Load() {
						errs.add("requester write: " + closeStatus(err))
					}
					return
				}
				sent.Add(1)
				if err := awaitResponse(c, id, func(obj []byte) {
					now := clock.Now()
					answered.Add(1)
					if measuring.Load() {
						if st, ok := PayloadStamp(obj); ok {
							h.Record(now - st)
						}
					}
				}); err != nil {
					if !stopping.Load() {
						errs.add("requester: " + err.Error())
					}
					if _, ok := err.(serverErr); !ok {
						return
					}
				}
			}
		})
	}
	finish := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		// Requesters finish their request in flight; the drain bounds that.
		done := make(chan struct{})
		go func() { reqWG.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(cfg.Drain):
		}
		stopping.Store(true)
		closeAll(conns)
		<-done
		wg.Wait()
	}
	if !sleepUntil(ctx, windowStart) {
		finish()
		return nil, ctx.Err()
	}
	s0, err0 := probe.sample()
	measuring.Store(true)
	sleepUntil(ctx, windowEnd)
	s1, err1 := probe.sample()
	measuring.Store(false)
	finish()
	if err := cmpErr(err0, err1); err != nil {
		return nil, err
	}
	res := &Result{
		Bench: "reqrep", Target: cfg.Target, URL: cfg.URL,
		Responders: cfg.Responders, Requesters: cfg.Requesters, PayloadBytes: cfg.PayloadBytes, Rate: cfg.Rate,
		WarmupS: cfg.Warmup.Seconds(), DurationS: round3(s1.self.At.Sub(s0.self.At).Seconds()),
		Lost: sent.Load() - answered.Load(),
	}
	h := NewHistogram()
	for _, x := range hists {
		h.Merge(x)
	}
	res.Requests = int64(h.Count()) // answered in the window: a1-a0 give or take one per requester
	if res.DurationS > 0 {
		res.RequestsPerS = float64(res.Requests) / res.DurationS
	}
	res.Latency = h.Summary()
	errs.fill(res)
	if base.serverOK {
		res.Server = procStats(cfg.ServerPID, base.server, s0.server, s1.server, res.Requests, 0)
	}
	res.Load = procStats(os.Getpid(), base.self, s0.self, s1.self, res.Requests, 0)
	noise(res, s0, s1)
	return res, nil
}

// serverErr is an error object the server answered a request with: the
// requester goes on.
type serverErr struct{ error }

// awaitResponse reads until the response or error with id arrives.
func awaitResponse(c *conn, id string, onResponse func(obj []byte)) error {
	for {
		frame, err := c.read(context.Background())
		if err != nil {
			return fmt.Errorf("%s", closeStatus(err))
		}
		for obj := range splitObjects(frame) {
			t := objType(obj)
			if string(field(obj, idKey)) != id {
				continue
			}
			switch string(t) {
			case "response":
				onResponse(obj)
				return nil
			case "error":
				return serverErr{serverError(obj)}
			}
		}
	}
}

// respond answers every request a responder receives by echoing its
// payload, all answers to one frame in one frame.
func respond(c *conn) error {
	var out []byte
	for {
		frame, err := c.read(context.Background())
		if err != nil {
			return err
		}
		out = out[:0]
		for obj := range splitObjects(frame) {
			if string(objType(obj)) != "message" {
				continue
			}
			rt := field(obj, replyToKey)
			i := bytes.Index(obj, payloadKey)
			if rt == nil || i < 0 {
				continue
			}
			p := obj[i+len(payloadKey)-1:] // from the opening quote
			j := bytes.IndexByte(p[1:], '"')
			if j < 0 {
				continue
			}
			if len(out) > 0 {
				out = append(out, '\n')
			}
			out = append(out, `{"type":"reply","reply_to":"`...)
			out = append(out, rt...)
			out = append(out, `","payload":`...)
			out = append(out, p[:j+2]...)
			out = append(out, '}')
		}
		if len(out) > 0 {
			if err := c.write(out); err != nil {
				return err
			}
		}
	}
}
