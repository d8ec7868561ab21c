package job

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

func signedJob(t *testing.T) (Job, *Verifier) {
	t.Helper()
	k, _ := GenerateKey()
	s, _ := NewSealer(k.PublicKey())
	sk, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := NewSigner(sk)
	v, _ := NewVerifier(sk.Public().(ed25519.PublicKey))
	now := time.UnixMilli(time.Now().UnixMilli())
	j := Job{ID: NewID(), Subject: "sub-1", Login: "jdupont", Mail: "jd@example.org", CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
	j.Sealed = sealFor(t, s, j, "Nouveau-mot-de-passe-1")
	if err := signer.Sign(&j); err != nil {
		t.Fatal(err)
	}
	return j, v
}

// Every field the worker acts on is covered: changing any one of them
// breaks the signature.
func TestSignatureCoversTheJob(t *testing.T) {
	t.Parallel()
	j, v := signedJob(t)
	if err := v.Verify(&j); err != nil {
		t.Fatalf("genuine job: %v", err)
	}
	other, _ := signedJob(t)
	for _, tc := range []struct {
		name string
		edit func(*Job)
	}{
		{"id", func(j *Job) { j.ID = NewID() }},
		{"subject", func(j *Job) { j.Subject = "sub-2" }},
		{"login", func(j *Job) { j.Login = "pmartin" }},
		{"mail", func(j *Job) { j.Mail = "pm@example.org" }},
		{"mail removed", func(j *Job) { j.Mail = "" }},
		{"login and mail shifted", func(j *Job) { j.Login, j.Mail = "jdupontjd@", "example.org" }},
		{"sealed password", func(j *Job) { j.Sealed = other.Sealed }},
		{"sealed password truncated", func(j *Job) { j.Sealed = j.Sealed[:len(j.Sealed)-1] }},
		{"created", func(j *Job) { j.CreatedAt = j.CreatedAt.Add(-time.Hour) }},
		{"expiry", func(j *Job) { j.ExpiresAt = j.ExpiresAt.Add(time.Hour) }},
		{"signature of another job", func(j *Job) { j.Signature = other.Signature }},
		{"no signature", func(j *Job) { j.Signature = nil }},
	} {
		c := j
		tc.edit(&c)
		if err := v.Verify(&c); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s changed: Verify = %v, want ErrUnauthenticated", tc.name, err)
		}
	}
	// Another web tier's key is not ours.
	_, v2 := signedJob(t)
	if err := v2.Verify(&j); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("verified with another key: %v", err)
	}
}

func TestSignerNeedsAFullJob(t *testing.T) {
	t.Parallel()
	j, _ := signedJob(t)
	sk, _ := GenerateSigningKey()
	s, _ := NewSigner(sk)
	for _, edit := range []func(*Job){
		func(j *Job) { j.CreatedAt = time.Time{} },
		func(j *Job) { j.ExpiresAt = time.Time{} },
		func(j *Job) { j.Sealed = nil },
		func(j *Job) { j.ID = "short" },
	} {
		c := j
		edit(&c)
		if err := s.Sign(&c); !errors.Is(err, ErrInvalid) {
			t.Errorf("Sign = %v, want ErrInvalid", err)
		}
	}
}

func TestSigningKeyEncodings(t *testing.T) {
	t.Parallel()
	sk, _ := GenerateSigningKey()
	text := MarshalSigningKey(sk)
	back, err := ParseSigningKey(text + "\n")
	if err != nil || !back.Equal(sk) {
		t.Fatalf("ParseSigningKey: %v", err)
	}
	line := MarshalVerifyKey(sk.Public().(ed25519.PublicKey))
	pk, err := ParseVerifyKey(" " + line + "\n")
	if err != nil || !pk.Equal(sk.Public()) {
		t.Fatalf("ParseVerifyKey(%q): %v", line, err)
	}
	for _, bad := range []string{"", "00", strings.Repeat("zz", 32), text[:62]} {
		if _, err := ParseSigningKey(bad); err == nil {
			t.Errorf("ParseSigningKey(%q) accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("the error quotes the key")
		}
	}
	for _, bad := range []string{"", "ed25519:", "ed25519:AAAA", "hpke1:647a:AAAA", line[len("ed25519:"):]} {
		if _, err := ParseVerifyKey(bad); err == nil {
			t.Errorf("ParseVerifyKey(%q) accepted", bad)
		}
	}
}
