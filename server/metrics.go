package server

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// Metrics (GET /metrics, Prometheus text format; docs/operations.md lists
// them). The hot path pays nothing for them: traffic counters, fan-out
// sizes, request latencies and slow consumers are counted by the hub where
// it already holds a lock or owns the data, and read on scrape by
// hubCollector; the server's own counters (errors, closes, refusals) are on
// rare paths, and the queue → write latency is observed for one writer wake
// in 16.

// errorCodes are the protocol's error codes, indexed for counting.
var errorCodes = []protocol.Code{
	protocol.CodeConflict, protocol.CodeBadRequest, protocol.CodeNotReady, protocol.CodeUnauthorized,
	protocol.CodeForbidden, protocol.CodeNotFound, protocol.CodeTooLarge, protocol.CodeRateLimited,
	protocol.CodeTimeout, protocol.CodeNoResponders, protocol.CodeUnsupported, protocol.CodeInternal,
}

func codeIndex(c protocol.Code) int {
	for i, e := range errorCodes {
		if e == c {
			return i
		}
	}
	return len(errorCodes) - 1 // internal
}

// closeCodes are the close codes counted by name; others count as "other".
var closeCodes = []int{1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011,
	4000, 4001, 4002, 4003, 4400, 4401, 4403, 4429}

// Reasons for refusing a WebSocket upgrade or a hello.
const (
	refuseShutdown = "shutdown"
	refuseAddr     = "addr_limit"
	refuseSession  = "session_limit"
	refuseAuth     = "unauthorized"
	refuseForbid   = "forbidden"
	refuseUpgrade  = "bad_upgrade" // a foreign Origin or a broken handshake
)

type serverMetrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	errors  [12]atomic.Uint64 // by errorCodes index
	closes  *prometheus.CounterVec
	refused *prometheus.CounterVec
	latency prometheus.Histogram
	tlsLoad *prometheus.CounterVec
}

func newServerMetrics(s *Server) *serverMetrics {
	m := &serverMetrics{reg: prometheus.NewRegistry()}
	m.closes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_disconnects_total",
		Help: "WebSocket connections ended, by close code (the server's, or the client's; 1006: dropped without a close frame).",
	}, []string{"code"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_connections_refused_total",
		Help: "WebSocket upgrades and hellos refused, by reason.",
	}, []string{"reason"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "switchboard_queue_write_latency_seconds",
		Help:    "Time from an object (a publish's fan-out, an ack) reaching the queue of a connection whose writer was idle to the end of the WebSocket write that carried it; sampled, one wake in 16.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})
	m.tlsLoad = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_tls_reloads_total",
		Help: "Loads of the TLS certificate, by result (ok, error).",
	}, []string{"result"})
	for _, c := range closeCodes {
		m.closes.WithLabelValues(strconv.Itoa(c))
	}
	m.closes.WithLabelValues("other")
	for _, r := range []string{refuseShutdown, refuseAddr, refuseSession, refuseAuth, refuseForbid, refuseUpgrade} {
		m.refused.WithLabelValues(r)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.closes, m.refused, m.latency, m.tlsLoad,
		&hubCollector{s: s, m: m},
	)
	if e := s.engine; e != nil {
		m.reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "switchboard_cluster_gaps_filled_total",
				Help: "Times this cluster node missed republished messages and read them from the stream (docs/cluster.md).",
			}, func() float64 { f, _ := e.Gaps(); return float64(f) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "switchboard_cluster_gaps_lost_total",
				Help: "Times messages this cluster node missed were no longer stored: its subscribers missed them.",
			}, func() float64 { _, l := e.Gaps(); return float64(l) }),
		)
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: promLogger{s}})
	return m
}

type promLogger struct{ s *Server }

func (l promLogger) Println(v ...any) { l.s.log.Warn("metrics", "err", v) }

func (m *serverMetrics) countError(c protocol.Code) { m.errors[codeIndex(c)].Add(1) }

func (m *serverMetrics) countClose(code int) {
	for _, c := range closeCodes {
		if c == code {
			m.closes.WithLabelValues(strconv.Itoa(code)).Inc()
			return
		}
	}
	m.closes.WithLabelValues("other").Inc()
}

func (m *serverMetrics) countRefused(reason string) { m.refused.WithLabelValues(reason).Inc() }

// monoBase anchors nanotime on the monotonic clock.
var monoBase = time.Now()

// nanotime returns monotonic nanoseconds since the process started.
func nanotime() int64 { return int64(time.Since(monoBase)) }

// wakeSample times one in 16 of a connection's writer wakes: from the
// moment something reached its idle queue (the hub's Wake) to the end of
// the write that carried it. Wakes and the writer they start are
// serialized (a wake happens only when no writer runs), so the fields need
// no lock; the hot path pays a counter increment per wake, which already
// costs a goroutine start.
type wakeSample struct {
	wakes  uint32
	wokeAt int64 // nanotime of a sampled wake; 0: none pending
}

func (w *wakeSample) woken() {
	if w.wakes++; w.wakes&15 == 0 {
		w.wokeAt = nanotime()
	}
}

func (w *wakeSample) written(m *serverMetrics) {
	if w.wokeAt != 0 {
		m.latency.Observe(float64(nanotime()-w.wokeAt) / 1e9)
		w.wokeAt = 0
	}
}

// Registry returns the server's Prometheus registry (its /metrics), for
// programs that embed the server and add their own collectors.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// hubCollector reads the hub's counters on scrape.
type hubCollector struct {
	s *Server
	m *serverMetrics
}

var (
	descConns = prometheus.NewDesc("switchboard_connections",
		"WebSocket connections, welcomed or not.", nil, nil)
	descSessions = prometheus.NewDesc("switchboard_sessions",
		"Sessions in the hub, including those that only keep retained values or history.", nil, nil)
	descSessionSize = prometheus.NewDesc("switchboard_session_connections",
		"Sessions with connections, by their number of connections (a histogram over sessions; sum: connections in sessions).", nil, nil)
	descServices = prometheus.NewDesc("switchboard_service_connections",
		"Service connections with all-sessions subscriptions.", nil, nil)
	descMsgs = prometheus.NewDesc("switchboard_messages_total",
		"Protocol objects received from clients (in) and sent to them (out).", []string{"direction"}, nil)
	descBytes = prometheus.NewDesc("switchboard_bytes_total",
		"Bytes of protocol objects received from clients (in) and sent to them (out), before compression.", []string{"direction"}, nil)
	descFanout = prometheus.NewDesc("switchboard_fanout_connections",
		"Connections each publish and request reached.", nil, nil)
	descReqLatency = prometheus.NewDesc("switchboard_request_duration_seconds",
		"Time from a request to its first reply.", nil, nil)
	descSlow = prometheus.NewDesc("switchboard_slow_consumer_disconnects_total",
		"Connections closed with 4001 because their outgoing queue overflowed.", nil, nil)
	descDrops = prometheus.NewDesc("switchboard_queue_dropped_total",
		"Objects dropped from the queues of slow consumers.", nil, nil)
	descErrors = prometheus.NewDesc("switchboard_errors_total",
		"Error objects sent to clients, by code (timeout includes request timeouts).", []string{"code"}, nil)
	descReady = prometheus.NewDesc("switchboard_ready",
		"1 while the server accepts connections, 0 once it is shutting down.", nil, nil)
	descInfo = prometheus.NewDesc("switchboard_build_info",
		"The server's version; always 1.", []string{"version", "auth"}, nil)
)

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descSessions, descSessionSize, descServices, descMsgs,
		descBytes, descFanout, descReqLatency, descSlow, descDrops, descErrors, descReady, descInfo} {
		ch <- d
	}
}

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.s.hub
	st := h.Stats()
	hm := h.Metrics()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descConns, float64(st.Connections))
	gauge(descSessions, float64(st.Sessions))
	gauge(descServices, float64(hm.ServiceConns))
	counter(descMsgs, st.MsgsIn, "in")
	counter(descMsgs, st.MsgsOut, "out")
	counter(descBytes, st.BytesIn, "in")
	counter(descBytes, st.BytesOut, "out")
	ch <- constHistogram(descSessionSize, hm.SessionSizes)
	ch <- constHistogram(descFanout, hm.Fanout)
	ch <- constHistogram(descReqLatency, hm.RequestLatency)
	counter(descSlow, hm.SlowConsumers)
	counter(descDrops, hm.QueueDrops)
	for i, code := range errorCodes {
		n := c.m.errors[i].Load()
		if code == protocol.CodeTimeout {
			n += hm.RequestTimeouts
		}
		counter(descErrors, n, string(code))
	}
	ready := 1.0
	if c.s.draining.Load() {
		ready = 0
	}
	gauge(descReady, ready)
	auth := "off"
	if c.s.auth != nil {
		auth = "on"
	}
	gauge(descInfo, 1, c.s.cfg.Version, auth)
}

// constHistogram turns a hub histogram (per-bucket counts) into a
// Prometheus one (cumulative).
func constHistogram(d *prometheus.Desc, h hub.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.Count(), h.Sum, buckets)
}

func (s *Server) handleMetrics(c echo.Context) error {
	s.metrics.handler.ServeHTTP(c.Response(), c.Request())
	return nil
}

// adminIf returns the admin token check when cond holds (routes.go).
func (s *Server) adminIf(cond bool) []echo.MiddlewareFunc {
	if cond {
		return []echo.MiddlewareFunc{s.requireAdmin}
	}
	return nil
}
