package seal

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestMain fails the run if a test leaves goroutines behind. The package
// starts none, so any left over is a bug. It polls rather than sleeps: a
// goroutine that has just finished may still be listed for a moment.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		var leaked []string
		for deadline := time.Now().Add(5 * time.Second); ; runtime.Gosched() {
			if leaked = leakedGoroutines(); len(leaked) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n\n%s\n", strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of goroutines other than the caller's
// that run code outside the runtime (the js/wasm runtime keeps an event
// handler goroutine of its own) and os/signal (which the fuzzing
// coordinator uses).
func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the caller's own goroutine comes first
			continue
		}
		lines := strings.Split(g, "\n")
		for j := 1; j < len(lines); j += 2 {
			fn := strings.TrimPrefix(strings.TrimSpace(lines[j]), "created by ")
			if fn != "" && !strings.HasPrefix(fn, "runtime.") && !strings.HasPrefix(fn, "os/signal.") {
				leaked = append(leaked, g)
				break
			}
		}
	}
	return leaked
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// exactReader yields exactly the given bytes and then fails, so a test
// notices when the code reads more randomness than the vector provides.
type exactReader struct{ b []byte }

func (r *exactReader) Read(p []byte) (int, error) {
	if len(r.b) < len(p) {
		return 0, fmt.Errorf("exactReader: %d bytes wanted, %d left", len(p), len(r.b))
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// fakeClock is a settable clock for WithClock.
type fakeClock struct{ ms atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ms.Store(t.UnixMilli())
	return c
}

func (c *fakeClock) Now() time.Time      { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) Add(d time.Duration) { c.ms.Add(d.Milliseconds()) }
func (c *fakeClock) opt() Option         { return WithClock(c.Now) }

// Fixed test material (never use fixed keys outside tests).
const (
	testSessionID = "user-session-123"
	testRootHex   = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	aliceSeedHex  = "a11ce0000000000000000000000000000000000000000000000000000000a11c"
	bobSeedHex    = "b0b0000000000000000000000000000000000000000000000000000000000b0b"
)

var testEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testRoot(t testing.TB) []byte { return unhex(t, testRootHex) }

func testIdentity(t testing.TB, seedHex string) *Identity {
	t.Helper()
	id, err := IdentityFromSeed(unhex(t, seedHex))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// secretParams returns complete KDFSecret params for the test root.
func secretParams(t testing.TB, sessionID string, signed bool, epoch uint32) Params {
	t.Helper()
	p := NewSecretParams(signed)
	p.Epoch = epoch
	if err := p.SetKeyCheck(testRoot(t), sessionID); err != nil {
		t.Fatal(err)
	}
	return p
}

// pair is a sender and a receiver of the same session sharing a clock; in
// signed mode the receiver has pinned the sender ("alice").
type pair struct {
	clock    *fakeClock
	alice    *Identity
	sender   *Session
	receiver *Session
}

func newPair(t testing.TB, signed bool, opts ...Option) *pair {
	t.Helper()
	pr := &pair{clock: newFakeClock(testEpoch)}
	p := secretParams(t, testSessionID, signed, 1)
	pr.alice = testIdentity(t, aliceSeedHex)
	var err error
	pr.sender, err = NewSession(testSessionID, testRoot(t), p, pr.alice, append([]Option{pr.clock.opt()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ring := NewKeyRing()
	if signed {
		if err := ring.Pin("alice", pr.alice.Public()); err != nil {
			t.Fatal(err)
		}
	}
	pr.receiver, err = NewSession(testSessionID, testRoot(t), p, testIdentity(t, bobSeedHex),
		append([]Option{pr.clock.opt(), WithKeyRing(ring)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func mustSeal(t testing.TB, s *Session, topic, name, msg string) string {
	t.Helper()
	out, err := s.Seal(topic, name, []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mutate decodes a payload, applies f to the envelope and re-encodes it.
func mutate(t testing.TB, payload string, f func(env []byte) []byte) string {
	t.Helper()
	env, err := b64.DecodeString(strings.TrimPrefix(payload, Prefix))
	if err != nil {
		t.Fatal(err)
	}
	return Prefix + b64.EncodeToString(f(env))
}
