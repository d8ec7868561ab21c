// Package seal is the one symmetric sealer of the module: AES-256-GCM with
// a random 96-bit nonce, for secrets kept a short while in Redis (queued
// mail, a reset flow's pending sign-in, the signing key).
//
// A sealed value is marker ‖ key id ‖ nonce ‖ ciphertext ‖ tag, the key id
// being the first bytes of the SHA-256 of the key that sealed it, so that
// during a key rotation Open picks the right key among the accepted ones.
// Values sealed before key ids existed (nonce ‖ ciphertext ‖ tag) still
// open: every accepted key is tried on them, the current one first. The
// additional data binds a value to where it belongs (a key name, a format
// version, an id): the same ciphertext under other additional data does
// not open.
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

const (
	// marker starts a value that carries a key id. A value of the older
	// format starts with a random nonce and may start with it too: Open
	// then falls back to trying every key, which a wrong guess only costs.
	marker = 0xA5
	// KeyIDSize is how many bytes of the key's SHA-256 name it.
	KeyIDSize  = 4
	headerSize = 1 + KeyIDSize
)

// ErrOpen means a sealed value does not open: another key, other
// additional data, or altered. It says nothing more on purpose.
var ErrOpen = errors.New("seal: cannot be opened with this key")

type sealKey struct {
	id   [KeyIDSize]byte
	aead cipher.AEAD
}

// Sealer seals with one key (the current one) and opens with it or with
// any of the previous keys it was given. It is safe for concurrent use.
type Sealer struct{ keys []sealKey }

// New returns a Sealer that seals with the 32-byte key current and opens
// what current or any of previous sealed.
func New(current []byte, previous ...[]byte) (*Sealer, error) {
	s := &Sealer{}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("seal: key %d of %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		// The random nonce is drawn, and prepended, by the AEAD itself.
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		s.keys = append(s.keys, sealKey{id: KeyID(k), aead: aead})
	}
	return s, nil
}

// KeyID names a key without revealing it: the first bytes of its SHA-256.
func KeyID(k []byte) [KeyIDSize]byte {
	sum := sha256.Sum256(k)
	return [KeyIDSize]byte(sum[:KeyIDSize])
}

// Derive returns a Sealer whose keys are derived from secret (and from each
// of previous) with HKDF-SHA256 under label, so that one secret gives each
// use a key of its own: the same secret under another label seals nothing
// the first opens.
func Derive(secret []byte, label string, previous ...[]byte) (*Sealer, error) {
	var keys [][]byte
	for _, sec := range append([][]byte{secret}, previous...) {
		k, err := hkdf.Key(sha256.New, sec, nil, label, KeySize)
		if err != nil {
			return nil, fmt.Errorf("seal: derive a key: %w", err)
		}
		keys = append(keys, k)
	}
	return New(keys[0], keys[1:]...)
}

// Seal encrypts plaintext bound to additionalData with the current key, and
// appends the result to dst (which may be nil): marker ‖ key id ‖ nonce ‖
// ciphertext ‖ tag.
func (s *Sealer) Seal(dst, plaintext, additionalData []byte) []byte {
	k := s.keys[0]
	dst = append(append(dst, marker), k.id[:]...)
	return k.aead.Seal(dst, nil, plaintext, additionalData)
}

// Open returns the plaintext of a value made by Seal with the same
// additional data and one of the accepted keys, or ErrOpen.
func (s *Sealer) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) >= headerSize && sealed[0] == marker {
		for _, k := range s.keys {
			if [KeyIDSize]byte(sealed[1:headerSize]) != k.id {
				continue
			}
			if plain, ok := open(k.aead, sealed[headerSize:], additionalData); ok {
				return plain, nil
			}
		}
	}
	// The format without key id: every key, the current one first.
	for _, k := range s.keys {
		if plain, ok := open(k.aead, sealed, additionalData); ok {
			return plain, nil
		}
	}
	return nil, ErrOpen
}

func open(aead cipher.AEAD, sealed, additionalData []byte) ([]byte, bool) {
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, false
	}
	plain, err := aead.Open(nil, nil, sealed, additionalData)
	if err != nil {
		return nil, false
	}
	return plain, true
}
