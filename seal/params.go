package seal

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Reserved metadata topics (PROTOCOL.md, "Retained session metadata").
const (
	// ParamsTopic holds a session's Params as its retained JSON object,
	// created with if_seq 0 by the first client and replaced by compare-and-set
	// on rotation.
	ParamsTopic = "$meta.e2e"

	// keysTopicPrefix + hex key id holds that key's Announcement.
	keysTopicPrefix = "$meta.e2e.keys."
)

// KeysTopic is the retained topic that holds the Announcement of key id:
// "$meta.e2e.keys.<16 lower-case hex digits>".
func KeysTopic(id KeyID) string { return keysTopicPrefix + id.String() }

// Key-derivation functions named by Params.KDF.
const (
	// KDFArgon2id: the root is Argon2id(passphrase, salt, time, memory,
	// threads, 32 bytes).
	KDFArgon2id = "argon2id"
	// KDFSecret: the root is a random 256-bit secret shared out of band (an
	// invite link's #fragment, see NewSecret); there is no salt and no
	// Argon2 parameters.
	KDFSecret = "secret"
)

// Argon2id parameters: defaults, the floor below which parameters are refused
// (ErrWeakParams) and upper bounds that stop a hostile Params from freezing
// a browser (ErrInvalidParams).
const (
	DefaultTime      = 3
	DefaultMemoryKiB = 64 << 10 // 64 MiB
	DefaultThreads   = 1

	MinTime      = 2
	MinMemoryKiB = 19 << 10 // 19 MiB
	MinThreads   = 1

	MaxTime      = 16
	MaxMemoryKiB = 256 << 10 // 256 MiB
	MaxThreads   = 16
)

// Sizes.
const (
	ParamsVersion = 1  // Params.Version this package writes and accepts
	SaltSize      = 16 // Argon2id salt
	KeySize       = 32 // root and message keys; random secrets
	KeyCheckSize  = 16 // Params.KeyCheck
)

// Params are a session's public end-to-end parameters. Nothing in them is
// secret: they are stored as the retained JSON value of ParamsTopic, for
// example
//
//	{"v":1,"kdf":"argon2id","salt":"…","time":3,"memory_kib":65536,"threads":1,"epoch":1,"signed":true,"key_check":"…"}
//
// The JSON names are part of the wire contract. The key check binds every
// other field (see SetKeyCheck), so a relay that edits them (turns signing
// off, weakens the KDF) makes every member's NewSession fail with
// ErrWrongKey instead of silently downgrading.
type Params struct {
	Version   int       `json:"v"`                    // ParamsVersion
	KDF       string    `json:"kdf"`                  // KDFArgon2id or KDFSecret
	Salt      Base64URL `json:"salt,omitempty"`       // SaltSize random bytes (argon2id only)
	Time      uint32    `json:"time,omitempty"`       // Argon2id passes (argon2id only)
	MemoryKiB uint32    `json:"memory_kib,omitempty"` // Argon2id memory in KiB (argon2id only)
	Threads   uint8     `json:"threads,omitempty"`    // Argon2id lanes (argon2id only)
	Epoch     uint32    `json:"epoch"`                // key generation, from 1; +1 per rotation
	Signed    bool      `json:"signed"`               // envelopes must carry an Ed25519 signature
	KeyCheck  Base64URL `json:"key_check,omitempty"`  // KeyCheckSize bytes, see SetKeyCheck
}

// NewParams returns passphrase parameters with a fresh random salt, the
// default Argon2id cost (time 3, 64 MiB, 1 thread) and epoch 1. Derive the
// root with DeriveRoot, then call SetKeyCheck before publishing them.
func NewParams(signed bool) (Params, error) {
	salt := make([]byte, SaltSize)
	if _, err := io.ReadFull(rand.Reader, salt); err != nil {
		return Params{}, fmt.Errorf("seal: reading random salt: %w", err)
	}
	return Params{
		Version:   ParamsVersion,
		KDF:       KDFArgon2id,
		Salt:      salt,
		Time:      DefaultTime,
		MemoryKiB: DefaultMemoryKiB,
		Threads:   DefaultThreads,
		Epoch:     1,
		Signed:    signed,
	}, nil
}

// NewSecretParams returns parameters for a session keyed by a random 256-bit
// secret (NewSecret, ParseSecret) instead of a passphrase, at epoch 1. Call
// SetKeyCheck before publishing them.
func NewSecretParams(signed bool) Params {
	return Params{Version: ParamsVersion, KDF: KDFSecret, Epoch: 1, Signed: signed}
}

// Validate checks complete parameters, as read from ParamsTopic: version,
// KDF, sizes, the Argon2id floor (ErrWeakParams) and upper bounds, epoch and
// key check (ErrInvalidParams).
func (p *Params) Validate() error {
	if err := p.validateKDF(); err != nil {
		return err
	}
	if p.Epoch == 0 {
		return fmt.Errorf("%w: epoch must be at least 1", ErrInvalidParams)
	}
	if len(p.KeyCheck) != KeyCheckSize {
		return fmt.Errorf("%w: key_check must be %d bytes, got %d", ErrInvalidParams, KeyCheckSize, len(p.KeyCheck))
	}
	return nil
}

// validateKDF checks everything DeriveRoot and SetKeyCheck depend on.
func (p *Params) validateKDF() error {
	if p.Version != ParamsVersion {
		return fmt.Errorf("%w: unsupported version %d", ErrInvalidParams, p.Version)
	}
	switch p.KDF {
	case KDFArgon2id:
		if len(p.Salt) != SaltSize {
			return fmt.Errorf("%w: salt must be %d bytes, got %d", ErrInvalidParams, SaltSize, len(p.Salt))
		}
		if p.Time < MinTime || p.MemoryKiB < MinMemoryKiB || p.Threads < MinThreads {
			return fmt.Errorf("%w: argon2id time=%d memory_kib=%d threads=%d is below the floor time=%d memory_kib=%d threads=%d",
				ErrWeakParams, p.Time, p.MemoryKiB, p.Threads, MinTime, MinMemoryKiB, MinThreads)
		}
		if p.Time > MaxTime || p.MemoryKiB > MaxMemoryKiB || p.Threads > MaxThreads {
			return fmt.Errorf("%w: argon2id time=%d memory_kib=%d threads=%d is above the limit time=%d memory_kib=%d threads=%d",
				ErrInvalidParams, p.Time, p.MemoryKiB, p.Threads, MaxTime, MaxMemoryKiB, MaxThreads)
		}
	case KDFSecret:
		if len(p.Salt) != 0 || p.Time != 0 || p.MemoryKiB != 0 || p.Threads != 0 {
			return fmt.Errorf("%w: kdf %q takes no salt or argon2id parameters", ErrInvalidParams, KDFSecret)
		}
	default:
		return fmt.Errorf("%w: unknown kdf %q", ErrInvalidParams, p.KDF)
	}
	return nil
}

// DeriveRoot derives the 32-byte root key from a passphrase with Argon2id
// under p's salt and cost. It refuses parameters below the floor
// (ErrWeakParams) and KDFSecret parameters. The passphrase is used as its
// UTF-8 bytes, without Unicode normalisation: clients that take it from a
// text field should normalise it to NFC first, or two devices may derive
// different keys from the same-looking passphrase.
//
// It costs what p says (64 MiB and tens to hundreds of milliseconds with the
// defaults, more in a browser): call it once per session, not per message.
func DeriveRoot(passphrase string, p Params) ([]byte, error) {
	if err := p.validateKDF(); err != nil {
		return nil, err
	}
	if p.KDF != KDFArgon2id {
		return nil, fmt.Errorf("%w: kdf is %q: the session is keyed by a secret, not a passphrase", ErrInvalidParams, p.KDF)
	}
	if passphrase == "" {
		return nil, fmt.Errorf("%w: empty passphrase", ErrWeakParams)
	}
	return argon2.IDKey([]byte(passphrase), p.Salt, p.Time, p.MemoryKiB, p.Threads, KeySize), nil
}

// NewSecret returns a random 256-bit secret, base64url without padding (43
// characters), for an invite link's #fragment. ParseSecret turns it into a
// root key.
func NewSecret() (string, error) {
	k := make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, k); err != nil {
		return "", fmt.Errorf("seal: reading random secret: %w", err)
	}
	return b64.EncodeToString(k), nil
}

// ParseSecret decodes a 256-bit secret written as base64url (padding and a
// leading '#' are tolerated) and returns it as the root key, skipping
// Argon2id. Use it with KDFSecret parameters.
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "#")
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: secret contains a line break", ErrInvalidParams)
	}
	k, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: secret is not base64url: %v", ErrInvalidParams, err)
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("%w: secret must be %d bytes, got %d", ErrInvalidParams, KeySize, len(k))
	}
	return k, nil
}

// SetKeyCheck computes p.KeyCheck from the root key for sessionID. The value
// lets a member tell a wrong passphrase (ErrWrongKey from NewSession) from a
// corrupt message. It is an HKDF output under its own label, bound to the
// session id and to every other field of p, so it reveals nothing about the
// message key and pins the parameters themselves.
func (p *Params) SetKeyCheck(root []byte, sessionID string) error {
	kc, err := p.keyCheck(root, sessionID)
	if err != nil {
		return err
	}
	p.KeyCheck = kc
	return nil
}

// keyCheck is HKDF-SHA256(root, info = label ‖ lp(session_id) ‖ binding).
func (p *Params) keyCheck(root []byte, sessionID string) ([]byte, error) {
	if err := p.validateKDF(); err != nil {
		return nil, err
	}
	if p.Epoch == 0 {
		return nil, fmt.Errorf("%w: epoch must be at least 1", ErrInvalidParams)
	}
	if len(root) != KeySize {
		return nil, fmt.Errorf("%w: root key must be %d bytes, got %d", ErrInvalidParams, KeySize, len(root))
	}
	if sessionID == "" {
		return nil, fmt.Errorf("%w: empty session id", ErrInvalidParams)
	}
	info := make([]byte, 0, 128+len(sessionID))
	info = append(info, labelKeyCheck...)
	info = appendLP(info, sessionID)
	info = p.appendBinding(info)
	return deriveKey(root, info, KeyCheckSize), nil
}

// appendBinding encodes every field but KeyCheck: u8 version ‖ lp(kdf) ‖
// lp(salt) ‖ u32 time ‖ u32 memory_kib ‖ u8 threads ‖ u32 epoch ‖ u8 mode.
func (p *Params) appendBinding(b []byte) []byte {
	b = append(b, byte(p.Version))
	b = appendLP(b, p.KDF)
	b = appendLPBytes(b, p.Salt)
	b = binary.BigEndian.AppendUint32(b, p.Time)
	b = binary.BigEndian.AppendUint32(b, p.MemoryKiB)
	b = append(b, p.Threads)
	b = binary.BigEndian.AppendUint32(b, p.Epoch)
	return append(b, modeOf(p.Signed))
}

// checkKey compares p.KeyCheck with the value root gives, in constant time.
func (p *Params) checkKey(root []byte, sessionID string) error {
	want, err := p.keyCheck(root, sessionID)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(want, p.KeyCheck) != 1 {
		return fmt.Errorf("%w: key check mismatch for session %q epoch %d", ErrWrongKey, sessionID, p.Epoch)
	}
	return nil
}

// CheckSuccessor reports whether next may replace p (key rotation, or any
// new value seen on ParamsTopic): next must be valid, have a higher epoch
// (ErrEpoch), keep signing on if p had it, and not weaken the KDF: no lower
// Argon2id time or memory, and no switch from a random secret back to a
// passphrase (ErrWeakParams). A client that holds p should refuse a next
// value that fails, whoever published it.
func (p *Params) CheckSuccessor(next Params) error {
	if err := next.Validate(); err != nil {
		return err
	}
	if next.Epoch <= p.Epoch {
		return fmt.Errorf("%w: rotation from epoch %d to %d must increase the epoch", ErrEpoch, p.Epoch, next.Epoch)
	}
	if p.Signed && !next.Signed {
		return fmt.Errorf("%w: signed mode cannot be turned off", ErrWeakParams)
	}
	switch {
	case p.KDF == KDFSecret && next.KDF != KDFSecret:
		return fmt.Errorf("%w: a session keyed by a random secret cannot move to a passphrase", ErrWeakParams)
	case p.KDF == KDFArgon2id && next.KDF == KDFArgon2id:
		if next.Time < p.Time || next.MemoryKiB < p.MemoryKiB {
			return fmt.Errorf("%w: argon2id time=%d memory_kib=%d is weaker than the current time=%d memory_kib=%d",
				ErrWeakParams, next.Time, next.MemoryKiB, p.Time, p.MemoryKiB)
		}
	}
	return nil
}
