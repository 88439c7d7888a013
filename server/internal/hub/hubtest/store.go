// Package hubtest is the conformance suite of hub.HistoryStore: every
// implementation (the hub's MemoryStore, the bolt store) runs it from its
// own tests, so that they keep one contract.
package hubtest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// Factory opens the store under test.
type Factory struct {
	// Open opens a store kept in dir (a fresh t.TempDir() for each test;
	// the same dir again after Close to test durability).
	Open func(t *testing.T, dir string) hub.HistoryStore
	// Close closes a store cleanly (flushing what it holds). Nil: nothing
	// to close.
	Close func(t *testing.T, s hub.HistoryStore)
	// Crash, if set, stops a store as a killed process would: without its
	// clean close.
	Crash func(t *testing.T, s hub.HistoryStore)
	// Durable: histories survive Close and Open on the same dir.
	Durable bool
}

// Run runs the suite.
func Run(t *testing.T, f Factory) {
	t.Run("NewHistory", func(t *testing.T) { testNewHistory(t, f) })
	t.Run("AppendAndSince", func(t *testing.T) { testAppendAndSince(t, f) })
	t.Run("AgeLimit", func(t *testing.T) { testAgeLimit(t, f) })
	t.Run("NoHistory", func(t *testing.T) { testNoHistory(t, f) })
	t.Run("Stored", func(t *testing.T) { testStored(t, f) })
	if f.Durable {
		t.Run("Reopen", func(t *testing.T) { testReopen(t, f) })
		t.Run("ReopenWithSmallerLimits", func(t *testing.T) { testReopenSmaller(t, f) })
		t.Run("Delete", func(t *testing.T) { testDelete(t, f) })
		if f.Crash != nil {
			t.Run("CrashChangesEpoch", func(t *testing.T) { testCrash(t, f) })
		}
	}
}

func open(t *testing.T, f Factory, dir string) hub.HistoryStore {
	t.Helper()
	s := f.Open(t, dir)
	if err := s.Restore(func(string) hub.HistoryLimits { return hub.HistoryLimits{} }, func(string, string, hub.History) {}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return s
}

func closeStore(t *testing.T, f Factory, s hub.HistoryStore) {
	t.Helper()
	if f.Close != nil {
		f.Close(t, s)
	}
}

// entry makes the entry of seq, at base + seq seconds.
func entry(seq uint64, base int64) hub.Entry {
	e := hub.Entry{Seq: seq, Time: base + int64(seq)*int64(time.Second), Data: []byte(fmt.Sprintf(`{"type":"message","seq":%d}`, seq))}
	if seq%2 == 0 {
		e.Origin, e.ID = "inst-1", fmt.Sprintf("id-%d", seq)
	}
	return e
}

func seqs(es []hub.Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func wantSeqs(t *testing.T, what string, es []hub.Entry, from, to uint64) {
	t.Helper()
	got := seqs(es)
	var want []uint64
	for s := from; s <= to && to > 0; s++ {
		want = append(want, s)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: seqs %v, want %v", what, got, want)
	}
}

func testNewHistory(t *testing.T, f Factory) {
	s := open(t, f, t.TempDir())
	defer closeStore(t, f, s)
	lim := hub.HistoryLimits{MaxMessages: 10}
	a, b := s.Create("s", "t", lim), s.Create("s", "u", lim)
	if a.Epoch() == "" || a.Epoch() == b.Epoch() {
		t.Fatalf("epochs %q %q: want distinct and non-empty", a.Epoch(), b.Epoch())
	}
	if a.Last() != 0 || a.First() != 1 || a.Len() != 0 || len(a.Since(0, nil)) != 0 {
		t.Fatalf("new history: last %d first %d len %d", a.Last(), a.First(), a.Len())
	}
}

func testAppendAndSince(t *testing.T, f Factory) {
	s := open(t, f, t.TempDir())
	defer closeStore(t, f, s)
	h := s.Create("s", "t", hub.HistoryLimits{MaxMessages: 5})
	base := time.Now().UnixNano()
	var kept [][]byte
	for seq := uint64(1); seq <= 10; seq++ {
		e := entry(seq, base)
		d := h.Append(e)
		kept = append(kept, e.Data)
		if seq <= 5 && d <= len(e.Data) {
			t.Fatalf("append %d while not full: delta %d, want more than the data's %d bytes", seq, d, len(e.Data))
		}
		if seq > 5 && d > 8 {
			t.Fatalf("append %d while full: delta %d, want about 0 (one entry in, one out)", seq, d)
		}
	}
	if h.Last() != 10 || h.First() != 6 || h.Len() != 5 {
		t.Fatalf("last %d first %d len %d, want 10 6 5", h.Last(), h.First(), h.Len())
	}
	all := h.Since(0, nil)
	wantSeqs(t, "Since(0)", all, 6, 10)
	for _, e := range all {
		if !bytes.Equal(e.Data, kept[e.Seq-1]) || &e.Data[0] != &kept[e.Seq-1][0] {
			t.Fatalf("entry %d: data not the shared bytes appended", e.Seq)
		}
		want := entry(e.Seq, base)
		if e.Time != want.Time || e.Origin != want.Origin || e.ID != want.ID {
			t.Fatalf("entry %d = %+v, want %+v", e.Seq, e, want)
		}
	}
	wantSeqs(t, "Since(7)", h.Since(7, nil), 8, 10)
	wantSeqs(t, "Since(10)", h.Since(10, nil), 0, 0)
	wantSeqs(t, "Since(2) (older than kept)", h.Since(2, nil), 6, 10)
	if freed := h.DropOldest(); freed <= 0 || h.First() != 7 || h.Len() != 4 {
		t.Fatalf("DropOldest freed %d; first %d len %d", freed, h.First(), h.Len())
	}
	dst := make([]hub.Entry, 1, 8)
	if got := h.Since(0, dst); len(got) != 5 || got[1].Seq != 7 {
		t.Fatalf("Since appends to dst: %v", seqs(got))
	}
}

func testAgeLimit(t *testing.T, f Factory) {
	s := open(t, f, t.TempDir())
	defer closeStore(t, f, s)
	h := s.Create("s", "t", hub.HistoryLimits{MaxMessages: 100, MaxAge: 3 * time.Second})
	base := time.Now().UnixNano()
	for seq := uint64(1); seq <= 5; seq++ {
		h.Append(entry(seq, base)) // at base+1s … base+5s: the 5th drops those before base+2s
	}
	wantSeqs(t, "after appends", h.Since(0, nil), 2, 5)
	if freed := h.Trim(base + 7*int64(time.Second)); freed <= 0 {
		t.Fatalf("Trim freed %d", freed)
	}
	wantSeqs(t, "after Trim", h.Since(0, nil), 4, 5)
	if h.Trim(base+7*int64(time.Second)) != 0 {
		t.Fatal("a second Trim at the same time freed bytes")
	}
	h.Trim(base + 100*int64(time.Second))
	if h.Len() != 0 || h.Last() != 5 || h.First() != 6 {
		t.Fatalf("all aged out: len %d last %d first %d", h.Len(), h.Last(), h.First())
	}
	h.Append(entry(6, base+100*int64(time.Second)))
	wantSeqs(t, "appended after aging out", h.Since(0, nil), 6, 6)
}

func testNoHistory(t *testing.T, f Factory) {
	s := open(t, f, t.TempDir())
	defer closeStore(t, f, s)
	h := s.Create("s", "t", hub.HistoryLimits{})
	for seq := uint64(1); seq <= 3; seq++ {
		if d := h.Append(entry(seq, 0)); d != 0 {
			t.Fatalf("no history: append delta %d", d)
		}
	}
	if h.Last() != 3 || h.Len() != 0 || h.First() != 4 {
		t.Fatalf("no history: last %d len %d first %d", h.Last(), h.Len(), h.First())
	}
}

func testStored(t *testing.T, f Factory) {
	s := open(t, f, t.TempDir())
	defer closeStore(t, f, s)
	h := s.Create("s", "t", hub.HistoryLimits{MaxMessages: 10})
	h.Append(entry(1, 0))
	done := make(chan error, 1)
	h.OnStored(func(err error) { done <- err })
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("OnStored: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnStored never called")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !h.Stored() {
		if time.Now().After(deadline) {
			t.Fatal("Stored stays false after OnStored")
		}
		time.Sleep(time.Millisecond)
	}
}

// restored collects what Restore hands over.
type restored struct {
	mu sync.Mutex
	m  map[string]hub.History
}

func restore(t *testing.T, s hub.HistoryStore, lim hub.HistoryLimits) map[string]hub.History {
	t.Helper()
	r := &restored{m: map[string]hub.History{}}
	err := s.Restore(func(string) hub.HistoryLimits { return lim }, func(session, topic string, h hub.History) {
		r.mu.Lock()
		r.m[session+"/"+topic] = h
		r.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return r.m
}

func testReopen(t *testing.T, f Factory) {
	dir := t.TempDir()
	s := open(t, f, dir)
	lim := hub.HistoryLimits{MaxMessages: 5}
	a := s.Create("s1", "a.b", lim)
	b := s.Create("s2", "$meta.e2e", hub.HistoryLimits{MaxMessages: 1})
	quiet := s.Create("s1", "quiet", lim) // subscribed, never published
	aged := s.Create("s1", "aged", hub.HistoryLimits{MaxMessages: 5, MaxAge: time.Second})
	base := time.Now().UnixNano()
	for seq := uint64(1); seq <= 8; seq++ {
		a.Append(entry(seq, base))
	}
	b.Append(entry(1, base))
	b.Append(entry(2, base))
	for seq := uint64(1); seq <= 3; seq++ {
		aged.Append(entry(seq, base))
	}
	aged.Trim(base + 100*int64(time.Second))
	closeStore(t, f, s)

	s = f.Open(t, dir)
	defer closeStore(t, f, s)
	got := restore(t, s, lim)
	if len(got) != 4 {
		t.Fatalf("restored %d histories, want 4: %v", len(got), got)
	}
	check := func(key string, was hub.History, first, last uint64) hub.History {
		t.Helper()
		h := got[key]
		if h == nil {
			t.Fatalf("%s not restored", key)
		}
		if h.Epoch() != was.Epoch() || h.Last() != last {
			t.Fatalf("%s: epoch %q last %d, want %q %d", key, h.Epoch(), h.Last(), was.Epoch(), last)
		}
		es := h.Since(0, nil)
		wantSeqs(t, key, es, first, last)
		for _, e := range es {
			if want := entry(e.Seq, base); !bytes.Equal(e.Data, want.Data) || e.Time != want.Time || e.Origin != want.Origin || e.ID != want.ID {
				t.Fatalf("%s entry %d = %+v, want %+v", key, e.Seq, e, want)
			}
		}
		return h
	}
	ra := check("s1/a.b", a, 4, 8)
	check("s2/$meta.e2e", b, 2, 2)
	check("s1/quiet", quiet, 0, 0)
	if h := got["s1/aged"]; h == nil || h.Epoch() != aged.Epoch() || h.Last() != 3 || h.Len() != 0 {
		t.Fatalf("aged-out history: %v", h)
	}
	// The restored history goes on where it was.
	ra.Append(entry(9, base))
	wantSeqs(t, "after append", ra.Since(0, nil), 5, 9)
}

func testReopenSmaller(t *testing.T, f Factory) {
	dir := t.TempDir()
	s := open(t, f, dir)
	a := s.Create("s", "t", hub.HistoryLimits{MaxMessages: 10})
	for seq := uint64(1); seq <= 10; seq++ {
		a.Append(entry(seq, 0))
	}
	closeStore(t, f, s)
	s = f.Open(t, dir)
	defer closeStore(t, f, s)
	h := restore(t, s, hub.HistoryLimits{MaxMessages: 3})["s/t"]
	if h == nil || h.Last() != 10 {
		t.Fatalf("restored %v", h)
	}
	wantSeqs(t, "restored under smaller limits", h.Since(0, nil), 8, 10)
}

func testDelete(t *testing.T, f Factory) {
	dir := t.TempDir()
	s := open(t, f, dir)
	a := s.Create("s", "gone", hub.HistoryLimits{MaxMessages: 10})
	a.Append(entry(1, 0))
	a.Delete()
	b := s.Create("s", "kept", hub.HistoryLimits{MaxMessages: 10})
	b.Append(entry(1, 0))
	closeStore(t, f, s)
	s = f.Open(t, dir)
	defer closeStore(t, f, s)
	got := restore(t, s, hub.HistoryLimits{MaxMessages: 10})
	if len(got) != 1 || got["s/kept"] == nil {
		t.Fatalf("after Delete, restored %v", got)
	}
}

func testCrash(t *testing.T, f Factory) {
	dir := t.TempDir()
	s := open(t, f, dir)
	a := s.Create("s", "t", hub.HistoryLimits{MaxMessages: 10})
	for seq := uint64(1); seq <= 3; seq++ {
		a.Append(entry(seq, 0))
	}
	done := make(chan error, 1)
	a.OnStored(func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.Crash(t, s)
	s = f.Open(t, dir)
	defer closeStore(t, f, s)
	h := restore(t, s, hub.HistoryLimits{MaxMessages: 10})["s/t"]
	// Messages after the last stored one may have been delivered and lost:
	// their seqs will be used again, so the stream is another incarnation.
	if h == nil || h.Epoch() == a.Epoch() || h.Epoch() == "" || h.Last() != 3 {
		t.Fatalf("after a crash: %v (epoch before %q)", h, a.Epoch())
	}
	wantSeqs(t, "stored entries survive a crash", h.Since(0, nil), 1, 3)
}
