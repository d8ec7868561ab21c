package ldapauth

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
)

// Config describes one directory (possibly several replicas). Zero values of
// Attributes, UserFilter, Timeout and PoolSize get the documented defaults.
type Config struct {
	// Config is where the directory is and how to bind to it: a read-only
	// service account (BindDN and BindPassword both empty: anonymous
	// search). Timeout bounds each operation and each dial (default 5s).
	ldapconn.Config
	BaseDN string

	// UserFilter finds the entry for a login; {login} is replaced by the
	// escaped login. Default:
	// (&(objectClass=inetOrgPerson)(|(uid={login})(mail={login})))
	UserFilter string
	Attributes Attributes
	PoolSize   int // user binds at once, on as many kept connections; default 4
}

// Attributes names the LDAP attributes mapped to User fields.
type Attributes struct {
	Subject    string // default entryUUID; must be stable, non-empty and free of ':'
	Email      string // default mail
	Name       string // default cn
	GivenName  string // default givenName
	FamilyName string // default sn
	Username   string // default uid
}

// defaultUserFilter is used when Config.UserFilter is empty.
const defaultUserFilter = "(&(objectClass=inetOrgPerson)(|(uid={login})(mail={login})))"

const (
	defaultPoolSize  = 4
	loginPlaceholder = "{login}"
)

func (a Attributes) withDefaults() Attributes {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	return Attributes{
		Subject:    def(a.Subject, "entryUUID"),
		Email:      def(a.Email, "mail"),
		Name:       def(a.Name, "cn"),
		GivenName:  def(a.GivenName, "givenName"),
		FamilyName: def(a.FamilyName, "sn"),
		Username:   def(a.Username, "uid"),
	}
}

func (a Attributes) list() []string {
	return []string{a.Subject, a.Email, a.Name, a.GivenName, a.FamilyName, a.Username}
}

// prepare applies defaults and reports every configuration problem at once.
func (cfg Config) prepare() (Config, []*url.URL, *tls.Config, error) {
	var errs []error
	if cfg.UserFilter == "" {
		cfg.UserFilter = defaultUserFilter
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = defaultPoolSize
	}
	cfg.Attributes = cfg.Attributes.withDefaults()

	conn, urls, tlsCfg, err := cfg.Config.Prepare()
	cfg.Config = conn
	if err != nil {
		errs = append(errs, err)
	}
	if _, err := ldap.ParseDN(cfg.BaseDN); err != nil || cfg.BaseDN == "" {
		errs = append(errs, fmt.Errorf("BaseDN %q is not a DN", cfg.BaseDN))
	}
	if cfg.BindDN != "" && cfg.BindPassword == "" {
		// An empty password would make an unauthenticated (anonymous) bind.
		errs = append(errs, errors.New("BindDN set without BindPassword"))
	}
	if cfg.BindDN == "" && cfg.BindPassword != "" {
		errs = append(errs, errors.New("BindPassword set without BindDN"))
	}
	if strings.Count(cfg.UserFilter, loginPlaceholder) == 0 {
		errs = append(errs, fmt.Errorf("UserFilter lacks %s", loginPlaceholder))
	} else if _, err := ldap.CompileFilter(strings.ReplaceAll(cfg.UserFilter, loginPlaceholder, "x")); err != nil {
		errs = append(errs, fmt.Errorf("UserFilter: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, nil, nil, fmt.Errorf("ldapauth: invalid config: %w", err)
	}
	return cfg, urls, tlsCfg, nil
}
