package directory

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
)

// Config describes one directory (possibly several replicas of it). Zero
// values of UserFilter, SubjectAttribute and Timeout get the documented
// defaults.
type Config struct {
	// Config is where the directory is (URLs tried in order for failover,
	// starting with the last that worked) and how to bind to it. BindDN
	// and BindPassword are the writer account, required: a non-root
	// account with write access to userPassword, and read access to the
	// entries (SubjectAttribute, pwdChangedTime). Not the rootdn: its
	// changes skip the policy's checks and set pwdReset. Timeout bounds
	// each dial, TLS handshake and request (default 5s).
	ldapconn.Config
	BaseDN string

	// UserFilter finds the entry for a login; {login} is replaced by the
	// escaped login. Default:
	// (&(objectClass=inetOrgPerson)(|(uid={login})(mail={login})))
	UserFilter string
	// SubjectAttribute holds the person's sub, reported in Entry.Subject;
	// default entryUUID (as the web tier's default).
	SubjectAttribute string
}

const (
	defaultUserFilter = "(&(objectClass=inetOrgPerson)(|(uid={login})(mail={login})))"
	loginPlaceholder  = "{login}"
)

// prepare applies defaults and reports every configuration problem at once.
func (cfg Config) prepare() (Config, []*url.URL, *tls.Config, error) {
	var errs []error
	if cfg.UserFilter == "" {
		cfg.UserFilter = defaultUserFilter
	}
	if cfg.SubjectAttribute == "" {
		cfg.SubjectAttribute = "entryUUID"
	}
	conn, urls, tlsCfg, err := cfg.Config.Prepare()
	cfg.Config = conn
	if err != nil {
		errs = append(errs, err)
	}
	if _, err := ldap.ParseDN(cfg.BaseDN); err != nil || cfg.BaseDN == "" {
		errs = append(errs, fmt.Errorf("BaseDN %q is not a DN", cfg.BaseDN))
	}
	if _, err := ldap.ParseDN(cfg.BindDN); err != nil || cfg.BindDN == "" {
		errs = append(errs, fmt.Errorf("BindDN %q is not a DN (the writer account is required)", cfg.BindDN))
	}
	if cfg.BindPassword == "" {
		// An empty password would make an unauthenticated (anonymous) bind.
		errs = append(errs, errors.New("no BindPassword"))
	}
	if !strings.Contains(cfg.UserFilter, loginPlaceholder) {
		errs = append(errs, fmt.Errorf("UserFilter lacks %s", loginPlaceholder))
	} else if _, err := ldap.CompileFilter(strings.ReplaceAll(cfg.UserFilter, loginPlaceholder, "x")); err != nil {
		errs = append(errs, fmt.Errorf("UserFilter: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, nil, nil, fmt.Errorf("directory: invalid config: %w", err)
	}
	return cfg, urls, tlsCfg, nil
}
