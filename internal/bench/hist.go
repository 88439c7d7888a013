package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram counts durations in fixed log-linear buckets (the HDR histogram
// idea without the dependency): values below 64 ns have a bucket each, and
// every power of two above is split into 32 equal buckets, so a reported
// percentile is within 1/32 (about 3 %) above the true value. Values from 0
// to about 73 minutes are kept; larger ones land in the last bucket.
//
// A Histogram is not safe for concurrent use: each reader goroutine keeps its
// own and they are merged at the end.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	min    int64
	max    int64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits // exact buckets below this value
	histHalf    = histSub / 2      // buckets per power of two above it
	histMaxBits = 42               // 2^42 ns ≈ 73 min
	histBuckets = histSub + (histMaxBits-histSubBits+1)*histHalf
)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{min: math.MaxInt64} }

func bucketOf(v int64) int {
	if v < histSub {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	e := bits.Len64(uint64(v)) - histSubBits // ≥ 1
	i := histSub + (e-1)*histHalf + int(uint64(v)>>e) - histHalf
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// bucketHigh returns the largest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := (i-histSub)/histHalf + 1
	m := int64((i-histSub)%histHalf + histHalf)
	return (m+1)<<e - 1
}

// Record adds one duration in nanoseconds; negative values count as 0.
func (h *Histogram) Record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[bucketOf(ns)]++
	h.n++
	h.sum += float64(ns)
	if ns < h.min {
		h.min = ns
	}
	if ns > h.max {
		h.max = ns
	}
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest recorded value (0 when empty).
func (h *Histogram) Max() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.max)
}

// Mean returns the mean of the recorded values (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the value at quantile q (0 < q ≤ 1): the upper bound of
// the bucket holding the ⌈q·n⌉-th smallest value, clamped to the recorded
// minimum and maximum. 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(bucketHigh(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// LatencySummary is a histogram's digest as reported in JSON, in milliseconds.
type LatencySummary struct {
	Count  uint64  `json:"count"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// Summary digests h.
func (h *Histogram) Summary() *LatencySummary {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return &LatencySummary{
		Count:  h.n,
		P50Ms:  ms(h.Quantile(0.50)),
		P90Ms:  ms(h.Quantile(0.90)),
		P99Ms:  ms(h.Quantile(0.99)),
		P999Ms: ms(h.Quantile(0.999)),
		MaxMs:  ms(h.Max()),
		MeanMs: ms(h.Mean()),
	}
}
