package seal

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
)

// KeyIDSize is the length of a KeyID.
const KeyIDSize = 8

// KeyID names an Ed25519 public key in envelopes and in KeysTopic: the first
// 8 bytes of SHA-256(public key). It is a label for lookup, not a security
// boundary: signatures are always verified with the full pinned key.
type KeyID [KeyIDSize]byte

// KeyIDOf returns the key id of an Ed25519 public key.
func KeyIDOf(pub ed25519.PublicKey) KeyID {
	sum := sha256.Sum256(pub)
	var id KeyID
	copy(id[:], sum[:KeyIDSize])
	return id
}

// String returns the id as 16 lower-case hex digits, as used in KeysTopic.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// ParseKeyID parses 16 hex digits (the last token of a KeysTopic).
func ParseKeyID(s string) (KeyID, error) {
	var id KeyID
	if len(s) != 2*KeyIDSize {
		return id, fmt.Errorf("%w: key id must be %d hex digits", ErrMalformed, 2*KeyIDSize)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: key id: %v", ErrMalformed, err)
	}
	return id, nil
}

// Identity is one client instance's Ed25519 signing key (tier B). Sessions in
// signed mode sign every envelope with it; other members learn the public key
// from its Announcement and pin it to the client's name.
type Identity struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	id   KeyID
}

// NewIdentity generates a fresh random identity.
func NewIdentity() (*Identity, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(rand.Reader, seed); err != nil {
		return nil, fmt.Errorf("seal: reading random seed: %w", err)
	}
	return IdentityFromSeed(seed)
}

// IdentityFromSeed rebuilds an identity from its 32-byte seed (Seed), for
// clients that persist their key.
func IdentityFromSeed(seed []byte) (*Identity, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: identity seed must be %d bytes, got %d", ErrInvalidParams, ed25519.SeedSize, len(seed))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	return &Identity{priv: priv, pub: pub, id: KeyIDOf(pub)}, nil
}

// Seed returns a copy of the private seed. Keep it secret.
func (i *Identity) Seed() []byte { return append([]byte(nil), i.priv.Seed()...) }

// Public returns a copy of the public key.
func (i *Identity) Public() ed25519.PublicKey { return append(ed25519.PublicKey(nil), i.pub...) }

// KeyID returns the key id of the public key.
func (i *Identity) KeyID() KeyID { return i.id }

// KeyRing pins client names to Ed25519 public keys on first use (TOFU) and
// finds them again by key id. It is safe for concurrent use and may be
// shared by the sessions of several epochs (WithKeyRing). A name has one key
// and a key one name: a client that runs several instances under one name in
// a signed session must give them the same Identity.
type KeyRing struct {
	mu     sync.RWMutex
	byName map[string]pin
	byID   map[KeyID]pin
}

type pin struct {
	name string
	pub  ed25519.PublicKey
	id   KeyID
}

// NewKeyRing returns an empty key ring.
func NewKeyRing() *KeyRing {
	return &KeyRing{byName: make(map[string]pin), byID: make(map[KeyID]pin)}
}

// Pin records that name signs with pub. It returns nil when the name was
// unknown (the key is now pinned) or is already pinned to pub. When the name
// is pinned to another key, or the key (or its key id) to another name, it
// returns an error wrapping ErrKeyChanged and changes nothing: show the user
// the change, and call Replace only if they accept it.
func (r *KeyRing) Pin(name string, pub ed25519.PublicKey) error {
	p, err := newPin(name, pub)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byName[name]; ok {
		if old.pub.Equal(pub) {
			return nil
		}
		return fmt.Errorf("%w: %q was pinned to key %s, now presents key %s", ErrKeyChanged, name, old.id, p.id)
	}
	if old, ok := r.byID[p.id]; ok {
		return fmt.Errorf("%w: key %s is pinned to %q, not %q", ErrKeyChanged, p.id, old.name, name)
	}
	r.byName[name] = p
	r.byID[p.id] = p
	return nil
}

// Replace pins name to pub, dropping the name's previous key and any other
// name pinned to pub's key id. Call it after the user accepted a change that
// Pin reported.
func (r *KeyRing) Replace(name string, pub ed25519.PublicKey) error {
	p, err := newPin(name, pub)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byName[name]; ok {
		delete(r.byID, old.id)
	}
	if old, ok := r.byID[p.id]; ok {
		delete(r.byName, old.name)
	}
	r.byName[name] = p
	r.byID[p.id] = p
	return nil
}

// Remove forgets name's pin, if any.
func (r *KeyRing) Remove(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byName[name]; ok {
		delete(r.byName, name)
		delete(r.byID, old.id)
	}
}

// Lookup returns the name and public key pinned under key id.
func (r *KeyRing) Lookup(id KeyID) (name string, pub ed25519.PublicKey, ok bool) {
	r.mu.RLock()
	p, ok := r.byID[id]
	r.mu.RUnlock()
	return p.name, p.pub, ok
}

// Key returns the public key pinned to name.
func (r *KeyRing) Key(name string) (ed25519.PublicKey, bool) {
	r.mu.RLock()
	p, ok := r.byName[name]
	r.mu.RUnlock()
	return p.pub, ok
}

// Len returns the number of pinned names.
func (r *KeyRing) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.byName)
}

func newPin(name string, pub ed25519.PublicKey) (pin, error) {
	if name == "" {
		return pin{}, fmt.Errorf("%w: empty name", ErrInvalidParams)
	}
	if len(pub) != ed25519.PublicKeySize {
		return pin{}, fmt.Errorf("%w: public key must be %d bytes, got %d", ErrInvalidParams, ed25519.PublicKeySize, len(pub))
	}
	pub = append(ed25519.PublicKey(nil), pub...)
	return pin{name: name, pub: pub, id: KeyIDOf(pub)}, nil
}

// AnnouncementVersion is Announcement.Version.
const AnnouncementVersion = 1

// Announcement is a signed statement "name uses this public key in this
// session", published by its owner as the retained JSON value of
// KeysTopic(key id), for example
//
//	{"v":1,"name":"alice","public_key":"…","signature":"…"}
//
// so that receivers can fetch the key of a sender they have not pinned yet.
// The signature, by the announced key itself, covers label ‖ lp(session_id)
// ‖ lp(name) ‖ public key: it proves possession of the key and binds it to
// the session and the name, but it cannot prove that the name's owner is who
// published it first (trust on first use, see docs/e2e.md).
type Announcement struct {
	Version   int       `json:"v"`
	Name      string    `json:"name"`
	PublicKey Base64URL `json:"public_key"`
	Signature Base64URL `json:"signature"`
}

// NewAnnouncement signs an announcement of id's public key under name in
// sessionID.
func NewAnnouncement(id *Identity, sessionID, name string) (Announcement, error) {
	if id == nil {
		return Announcement{}, fmt.Errorf("%w: nil identity", ErrInvalidParams)
	}
	if sessionID == "" || name == "" {
		return Announcement{}, fmt.Errorf("%w: empty session id or name", ErrInvalidParams)
	}
	msg := announcementMessage(sessionID, name, id.pub)
	return Announcement{
		Version:   AnnouncementVersion,
		Name:      name,
		PublicKey: Base64URL(id.Public()),
		Signature: Base64URL(ed25519.Sign(id.priv, msg)),
	}, nil
}

// VerifyAnnouncement checks a's version, sizes and signature for sessionID,
// and that it announces expectedName (the name the key is to be pinned to:
// the publisher_name of the message that named the unknown key id). It
// returns the public key; the caller should also compare KeyIDOf(key) with
// the key id it looked up, then KeyRing.Pin it.
func VerifyAnnouncement(a Announcement, sessionID, expectedName string) (ed25519.PublicKey, error) {
	if a.Version != AnnouncementVersion {
		return nil, fmt.Errorf("%w: announcement version %d", ErrMalformed, a.Version)
	}
	if len(a.PublicKey) != ed25519.PublicKeySize || len(a.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: announcement key or signature has the wrong size", ErrMalformed)
	}
	if a.Name != expectedName {
		return nil, fmt.Errorf("%w: announcement is for %q, not %q", ErrAuth, a.Name, expectedName)
	}
	pub := ed25519.PublicKey(append([]byte(nil), a.PublicKey...))
	if !ed25519.Verify(pub, announcementMessage(sessionID, a.Name, pub), a.Signature) {
		return nil, fmt.Errorf("%w: announcement signature of %q is invalid", ErrAuth, a.Name)
	}
	return pub, nil
}

func announcementMessage(sessionID, name string, pub ed25519.PublicKey) []byte {
	b := make([]byte, 0, len(labelAnnouncement)+8+len(sessionID)+len(name)+len(pub))
	b = append(b, labelAnnouncement...)
	b = appendLP(b, sessionID)
	b = appendLP(b, name)
	return append(b, pub...)
}
