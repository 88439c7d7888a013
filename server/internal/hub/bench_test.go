package hub

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// BenchmarkFanout publishes one 64-byte payload to n subscribers and drains
// their queues as a writer would (TryNext + Release): the whole server-side
// cost of routing except the socket write.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h := newHub(b, Options{})
			pub := connect(b, h, "pub", "s", true)
			subs := make([]*Conn, n)
			for i := range subs {
				c := connect(b, h, fmt.Sprintf("c%d", i), "s", true)
				c.do(`{"type":"subscribe","id":"1","topic":"bench.topic"}`)
				c.frames()
				subs[i] = c.Conn
			}
			var f protocol.Frame
			payload := `"0123456789012345678901234567890123456789012345678901234567890"`
			if err := protocol.Decode([]byte(`{"type":"publish","topic":"bench.topic","payload":`+payload+`}`), &f); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if _, err := h.Publish(pub.Conn, &f); err != nil {
					b.Fatal(err)
				}
				for _, c := range subs {
					if batch, ok := c.TryNext(); ok {
						batch.Release()
					}
				}
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// BenchmarkFanoutBatched queues 16 publishes before each drain, so that the
// writer joins them: the shape of a busy server.
func BenchmarkFanoutBatched(b *testing.B) {
	const n, burst = 1000, 16
	h := newHub(b, Options{})
	pub := connect(b, h, "pub", "s", true)
	subs := make([]*Conn, n)
	for i := range subs {
		c := connect(b, h, fmt.Sprintf("c%d", i), "s", true)
		c.do(`{"type":"subscribe","id":"1","topic":"bench.topic"}`)
		c.frames()
		subs[i] = c.Conn
	}
	var f protocol.Frame
	protocol.Decode([]byte(`{"type":"publish","topic":"bench.topic","payload":"0123456789012345678901234567890123456789012345678901234567890"}`), &f)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		for range burst {
			h.Publish(pub.Conn, &f)
		}
		for _, c := range subs {
			if batch, ok := c.TryNext(); ok {
				batch.Release()
			}
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*n*burst), "ns/delivery")
}

// BenchmarkFanoutWildcards publishes in a session holding 100 distinct
// wildcard patterns, 10 of which match.
func BenchmarkFanoutWildcards(b *testing.B) {
	h := newHub(b, Options{})
	pub := connect(b, h, "pub", "s", true)
	var subs []*Conn
	for i := range 100 {
		c := connect(b, h, fmt.Sprintf("c%d", i), "s", true)
		p := fmt.Sprintf("other%d.*", i)
		if i%10 == 0 {
			p = fmt.Sprintf("orders.*.%s", []string{"created", ">"}[i/10%2])
			if i/10%2 == 1 {
				p = "orders.>"
			}
		}
		c.do(fmt.Sprintf(`{"type":"subscribe","id":"1","topic":%q}`, p))
		c.frames()
		subs = append(subs, c.Conn)
	}
	var f protocol.Frame
	protocol.Decode([]byte(`{"type":"publish","topic":"orders.eu.created","payload":1}`), &f)
	b.ReportAllocs()
	for b.Loop() {
		h.Publish(pub.Conn, &f)
		for _, c := range subs {
			if batch, ok := c.TryNext(); ok {
				batch.Release()
			}
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	cases := []struct{ pattern, topic string }{
		{"orders.*.created", "orders.eu.created"},
		{"orders.>", "orders.eu.created.v2"},
		{"a.b.c.d", "a.b.c.e"},
		{">", "$meta.e2e"},
	}
	for _, c := range cases {
		b.Run(c.pattern, func(b *testing.B) {
			for b.Loop() {
				protocol.Match(c.pattern, c.topic)
			}
		})
	}
}

// BenchmarkPublishMonitored measures a publish to one subscriber with no
// monitor, and with a monitor that skips almost every event (its rate) or
// whose consumer reads them (each parallel publisher in its own session).
func BenchmarkPublishMonitored(b *testing.B) {
	for _, mode := range []string{"none", "sampled", "all"} {
		b.Run(mode, func(b *testing.B) {
			h := newHub(b, Options{})
			switch mode {
			case "sampled":
				m := h.Monitor(MonitorOptions{})
				b.Cleanup(m.Close)
			case "all":
				m := h.Monitor(MonitorOptions{Rate: 1e9, Burst: 1e9})
				b.Cleanup(m.Close)
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					for {
						select {
						case <-m.Events():
						case <-stop:
							return
						}
					}
				}()
				b.Cleanup(func() { close(stop); <-done })
			}
			var f protocol.Frame
			protocol.Decode([]byte(`{"type":"publish","topic":"t","payload":"0123456789012345678901234567890123456789012345678901234567890"}`), &f)
			var mu sync.Mutex
			n := 0
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				mu.Lock()
				n++
				session := fmt.Sprintf("s%d", n)
				mu.Unlock()
				pub := connect(b, h, "pub", session, true)
				for pb.Next() {
					h.Publish(pub.Conn, &f)
					if batch, ok := pub.TryNext(); ok {
						batch.Release()
					}
				}
			})
		})
	}
}
