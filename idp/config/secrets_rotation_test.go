package config

import (
	"bytes"
	"strings"
	"testing"
)

// TestPreviousKeys: the keys a rotation keeps are read from their files, in
// order, after the current ones.
func TestPreviousKeys(t *testing.T) {
	oldCrypto, oldCookie := strings.Repeat("01", 32), strings.Repeat("02", 40)
	c := mustParse(t, minimalWith(t, "cookie_key_env: COOKIE",
		"cookie_key_env: COOKIE\n  previous_crypto_key_files: [/old-crypto]\n  previous_cookie_key_files: [/old-cookie]"),
		map[string]string{"/old-crypto": oldCrypto + "\n", "/old-cookie": oldCookie})
	if len(c.Secrets.PreviousCryptoKeys) != 1 || c.Secrets.PreviousCryptoKeys[0] != [32]byte(bytes.Repeat([]byte{1}, 32)) {
		t.Errorf("PreviousCryptoKeys = %x", c.Secrets.PreviousCryptoKeys)
	}
	if len(c.Secrets.PreviousCookieKeys) != 1 || !bytes.Equal(c.Secrets.PreviousCookieKeys[0], bytes.Repeat([]byte{2}, 40)) {
		t.Errorf("PreviousCookieKeys = %x", c.Secrets.PreviousCookieKeys)
	}
	if c := mustParse(t, minimalWith(t), nil); c.Secrets.PreviousCryptoKeys != nil || c.Secrets.PreviousCookieKeys != nil {
		t.Error("previous keys without previous_*_key_files")
	}
}
