package job

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Signing: sealing proves nothing about who queued a job (anyone with
// the worker's public key can seal), so the web tier also signs every job
// with an Ed25519 key only it holds, and the worker pins its public key.
// (crypto/hpke has base mode only, and the worker's X-Wing KEM has no
// authenticated mode anyway.)
//
// The signature covers everything the worker acts on: a fixed label
// naming the purpose (a password change), the job's ID (so a copy queued
// again is recognised by its ID), Subject, Login, Mail, CreatedAt and
// ExpiresAt (to the millisecond, as the queue keeps them), and the whole
// sealed password with its header (which names the worker's key). Each
// field is length-prefixed. Targets are not in a job: the worker's
// configuration decides where a change is written.

const (
	signLabel = "github.com/region-nouvelle-aquitaine/idp ldapsync job v1\x00password-change"
	// verifyKeyPrefix starts the text form of a web tier public key.
	verifyKeyPrefix = "ed25519:"
)

// ErrUnauthenticated: a job is not signed by a key the worker pins, or
// was altered after it was signed.
var ErrUnauthenticated = errors.New("job: not signed by the web tier")

// signedMessage is what a job's signature covers.
func signedMessage(j *Job) []byte {
	b := []byte(signLabel)
	for _, f := range []string{j.ID, j.Subject, j.Login, j.Mail, string(j.Sealed)} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(j.CreatedAt.UnixMilli()))
	return binary.BigEndian.AppendUint64(b, uint64(j.ExpiresAt.UnixMilli()))
}

// Signer signs jobs with the web tier's key.
type Signer struct{ k ed25519.PrivateKey }

// NewSigner returns a Signer for k (see ParseSigningKey).
func NewSigner(k ed25519.PrivateKey) (*Signer, error) {
	if len(k) != ed25519.PrivateKeySize {
		return nil, errors.New("job: signer without a valid Ed25519 key")
	}
	return &Signer{k: k}, nil
}

// Sign sets j.Signature. Call it last: every field but Signature must be
// set (Mail may be empty) and must not change afterwards.
func (s *Signer) Sign(j *Job) error {
	if !validID(j.ID) || j.Subject == "" || j.Login == "" || len(j.Sealed) == 0 || j.CreatedAt.IsZero() || j.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: sign: the job needs its ID, Subject, Login, Sealed, CreatedAt and ExpiresAt first", ErrInvalid)
	}
	j.Signature = ed25519.Sign(s.k, signedMessage(j))
	return nil
}

// Verifier checks jobs against the web tier's public keys (several
// during a rotation).
type Verifier struct{ keys []ed25519.PublicKey }

// NewVerifier returns a Verifier for one or more public keys.
func NewVerifier(keys ...ed25519.PublicKey) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("job: verifier without public key")
	}
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, errors.New("job: verifier: not an Ed25519 public key")
		}
	}
	return &Verifier{keys: keys}, nil
}

// Verify reports whether j is signed by one of the keys, as it is. The
// error wraps ErrUnauthenticated and says nothing of the content.
func (v *Verifier) Verify(j *Job) error {
	if len(j.Signature) == 0 {
		return fmt.Errorf("%w: no signature", ErrUnauthenticated)
	}
	msg := signedMessage(j)
	for _, k := range v.keys {
		if ed25519.Verify(k, msg, j.Signature) {
			return nil
		}
	}
	return fmt.Errorf("%w: signature does not match", ErrUnauthenticated)
}

// Key encodings. The web tier's private key is its 32-byte Ed25519 seed
// (RFC 8032), in hexadecimal, like the web tier's other secrets (base64
// is read too); its public key is one line, "ed25519:<key, base64url
// without padding>", for the worker's configuration.

// GenerateSigningKey returns a new private key for the web tier.
func GenerateSigningKey() (ed25519.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("job: generate signing key: %w", err)
	}
	return k, nil
}

// MarshalSigningKey encodes k's seed in hexadecimal, without newline.
func MarshalSigningKey(k ed25519.PrivateKey) string { return hex.EncodeToString(k.Seed()) }

// ParseSigningKey decodes a 32-byte seed in hexadecimal or base64
// (surrounding spaces and newlines are ignored). Errors never quote it.
func ParseSigningKey(s string) (ed25519.PrivateKey, error) {
	s = strings.TrimSpace(s)
	seed, err := hex.DecodeString(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if err == nil {
			break
		}
		seed, err = enc.DecodeString(s)
	}
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("job: signing key: not 32 bytes in hexadecimal or base64")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// MarshalVerifyKey encodes a web tier public key as one line of text.
func MarshalVerifyKey(pk ed25519.PublicKey) string {
	return verifyKeyPrefix + base64.RawURLEncoding.EncodeToString(pk)
}

// ParseVerifyKey decodes what MarshalVerifyKey wrote (surrounding spaces
// and newlines are ignored).
func ParseVerifyKey(s string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), verifyKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("job: web tier public key: not of the form %s<base64url>", verifyKeyPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("job: web tier public key: not 32 bytes in base64url")
	}
	return ed25519.PublicKey(raw), nil
}
