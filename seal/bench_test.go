package seal

import (
	"fmt"
	"testing"
)

var benchSizes = []int{64, 1024}

func BenchmarkSeal(b *testing.B) {
	for _, signed := range []bool{false, true} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", modeName(signed), size), func(b *testing.B) {
				pr := newPair(b, signed)
				msg := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := pr.sender.Seal("chat.room-1", "alice", msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, signed := range []bool{false, true} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", modeName(signed), size), func(b *testing.B) {
				// Each envelope opens once: seal a batch, and seal the next
				// one with the timer stopped when it is used up.
				const batch = 512
				pr := newPair(b, signed)
				msg := make([]byte, size)
				payloads := make([]string, batch)
				refill := func() {
					for i := range payloads {
						payloads[i] = mustSeal(b, pr.sender, "chat.room-1", "alice", string(msg))
					}
				}
				refill()
				b.SetBytes(int64(size))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if i == batch {
						b.StopTimer()
						refill()
						i = 0
						b.StartTimer()
					}
					if _, err := pr.receiver.Open("chat.room-1", "alice", payloads[i]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

func modeName(signed bool) string {
	if signed {
		return "signed"
	}
	return "unsigned"
}
