package seal

import (
	"errors"
	"testing"
)

func TestReplayWindow(t *testing.T) {
	k := streamKey{epoch: 1}
	type step struct {
		seq  uint64
		want error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{1, nil}, {2, nil}, {3, nil}, {3, ErrReplay}}},
		{"late start", []step{{5000, nil}, {3977, nil}, {3976, ErrOutOfWindow}, {5000, ErrReplay}}},
		{"reorder", []step{{10, nil}, {7, nil}, {9, nil}, {7, ErrReplay}, {8, nil}, {10, ErrReplay}}},
		{"window edge", []step{{1024, nil}, {1, nil}, {1, ErrReplay}, {1025, nil}, {1, ErrOutOfWindow}, {2, nil}, {2, ErrReplay}}},
		{"block boundaries", []step{{63, nil}, {64, nil}, {127, nil}, {128, nil}, {63, ErrReplay}, {64, ErrReplay}, {65, nil}}},
		{"jump clears old bits", []step{{1, nil}, {2, nil}, {1 + 64*17, nil}, {2 + 64*17, nil}, {2 + 64*17 - 1023, nil}, {2 + 64*17 - 1024, ErrOutOfWindow}}},
		{"huge jump", []step{{1, nil}, {1 << 62, nil}, {1<<62 - 1, nil}, {1<<62 - 1, ErrReplay}, {2, ErrOutOfWindow}}},
	}
	for _, tt := range tests {
		r := newReplayState(16, 1000)
		for i, s := range tt.steps {
			err := r.accept(k, s.seq, 1)
			if (s.want == nil) != (err == nil) || (s.want != nil && !errors.Is(err, s.want)) {
				t.Fatalf("%s: step %d (seq %d): %v, want %v", tt.name, i, s.seq, err, s.want)
			}
		}
	}
}

// Every sequence number in the window is accepted exactly once, whatever the
// order, and the ring never forgets one that is still inside the window.
func TestReplayWindowExhaustive(t *testing.T) {
	r := newReplayState(1, 1000)
	k := streamKey{}
	seen := make(map[uint64]bool)
	var last uint64
	x := uint64(12345)
	for range 20000 {
		x = x*6364136223846793005 + 1442695040888963407
		var seq uint64
		if last > 0 && x>>63 == 0 {
			seq = last - (x>>40)%1100 // mostly in the window, sometimes behind
			if seq == 0 || seq > last {
				continue
			}
		} else {
			seq = last + 1 + (x>>40)%200
		}
		err := r.accept(k, seq, 1)
		switch {
		case last >= seq && last-seq >= ReplayWindow:
			if !errors.Is(err, ErrOutOfWindow) {
				t.Fatalf("seq %d (last %d): %v, want ErrOutOfWindow", seq, last, err)
			}
		case seen[seq]:
			if !errors.Is(err, ErrReplay) {
				t.Fatalf("seq %d (last %d): %v, want ErrReplay", seq, last, err)
			}
		default:
			if err != nil {
				t.Fatalf("seq %d (last %d): %v", seq, last, err)
			}
			seen[seq] = true
			last = max(last, seq)
		}
	}
}

func TestReplayEviction(t *testing.T) {
	const idle = 1000
	r := newReplayState(2, idle)
	a, b, c := streamKey{stream: [8]byte{'a'}}, streamKey{stream: [8]byte{'b'}}, streamKey{stream: [8]byte{'c'}}
	must := func(k streamKey, seq uint64, now int64) {
		t.Helper()
		if err := r.accept(k, seq, now); err != nil {
			t.Fatal(err)
		}
	}
	must(a, 1, 0)
	must(b, 1, 10)
	must(a, 2, 20)   // a is now the most recent; b is the LRU
	must(c, 1, 2000) // evicts b, idle for longer than the window: not forced
	if n, forced := r.stats(); n != 2 || forced != 0 {
		t.Fatalf("streams %d forced %d", n, forced)
	}
	if err := r.accept(a, 2, 2000); !errors.Is(err, ErrReplay) {
		t.Fatalf("a survived eviction: %v", err)
	}
	must(a, 3, 2001)
	must(b, 1, 2002) // b is new again (its old envelopes are stale by now); evicts c (forced)
	if n, forced := r.stats(); n != 2 || forced != 1 {
		t.Fatalf("streams %d forced %d", n, forced)
	}
	// The list and the map agree.
	count := 0
	for w := r.head; w != nil; w = w.next {
		if r.streams[w.key] != w {
			t.Fatal("list and map disagree")
		}
		count++
	}
	if count != 2 || r.tail.next != nil || r.head.prev != nil {
		t.Fatal("broken list")
	}
}
