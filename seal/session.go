package seal

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Default time window: an envelope is accepted when its timestamp is at most
// DefaultMaxAge behind and DefaultMaxSkew ahead of the receiver's clock.
const (
	DefaultMaxAge  = 5 * time.Minute
	DefaultMaxSkew = 2 * time.Minute
)

// Option configures a Session. Zero or nil arguments mean the default.
type Option func(*config)

type config struct {
	ring       *KeyRing
	now        func() time.Time
	maxAge     time.Duration
	maxSkew    time.Duration
	maxStreams int
	rand       io.Reader
}

// WithKeyRing sets the key ring that signed envelopes are verified against.
// Default: a new, empty ring private to the session (see Session.KeyRing).
// Share one ring between the sessions of successive epochs so that pins
// survive key rotation.
func WithKeyRing(r *KeyRing) Option { return func(c *config) { c.ring = r } }

// WithClock sets the clock that stamps sealed envelopes and judges the age
// of opened ones. Default: time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithTimeWindow sets how far an envelope's timestamp may be behind (maxAge,
// default 5 minutes) and ahead of (maxSkew, default 2 minutes) the
// receiver's clock. Messages recovered from history older than maxAge are
// refused, so keep maxAge at least as long as the history the client
// recovers.
func WithTimeWindow(maxAge, maxSkew time.Duration) Option {
	return func(c *config) { c.maxAge, c.maxSkew = maxAge, maxSkew }
}

// WithMaxStreams bounds the replay state to n streams (default
// DefaultMaxStreams, about 200 bytes each; least recently used evicted
// first, see the package documentation).
func WithMaxStreams(n int) Option { return func(c *config) { c.maxStreams = n } }

// withRand replaces crypto/rand for stream ids, instance ids and nonces, so
// that tests can reproduce an envelope byte for byte.
func withRand(r io.Reader) Option { return func(c *config) { c.rand = &lockedReader{r: r} } }

// bufferedRand reads crypto/rand a few KiB at a time. It only ever supplies
// public values (nonces, stream and instance ids), so keeping some in memory
// costs nothing, and it saves a call into JavaScript per Seal under js/wasm
// (crypto.getRandomValues costs microseconds per call there).
type bufferedRand struct {
	mu    sync.Mutex
	buf   [4096]byte
	avail int // unread bytes: the last avail bytes of buf
}

func (b *bufferedRand) Read(p []byte) (int, error) {
	if len(p) > len(b.buf)/4 {
		return rand.Read(p)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.avail < len(p) {
		if _, err := rand.Read(b.buf[:]); err != nil {
			return 0, err
		}
		b.avail = len(b.buf)
	}
	n := copy(p, b.buf[len(b.buf)-b.avail:])
	b.avail -= n
	return n, nil
}

type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// Session seals and opens the payloads of one session at one epoch. It is
// safe for concurrent use; Seal and Open hold locks only briefly (the replay
// window, the buffer of random bytes, key ring lookups), never while
// encrypting or verifying.
type Session struct {
	sessionID string
	params    Params
	mode      byte
	aead      cipher.AEAD
	aadPrefix []byte // labelAAD ‖ lp(session_id)
	id        *Identity
	kid       KeyID   // id's key id, or random when unsigned
	stream    [8]byte // random per Session
	seq       atomic.Uint64

	ring      *KeyRing
	now       func() time.Time
	maxAgeMs  int64
	maxSkewMs int64
	rand      io.Reader
	replay    *replayState
	ownNames  sync.Map // publisher names Seal was called with, signed mode
}

// NewSession checks root against p's key check (ErrWrongKey on mismatch) and
// returns a session that seals and opens payloads of sessionID at p.Epoch.
// In signed mode (p.Signed) id is required and signs every envelope; in
// unsigned mode id is ignored and may be nil.
func NewSession(sessionID string, root []byte, p Params, id *Identity, opts ...Option) (*Session, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := p.checkKey(root, sessionID); err != nil {
		return nil, err
	}
	if p.Signed && id == nil {
		return nil, fmt.Errorf("%w: signed session needs an identity", ErrInvalidParams)
	}
	p.Salt, p.KeyCheck = bytes.Clone(p.Salt), bytes.Clone(p.KeyCheck)
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	if c.ring == nil {
		c.ring = NewKeyRing()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxAge <= 0 {
		c.maxAge = DefaultMaxAge
	}
	if c.maxSkew <= 0 {
		c.maxSkew = DefaultMaxSkew
	}
	if c.maxStreams <= 0 {
		c.maxStreams = DefaultMaxStreams
	}
	if c.rand == nil {
		c.rand = &bufferedRand{}
	}

	key := messageKey(root, sessionID, p.Epoch)
	aead, err := chacha20poly1305.NewX(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}

	s := &Session{
		sessionID: sessionID,
		params:    p,
		mode:      modeOf(p.Signed),
		aead:      aead,
		aadPrefix: appendLP([]byte(labelAAD), sessionID),
		ring:      c.ring,
		now:       c.now,
		maxAgeMs:  c.maxAge.Milliseconds(),
		maxSkewMs: c.maxSkew.Milliseconds(),
		rand:      c.rand,
		replay:    newReplayState(c.maxStreams, (c.maxAge + c.maxSkew).Milliseconds()),
	}
	if _, err := io.ReadFull(s.rand, s.stream[:]); err != nil {
		return nil, fmt.Errorf("seal: reading random stream id: %w", err)
	}
	if p.Signed {
		s.id = id
		s.kid = id.KeyID()
	} else if _, err := io.ReadFull(s.rand, s.kid[:]); err != nil {
		return nil, fmt.Errorf("seal: reading random instance id: %w", err)
	}
	return s, nil
}

// SessionID returns the session id the session is bound to.
func (s *Session) SessionID() string { return s.sessionID }

// Params returns a copy of the parameters the session was created with.
func (s *Session) Params() Params {
	p := s.params
	p.Salt, p.KeyCheck = bytes.Clone(p.Salt), bytes.Clone(p.KeyCheck)
	return p
}

// Epoch returns the key epoch of the session.
func (s *Session) Epoch() uint32 { return s.params.Epoch }

// Signed reports whether the session is in signed mode.
func (s *Session) Signed() bool { return s.params.Signed }

// KeyID returns the key id written into sealed envelopes: the identity's in
// signed mode, a random per-session id otherwise.
func (s *Session) KeyID() KeyID { return s.kid }

// KeyRing returns the key ring signed envelopes are verified against.
func (s *Session) KeyRing() *KeyRing { return s.ring }

// Seal encrypts plaintext for topic, as published by publisherName (the
// sealing client's own name, which the server stamps on the message), and
// returns the payload string "e2e:<base64url>". The envelope is bound to the
// session id, topic and publisher name: opened under any other, it fails with
// ErrAuth.
func (s *Session) Seal(topic, publisherName string, plaintext []byte) (string, error) {
	seq := s.seq.Add(1)
	ts := s.now().UnixMilli()
	if ts < 0 {
		ts = 0
	}
	sigLen := 0
	if s.mode == modeSigned {
		sigLen = sigSize
	}
	envLen := headerSize + len(plaintext) + tagSize + sigLen
	bp := getBuf(len(s.aadPrefix) + 8 + len(topic) + len(publisherName) + envLen + len(Prefix) + b64.EncodedLen(envLen))
	defer putBuf(bp)
	buf := s.appendAADPrefix((*bp)[:0], topic, publisherName)
	base := len(buf)
	if sigLen > 0 {
		if _, ok := s.ownNames.Load(publisherName); !ok {
			s.ownNames.Store(publisherName, struct{}{})
		}
	}

	buf = append(buf, envelopeVersion, s.mode)
	buf = binary.BigEndian.AppendUint32(buf, s.params.Epoch)
	buf = append(buf, s.kid[:]...)
	buf = append(buf, s.stream[:]...)
	buf = binary.BigEndian.AppendUint64(buf, seq)
	buf = binary.BigEndian.AppendUint64(buf, uint64(ts))
	buf = buf[:base+headerSize]
	nonce := buf[base+offNonce : base+headerSize]
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return "", fmt.Errorf("seal: reading random nonce: %w", err)
	}

	// buf is the associated data; the ciphertext is appended right after
	// it, so that buf then holds AAD ‖ ciphertext, the signed message.
	buf = s.aead.Seal(buf, nonce, plaintext, buf)
	if sigLen > 0 {
		buf = append(buf, ed25519.Sign(s.id.priv, buf)...)
	}
	// The text form goes after the envelope in the same scratch buffer, so
	// the returned string is the only allocation.
	end := len(buf)
	buf = append(buf, Prefix...)
	buf = b64.AppendEncode(buf, buf[base:end])
	*bp = buf
	return string(buf[end:]), nil
}

// Open authenticates and decrypts a payload received on topic from
// publisherName (both as the server delivered them) and returns the
// plaintext. In order it checks: format (ErrMalformed), mode (ErrUnsigned),
// epoch (ErrEpoch), in signed mode the sender's key (ErrUnknownSender) and
// signature, then the AEAD (ErrAuth), the timestamp (ErrStale) and the
// replay window (ErrReplay, ErrOutOfWindow). Only an authentic envelope
// changes the replay state.
func (s *Session) Open(topic, publisherName, payload string) ([]byte, error) {
	bp := getBuf(len(s.aadPrefix) + 8 + len(topic) + len(publisherName) + len(payload))
	defer putBuf(bp)
	buf := s.appendAADPrefix((*bp)[:0], topic, publisherName)
	base := len(buf)
	buf, err := decodePayload(payload, buf)
	if err != nil {
		return nil, err
	}
	*bp = buf
	env := buf[base:]

	h, err := parseHeader(env)
	if err != nil {
		return nil, err
	}
	switch {
	case s.mode == modeSigned && !h.Signed:
		return nil, fmt.Errorf("%w: from %q on %q", ErrUnsigned, publisherName, topic)
	case s.mode == modeUnsigned && h.Signed:
		return nil, fmt.Errorf("%w: signed envelope in an unsigned session", ErrMalformed)
	}
	if h.Epoch != s.params.Epoch {
		return nil, fmt.Errorf("%w: envelope epoch %d, session epoch %d", ErrEpoch, h.Epoch, s.params.Epoch)
	}
	end := len(buf)
	if h.Signed {
		end -= sigSize
		var pub ed25519.PublicKey
		if name, p, ok := s.ring.Lookup(h.KeyID); ok {
			if name != publisherName {
				return nil, fmt.Errorf("%w: key %s is pinned to %q, the message claims %q", ErrAuth, h.KeyID, name, publisherName)
			}
			pub = p
		} else if s.id != nil && h.KeyID == s.kid && s.sealedAs(publisherName) {
			// Our own echo: only holders of our key can sign with it, and
			// we sealed under this name, so no pin is needed.
			pub = s.id.pub
		} else {
			return nil, fmt.Errorf("%w: key %s (from %q)", ErrUnknownSender, h.KeyID, publisherName)
		}
		if !ed25519.Verify(pub, buf[:end], buf[end:]) {
			return nil, fmt.Errorf("%w: bad signature from %q on %q", ErrAuth, publisherName, topic)
		}
	}
	aad := buf[:base+headerSize]
	nonce := buf[base+offNonce : base+headerSize]
	plaintext, err := s.aead.Open(nil, nonce, buf[base+headerSize:end], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: from %q on %q", ErrAuth, publisherName, topic)
	}

	if h.Seq == 0 {
		return nil, fmt.Errorf("%w: sequence number 0", ErrMalformed)
	}
	nowMs := s.now().UnixMilli()
	tsMs := h.Timestamp.UnixMilli()
	if tsMs < nowMs-s.maxAgeMs || tsMs > nowMs+s.maxSkewMs {
		return nil, fmt.Errorf("%w: timestamp %s is outside [-%s, +%s] of %s", ErrStale,
			h.Timestamp.UTC().Format(time.RFC3339Nano),
			time.Duration(s.maxAgeMs)*time.Millisecond, time.Duration(s.maxSkewMs)*time.Millisecond,
			time.UnixMilli(nowMs).UTC().Format(time.RFC3339Nano))
	}
	k := streamKey{epoch: h.Epoch, kid: h.KeyID, stream: h.Stream}
	if err := s.replay.accept(k, h.Seq, nowMs); err != nil {
		return nil, err
	}
	return plaintext, nil
}

// sealedAs reports whether Seal was called with publisherName.
func (s *Session) sealedAs(publisherName string) bool {
	_, ok := s.ownNames.Load(publisherName)
	return ok
}

// messageKey is HKDF-SHA256(root, info = label ‖ lp(session_id) ‖ u32 epoch).
func messageKey(root []byte, sessionID string, epoch uint32) []byte {
	info := make([]byte, 0, len(labelMessageKey)+8+len(sessionID))
	info = append(info, labelMessageKey...)
	info = appendLP(info, sessionID)
	info = binary.BigEndian.AppendUint32(info, epoch)
	return deriveKey(root, info, KeySize)
}

// appendAADPrefix appends label ‖ lp(session_id) ‖ lp(topic) ‖
// lp(publisher_name), the associated data before the envelope header.
func (s *Session) appendAADPrefix(b []byte, topic, publisherName string) []byte {
	b = append(b, s.aadPrefix...)
	b = appendLP(b, topic)
	return appendLP(b, publisherName)
}
