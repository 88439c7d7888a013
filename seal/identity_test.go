package seal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestKeyID(t *testing.T) {
	alice := testIdentity(t, aliceSeedHex)
	id := alice.KeyID()
	if id != KeyIDOf(alice.Public()) || len(id.String()) != 16 {
		t.Fatalf("key id %s", id)
	}
	back, err := ParseKeyID(id.String())
	if err != nil || back != id {
		t.Fatal(back, err)
	}
	for _, bad := range []string{"", "00", "zz00000000000000", id.String() + "00"} {
		if _, err := ParseKeyID(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseKeyID(%q) = %v", bad, err)
		}
	}
	if _, err := IdentityFromSeed(make([]byte, 31)); !errors.Is(err, ErrInvalidParams) {
		t.Fatal(err)
	}
	n, err := NewIdentity()
	if err != nil || n.KeyID() == id {
		t.Fatal(err)
	}
}

func TestKeyRing(t *testing.T) {
	alice := testIdentity(t, aliceSeedHex)
	bob := testIdentity(t, bobSeedHex)
	r := NewKeyRing()
	if err := r.Pin("alice", alice.Public()); err != nil {
		t.Fatal(err)
	}
	if err := r.Pin("alice", alice.Public()); err != nil {
		t.Fatalf("same key again: %v", err)
	}
	if err := r.Pin("alice", bob.Public()); !errors.Is(err, ErrKeyChanged) {
		t.Fatalf("changed key: %v", err)
	}
	if err := r.Pin("alice2", alice.Public()); !errors.Is(err, ErrKeyChanged) {
		t.Fatalf("key under a second name: %v", err)
	}
	if pub, _ := r.Key("alice"); !bytes.Equal(pub, alice.Public()) {
		t.Fatal("a refused pin changed the ring")
	}
	name, pub, ok := r.Lookup(alice.KeyID())
	if !ok || name != "alice" || !bytes.Equal(pub, alice.Public()) {
		t.Fatal("lookup by key id")
	}
	if err := r.Replace("alice", bob.Public()); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := r.Lookup(alice.KeyID()); ok {
		t.Fatal("old key still pinned after Replace")
	}
	if name, _, _ := r.Lookup(bob.KeyID()); name != "alice" || r.Len() != 1 {
		t.Fatal("Replace did not pin the new key")
	}
	r.Remove("alice")
	if _, ok := r.Key("alice"); ok || r.Len() != 0 {
		t.Fatal("Remove")
	}
	if err := r.Pin("", alice.Public()); !errors.Is(err, ErrInvalidParams) {
		t.Fatal(err)
	}
	if err := r.Pin("x", alice.Public()[:31]); !errors.Is(err, ErrInvalidParams) {
		t.Fatal(err)
	}
	// The ring keeps its own copy.
	k := alice.Public()
	_ = r.Pin("alice", k)
	k[0] ^= 1
	if pub, _ := r.Key("alice"); !bytes.Equal(pub, alice.Public()) {
		t.Fatal("ring aliases the caller's slice")
	}
}

func TestKeyRingConcurrent(t *testing.T) {
	r := NewKeyRing()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id, err := NewIdentity()
				if err != nil {
					t.Error(err)
					return
				}
				name := fmt.Sprintf("n%d-%d", w, i)
				if err := r.Pin(name, id.Public()); err != nil {
					t.Error(err)
				}
				if n, _, ok := r.Lookup(id.KeyID()); !ok || n != name {
					t.Error("lookup after pin")
				}
			}
		}()
	}
	wg.Wait()
	if r.Len() != 200 {
		t.Fatalf("len %d", r.Len())
	}
}

func TestAnnouncement(t *testing.T) {
	alice := testIdentity(t, aliceSeedHex)
	a, err := NewAnnouncement(alice, testSessionID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back Announcement
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	pub, err := VerifyAnnouncement(back, testSessionID, "alice")
	if err != nil || !bytes.Equal(pub, alice.Public()) {
		t.Fatalf("verify: %v", err)
	}
	var fields map[string]any
	_ = json.Unmarshal(data, &fields)
	if len(fields) != 4 || fields["v"] != 1.0 || fields["name"] != "alice" {
		t.Fatalf("json %s", data)
	}

	bob := testIdentity(t, bobSeedHex)
	swapped := a
	swapped.PublicKey = Base64URL(bob.Public())
	badSig := a
	badSig.Signature = append(Base64URL(nil), a.Signature...)
	badSig.Signature[0] ^= 1
	renamed := a
	renamed.Name = "mallory"
	tests := []struct {
		name       string
		a          Announcement
		session    string
		expectName string
		want       error
	}{
		{"other session", a, "other", "alice", ErrAuth},
		{"other expected name", a, testSessionID, "mallory", ErrAuth},
		{"renamed", renamed, testSessionID, "mallory", ErrAuth},
		{"key swapped", swapped, testSessionID, "alice", ErrAuth},
		{"bad signature", badSig, testSessionID, "alice", ErrAuth},
		{"version", func() Announcement { b := a; b.Version = 2; return b }(), testSessionID, "alice", ErrMalformed},
		{"short key", func() Announcement { b := a; b.PublicKey = b.PublicKey[:31]; return b }(), testSessionID, "alice", ErrMalformed},
	}
	for _, tt := range tests {
		if _, err := VerifyAnnouncement(tt.a, tt.session, tt.expectName); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := NewAnnouncement(nil, testSessionID, "alice"); !errors.Is(err, ErrInvalidParams) {
		t.Fatal(err)
	}
	if _, err := NewAnnouncement(alice, testSessionID, ""); !errors.Is(err, ErrInvalidParams) {
		t.Fatal(err)
	}
}
