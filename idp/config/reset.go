package config

// Reset configures « Mot de passe perdu »: where the profiles that are not
// usagers are sent (their own providers' pages). Each URL comes
// from here, never from a request. An empty URL hides that choice.
type Reset struct {
	EluURL         string // « Je suis un élu de la Région »
	AgentLyceesURL string // « Je suis un agent des lycées »
	AgentSiegeURL  string // « Je suis un agent du siège »
	SupportURL     string // « J’ai besoin de support »; default the top-level support_url
	// StrictPasswords asks for 15 characters at least instead of 12
	// (NIST SP 800-63B-4 for a password used alone).
	StrictPasswords bool
	// ReturnTo lists, exactly, the addresses another SSO may pass as
	// return_to: « Continuer » at the end of the journey leads there.
	ReturnTo []string
}

func (d *decoder) decodeReset(m *mapping, c *Reset) {
	m.str("elu_url", &c.EluURL)
	m.str("agent_lycees_url", &c.AgentLyceesURL)
	m.str("agent_siege_url", &c.AgentSiegeURL)
	m.str("support_url", &c.SupportURL)
	m.boolean("strict_passwords", &c.StrictPasswords)
	m.strs("return_to", &c.ReturnTo)
	m.done()
}

func (v *validator) reset() {
	c := v.c.Reset
	for _, u := range []struct{ key, val string }{
		{"elu_url", c.EluURL}, {"agent_lycees_url", c.AgentLyceesURL},
		{"agent_siege_url", c.AgentSiegeURL}, {"support_url", c.SupportURL},
	} {
		if v.d.given("reset." + u.key) {
			v.webURL("reset."+u.key, u.val, v.c.InsecureLoopback, redirectURL)
		}
	}
	for i, u := range c.ReturnTo {
		v.webURL(indexPath("reset.return_to", i), u, v.c.InsecureLoopback, redirectURL)
	}
}
