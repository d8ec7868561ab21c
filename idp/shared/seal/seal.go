// Package seal is the one symmetric sealer of the module: AES-256-GCM with
// a random 96-bit nonce, for secrets kept a short while in Redis (queued
// mail, a reset flow's pending sign-in, the signing key).
//
// A sealed value is nonce ‖ ciphertext ‖ tag. The additional data binds it
// to where it belongs (a key name, a format version, an id): the same
// ciphertext under other additional data does not open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// KeySize is the size of a key for New: AES-256.
const KeySize = 32

// ErrOpen means a sealed value does not open: another key, other
// additional data, or altered. It says nothing more on purpose.
var ErrOpen = errors.New("seal: cannot be opened with this key")

// Sealer seals and opens values under one key. It is safe for concurrent
// use.
type Sealer struct{ aead cipher.AEAD }

// New returns a Sealer for a 32-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key of %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	// The random nonce is drawn, and prepended, by the AEAD itself.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Derive returns a Sealer whose key is derived from secret with
// HKDF-SHA256 under label, so that one secret gives each use a key of its
// own: the same secret under another label seals nothing the first opens.
func Derive(secret []byte, label string) (*Sealer, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, label, KeySize)
	if err != nil {
		return nil, fmt.Errorf("seal: derive a key: %w", err)
	}
	return New(key)
}

// Seal encrypts plaintext bound to additionalData, and appends the result
// to dst (which may be nil): nonce ‖ ciphertext ‖ tag.
func (s *Sealer) Seal(dst, plaintext, additionalData []byte) []byte {
	return s.aead.Seal(dst, nil, plaintext, additionalData)
}

// Open returns the plaintext of a value made by Seal with the same
// additional data, or ErrOpen.
func (s *Sealer) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := s.aead.Open(nil, nil, sealed, additionalData)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
