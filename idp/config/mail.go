package config

import (
	"net"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// Mail configures the SMTP relay and the sender of outgoing mail; the
// fields match idp/mail.SMTP and idp/mail.Config. Host is required:
// « Mot de passe perdu » sends its codes by mail.
type Mail struct {
	Host        string        // the relay: a host name or address, without port; required
	Port        int           // default by TLS: 465 (implicit_tls), 587 (starttls), 25 (plain)
	TLS         string        // MailImplicitTLS, MailStartTLS (default) or MailPlain
	Username    string        // SMTP AUTH when set, with Password
	Password    string        // resolved from password_file or password_env
	CAFile      string        // PEM bundle that verifies the relay; default the system roots
	HELO        string        // name given in EHLO; default this machine's host name
	Timeout     time.Duration // dial and each exchange with the relay; default 15s
	FromName    string        // default "Région Nouvelle-Aquitaine"; "Région ALPC" (before 2016) also works
	FromAddress string        // default "noreply@motdepasse.nouvelle-aquitaine.fr"
	GiveUpAfter time.Duration // a mail not sent this long after it was queued is dropped; default 1h
	// DKIM signs every mail when its section is given.
	DKIM MailDKIM
}

// MailDKIM is mail.dkim: d=, s= and the private key's file (PEM, RSA of
// 2048 bits or more, or Ed25519). idp/mail checks the key and the
// alignment of Domain with the from address when it is loaded.
type MailDKIM struct {
	Domain, Selector, PrivateKeyFile string
}

// Transport security of mail.tls.
const (
	MailImplicitTLS = "implicit_tls" // TLS from the first byte, usually port 465
	MailStartTLS    = "starttls"     // STARTTLS required, never a downgrade, usually port 587
	MailPlain       = "plain"        // no TLS: only to a relay on this machine
)

// DefaultMail is the mail section's defaults (without a relay), for
// configurations built in code.
func DefaultMail() Mail {
	return Mail{
		Port: 587, TLS: MailStartTLS, Timeout: 15 * time.Second,
		FromName: "Région Nouvelle-Aquitaine", FromAddress: "noreply@motdepasse.nouvelle-aquitaine.fr",
		GiveUpAfter: time.Hour,
	}
}

func (d *decoder) decodeMail(m *mapping, c *Mail) {
	m.str("host", &c.Host)
	m.integer("port", &c.Port)
	m.oneOf("tls", &c.TLS, MailImplicitTLS, MailStartTLS, MailPlain)
	m.str("username", &c.Username)
	c.Password, _ = m.secret("password")
	m.str("ca_file", &c.CAFile)
	m.str("helo", &c.HELO)
	m.duration("timeout", &c.Timeout)
	m.str("from_name", &c.FromName)
	m.str("from_address", &c.FromAddress)
	m.duration("give_up_after", &c.GiveUpAfter)
	dk := m.sub("dkim")
	dk.str("domain", &c.DKIM.Domain)
	dk.str("selector", &c.DKIM.Selector)
	dk.str("private_key_file", &c.DKIM.PrivateKeyFile)
	dk.done()
	m.done()
}

func (d *decoder) mailDefaults(c *Mail) {
	def := DefaultMail()
	set := func(path string, apply func()) {
		if !d.given(path) {
			apply()
		}
	}
	set("mail.tls", func() { c.TLS = def.TLS })
	set("mail.port", func() {
		c.Port = def.Port // also when tls is wrong, which is reported alone
		if p, ok := map[string]int{MailImplicitTLS: 465, MailPlain: 25}[c.TLS]; ok {
			c.Port = p
		}
	})
	set("mail.timeout", func() { c.Timeout = def.Timeout })
	set("mail.from_name", func() { c.FromName = def.FromName })
	set("mail.from_address", func() { c.FromAddress = def.FromAddress })
	set("mail.give_up_after", func() { c.GiveUpAfter = def.GiveUpAfter })
}

// hostName matches a DNS name (RFC 1123 labels).
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

func isHost(s string) bool {
	return net.ParseIP(s) != nil || (len(s) <= 253 && hostName.MatchString(s))
}

func (v *validator) mail() {
	c := v.c.Mail
	const p = "mail."
	if !v.d.given(p + "host") {
		v.report(p+"host", "this setting is required: « Mot de passe perdu » sends its codes by mail, through this relay")
	} else if !isHost(c.Host) {
		hint := ""
		if strings.ContainsAny(c.Host, ":/") {
			hint = "; give the port in mail.port"
		}
		v.report(p+"host", "%q is not a host name or IP address such as \"smtp.example.org\"%s", c.Host, hint)
	}
	v.between(p+"port", c.Port, 1, 65535)
	if c.TLS == MailPlain && c.Host != "" && !IsLoopback(c.Host) {
		v.report(p+"tls", "plain sends mail (with its codes and links) unencrypted: it is only allowed to a relay on this machine (127.0.0.1, ::1 or localhost), not %q; use starttls or implicit_tls", c.Host)
	}
	switch {
	case c.Username != "" && !v.d.given(p+"password"):
		v.report(p+"password", "is required with a username; give password_file or password_env")
	case c.Username == "" && v.d.given(p+"password"):
		v.report(p+"username", "is required with a password")
	}
	if c.CAFile != "" {
		if c.TLS == MailPlain {
			v.report(p+"ca_file", "is only used with tls: implicit_tls or starttls")
		} else {
			v.caFile(p+"ca_file", c.CAFile)
		}
	}
	if c.HELO != "" && !isHost(c.HELO) {
		v.report(p+"helo", "%q is not a host name such as \"idp.example.org\"", c.HELO)
	}
	if v.positive(p+"timeout", c.Timeout) && c.Timeout > 5*time.Minute {
		v.report(p+"timeout", "must be at most 5m, not %s", c.Timeout)
	}
	if a, err := mail.ParseAddress(c.FromAddress); err != nil || a.Address != c.FromAddress {
		v.report(p+"from_address", "%q is not a bare address such as \"noreply@example.org\" (the display name goes in from_name)", c.FromAddress)
	}
	if strings.ContainsFunc(c.FromName, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		v.report(p+"from_name", "must be one line of text without control characters")
	}
	if v.positive(p+"give_up_after", c.GiveUpAfter) && (c.GiveUpAfter < time.Minute || c.GiveUpAfter > 7*24*time.Hour) {
		v.report(p+"give_up_after", "must be between 1m and 168h, not %s", c.GiveUpAfter)
	}
	if v.d.given(p + "dkim") {
		dk := c.DKIM
		if v.required(p+"dkim.domain", dk.Domain == "") && !hostName.MatchString(dk.Domain) {
			v.report(p+"dkim.domain", "%q is not a domain name such as \"nouvelle-aquitaine.fr\"", dk.Domain)
		}
		if v.required(p+"dkim.selector", dk.Selector == "") && !hostName.MatchString(dk.Selector) {
			v.report(p+"dkim.selector", "%q is not a DNS name such as \"idp2026\"", dk.Selector)
		}
		if v.required(p+"dkim.private_key_file", dk.PrivateKeyFile == "") {
			if _, err := v.d.readFile(dk.PrivateKeyFile); err != nil {
				v.report(p+"dkim.private_key_file", "cannot read %q: %s", dk.PrivateKeyFile, readError(err))
			}
		}
	}
}
