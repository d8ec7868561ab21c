package login

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// Devices is the device cookie (OWASP's "device cookie" pattern, as in
// LemonLDAP::NG and Authelia): after a successful sign-in the browser keeps
// a long-lived HttpOnly cookie with one token per account signed in to
// there. A token is a random device id, its issue time and an HMAC over
// both and the person's subject, so it names the account without holding
// any identifier, and only verifies for that account.
//
// A sign-in attempt for an account from a browser holding a valid token
// for it is counted against that device alone (throttle.DeviceKey, the same
// budget as an identifier): strangers' failures on the identifier or the
// person do not hold it back, and its own failures can lock it out. A
// token issued before the person's last revocation (a new password) is no
// longer valid: whoever signed in with the old password keeps nothing.
// « Mot de passe perdu » gives such a browser its own mails and wrong
// codes the same way (idp/reset).
type Devices struct {
	key      []byte
	previous [][]byte // keys key replaced: their tokens still verify
	name     string
	secure   bool
	revoked  Revocations
	now      func() time.Time
}

// Revocations tells when a person's sessions were last revoked
// (idp/store).
type Revocations interface {
	RevokedSince(ctx context.Context, subject string, t time.Time) (bool, error)
}

const (
	// DeviceLifetime is how long a device token lasts. A person's last
	// revocation must be known that long (store.Options.RevocationTTL):
	// once forgotten, tokens issued before it would count again.
	DeviceLifetime = 365 * 24 * time.Hour
	deviceAccounts = 5 // tokens kept per browser, the newest first
	deviceIDLen    = 16
	deviceTokenLen = deviceIDLen + 8 + 16
)

// NewDevices returns the device cookie keyed with key (derive it: HKDF of
// the cookie key). Over https the cookie is "__Host-idp_device".
func NewDevices(key []byte, secure bool, revoked Revocations, now func() time.Time) *Devices {
	name := "idp_device"
	if secure {
		name = "__Host-idp_device"
	}
	if now == nil {
		now = time.Now
	}
	return &Devices{key: key, name: name, secure: secure, revoked: revoked, now: now}
}

// AcceptPrevious makes tokens signed with keys (the ones the current key
// replaced) still verify; new tokens are signed with the current key.
func (d *Devices) AcceptPrevious(keys [][]byte) *Devices {
	d.previous = keys
	return d
}

func (d *Devices) mac(id []byte, issued uint64, subject string) []byte {
	return deviceMAC(d.key, id, issued, subject)
}

func deviceMAC(key, id []byte, issued uint64, subject string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("idp device v1\x00"))
	m.Write(id)
	m.Write(binary.BigEndian.AppendUint64(nil, issued))
	m.Write([]byte(subject))
	return m.Sum(nil)[:16]
}

// tokens returns the browser's raw tokens.
func (d *Devices) tokens(r *http.Request) []string {
	c, err := r.Cookie(d.name)
	if err != nil {
		return nil
	}
	t := strings.Split(c.Value, ".")
	return t[:min(len(t), deviceAccounts)]
}

// verify returns the device id of tok and its issue time if it is valid
// for subject.
func (d *Devices) verify(tok, subject string) (string, time.Time, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != deviceTokenLen {
		return "", time.Time{}, false
	}
	id, issued, sum := raw[:deviceIDLen], binary.BigEndian.Uint64(raw[deviceIDLen:deviceIDLen+8]), raw[deviceIDLen+8:]
	valid := hmac.Equal(sum, d.mac(id, issued, subject))
	for _, k := range d.previous {
		valid = valid || hmac.Equal(sum, deviceMAC(k, id, issued, subject))
	}
	if !valid {
		return "", time.Time{}, false
	}
	at := time.Unix(int64(issued), 0)
	if age := d.now().Sub(at); age < 0 || age > DeviceLifetime {
		return "", time.Time{}, false
	}
	return hex.EncodeToString(id), at, true
}

// Known returns the id of the browser's device token for subject, if any
// and not issued before the person's last revocation. When the revocation
// cannot be read the browser is a stranger: the common budget applies.
func (d *Devices) Known(r *http.Request, subject string) (string, bool) {
	for _, t := range d.tokens(r) {
		id, at, ok := d.verify(t, subject)
		if !ok {
			continue
		}
		if d.revoked != nil {
			if gone, err := d.revoked.RevokedSince(r.Context(), subject, at); err != nil || gone {
				return "", false
			}
		}
		return id, true
	}
	return "", false
}

// Present reports whether the browser holds any device token, without
// checking them: whether Known is worth asking once the subject is known.
func (d *Devices) Present(r *http.Request) bool {
	c, err := r.Cookie(d.name)
	return err == nil && c.Value != ""
}

// Remember gives the browser a fresh token for subject, in front of the
// others it holds (any older one for subject is dropped).
func (d *Devices) Remember(w http.ResponseWriter, r *http.Request, subject string) {
	id := make([]byte, deviceIDLen)
	_, _ = rand.Read(id) // never fails since Go 1.24
	issued := uint64(d.now().Unix())
	raw := append(append(id, binary.BigEndian.AppendUint64(nil, issued)...), d.mac(id, issued, subject)...)
	keep := []string{base64.RawURLEncoding.EncodeToString(raw)}
	for _, t := range d.tokens(r) {
		if _, _, mine := d.verify(t, subject); !mine && len(keep) < deviceAccounts && len(t) == base64.RawURLEncoding.EncodedLen(deviceTokenLen) {
			keep = append(keep, t)
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: d.name, Value: strings.Join(keep, "."), Path: "/",
		MaxAge: int(DeviceLifetime / time.Second), HttpOnly: true, Secure: d.secure,
		SameSite: http.SameSiteStrictMode, // only ever read by the login form's own POST
	})
}
