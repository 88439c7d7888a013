package seal

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sync"
)

// Domain-separation labels. Each is a fixed ASCII string and none is a prefix
// of another, so a label followed by length-prefixed fields can never be read
// as another label's input.
const (
	labelMessageKey   = "switchboard/seal/v1/message-key"
	labelKeyCheck     = "switchboard/seal/v1/key-check"
	labelAAD          = "switchboard/seal/v1/aad"
	labelAnnouncement = "switchboard/seal/v1/key-announcement"
)

// b64 is the one base64 alphabet of the package: URL-safe, no padding, and
// strict (non-zero trailing bits are rejected), so that every byte string has
// exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// appendLP appends s prefixed with its length as a big-endian uint32.
func appendLP(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendLPBytes is appendLP for a byte slice.
func appendLPBytes(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// deriveKey is HKDF-SHA256 (RFC 5869) with an empty salt.
func deriveKey(secret, info []byte, n int) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, string(info), n)
	if err != nil {
		// Only possible for n > 255*32 or in FIPS 140-only mode, which
		// forbids XChaCha20-Poly1305 anyway.
		panic(fmt.Sprintf("seal: hkdf: %v", err))
	}
	return k
}

// Base64URL is a byte string that JSON-encodes as base64url without padding
// (RFC 4648, section 5), the encoding of every binary field in the package's
// JSON objects. Decoding is strict: padding, other alphabets and non-zero
// trailing bits are rejected.
type Base64URL []byte

// MarshalText implements encoding.TextMarshaler.
func (b Base64URL) MarshalText() ([]byte, error) {
	out := make([]byte, b64.EncodedLen(len(b)))
	b64.Encode(out, b)
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *Base64URL) UnmarshalText(text []byte) error {
	for _, c := range text {
		if c == '\r' || c == '\n' {
			return fmt.Errorf("%w: line break in base64url", ErrMalformed)
		}
	}
	out := make([]byte, b64.DecodedLen(len(text)))
	n, err := b64.Decode(out, text)
	if err != nil {
		return fmt.Errorf("%w: base64url: %v", ErrMalformed, err)
	}
	*b = out[:n]
	return nil
}

// String returns the base64url encoding.
func (b Base64URL) String() string { return b64.EncodeToString(b) }

// Scratch buffers for Seal and Open. They hold associated data, envelopes and
// ciphertext, never plaintext or keys, so they are not wiped.
const maxPooledBuf = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf(n int) *[]byte {
	p := bufPool.Get().(*[]byte)
	if cap(*p) < n {
		*p = make([]byte, 0, n)
	}
	*p = (*p)[:0]
	return p
}

func putBuf(p *[]byte) {
	if cap(*p) > maxPooledBuf {
		return
	}
	bufPool.Put(p)
}
