package natsengine

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// recorder is a hub.Sink that keeps what it is given, slowly.
type recorder struct {
	mu    sync.Mutex
	seqs  []uint64
	slow  time.Duration
	calls int
}

func (r *recorder) Deliver(d *hub.Delivery) {
	r.mu.Lock()
	r.calls++
	if !d.Initial {
		r.seqs = append(r.seqs, d.Msg.Seq)
	}
	slow := r.calls%50 == 0
	r.mu.Unlock()
	if slow {
		time.Sleep(r.slow) // a busy hub: the NATS connection drops what overflows
	}
}
func (*recorder) DeliverRequest(string, string, string, string, []byte, time.Duration) int { return 0 }
func (*recorder) DeliverReply(string, string, []byte, string, string)                      {}
func (*recorder) DeliverSend(string, string, []byte) bool                                  { return false }

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seqs)
}

// A node that misses republished messages (here: its subscription's buffer
// overflows) reads them from the stream: nothing is lost, nothing repeated,
// the order holds.
func TestDeliveryFillsGapsFromTheStream(t *testing.T) {
	defer func(m, b int) { rpPendingMsgs, rpPendingBytes = m, b }(rpPendingMsgs, rpPendingBytes)
	rpPendingMsgs, rpPendingBytes = 20, 1<<20
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := New(ctx, Config{Embedded: &Embedded{}, History: 10000})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rec := &recorder{slow: 20 * time.Millisecond}
	e.Start(rec)
	if err := e.Watch(ctx, "s.1"); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		m := &protocol.Message{Topic: "t", Payload: []byte(strconv.Itoa(i)), PublisherName: "p", SessionID: "s.1"}
		e.Publish(m, "", "", "", nil, func(_ uint64, _ bool, err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for rec.count() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	rec.mu.Lock()
	seqs := append([]uint64(nil), rec.seqs...)
	rec.mu.Unlock()
	if len(seqs) != n {
		t.Fatalf("delivered %d of %d", len(seqs), n)
	}
	for i := 1; i < n; i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("seq %d after %d", seqs[i], seqs[i-1])
		}
	}
	filled, lost := e.Gaps()
	if filled == 0 || lost != 0 {
		t.Fatalf("gaps filled %d, lost %d: the test did not make the node miss any", filled, lost)
	}
	e.Unwatch("s.1")
}
