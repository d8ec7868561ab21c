package job

import (
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sealing: the web tier seals the new password to the worker's public key
// with HPKE (RFC 9180, crypto/hpke) in base mode, one-shot, so only a
// holder of the private key (ldapsync) can open it. The suite is the KEM
// of the key (MLKEM768-X25519 for keys made by GenerateKey; DHKEM(X25519)
// and the other KEMs of crypto/hpke are accepted too), HKDF-SHA256 and
// AES-256-GCM.
//
// A sealed password is
//
//	version(1)=1 ‖ kem(2) ‖ kdf(2) ‖ aead(2) ‖ keyID(8) ‖ len(enc)(2) ‖ enc ‖ ciphertext
//
// (integers big-endian). keyID is the start of a SHA-256 of the public key,
// so an Opener holding an old and a new key picks the right one during a
// rotation. The HPKE info is a fixed label; the additional data is the
// header above followed by the job's ID, Subject, Login and, when set,
// Mail (each length-prefixed), so a sealed password opens only for the job
// it was sealed for: copied into another job, or with its login or mail
// changed, added or removed, it is unreadable. (A job without Mail gives
// the same additional data as before Mail existed.) The plaintext is the password's length (2 bytes) and the
// password, padded with zeros to a multiple of 128 bytes, so the size of a
// sealed password does not tell its length.

const (
	sealVersion = 1
	sealInfo    = "github.com/region-nouvelle-aquitaine/idp ldapsync password v1"
	headerLen   = 1 + 2 + 2 + 2 + keyIDLen + 2
	keyIDLen    = 8
	padBlock    = 128
	// MaxPasswordBytes bounds a sealed password (UTF-8 bytes).
	MaxPasswordBytes = 1024
)

// The KDF and AEAD of every sealed password; the KEM is the key's.
func kdf() hpke.KDF   { return hpke.HKDFSHA256() }
func aead() hpke.AEAD { return hpke.AES256GCM() }

// keyID names a public key in sealed passwords.
func keyID(pk hpke.PublicKey) [keyIDLen]byte {
	h := sha256.New()
	h.Write([]byte("ldapsync hpke key id\x00"))
	h.Write(binary.BigEndian.AppendUint16(nil, pk.KEM().ID()))
	h.Write(pk.Bytes())
	var id [keyIDLen]byte
	copy(id[:], h.Sum(nil))
	return id
}

// Sealer seals passwords to one public key (the web tier holds it).
type Sealer struct {
	pk hpke.PublicKey
	id [keyIDLen]byte
}

// NewSealer returns a Sealer for pk (see ParsePublicKey).
func NewSealer(pk hpke.PublicKey) (*Sealer, error) {
	if pk == nil {
		return nil, errors.New("job: sealer without public key")
	}
	return &Sealer{pk: pk, id: keyID(pk)}, nil
}

// Seal seals password for j, whose ID, Subject and Login (and Mail, if
// any) must be set already and must not change afterwards (they are bound
// to the result).
func (s *Sealer) Seal(j Job, password string) ([]byte, error) {
	switch {
	case !validID(j.ID) || j.Subject == "" || j.Login == "":
		return nil, fmt.Errorf("%w: seal: the job needs its ID, Subject and Login first", ErrInvalid)
	case password == "" || len(password) > MaxPasswordBytes:
		return nil, fmt.Errorf("%w: seal: password empty or longer than %d bytes", ErrInvalid, MaxPasswordBytes)
	}
	header := make([]byte, 0, headerLen)
	header = append(header, sealVersion)
	header = binary.BigEndian.AppendUint16(header, s.pk.KEM().ID())
	header = binary.BigEndian.AppendUint16(header, kdf().ID())
	header = binary.BigEndian.AppendUint16(header, aead().ID())
	header = append(header, s.id[:]...)

	enc, sender, err := hpke.NewSender(s.pk, kdf(), aead(), []byte(sealInfo))
	if err != nil {
		return nil, fmt.Errorf("job: seal: %w", err)
	}
	header = binary.BigEndian.AppendUint16(header, uint16(len(enc)))
	plain := pad(password)
	defer clear(plain)
	ct, err := sender.Seal(additionalData(header, &j), plain)
	if err != nil {
		return nil, fmt.Errorf("job: seal: %w", err)
	}
	out := make([]byte, 0, len(header)+len(enc)+len(ct))
	return append(append(append(out, header...), enc...), ct...), nil
}

// Opener opens sealed passwords (only ldapsync holds it).
type Opener struct {
	keys map[[keyIDLen]byte]hpke.PrivateKey
}

// NewOpener returns an Opener for one or more private keys: during a
// rotation, the new one and the one jobs may still be sealed to.
func NewOpener(keys ...hpke.PrivateKey) (*Opener, error) {
	if len(keys) == 0 {
		return nil, errors.New("job: opener without private key")
	}
	o := &Opener{keys: make(map[[keyIDLen]byte]hpke.PrivateKey, len(keys))}
	for _, k := range keys {
		if k == nil {
			return nil, errors.New("job: nil private key")
		}
		o.keys[keyID(k.PublicKey())] = k
	}
	return o, nil
}

// Open returns the password sealed in j.Sealed for j. Every failure wraps
// ErrUnreadable and says nothing of the content.
func (o *Opener) Open(j *Job) (string, error) {
	b := j.Sealed
	if len(b) < headerLen || b[0] != sealVersion {
		return "", fmt.Errorf("%w: unknown format", ErrUnreadable)
	}
	kemID := binary.BigEndian.Uint16(b[1:])
	if binary.BigEndian.Uint16(b[3:]) != kdf().ID() || binary.BigEndian.Uint16(b[5:]) != aead().ID() {
		return "", fmt.Errorf("%w: unknown cipher suite", ErrUnreadable)
	}
	var id [keyIDLen]byte
	copy(id[:], b[7:])
	k, ok := o.keys[id]
	if !ok || k.KEM().ID() != kemID {
		return "", fmt.Errorf("%w: sealed to a key this worker does not hold", ErrUnreadable)
	}
	encLen := int(binary.BigEndian.Uint16(b[headerLen-2:]))
	if len(b) < headerLen+encLen {
		return "", fmt.Errorf("%w: truncated", ErrUnreadable)
	}
	enc, ct := b[headerLen:headerLen+encLen], b[headerLen+encLen:]
	r, err := hpke.NewRecipient(enc, k, kdf(), aead(), []byte(sealInfo))
	if err != nil {
		return "", fmt.Errorf("%w: bad encapsulated key", ErrUnreadable)
	}
	plain, err := r.Open(additionalData(b[:headerLen], j), ct)
	if err != nil {
		return "", fmt.Errorf("%w: not sealed for this job, or altered", ErrUnreadable)
	}
	defer clear(plain)
	pw, ok := unpad(plain)
	if !ok {
		return "", fmt.Errorf("%w: bad padding", ErrUnreadable)
	}
	return pw, nil
}

// additionalData binds a sealed password to its header and to the job.
func additionalData(header []byte, j *Job) []byte {
	ad := append([]byte(nil), header...)
	fields := []string{j.ID, j.Subject, j.Login}
	if j.Mail != "" {
		// Bound too: a target that finds people by mail and checks no
		// subject must not be pointed at someone else through Redis.
		fields = append(fields, j.Mail)
	}
	for _, f := range fields {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(f)))
		ad = append(ad, f...)
	}
	return ad
}

func pad(password string) []byte {
	n := 2 + len(password)
	n += (padBlock - n%padBlock) % padBlock
	b := make([]byte, n)
	binary.BigEndian.PutUint16(b, uint16(len(password)))
	copy(b[2:], password)
	return b
}

func unpad(b []byte) (string, bool) {
	if len(b) < 2 || len(b)%padBlock != 0 {
		return "", false
	}
	n := int(binary.BigEndian.Uint16(b))
	if n == 0 || 2+n > len(b) {
		return "", false
	}
	for _, c := range b[2+n:] {
		if c != 0 {
			return "", false
		}
	}
	return string(b[2 : 2+n]), true
}
