package client

import (
	"math/rand/v2"
	"time"
)

// backoff returns how long to wait before reconnect attempt n (0 for the
// first attempt after a connection was lost): exponential from MinBackoff,
// capped at MaxBackoff, with full jitter unless DisableJitter, plus
// RateLimitBackoff when the server asked for a long backoff.
func (o *Options) backoff(n int, long bool) time.Duration {
	d := o.MinBackoff
	for i := 0; i < n && d < o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.MaxBackoff)
	if !o.DisableJitter {
		d = rand.N(d + 1)
	}
	if long {
		d += o.RateLimitBackoff
	}
	return d
}
