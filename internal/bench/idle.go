package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// IdleConfig describes an idle run: open Connections connections, each says
// hello and subscribes to one topic, then they stay idle for Duration (the
// hold). The server's CPU time to accept, hello and subscribe them all, and
// its RSS growth per connection at the end of the hold, are reported.
type IdleConfig struct {
	Common

	Connections int           // default 10000; bounded by the open-files limit
	Topics      int           // connection i subscribes to topic i mod Topics; default 1
	Settle      time.Duration // after the last ack, before the hold; default 2 s
}

// fdReserve is how many open files a run keeps for itself beyond its
// connections.
const fdReserve = 64

func (c *IdleConfig) normalize() error {
	if err := c.Common.normalize(); err != nil {
		return err
	}
	if c.Connections == 0 {
		c.Connections = 10000
	}
	if c.Topics == 0 {
		c.Topics = 1
	}
	if c.Settle == 0 {
		c.Settle = 2 * time.Second
	}
	c.Settle = min(max(c.Settle, 0), time.Minute)
	switch {
	case c.Connections < 0 || c.Connections > MaxConnections:
		return fmt.Errorf("bench: %d connections: want 1 to %d", c.Connections, MaxConnections)
	case c.Topics < 1:
		return fmt.Errorf("bench: topics: want at least 1")
	}
	return checkFiles(c.Connections)
}

// checkFiles refuses a run that would not fit the open-files limit.
func checkFiles(conns int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil
	}
	if uint64(conns+fdReserve) > lim.Cur {
		return fmt.Errorf("bench: %d connections do not fit the open-files limit %d (at most %d)", conns, lim.Cur, int(lim.Cur)-fdReserve)
	}
	return nil
}

// Idle runs an idle-connections load against cfg.URL.
func Idle(ctx context.Context, cfg IdleConfig) (*Result, error) {
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
	d := newDialer(u, cfg.PerSourceIP)
	conns := make([]*conn, cfg.Connections)
	var connected, alive atomic.Int64
	var stopping atomic.Bool
	var errs errorLog
	phase := atomic.Value{}
	phase.Store("connecting")
	stopProgress := make(chan struct{})
	waitProgress := progress(cfg.Progress, stopProgress, func(el time.Duration) string {
		return fmt.Sprintf("[%s] %4.0fs %s: connected %d/%d alive %d errors %d",
			cfg.Target, el.Seconds(), phase.Load(), connected.Load(), cfg.Connections, alive.Load(), errs.count())
	})
	defer func() { close(stopProgress); waitProgress() }()

	var readers sync.WaitGroup
	start := time.Now()
	setupCtx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	err = connectAll(setupCtx, cfg.Connections, cfg.DialConcurrency, &connected, func(ctx context.Context, i int) error {
		c, err := d.dial(ctx, i)
		if err != nil {
			return err
		}
		conns[i] = c
		if err := c.handshake(ctx, "idle-"+strconv.Itoa(i), cfg.Session, "bench.idle"+strconv.Itoa(i%cfg.Topics)); err != nil {
			return err
		}
		alive.Add(1)
		readers.Go(func() {
			defer alive.Add(-1)
			for {
				if _, err := c.read(context.Background()); err != nil {
					if !stopping.Load() {
						errs.add("idle connection: " + closeStatus(err))
					}
					return
				}
			}
		})
		return nil
	})
	cancel()
	connectTime := time.Since(start)
	afterConnect, errA := probe.sample()
	finish := func() {
		stopping.Store(true)
		closeAll(conns)
		readers.Wait()
	}
	if err != nil {
		finish()
		return nil, fmt.Errorf("bench: connecting: %w", err)
	}
	phase.Store("settling")
	sleepUntil(ctx, time.Now().Add(cfg.Settle))
	phase.Store("holding")
	sleepUntil(ctx, time.Now().Add(cfg.Duration))
	end, errB := probe.sample()
	res := &Result{
		Bench: "idle", Target: cfg.Target, URL: cfg.URL,
		Connections: cfg.Connections, Topics: cfg.Topics,
		DurationS: round3(end.self.At.Sub(afterConnect.self.At).Seconds()),
		Connected: int(connected.Load()), Alive: int(alive.Load()),
		ConnectS: round3(connectTime.Seconds()),
	}
	finish()
	if err := cmpErr(errA, errB); err != nil {
		return nil, err
	}
	errs.fill(res)
	res.Lost = int64(res.Connected - res.Alive)
	if base.serverOK {
		s := procStats(cfg.ServerPID, base.server, base.server, afterConnect.server, 0, 0)
		s.SettleCPUS = round3((end.server.CPU - afterConnect.server.CPU).Seconds())
		s.RSSEnd = end.server.RSS
		s.RSSPerConn = float64(end.server.RSS-base.server.RSS) / float64(cfg.Connections)
		res.Server = s
	}
	res.Load = procStats(os.Getpid(), base.self, base.self, afterConnect.self, 0, 0)
	res.Load.RSSEnd = end.self.RSS
	res.Load.RSSPerConn = float64(end.self.RSS-base.self.RSS) / float64(cfg.Connections)
	noise(res, base, afterConnect) // while connecting
	return res, nil
}
