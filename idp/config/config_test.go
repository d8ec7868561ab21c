package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"log/slog"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
)

var (
	cryptoKeyHex = strings.Repeat("ab", 32)
	cookieKeyB64 = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("c", 48)))
	secretHash   = strings.Repeat("0f", 32)
)

// testEnv is the environment of most tests.
func testEnv() map[string]string {
	return map[string]string{"CRYPTO": cryptoKeyHex, "COOKIE": cookieKeyB64, "LDAP_PW": "s3cret-ldap", "EMPTY": "", "SIGNING": cryptoKeyHex}
}

func envFunc(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// filesFunc serves files from a map, failing like os.ReadFile for others.
func filesFunc(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if data, ok := files[name]; ok {
			return []byte(data), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
}

// testCA returns a self-signed certificate in PEM.
func testCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

const minimal = `issuer: https://idp.example.org
redis:
  addrs: ["127.0.0.1:6379"]
secrets:
  crypto_key_env: CRYPTO
  cookie_key_env: COOKIE
clients:
  - id: rp
    secret_sha256: "SECRET_HASH"
    redirect_uris: [https://rp.example.org/cb]
ldap:
  urls: [ldaps://ldap.example.org]
  bind_dn: cn=reader,dc=example,dc=org
  bind_password_env: LDAP_PW
  base_dn: ou=people,dc=example,dc=org
`

// required are the sections every file needs besides minimal's, by the
// name minimalExcept leaves out.
var required = []struct{ name, yaml string }{
	{"support_url", "support_url: https://support.example.org\n"},
	{"mail", "mail:\n  host: smtp.example.org\n"},
	{"ldapsync", "ldapsync:\n  public_key: LDAPSYNC_PUBLIC_KEY\n  signing_key_env: SIGNING\n"},
}

// minimalExcept is the minimal valid config without the required
// sections named, which the caller appends itself.
func minimalExcept(t *testing.T, sections ...string) string {
	t.Helper()
	s := minimalWith(t)
	for _, r := range required {
		if slices.Contains(sections, r.name) {
			s = strings.Replace(s, strings.ReplaceAll(r.yaml, "LDAPSYNC_PUBLIC_KEY", ldapsyncPublicKey()), "", 1)
		}
	}
	return s
}

// ldapsyncPublicKey is a public key as `ldapsync keygen` prints it.
var ldapsyncPublicKey = sync.OnceValue(func() string {
	k, err := job.GenerateKey()
	if err != nil {
		panic(err)
	}
	return job.MarshalPublicKey(k.PublicKey())
})

// minimalWith returns the minimal config with the replacements old → new applied.
func minimalWith(t *testing.T, oldNew ...string) string {
	t.Helper()
	s := minimal
	for _, r := range required {
		s += r.yaml
	}
	s = strings.ReplaceAll(s, "SECRET_HASH", secretHash)
	s = strings.ReplaceAll(s, "LDAPSYNC_PUBLIC_KEY", ldapsyncPublicKey())
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("minimal config has no %q", oldNew[i])
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	return s
}

func parse(t *testing.T, yaml string, files map[string]string) (*Config, Errors) {
	t.Helper()
	cfg, err := Parse("idp.yaml", []byte(yaml), envFunc(testEnv()), filesFunc(files))
	if err == nil {
		return cfg, nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse returned %T, want Errors: %v", err, err)
	}
	if cfg != nil {
		t.Error("Parse returned a Config together with errors")
	}
	return nil, errs
}

func mustParse(t *testing.T, yaml string, files map[string]string) *Config {
	t.Helper()
	cfg, errs := parse(t, yaml, files)
	if errs != nil {
		t.Fatalf("unexpected problems:\n%v", errs)
	}
	return cfg
}

func TestMinimalDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, minimalWith(t), nil)
	wantHash, _ := hex.DecodeString(secretHash)
	wantCrypto, _ := hex.DecodeString(cryptoKeyHex)
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, ":8080"},
		{"public_url", c.PublicURL, "https://idp.example.org"},
		{"log.level", c.Log.Level, slog.LevelInfo},
		{"log.format", c.Log.Format, LogJSON},
		{"redis.key_prefix", c.Redis.KeyPrefix, "idp:"},
		{"redis.password", c.Redis.Password, ""},
		{"crypto_key", c.Secrets.CryptoKey, [32]byte(wantCrypto)},
		{"cookie_key", string(c.Secrets.CookieKey), strings.Repeat("c", 48)},
		{"signing_algorithm", c.OIDC.SigningAlgorithm, RS256},
		{"auth_request_lifetime", c.OIDC.AuthRequestLifetime, 15 * time.Minute},
		{"code_lifetime", c.OIDC.CodeLifetime, 60 * time.Second},
		{"access_token_lifetime", c.OIDC.AccessTokenLifetime, 15 * time.Minute},
		{"id_token_lifetime", c.OIDC.IDTokenLifetime, time.Hour},
		{"refresh_token_lifetime", c.OIDC.RefreshTokenLifetime, 12 * time.Hour},
		{"idle_timeout", c.Session.IdleTimeout, 30 * time.Minute},
		{"lifetime", c.Session.Lifetime, 12 * time.Hour},
		{"cookie_name", c.Session.CookieName, "__Host-idp_session"},
		{"client name", c.Clients[0].Name, "rp"},
		{"client hash", c.Clients[0].SecretSHA256, [32]byte(wantHash)},
		{"client format", c.Clients[0].AccessTokenFormat, AccessTokenOpaque},
		{"bind password", c.LDAP.BindPassword, "s3cret-ldap"},
		{"user_filter", c.LDAP.UserFilter, DefaultUserFilter},
		{"timeout", c.LDAP.Timeout, 5 * time.Second},
		{"pool_size", c.LDAP.PoolSize, 4},
		{"attributes", c.LDAP.Attributes, LDAPAttributes{"entryUUID", "mail", "cn", "givenName", "sn", "uid"}},
		{"max_body_bytes", c.Limits.MaxBodyBytes, 65536},
		{"authorize_per_address", c.Limits.AuthorizePerAddress, 60000},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestExampleFileParses(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "config", "idp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ca := testCA(t)
	files := map[string]string{
		"/run/secrets/idp-crypto-key":       cryptoKeyHex + "\n",
		"/run/secrets/idp-cookie-key":       cookieKeyB64 + "\n",
		"/run/secrets/ldap-bind-password":   "ldap-pw\r\n",
		"/etc/idp/ldap-ca.pem":              ca,
		"/run/secrets/ldapsync-signing-key": cryptoKeyHex + "\n",
	}
	// Only what deploy/systemd/idp.service hands over: files, no variable.
	c, err := Parse("idp.yaml", data, nil, filesFunc(files))
	if err != nil {
		t.Fatalf("deploy/config/idp.yaml does not parse:\n%v", err)
	}
	if c.LDAP.BindPassword != "ldap-pw" || len(c.Secrets.CookieKey) != 48 {
		t.Errorf("secret files not read or newline not trimmed: %q", c.LDAP.BindPassword)
	}
	if len(c.Clients) != 2 || !c.Clients[1].Public || c.Clients[1].AccessTokenFormat != AccessTokenJWT || c.Clients[0].Name != "Mes démarches" {
		t.Errorf("clients = %+v", c.Clients)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.10/32")}
	if !slices.Equal(c.TrustedProxies, wantProxies) {
		t.Errorf("trusted proxies = %v", c.TrustedProxies)
	}
	if len(c.LDAP.URLs) != 2 || c.LDAP.CAFile != "/etc/idp/ldap-ca.pem" {
		t.Errorf("ldap = %+v", c.LDAP)
	}
	if c.Limits.MaxBodyBytes != 65536 {
		t.Errorf("limits.max_body_bytes = %d, want the documented 65536", c.Limits.MaxBodyBytes)
	}
	if c.Limits.AuthorizePerAddress != 60000 {
		t.Errorf("limits.authorize_per_address = %d, want the documented 60000", c.Limits.AuthorizePerAddress)
	}
	if c.Ldapsync.PublicKey == "" || len(c.Ldapsync.SigningKey) != ed25519.PrivateKeySize {
		t.Errorf("ldapsync = public key %q, signing key of %d bytes", c.Ldapsync.PublicKey, len(c.Ldapsync.SigningKey))
	}
}

// The web tier's signing key for ldapsync is a secret like the others,
// required, and reported at its line.
func TestLdapsyncSigningKey(t *testing.T) {
	t.Parallel()
	k, _ := job.GenerateKey()
	pub := job.MarshalPublicKey(k.PublicKey())
	sk, _ := job.GenerateSigningKey()
	seed := job.MarshalSigningKey(sk)
	files := map[string]string{"/sk": seed + "\n", "/short": "abcd\n"}
	for _, tc := range []struct {
		name, section, want string
	}{
		{"from a file", "ldapsync:\n  public_key: " + pub + "\n  signing_key_file: /sk\n", ""},
		{"missing", "ldapsync:\n  public_key: " + pub + "\n", "ldapsync.signing_key: this secret is required"},
		{"too short", "ldapsync:\n  public_key: " + pub + "\n  signing_key_file: /short\n", "ldapsync.signing_key: the key from file \"/short\" must be exactly 32 bytes"},
		{"written in the file", "ldapsync:\n  public_key: " + pub + "\n  signing_key: " + seed + "\n", "ldapsync.signing_key: a secret must not be written"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := minimalExcept(t, "ldapsync") + tc.section
			line := strings.Count(minimalExcept(t, "ldapsync"), "\n") + 1 // the line of "ldapsync:"
			c, errs := parse(t, yaml, files)
			if tc.want == "" {
				if errs != nil {
					t.Fatalf("refused: %v", errs)
				}
				if !c.Ldapsync.SigningKey.Equal(sk) {
					t.Error("signing key not loaded")
				}
				return
			}
			if errs == nil || !strings.Contains(errs.Error(), tc.want) {
				t.Fatalf("errors = %v, want %q", errs, tc.want)
			}
			if strings.Contains(errs.Error(), seed) {
				t.Error("the message quotes the key")
			}
			for _, p := range errs {
				if strings.HasPrefix(p.Path, "ldapsync.signing_key") && p.Line < line {
					// At the key itself, or at "ldapsync:" when it is missing.
					t.Errorf("reported at line %d, want %d or after", p.Line, line)
				}
			}
		})
	}
}

func TestFullConfig(t *testing.T) {
	t.Parallel()
	yaml := minimalWith(t,
		"issuer: https://idp.example.org\n", `issuer: http://127.0.0.1:8080
listen: 127.0.0.1:9000
insecure_loopback: true
public_url: http://localhost:8080/base
trusted_proxies: [127.0.0.1/32, "::1/128"]
log: {level: debug, format: text}
oidc:
  signing_algorithm: ES256
  code_lifetime: 10m
  refresh_token_lifetime: 720h
session:
  idle_timeout: 1h
  lifetime: 1h
limits: {max_body_bytes: 1_024}
`,
		"  addrs: [\"127.0.0.1:6379\"]\n", `  addrs: [s1:26379, s2:26379]
  master_name: mymaster
  username: idp
  password_file: /secrets/redis
  db: 3
  tls: true
  ca_file: /ca.pem
  key_prefix: ""
`,
		"  cookie_key_env: COOKIE", "  cookie_key_file: /secrets/cookie",
		"    redirect_uris: [https://rp.example.org/cb]\n", `    redirect_uris: [https://rp.example.org/cb, "http://127.0.0.1:3000/cb?x=1"]
    post_logout_redirect_uris: [http://localhost/bye]
    home_url: https://rp.example.org
    access_token_format: jwt
  - id: native.app_1
    name: Native
    public: true
    redirect_uris: ["http://[::1]/cb"]
`,
		"  bind_password_env: LDAP_PW\n", `  bind_password_file: /secrets/ldap
  start_tls: true
  timeout: 2s
  pool_size: 1
  user_filter: "(uid={login})"
  attributes: {subject: uid, email: mail;lang-fr}
`,
		"[ldaps://ldap.example.org]", "[ldap://ldap1.example.org, ldap://ldap2.example.org:1389]",
	)
	files := map[string]string{"/secrets/redis": "r", "/ca.pem": testCA(t),
		"/secrets/cookie": strings.Repeat("de", 40) + "\n", "/secrets/ldap": "l\n"}
	c := mustParse(t, yaml, files)
	if c.Session.CookieName != "idp_session" {
		t.Errorf("cookie name with insecure_loopback = %q", c.Session.CookieName)
	}
	if c.Log.Level != slog.LevelDebug || c.Log.Format != LogText || c.OIDC.SigningAlgorithm != ES256 {
		t.Errorf("log/oidc = %+v %+v", c.Log, c.OIDC)
	}
	if c.Redis.KeyPrefix != "" || c.Redis.DB != 3 || c.Redis.MasterName != "mymaster" || !c.Redis.TLS {
		t.Errorf("redis = %+v", c.Redis)
	}
	if len(c.Secrets.CookieKey) != 40 {
		t.Errorf("cookie key is %d bytes, want 40", len(c.Secrets.CookieKey))
	}
	if c.PublicURL != "http://localhost:8080/base" || c.Listen != "127.0.0.1:9000" {
		t.Errorf("public_url/listen = %q %q", c.PublicURL, c.Listen)
	}
	if c.LDAP.Attributes.Subject != "uid" || c.LDAP.Attributes.Email != "mail;lang-fr" || c.LDAP.Attributes.Name != "cn" {
		t.Errorf("attributes = %+v", c.LDAP.Attributes)
	}
	if c.Limits.MaxBodyBytes != 1024 {
		t.Errorf("max_body_bytes = %d, want 1024", c.Limits.MaxBodyBytes)
	}
	if c.Clients[1].SecretSHA256 != [32]byte{} || c.Clients[1].Name != "Native" || c.LDAP.PoolSize != 1 {
		t.Errorf("clients/pool = %+v %d", c.Clients, c.LDAP.PoolSize)
	}
}

func TestAnchorsAndAliases(t *testing.T) {
	t.Parallel()
	yaml := minimalWith(t, "[https://rp.example.org/cb]", `&uris [https://rp.example.org/cb, https://rp.example.org/cb2]
  - id: rp2
    secret_sha256: "`+secretHash+`"
    redirect_uris: *uris`)
	c := mustParse(t, yaml, nil)
	if !slices.Equal(c.Clients[1].RedirectURIs, c.Clients[0].RedirectURIs) || len(c.Clients[1].RedirectURIs) != 2 {
		t.Errorf("alias not followed: %+v", c.Clients)
	}
}

func TestInsecureLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		issuer   string
		flag     bool
		problems []string // messages expected, in order
	}{
		{"http://127.0.0.1:8080", true, nil},
		{"http://localhost", true, nil},
		{"http://127.1.2.3", true, nil},
		{"http://[::1]:8080", true, nil},
		{"https://localhost:8443", true, nil},
		{"https://idp.example.org", false, nil},
		{"http://127.0.0.1:8080", false, []string{`"http://127.0.0.1:8080" must use https (http is only allowed for loopback hosts with insecure_loopback: true)`}},
		{"http://example.org", true, []string{
			`"http://example.org" must use https (http is only allowed for loopback hosts with insecure_loopback: true)`,
		}},
		{"https://idp.example.org", true, []string{`may only be true for development with a loopback issuer (127.0.0.1, ::1 or localhost), but the issuer host is "idp.example.org"`}},
		{"http://localhost.example.org", true, []string{`"http://localhost.example.org" must use https (http is only allowed for loopback hosts with insecure_loopback: true)`}},
	}
	for _, tt := range tests {
		yaml := minimalWith(t, "issuer: https://idp.example.org", "issuer: "+tt.issuer)
		if tt.flag {
			yaml = "insecure_loopback: true\n" + yaml
		}
		_, errs := parse(t, yaml, nil)
		var got []string
		for _, p := range errs {
			got = append(got, p.Message)
		}
		if !slices.Equal(got, tt.problems) {
			t.Errorf("issuer %s, insecure_loopback %v: problems\n%q\nwant\n%q", tt.issuer, tt.flag, got, tt.problems)
		}
	}
}

func TestLoopbackRedirectURIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		flag       bool
		public     bool
		uri        string
		wantAccept bool
	}{
		{"confidential https", false, false, "https://rp.example.org/cb", true},
		{"confidential http loopback without flag", false, false, "http://127.0.0.1:3000/cb", false},
		{"confidential http loopback with flag", true, false, "http://127.0.0.1:3000/cb", true},
		{"confidential http localhost with flag", true, false, "http://localhost/cb", true},
		{"confidential http remote with flag", true, false, "http://rp.example.org/cb", false},
		{"public http loopback without flag", false, true, "http://127.0.0.1/cb", true},
		{"public http remote", false, true, "http://rp.example.org/cb", false},
		{"custom scheme", false, true, "com.example.app:/cb", false},
		{"fragment", false, false, "https://rp.example.org/cb#x", false},
		{"relative", false, false, "/cb", false},
	}
	for _, tt := range tests {
		yaml := minimalWith(t, "redirect_uris: [https://rp.example.org/cb]", `redirect_uris: ["`+tt.uri+`"]`)
		if tt.public {
			yaml = strings.Replace(yaml, `secret_sha256: "`+secretHash+`"`, "public: true", 1)
		}
		if tt.flag {
			yaml = strings.Replace(yaml, "issuer: https://idp.example.org", "insecure_loopback: true\nissuer: http://127.0.0.1", 1)
		}
		_, errs := parse(t, yaml, nil)
		if accepted := errs == nil; accepted != tt.wantAccept {
			t.Errorf("%s: accepted = %v, want %v; problems:\n%v", tt.name, accepted, tt.wantAccept, errs)
		}
		wantLine := 10
		if tt.flag {
			wantLine++
		}
		if errs != nil && (len(errs) != 1 || errs[0].Path != "clients[0].redirect_uris[0]" || errs[0].Line != wantLine) {
			t.Errorf("%s: want one problem at line %d for clients[0].redirect_uris[0], got:\n%v", tt.name, wantLine, errs)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.255.0.9": true, "::1": true, "[::1]": true,
		"::ffff:127.0.0.1": true, "example.org": false, "10.0.0.1": false, "0.0.0.0": false, "::": false,
		"localhost.example.org": false, "": false, "128.0.0.1": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crypto := write("crypto", cryptoKeyHex+"\n")
	yaml := minimalWith(t, "crypto_key_env: CRYPTO", "crypto_key_file: "+crypto,
		"cookie_key_env: COOKIE", "cookie_key_env: TEST_IDP_COOKIE",
		"bind_password_env: LDAP_PW", "bind_password_env: TEST_IDP_LDAP_PW")
	path := write("idp.yaml", yaml)
	t.Setenv("TEST_IDP_COOKIE", cookieKeyB64)
	t.Setenv("TEST_IDP_LDAP_PW", "pw")
	t.Setenv("SIGNING", cryptoKeyHex)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.LDAP.BindPassword != "pw" || c.Secrets.CryptoKey[0] != 0xab {
		t.Errorf("secrets not resolved: %q %x", c.LDAP.BindPassword, c.Secrets.CryptoKey[0])
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}
