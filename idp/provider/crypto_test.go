package provider

import (
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// TestRotatingCrypto: opaque tokens made under a previous crypto key (with
// its key id, or with the fixed id of before rotation) decrypt while that
// key is accepted and not once it is dropped; new tokens use the current
// key, which older replicas' configuration (previous key current, new key
// unknown) cannot read.
func TestRotatingCrypto(t *testing.T) {
	oldKey, newKey := [32]byte{1}, [32]byte{2}
	before := newRotatingCrypto(oldKey, nil)
	during := newRotatingCrypto(newKey, [][32]byte{oldKey})
	after := newRotatingCrypto(newKey, nil)
	legacy := op.NewAES256GCMCrypto(oldKey, legacyCryptoKeyID) // as op.NewProvider made them

	enc := func(c op.Encrypter) string {
		t.Helper()
		s, err := c.Encrypt("token-id:subject")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	oldToken, legacyToken, newToken := enc(before), enc(legacy), enc(during)
	for _, tc := range []struct {
		name  string
		c     *rotatingCrypto
		token string
		ok    bool
	}{
		{"old token, previous key accepted", during, oldToken, true},
		{"token of before rotation, previous key accepted", during, legacyToken, true},
		{"token of before rotation, same key", before, legacyToken, true},
		{"new token, during", during, newToken, true},
		{"new token, after", after, newToken, true},
		{"old token, previous key dropped", after, oldToken, false},
		{"token of before rotation, previous key dropped", after, legacyToken, false},
		{"new token, unknown key", before, newToken, false},
		{"garbage", during, "not.a.token.at.all", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.c.Decrypt(tc.token)
			if tc.ok && (err != nil || got != "token-id:subject") {
				t.Fatalf("Decrypt = %q, %v", got, err)
			}
			if !tc.ok && err == nil && got == "token-id:subject" {
				t.Fatalf("Decrypt = %q, want a failure", got)
			}
		})
	}
}
