package seal

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Envelope v1 layout (see the package documentation).
const (
	// Prefix starts every sealed payload string.
	Prefix = "e2e:"

	envelopeVersion = 1

	modeUnsigned = 0
	modeSigned   = 1

	offVersion = 0
	offMode    = 1
	offEpoch   = 2
	offKeyID   = 6
	offStream  = 14
	offSeq     = 22
	offTime    = 30
	offNonce   = 38
	headerSize = 62

	nonceSize = 24
	tagSize   = 16
	sigSize   = ed25519.SignatureSize

	minUnsigned = headerSize + tagSize
	minSigned   = headerSize + tagSize + sigSize
)

func modeOf(signed bool) byte {
	if signed {
		return modeSigned
	}
	return modeUnsigned
}

// IsSealed reports whether payload (the JSON string's value, not its JSON
// encoding) is a sealed envelope, i.e. starts with "e2e:".
func IsSealed(payload string) bool { return strings.HasPrefix(payload, Prefix) }

// Header is the clear-text part of an envelope. Inspect returns it without
// authenticating anything: use it to route (which key id to fetch, which
// epoch to load), never to trust.
type Header struct {
	Version   uint8
	Signed    bool
	Epoch     uint32
	KeyID     KeyID   // the signer's key id, or a random per-instance id when unsigned
	Stream    [8]byte // random per sealing Session
	Seq       uint64  // from 1 within a stream
	Timestamp time.Time
}

// Inspect decodes the header of a sealed payload. It checks the prefix, the
// encoding, the version, the mode and the minimum length (ErrMalformed).
func Inspect(payload string) (Header, error) {
	env, err := decodePayload(payload, nil)
	if err != nil {
		return Header{}, err
	}
	return parseHeader(env)
}

// decodePayload checks the prefix and decodes the base64url part of payload,
// appending the envelope to dst (like append, it returns the extended
// slice).
func decodePayload(payload string, dst []byte) ([]byte, error) {
	if !IsSealed(payload) {
		return nil, fmt.Errorf("%w: missing %q prefix", ErrMalformed, Prefix)
	}
	enc := payload[len(Prefix):]
	// The decoder skips line breaks; refusing them keeps one encoding per
	// envelope.
	if strings.ContainsAny(enc, "\r\n") {
		return nil, fmt.Errorf("%w: line break in payload", ErrMalformed)
	}
	n := b64.DecodedLen(len(enc))
	if n < minUnsigned {
		return nil, fmt.Errorf("%w: %d bytes, shorter than any envelope", ErrMalformed, n)
	}
	start := len(dst)
	dst = grow(dst, n)
	// Decode needs a []byte source: stage the text after the output.
	text := append(dst[start+n:start+n], enc...)
	m, err := b64.Decode(dst[start:start+n], text)
	if err != nil {
		return nil, fmt.Errorf("%w: base64url: %v", ErrMalformed, err)
	}
	return dst[:start+m], nil
}

// grow returns b with room for n more bytes plus n*4/3+4 bytes of staging
// behind them, keeping len(b).
func grow(b []byte, n int) []byte {
	need := len(b) + n + n*4/3 + 4
	if cap(b) < need {
		nb := make([]byte, len(b), need)
		copy(nb, b)
		b = nb
	}
	return b
}

func parseHeader(env []byte) (Header, error) {
	if len(env) < minUnsigned {
		return Header{}, fmt.Errorf("%w: %d bytes, shorter than any envelope", ErrMalformed, len(env))
	}
	if env[offVersion] != envelopeVersion {
		return Header{}, fmt.Errorf("%w: unsupported version %d", ErrMalformed, env[offVersion])
	}
	h := Header{Version: env[offVersion]}
	switch env[offMode] {
	case modeUnsigned:
	case modeSigned:
		if len(env) < minSigned {
			return Header{}, fmt.Errorf("%w: %d bytes, shorter than a signed envelope", ErrMalformed, len(env))
		}
		h.Signed = true
	default:
		return Header{}, fmt.Errorf("%w: unknown mode %d", ErrMalformed, env[offMode])
	}
	h.Epoch = binary.BigEndian.Uint32(env[offEpoch:])
	copy(h.KeyID[:], env[offKeyID:offStream])
	copy(h.Stream[:], env[offStream:offSeq])
	h.Seq = binary.BigEndian.Uint64(env[offSeq:])
	h.Timestamp = time.UnixMilli(int64(binary.BigEndian.Uint64(env[offTime:])))
	return h, nil
}
