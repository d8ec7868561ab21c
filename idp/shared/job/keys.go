package job

import (
	"crypto/hpke"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Key encodings for configuration files.
//
// A private key file is one PEM block of type "LDAPSYNC HPKE PRIVATE KEY"
// with a "KEM" header (the HPKE KEM id, e.g. 0x647a) around the key's
// RFC 9180 serialization. Text around the block is ignored.
//
// A public key is one line, "hpke1:<KEM id, 4 hex digits>:<key, base64url
// without padding>", for the web tier's configuration.

const (
	privateKeyPEMType = "LDAPSYNC HPKE PRIVATE KEY"
	publicKeyPrefix   = "hpke1:"
)

// GenerateKey returns a new private key for the worker: MLKEM768-X25519
// (X-Wing), a hybrid of ML-KEM and X25519, so a copy of Redis taken today
// stays sealed even against a future quantum computer.
func GenerateKey() (hpke.PrivateKey, error) {
	k, err := hpke.MLKEM768X25519().GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("job: generate key: %w", err)
	}
	return k, nil
}

// MarshalPrivateKey encodes k as the content of a private key file.
func MarshalPrivateKey(k hpke.PrivateKey) ([]byte, error) {
	b, err := k.Bytes()
	if err != nil {
		return nil, fmt.Errorf("job: encode private key: %w", err)
	}
	defer clear(b)
	return pem.EncodeToMemory(&pem.Block{
		Type:    privateKeyPEMType,
		Headers: map[string]string{"KEM": fmt.Sprintf("0x%04x", k.KEM().ID())},
		Bytes:   b,
	}), nil
}

// ParsePrivateKey decodes the content of a private key file. Errors never
// quote the file.
func ParsePrivateKey(data []byte) (hpke.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != privateKeyPEMType {
		return nil, fmt.Errorf("job: private key: no %q PEM block", privateKeyPEMType)
	}
	defer clear(block.Bytes)
	kem, err := kemFromID(block.Headers["KEM"])
	if err != nil {
		return nil, fmt.Errorf("job: private key: %w", err)
	}
	k, err := kem.NewPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("job: private key: not a valid key for KEM 0x%04x", kem.ID())
	}
	return k, nil
}

// MarshalPublicKey encodes pk as one line of text.
func MarshalPublicKey(pk hpke.PublicKey) string {
	return fmt.Sprintf("%s%04x:%s", publicKeyPrefix, pk.KEM().ID(), base64.RawURLEncoding.EncodeToString(pk.Bytes()))
}

// ParsePublicKey decodes what MarshalPublicKey wrote (surrounding spaces
// and newlines are ignored).
func ParsePublicKey(s string) (hpke.PublicKey, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, publicKeyPrefix)
	kemHex, b64, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return nil, fmt.Errorf("job: public key: not of the form %s<kem>:<base64url>", publicKeyPrefix)
	}
	kem, err := kemFromID("0x" + kemHex)
	if err != nil {
		return nil, fmt.Errorf("job: public key: %w", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("job: public key: bad base64url")
	}
	pk, err := kem.NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("job: public key: not a valid key for KEM 0x%04x", kem.ID())
	}
	return pk, nil
}

func kemFromID(s string) (hpke.KEM, error) {
	id, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 16)
	if err != nil || !strings.HasPrefix(strings.ToLower(s), "0x") {
		return nil, fmt.Errorf("KEM id %q is not 0x followed by 4 hex digits", s)
	}
	kem, err := hpke.NewKEM(uint16(id))
	if err != nil {
		return nil, fmt.Errorf("unsupported KEM 0x%04x", id)
	}
	return kem, nil
}
