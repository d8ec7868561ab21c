package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration. Field names match the YAML keys
// (issuer → Issuer, redis.key_prefix → Redis.KeyPrefix, …).
type Config struct {
	// Mode is ModeProvider (default: the OpenID provider with its login
	// screen) or ModeResetOnly (only « Mot de passe perdu », beside an SSO
	// that keeps its own login screen: no OIDC endpoint, no client).
	Mode             string
	Issuer           string         // absolute URL, no query or fragment, no trailing slash
	Listen           string         // default ":8080"
	InsecureLoopback bool           // development only: http on loopback hosts
	PublicURL        string         // base for page and mail links; default Issuer
	SupportURL       string         // « J'ai besoin de support »; default reset.support_url, else public_url + SupportPath
	AccessibilityURL string         // « déclaration d'accessibilité »; optional
	Support          Support        // the support page's contact details
	Branding         Branding       // name, logo, colour and footer links of every page
	Legal            Legal          // what the legal pages state, or where they are
	TrustedProxies   []netip.Prefix // proxies whose X-Forwarded-For is believed
	Log              Log
	Redis            Redis
	Secrets          Secrets
	OIDC             OIDC
	Session          Session
	Clients          []Client   // at least one (none in ModeResetOnly); IDs unique
	Profiles         []Profile  // answers to « Qui êtes-vous ? »; default DefaultProfiles
	Upstreams        []Upstream // OpenID providers of the federated profiles
	LDAP             LDAP
	Reset            Reset
	Ldapsync         LdapsyncKeys
	Throttle         Throttle
	Limits           Limits
	Mail             Mail
	Tracing          Tracing
	Metrics          Metrics // off unless metrics.listen is given
	Backchannel      Backchannel
}

// Modes.
const (
	ModeProvider  = "provider"
	ModeResetOnly = "reset-only"
)

// Log configures log/slog.
type Log struct {
	Level  slog.Level // debug, info (default), warn or error
	Format string     // LogJSON (default) or LogText
	// Access is the level of the access log (one line per HTTP request):
	// info (default), debug, or LogAccessOff. Audit lines do not depend on it.
	Access slog.Level
}

// Log formats.
const (
	LogJSON = "json"
	LogText = "text"
)

// Redis configures the go-redis UniversalClient: one address is a single
// server, several addresses without MasterName a Cluster, and MasterName
// means the addresses are Sentinels.
type Redis struct {
	Addrs      []string // host:port each; at least one
	MasterName string   // Sentinel master name
	Username   string
	Password   string // resolved from password_file or password_env; optional
	DB         int    // must be 0 for a Cluster
	TLS        bool
	CAFile     string // PEM; only with TLS
	KeyPrefix  string // default "idp:"
}

// Secrets holds the keys every replica must share.
type Secrets struct {
	CryptoKey [32]byte // zitadel op.Config.CryptoKey (encrypts opaque tokens and codes)
	CookieKey []byte   // at least 32 bytes; HMAC key of cookies and CSRF tokens
	// PreviousCryptoKeys and PreviousCookieKeys are keys the current ones
	// replaced (previous_crypto_key_files, previous_cookie_key_files):
	// accepted to open and verify what they made, never used to make
	// anything new. Kept during a rotation, then removed.
	PreviousCryptoKeys [][32]byte
	PreviousCookieKeys [][]byte
}

// Signing algorithms.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// OIDC configures the OpenID Provider.
type OIDC struct {
	SigningAlgorithm     string        // RS256 (default) or ES256
	AuthRequestLifetime  time.Duration // default 15m
	CodeLifetime         time.Duration // default 60s, at most 10m
	AccessTokenLifetime  time.Duration // default 15m
	IDTokenLifetime      time.Duration // default 1h
	RefreshTokenLifetime time.Duration // default 12h
	// KeyRotationPeriod: how long a signing key signs, and how long its
	// successor is published before; default 720h (30 days), at least 1h.
	KeyRotationPeriod time.Duration
}

// Session configures the single sign-on session.
type Session struct {
	IdleTimeout time.Duration // default 30m, at most Lifetime
	Lifetime    time.Duration // default 12h
	CookieName  string        // default "__Host-idp_session" ("idp_session" with InsecureLoopback)
}

// Limits bounds what a request may carry.
type Limits struct {
	// MaxBodyBytes bounds every request body (forms, token endpoint, any
	// POST): larger ones get 413. Default 65536, from 1024 to 1048576.
	MaxBodyBytes int
	// AuthorizePerAddress bounds the authorization requests (/authorize)
	// of one client address (IPv6: one /64) in AuthorizeWindow; beyond,
	// a French 429 page. Each request stores a pending sign-in, so this
	// bounds what one address can make Redis hold. Default 600, from 10
	// to 100000: a school behind one NAT address signs many people in.
	AuthorizePerAddress int
}

// AuthorizeWindow is the sliding window of limits.authorize_per_address,
// and DefaultAuthorizePerAddress its default.
const (
	AuthorizeWindow            = 10 * time.Minute
	DefaultAuthorizePerAddress = 60000
)

// Bounds of limits.max_body_bytes: below 1 KiB a sign-in form with a long
// identifier no longer fits; nothing the provider receives needs 1 MiB.
const (
	MinBodyBytes = 1 << 10
	MaxBodyBytes = 1 << 20
)

// Access token formats.
const (
	AccessTokenOpaque = "opaque"
	AccessTokenJWT    = "jwt"
)

// Client is one relying party.
type Client struct {
	ID                     string
	Name                   string // display name; default ID
	Public                 bool   // no secret, PKCE required (token endpoint auth method "none")
	SecretSHA256           [32]byte
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	HomeURL                string
	AccessTokenFormat      string // AccessTokenOpaque (default) or AccessTokenJWT
	// BackchannelLogoutURI receives a logout token when a session the
	// client signed in through ends; "" for none.
	BackchannelLogoutURI string
	// BackchannelLogoutSessionRequired: the client needs sid in its
	// tokens (always given here; recorded for discovery and the README).
	BackchannelLogoutSessionRequired bool
}

// LDAP configures the read-only directory used to check passwords, with a
// service account. The fields match ldapauth.Config.
type LDAP struct {
	LDAPConnection
	BaseDN     string
	UserFilter string // contains {login}; default DefaultUserFilter
	PoolSize   int    // default 4
	Attributes LDAPAttributes
}

// DefaultUserFilter finds a person by user id or by mail address.
const DefaultUserFilter = "(&(objectClass=inetOrgPerson)(|(uid={login})(mail={login})))"

// LDAPAttributes names the directory attributes read for a person.
type LDAPAttributes struct {
	Subject    string // default entryUUID
	Email      string // default mail
	Name       string // default cn
	GivenName  string // default givenName
	FamilyName string // default sn
	Username   string // default uid
}

// Load reads and checks the configuration file at path, taking secrets from
// the environment and the file system.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, os.LookupEnv, os.ReadFile)
}

// Parse decodes and checks a configuration. name is used in messages only.
// env and readFile resolve secret references (and readFile checks CA files);
// a nil env has no variables and a nil readFile finds no file.
// On any problem it returns a nil Config and an Errors listing all of them.
func Parse(name string, data []byte, env func(string) (string, bool), readFile func(string) ([]byte, error)) (*Config, error) {
	d := newDecoder(name, env, readFile)
	root := d.document(data)
	if root == nil {
		return nil, d.problems.sorted()
	}
	cfg := d.decodeConfig(root)
	d.applyDefaults(cfg)
	d.validate(cfg)
	if len(d.problems) > 0 {
		return nil, d.problems.sorted()
	}
	return cfg, nil
}

var syntaxError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data into its single YAML document and returns the
// top-level node, or nil after recording why there is none.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.add(nil, "", "the file is empty")
		} else {
			d.syntax(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.add(&extra, "", "the file holds more than one YAML document (separated by ---); keep only one")
	case !errors.Is(err, io.EOF):
		d.syntax(err)
	}
	if len(doc.Content) == 0 {
		d.add(nil, "", "the file is empty")
		return nil
	}
	return doc.Content[0]
}

func (d *decoder) syntax(err error) {
	msg := err.Error()
	if m := syntaxError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		// The YAML library gives the line where the construct around the
		// mistake started, sometimes the line before it; say so.
		d.problems = append(d.problems, Problem{File: d.file, Line: line, Message: "YAML syntax error around this line: " + m[2]})
		return
	}
	d.add(nil, "", "YAML syntax error: %s", strings.TrimPrefix(msg, "yaml: "))
}

// IsLoopback reports whether host (a host name or IP address without port,
// as returned by url.URL.Hostname) names this machine: "localhost", an
// address in 127.0.0.0/8, or ::1.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}
