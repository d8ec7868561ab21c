package job

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"errors"
	"strings"
	"testing"
)

func sealFor(t *testing.T, s *Sealer, j Job, pw string) []byte {
	t.Helper()
	b, err := s.Seal(j, pw)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	xwing, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []hpke.PrivateKey{xwing, x25519} {
		s, _ := NewSealer(k.PublicKey())
		o, _ := NewOpener(k)
		for _, pw := range []string{"x", "Correct-Horse-42", "Île-de-Ré-2024!", strings.Repeat("é", MaxPasswordBytes/2)} {
			j := Job{ID: NewID(), Subject: "sub-1", Login: "jdupont"}
			j.Sealed = sealFor(t, s, j, pw)
			if len(pw) >= 8 && bytes.Contains(j.Sealed, []byte(pw)) {
				t.Errorf("KEM %#x: the sealed password contains it in clear", k.KEM().ID())
			}
			got, err := o.Open(&j)
			if err != nil || got != pw {
				t.Errorf("KEM %#x: Open = %q, %v; want the password", k.KEM().ID(), got, err)
			}
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	k, _ := GenerateKey()
	other, _ := GenerateKey()
	s, _ := NewSealer(k.PublicKey())
	o, _ := NewOpener(k)
	base := Job{ID: NewID(), Subject: "sub-1", Login: "jdupont"}
	sealed := sealFor(t, s, base, "Correct-Horse-42")
	otherSealer, _ := NewSealer(other.PublicKey())

	tests := []struct {
		name string
		edit func(j *Job)
	}{
		{"another job id", func(j *Job) { j.ID = NewID() }},
		{"another subject", func(j *Job) { j.Subject = "sub-2" }},
		{"another login", func(j *Job) { j.Login = "pmartin" }},
		{"a mail added", func(j *Job) { j.Mail = "pierre.martin@example.org" }},
		{"sealed to another key", func(j *Job) { j.Sealed = sealFor(t, otherSealer, *j, "x") }},
		{"header altered", func(j *Job) { j.Sealed[headerLen-3] ^= 1 }},
		{"ciphertext altered", func(j *Job) { j.Sealed[len(j.Sealed)-1] ^= 1 }},
		{"truncated", func(j *Job) { j.Sealed = j.Sealed[:headerLen+10] }},
		{"empty", func(j *Job) { j.Sealed = nil }},
		{"unknown version", func(j *Job) { j.Sealed[0] = 2 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := base
			j.Sealed = bytes.Clone(sealed)
			tc.edit(&j)
			if pw, err := o.Open(&j); !errors.Is(err, ErrUnreadable) || pw != "" {
				t.Fatalf("Open = %q, %v; want ErrUnreadable", pw, err)
			}
		})
	}
}

// TestSealBindsMail: a job's mail is bound to its sealed password like
// its login.
func TestSealBindsMail(t *testing.T) {
	t.Parallel()
	k, _ := GenerateKey()
	s, _ := NewSealer(k.PublicKey())
	o, _ := NewOpener(k)
	j := Job{ID: NewID(), Subject: "sub-1", Login: "jdupont", Mail: "jeanne.dupont@example.org"}
	j.Sealed = sealFor(t, s, j, "Correct-Horse-42")
	if pw, err := o.Open(&j); err != nil || pw != "Correct-Horse-42" {
		t.Fatalf("Open = %q, %v", pw, err)
	}
	for _, mail := range []string{"", "pierre.martin@example.org"} {
		other := j
		other.Mail = mail
		if _, err := o.Open(&other); !errors.Is(err, ErrUnreadable) {
			t.Errorf("mail %q instead of the sealed one: %v, want ErrUnreadable", mail, err)
		}
	}
}

func TestSealHidesLength(t *testing.T) {
	t.Parallel()
	k, _ := GenerateKey()
	s, _ := NewSealer(k.PublicKey())
	j := Job{ID: NewID(), Subject: "s", Login: "l"}
	short, long := sealFor(t, s, j, "a"), sealFor(t, s, j, strings.Repeat("b", 120))
	if len(short) != len(long) {
		t.Errorf("sealed sizes %d and %d tell the password length", len(short), len(long))
	}
	if bytes.Equal(sealFor(t, s, j, "a"), short) {
		t.Error("sealing twice gave the same bytes")
	}
}

func TestSealRefuses(t *testing.T) {
	t.Parallel()
	k, _ := GenerateKey()
	s, _ := NewSealer(k.PublicKey())
	ok := Job{ID: NewID(), Subject: "s", Login: "l"}
	tests := []struct {
		name string
		j    Job
		pw   string
	}{
		{"empty password", ok, ""},
		{"password too long", ok, strings.Repeat("x", MaxPasswordBytes+1)},
		{"no id", Job{Subject: "s", Login: "l"}, "pw"},
		{"no subject", Job{ID: NewID(), Login: "l"}, "pw"},
		{"no login", Job{ID: NewID(), Subject: "s"}, "pw"},
	}
	for _, tc := range tests {
		if _, err := s.Seal(tc.j, tc.pw); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Seal error = %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestKeyEncoding(t *testing.T) {
	t.Parallel()
	k, _ := GenerateKey()
	old, _ := hpke.DHKEM(ecdh.X25519()).GenerateKey()

	pemBytes, err := MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParsePrivateKey(append([]byte("# comment before the block\n"), pemBytes...))
	if err != nil {
		t.Fatalf("ParsePrivateKey: %v", err)
	}
	line := MarshalPublicKey(k.PublicKey())
	if strings.ContainsAny(line, " \n") || !strings.HasPrefix(line, "hpke1:647a:") {
		t.Errorf("public key line %q", line[:20])
	}
	pk, err := ParsePublicKey(" " + line + "\n")
	if err != nil {
		t.Fatalf("ParsePublicKey: %v", err)
	}
	// Sealed with the parsed public key, opened with the parsed private
	// key, by an Opener that also holds an older key (rotation).
	s, _ := NewSealer(pk)
	o, _ := NewOpener(old, k2)
	j := Job{ID: NewID(), Subject: "s", Login: "l"}
	j.Sealed = sealFor(t, s, j, "Correct-Horse-42")
	if got, err := o.Open(&j); err != nil || got != "Correct-Horse-42" {
		t.Fatalf("Open after encoding round trip = %q, %v", got, err)
	}
	oldSealer, _ := NewSealer(old.PublicKey())
	j.Sealed = sealFor(t, oldSealer, j, "old-key")
	if got, err := o.Open(&j); err != nil || got != "old-key" {
		t.Fatalf("Open with the older key = %q, %v", got, err)
	}

	for _, bad := range []string{"", "hpke1:647a", "hpke1:zzzz:AAAA", "hpke1:647a:!!", "hpke1:647a:AAAA", "hpke2:647a:AAAA"} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		strings.Replace(string(pemBytes), "KEM: 0x647a", "KEM: 0x9999", 1),
		strings.Replace(string(pemBytes), "KEM: 0x647a", "KEM: 0x0011", 1), // P-384 wants 48 bytes
		strings.Replace(string(pemBytes), "KEM: 0x647a", "KEM: 647a", 1)} {
		if _, err := ParsePrivateKey([]byte(bad)); err == nil {
			t.Errorf("ParsePrivateKey accepted %q", bad)
		}
	}
}
