//go:build unix

package server

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFanoutWebSocket measures end to end fan-out over loopback: one
// publisher, n subscribers reading as fast as they can, 64-byte payloads,
// publishes sent 50 per frame. The subscribers' reading runs in the same
// process, so cpu-s/1M-deliveries is an upper bound of the server's share.
func BenchmarkFanoutWebSocket(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			fanoutWebSocket(b, n, strings.Repeat("x", 62))
		})
	}
}

// BenchmarkFanoutSealed compares a sealed 64-byte message (an envelope the
// seal package made, testdata/sealed-64B.txt: 194 bytes) with a plaintext
// payload of the same size, 100 subscribers: the server never looks inside
// a payload, so the two cost the same (issue 7: sealed payloads cost
// nothing beyond their size).
func BenchmarkFanoutSealed(b *testing.B) {
	sealed, err := os.ReadFile("testdata/sealed-64B.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sealed", func(b *testing.B) { fanoutWebSocket(b, 100, string(sealed)) })
	b.Run("plain-same-size", func(b *testing.B) { fanoutWebSocket(b, 100, strings.Repeat("x", len(sealed))) })
}

// fanoutWebSocket runs BenchmarkFanoutWebSocket's load with n subscribers
// and payload (a JSON string's contents).
func fanoutWebSocket(b *testing.B, n int, payload string) {
	s := newServer(b, Config{QueueBytes: 64 << 20})
	pub := s.connect(b, "pub", "s")
	var received atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		c := s.connect(b, fmt.Sprintf("c%d", i), "s")
		c.send(`{"type":"subscribe","id":"1","topic":"bench"}`)
		c.expect("ack")
		wg.Go(func() {
			for {
				_, data, err := c.ws.Read(context.Background())
				if err != nil {
					return
				}
				received.Add(int64(bytes.Count(data, []byte{'\n'}) + 1))
			}
		})
	}
	const perFrame = 50
	frame := []byte(strings.Repeat(`{"type":"publish","topic":"bench","payload":"`+payload+`"}`+"\n", perFrame))
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	frames := 0
	for b.Loop() {
		if err := pub.ws.Write(context.Background(), websocket.MessageText, frame); err != nil {
			b.Fatal(err)
		}
		frames++
		// Stay within the subscribers' queues.
		for int64(frames*perFrame*n)-received.Load() > int64(2000*n) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	want := int64(frames * perFrame * n)
	for received.Load() < want {
		time.Sleep(100 * time.Microsecond)
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(cpu.Seconds()/float64(want)*1e6, "cpu-s/1M-deliveries")
	s.Close()
	wg.Wait()
}

// BenchmarkConnectWebSocket measures what T5 (docs/performance.md) counts,
// in one process: dial over loopback, hello, welcome, subscribe, ack; then
// the connection is dropped (so that any b.N fits the open-files limit).
// The client side runs in the same process: cpu-µs/conn is an upper bound
// of the server's share; allocs/op is mostly the server's.
func BenchmarkConnectWebSocket(b *testing.B) {
	s := newServer(b, Config{})
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		c := s.connect(b, fmt.Sprintf("c%d", n), "s")
		c.send(`{"type":"subscribe","id":"1","topic":"bench"}`)
		c.expect("ack")
		c.ws.CloseNow()
		n++
	}
	b.StopTimer()
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(n)*1e6, "cpu-µs/conn")
}
