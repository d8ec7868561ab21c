package config

import "github.com/region-nouvelle-aquitaine/idp/ldapsync/job"

// Ldapsync is how the web tier hands new passwords to the ldapsync
// workers: it seals them to the workers' public key (`ldapsync keygen`
// prints it); only the workers hold the private key.
type Ldapsync struct {
	PublicKey string
}

func (d *decoder) decodeLdapsync(m *mapping, c *Ldapsync) {
	m.str("public_key", &c.PublicKey)
	m.done()
}

func (v *validator) ldapsync() {
	if !v.d.given("ldapsync.public_key") {
		return
	}
	if _, err := job.ParsePublicKey(v.c.Ldapsync.PublicKey); err != nil {
		v.report("ldapsync.public_key", "is not a public key printed by `ldapsync keygen`")
	}
}
