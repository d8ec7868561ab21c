package config

import (
	"net/mail"
	"strings"
)

// SupportPath is where this provider serves its own support page; the
// default support_url is public_url + SupportPath.
const SupportPath = "/support"

// Support is what the support page (« J'ai besoin de support ») shows.
// Every detail is optional; a configuration needs at least one of them or
// a support_url of its own.
type Support struct {
	Email   string // a bare address, such as support@example.org
	Phone   string // as it should be read, such as « 05 49 55 00 00 »
	Hours   string // when the phone answers, such as « du lundi au vendredi, 9 h – 17 h »
	URL     string // an external contact form
	Address string // postal address, lines separated by newlines
}

// Any reports whether at least one contact detail is given.
func (s Support) Any() bool {
	return s.Email != "" || s.Phone != "" || s.Hours != "" || s.URL != "" || s.Address != ""
}

func (d *decoder) decodeSupport(m *mapping, s *Support) {
	m.str("email", &s.Email)
	m.str("phone", &s.Phone)
	m.str("hours", &s.Hours)
	m.str("url", &s.URL)
	m.str("address", &s.Address)
	m.done()
}

// supportDefaults: without a support_url of its own, support leads to
// reset.support_url when given, or else to this provider's support page.
func (d *decoder) supportDefaults(c *Config) {
	if d.given("support_url") {
		return
	}
	if d.given("reset.support_url") {
		c.SupportURL = c.Reset.SupportURL
		return
	}
	c.SupportURL = strings.TrimSuffix(c.PublicURL, "/") + SupportPath
}

func (v *validator) support() {
	s := v.c.Support
	if s.Email != "" {
		if a, err := mail.ParseAddress(s.Email); err != nil || a.Address != s.Email || !strings.Contains(s.Email[strings.LastIndex(s.Email, "@")+1:], ".") {
			v.report("support.email", "%q is not a bare address such as \"support@example.org\"", s.Email)
		}
	}
	if v.d.given("support.url") {
		v.webURL("support.url", s.URL, v.c.InsecureLoopback, redirectURL)
	}
	for _, k := range []struct{ key, val string }{{"email", s.Email}, {"phone", s.Phone}, {"hours", s.Hours}, {"address", s.Address}} {
		if v.d.given("support."+k.key) && strings.TrimSpace(k.val) == "" {
			v.report("support."+k.key, "must not be empty: leave the key out instead")
		}
	}
	if !v.d.given("support_url") && !v.d.given("reset.support_url") && !s.Any() {
		v.report("support", "give support_url, or at least one contact detail (email, phone, hours, url, address) here for the built-in page at public_url + %q: « J'ai besoin de support », every page's footer and the mail sent after a password change lead there", SupportPath)
	}
}
