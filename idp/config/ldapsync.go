package config

import (
	"crypto/ed25519"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
)

// LdapsyncKeys is how the web tier hands new passwords to the ldapsync
// workers: it seals them to the workers' public key (`ldapsync keygen`
// prints it), so only the workers can read them, and signs every job with
// its own key (`ldapsync webkey` makes it), so the workers write only what
// the web tier queued.
type LdapsyncKeys struct {
	PublicKey string
	// SigningKey is resolved from signing_key_file or signing_key_env: a
	// 32-byte Ed25519 seed in hexadecimal or base64. Its public key is
	// pinned in ldapsync's web_public_keys.
	SigningKey ed25519.PrivateKey
}

func (d *decoder) decodeLdapsyncKeys(m *mapping, c *LdapsyncKeys) {
	m.str("public_key", &c.PublicKey)
	if seed := m.key("signing_key", ed25519.SeedSize, true); seed != nil {
		c.SigningKey = ed25519.NewKeyFromSeed(seed)
	}
	m.done()
}

func (v *validator) ldapsyncKeys() {
	if !v.d.given("ldapsync.public_key") {
		v.report("ldapsync.public_key", "this setting is required: new passwords are sealed to the ldapsync workers' public key, printed by `ldapsync keygen`")
	} else if _, err := job.ParsePublicKey(v.c.Ldapsync.PublicKey); err != nil {
		v.report("ldapsync.public_key", "is not a public key printed by `ldapsync keygen`")
	}
	if !v.d.given("ldapsync.signing_key") {
		v.report("ldapsync.signing_key", "this secret is required; give signing_key_file or signing_key_env, "+
			"the secret made by `ldapsync webkey` (ldapsync writes only the jobs signed with it)")
	}
}
