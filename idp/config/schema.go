package config

import (
	"encoding/hex"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decodeConfig reads every key of the document. Each section reads its own
// keys and then reports the ones it does not know.
func (d *decoder) decodeConfig(root *yaml.Node) *Config {
	c := &Config{}
	m := d.mapping(root, "")
	m.oneOf("mode", &c.Mode, ModeProvider, ModeResetOnly)
	m.str("issuer", &c.Issuer)
	m.str("listen", &c.Listen)
	m.boolean("insecure_loopback", &c.InsecureLoopback)
	m.str("public_url", &c.PublicURL)
	m.str("support_url", &c.SupportURL)
	m.str("accessibility_url", &c.AccessibilityURL)
	d.decodeSupport(m.sub("support"), &c.Support)
	d.decodeBranding(m.sub("branding"), &c.Branding)
	d.decodeLegal(m.sub("legal"), &c.Legal)
	c.TrustedProxies = m.prefixes("trusted_proxies")
	d.decodeLog(m.sub("log"), &c.Log, true)
	d.decodeRedis(m.sub("redis"), &c.Redis, true)
	d.decodeSecrets(m.sub("secrets"), &c.Secrets)
	d.decodeOIDC(m.sub("oidc"), &c.OIDC)
	d.decodeSession(m.sub("session"), &c.Session)
	for i, item := range m.seq("clients") {
		c.Clients = append(c.Clients, d.decodeClient(d.mapping(item, indexPath("clients", i))))
	}
	for i, item := range m.seq("profiles") {
		c.Profiles = append(c.Profiles, d.decodeProfile(d.mapping(item, indexPath("profiles", i))))
	}
	for i, item := range m.seq("upstreams") {
		c.Upstreams = append(c.Upstreams, d.decodeUpstream(d.mapping(item, indexPath("upstreams", i))))
	}
	d.decodeLDAP(m.sub("ldap"), &c.LDAP)
	d.decodeThrottle(m.sub("throttle"), &c.Throttle)
	d.decodeLimits(m.sub("limits"), &c.Limits)
	d.decodeMail(m.sub("mail"), &c.Mail)
	d.decodeReset(m.sub("reset"), &c.Reset)
	d.decodeLdapsyncKeys(m.sub("ldapsync"), &c.Ldapsync)
	d.decodeTracing(m.sub("tracing"), &c.Tracing)
	d.decodeMetrics(m.sub("metrics"), &c.Metrics)
	d.decodeBackchannel(m.sub("backchannel_logout"), &c.Backchannel)
	m.done()
	return c
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// decodeLog reads the log section; access says whether it has log.access
// (ldapsync serves no HTTP).
func (d *decoder) decodeLog(m *mapping, l *Log, access bool) {
	var level string
	if m.oneOf("level", &level, "debug", "info", "warn", "error") {
		l.Level = logLevels[level]
	}
	m.oneOf("format", &l.Format, LogJSON, LogText)
	if access {
		decodeAccess(m, l)
	}
	m.done()
}

// decodeRedis reads the redis section; keyPrefix says whether it holds
// key_prefix (ldapsync has it under queue).
func (d *decoder) decodeRedis(m *mapping, r *Redis, keyPrefix bool) {
	m.strs("addrs", &r.Addrs)
	m.str("master_name", &r.MasterName)
	m.str("username", &r.Username)
	r.Password, _ = m.secret("password")
	m.integer("db", &r.DB)
	m.boolean("tls", &r.TLS)
	m.str("ca_file", &r.CAFile)
	if keyPrefix {
		m.str("key_prefix", &r.KeyPrefix)
	}
	m.done()
}

func (d *decoder) decodeSecrets(m *mapping, s *Secrets) {
	if key := m.key("crypto_key", 32, true); key != nil {
		s.CryptoKey = [32]byte(key)
	}
	s.CookieKey = m.key("cookie_key", 32, false)
	for _, k := range m.previousKeys("previous_crypto_key_files", 32, true, s.CryptoKey[:]) {
		s.PreviousCryptoKeys = append(s.PreviousCryptoKeys, [32]byte(k))
	}
	s.PreviousCookieKeys = m.previousKeys("previous_cookie_key_files", 32, false, s.CookieKey)
	m.done()
}

func (d *decoder) decodeOIDC(m *mapping, o *OIDC) {
	m.oneOf("signing_algorithm", &o.SigningAlgorithm, RS256, ES256)
	m.duration("auth_request_lifetime", &o.AuthRequestLifetime)
	m.duration("code_lifetime", &o.CodeLifetime)
	m.duration("access_token_lifetime", &o.AccessTokenLifetime)
	m.duration("id_token_lifetime", &o.IDTokenLifetime)
	m.duration("refresh_token_lifetime", &o.RefreshTokenLifetime)
	m.duration("key_rotation_period", &o.KeyRotationPeriod)
	m.done()
}

func (d *decoder) decodeSession(m *mapping, s *Session) {
	m.duration("idle_timeout", &s.IdleTimeout)
	m.duration("lifetime", &s.Lifetime)
	m.str("cookie_name", &s.CookieName)
	m.done()
}

func (d *decoder) decodeLimits(m *mapping, l *Limits) {
	m.integer("max_body_bytes", &l.MaxBodyBytes)
	m.integer("authorize_per_address", &l.AuthorizePerAddress)
	m.done()
}

const hashHint = `the SHA-256 of the client secret in hex, not the secret itself (make it with: printf %s "$SECRET" | sha256sum)`

func (d *decoder) decodeClient(m *mapping) Client {
	var c Client
	m.str("id", &c.ID)
	m.str("name", &c.Name)
	m.boolean("public", &c.Public)
	m.refuse("secret", "the client secret itself must not be in the configuration file; give secret_sha256, "+hashHint)
	m.refuse("client_secret", "the client secret itself must not be in the configuration file; give secret_sha256, "+hashHint)
	if v := m.get("secret_sha256"); v != nil {
		path := childPath(m.path, "secret_sha256")
		var s string
		if d.scalarString(v, path, &s) {
			// The value is never quoted back: it may be the secret itself.
			sum, err := hex.DecodeString(strings.TrimSpace(s))
			if err != nil || len(sum) != len(c.SecretSHA256) {
				d.problem(v, path, "must be 64 hexadecimal characters: %s", hashHint)
			} else {
				c.SecretSHA256 = [32]byte(sum)
			}
		}
	}
	m.strs("redirect_uris", &c.RedirectURIs)
	m.strs("post_logout_redirect_uris", &c.PostLogoutRedirectURIs)
	m.str("home_url", &c.HomeURL)
	m.oneOf("access_token_format", &c.AccessTokenFormat, AccessTokenOpaque, AccessTokenJWT)
	m.str("backchannel_logout_uri", &c.BackchannelLogoutURI)
	m.boolean("backchannel_logout_session_required", &c.BackchannelLogoutSessionRequired)
	m.done()
	return c
}

func (d *decoder) decodeLDAP(m *mapping, l *LDAP) {
	d.decodeLDAPConnection(m, &l.LDAPConnection)
	m.str("base_dn", &l.BaseDN)
	m.str("user_filter", &l.UserFilter)
	m.integer("pool_size", &l.PoolSize)
	a := m.sub("attributes")
	a.str("subject", &l.Attributes.Subject)
	a.str("email", &l.Attributes.Email)
	a.str("name", &l.Attributes.Name)
	a.str("given_name", &l.Attributes.GivenName)
	a.str("family_name", &l.Attributes.FamilyName)
	a.str("username", &l.Attributes.Username)
	a.done()
	m.done()
}

// oneOf reads a text value that must be one of allowed; it reports whether a
// valid value was given.
func (m *mapping) oneOf(name string, dst *string, allowed ...string) bool {
	v := m.get(name)
	if v == nil {
		return false
	}
	path := childPath(m.path, name)
	var s string
	if !m.d.scalarString(v, path, &s) {
		return false
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return true
		}
	}
	m.d.problem(v, path, "%q is not allowed; use %s", s, orList(allowed))
	return false
}

// orList writes "a", "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// prefixes reads a list of CIDR ranges.
func (m *mapping) prefixes(name string) []netip.Prefix {
	var raw []string
	m.strs(name, &raw)
	path := childPath(m.path, name)
	var out []netip.Prefix
	for i, s := range raw {
		p := indexPath(path, i)
		if m.d.reported(p) {
			continue
		}
		prefix, err := netip.ParsePrefix(s)
		switch {
		case err != nil && !strings.Contains(s, "/") && isAddr(s):
			m.d.problem(m.d.locate(p), p, "%q is a single address, not a CIDR range; write %q", s, s+singleHostBits(s))
		case err != nil:
			m.d.problem(m.d.locate(p), p, "%q is not a CIDR range such as \"10.0.0.0/8\" or \"2001:db8::/32\"", s)
		case prefix != prefix.Masked():
			m.d.problem(m.d.locate(p), p, "%q has address bits set after the /%d prefix; write %q", s, prefix.Bits(), prefix.Masked().String())
		default:
			out = append(out, prefix)
		}
	}
	return out
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func singleHostBits(s string) string {
	if a, _ := netip.ParseAddr(s); a.Is6() {
		return "/128"
	}
	return "/32"
}

// applyDefaults fills in every setting that the file did not give. A value
// given explicitly, even a zero one, is kept and validated instead.
func (d *decoder) applyDefaults(c *Config) {
	def := func(path string, set func()) {
		if !d.given(path) {
			set()
		}
	}
	def("mode", func() { c.Mode = ModeProvider })
	def("listen", func() { c.Listen = ":8080" })
	def("public_url", func() { c.PublicURL = c.Issuer })
	def("log.level", func() { c.Log.Level = slog.LevelInfo })
	def("log.format", func() { c.Log.Format = LogJSON })
	d.accessDefault(&c.Log)
	d.tracingDefaults(&c.Tracing, "idp")
	def("redis.key_prefix", func() { c.Redis.KeyPrefix = "idp:" })
	def("oidc.signing_algorithm", func() { c.OIDC.SigningAlgorithm = RS256 })
	def("oidc.auth_request_lifetime", func() { c.OIDC.AuthRequestLifetime = 15 * time.Minute })
	def("oidc.code_lifetime", func() { c.OIDC.CodeLifetime = 60 * time.Second })
	def("oidc.access_token_lifetime", func() { c.OIDC.AccessTokenLifetime = 15 * time.Minute })
	def("oidc.id_token_lifetime", func() { c.OIDC.IDTokenLifetime = time.Hour })
	def("oidc.refresh_token_lifetime", func() { c.OIDC.RefreshTokenLifetime = 12 * time.Hour })
	def("oidc.key_rotation_period", func() { c.OIDC.KeyRotationPeriod = DefaultKeyRotationPeriod })
	def("limits.max_body_bytes", func() { c.Limits.MaxBodyBytes = 64 << 10 })
	def("limits.authorize_per_address", func() { c.Limits.AuthorizePerAddress = DefaultAuthorizePerAddress })
	def("session.idle_timeout", func() { c.Session.IdleTimeout = 30 * time.Minute })
	def("session.lifetime", func() { c.Session.Lifetime = 12 * time.Hour })
	def("session.cookie_name", func() {
		c.Session.CookieName = "__Host-idp_session"
		if c.InsecureLoopback {
			c.Session.CookieName = "idp_session"
		}
	})
	for i := range c.Clients {
		cl := &c.Clients[i]
		p := indexPath("clients", i)
		def(p+".name", func() { cl.Name = cl.ID })
		def(p+".access_token_format", func() { cl.AccessTokenFormat = AccessTokenOpaque })
	}
	l := &c.LDAP
	def("ldap.user_filter", func() { l.UserFilter = DefaultUserFilter })
	d.ldapConnectionDefaults("ldap", &l.LDAPConnection)
	def("ldap.pool_size", func() { l.PoolSize = 4 })
	a := &l.Attributes
	def("ldap.attributes.subject", func() { a.Subject = "entryUUID" })
	def("ldap.attributes.email", func() { a.Email = "mail" })
	def("ldap.attributes.name", func() { a.Name = "cn" })
	def("ldap.attributes.given_name", func() { a.GivenName = "givenName" })
	def("ldap.attributes.family_name", func() { a.FamilyName = "sn" })
	def("ldap.attributes.username", func() { a.Username = "uid" })
	d.throttleDefaults(&c.Throttle)
	d.mailDefaults(&c.Mail)
	d.backchannelDefaults(&c.Backchannel)
	d.supportDefaults(c)
	d.brandingDefaults(c)
	if c.Reset.SupportURL == "" {
		c.Reset.SupportURL = c.SupportURL
	}
	d.upstreamDefaults(c)
}
