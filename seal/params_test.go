package seal

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func floorParams(t testing.TB) Params {
	t.Helper()
	p, err := NewParams(false)
	if err != nil {
		t.Fatal(err)
	}
	p.Time, p.MemoryKiB = MinTime, MinMemoryKiB
	return p
}

func TestNewParams(t *testing.T) {
	a, err := NewParams(true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewParams(true)
	if a.Version != 1 || a.KDF != KDFArgon2id || len(a.Salt) != SaltSize || a.Time != 3 ||
		a.MemoryKiB != 64<<10 || a.Threads != 1 || a.Epoch != 1 || !a.Signed || a.KeyCheck != nil {
		t.Fatalf("defaults: %+v", a)
	}
	if bytes.Equal(a.Salt, b.Salt) {
		t.Fatal("salts repeat")
	}
	if err := a.Validate(); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("params without key check validate: %v", err)
	}
}

func TestValidate(t *testing.T) {
	base := floorParams(t)
	base.KeyCheck = make([]byte, KeyCheckSize)
	if err := base.Validate(); err != nil {
		t.Fatalf("floor params: %v", err)
	}
	secret := secretParams(t, testSessionID, false, 1)
	if err := secret.Validate(); err != nil {
		t.Fatalf("secret params: %v", err)
	}
	tests := []struct {
		name string
		edit func(p *Params)
		want error
	}{
		{"time below floor", func(p *Params) { p.Time = MinTime - 1 }, ErrWeakParams},
		{"memory below floor", func(p *Params) { p.MemoryKiB = MinMemoryKiB - 1 }, ErrWeakParams},
		{"no threads", func(p *Params) { p.Threads = 0 }, ErrWeakParams},
		{"time above limit", func(p *Params) { p.Time = MaxTime + 1 }, ErrInvalidParams},
		{"memory above limit", func(p *Params) { p.MemoryKiB = MaxMemoryKiB + 1 }, ErrInvalidParams},
		{"threads above limit", func(p *Params) { p.Threads = MaxThreads + 1 }, ErrInvalidParams},
		{"short salt", func(p *Params) { p.Salt = p.Salt[:15] }, ErrInvalidParams},
		{"long salt", func(p *Params) { p.Salt = append(p.Salt, 0) }, ErrInvalidParams},
		{"version 0", func(p *Params) { p.Version = 0 }, ErrInvalidParams},
		{"version 2", func(p *Params) { p.Version = 2 }, ErrInvalidParams},
		{"unknown kdf", func(p *Params) { p.KDF = "scrypt" }, ErrInvalidParams},
		{"epoch 0", func(p *Params) { p.Epoch = 0 }, ErrInvalidParams},
		{"short key check", func(p *Params) { p.KeyCheck = p.KeyCheck[:8] }, ErrInvalidParams},
		{"secret with salt", func(p *Params) { p.KDF = KDFSecret }, ErrInvalidParams},
	}
	for _, tt := range tests {
		p := base
		p.Salt = append(Base64URL(nil), base.Salt...)
		tt.edit(&p)
		if err := p.Validate(); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestParamsJSON(t *testing.T) {
	p := Params{
		Version: 1, KDF: KDFArgon2id, Salt: []byte("switchboard-salt"), Time: 3, MemoryKiB: 65536, Threads: 1,
		Epoch: 7, Signed: true, KeyCheck: bytes.Repeat([]byte{0xfb}, 16),
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"v":1,"kdf":"argon2id","salt":"c3dpdGNoYm9hcmQtc2FsdA","time":3,"memory_kib":65536,"threads":1,"epoch":7,"signed":true,"key_check":"-_v7-_v7-_v7-_v7-_v7-w"}`
	if string(data) != want {
		t.Fatalf("json\n got %s\nwant %s", data, want)
	}
	var back Params
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !paramsEqual(p, back) {
		t.Fatalf("round trip: %+v", back)
	}
	s, _ := json.Marshal(NewSecretParams(false))
	if string(s) != `{"v":1,"kdf":"secret","epoch":1,"signed":false}` {
		t.Fatalf("secret params json %s", s)
	}
	for _, bad := range []string{
		`{"v":1,"kdf":"argon2id","salt":"c3dpdGNoYm9hcmQtc2FsdA==","epoch":1}`, // padding
		`{"v":1,"kdf":"argon2id","salt":"c3dpdGNoYm9hcmQtc2FsdB","epoch":1}`,   // trailing bits
		`{"v":1,"kdf":"argon2id","salt":"c3dpdGNo+m9hcmQtc2FsdA","epoch":1}`,   // std alphabet
		`{"v":1,"time":-1}`,
		`{"v":1,"threads":256}`,
		`{"v":1,"epoch":4294967296}`,
	} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func paramsEqual(a, b Params) bool {
	return a.Version == b.Version && a.KDF == b.KDF && bytes.Equal(a.Salt, b.Salt) && a.Time == b.Time &&
		a.MemoryKiB == b.MemoryKiB && a.Threads == b.Threads && a.Epoch == b.Epoch && a.Signed == b.Signed &&
		bytes.Equal(a.KeyCheck, b.KeyCheck)
}

// The key check binds every field of Params: whoever edits one (a relay
// turning signing off, weakening the KDF, rolling the epoch back) makes
// NewSession fail with ErrWrongKey.
func TestKeyCheckBindsParams(t *testing.T) {
	root := testRoot(t)
	p := floorParams(t)
	p.Signed = true
	p.Epoch = 2
	if err := p.SetKeyCheck(root, testSessionID); err != nil {
		t.Fatal(err)
	}
	alice := testIdentity(t, aliceSeedHex)
	if _, err := NewSession(testSessionID, root, p, alice); err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(q *Params){
		"signed": func(q *Params) { q.Signed = false },
		"time":   func(q *Params) { q.Time++ },
		"memory": func(q *Params) { q.MemoryKiB++ },
		"epoch":  func(q *Params) { q.Epoch = 1 },
		"salt":   func(q *Params) { q.Salt = bytes.Repeat([]byte{1}, SaltSize) },
	}
	for name, edit := range edits {
		q := p
		edit(&q)
		if _, err := NewSession(testSessionID, root, q, alice); !errors.Is(err, ErrWrongKey) {
			t.Errorf("%s edited: %v, want ErrWrongKey", name, err)
		}
	}
}

func TestDeriveRoot(t *testing.T) {
	p := floorParams(t)
	a, err := DeriveRoot("correct horse", p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DeriveRoot("correct horse", p)
	c, _ := DeriveRoot("correct horsf", p)
	if len(a) != KeySize || !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("DeriveRoot is not a deterministic function of the passphrase")
	}
	if err := p.SetKeyCheck(a, testSessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSession(testSessionID, c, p, nil); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong passphrase: %v", err)
	}

	weak := p
	weak.MemoryKiB = MinMemoryKiB - 1
	if _, err := DeriveRoot("correct horse", weak); !errors.Is(err, ErrWeakParams) {
		t.Fatalf("weak: %v", err)
	}
	weak = p
	weak.Time = 1
	if _, err := DeriveRoot("correct horse", weak); !errors.Is(err, ErrWeakParams) {
		t.Fatalf("weak: %v", err)
	}
	if _, err := DeriveRoot("", p); !errors.Is(err, ErrWeakParams) {
		t.Fatalf("empty passphrase: %v", err)
	}
	if _, err := DeriveRoot("correct horse", NewSecretParams(false)); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("secret params: %v", err)
	}
}

func TestSecret(t *testing.T) {
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 43 || strings.ContainsAny(s, "+/=") {
		t.Fatalf("secret %q", s)
	}
	k, err := ParseSecret(s)
	if err != nil || len(k) != KeySize {
		t.Fatal(k, err)
	}
	for _, variant := range []string{"#" + s, s + "=", " " + s + "\n"} {
		k2, err := ParseSecret(variant)
		if err != nil || !bytes.Equal(k, k2) {
			t.Errorf("ParseSecret(%q): %v", variant, err)
		}
	}
	for _, bad := range []string{"", s[:42], s + "AA", strings.Replace(s, s[:1], "+", 1), s[:20] + "\n" + s[20:]} {
		if _, err := ParseSecret(bad); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("ParseSecret(%q) = %v", bad, err)
		}
	}
}

func TestCheckSuccessor(t *testing.T) {
	root := testRoot(t)
	mk := func(kdf string, signed bool, epoch, time, mem uint32) Params {
		p := NewSecretParams(signed)
		if kdf == KDFArgon2id {
			p = floorParams(t)
			p.Signed = signed
			p.Time, p.MemoryKiB = time, mem
		}
		p.Epoch = epoch
		if err := p.SetKeyCheck(root, testSessionID); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := KDFArgon2id
	tests := []struct {
		name      string
		cur, next Params
		want      error
	}{
		{"epoch+1", mk(a, true, 1, 3, 65536), mk(a, true, 2, 3, 65536), nil},
		{"epoch+3, stronger", mk(a, false, 1, 2, MinMemoryKiB), mk(a, true, 4, 3, 65536), nil},
		{"to secret", mk(a, false, 1, 2, MinMemoryKiB), mk(KDFSecret, false, 2, 0, 0), nil},
		{"same epoch", mk(a, true, 2, 3, 65536), mk(a, true, 2, 3, 65536), ErrEpoch},
		{"older epoch", mk(a, true, 2, 3, 65536), mk(a, true, 1, 3, 65536), ErrEpoch},
		{"signing off", mk(a, true, 1, 3, 65536), mk(a, false, 2, 3, 65536), ErrWeakParams},
		{"less memory", mk(a, true, 1, 3, 65536), mk(a, true, 2, 3, 32768), ErrWeakParams},
		{"fewer passes", mk(a, true, 1, 3, 65536), mk(a, true, 2, 2, 65536), ErrWeakParams},
		{"secret to passphrase", mk(KDFSecret, false, 1, 0, 0), mk(a, false, 2, 3, 65536), ErrWeakParams},
		{"next below floor", mk(a, true, 1, 3, 65536), func() Params { p := mk(a, true, 2, 3, 65536); p.Time = 1; return p }(), ErrWeakParams},
	}
	for _, tt := range tests {
		err := tt.cur.CheckSuccessor(tt.next)
		if (tt.want == nil && err != nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}
