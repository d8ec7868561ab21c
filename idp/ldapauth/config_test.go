package ldapauth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	valid := func() Config {
		return Config{
			Config: ldapconn.Config{URLs: []string{"ldap://127.0.0.1:389"}, BindDN: "cn=reader,dc=example,dc=org", BindPassword: "secret"},
			BaseDN: "dc=example,dc=org",
		}
	}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" = valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"anonymous search", func(c *Config) { c.BindDN, c.BindPassword = "", "" }, ""},
		{"ldaps and custom filter", func(c *Config) {
			c.URLs = []string{"ldaps://ldap.example.org"}
			c.UserFilter = "(&(objectClass=person)(sAMAccountName={login}))"
		}, ""},
		{"no URL", func(c *Config) { c.URLs = nil }, "no URL"},
		{"http URL", func(c *Config) { c.URLs = []string{"http://x"} }, "scheme"},
		{"no host", func(c *Config) { c.URLs = []string{"ldap://"} }, "no host"},
		{"StartTLS with ldaps", func(c *Config) { c.URLs, c.StartTLS = []string{"ldaps://x"}, true }, "StartTLS"},
		{"no base", func(c *Config) { c.BaseDN = "" }, "BaseDN"},
		{"bad base", func(c *Config) { c.BaseDN = "not a dn" }, "BaseDN"},
		{"bind DN without password", func(c *Config) { c.BindPassword = "" }, "without BindPassword"},
		{"filter without placeholder", func(c *Config) { c.UserFilter = "(uid=x)" }, "{login}"},
		{"broken filter", func(c *Config) { c.UserFilter = "(uid={login}" }, "UserFilter"},
		{"missing CA file", func(c *Config) { c.CAFile = "/nonexistent/ca.pem" }, "CAFile"},
		{"CA file without PEM", func(c *Config) { c.CAFile = notPEM }, "no PEM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.edit(&cfg)
			d, err := New(cfg, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if d.cfg.Timeout != 5*time.Second || d.cfg.PoolSize != 4 || d.cfg.Attributes.Subject != "entryUUID" || d.cfg.UserFilter == "" {
					t.Errorf("defaults not applied: %+v", d.cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		login string
		want  bool
	}{
		{"jdupont", true},
		{"élodie.lefèvre@example.org", true},
		{"*)(uid=*", true}, // harmless once escaped; the directory finds nothing
		{"", false},
		{strings.Repeat("a", 256), true},
		{strings.Repeat("a", 257), false},
		{"a\x00b", false},
		{"a\rb", false},
		{"a\nb", false},
		{"a\tb", false},
		{"a\xffb", false},
	}
	for _, tc := range tests {
		if got := validLogin(tc.login); got != tc.want {
			t.Errorf("validLogin(%q) = %v, want %v", tc.login, got, tc.want)
		}
	}
}
