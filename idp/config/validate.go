package config

import (
	"crypto/x509"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// validator checks the meaning of a decoded Config with defaults applied.
// Values that already failed to decode are skipped (see decoder.reported), so
// each mistake is reported once.
type validator struct {
	d *decoder
	c *Config
}

func (d *decoder) validate(c *Config) {
	v := &validator{d: d, c: c}
	v.top()
	v.support()
	v.branding()
	v.legal()
	v.redis(v.c.Redis)
	v.secrets()
	v.oidc()
	v.session()
	v.clients()
	v.ldap()
	v.throttle()
	v.limits()
	v.mail()
	v.reset()
	v.ldapsyncKeys()
	v.upstreams()
	v.profiles()
	v.tracing(v.c.Tracing)
	v.metrics(c.Metrics, c.Listen)
	v.backchannel()
}

// report records a problem at path unless something there was reported already.
func (v *validator) report(path, format string, args ...any) {
	if v.d.reported(path) {
		return
	}
	v.d.problem(v.d.locate(path), path, format, args...)
}

// required reports path as missing when the file did not give it.
func (v *validator) required(path string, empty bool) bool {
	if empty && !v.d.given(path) {
		v.report(path, "this setting is required")
		return false
	}
	return true
}

func (v *validator) top() {
	c := v.c
	if v.required("issuer", c.Issuer == "") {
		if u := v.webURL("issuer", c.Issuer, c.InsecureLoopback, issuerURL); u != nil && c.InsecureLoopback && !IsLoopback(u.Hostname()) {
			v.report("insecure_loopback", "may only be true for development with a loopback issuer (127.0.0.1, ::1 or localhost), but the issuer host is %q", u.Hostname())
		}
	}
	if v.d.given("public_url") {
		v.webURL("public_url", c.PublicURL, c.InsecureLoopback, baseURL)
	}
	for _, k := range []struct {
		key string
		val string
	}{{"support_url", c.SupportURL}, {"accessibility_url", c.AccessibilityURL}} {
		if v.d.given(k.key) {
			v.webURL(k.key, k.val, c.InsecureLoopback, redirectURL)
		}
	}
	if host, port, err := net.SplitHostPort(c.Listen); err != nil || !validPort(port, true) || strings.ContainsAny(host, " /") {
		v.report("listen", "%q is not a listen address such as \":8080\" or \"127.0.0.1:8080\"", c.Listen)
	}
}

// validPort accepts a decimal port number; zero (any free port) only if allowed.
func validPort(s string, zeroOK bool) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n <= 65535 && (n > 0 || (zeroOK && n == 0)) && s[0] != '+'
}

func (v *validator) redis(r Redis) {
	if len(r.Addrs) == 0 {
		v.report("redis.addrs", "at least one Redis address (host:port) is required")
	}
	for i, a := range r.Addrs {
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || !validPort(port, false) {
			v.report(indexPath("redis.addrs", i), "%q is not a host:port address such as \"127.0.0.1:6379\"", a)
		}
	}
	switch {
	case r.DB < 0:
		v.report("redis.db", "must be 0 or more, not %d", r.DB)
	case r.DB != 0 && len(r.Addrs) > 1 && r.MasterName == "":
		v.report("redis.db", "must be 0: several addresses without master_name mean a Redis Cluster, which has only database 0")
	}
	if r.CAFile != "" {
		if !r.TLS {
			v.report("redis.ca_file", "is only used with tls: true")
		} else {
			v.caFile("redis.ca_file", r.CAFile)
		}
	}
}

// caFile checks that file holds at least one PEM certificate.
func (v *validator) caFile(path, file string) {
	data, err := v.d.readFile(file)
	if err != nil {
		v.report(path, "cannot read %q: %s", file, readError(err))
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		v.report(path, "%q holds no PEM certificate (-----BEGIN CERTIFICATE-----)", file)
	}
}

func (v *validator) secrets() {
	for _, name := range []string{"crypto_key", "cookie_key"} {
		path := "secrets." + name
		if !v.d.given(path) {
			v.report(path, "this secret is required; give %[1]s_file or %[1]s_env (%s)", name, keyHint)
		}
	}
}

func (v *validator) oidc() {
	o := v.c.OIDC
	v.positive("oidc.auth_request_lifetime", o.AuthRequestLifetime)
	if v.positive("oidc.code_lifetime", o.CodeLifetime) && o.CodeLifetime > 10*time.Minute {
		// RFC 6749 §4.1.2 recommends at most ten minutes.
		v.report("oidc.code_lifetime", "must be at most 10m, not %s", o.CodeLifetime)
	}
	v.positive("oidc.access_token_lifetime", o.AccessTokenLifetime)
	v.positive("oidc.id_token_lifetime", o.IDTokenLifetime)
	v.positive("oidc.refresh_token_lifetime", o.RefreshTokenLifetime)
	if o.KeyRotationPeriod < MinKeyRotationPeriod {
		// Shorter, the next key would be published too briefly for the
		// sites that cache the JWKS.
		v.report("oidc.key_rotation_period", "must be at least %s, not %s", MinKeyRotationPeriod, o.KeyRotationPeriod)
	}
}

// Signing key rotation: default and minimum of oidc.key_rotation_period.
const (
	DefaultKeyRotationPeriod = 30 * 24 * time.Hour
	MinKeyRotationPeriod     = time.Hour
)

func (v *validator) positive(path string, d time.Duration) bool {
	if d <= 0 {
		v.report(path, "must be longer than zero, not %s", d)
		return false
	}
	return true
}

// cookieToken matches an RFC 6265 cookie name (an RFC 7230 token).
var cookieToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func (v *validator) session() {
	s := v.c.Session
	idleOK := v.positive("session.idle_timeout", s.IdleTimeout)
	if v.positive("session.lifetime", s.Lifetime) && idleOK && s.IdleTimeout > s.Lifetime {
		v.report("session.idle_timeout", "(%s) must not be longer than session.lifetime (%s)", s.IdleTimeout, s.Lifetime)
	}
	const path = "session.cookie_name"
	secure := strings.HasPrefix(s.CookieName, "__Host-") || strings.HasPrefix(s.CookieName, "__Secure-")
	switch {
	case !cookieToken.MatchString(s.CookieName):
		v.report(path, "%q is not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~ only)", s.CookieName)
	case !v.c.InsecureLoopback && !strings.HasPrefix(s.CookieName, "__Host-"):
		v.report(path, "%q must start with \"__Host-\", so that browsers keep the cookie to this host and https (other names need insecure_loopback: true)", s.CookieName)
	case secure && v.c.InsecureLoopback && strings.HasPrefix(v.c.Issuer, "http:"):
		v.report(path, "%q cannot work with an http issuer: browsers accept __Host- and __Secure- cookies over https only; use a name such as \"idp_session\"", s.CookieName)
	}
}

var clientID = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

func (v *validator) clients() {
	if v.c.Mode == ModeResetOnly && len(v.c.Clients) > 0 {
		// Nothing would serve them: no OpenID endpoint in this mode.
		v.report("clients", "must be absent or empty with mode: reset-only, which serves only « Mot de passe perdu » and no OpenID client; remove clients, or set mode: provider")
		return
	}
	if len(v.c.Clients) == 0 {
		if v.c.Mode != ModeResetOnly {
			v.report("clients", "at least one client is required (or mode: reset-only)")
		}
		return
	}
	firstUse := map[string]string{} // client id → path of the client that has it
	for i, c := range v.c.Clients {
		p := indexPath("clients", i)
		if v.required(p+".id", c.ID == "") {
			if !clientID.MatchString(c.ID) {
				v.report(p+".id", "%q may only contain letters, digits, dots, underscores and hyphens", c.ID)
			} else if first, dup := firstUse[c.ID]; dup {
				v.report(p+".id", "duplicate client id %q (also used by %s on line %d)", c.ID, first, v.d.locate(first+".id").Line)
			} else {
				firstUse[c.ID] = p
			}
		}
		switch {
		case c.Public && v.d.given(p+".secret_sha256"):
			v.report(p+".secret_sha256", "a public client has no secret; remove secret_sha256, or set public: false")
		case !c.Public && !v.d.given(p+".secret_sha256"):
			v.report(p+".secret_sha256", "is required for a confidential client (public: false): %s", hashHint)
		}
		// RFC 8252 §7.3: native apps (public clients) may use http on the
		// loopback interface; confidential clients only in development.
		httpLoopback := c.Public || v.c.InsecureLoopback
		if len(c.RedirectURIs) == 0 {
			v.report(p+".redirect_uris", "at least one redirect URI is required")
		}
		v.uriList(p+".redirect_uris", c.RedirectURIs, httpLoopback, c.Public)
		v.uriList(p+".post_logout_redirect_uris", c.PostLogoutRedirectURIs, httpLoopback, c.Public)
		if v.d.given(p + ".home_url") {
			v.redirectURL(p+".home_url", c.HomeURL, httpLoopback, c.Public)
		}
		v.backchannelClient(p, c)
	}
}

func (v *validator) uriList(path string, uris []string, httpLoopback, public bool) {
	seen := map[string]bool{}
	for i, u := range uris {
		ip := indexPath(path, i)
		if seen[u] {
			v.report(ip, "%q is listed twice", u)
			continue
		}
		seen[u] = true
		v.redirectURL(ip, u, httpLoopback, public)
	}
}

func (v *validator) redirectURL(path, raw string, httpLoopback, public bool) {
	kind := redirectURL
	if public {
		kind = publicRedirectURL
	}
	v.webURL(path, raw, httpLoopback, kind)
}

func (v *validator) ldap() {
	l := v.c.LDAP
	v.ldapConnection("ldap", l.LDAPConnection, "the read-only service account that searches the people")
	if v.required("ldap.base_dn", l.BaseDN == "") {
		v.dn("ldap.base_dn", l.BaseDN)
	}
	v.userFilter("ldap.user_filter", l.UserFilter)
	if l.PoolSize < 1 {
		v.report("ldap.pool_size", "must be at least 1, not %d", l.PoolSize)
	}
	a := l.Attributes
	for _, attr := range []struct{ key, value string }{
		{"subject", a.Subject}, {"email", a.Email}, {"name", a.Name},
		{"given_name", a.GivenName}, {"family_name", a.FamilyName}, {"username", a.Username},
	} {
		if !attributeName.MatchString(attr.value) {
			v.report("ldap.attributes."+attr.key, "%q is not an LDAP attribute name such as \"mail\"", attr.value)
		}
	}
}

func (v *validator) limits() {
	if n := v.c.Limits.MaxBodyBytes; n < MinBodyBytes || n > MaxBodyBytes {
		v.report("limits.max_body_bytes", "must be between %d and %d bytes, not %d", MinBodyBytes, MaxBodyBytes, n)
	}
	if n := v.c.Limits.AuthorizePerAddress; n < 10 || n > 100000 {
		v.report("limits.authorize_per_address", "must be between 10 and 100000 requests per %v, not %d", AuthorizeWindow, n)
	}
}

// attributeName matches an LDAP attribute description (RFC 4512 §2.5): a
// name or an OID, with options.
var attributeName = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)*)(;[A-Za-z0-9-]+)*$`)

func (v *validator) userFilter(path, f string) {
	switch {
	case !strings.Contains(f, "{login}"):
		v.report(path, "must contain {login}, which is replaced by what the person typed (e.g. %q)", DefaultUserFilter)
	case !strings.HasPrefix(f, "(") || !strings.HasSuffix(f, ")"):
		v.report(path, "must be enclosed in parentheses, like %q", DefaultUserFilter)
	default:
		if _, err := ldap.CompileFilter(strings.ReplaceAll(f, "{login}", "x")); err != nil {
			v.report(path, "is not a valid LDAP filter: %s", strings.TrimPrefix(fmt.Sprint(err), "LDAP Result Code 201 \"Filter Compile Error\": "))
		}
	}
}
