package server

import (
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// hubSweepEvery is how often the hub forgets expired topics.
const hubSweepEvery = 30 * time.Second

// queueTrimEvery is how often the sweeper lets connections that queued
// nothing since the previous time drop their queues' spare capacity
// (hub.Conn.TrimIdle): a busy connection keeps it between bursts.
const queueTrimEvery = 5 * time.Second

// sweepLoop is the server's one timer for all connections: it advances the
// coarse clock, sends heartbeat pings, and enforces the hello, heartbeat and
// write timeouts. One goroutine for all connections instead of timers per
// connection keeps idle connections cheap.
func (s *Server) sweepLoop() {
	t := time.NewTicker(s.tick)
	defer t.Stop()
	var conns []*wsConn
	lastHubSweep := time.Now()
	lastTrim := lastHubSweep
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.clock.Store(now.UnixNano())
			trim := now.Sub(lastTrim) >= queueTrimEvery
			if trim {
				lastTrim = now
			}
			conns = s.sweep(now.UnixNano(), conns[:0], trim)
			clear(conns)
			if now.Sub(lastHubSweep) >= hubSweepEvery {
				lastHubSweep = now
				s.hub.Sweep(now)
			}
		}
	}
}

// sweep checks every connection once (and with trim, lets idle ones drop
// their queues' spare capacity); conns is scratch space.
func (s *Server) sweep(now int64, conns []*wsConn, trim bool) []*wsConn {
	s.connsMu.Lock()
	for wc := range s.conns {
		conns = append(conns, wc)
	}
	s.connsMu.Unlock()
	hello := int64(s.cfg.HelloTimeout)
	beat := int64(s.cfg.Heartbeat)
	write := int64(s.cfg.WriteTimeout)
	for _, wc := range conns {
		if start := wc.writeStart.Load(); start != 0 && now-start > write {
			// The client has not taken a frame for WriteTimeout: a close
			// handshake could not get through either, so drop the TCP
			// connection (the reader then cleans up).
			if wc.dropped.CompareAndSwap(false, true) {
				wc.closing.Store(true)
				s.log.Info("write timeout: dropping connection", "client_id", wc.hc.ID())
				s.tasks.Go(func() { wc.ws.CloseNow() })
			}
			continue
		}
		if wc.closing.Load() {
			continue
		}
		if trim {
			wc.hc.TrimIdle()
		}
		if !wc.welcomed.Load() {
			if now-wc.created > hello {
				wc.hc.Close(protocol.CloseTimeout, "no hello in time")
			}
			continue
		}
		if exp := wc.guard.expires.Load(); exp != 0 && now > exp {
			wc.hc.Close(protocol.CloseUnauthorized, "token expired") // auth.go
			continue
		}
		if now-wc.lastRead.Load() > 2*beat {
			wc.hc.Close(protocol.CloseTimeout, "heartbeat timeout")
			continue
		}
		if now-wc.lastPing.Load() >= beat {
			wc.lastPing.Store(now)
			s.tasks.Go(wc.ping)
		}
	}
	return conns
}
