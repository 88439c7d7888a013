package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Limits that keep every run bounded.
const (
	MaxDuration    = 10 * time.Minute
	MaxConnections = 100000 // further bounded by the open-files limit
	MaxRate        = 10e6
	MaxBatch       = 1000
)

// Defaults.
const (
	DefaultDuration        = 10 * time.Second
	DefaultWarmup          = 2 * time.Second
	DefaultDrain           = 5 * time.Second
	DefaultSetupTimeout    = 2 * time.Minute
	DefaultDialConcurrency = 32
	DefaultSession         = "bench"
	DefaultWindow          = 1000
	DefaultAckEvery        = 100
)

// Common is what every kind of run shares.
type Common struct {
	URL    string // ws://127.0.0.1:8080/ws; loopback only
	Target string // label in reports; default "switchboard"

	// ServerPID, when not 0, is the process whose CPU time and RSS are
	// reported (from /proc). ExtraPIDs are more server processes (the
	// other nodes of a cluster) counted together with it.
	ServerPID int
	ExtraPIDs []int

	Duration        time.Duration // measured window; default 10 s, at most MaxDuration
	Warmup          time.Duration // before the window; default 2 s (negative: none)
	SetupTimeout    time.Duration // for opening every connection; default 2 min
	DialConcurrency int           // connections opened at once; default 32
	PerSourceIP     int           // connections per source address; default DefaultPerSourceIP
	Session         string        // session of every connection; default "bench"

	// Progress receives one line a second while the run goes; nil: none.
	Progress io.Writer
}

func (c *Common) normalize() error {
	if c.Target == "" {
		c.Target = "switchboard"
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Duration < 0 || c.Duration > MaxDuration {
		return fmt.Errorf("bench: duration %v: want more than 0 and at most %v", c.Duration, MaxDuration)
	}
	switch {
	case c.Warmup == 0:
		c.Warmup = DefaultWarmup
	case c.Warmup < 0:
		c.Warmup = 0
	case c.Warmup > MaxDuration:
		return fmt.Errorf("bench: warm-up %v: at most %v", c.Warmup, MaxDuration)
	}
	if c.SetupTimeout <= 0 {
		c.SetupTimeout = DefaultSetupTimeout
	}
	c.SetupTimeout = min(c.SetupTimeout, MaxDuration)
	if c.DialConcurrency <= 0 {
		c.DialConcurrency = DefaultDialConcurrency
	}
	c.DialConcurrency = min(c.DialConcurrency, 1000)
	if c.PerSourceIP <= 0 {
		c.PerSourceIP = DefaultPerSourceIP
	}
	if c.Session == "" {
		c.Session = DefaultSession
	}
	return nil
}

// connectAll runs open(ctx, i) for i in [0, n) on at most conc goroutines;
// the first error cancels the rest. done counts successes.
func connectAll(ctx context.Context, n, conc int, done *atomic.Int64, open func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := open(ctx, i); err != nil {
					cancel(fmt.Errorf("connection %d: %w", i, err))
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// sleepUntil waits until t or until ctx is done; it reports whether t came.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// closeAll drops every connection (no close handshake: a load tool ends
// thousands of connections at once).
func closeAll(conns []*conn) {
	for _, c := range conns {
		if c != nil {
			c.ws.CloseNow()
		}
	}
}
