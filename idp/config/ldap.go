package config

import (
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
)

// LDAPConnection is how to reach and bind to a directory: the keys that
// idp.yaml's ldap section and each of ldapsync.yaml's directories share,
// read and checked the same way.
type LDAPConnection struct {
	URLs         []string // ldap:// or ldaps://, tried in order
	StartTLS     bool     // only with ldap:// URLs
	CAFile       string   // PEM
	BindDN       string
	BindPassword string        // resolved from bind_password_file or bind_password_env
	Timeout      time.Duration // default 5s
}

// Conn is the connection's runtime configuration, which the directory
// reader (idp/ldapauth) and writer (ldapsync/directory) embed.
func (c LDAPConnection) Conn() ldapconn.Config {
	return ldapconn.Config{
		URLs: c.URLs, StartTLS: c.StartTLS, CAFile: c.CAFile,
		BindDN: c.BindDN, BindPassword: c.BindPassword, Timeout: c.Timeout,
	}
}

func (d *decoder) decodeLDAPConnection(m *mapping, c *LDAPConnection) {
	m.strs("urls", &c.URLs)
	m.boolean("start_tls", &c.StartTLS)
	m.str("ca_file", &c.CAFile)
	m.str("bind_dn", &c.BindDN)
	c.BindPassword, _ = m.secret("bind_password")
	m.duration("timeout", &c.Timeout)
}

func (d *decoder) ldapConnectionDefaults(path string, c *LDAPConnection) {
	if !d.given(childPath(path, "timeout")) {
		c.Timeout = ldapconn.DefaultTimeout
	}
}

// ldapConnection checks the connection at path; what, such as "a read-only
// service account", says whose bind_dn is required.
func (v *validator) ldapConnection(path string, c LDAPConnection, what string) {
	urls := childPath(path, "urls")
	if len(c.URLs) == 0 {
		v.report(urls, "at least one directory URL (ldap:// or ldaps://) is required")
	}
	for i, u := range c.URLs {
		p := indexPath(urls, i)
		ldaps, ok := v.ldapURL(p, u)
		switch {
		case ok && ldaps && c.StartTLS:
			v.report(p, "%q is ldaps:// (already encrypted) but start_tls is true; use ldap:// URLs with start_tls, or set start_tls: false", u)
		case ok && !ldaps && !c.StartTLS && !IsLoopback(hostOf(u)):
			v.report(p, "%q without start_tls sends passwords unencrypted: plain ldap:// is only allowed to a directory on this machine (127.0.0.1, ::1 or localhost); use ldaps:// or start_tls: true", u)
		}
	}
	if c.CAFile != "" {
		v.caFile(childPath(path, "ca_file"), c.CAFile)
	}
	bindDN := childPath(path, "bind_dn")
	if !v.d.given(bindDN) {
		v.report(bindDN, "this setting is required: %s", what)
	} else {
		v.dn(bindDN, c.BindDN)
	}
	if !v.d.given(childPath(path, "bind_password")) {
		v.report(childPath(path, "bind_password"), "this secret is required; give bind_password_file or bind_password_env")
	}
	v.positive(childPath(path, "timeout"), c.Timeout)
}

// dn checks a distinguished name that was given.
func (v *validator) dn(path, value string) {
	if parsed, err := ldap.ParseDN(value); err != nil || len(parsed.RDNs) == 0 {
		v.report(path, "%q is not a distinguished name such as \"ou=people,dc=example,dc=org\"", value)
	}
}
