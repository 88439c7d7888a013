package seal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

var update = flag.Bool("update", false, "rewrite testdata/envelopes.json from the fixed inputs")

func TestXChaCha20Poly1305Vector(t *testing.T) {
	var v struct {
		Source     string `json:"source"`
		Key        string `json:"key"`
		Nonce      string `json:"nonce"`
		AAD        string `json:"aad"`
		Plaintext  string `json:"plaintext"`
		Ciphertext string `json:"ciphertext"`
		Tag        string `json:"tag"`
	}
	readJSON(t, "xchacha20poly1305.json", &v)
	aead, err := chacha20poly1305.NewX(unhex(t, v.Key))
	if err != nil {
		t.Fatal(err)
	}
	want := append(unhex(t, v.Ciphertext), unhex(t, v.Tag)...)
	got := aead.Seal(nil, unhex(t, v.Nonce), unhex(t, v.Plaintext), unhex(t, v.AAD))
	if !bytes.Equal(got, want) {
		t.Fatalf("seal:\n got %x\nwant %x", got, want)
	}
	pt, err := aead.Open(nil, unhex(t, v.Nonce), want, unhex(t, v.AAD))
	if err != nil || !bytes.Equal(pt, unhex(t, v.Plaintext)) {
		t.Fatalf("open: %v %q", err, pt)
	}
	want[len(want)-1] ^= 1
	if _, err := aead.Open(nil, unhex(t, v.Nonce), want, unhex(t, v.AAD)); err == nil {
		t.Fatal("open accepted a modified tag")
	}
}

func TestEd25519Vector(t *testing.T) {
	var v struct {
		Source    string `json:"source"`
		SecretKey string `json:"secret_key"`
		PublicKey string `json:"public_key"`
		Message   string `json:"message"`
		Signature string `json:"signature"`
	}
	readJSON(t, "ed25519.json", &v)
	id, err := IdentityFromSeed(unhex(t, v.SecretKey))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(id.Public()); got != v.PublicKey {
		t.Fatalf("public key %s, want %s", got, v.PublicKey)
	}
	if got := hex.EncodeToString(ed25519.Sign(id.priv, unhex(t, v.Message))); got != v.Signature {
		t.Fatalf("signature %s, want %s", got, v.Signature)
	}
	if !ed25519.Verify(id.Public(), unhex(t, v.Message), unhex(t, v.Signature)) {
		t.Fatal("verify failed")
	}
	if !bytes.Equal(id.Seed(), unhex(t, v.SecretKey)) {
		t.Fatal("Seed does not round-trip")
	}
}

func TestHKDFVectors(t *testing.T) {
	var f struct {
		Source string `json:"source"`
		Cases  []struct {
			Name   string `json:"name"`
			IKM    string `json:"ikm"`
			Salt   string `json:"salt"`
			Info   string `json:"info"`
			Length int    `json:"length"`
			PRK    string `json:"prk"`
			OKM    string `json:"okm"`
		} `json:"cases"`
	}
	readJSON(t, "hkdf.json", &f)
	for _, v := range f.Cases {
		prk, err := hkdf.Extract(sha256.New, unhex(t, v.IKM), unhex(t, v.Salt))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(prk); got != v.PRK {
			t.Fatalf("%s: prk %s, want %s", v.Name, got, v.PRK)
		}
		okm, err := hkdf.Key(sha256.New, unhex(t, v.IKM), unhex(t, v.Salt), string(unhex(t, v.Info)), v.Length)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(okm); got != v.OKM {
			t.Fatalf("%s: okm %s, want %s", v.Name, got, v.OKM)
		}
		if len(v.Salt) == 0 {
			// deriveKey is HKDF-SHA256 with an empty salt.
			if got := hex.EncodeToString(deriveKey(unhex(t, v.IKM), unhex(t, v.Info), v.Length)); got != v.OKM {
				t.Fatalf("%s: deriveKey %s, want %s", v.Name, got, v.OKM)
			}
		}
	}
}

func TestArgon2idVector(t *testing.T) {
	var v struct {
		Source     string `json:"source"`
		Command    string `json:"command"`
		Encoded    string `json:"encoded"`
		Passphrase string `json:"passphrase"`
		Salt       string `json:"salt"`
		Time       uint32 `json:"time"`
		MemoryKiB  uint32 `json:"memory_kib"`
		Threads    uint8  `json:"threads"`
		Length     int    `json:"length"`
		Hash       string `json:"hash"`
	}
	readJSON(t, "argon2id.json", &v)
	p := Params{
		Version: ParamsVersion, KDF: KDFArgon2id, Salt: unhex(t, v.Salt),
		Time: v.Time, MemoryKiB: v.MemoryKiB, Threads: v.Threads, Epoch: 1,
	}
	if p.Time != DefaultTime || p.MemoryKiB != DefaultMemoryKiB || p.Threads != DefaultThreads || v.Length != KeySize {
		t.Fatalf("the vector should use the default cost, has %+v", v)
	}
	root, err := DeriveRoot(v.Passphrase, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(root); got != v.Hash {
		t.Fatalf("argon2id %s, want %s", got, v.Hash)
	}
}

// envelopeFile is testdata/envelopes.json.
type envelopeFile struct {
	Comment   []string       `json:"comment"`
	SessionID string         `json:"session_id"`
	Root      string         `json:"root"`
	Vectors   []envVector    `json:"vectors"`
	KeyChecks []keyCheckVec  `json:"key_checks"`
	MustFail  []mustFailCase `json:"must_fail"`
}

type envVector struct {
	Name          string `json:"name"`
	Params        Params `json:"params"`
	IdentitySeed  string `json:"identity_seed,omitempty"`
	MessageKey    string `json:"message_key"`
	StreamID      string `json:"stream_id"`
	InstanceID    string `json:"instance_id,omitempty"`
	Nonce         string `json:"nonce"`
	TimestampMs   int64  `json:"timestamp_ms"`
	Topic         string `json:"topic"`
	PublisherName string `json:"publisher_name"`
	Plaintext     string `json:"plaintext"`
	AAD           string `json:"aad"`
	Envelope      string `json:"envelope"`
	Payload       string `json:"payload"`
}

type keyCheckVec struct {
	Name      string `json:"name"`
	Root      string `json:"root"`
	SessionID string `json:"session_id"`
	Params    Params `json:"params"`
}

type receiverSpec struct {
	SessionID string `json:"session_id"`
	Root      string `json:"root"`
	Params    Params `json:"params"`
	ClockMs   int64  `json:"clock_ms"`
	PinName   string `json:"pin_name,omitempty"`
	PinKey    string `json:"pin_key,omitempty"`
}

type mustFailCase struct {
	Name          string       `json:"name"`
	Receiver      receiverSpec `json:"receiver"`
	Topic         string       `json:"topic"`
	PublisherName string       `json:"publisher_name"`
	Payload       string       `json:"payload"`
	OpenFirst     bool         `json:"open_first,omitempty"`
	Error         string       `json:"error"`
}

var sentinels = map[string]error{
	"ErrWrongKey": ErrWrongKey, "ErrAuth": ErrAuth, "ErrReplay": ErrReplay, "ErrStale": ErrStale,
	"ErrOutOfWindow": ErrOutOfWindow, "ErrUnsigned": ErrUnsigned, "ErrUnknownSender": ErrUnknownSender,
	"ErrMalformed": ErrMalformed, "ErrEpoch": ErrEpoch, "ErrWeakParams": ErrWeakParams,
	"ErrInvalidParams": ErrInvalidParams, "ErrKeyChanged": ErrKeyChanged,
}

func TestEnvelopeVectors(t *testing.T) {
	if *update {
		writeEnvelopeVectors(t)
	}
	var f envelopeFile
	readJSON(t, "envelopes.json", &f)
	if len(f.Vectors) < 2 || len(f.MustFail) < 10 {
		t.Fatalf("too few vectors: %d valid, %d must-fail", len(f.Vectors), len(f.MustFail))
	}
	root := unhex(t, f.Root)
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			if got := hex.EncodeToString(messageKey(root, f.SessionID, v.Params.Epoch)); got != v.MessageKey {
				t.Fatalf("message key %s, want %s", got, v.MessageKey)
			}
			s := vectorSender(t, f.SessionID, root, v)
			got, err := s.Seal(v.Topic, v.PublisherName, []byte(v.Plaintext))
			if err != nil {
				t.Fatal(err)
			}
			if got != v.Payload {
				t.Fatalf("payload\n got %s\nwant %s", got, v.Payload)
			}
			if env := hex.EncodeToString(unb64(t, got)); env != v.Envelope {
				t.Fatalf("envelope\n got %s\nwant %s", env, v.Envelope)
			}
			aad := s.appendAADPrefix(nil, v.Topic, v.PublisherName)
			aad = append(aad, unhex(t, v.Envelope)[:headerSize]...)
			if got := hex.EncodeToString(aad); got != v.AAD {
				t.Fatalf("aad\n got %s\nwant %s", got, v.AAD)
			}
			r := vectorReceiver(t, receiverSpec{
				SessionID: f.SessionID, Root: f.Root, Params: v.Params, ClockMs: v.TimestampMs,
				PinName: v.PublisherName, PinKey: pinKeyHex(t, v),
			})
			pt, err := r.Open(v.Topic, v.PublisherName, v.Payload)
			if err != nil || string(pt) != v.Plaintext {
				t.Fatalf("open: %q, %v", pt, err)
			}
		})
	}
	for _, kc := range f.KeyChecks {
		t.Run("key check "+kc.Name, func(t *testing.T) {
			if _, err := NewSession(kc.SessionID, unhex(t, kc.Root), kc.Params, testIdentity(t, aliceSeedHex)); err != nil {
				t.Fatal(err)
			}
			p := kc.Params
			p.KeyCheck = nil
			if err := p.SetKeyCheck(unhex(t, kc.Root), kc.SessionID); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.KeyCheck, kc.Params.KeyCheck) {
				t.Fatalf("key check %x, want %x", p.KeyCheck, kc.Params.KeyCheck)
			}
		})
	}
	for _, c := range f.MustFail {
		t.Run("must fail "+c.Name, func(t *testing.T) {
			want, ok := sentinels[c.Error]
			if !ok {
				t.Fatalf("unknown error name %q", c.Error)
			}
			if err := runMustFail(t, c); !errors.Is(err, want) {
				t.Fatalf("got %v, want %s", err, c.Error)
			}
		})
	}
}

func unb64(t testing.TB, payload string) []byte {
	t.Helper()
	env, err := decodePayload(payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func pinKeyHex(t testing.TB, v envVector) string {
	if v.IdentitySeed == "" {
		return ""
	}
	return hex.EncodeToString(testIdentity(t, v.IdentitySeed).Public())
}

func vectorSender(t testing.TB, sessionID string, root []byte, v envVector) *Session {
	t.Helper()
	rnd := unhex(t, v.StreamID)
	rnd = append(rnd, unhex(t, v.InstanceID)...)
	rnd = append(rnd, unhex(t, v.Nonce)...)
	var id *Identity
	if v.IdentitySeed != "" {
		id = testIdentity(t, v.IdentitySeed)
	}
	clock := newFakeClock(time.UnixMilli(v.TimestampMs))
	s, err := NewSession(sessionID, root, v.Params, id, clock.opt(), withRand(&exactReader{b: rnd}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// vectorReceiver builds the receiving session a must-fail case describes;
// errors from NewSession are returned through the *Session being nil.
func newVectorReceiver(t testing.TB, r receiverSpec) (*Session, error) {
	t.Helper()
	ring := NewKeyRing()
	if r.PinKey != "" {
		if err := ring.Pin(r.PinName, unhex(t, r.PinKey)); err != nil {
			t.Fatal(err)
		}
	}
	clock := newFakeClock(time.UnixMilli(r.ClockMs))
	return NewSession(r.SessionID, unhex(t, r.Root), r.Params, testIdentity(t, bobSeedHex), clock.opt(), WithKeyRing(ring))
}

func vectorReceiver(t testing.TB, r receiverSpec) *Session {
	t.Helper()
	s, err := newVectorReceiver(t, r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runMustFail(t testing.TB, c mustFailCase) error {
	t.Helper()
	r, err := newVectorReceiver(t, c.Receiver)
	if err != nil {
		return err
	}
	if c.OpenFirst {
		if _, err := r.Open(c.Topic, c.PublisherName, c.Payload); err != nil {
			t.Fatalf("first open should succeed: %v", err)
		}
	}
	_, err = r.Open(c.Topic, c.PublisherName, c.Payload)
	return err
}

// writeEnvelopeVectors regenerates testdata/envelopes.json (go test -run
// TestEnvelopeVectors -update). Every must-fail case states the error it
// must produce; generation fails if it does not.
func writeEnvelopeVectors(t *testing.T) {
	sid := testSessionID
	root := testRoot(t)
	ts := testEpoch.UnixMilli()
	f := envelopeFile{
		Comment: []string{
			"Envelope v1 vectors for package seal (github.com/switchboardhq/switchboard/seal).",
			"Regenerate with: go test ./seal/ -run TestEnvelopeVectors -update",
			"Byte strings are hex except params (JSON, base64url) and payload (the JSON string value).",
			"A sender draws randomness in this order: stream_id (8), instance_id (8, unsigned mode only), then per Seal the nonce (24).",
			"identity_seed is the Ed25519 seed (RFC 8032 private key) of the signer.",
			"must_fail: build the receiver (session_id, root, params, clock; pin pin_key under pin_name), open the payload once first if open_first, then Open must fail with error.",
		},
		SessionID: sid,
		Root:      testRootHex,
	}
	mk := func(name string, signed bool, seed, stream, inst, nonce, topic, publisher, plaintext string) envVector {
		v := envVector{
			Name: name, Params: secretParams(t, sid, signed, 1), IdentitySeed: seed,
			StreamID: stream, InstanceID: inst, Nonce: nonce, TimestampMs: ts,
			Topic: topic, PublisherName: publisher, Plaintext: plaintext,
		}
		v.MessageKey = hex.EncodeToString(messageKey(root, sid, 1))
		s := vectorSender(t, sid, root, v)
		out, err := s.Seal(topic, publisher, []byte(plaintext))
		if err != nil {
			t.Fatal(err)
		}
		v.Payload = out
		v.Envelope = hex.EncodeToString(unb64(t, out))
		aad := s.appendAADPrefix(nil, topic, publisher)
		v.AAD = hex.EncodeToString(append(aad, unb64(t, out)[:headerSize]...))
		return v
	}
	unsigned := mk("unsigned", false, "",
		"53545245414d2d31", "494e53542d303031", "4e4f4e43452d4e4f4e43452d4e4f4e43452d4e4f4e434521",
		"chat.room-1", "alice", `{"text":"hello, world"}`)
	signed := mk("signed", true, aliceSeedHex,
		"53545245414d2d32", "", "6e6f6e63652d6e6f6e63652d6e6f6e63652d6e6f6e636521",
		"chat.room-1", "alice", `{"text":"signed hello"}`)
	f.Vectors = []envVector{unsigned, signed}

	argonRoot := "9ec89bf52dadf9d076b78d2d888bec5c9a1331e44d875eb2764d7b3c6a78e376" // testdata/argon2id.json
	kp := Params{
		Version: 1, KDF: KDFArgon2id, Salt: []byte("switchboard-salt"),
		Time: DefaultTime, MemoryKiB: DefaultMemoryKiB, Threads: DefaultThreads, Epoch: 1, Signed: true,
	}
	if err := kp.SetKeyCheck(unhex(t, argonRoot), sid); err != nil {
		t.Fatal(err)
	}
	f.KeyChecks = []keyCheckVec{
		{Name: "argon2id root", Root: argonRoot, SessionID: sid, Params: kp},
		{Name: "secret root", Root: testRootHex, SessionID: sid, Params: secretParams(t, sid, false, 1)},
	}

	aliceKey := hex.EncodeToString(testIdentity(t, aliceSeedHex).Public())
	recv := func(v envVector) receiverSpec {
		r := receiverSpec{SessionID: sid, Root: testRootHex, Params: v.Params, ClockMs: ts}
		if v.IdentitySeed != "" {
			r.PinName, r.PinKey = v.PublisherName, aliceKey
		}
		return r
	}
	flip := func(payload string, i int) string {
		return mutate(t, payload, func(env []byte) []byte {
			if i < 0 {
				i += len(env)
			}
			env[i] ^= 0x01
			return env
		})
	}
	fail := func(name string, v envVector, r receiverSpec, topic, publisher, payload string, openFirst bool, errName string) mustFailCase {
		return mustFailCase{Name: name, Receiver: r, Topic: topic, PublisherName: publisher, Payload: payload, OpenFirst: openFirst, Error: errName}
	}
	otherSession := "other-session"
	otherSessionRecv := func(v envVector) receiverSpec {
		r := recv(v)
		r.SessionID = otherSession
		r.Params = secretParams(t, otherSession, v.Params.Signed, 1)
		return r
	}
	wrongRoot := recv(unsigned)
	wrongRoot.Root = "ff" + testRootHex[2:]
	epoch2 := recv(unsigned)
	epoch2.Params = secretParams(t, sid, false, 2)
	tamperedParams := recv(signed)
	tamperedParams.Params.Signed = false
	stale := recv(unsigned)
	stale.ClockMs = ts + DefaultMaxAge.Milliseconds() + 1
	future := recv(unsigned)
	future.ClockMs = ts - DefaultMaxSkew.Milliseconds() - 1
	unpinned := recv(signed)
	unpinned.PinName, unpinned.PinKey = "", ""
	pinnedElsewhere := recv(signed)
	pinnedElsewhere.PinName = "mallory"
	signedRecvForUnsigned := recv(signed)

	stripped := mutate(t, signed.Payload, func(env []byte) []byte {
		env[offMode] = modeUnsigned
		return env[:len(env)-sigSize]
	})
	strippedKeepMode := mutate(t, signed.Payload, func(env []byte) []byte { return env[:len(env)-sigSize] })
	cases := []mustFailCase{
		fail("other topic", unsigned, recv(unsigned), "chat.room-2", unsigned.PublisherName, unsigned.Payload, false, "ErrAuth"),
		fail("other topic (signed)", signed, recv(signed), "chat.room-2", signed.PublisherName, signed.Payload, false, "ErrAuth"),
		fail("other session", unsigned, otherSessionRecv(unsigned), unsigned.Topic, unsigned.PublisherName, unsigned.Payload, false, "ErrAuth"),
		fail("other session (signed)", signed, func() receiverSpec { r := otherSessionRecv(signed); r.PinName, r.PinKey = "alice", aliceKey; return r }(), signed.Topic, signed.PublisherName, signed.Payload, false, "ErrAuth"),
		fail("relabelled publisher", unsigned, recv(unsigned), unsigned.Topic, "mallory", unsigned.Payload, false, "ErrAuth"),
		fail("relabelled publisher (signed)", signed, recv(signed), signed.Topic, "mallory", signed.Payload, false, "ErrAuth"),
		fail("signer pinned to another name", signed, pinnedElsewhere, signed.Topic, signed.PublisherName, signed.Payload, false, "ErrAuth"),
		fail("bit flip in ciphertext", unsigned, recv(unsigned), unsigned.Topic, unsigned.PublisherName, flip(unsigned.Payload, headerSize), false, "ErrAuth"),
		fail("bit flip in tag", unsigned, recv(unsigned), unsigned.Topic, unsigned.PublisherName, flip(unsigned.Payload, -1), false, "ErrAuth"),
		fail("bit flip in seq", unsigned, recv(unsigned), unsigned.Topic, unsigned.PublisherName, flip(unsigned.Payload, offSeq+7), false, "ErrAuth"),
		fail("bit flip in timestamp", unsigned, recv(unsigned), unsigned.Topic, unsigned.PublisherName, flip(unsigned.Payload, offTime+7), false, "ErrAuth"),
		fail("bit flip in nonce", unsigned, recv(unsigned), unsigned.Topic, unsigned.PublisherName, flip(unsigned.Payload, offNonce), false, "ErrAuth"),
		fail("bit flip in ciphertext (signed)", signed, recv(signed), signed.Topic, signed.PublisherName, flip(signed.Payload, headerSize), false, "ErrAuth"),
		fail("bit flip in signature", signed, recv(signed), signed.Topic, signed.PublisherName, flip(signed.Payload, -1), false, "ErrAuth"),
		fail("bit flip in key id", signed, recv(signed), signed.Topic, signed.PublisherName, flip(signed.Payload, offKeyID), false, "ErrUnknownSender"),
		fail("signature stripped", signed, recv(signed), signed.Topic, signed.PublisherName, stripped, false, "ErrUnsigned"),
		fail("signature stripped, mode kept", signed, recv(signed), signed.Topic, signed.PublisherName, strippedKeepMode, false, "ErrMalformed"),
		fail("unsigned envelope in signed session", unsigned, signedRecvForUnsigned, unsigned.Topic, unsigned.PublisherName, unsigned.Payload, false, "ErrUnsigned"),
		fail("unknown sender key", signed, unpinned, signed.Topic, signed.PublisherName, signed.Payload, false, "ErrUnknownSender"),
		fail("replay", unsigned, recv(unsigned), unsigned.Topic, unsigned.PublisherName, unsigned.Payload, true, "ErrReplay"),
		fail("replay (signed)", signed, recv(signed), signed.Topic, signed.PublisherName, signed.Payload, true, "ErrReplay"),
		fail("stale timestamp", unsigned, stale, unsigned.Topic, unsigned.PublisherName, unsigned.Payload, false, "ErrStale"),
		fail("timestamp from the future", unsigned, future, unsigned.Topic, unsigned.PublisherName, unsigned.Payload, false, "ErrStale"),
		fail("wrong key (key check)", unsigned, wrongRoot, unsigned.Topic, unsigned.PublisherName, unsigned.Payload, false, "ErrWrongKey"),
		fail("params edited: signing turned off", signed, tamperedParams, signed.Topic, signed.PublisherName, signed.Payload, false, "ErrWrongKey"),
		fail("other epoch", unsigned, epoch2, unsigned.Topic, unsigned.PublisherName, unsigned.Payload, false, "ErrEpoch"),
		fail("version 2", unsigned, recv(unsigned), unsigned.Topic, unsigned.PublisherName, mutate(t, unsigned.Payload, func(e []byte) []byte { e[0] = 2; return e }), false, "ErrMalformed"),
		fail("truncated", unsigned, recv(unsigned), unsigned.Topic, unsigned.PublisherName, unsigned.Payload[:len(Prefix)+100], false, "ErrMalformed"),
		fail("padding", unsigned, recv(unsigned), unsigned.Topic, unsigned.PublisherName, unsigned.Payload+"==", false, "ErrMalformed"),
		fail("no prefix", unsigned, recv(unsigned), unsigned.Topic, unsigned.PublisherName, unsigned.Payload[len(Prefix):], false, "ErrMalformed"),
	}
	for _, c := range cases {
		if err := runMustFail(t, c); !errors.Is(err, sentinels[c.Error]) {
			t.Fatalf("generating %q: got %v, want %s", c.Name, err, c.Error)
		}
	}
	f.MustFail = cases

	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "envelopes.json"), append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
