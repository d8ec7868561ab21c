package provider

import (
	"encoding/hex"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/seal"
)

// legacyCryptoKeyID is the key id every opaque token carried before
// rotation existed: such a token may be under any accepted key.
const legacyCryptoKeyID = "k1"

// rotatingCrypto is the library's Crypto (opaque access tokens) with key
// rotation: it encrypts under the current crypto key, naming it in the
// JWE's kid, and decrypts with the key that kid names among the current
// and the previous ones.
type rotatingCrypto struct {
	current op.Crypto
	byID    map[string]op.Crypto
	ordered []op.Crypto // current first: for tokens without a usable kid
	// cfb reads what the library's older AES-CFB encryption made, as
	// op.NewProvider does for the configured key.
	cfb op.Decrypter
}

// cryptoKeyID names a crypto key in a token without revealing it.
func cryptoKeyID(k [32]byte) string {
	id := seal.KeyID(k[:])
	return "k-" + hex.EncodeToString(id[:])
}

func newRotatingCrypto(current [32]byte, previous [][32]byte) *rotatingCrypto {
	c := &rotatingCrypto{byID: make(map[string]op.Crypto), cfb: op.NewAESDecrypter(current)}
	for _, k := range append([][32]byte{current}, previous...) {
		kc := op.NewAES256GCMCrypto(k, cryptoKeyID(k))
		if c.current == nil {
			c.current = kc
		}
		c.byID[cryptoKeyID(k)] = kc
		c.ordered = append(c.ordered, kc)
	}
	return c
}

func (c *rotatingCrypto) Encrypt(s string) (string, error) { return c.current.Encrypt(s) }

var errUndecryptable = errors.New("cannot be decrypted with the accepted crypto keys")

func (c *rotatingCrypto) Decrypt(s string) (string, error) {
	jwe, err := jose.ParseEncryptedCompact(s, []jose.KeyAlgorithm{jose.A256GCMKW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		// Not a JWE: perhaps the older AES-CFB format.
		return c.cfb.Decrypt(s)
	}
	if kc, ok := c.byID[jwe.Header.KeyID]; ok {
		return kc.Decrypt(s)
	}
	if jwe.Header.KeyID != legacyCryptoKeyID {
		return "", fmt.Errorf("token key id %q: %w", jwe.Header.KeyID, errUndecryptable)
	}
	for _, kc := range c.ordered {
		if plain, err := kc.Decrypt(s); err == nil {
			return plain, nil
		}
	}
	return "", errUndecryptable
}

// newRotatingSealer is newSealer with the previous crypto keys accepted to
// open the signing key stored in Redis.
func newRotatingSealer(current [32]byte, previous [][32]byte) (*sealer, error) {
	var prev [][]byte
	for _, k := range previous {
		prev = append(prev, k[:])
	}
	s, err := seal.Derive(current[:], "idp: signing key sealing v1", prev...)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return &sealer{s: s}, nil
}
