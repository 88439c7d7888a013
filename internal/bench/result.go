package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
)

// Result is what one run measured. Fields that do not apply to a run's kind
// are left out of the JSON.
type Result struct {
	Bench  string `json:"bench"`  // fanout, idle or reqrep
	Target string `json:"target"` // a label: switchboard, relay, …
	URL    string `json:"url"`

	// The load.
	Subscribers  int     `json:"subscribers,omitempty"`
	Publishers   int     `json:"publishers,omitempty"`
	Topics       int     `json:"topics,omitempty"`
	PayloadBytes int     `json:"payload_bytes,omitempty"`
	Rate         float64 `json:"rate,omitempty"` // publishes or requests per second; 0: as fast as possible
	Batch        int     `json:"batch,omitempty"`
	Window       int     `json:"window,omitempty"`
	Connections  int     `json:"connections,omitempty"`
	Responders   int     `json:"responders,omitempty"`
	Requesters   int     `json:"requesters,omitempty"`
	WarmupS      float64 `json:"warmup_s,omitempty"`
	DurationS    float64 `json:"duration_s"` // the measured window, as it happened

	// Fan-out counts over the whole run (warm-up and drain included).
	Published int64 `json:"published,omitempty"`
	Expected  int64 `json:"expected,omitempty"` // deliveries the published messages owe
	Delivered int64 `json:"delivered,omitempty"`
	Lost      int64 `json:"lost"` // Expected - Delivered after the drain (reqrep: requests without a response; idle: connections that ended early)

	// Rates over the measured window.
	DeliveredInWindow int64   `json:"delivered_in_window,omitempty"`
	DeliveredPerS     float64 `json:"delivered_per_s,omitempty"`
	Requests          int64   `json:"requests,omitempty"`
	RequestsPerS      float64 `json:"requests_per_s,omitempty"`

	// Publish→receive (fanout) or request→response (reqrep) latency of the
	// messages received in the measured window.
	Latency *LatencySummary `json:"latency,omitempty"`

	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`

	// Idle: connections opened and still open after the hold.
	Connected int     `json:"connected,omitempty"`
	Alive     int     `json:"alive,omitempty"`
	ConnectS  float64 `json:"connect_s,omitempty"`

	Server *ProcStats `json:"server,omitempty"` // given a server PID
	Load   *ProcStats `json:"load,omitempty"`   // this process

	// Noise: CPU-seconds the whole machine was busy in the window, and the
	// part neither the server nor this process used (other processes,
	// kernel work not charged to a process). Given a server PID.
	MachineBusyS float64 `json:"machine_busy_cpu_s,omitempty"`
	OtherCPUS    float64 `json:"other_cpu_s,omitempty"`

	Floor *Result `json:"floor,omitempty"` // the same load against the relay floor
	Ratio *Ratio  `json:"ratio,omitempty"` // this run ÷ the floor
}

// ProcStats is one process's cost during a run, from /proc.
type ProcStats struct {
	PID        int     `json:"pid"`
	CPUS       float64 `json:"cpu_s"`                  // in the measured window (idle: connecting)
	CPUSPer1M  float64 `json:"cpu_s_per_1m,omitempty"` // per million deliveries (reqrep: requests)
	SettleCPUS float64 `json:"settle_cpu_s,omitempty"` // idle: after the last ack, during the settle time
	RSSStart   int64   `json:"rss_start_bytes"`        // before connecting
	RSSEnd     int64   `json:"rss_bytes"`              // after connecting (idle: after settling)
	RSSPerConn float64 `json:"rss_per_conn_bytes,omitempty"`
}

// Ratio compares a run with its floor: above 1 means costlier (CPU, RSS,
// latency) or, for throughput, faster.
type Ratio struct {
	CPUPer1M      float64 `json:"cpu_s_per_1m,omitempty"`
	DeliveredPerS float64 `json:"delivered_per_s,omitempty"`
	P99           float64 `json:"p99,omitempty"`
	RSSPerConn    float64 `json:"rss_per_conn,omitempty"`
	ConnectCPU    float64 `json:"connect_cpu_s,omitempty"`
}

// Compare sets r.Floor and r.Ratio.
func (r *Result) Compare(floor *Result) {
	r.Floor = floor
	q := func(a, b float64) float64 {
		if a == 0 || b == 0 {
			return 0
		}
		return round3(a / b)
	}
	ra := &Ratio{DeliveredPerS: q(r.DeliveredPerS, floor.DeliveredPerS)}
	if r.Latency != nil && floor.Latency != nil {
		ra.P99 = q(r.Latency.P99Ms, floor.Latency.P99Ms)
	}
	if r.Server != nil && floor.Server != nil {
		ra.CPUPer1M = q(r.Server.CPUSPer1M, floor.Server.CPUSPer1M)
		ra.RSSPerConn = q(r.Server.RSSPerConn, floor.Server.RSSPerConn)
		if r.Bench == "idle" {
			ra.ConnectCPU = q(r.Server.CPUS, floor.Server.CPUS)
		}
	}
	r.Ratio = ra
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// WriteJSON writes r as one line.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteSummary writes a human summary of r (and of its floor).
func (r *Result) WriteSummary(w io.Writer) {
	r.summary(w, "")
	if r.Floor != nil {
		fmt.Fprintln(w)
		r.Floor.summary(w, "floor ")
		ra := r.Ratio
		if r.Bench == "idle" {
			fmt.Fprintf(w, "ratio to the floor: server cpu to connect %s  rss/conn %s\n", ratioStr(ra.ConnectCPU), ratioStr(ra.RSSPerConn))
		} else {
			fmt.Fprintf(w, "ratio to the floor: server cpu/1M %s  msg/s %s  p99 %s  rss/conn %s\n",
				ratioStr(ra.CPUPer1M), ratioStr(ra.DeliveredPerS), ratioStr(ra.P99), ratioStr(ra.RSSPerConn))
		}
	}
}

func ratioStr(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

func (r *Result) summary(w io.Writer, prefix string) {
	fmt.Fprintf(w, "%s%s against %s (%s)\n", prefix, r.Bench, r.Target, r.URL)
	switch r.Bench {
	case "fanout":
		rate := "max"
		if r.Rate > 0 {
			rate = fmt.Sprintf("%g msg/s", r.Rate)
		}
		fmt.Fprintf(w, "  load: %d publishers → %d subscribers, %d topics, %d-byte payloads, rate %s, %.1f s measured\n",
			r.Publishers, r.Subscribers, r.Topics, r.PayloadBytes, rate, r.DurationS)
		fmt.Fprintf(w, "  delivered: %s msg/s (%d in the window); published %d, delivered %d of %d, lost %d\n",
			si(r.DeliveredPerS), r.DeliveredInWindow, r.Published, r.Delivered, r.Expected, r.Lost)
	case "reqrep":
		fmt.Fprintf(w, "  load: %d requesters, %d responders, %d-byte payloads, %.1f s measured\n", r.Requesters, r.Responders, r.PayloadBytes, r.DurationS)
		fmt.Fprintf(w, "  requests: %s/s (%d in the window), unanswered %d\n", si(r.RequestsPerS), r.Requests, r.Lost)
	case "idle":
		fmt.Fprintf(w, "  connections: %d wanted, %d connected in %.2f s, %d alive at the end\n", r.Connections, r.Connected, r.ConnectS, r.Alive)
	}
	if l := r.Latency; l != nil && l.Count > 0 {
		fmt.Fprintf(w, "  latency: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms  (%d samples)\n",
			l.P50Ms, l.P90Ms, l.P99Ms, l.P999Ms, l.MaxMs, l.Count)
	}
	for _, p := range []struct {
		name string
		s    *ProcStats
	}{{"server", r.Server}, {"load tool", r.Load}} {
		if p.s == nil {
			continue
		}
		s := p.s
		switch r.Bench {
		case "idle":
			fmt.Fprintf(w, "  %s (pid %d): %.2f cpu-s to connect (+%.2f settling), rss %s → %s, %s per connection\n",
				p.name, s.PID, s.CPUS, s.SettleCPUS, bytesStr(float64(s.RSSStart)), bytesStr(float64(s.RSSEnd)), bytesStr(s.RSSPerConn))
		default:
			fmt.Fprintf(w, "  %s (pid %d): %.2f cpu-s, %.3f cpu-s per 1M, rss %s\n", p.name, s.PID, s.CPUS, s.CPUSPer1M, bytesStr(float64(s.RSSEnd)))
		}
	}
	if r.MachineBusyS > 0 {
		fmt.Fprintf(w, "  machine: %.2f cpu-s busy in the window, %.2f of them neither the server's nor the load tool's (noise)\n", r.MachineBusyS, r.OtherCPUS)
	}
	fmt.Fprintf(w, "  errors: %d", r.Errors)
	if len(r.ErrorSamples) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(r.ErrorSamples, "; "))
	}
	fmt.Fprintln(w)
}

func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.1f", v)
}

func bytesStr(v float64) string {
	switch {
	case math.Abs(v) >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case math.Abs(v) >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}

// errorLog counts errors and keeps the first few distinct descriptions.
type errorLog struct {
	mu      sync.Mutex
	n       int64
	samples []string
}

func (e *errorLog) add(desc string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.samples) < 5 {
		for _, s := range e.samples {
			if s == desc {
				return
			}
		}
		e.samples = append(e.samples, desc)
	}
}

func (e *errorLog) count() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

func (e *errorLog) fill(r *Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.Errors, r.ErrorSamples = e.n, append([]string(nil), e.samples...)
}

// procProbe samples a process (the server) and this process.
type procProbe struct {
	pid   int   // 0: no server sampling
	extra []int // more server processes, summed with pid
}

func newProbe(c *Common) procProbe { return procProbe{c.ServerPID, c.ExtraPIDs} }

type probeSample struct {
	server, self ProcSample
	serverOK     bool
	machine      time.Duration // busy CPU time of the machine; 0 if unknown
}

func (p procProbe) sample() (probeSample, error) {
	var s probeSample
	var err error
	if p.pid > 0 {
		if s.server, err = ReadProc(p.pid); err != nil {
			return s, err
		}
		for _, pid := range p.extra {
			x, err := ReadProc(pid)
			if err != nil {
				return s, err
			}
			s.server.CPU += x.CPU
			s.server.RSS += x.RSS
		}
		s.serverOK = true
	}
	s.self, err = ReadProc(os.Getpid())
	s.machine, _ = ReadMachineBusy()
	return s, err
}

// noise fills the machine-wide CPU figures of r from the window's samples.
func noise(r *Result, a, b probeSample) {
	if a.machine == 0 || b.machine == 0 || r.Server == nil || r.Load == nil {
		return
	}
	r.MachineBusyS = round3((b.machine - a.machine).Seconds())
	r.OtherCPUS = round3(r.MachineBusyS - r.Server.CPUS - r.Load.CPUS)
}

// stats turns two samples into costs; per is the number of deliveries (or
// requests) the CPU is divided by, conns the number of connections the RSS
// growth is divided by (rssBase is the sample before connecting).
func procStats(pid int, rssBase, a, b ProcSample, per int64, conns int) *ProcStats {
	s := &ProcStats{PID: pid, CPUS: round3((b.CPU - a.CPU).Seconds()), RSSStart: rssBase.RSS, RSSEnd: b.RSS}
	if per > 0 {
		s.CPUSPer1M = math.Round((b.CPU-a.CPU).Seconds()/float64(per)*1e6*1e4) / 1e4
	}
	if conns > 0 {
		s.RSSPerConn = math.Round(float64(b.RSS-rssBase.RSS) / float64(conns))
	}
	return s
}

// progress prints one line a second to w until stop is closed.
func progress(w io.Writer, stop <-chan struct{}, line func(elapsed time.Duration) string) func() {
	done := make(chan struct{})
	if w == nil {
		close(done)
		return func() {}
	}
	start := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintln(w, line(time.Since(start)))
			}
		}
	}()
	return func() { <-done }
}
