package provider

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

// TestSealerWireFormat: a signing key sealed the way it always was
// (version 1 ‖ nonce ‖ AES-GCM under the HKDF of the crypto key, bound to
// the key's name) opens, and nothing else does.
func TestSealerWireFormat(t *testing.T) {
	master := [32]byte{1, 2, 3}
	k, err := hkdf.Key(sha256.New, master[:], nil, "idp: signing key sealing v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(k)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	stored := aead.Seal(append([]byte{1}, nonce...), nonce, []byte("private key"), []byte("signing"))

	s, err := newSealer(master)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.open("signing", stored); err != nil || string(got) != "private key" {
		t.Fatalf("open of a stored key = %q, %v", got, err)
	}
	if got, err := s.open("signing", s.seal("signing", []byte("again"))); err != nil || string(got) != "again" {
		t.Fatalf("round trip = %q, %v", got, err)
	}
	other, err := newSealer([32]byte{9})
	if err != nil {
		t.Fatal(err)
	}
	version2 := append([]byte{2}, stored[1:]...)
	for _, tc := range []struct {
		name   string
		s      *sealer
		key    string
		sealed []byte
	}{
		{"another crypto key", other, "signing", stored},
		{"another name", s, "other", stored},
		{"unknown version", s, "signing", version2},
		{"altered", s, "signing", append(bytes.Clone(stored[:len(stored)-1]), stored[len(stored)-1]^1)},
		{"empty", s, "signing", nil},
	} {
		if _, err := tc.s.open(tc.key, tc.sealed); !errors.Is(err, ErrSealedKey) {
			t.Errorf("%s: open = %v, want ErrSealedKey", tc.name, err)
		}
	}
}
