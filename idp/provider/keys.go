package provider

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/seal"
)

// signingKey is one private key of the key ring (see keyring.go).
type signingKey struct {
	id      string
	alg     jose.SignatureAlgorithm
	private crypto.Signer
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.private }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ *signingKey }

func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return k.alg }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.private.Public() }

func generateKey(alg jose.SignatureAlgorithm) ([]byte, error) {
	var k crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return x509.MarshalPKCS8PrivateKey(k)
}

func parseKey(alg jose.SignatureAlgorithm, der []byte) (*signingKey, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing key: %w", err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key is a %T", parsed)
	}
	switch signer.(type) {
	case *rsa.PrivateKey:
		if alg != jose.RS256 {
			return nil, fmt.Errorf("stored key is RSA but %s is configured", alg)
		}
	case *ecdsa.PrivateKey:
		if alg != jose.ES256 {
			return nil, fmt.Errorf("stored key is ECDSA but %s is configured", alg)
		}
	}
	pub, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	// The kid is derived from the public key so that every replica
	// computes the same one.
	sum := sha256.Sum256(pub)
	return &signingKey{id: base64.RawURLEncoding.EncodeToString(sum[:12]), alg: alg, private: signer}, nil
}

var (
	_ op.SigningKey = (*signingKey)(nil)
	_ op.Key        = publicKey{}
)

// sealer encrypts the signing key at rest, so that a copy of Redis does not
// let anyone sign tokens. Its key is derived from the configured crypto key
// (HKDF, a label of its own), which never enters Redis.
type sealer struct{ s *seal.Sealer }

// sealVersion starts every sealed key, before seal's nonce ‖ ciphertext.
const sealVersion = 1

func newSealer(master [32]byte) (*sealer, error) {
	s, err := seal.Derive(master[:], "idp: signing key sealing v1")
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return &sealer{s: s}, nil
}

// seal binds the ciphertext to the key's name, so one sealed key cannot be
// passed off as another.
func (s *sealer) seal(name string, plain []byte) []byte {
	return s.s.Seal([]byte{sealVersion}, plain, []byte(name))
}

// ErrSealedKey means the stored signing key cannot be opened: it was sealed
// with another crypto key, or altered.
var ErrSealedKey = errors.New("the signing key stored in Redis cannot be opened with the configured crypto_key")

func (s *sealer) open(name string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1 || sealed[0] != sealVersion {
		return nil, ErrSealedKey
	}
	plain, err := s.s.Open(sealed[1:], []byte(name))
	if err != nil {
		return nil, ErrSealedKey
	}
	return plain, nil
}
