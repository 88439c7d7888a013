package seal

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSealOpenRoundTrip(t *testing.T) {
	for _, signed := range []bool{false, true} {
		for _, size := range []int{0, 1, 64, 1000, 70 << 10} {
			t.Run(fmt.Sprintf("signed=%v/%d", signed, size), func(t *testing.T) {
				pr := newPair(t, signed)
				msg := bytes.Repeat([]byte{0xa5}, size)
				payload, err := pr.sender.Seal("chat.room-1", "alice", msg)
				if err != nil {
					t.Fatal(err)
				}
				if !IsSealed(payload) {
					t.Fatalf("IsSealed(%.20q) = false", payload)
				}
				overhead := minUnsigned
				if signed {
					overhead = minSigned
				}
				if want := len(Prefix) + b64.EncodedLen(size+overhead); len(payload) != want {
					t.Fatalf("payload length %d, want %d", len(payload), want)
				}
				got, err := pr.receiver.Open("chat.room-1", "alice", payload)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, msg) {
					t.Fatal("plaintext differs")
				}
				// The sender opens its own echo, without having pinned itself.
				if _, err := pr.sender.Open("chat.room-1", "alice", payload); err != nil {
					t.Fatalf("own echo: %v", err)
				}
			})
		}
	}
}

func TestSealHeader(t *testing.T) {
	pr := newPair(t, true)
	var prev Header
	for i := 1; i <= 3; i++ {
		h, err := Inspect(mustSeal(t, pr.sender, "t", "alice", "x"))
		if err != nil {
			t.Fatal(err)
		}
		if h.Seq != uint64(i) || h.Version != 1 || !h.Signed || h.Epoch != 1 || h.KeyID != pr.alice.KeyID() ||
			!h.Timestamp.Equal(testEpoch) {
			t.Fatalf("header %d: %+v", i, h)
		}
		if i > 1 && h.Stream != prev.Stream {
			t.Fatal("stream id changed within a session")
		}
		prev = h
	}
	if pr.sender.KeyID() != pr.alice.KeyID() {
		t.Fatal("signed session must use the identity's key id")
	}
	other := newPair(t, false)
	h, err := Inspect(mustSeal(t, other.sender, "t", "alice", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if h.Stream == prev.Stream || h.KeyID == pr.alice.KeyID() || h.KeyID != other.sender.KeyID() {
		t.Fatalf("unsigned session: stream and instance id should be random: %+v", h)
	}
}

// A member with a valid, pinned key cannot speak under another member's
// name, even when the server relabels the message for it.
func TestImpersonation(t *testing.T) {
	pr := newPair(t, true)
	bob := testIdentity(t, bobSeedHex)
	if err := pr.receiver.KeyRing().Pin("bob", bob.Public()); err != nil {
		t.Fatal(err)
	}
	bobSession, err := NewSession(testSessionID, testRoot(t), pr.sender.Params(), bob, pr.clock.opt())
	if err != nil {
		t.Fatal(err)
	}
	forged := mustSeal(t, bobSession, "chat.room-1", "alice", "I am alice")
	if _, err := pr.receiver.Open("chat.room-1", "alice", forged); !errors.Is(err, ErrAuth) {
		t.Fatalf("forged as alice: %v, want ErrAuth", err)
	}
	honest := mustSeal(t, bobSession, "chat.room-1", "bob", "I am bob")
	if _, err := pr.receiver.Open("chat.room-1", "bob", honest); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownSenderThenAnnouncement(t *testing.T) {
	pr := newPair(t, true)
	pr.receiver.KeyRing().Remove("alice")
	payload := mustSeal(t, pr.sender, "chat.room-1", "alice", "hi")
	_, err := pr.receiver.Open("chat.room-1", "alice", payload)
	if !errors.Is(err, ErrUnknownSender) {
		t.Fatalf("got %v, want ErrUnknownSender", err)
	}
	h, err := Inspect(payload)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := KeysTopic(h.KeyID), "$meta.e2e.keys."+pr.alice.KeyID().String(); got != want {
		t.Fatalf("KeysTopic %q, want %q", got, want)
	}
	// The client fetches the retained announcement, verifies and pins it.
	ann, err := NewAnnouncement(pr.alice, testSessionID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := VerifyAnnouncement(ann, testSessionID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if KeyIDOf(pub) != h.KeyID {
		t.Fatal("announced key does not match the envelope's key id")
	}
	if err := pr.receiver.KeyRing().Pin("alice", pub); err != nil {
		t.Fatal(err)
	}
	if got, err := pr.receiver.Open("chat.room-1", "alice", payload); err != nil || string(got) != "hi" {
		t.Fatalf("after pinning: %q, %v", got, err)
	}
}

func TestReplayThroughSession(t *testing.T) {
	pr := newPair(t, false)
	const n = ReplayWindow + 200
	payloads := make([]string, n+1) // by seq
	for seq := 1; seq <= n; seq++ {
		payloads[seq] = mustSeal(t, pr.sender, "t", "alice", "m")
	}
	open := func(seq int) error { _, err := pr.receiver.Open("t", "alice", payloads[seq]); return err }
	// Out of order within the window is fine, once.
	for _, seq := range []int{5, 3, 4, 1, 2} {
		if err := open(seq); err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
	}
	if err := open(3); !errors.Is(err, ErrReplay) {
		t.Fatalf("duplicate: %v, want ErrReplay", err)
	}
	if err := open(n); err != nil {
		t.Fatal(err)
	}
	// newest is n: n-1023 is the oldest still inside the window.
	if err := open(n - ReplayWindow + 1); err != nil {
		t.Fatalf("oldest in window: %v", err)
	}
	err := open(n - ReplayWindow)
	if !errors.Is(err, ErrOutOfWindow) || !errors.Is(err, ErrStale) || errors.Is(err, ErrReplay) {
		t.Fatalf("behind the window: %v, want ErrOutOfWindow", err)
	}
	if err := open(6); !errors.Is(err, ErrOutOfWindow) {
		t.Fatalf("old seq: %v", err)
	}
	// A rejected envelope does not change the state: forged ones can't
	// poison the window.
	forged := mutate(t, payloads[n-1], func(env []byte) []byte { env[len(env)-1] ^= 1; return env })
	if _, err := pr.receiver.Open("t", "alice", forged); !errors.Is(err, ErrAuth) {
		t.Fatal(err)
	}
	if err := open(n - 1); err != nil {
		t.Fatalf("after a forgery: %v", err)
	}
}

func TestTimeWindow(t *testing.T) {
	pr := newPair(t, false, WithTimeWindow(time.Minute, 10*time.Second))
	payload := mustSeal(t, pr.sender, "t", "alice", "m")
	pr.clock.Add(time.Minute + time.Millisecond)
	if _, err := pr.receiver.Open("t", "alice", payload); !errors.Is(err, ErrStale) || errors.Is(err, ErrOutOfWindow) {
		t.Fatalf("old: %v, want ErrStale", err)
	}
	pr.clock.Add(-time.Millisecond)
	if _, err := pr.receiver.Open("t", "alice", payload); err != nil {
		t.Fatalf("exactly maxAge old: %v", err)
	}
	future := mustSeal(t, pr.sender, "t", "alice", "m") // stamped now
	pr.clock.Add(-10*time.Second - time.Millisecond)
	if _, err := pr.receiver.Open("t", "alice", future); !errors.Is(err, ErrStale) {
		t.Fatalf("future: %v, want ErrStale", err)
	}
}

func TestNewSessionErrors(t *testing.T) {
	root := testRoot(t)
	signed := secretParams(t, testSessionID, true, 1)
	if _, err := NewSession(testSessionID, root, signed, nil); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("signed without identity: %v", err)
	}
	if _, err := NewSession(testSessionID, root[:31], signed, testIdentity(t, aliceSeedHex)); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("short root: %v", err)
	}
	noCheck := NewSecretParams(false)
	if _, err := NewSession(testSessionID, root, noCheck, nil); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("no key check: %v", err)
	}
	if _, err := NewSession("", root, secretParams(t, testSessionID, false, 1), nil); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("empty session id: %v", err)
	}
	if _, err := NewSession("other", root, secretParams(t, testSessionID, false, 1), nil); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("key check of another session: %v", err)
	}
	unsigned, err := NewSession(testSessionID, root, secretParams(t, testSessionID, false, 1), testIdentity(t, aliceSeedHex))
	if err != nil || unsigned.Signed() || unsigned.Epoch() != 1 || unsigned.SessionID() != testSessionID {
		t.Fatalf("unsigned session with an identity: %v", err)
	}
}

func TestSignedEnvelopeInUnsignedSession(t *testing.T) {
	s := newPair(t, true)
	u := newPair(t, false)
	if _, err := u.receiver.Open("t", "alice", mustSeal(t, s.sender, "t", "alice", "m")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}

func TestConcurrentSealOpen(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			pr := newPair(t, signed)
			const workers, each = 4, 200
			out := make(chan string, workers*each)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						p, err := pr.sender.Seal("t", "alice", fmt.Appendf(nil, "%d/%d", w, i))
						if err != nil {
							t.Error(err)
							return
						}
						out <- p
					}
				}()
			}
			wg.Wait()
			close(out)
			var payloads []string
			for p := range out {
				payloads = append(payloads, p)
			}
			// Open every payload twice from several goroutines: exactly one
			// open of each succeeds.
			var mu sync.Mutex
			opened := make(map[string]int)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range payloads {
						p := payloads[(i+w*37)%len(payloads)]
						pt, err := pr.receiver.Open("t", "alice", p)
						switch {
						case err == nil:
							mu.Lock()
							opened[string(pt)]++
							mu.Unlock()
						case !errors.Is(err, ErrReplay):
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			if len(opened) != workers*each {
				t.Fatalf("opened %d distinct messages, want %d", len(opened), workers*each)
			}
			for m, n := range opened {
				if n != 1 {
					t.Fatalf("%s opened %d times", m, n)
				}
			}
		})
	}
}

func TestInspectErrors(t *testing.T) {
	for _, p := range []string{"", "e2e:", "e2e:AAAA", "hello", "e2e:" + strings.Repeat("A", 104) + "\n",
		"e2e:" + strings.Repeat("*", 120)} {
		if _, err := Inspect(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("Inspect(%q) = %v, want ErrMalformed", p, err)
		}
	}
	pr := newPair(t, false)
	bad := mutate(t, mustSeal(t, pr.sender, "t", "a", "m"), func(e []byte) []byte { e[offMode] = 7; return e })
	if _, err := Inspect(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("mode 7: %v", err)
	}
}

func TestMaxStreamsOption(t *testing.T) {
	pr := newPair(t, false, WithMaxStreams(3))
	p := pr.sender.Params()
	for i := range 10 {
		s, err := NewSession(testSessionID, testRoot(t), p, nil, pr.clock.opt())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pr.receiver.Open("t", "x", mustSeal(t, s, "t", "x", "m")); err != nil {
			t.Fatal(i, err)
		}
	}
	if n, forced := pr.receiver.replay.stats(); n != 3 || forced != 7 {
		t.Fatalf("streams %d, forced evictions %d; want 3 and 7", n, forced)
	}
}

// A session accepts envelopes signed with its own key without a pin only
// under names it sealed with itself.
func TestOwnKeyNeedsOwnName(t *testing.T) {
	pr := newPair(t, true)
	mustSeal(t, pr.sender, "t", "alice", "first") // the sender now speaks as alice
	twin, err := NewSession(testSessionID, testRoot(t), pr.sender.Params(), pr.alice, pr.clock.opt())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.sender.Open("t", "alice", mustSeal(t, twin, "t", "alice", "m")); err != nil {
		t.Fatalf("same key, same name: %v", err)
	}
	if _, err := pr.sender.Open("t", "alice-2", mustSeal(t, twin, "t", "alice-2", "m")); !errors.Is(err, ErrUnknownSender) {
		t.Fatalf("same key, other name: %v, want ErrUnknownSender", err)
	}
}
