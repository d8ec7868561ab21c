package directory

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Config describes one directory (possibly several replicas of it). Zero
// values of UserFilter, SubjectAttribute and Timeout get the documented
// defaults.
type Config struct {
	URLs     []string // tried in order for failover, starting with the last that worked: ldap:// or ldaps://
	StartTLS bool     // upgrade ldap:// connections; not allowed with ldaps://
	CAFile   string   // PEM bundle, optional; for ldaps and StartTLS (default: system roots)

	// BindDN and BindPassword are the writer account, required: a non-root
	// account with write access to userPassword, and read access to the
	// entries (SubjectAttribute, pwdChangedTime). Not the rootdn: its
	// changes skip the policy's checks and set pwdReset.
	BindDN, BindPassword string
	BaseDN               string

	// UserFilter finds the entry for a login; {login} is replaced by the
	// escaped login. Default:
	// (&(objectClass=inetOrgPerson)(|(uid={login})(mail={login})))
	UserFilter string
	// SubjectAttribute holds the person's sub, reported in Entry.Subject;
	// default entryUUID (as the web tier's default).
	SubjectAttribute string
	// Timeout bounds each dial, TLS handshake and request; default 5s.
	Timeout time.Duration
}

const (
	defaultUserFilter = "(&(objectClass=inetOrgPerson)(|(uid={login})(mail={login})))"
	defaultTimeout    = 5 * time.Second
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
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if len(cfg.URLs) == 0 {
		errs = append(errs, errors.New("no URL"))
	}
	urls := make([]*url.URL, 0, len(cfg.URLs))
	needTLS := cfg.StartTLS
	for _, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("URL %q: %w", raw, err))
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			errs = append(errs, fmt.Errorf("URL %q: scheme must be ldap or ldaps", raw))
		case u.Hostname() == "":
			errs = append(errs, fmt.Errorf("URL %q: no host", raw))
		case u.Scheme == "ldaps" && cfg.StartTLS:
			errs = append(errs, fmt.Errorf("URL %q: StartTLS cannot be used with ldaps", raw))
		default:
			urls = append(urls, u)
			needTLS = needTLS || u.Scheme == "ldaps"
		}
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
	var tlsCfg *tls.Config
	if needTLS || cfg.CAFile != "" {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pool, err := loadCAs(cfg.CAFile)
			if err != nil {
				errs = append(errs, err)
			}
			tlsCfg.RootCAs = pool
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, nil, nil, fmt.Errorf("directory: invalid config: %w", err)
	}
	return cfg, urls, tlsCfg, nil
}

func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CAFile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CAFile %s: no PEM certificate found", path)
	}
	return pool, nil
}
