package seal

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns wraps exactly one of them
// (with context appended after a colon), so callers branch with errors.Is.
var (
	// ErrWrongKey: the root key does not match the session's key-check value
	// (a wrong passphrase or secret, or parameters that were tampered with).
	ErrWrongKey = errors.New("seal: wrong key")

	// ErrAuth: the envelope failed authentication: a bit was flipped, it was
	// moved to another topic or session, relabelled with another publisher, or
	// signed by a key that is pinned to another name.
	ErrAuth = errors.New("seal: authentication failed")

	// ErrReplay: an envelope with this (epoch, key id, stream, seq) was already
	// opened.
	ErrReplay = errors.New("seal: replay")

	// ErrStale: the envelope's timestamp is outside the receiver's time window.
	ErrStale = errors.New("seal: stale")

	// ErrOutOfWindow: the sequence number is older than the replay window
	// allows. It wraps ErrStale, so errors.Is(err, ErrStale) also holds.
	ErrOutOfWindow = fmt.Errorf("%w: sequence number behind the replay window", ErrStale)

	// ErrUnsigned: an unsigned envelope reached a session in signed mode.
	ErrUnsigned = errors.New("seal: unsigned envelope in signed session")

	// ErrUnknownSender: a signed envelope names a key id that the key ring does
	// not know. Fetch the sender's announcement from KeysTopic(id) (the id is
	// in the envelope, see Inspect), verify and pin it, then open again.
	ErrUnknownSender = errors.New("seal: unknown sender key")

	// ErrMalformed: the payload or announcement is not well formed (prefix,
	// base64url, length, version, mode).
	ErrMalformed = errors.New("seal: malformed envelope")

	// ErrEpoch: the envelope belongs to another key epoch than the session.
	// The session's parameters were probably rotated: read $meta.e2e again.
	ErrEpoch = errors.New("seal: wrong epoch")

	// ErrWeakParams: key-derivation parameters below the floor, or a rotation
	// that would weaken them (no downgrade).
	ErrWeakParams = errors.New("seal: weak parameters")

	// ErrInvalidParams: parameters that are malformed or out of range
	// (version, KDF name, sizes, upper bounds, missing key check).
	ErrInvalidParams = errors.New("seal: invalid parameters")

	// ErrKeyChanged: a name is already pinned to another public key (or a key
	// to another name).
	ErrKeyChanged = errors.New("seal: key changed")
)
