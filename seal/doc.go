// Package seal is Switchboard's end-to-end payload crypto: key derivation,
// the sealed envelope, signatures and replay protection. The server never
// imports it; clients seal a payload before publishing and open it after
// delivery, so the server routes ciphertext it cannot read. It uses the
// standard library and golang.org/x/crypto only, and builds unchanged for
// js/wasm, where browsers run the same code.
//
// docs/e2e.md in the repository has the threat model; this comment is the
// byte-level specification.
//
// # Keys (tier A: shared session secret)
//
// Members share a root key, either derived from a passphrase,
//
//	root = Argon2id(passphrase, salt, time, memory_kib, threads, 32)
//
// (DeriveRoot; default time 3, 64 MiB, 1 thread; refused below time 2 or
// 19 MiB with ErrWeakParams), or a random 256-bit secret sent out of band,
// e.g. in an invite link's #fragment (NewSecret, ParseSecret). From it:
//
//	message_key = HKDF-SHA256(root, salt = "", info = "switchboard/seal/v1/message-key" ‖ lp(session_id) ‖ u32(epoch), 32)
//	key_check   = HKDF-SHA256(root, salt = "", info = "switchboard/seal/v1/key-check" ‖ lp(session_id) ‖ binding, 16)
//	binding     = u8(version) ‖ lp(kdf) ‖ lp(salt) ‖ u32(time) ‖ u32(memory_kib) ‖ u8(threads) ‖ u32(epoch) ‖ u8(mode)
//
// where lp(x) is a 4-byte big-endian length followed by x, and u32 is
// big-endian. The salt, KDF parameters, epoch, mode and key check are public
// (Params, stored as the retained value of ParamsTopic, "$meta.e2e"). A
// member whose root gives another key check gets ErrWrongKey from
// NewSession; since the key check binds every field of Params, a relay that
// edits them gets the same answer rather than a silent downgrade.
//
// # Envelope, version 1
//
// A sealed payload is the JSON string "e2e:" followed by the envelope in
// base64url without padding (RFC 4648 §5; line breaks, padding and non-zero
// trailing bits are refused). The envelope is, byte by byte:
//
//	offset  size  field
//	     0     1  version             1
//	     1     1  mode                0 = unsigned, 1 = signed (Ed25519)
//	     2     4  epoch               big-endian, Params.Epoch
//	     6     8  sender key id       signed: KeyIDOf(public key) = SHA-256(pub)[:8];
//	                                  unsigned: random per sealing Session
//	    14     8  stream id           random per sealing Session
//	    22     8  seq                 big-endian, 1, 2, 3, … within the stream
//	    30     8  timestamp           big-endian, Unix milliseconds, sender's clock
//	    38    24  nonce               random, XChaCha20-Poly1305 nonce
//	    62     n  ciphertext ‖ tag    XChaCha20-Poly1305(message_key, nonce, plaintext, AAD); tag 16 bytes
//	  62+n    64  signature           signed mode only: Ed25519(AAD ‖ ciphertext ‖ tag)
//
// Bytes 0–61 are the header. The associated data is
//
//	AAD = "switchboard/seal/v1/aad" ‖ lp(session_id) ‖ lp(topic) ‖ lp(publisher_name) ‖ header
//
// so an envelope moved to another topic or session, or relabelled with
// another publisher, fails to open (ErrAuth), and so does one whose header
// was edited. The smallest envelope is 78 bytes unsigned and 142 signed
// (empty plaintext).
//
// # Signatures (tier B: sender authenticity)
//
// In signed mode each client instance has an Identity (Ed25519). The
// signature covers the AAD, which contains the mode byte, so stripping it
// does not turn an envelope into a valid unsigned one: a signed session
// refuses unsigned envelopes (ErrUnsigned). Receivers verify before
// decrypting, with the key pinned in a KeyRing under the message's
// publisher_name: a member signing as another name fails with ErrAuth, and
// an unknown key id with ErrUnknownSender. Keys are learned from signed
// Announcements, stored as the retained value of KeysTopic(id),
// "$meta.e2e.keys.<hex key id>", and pinned on first use (KeyRing.Pin
// reports a change with ErrKeyChanged).
//
// # Replay protection
//
// After authentication, Open checks the timestamp against the receiver's
// clock (at most 5 minutes old, 2 minutes ahead: ErrStale) and the sequence
// number against a sliding window of ReplayWindow (1024) numbers per
// (epoch, sender key id, stream id): a repeat is ErrReplay, a number older
// than the window ErrOutOfWindow (which wraps ErrStale). The state is
// bounded: at most DefaultMaxStreams (4096) streams, about 200 bytes each,
// least recently used evicted first. Evicting a stream idle for longer than
// the time window loses nothing, because everything it could replay is
// already stale; evicting a busier one (only possible when more streams than
// the bound are active within 7 minutes, which only key holders can cause)
// leaves that stream protected by the time window alone.
//
// # Platforms
//
// The same code runs natively and under GOOS=js GOARCH=wasm. Randomness comes
// from crypto/rand (crypto.getRandomValues in a browser or Node); a Session
// reads it a few KiB at a time, since it only needs public values per
// message (nonces) and a call into JavaScript costs microseconds.
//
// # Concurrency
//
// Session, KeyRing and Identity are safe for concurrent use. Params and
// Announcement are plain values. The package starts no goroutines (Argon2id
// with threads > 1 runs short-lived ones inside DeriveRoot).
//
// # Limits
//
// No forward secrecy: whoever holds the root can read every message of
// every epoch derived from it. Metadata (topics, names, sizes, timing) is
// not hidden. Envelope size is the plaintext plus 78 bytes (142 signed),
// times 4/3 for base64url. Sequence numbers are per Session: create one
// Session per connection lifetime or keep it across reconnects, but never
// let two Sessions share a stream id (they don't: it is random).
package seal
