package bench

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

func TestHistogramBuckets(t *testing.T) {
	// Buckets are contiguous and ordered: every value lands in a bucket whose
	// upper bound is ≥ the value, and the previous bucket's bound is < it.
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 1 << 20, 1<<20 + 1, 123456789, 1<<42 - 1} {
		i := bucketOf(v)
		if hi := bucketHigh(i); hi < v {
			t.Errorf("value %d in bucket %d whose upper bound is %d", v, i, hi)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Errorf("value %d in bucket %d but bucket %d reaches %d", v, i, i-1, bucketHigh(i-1))
		}
	}
	for i := 1; i < histBuckets; i++ {
		if bucketOf(bucketHigh(i-1)+1) != i {
			t.Fatalf("bucket %d does not start right after bucket %d", i, i-1)
		}
	}
	if got := bucketOf(1 << 50); got != histBuckets-1 {
		t.Errorf("huge value in bucket %d, want the last (%d)", got, histBuckets-1)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var values []int64
	a, b := NewHistogram(), NewHistogram()
	for i := range 100000 {
		// Log-uniform from 1 µs to 1 s, split over two histograms.
		v := int64(math.Exp(rng.Float64()*math.Log(1e6)) * 1e3)
		values = append(values, v)
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(b)
	slices.Sort(values)
	if a.Count() != uint64(len(values)) {
		t.Fatalf("count %d, want %d", a.Count(), len(values))
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := values[int(math.Ceil(q*float64(len(values))))-1]
		got := int64(a.Quantile(q))
		// The bucket's upper bound: never below, at most 1/32 above.
		if got < exact || float64(got-exact) > float64(exact)/32 {
			t.Errorf("q%v = %d, exact %d (want within +1/32)", q, got, exact)
		}
	}
	if a.Max() != time.Duration(values[len(values)-1]) {
		t.Errorf("max %v, want %v", a.Max(), time.Duration(values[len(values)-1]))
	}
	s := a.Summary()
	if s.P50Ms > s.P99Ms || s.P99Ms > s.P999Ms || s.P999Ms > s.MaxMs {
		t.Errorf("summary not ordered: %+v", s)
	}
}

func TestHistogramSmallAndEmpty(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.99) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Error("an empty histogram reports non-zero values")
	}
	for _, v := range []int64{-5, 10, 20, 30} {
		h.Record(v)
	}
	if got := h.Quantile(0.5); got != 10 {
		t.Errorf("median of {0,10,20,30} = %v, want 10ns", got)
	}
	if got := h.Quantile(1); got != 30 {
		t.Errorf("max quantile = %v, want 30ns", got)
	}
}

func TestReadProcFixture(t *testing.T) {
	s, err := readProcFrom("testdata/proc", 4242)
	if err != nil {
		t.Fatal(err)
	}
	// utime 1234 + stime 567 ticks at 100/s; the command name holds spaces
	// and parentheses.
	if want := 18010 * time.Millisecond; s.CPU != want {
		t.Errorf("cpu %v, want %v", s.CPU, want)
	}
	if want := int64(32768 << 10); s.RSS != want {
		t.Errorf("rss %d, want %d", s.RSS, want)
	}
	if _, err := readProcFrom("testdata/proc", 4243); !errors.Is(err, ErrProc) {
		t.Errorf("status without VmRSS: err %v, want ErrProc", err)
	}
	if _, err := readProcFrom("testdata/proc", 1); !errors.Is(err, ErrProc) {
		t.Errorf("missing process: err %v, want ErrProc", err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 u s"} {
		if _, err := parseStatCPU([]byte(bad)); !errors.Is(err, ErrProc) {
			t.Errorf("parseStatCPU(%q): err %v, want ErrProc", bad, err)
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 {
		t.Errorf("rss %d", s.RSS)
	}
}

func TestPayload(t *testing.T) {
	c := NewClock()
	st := c.Now()
	if d := time.Duration(st - time.Now().UnixNano()); d < -time.Second || d > time.Second {
		t.Fatalf("clock is %v off the wall clock", d)
	}
	for _, size := range []int{MinPayload, 22, 64, 1000} {
		p := AppendPayload([]byte("prefix"), st, size)
		p = p[len("prefix"):]
		if len(p) != size {
			t.Errorf("size %d: got %d bytes: %s", size, len(p), p)
		}
		// Embedded in a message as the server encodes it.
		m := protocol.AppendMessage(nil, &protocol.Message{Topic: "bench.t0", Payload: p, PublisherName: "pub-0", Timestamp: "2026-01-01T00:00:00.000Z", SessionID: "bench", Seq: 7})
		got, ok := PayloadStamp(m)
		if !ok || got != st {
			t.Errorf("size %d: stamp %d %v, want %d", size, got, ok, st)
		}
		if string(objType(m)) != "message" {
			t.Errorf("objType(message) = %q", objType(m))
		}
	}
	for _, obj := range []string{`{"type":"message","payload":"abc"}`, `{"type":"message","payload":{"a":1}}`, `{"type":"message"}`, `{"payload":"12345678901234567890123"}`} {
		if _, ok := PayloadStamp([]byte(obj)); ok {
			t.Errorf("PayloadStamp(%s) found a stamp", obj)
		}
	}
	if got, ok := PayloadStamp([]byte(`{"type":"response","id":"q1","payload":"1234567890123456789xx"}`)); !ok || got != 1234567890123456789 {
		t.Errorf("stamp in a response: %d %v", got, ok)
	}
	obj := []byte(`{"type":"ack","id":"p100","seq":3}`)
	if string(objType(obj)) != "ack" || string(field(obj, idKey)) != "p100" || field(obj, codeKey) != nil {
		t.Errorf("objType/field on %s", obj)
	}
}

func TestSplitObjects(t *testing.T) {
	var got []string
	for o := range splitObjects([]byte("{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}")) {
		got = append(got, string(o))
	}
	if strings.Join(got, "|") != `{"a":1}|{"b":2}|{"c":3}` {
		t.Errorf("split: %q", got)
	}
}

func TestLoopbackGuard(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"ws://127.0.0.1:8080/ws", true},
		{"ws://127.1.2.3:1/ws", true},
		{"ws://localhost:8080/ws", true},
		{"ws://LOCALHOST/ws", true},
		{"ws://[::1]:8080/ws", true},
		{"http://127.0.0.1:8080/ws", true},
		{"wss://127.0.0.1/ws", true},
		{"ws://10.0.0.1:8080/ws", false},
		{"ws://192.168.1.2/ws", false},
		{"ws://example.com/ws", false},
		{"ws://localhost.example.com/ws", false},
		{"ws://[::ffff:10.0.0.1]/ws", false},
		{"ws://[fe80::1%25lo]/ws", false},
		{"ws://0.0.0.0:8080/ws", false},
		{"ftp://127.0.0.1/ws", false},
		{"ws:///ws", false},
		{"127.0.0.1:8080", false},
	} {
		_, err := CheckURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		addr string
		ok   bool
	}{{"127.0.0.1:0", true}, {"[::1]:0", true}, {"localhost:9000", true}, {":0", false}, {"0.0.0.0:80", false}, {"10.1.1.1:80", false}, {"nonsense", false}} {
		err := CheckListenAddr(tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListenAddr(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
	if _, err := CheckURL("ws://10.0.0.1/ws"); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("a foreign host: %v, want ErrNotLoopback", err)
	}
}

func TestConfigLimits(t *testing.T) {
	bad := []FanoutConfig{
		{Common: Common{Duration: MaxDuration + time.Second}},
		{Common: Common{Duration: -time.Second}},
		{PayloadBytes: MinPayload - 1},
		{PayloadBytes: MaxPayload + 1},
		{Rate: -1},
		{Subscribers: 10, Topics: 11},
		{Subscribers: MaxConnections},
		{Batch: MaxBatch + 1},
	}
	for i, c := range bad {
		c.URL = "ws://127.0.0.1:1/ws"
		if _, err := Fanout(t.Context(), c); err == nil {
			t.Errorf("config %d accepted: %+v", i, c)
		}
	}
	if _, err := Fanout(t.Context(), FanoutConfig{Common: Common{URL: "ws://192.0.2.1:80/ws"}, Subscribers: 1}); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("foreign target: %v, want ErrNotLoopback", err)
	}
	if _, err := Idle(t.Context(), IdleConfig{Common: Common{URL: "ws://127.0.0.1:1/ws"}, Connections: 1 << 20}); err == nil {
		t.Error("idle beyond MaxConnections accepted")
	}
	if _, err := ReqRep(t.Context(), ReqRepConfig{Common: Common{URL: "ws://example.com/ws"}}); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("reqrep foreign target: %v", err)
	}
}

func BenchmarkPayloadStamp(b *testing.B) {
	p := AppendPayload(nil, NewClock().Now(), 64)
	m := protocol.AppendMessage(nil, &protocol.Message{Topic: "bench.t0", Payload: p, PublisherName: "pub-0", Timestamp: "2026-01-01T00:00:00.000Z", SessionID: "bench", Seq: 7})
	for b.Loop() {
		if _, ok := PayloadStamp(m); !ok {
			b.Fatal("no stamp")
		}
	}
}

func TestReadMachineBusy(t *testing.T) {
	got, err := readMachineBusyFrom("testdata/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	// user 1000 + nice 20 + system 300 + irq 7 + softirq 13 + steal 10 ticks.
	if want := 13500 * time.Millisecond; got != want {
		t.Errorf("busy %v, want %v", got, want)
	}
	if _, err := readMachineBusyFrom("testdata/proc/4242/stat"); !errors.Is(err, ErrProc) {
		t.Errorf("not /proc/stat: %v", err)
	}
}
