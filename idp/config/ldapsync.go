package config

import (
	"crypto/ed25519"
	"strings"

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
	var file string
	m.str("public_key_file", &file)
	if m.d.given("ldapsync.public_key_file") && !m.d.reported("ldapsync.public_key_file") {
		d.publicKeyFile(m, c, file)
	}
	if seed := m.key("signing_key", ed25519.SeedSize, true); seed != nil {
		c.SigningKey = ed25519.NewKeyFromSeed(seed)
	}
	m.done()
}

// publicKeyFile reads the public key from a file holding the line
// `ldapsync keygen` (or `ldapsync pubkey`) printed, so that a deployment
// mounts it rather than pasting a line of some 1,600 characters.
func (d *decoder) publicKeyFile(m *mapping, c *LdapsyncKeys, file string) {
	const path = "ldapsync.public_key"
	n := m.get("public_key_file")
	switch {
	case d.given(path):
		d.problem(m.keys["public_key_file"], path, "give either public_key or public_key_file, not both")
		return
	case file == "":
		d.problem(n, path, "public_key_file is empty; give the path of the file holding the line `ldapsync keygen` printed")
		return
	}
	// The key is located at the file's line from now on.
	d.pos[path] = n
	data, err := d.readFile(file)
	if err != nil {
		d.problem(n, path, "cannot read public key file %q: %s", file, readError(err))
		return
	}
	c.PublicKey = strings.TrimSpace(string(data))
	if c.PublicKey == "" {
		d.problem(n, path, "public key file %q is empty", file)
	}
}

func (v *validator) ldapsyncKeys() {
	if v.d.reported("ldapsync.public_key_file") {
		// Already said: public_key_file is not text.
	} else if !v.d.given("ldapsync.public_key") {
		v.report("ldapsync.public_key", "this setting is required: new passwords are sealed to the ldapsync workers' public key, printed by `ldapsync keygen` (give public_key, or public_key_file for a file holding it)")
	} else if _, err := job.ParsePublicKey(v.c.Ldapsync.PublicKey); err != nil {
		what := "is not"
		if v.d.given("ldapsync.public_key_file") {
			what = "public_key_file does not hold"
		}
		v.report("ldapsync.public_key", "%s a public key printed by `ldapsync keygen`", what)
	}
	if !v.d.given("ldapsync.signing_key") {
		v.report("ldapsync.signing_key", "this secret is required; give signing_key_file or signing_key_env, "+
			"the secret made by `ldapsync webkey` (ldapsync writes only the jobs signed with it)")
	}
}
