package seal

import (
	"bytes"
	"encoding/json"
	"testing"
)

// sealedPlaintexts are all the plaintexts sealed under the test root in
// FuzzOpen's seeds (its own and testdata/envelopes.json's).
var sealedPlaintexts = map[string]bool{
	`{"text":"hello"}`: true, `{"text":"hello, world"}`: true, `{"text":"signed hello"}`: true,
}

// FuzzOpen feeds random and mutated payloads to Open and Inspect: they must
// never panic, and nothing but an authentic envelope may open. The second
// argument is an envelope in binary form (sealed into "e2e:" + base64url),
// which lets the fuzzer mutate envelope bytes directly rather than their
// text encoding.
func FuzzOpen(f *testing.F) {
	u := newPair(f, false)
	s := newPair(f, true)
	for _, pr := range []*pair{u, s} {
		p := mustSeal(f, pr.sender, "chat.room-1", "alice", `{"text":"hello"}`)
		f.Add(p, unb64(f, p))
		f.Add(p[:len(p)/2], unb64(f, p)[:headerSize])
	}
	f.Add("e2e:", []byte{})
	f.Add("", []byte{1, 1, 0, 0, 0, 1})

	// Fresh receivers so the seeds (sealed above) open once.
	ru := newPair(f, false).receiver
	rs := newPair(f, true).receiver
	f.Fuzz(func(t *testing.T, payload string, env []byte) {
		for _, p := range []string{payload, Prefix + b64.EncodeToString(env)} {
			h, herr := Inspect(p)
			for _, r := range []*Session{ru, rs} {
				pt, err := r.Open("chat.room-1", "alice", p)
				if err == nil {
					if herr != nil {
						t.Fatalf("Open accepted what Inspect refused: %v", herr)
					}
					if h.Signed != r.Signed() || !sealedPlaintexts[string(pt)] {
						t.Fatalf("opened an envelope that was never sealed: %+v %q", h, pt)
					}
				}
			}
		}
	})
}

// FuzzParams decodes untrusted $meta.e2e values.
func FuzzParams(f *testing.F) {
	p := secretParams(f, testSessionID, true, 3)
	data, _ := json.Marshal(p)
	f.Add(data)
	a := floorParams(f)
	a.KeyCheck = make([]byte, KeyCheckSize)
	data, _ = json.Marshal(a)
	f.Add(data)
	f.Add([]byte(`{"v":1,"kdf":"argon2id","salt":"","time":4294967295,"memory_kib":4294967295,"threads":255,"epoch":0}`))
	f.Add([]byte(`null`))
	root := testRoot(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Params
		if json.Unmarshal(data, &p) != nil {
			return
		}
		if p.Validate() != nil {
			return
		}
		// Valid params round-trip and can key a session (or report a wrong
		// key); DeriveRoot is left out, it is expensive by design.
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back Params
		if err := json.Unmarshal(out, &back); err != nil || !paramsEqual(p, back) {
			t.Fatalf("round trip: %v %+v", err, back)
		}
		q := p
		if err := q.SetKeyCheck(root, testSessionID); err != nil {
			t.Fatal(err)
		}
		if _, err := NewSession(testSessionID, root, q, testIdentity(t, aliceSeedHex)); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzAnnouncement decodes and verifies untrusted $meta.e2e.keys.* values.
func FuzzAnnouncement(f *testing.F) {
	alice := testIdentity(f, aliceSeedHex)
	a, err := NewAnnouncement(alice, testSessionID, "alice")
	if err != nil {
		f.Fatal(err)
	}
	data, _ := json.Marshal(a)
	f.Add(data)
	f.Add([]byte(`{"v":1,"name":"alice","public_key":"AA","signature":"AA"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Announcement
		if json.Unmarshal(data, &a) != nil {
			return
		}
		pub, err := VerifyAnnouncement(a, testSessionID, "alice")
		if err == nil && !bytes.Equal(pub, alice.Public()) {
			t.Fatalf("verified a key nobody announced: %x", pub)
		}
	})
}
