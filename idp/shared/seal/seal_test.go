package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustNew(t *testing.T, k []byte) *Sealer {
	t.Helper()
	s, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	s := mustNew(t, key(1))
	for _, plain := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("secret "), 1000)} {
		sealed := s.Seal(nil, plain, []byte("ad"))
		if len(sealed) != 5+12+len(plain)+16 {
			t.Fatalf("sealed %d bytes into %d, want marker, key id, nonce, ciphertext and tag", len(plain), len(sealed))
		}
		got, err := s.Open(sealed, []byte("ad"))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
}

func TestSealAppends(t *testing.T) {
	s := mustNew(t, key(1))
	out := s.Seal([]byte{0xEE}, []byte("p"), nil)
	if out[0] != 0xEE {
		t.Fatal("Seal did not append to dst")
	}
	if got, err := s.Open(out[1:], nil); err != nil || string(got) != "p" {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestNonceIsRandom(t *testing.T) {
	s := mustNew(t, key(1))
	a, b := s.Seal(nil, []byte("same"), nil), s.Seal(nil, []byte("same"), nil)
	if bytes.Equal(a[5:17], b[5:17]) || bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are equal: the nonce is not random")
	}
}

// TestRefused: every way a value must not open gives ErrOpen.
func TestRefused(t *testing.T) {
	s := mustNew(t, key(1))
	sealed := s.Seal(nil, []byte("secret"), []byte("ad"))
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	other, err := Derive(key(1), "another use")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		s      *Sealer
		sealed []byte
		ad     string
	}{
		{"wrong key", mustNew(t, key(2)), sealed, "ad"},
		{"derived key", other, sealed, "ad"},
		{"wrong additional data", s, sealed, "ae"},
		{"no additional data", s, sealed, ""},
		{"marker altered", s, flip(0), "ad"},
		{"key id altered", s, flip(1), "ad"},
		{"nonce altered", s, flip(5), "ad"},
		{"ciphertext altered", s, flip(18), "ad"},
		{"tag altered", s, flip(len(sealed) - 1), "ad"},
		{"truncated", s, sealed[:len(sealed)-1], "ad"},
		{"shorter than nonce and tag", s, sealed[:32], "ad"},
		{"empty", s, nil, "ad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := tc.s.Open(tc.sealed, []byte(tc.ad)); !errors.Is(err, ErrOpen) || got != nil {
				t.Fatalf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
}

func TestKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a key of %d bytes", n)
		}
	}
}

// TestWireFormat: values sealed before this package existed (AES-GCM,
// nonce ‖ ciphertext ‖ tag, plain or HKDF-SHA256 key) still open.
func TestWireFormat(t *testing.T) {
	secret := key(7)
	derived, err := hkdf.Key(sha256.New, secret, nil, "label", KeySize)
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string][]byte{"plain key": secret, "derived key": derived} {
		block, _ := aes.NewCipher(k)
		aead, _ := cipher.NewGCM(block)
		nonce := make([]byte, aead.NonceSize())
		_, _ = rand.Read(nonce)
		old := aead.Seal(bytes.Clone(nonce), nonce, []byte("old value"), []byte("ad"))
		s := mustNew(t, secret)
		if name == "derived key" {
			if s, err = Derive(secret, "label"); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.Open(old, []byte("ad")); err != nil || string(got) != "old value" {
			t.Fatalf("%s: Open of an old value = %q, %v", name, got, err)
		}
	}
}

// TestRotation: what a previous key sealed opens while that key is
// accepted, the current key seals everything new, and once the previous key
// is dropped its values no longer open.
func TestRotation(t *testing.T) {
	before := mustNew(t, key(1))
	during, err := New(key(2), key(1))
	if err != nil {
		t.Fatal(err)
	}
	after := mustNew(t, key(2))
	old := before.Seal(nil, []byte("old"), []byte("ad"))
	fresh := during.Seal(nil, []byte("new"), []byte("ad"))
	if id := KeyID(key(2)); !bytes.Equal(fresh[1:5], id[:]) {
		t.Fatalf("sealed under key id %x, want the current key's %x", fresh[1:5], id)
	}
	for _, tc := range []struct {
		name   string
		s      *Sealer
		sealed []byte
		want   string
	}{
		{"old value, previous key accepted", during, old, "old"},
		{"new value, previous key accepted", during, fresh, "new"},
		{"new value, previous key dropped", after, fresh, "new"},
		{"new value, before the rotation", before, fresh, ""},
		{"old value, previous key dropped", after, old, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.s.Open(tc.sealed, []byte("ad"))
			if tc.want == "" {
				if !errors.Is(err, ErrOpen) {
					t.Fatalf("Open = %q, %v; want ErrOpen", got, err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("Open = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	// Derived sealers rotate the same way.
	dBefore, _ := Derive(key(1), "label")
	dDuring, err := Derive(key(2), "label", key(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := dDuring.Open(dBefore.Seal(nil, []byte("x"), nil), nil); err != nil || string(got) != "x" {
		t.Fatalf("derived: Open = %q, %v", got, err)
	}
}

// TestLegacyWithPreviousKey: a value of the format without key id, sealed
// by what is now a previous key, still opens.
func TestLegacyWithPreviousKey(t *testing.T) {
	block, _ := aes.NewCipher(key(1))
	aead, _ := cipher.NewGCMWithRandomNonce(block)
	old := aead.Seal(nil, nil, []byte("legacy"), []byte("ad"))
	s, err := New(key(2), key(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Open(old, []byte("ad")); err != nil || string(got) != "legacy" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := New(key(2), key(1)[:16]); err == nil {
		t.Fatal("New accepted a short previous key")
	}
}
