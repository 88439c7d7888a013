package hub

import (
	"math/bits"
	"time"
)

// Metrics are counted where the hub already holds a lock or owns the data,
// without atomics on the hot path: fan-out sizes and request latencies per
// session (under session.mu, folded into per-shard totals when a session
// goes), slow consumers on their rare path. Hub.Metrics reads them on
// demand (a Prometheus scrape).

// Fan-out buckets are powers of two so that an observation costs a
// bits.Len: bucket i counts fan-outs n with 2^(i-1) ≤ n < 2^i (bucket 0:
// n == 0); the last bucket holds everything larger.
const fanBuckets = 16

// FanoutBounds are the upper bounds (inclusive) of the fan-out histogram's
// buckets before the last: 0, 1, 3, 7, …, 16383.
var FanoutBounds = func() []float64 {
	b := make([]float64, fanBuckets-1)
	for i := range b {
		b[i] = float64(uint64(1)<<i - 1)
	}
	return b
}()

// LatencyBounds are the upper bounds, in seconds, of the request latency
// histogram's buckets.
var LatencyBounds = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// SessionSizeBounds are the upper bounds of the histogram of connections
// per session.
var SessionSizeBounds = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}

// sessMetrics are one session's counters, guarded by session.mu.
type sessMetrics struct {
	fan    [fanBuckets]uint64
	fanSum uint64
	req    *latCounters // allocated by the first reply or timeout
}

type latCounters struct {
	counts   [17]uint64 // len(LatencyBounds)+1
	sumNS    uint64
	timeouts uint64
}

func (m *sessMetrics) observeFanout(n int) {
	i := min(bits.Len(uint(n)), fanBuckets-1)
	m.fan[i]++
	m.fanSum += uint64(n)
}

func (m *sessMetrics) lat() *latCounters {
	if m.req == nil {
		m.req = new(latCounters)
	}
	return m.req
}

// observeRequest records the time from a request to its first reply.
func (m *sessMetrics) observeRequest(d time.Duration) {
	l := m.lat()
	secs := d.Seconds()
	i := 0
	for i < len(LatencyBounds) && secs > LatencyBounds[i] {
		i++
	}
	l.counts[i]++
	l.sumNS += uint64(max(d, 0))
}

func (m *sessMetrics) observeTimeout() { m.lat().timeouts++ }

// add adds o's counts to m.
func (m *sessMetrics) add(o *sessMetrics) {
	for i := range o.fan {
		m.fan[i] += o.fan[i]
	}
	m.fanSum += o.fanSum
	if o.req != nil {
		l := m.lat()
		for i := range o.req.counts {
			l.counts[i] += o.req.counts[i]
		}
		l.sumNS += o.req.sumNS
		l.timeouts += o.req.timeouts
	}
}

// retire keeps the counters of a session being removed. Called with the
// shard's mu and s.mu held.
func (h *Hub) retire(s *session) {
	h.sec.retired[s.shard].add(&s.m)
}

// Histogram is a snapshot of a histogram: Counts[i] observations fell in
// bucket i (not cumulative): at most Bounds[i] and above Bounds[i-1]; the
// last count is of observations above every bound.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Sum    float64
}

// Count returns the number of observations.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Metrics are the hub's counters since it started.
type Metrics struct {
	// Fanout: connections reached by each publish and request (operator
	// publishes included).
	Fanout Histogram
	// RequestLatency: seconds from a request to its first reply.
	RequestLatency Histogram
	// RequestTimeouts: requests that got no reply in time.
	RequestTimeouts uint64
	// SessionSizes: the current sessions with connections, by their number
	// of connections (Sum: the connections in sessions).
	SessionSizes Histogram
	// SlowConsumers: connections closed because their queue overflowed;
	// QueueDrops: the objects that were still queued for them (and the one
	// that did not fit).
	SlowConsumers, QueueDrops uint64
	// ServiceConns: connections with all-sessions subscriptions now.
	ServiceConns int
}

// Metrics returns the hub's counters. It locks each session briefly (like
// Sessions): cheap enough for a scrape every few seconds, and free when
// nobody asks.
func (h *Hub) Metrics() Metrics {
	var total sessMetrics
	sizes := make([]uint64, len(SessionSizeBounds)+1)
	var members uint64
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		total.add(&h.sec.retired[i])
		for _, s := range sh.sessions {
			s.mu.Lock()
			total.add(&s.m)
			n := len(s.members)
			s.mu.Unlock()
			if n == 0 {
				continue
			}
			members += uint64(n)
			j := 0
			for j < len(SessionSizeBounds) && float64(n) > SessionSizeBounds[j] {
				j++
			}
			sizes[j]++
		}
		sh.mu.RUnlock()
	}
	m := Metrics{
		Fanout:        Histogram{Bounds: FanoutBounds, Counts: total.fan[:], Sum: float64(total.fanSum)},
		SessionSizes:  Histogram{Bounds: SessionSizeBounds, Counts: sizes, Sum: float64(members)},
		SlowConsumers: h.sec.slowConsumers.Load(),
		QueueDrops:    h.sec.queueDrops.Load(),
	}
	lat := total.lat()
	m.RequestLatency = Histogram{Bounds: LatencyBounds, Counts: lat.counts[:], Sum: float64(lat.sumNS) / 1e9}
	m.RequestTimeouts = lat.timeouts
	if p := h.sec.services.Load(); p != nil {
		m.ServiceConns = len(*p)
	}
	return m
}
