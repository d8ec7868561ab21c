// Package ldapconn opens connections to an LDAP directory: the part that
// the web tier's reader (idp/ldapauth) and the password writer
// (ldapsync/directory) share. It checks ldap:// and ldaps:// URLs, builds
// the TLS settings, dials one URL with TLS or StartTLS under a timeout, and
// tells outages from refusals. Config is the one description of a
// connection (where, how encrypted, as whom) that both embed in their own
// configuration. Failover, binds and pooling differ between the two and
// stay with them.
//
// Its errors carry no package prefix: they end up in the callers' own
// configuration reports and error chains, worded as they always were.
package ldapconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// ParseURLs checks directory URLs (ldap:// or ldaps://, with a host;
// StartTLS only upgrades ldap://) and reports every problem at once,
// joined, so that a configuration is fixed in one go.
func ParseURLs(raw []string, startTLS bool) ([]*url.URL, error) {
	var errs []error
	if len(raw) == 0 {
		errs = append(errs, errors.New("no URL"))
	}
	urls := make([]*url.URL, 0, len(raw))
	for _, r := range raw {
		u, err := url.Parse(r)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("URL %q: %w", r, err))
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			errs = append(errs, fmt.Errorf("URL %q: scheme must be ldap or ldaps", r))
		case u.Hostname() == "":
			errs = append(errs, fmt.Errorf("URL %q: no host", r))
		case u.Scheme == "ldaps" && startTLS:
			errs = append(errs, fmt.Errorf("URL %q: StartTLS cannot be used with ldaps", r))
		default:
			urls = append(urls, u)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return urls, nil
}

// TLSConfig returns the TLS settings for urls: TLS 1.2 at least, and the
// certificates of caFile (PEM) as roots when given, the system's
// otherwise. It is nil when nothing needs TLS and no caFile is given.
func TLSConfig(urls []*url.URL, startTLS bool, caFile string) (*tls.Config, error) {
	needTLS := startTLS
	for _, u := range urls {
		needTLS = needTLS || u.Scheme == "ldaps"
	}
	if !needTLS && caFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadCAs(caFile)
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	return c, nil
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

// Config is how to reach and bind to one directory (possibly several
// replicas of it): the part of the reader's and the writer's
// configuration that is the same.
type Config struct {
	URLs     []string // tried in order for failover: ldap:// or ldaps://
	StartTLS bool     // upgrade ldap:// connections; not allowed with ldaps://
	CAFile   string   // PEM bundle, optional; for ldaps and StartTLS (default: system roots)
	// BindDN and BindPassword are the account the connection binds as.
	BindDN, BindPassword string
	// Timeout bounds each dial, TLS handshake and request; DefaultTimeout
	// when zero.
	Timeout time.Duration
	// Metrics records each LDAP operation of the reader and of the writer
	// (Observe); nil records nothing.
	Metrics Metrics
}

// Metrics records LDAP operations. err is nil when the directory gave an
// answer, a refused password or a policy's refusal included.
type Metrics interface {
	LDAP(op string, took time.Duration, err error)
}

// Observe records the operation op started at start.
func (c Config) Observe(op string, start time.Time, err error) {
	if c.Metrics != nil {
		c.Metrics.LDAP(op, time.Since(start), err)
	}
}

// DefaultTimeout is Config.Timeout's default.
const DefaultTimeout = 5 * time.Second

// Prepare applies Timeout's default and checks the URLs and the CA file,
// returning what Dial needs. Every problem is reported at once, joined.
func (c Config) Prepare() (Config, []*url.URL, *tls.Config, error) {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	var errs []error
	urls, err := ParseURLs(c.URLs, c.StartTLS)
	if err != nil {
		errs = append(errs, err)
	}
	tlsCfg, err := TLSConfig(urls, c.StartTLS, c.CAFile)
	if err != nil {
		errs = append(errs, err)
	}
	return c, urls, tlsCfg, errors.Join(errs...)
}

// Dialing is how Dial connects.
type Dialing struct {
	Dialer   net.Dialer    // for the TCP connection
	TLS      *tls.Config   // from TLSConfig; needed for ldaps and StartTLS
	StartTLS bool          // upgrade ldap:// connections
	Timeout  time.Duration // bounds the dial and TLS handshakes, then every request
}

// Dial opens one connection to u with TLS as cfg says. The TCP dial and
// the TLS handshakes are bounded by Timeout; so is every later request
// (SetTimeout), since go-ldap waits forever by default. Failures to reach
// u, or to agree on TLS, are ldap.ErrorNetwork errors (Transient); a
// StartTLS refused by the server keeps the server's result code.
func Dial(ctx context.Context, u *url.URL, cfg Dialing) (*ldap.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = ldap.DefaultLdapPort
		if u.Scheme == "ldaps" {
			port = ldap.DefaultLdapsPort
		}
	}
	nc, err := cfg.Dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	isTLS := u.Scheme == "ldaps"
	if isTLS {
		tc := tls.Client(nc, tlsFor(cfg.TLS, host))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("TLS handshake: %w", err))
		}
		nc = tc
	}
	c := ldap.NewConn(nc, isTLS)
	c.Start()
	c.SetTimeout(cfg.Timeout)
	if cfg.StartTLS {
		// go-ldap's StartTLS handshake has no deadline of its own.
		deadline, _ := ctx.Deadline()
		_ = nc.SetDeadline(deadline)
		err := c.StartTLS(tlsFor(cfg.TLS, host))
		_ = nc.SetDeadline(time.Time{})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	return c, nil
}

func tlsFor(base *tls.Config, host string) *tls.Config {
	c := base.Clone()
	if c == nil { // a Config not from TLSConfig: still verify, with system roots
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c.ServerName = host // go-ldap's StartTLS sets no SNI nor verification name
	return c
}

// Transient reports errors another attempt (or another replica) may fix:
// network failures and timeouts, busy or unavailable servers.
func Transient(err error) bool {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return true // go-ldap reports some write failures as plain errors
	}
	switch le.ResultCode {
	case ldap.ErrorNetwork, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable,
		ldap.LDAPResultTimeLimitExceeded, ldap.LDAPResultAdminLimitExceeded,
		ldap.LDAPResultOther, ldap.LDAPResultTimeout, ldap.LDAPResultServerDown,
		ldap.LDAPResultConnectError:
		return true
	}
	return false
}
