package config

import "time"

// Backchannel configures the delivery of logout tokens to the relying
// parties that registered a backchannel_logout_uri; the fields match
// idp/backchannel.Config.
type Backchannel struct {
	Timeout     time.Duration // one POST; default 5s, at most 1m
	FirstRetry  time.Duration // the pause after the first failure, doubled after each; default 5s
	MaxRetry    time.Duration // the longest pause; default 5m
	GiveUpAfter time.Duration // a token not delivered by then is dropped, with a log line; default 1h
	// CAFile is a PEM bundle trusted in addition to the system's roots:
	// one sender serves every relying party, some under a public CA, some
	// under an internal one (unlike ldap, mail and redis ca_file, which
	// replace the roots for their one server). "": the system's roots.
	CAFile string
}

// DefaultBackchannel is the section's defaults, for configurations built in
// code (dev mode, tests).
func DefaultBackchannel() Backchannel {
	return Backchannel{Timeout: 5 * time.Second, FirstRetry: 5 * time.Second, MaxRetry: 5 * time.Minute, GiveUpAfter: time.Hour}
}

func (d *decoder) decodeBackchannel(m *mapping, b *Backchannel) {
	m.duration("timeout", &b.Timeout)
	m.duration("first_retry", &b.FirstRetry)
	m.duration("max_retry", &b.MaxRetry)
	m.duration("give_up_after", &b.GiveUpAfter)
	m.str("ca_file", &b.CAFile)
	m.done()
}

func (d *decoder) backchannelDefaults(b *Backchannel) {
	def := DefaultBackchannel()
	set := func(path string, apply func()) {
		if !d.given(path) {
			apply()
		}
	}
	set("backchannel_logout.timeout", func() { b.Timeout = def.Timeout })
	set("backchannel_logout.first_retry", func() { b.FirstRetry = def.FirstRetry })
	set("backchannel_logout.max_retry", func() { b.MaxRetry = def.MaxRetry })
	set("backchannel_logout.give_up_after", func() { b.GiveUpAfter = def.GiveUpAfter })
}

func (v *validator) backchannel() {
	b := v.c.Backchannel
	const p = "backchannel_logout."
	if v.positive(p+"timeout", b.Timeout) && b.Timeout > time.Minute {
		v.report(p+"timeout", "must be at most 1m, not %s: a relying party that takes longer is retried later", b.Timeout)
	}
	if v.positive(p+"first_retry", b.FirstRetry) && v.positive(p+"max_retry", b.MaxRetry) && b.MaxRetry < b.FirstRetry {
		v.report(p+"max_retry", "(%s) must not be shorter than first_retry (%s)", b.MaxRetry, b.FirstRetry)
	}
	if v.positive(p+"give_up_after", b.GiveUpAfter) && b.GiveUpAfter > 7*24*time.Hour {
		v.report(p+"give_up_after", "must be at most 168h, not %s", b.GiveUpAfter)
	}
	if b.CAFile != "" {
		v.caFile(p+"ca_file", b.CAFile)
	}
}

// backchannelClient checks a client's back-channel settings: https, or
// http on a loopback host with insecure_loopback (the provider itself
// makes the request, so a public client gets no leeway here).
func (v *validator) backchannelClient(p string, c Client) {
	if v.d.given(p + ".backchannel_logout_uri") {
		v.webURL(p+".backchannel_logout_uri", c.BackchannelLogoutURI, v.c.InsecureLoopback, redirectURL)
	} else if c.BackchannelLogoutSessionRequired {
		v.report(p+".backchannel_logout_session_required", "is only used with backchannel_logout_uri")
	}
}
