package mail

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// sealer encrypts queued mails at rest with AES-256-GCM. The associated
// data binds each payload to its format version and its enqueue time, so
// the clear "at" field of an entry cannot be changed to extend its life.
type sealer struct{ aead cipher.AEAD }

func newSealer(key [32]byte) (*sealer, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("mail: outbox cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("mail: outbox cipher: %w", err)
	}
	return &sealer{aead: aead}, nil
}

func additionalData(at string) []byte {
	return []byte("idp: mail outbox v" + payloadVersion + "\x00" + at)
}

// seal returns nonce ‖ ciphertext.
func (s *sealer) seal(plain []byte, at string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (it crashes the program instead).
	return s.aead.Seal(nonce, nonce, plain, additionalData(at))
}

var errUnreadable = errors.New("cannot be decrypted with this key")

func (s *sealer) open(sealed []byte, at string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errUnreadable
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], additionalData(at))
	if err != nil {
		return nil, errUnreadable
	}
	return plain, nil
}
