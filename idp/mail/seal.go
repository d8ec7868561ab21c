package mail

import (
	"errors"
	"fmt"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/seal"
)

// DeriveKeys derives Config.Key and Config.PreviousKeys from the current
// and the previous crypto keys.
func DeriveKeys(current [32]byte, previous [][32]byte) (key [32]byte, prev [][32]byte, err error) {
	if key, err = DeriveKey(current); err != nil {
		return key, nil, err
	}
	for _, p := range previous {
		k, err := DeriveKey(p)
		if err != nil {
			return key, nil, err
		}
		prev = append(prev, k)
	}
	return key, prev, nil
}

// sealer encrypts queued mails at rest with AES-256-GCM (package seal,
// under the mail key itself). The associated data binds each payload to
// its format version and its enqueue time, so the clear "at" field of an
// entry cannot be changed to extend its life.
type sealer struct{ s *seal.Sealer }

func newSealer(key [32]byte, previous ...[32]byte) (*sealer, error) {
	var prev [][]byte
	for _, k := range previous {
		prev = append(prev, k[:])
	}
	s, err := seal.New(key[:], prev...)
	if err != nil {
		return nil, fmt.Errorf("mail: outbox cipher: %w", err)
	}
	return &sealer{s: s}, nil
}

func additionalData(at string) []byte {
	return []byte("idp: mail outbox v" + payloadVersion + "\x00" + at)
}

// seal returns nonce ‖ ciphertext.
func (s *sealer) seal(plain []byte, at string) []byte {
	return s.s.Seal(nil, plain, additionalData(at))
}

var errUnreadable = errors.New("cannot be decrypted with this key")

func (s *sealer) open(sealed []byte, at string) ([]byte, error) {
	plain, err := s.s.Open(sealed, additionalData(at))
	if err != nil {
		return nil, errUnreadable
	}
	return plain, nil
}
