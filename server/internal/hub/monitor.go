package hub

import (
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Kinds of monitored messages.
const (
	KindPublish   = "publish"   // a client's or the operator's publish (carries a seq)
	KindRequest   = "request"   // a client's request, delivered to the topic's subscribers
	KindSend      = "send"      // a client's or the operator's message to one client
	KindBroadcast = "broadcast" // the operator's message to every client of every session
)

// MonitorPreviewBytes is how much of a payload a MonitorEvent carries:
// enough for 200 characters of any UTF-8 text.
const MonitorPreviewBytes = 800

// Monitor defaults.
const (
	DefaultMonitorRate   = 200
	DefaultMonitorBuffer = 256
)

// MonitorEvent describes one message that went through the hub. It is
// shared by every Monitor that receives it: do not modify it.
type MonitorEvent struct {
	Kind          string // KindPublish, KindRequest, KindSend or KindBroadcast
	SessionID     string // empty for a broadcast (it reaches every session)
	Topic         string
	PublisherName string
	Timestamp     string
	Seq           uint64 // 0 when the message has none (all but publishes)
	Size          int    // payload bytes
	Delivered     int    // connections the message reached
	Preview       []byte // a copy of the payload's first MonitorPreviewBytes at most
}

// MonitorOptions configure a Monitor. Zero values mean the documented default.
type MonitorOptions struct {
	// Rate is how many events per second the monitor receives on average;
	// the others are skipped and counted (TakeSkipped). Default 200.
	Rate int
	// Burst is how many events may arrive at once above Rate. Default Rate/4
	// (at least 1).
	Burst int
	// Buffer is how many events may wait for the consumer; more are dropped
	// and counted (TakeDropped). Default 256.
	Buffer int
}

// Monitor receives a sample of the messages going through the hub (a tap
// for dashboards): publishes, requests, sends and broadcasts of every
// session. It never slows the hub: events beyond its rate are skipped and
// events its consumer has not taken in time are dropped, both counted.
// Create it with Hub.Monitor, read Events, and Close it when done.
type Monitor struct {
	h        *Hub
	c        chan *MonitorEvent
	interval int64        // ns between events at Rate
	window   int64        // ns of credit: Burst events
	tat      atomic.Int64 // theoretical arrival time of the next event (GCRA)
	dropped  atomic.Uint64
	// Skips are counted per session shard: publishers of different sessions
	// do not contend on one counter, however fast they publish.
	skipped [numShards]paddedCounter
}

type paddedCounter struct {
	n atomic.Uint64
	_ [56]byte
}

// Monitor starts a monitor. It costs the hub nothing while no monitor
// exists (one atomic load per message); with monitors, a skipped event costs
// an atomic load and an add on a per-shard counter. Close it when done.
func (h *Hub) Monitor(opts MonitorOptions) *Monitor {
	if opts.Rate <= 0 {
		opts.Rate = DefaultMonitorRate
	}
	if opts.Burst <= 0 {
		opts.Burst = max(1, opts.Rate/4)
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultMonitorBuffer
	}
	m := &Monitor{h: h, c: make(chan *MonitorEvent, opts.Buffer)}
	m.interval = max(1, int64(time.Second)/int64(opts.Rate))
	m.window = m.interval * int64(opts.Burst-1)
	h.monMu.Lock()
	defer h.monMu.Unlock()
	var list []*Monitor
	if p := h.monitors.Load(); p != nil {
		list = append(list, *p...)
	}
	list = append(list, m)
	h.monitors.Store(&list)
	return m
}

// Events returns the monitor's events. The channel is never closed: stop
// reading after Close.
func (m *Monitor) Events() <-chan *MonitorEvent { return m.c }

// TakeDropped returns how many events were dropped because Events was full,
// since the last call.
func (m *Monitor) TakeDropped() uint64 { return m.dropped.Swap(0) }

// TakeSkipped returns how many events were skipped to keep to the rate,
// since the last call.
func (m *Monitor) TakeSkipped() uint64 {
	var n uint64
	for i := range m.skipped {
		n += m.skipped[i].n.Swap(0)
	}
	return n
}

// Close stops the monitor. Safe to call more than once.
func (m *Monitor) Close() {
	h := m.h
	h.monMu.Lock()
	defer h.monMu.Unlock()
	p := h.monitors.Load()
	if p == nil {
		return
	}
	list := make([]*Monitor, 0, len(*p))
	for _, o := range *p {
		if o != m {
			list = append(list, o)
		}
	}
	if len(list) == 0 {
		h.monitors.Store(nil)
	} else {
		h.monitors.Store(&list)
	}
}

// Monitors returns the number of open monitors.
func (h *Hub) Monitors() int {
	if p := h.monitors.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// admit reports whether an event at time now (ns) keeps to the rate: a
// lock-free GCRA. Over the rate it only reads, so that a flood of skipped
// events does not bounce a cache line between publishers.
func (m *Monitor) admit(now int64) bool {
	for {
		tat := m.tat.Load()
		if tat-now > m.window {
			return false
		}
		if m.tat.CompareAndSwap(tat, max(tat, now)+m.interval) {
			return true
		}
	}
}

// watched reports whether any monitor is open: the whole cost of the tap
// while nobody watches. Callers check it before building observe's
// arguments.
func (h *Hub) watched() bool { return h.monitors.Load() != nil }

// observe hands a message to the monitors that admit it. The event, with a
// copy of the payload's beginning, is built once, only when one does.
// shard spreads the skip counters (the session's shard index). It never
// blocks; callers may hold session locks (which keeps each topic's events
// in seq order).
func (h *Hub) observe(kind string, msg *protocol.Message, delivered, shard int, now time.Time) {
	p := h.monitors.Load()
	if p == nil {
		return
	}
	t := now.UnixNano()
	var ev *MonitorEvent
	for _, m := range *p {
		if !m.admit(t) {
			m.skipped[shard].n.Add(1)
			continue
		}
		if ev == nil {
			ev = &MonitorEvent{
				Kind:          kind,
				SessionID:     msg.SessionID,
				Topic:         msg.Topic,
				PublisherName: msg.PublisherName,
				Timestamp:     msg.Timestamp,
				Seq:           msg.Seq,
				Size:          len(msg.Payload),
				Delivered:     delivered,
				Preview:       append([]byte(nil), msg.Payload[:min(len(msg.Payload), MonitorPreviewBytes)]...),
			}
		}
		select {
		case m.c <- ev:
		default:
			m.dropped.Add(1)
		}
	}
}
