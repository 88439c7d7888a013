// Package bench is Switchboard's load generator, behind "switchboard bench":
// fan-out (publishers → subscribers over topics), idle connections, and
// request/reply, plus Relay, the minimal coalescing coder/websocket relay
// that every run can be compared with (the floor).
//
// The load speaks the wire protocol like any client, but leanly, because it
// shares the machine with the server it measures: coder/websocket directly,
// one reusable read buffer per connection, frames split on '\n', objects
// recognised by prefix and the send stamp read from the payload without
// decoding JSON. Every payload starts with the publisher's send stamp (Unix
// nanoseconds advancing with the monotonic clock, see Clock), so subscribers
// compute publish→receive latency themselves; latencies go into per-reader
// Histograms (fixed log-linear buckets, ≤ 3 % error) merged at the end.
//
// Given a server PID, a run reads the server's CPU time (utime + stime, in
// ClockTicks = 100 per second) and VmRSS from /proc before and after its
// measured window, and reports CPU-seconds per million deliveries and RSS
// growth per connection.
//
// # Limits
//
// Only loopback targets (127.0.0.0/8, ::1, localhost): CheckURL refuses any
// other, and the dialer refuses a connection whose peer is not loopback.
// Every run is bounded: a measured window of at most MaxDuration, a warm-up,
// a drain and a setup timeout each bounded, at most MaxConnections
// connections and never more than the open-files limit allows (less a
// reserve of 64). Beyond DefaultPerSourceIP connections, source addresses
// 127.0.0.2, 127.0.0.3, … are used (each has its own ephemeral ports).
//
// # Concurrency
//
// Fanout, Idle and ReqRep start their goroutines (one reader per
// connection, one writer per publisher or requester, one progress printer)
// and wait for all of them before returning. Relay.Close waits for the
// relay's.
package bench
