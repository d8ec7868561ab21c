package config

import (
	"strings"
	"testing"
)

// manyMistakes has one mistake of each kind, among them every setting
// that start-up needs left out (support_url or support, mail.host,
// ldapsync.public_key) and a secret file that is missing; the test asserts
// where each one is reported, all in one run.
var manyMistakes = `isuer: https://idp.example.org
issuer: http://idp.example.org
listen: [8080]
trusted_proxies: ["10.0.0.0/33"]
redis:
  addrs: ["127.0.0.1:6379"]
  password: hunter2
  db: zero
secrets:
  crypto_key_env: SHORT_KEY
  cookie_key_file: /run/secrets/cookie
  cookie_key_env: COOKIE
oidc:
  code_lifetime: 15 minutes
  code_lifetime: 60s
clients:
  - id: rp
    secret_sha256: "HASH"
    redirect_uris: ["http://rp.example/cb"]
  - id: rp
    secret_sha256: "HASH"
    redirect_uris: ["not a url"]
ldap:
  urls: [ldaps://ldap.example.org]
  bind_dn: cn=reader,dc=example,dc=org
  bind_password_file: /missing/file
  base_dn: ou=people,dc=example,dc=org
  timeout: 5
mail:
  port: 587
ldapsync:
  signing_key_file: /missing/signing-key
`

func TestManyMistakesAtOnce(t *testing.T) {
	t.Parallel()
	env := testEnv()
	env["SHORT_KEY"] = "abcd"
	env["COOKIE"] = "cookie-secret-value-never-shown"
	files := map[string]string{"/run/secrets/cookie": "file-secret-value-never-shown"}
	yaml := strings.ReplaceAll(manyMistakes, "HASH", secretHash)
	_, err := Parse("bad.yaml", []byte(yaml), envFunc(env), filesFunc(files))
	errs, ok := err.(Errors)
	if !ok {
		t.Fatalf("Parse error = %T %v, want Errors", err, err)
	}
	want := []Problem{
		// A key missing from the top level has no line to point at.
		{Path: "support", Message: `give support_url, or at least one contact detail (email, phone, hours, url, address) here for the built-in page at public_url + "/support": « J'ai besoin de support », every page's footer and the mail sent after a password change lead there`},
		{Line: 1, Column: 1, Path: "", Message: `unknown key "isuer" (did you mean "issuer"?)`},
		{Line: 2, Column: 9, Path: "issuer", Message: `"http://idp.example.org" must use https (http is only allowed for loopback hosts with insecure_loopback: true)`},
		{Line: 3, Column: 9, Path: "listen", Message: "must be text, not a list"},
		{Line: 4, Column: 19, Path: "trusted_proxies[0]", Message: `"10.0.0.0/33" is not a CIDR range such as "10.0.0.0/8" or "2001:db8::/32"`},
		{Line: 7, Column: 3, Path: "redis.password", Message: "a secret must not be written in the configuration file; give password_file (the path of a file holding it) or password_env (the name of an environment variable holding it)"},
		{Line: 8, Column: 7, Path: "redis.db", Message: "must be a whole number, not text"},
		{Line: 10, Column: 19, Path: "secrets.crypto_key", Message: "the key from environment variable SHORT_KEY must be exactly 32 bytes (64 hexadecimal characters), but it is 2 bytes long; make one with: openssl rand -hex 32"},
		{Line: 12, Column: 3, Path: "secrets.cookie_key", Message: "give either cookie_key_file or cookie_key_env, not both"},
		{Line: 14, Column: 18, Path: "oidc.code_lifetime", Message: `"15 minutes" is not a duration; write it like "90s", "15m" or "1h30m"`},
		{Line: 15, Column: 3, Path: "oidc", Message: `duplicate key "code_lifetime" (first given on line 14)`},
		{Line: 19, Column: 21, Path: "clients[0].redirect_uris[0]", Message: `"http://rp.example/cb" must use https (http is only allowed for loopback hosts with insecure_loopback: true)`},
		{Line: 20, Column: 9, Path: "clients[1].id", Message: `duplicate client id "rp" (also used by clients[0] on line 17)`},
		{Line: 22, Column: 21, Path: "clients[1].redirect_uris[0]", Message: `"not a url" is not an absolute URL such as "https://rp.example.org/callback"`},
		{Line: 26, Column: 23, Path: "ldap.bind_password", Message: `cannot read secret file "/missing/file": no such file`},
		{Line: 28, Column: 12, Path: "ldap.timeout", Message: `must be a duration with a unit, like "90s", "15m" or "1h30m" (a bare number has no unit)`},
		{Line: 29, Column: 1, Path: "mail.host", Message: "this setting is required: « Mot de passe perdu » sends its codes by mail, through this relay"},
		{Line: 31, Column: 1, Path: "ldapsync.public_key", Message: "this setting is required: new passwords are sealed to the ldapsync workers' public key, printed by `ldapsync keygen` (give public_key, or public_key_file for a file holding it)"},
		{Line: 32, Column: 21, Path: "ldapsync.signing_key", Message: `cannot read secret file "/missing/signing-key": no such file`},
	}
	for i := range want {
		want[i].File = "bad.yaml"
	}
	if len(errs) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(errs), len(want), errs)
	}
	for i := range min(len(errs), len(want)) {
		if errs[i] != want[i] {
			t.Errorf("problem %d:\n got %+v\nwant %+v", i, errs[i], want[i])
		}
	}
	text := errs.Error()
	for _, secret := range []string{"hunter2", "never-shown", "abcd"} {
		if strings.Contains(text, secret) {
			t.Errorf("a secret value (%q) appears in the messages:\n%s", secret, text)
		}
	}
}

func TestDocumentProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       string
	}{
		{"empty", "", "idp.yaml: the file is empty"},
		{"only comments", "# nothing\n", "idp.yaml: the file is empty"},
		{"syntax", "a: 1\nb: 2\n c: 1\n", "idp.yaml:3: YAML syntax error around this line: mapping values are not allowed in this context"},
		{"root list", "- a\n- b\n", "idp.yaml:1:1: must be a mapping of keys (key: value on separate lines), not a list"},
		{"root text", "hello\n", "idp.yaml:1:1: must be a mapping of keys (key: value on separate lines), not text"},
	}
	for _, tt := range tests {
		_, err := Parse("idp.yaml", []byte(tt.yaml), envFunc(nil), filesFunc(nil))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error\n%v\nwant\n%s", tt.name, err, tt.want)
		}
	}
}

func TestErrorsFormat(t *testing.T) {
	t.Parallel()
	errs := Errors{
		{File: "idp.yaml", Line: 12, Column: 3, Path: "redis.password", Message: "give either password_file or password_env, not both"},
		{File: "idp.yaml", Line: 1, Column: 1, Message: `unknown key "isuer" (did you mean "issuer"?)`},
		{File: "idp.yaml", Line: 4, Path: "x", Message: "syntax"},
		{File: "idp.yaml", Path: "clients", Message: "at least one client is required"},
	}
	want := `idp.yaml: clients: at least one client is required
idp.yaml:1:1: unknown key "isuer" (did you mean "issuer"?)
idp.yaml:4: x: syntax
idp.yaml:12:3: redis.password: give either password_file or password_env, not both`
	if got := errs.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	var err error = errs
	if _, ok := err.(Errors); !ok {
		t.Error("Errors does not implement error")
	}
}

// TestRules checks one mistake at a time against the minimal config: the
// problem reported, and that it is the only one.
func TestRules(t *testing.T) {
	t.Parallel()
	hashLine := `secret_sha256: "` + secretHash + `"`
	tests := []struct {
		name      string
		oldNew    []string // replacements in the minimal config
		files     map[string]string
		wantCount int // 0 means 1: the first problem is checked
		wantLine  int // 0: no line
		wantPath  string
		wantInMsg string
	}{
		{"two documents", []string{"signing_key_env: SIGNING\n", "signing_key_env: SIGNING\n---\na: 1\n"}, nil, 0, 22, "", "more than one YAML document"},
		{"merge key", []string{"  addrs:", "  <<: {db: 1}\n  addrs:"}, nil, 0, 3, "redis", "merge keys (<<) are not supported"},
		{"nested unknown key", []string{"  addrs:", "  adrs: []\n  addrs:"}, nil, 0, 3, "redis", `unknown key "adrs" (did you mean "addrs"?)`},
		{"unknown key without suggestion", []string{"ldap:", "frobnicate: 1\nldap:"}, nil, 0, 11, "", `unknown key "frobnicate"`},
		{"duplicate top-level key", []string{"ldap:", "issuer: https://b.example.org\nldap:"}, nil, 0, 11, "", `duplicate key "issuer" (first given on line 1)`},
		{"listen as number", []string{"redis:", "listen: 8080\nredis:"}, nil, 0, 2, "listen", "must be text, not a number (put it in quotes if it is meant as text)"},
		{"listen without port", []string{"redis:", "listen: localhost\nredis:"}, nil, 0, 2, "listen", `"localhost" is not a listen address`},
		{"bool as text", []string{"redis:", "insecure_loopback: yes\nredis:"}, nil, 0, 2, "insecure_loopback", "must be true or false, not text"},
		{"issuer query", []string{"idp.example.org", "idp.example.org?a=b"}, nil, 0, 1, "issuer", "must not contain a query"},
		{"issuer trailing slash", []string{"idp.example.org", "idp.example.org/"}, nil, 0, 1, "issuer", "must not end with a slash"},
		{"issuer user info", []string{"idp.example.org", "u:p@idp.example.org"}, nil, 0, 1, "issuer", "must not contain a user name or password"},
		{"public_url http", []string{"redis:", "public_url: http://www.example.org\nredis:"}, nil, 0, 2, "public_url", "must use https"},
		{"proxy with host bits", []string{"redis:", "trusted_proxies: [10.1.2.3/8]\nredis:"}, nil, 0, 2, "trusted_proxies[0]", `write "10.0.0.0/8"`},
		{"proxy single address", []string{"redis:", "trusted_proxies: [\"2001:db8::1\"]\nredis:"}, nil, 0, 2, "trusted_proxies[0]", `write "2001:db8::1/128"`},
		{"log level", []string{"redis:", "log: {level: verbose}\nredis:"}, nil, 0, 2, "log.level", `"verbose" is not allowed; use debug, info, warn or error`},
		{"log section wrong kind", []string{"redis:", "log: debug\nredis:"}, nil, 0, 2, "log", "must be a mapping"},
		{"redis addrs not a list", []string{`["127.0.0.1:6379"]`, `"127.0.0.1:6379"`}, nil, 0, 3, "redis.addrs", "must be a list"},
		{"redis addr without port", []string{`"127.0.0.1:6379"`, `"redis.example.org"`}, nil, 0, 3, "redis.addrs[0]", "is not a host:port address"},
		{"redis cluster db", []string{`["127.0.0.1:6379"]`, "[a:1, b:2]\n  db: 2"}, nil, 0, 4, "redis.db", "Redis Cluster"},
		{"redis ca_file without tls", []string{`["127.0.0.1:6379"]`, "[a:1]\n  ca_file: /ca.pem"}, nil, 0, 4, "redis.ca_file", "only used with tls: true"},
		{"redis ca_file missing", []string{`["127.0.0.1:6379"]`, "[a:1]\n  tls: true\n  ca_file: /ca.pem"}, nil, 0, 5, "redis.ca_file", `cannot read "/ca.pem": no such file`},
		{"redis ca_file not PEM", []string{`["127.0.0.1:6379"]`, "[a:1]\n  tls: true\n  ca_file: /ca.pem"}, map[string]string{"/ca.pem": "junk"}, 0, 5, "redis.ca_file", "holds no PEM certificate"},
		{"backchannel ca_file missing", []string{"redis:", "backchannel_logout:\n  ca_file: /rp-ca.pem\nredis:"}, nil, 0, 3, "backchannel_logout.ca_file", `cannot read "/rp-ca.pem": no such file`},
		{"backchannel ca_file not PEM", []string{"redis:", "backchannel_logout:\n  ca_file: /rp-ca.pem\nredis:"}, map[string]string{"/rp-ca.pem": "junk"}, 0, 3, "backchannel_logout.ca_file", "holds no PEM certificate"},
		{"backchannel ca_file not text", []string{"redis:", "backchannel_logout:\n  ca_file: [/rp-ca.pem]\nredis:"}, nil, 0, 3, "backchannel_logout.ca_file", "must be text, not a list"},
		{"redis password both", []string{`["127.0.0.1:6379"]`, "[a:1]\n  password_file: /p\n  password_env: P"}, nil, 0, 5, "redis.password", "give either password_file or password_env, not both"},
		{"secret file empty", []string{"crypto_key_env: CRYPTO", "crypto_key_file: /k"}, map[string]string{"/k": "\n"}, 0, 5, "secrets.crypto_key", `secret file "/k" is empty`},
		{"secret reference not text", []string{"crypto_key_env: CRYPTO", "crypto_key_env: [CRYPTO]"}, nil, 0, 5, "secrets.crypto_key_env", "must be text, not a list"},
		{"secret env empty", []string{"crypto_key_env: CRYPTO", "crypto_key_env: EMPTY"}, nil, 0, 5, "secrets.crypto_key", "environment variable EMPTY is empty"},
		{"secret env unset", []string{"crypto_key_env: CRYPTO", "crypto_key_env: NOPE"}, nil, 0, 5, "secrets.crypto_key", "environment variable NOPE is not set"},
		{"secret missing", []string{"  crypto_key_env: CRYPTO\n", ""}, nil, 0, 4, "secrets.crypto_key", "this secret is required; give crypto_key_file or crypto_key_env"},
		{"literal secret", []string{"crypto_key_env: CRYPTO", "crypto_key: " + cryptoKeyHex}, nil, 0, 5, "secrets.crypto_key", "must not be written in the configuration file"},
		{"key not encoded", []string{"crypto_key_env: CRYPTO", "crypto_key_file: /k"}, map[string]string{"/k": "not hex!"}, 0, 5, "secrets.crypto_key", "neither hexadecimal nor base64"},
		{"cookie key short", []string{"cookie_key_env: COOKIE", "cookie_key_file: /k"}, map[string]string{"/k": strings.Repeat("ab", 16)}, 0, 6, "secrets.cookie_key", "must be at least 32 bytes"},
		{"previous key unreadable", []string{"cookie_key_env: COOKIE", "cookie_key_env: COOKIE\n  previous_crypto_key_files: [/old]"}, nil, 0, 7, "secrets.previous_crypto_key_files[0]", `cannot read secret file "/old": no such file`},
		{"previous crypto key short", []string{"cookie_key_env: COOKIE", "cookie_key_env: COOKIE\n  previous_crypto_key_files: [/old]"}, map[string]string{"/old": strings.Repeat("ab", 16)}, 0, 7, "secrets.previous_crypto_key_files[0]", "must be exactly 32 bytes"},
		{"previous key is the current one", []string{"cookie_key_env: COOKIE", "cookie_key_env: COOKIE\n  previous_crypto_key_files: [/old]"}, map[string]string{"/old": cryptoKeyHex + "\n"}, 0, 7, "secrets.previous_crypto_key_files[0]", "is the current one"},
		{"previous cookie key twice", []string{"cookie_key_env: COOKIE", "cookie_key_env: COOKIE\n  previous_cookie_key_files: [/a, /b]"}, map[string]string{"/a": strings.Repeat("cd", 32), "/b": strings.Repeat("cd", 32)}, 0, 7, "secrets.previous_cookie_key_files[1]", "listed twice"},
		{"previous key literal", []string{"cookie_key_env: COOKIE", "cookie_key_env: COOKIE\n  previous_crypto_key_files: " + cryptoKeyHex}, nil, 0, 7, "secrets.previous_crypto_key_files", "must be a list"},
		{"secrets section missing", []string{"secrets:\n  crypto_key_env: CRYPTO\n  cookie_key_env: COOKIE\n", ""}, nil, 2, 0, "secrets.crypto_key", "this secret is required"},
		{"code lifetime too long", []string{"redis:", "oidc: {code_lifetime: 11m}\nredis:"}, nil, 0, 2, "oidc.code_lifetime", "must be at most 10m, not 11m0s"},
		{"zero duration given", []string{"redis:", "oidc: {access_token_lifetime: 0s}\nredis:"}, nil, 0, 2, "oidc.access_token_lifetime", "must be longer than zero"},
		{"signing algorithm", []string{"redis:", "oidc: {signing_algorithm: HS256}\nredis:"}, nil, 0, 2, "oidc.signing_algorithm", "use RS256 or ES256"},
		{"idle longer than lifetime", []string{"redis:", "session: {idle_timeout: 2h, lifetime: 1h}\nredis:"}, nil, 0, 2, "session.idle_timeout", "must not be longer than session.lifetime"},
		{"cookie without __Host-", []string{"redis:", "session: {cookie_name: sid}\nredis:"}, nil, 0, 2, "session.cookie_name", `"sid" must start with "__Host-"`},
		{"cookie name invalid", []string{"redis:", "session: {cookie_name: \"__Host-a b\"}\nredis:"}, nil, 0, 2, "session.cookie_name", "not a valid cookie name"},
		{"body limit too small", []string{"redis:", "limits: {max_body_bytes: 512}\nredis:"}, nil, 0, 2, "limits.max_body_bytes", "must be between 1024 and 1048576 bytes, not 512"},
		{"body limit too large", []string{"redis:", "limits: {max_body_bytes: 10485760}\nredis:"}, nil, 0, 2, "limits.max_body_bytes", "not 10485760"},
		{"body limit as text", []string{"redis:", "limits: {max_body_bytes: 64KiB}\nredis:"}, nil, 0, 2, "limits.max_body_bytes", "must be a whole number, not text"},
		{"authorize limit too small", []string{"redis:", "limits: {authorize_per_address: 0}\nredis:"}, nil, 0, 2, "limits.authorize_per_address", "must be between 10 and 100000 requests per 10m0s, not 0"},
		{"unknown limits key", []string{"redis:", "limits: {max_form_bytes: 1024}\nredis:"}, nil, 0, 2, "limits", `unknown key "max_form_bytes"`},
		{"__Host- cookie over http", []string{"issuer: https://idp.example.org", "insecure_loopback: true\nissuer: http://localhost:8080\nsession: {cookie_name: __Host-x}"}, nil, 0, 3, "session.cookie_name", "cannot work with an http issuer"},
		{"no clients", []string{"clients:\n  - id: rp\n    " + hashLine + "\n    redirect_uris: [https://rp.example.org/cb]\n", "clients: []\n"}, nil, 0, 7, "clients", "at least one client is required"},
		{"client id missing", []string{"- id: rp\n    ", "- "}, nil, 0, 8, "clients[0].id", "this setting is required"},
		{"client id invalid", []string{"id: rp", "id: rp/1"}, nil, 0, 8, "clients[0].id", "may only contain letters"},
		{"client literal secret", []string{hashLine, hashLine + "\n    secret: s3cr3t"}, nil, 0, 10, "clients[0].secret", "give secret_sha256"},
		{"client hash missing", []string{"    " + hashLine + "\n", ""}, nil, 0, 8, "clients[0].secret_sha256", "is required for a confidential client"},
		{"client hash not hex", []string{secretHash, "hunter2"}, nil, 0, 9, "clients[0].secret_sha256", "must be 64 hexadecimal characters"},
		{"public client with hash", []string{hashLine, hashLine + "\n    public: true"}, nil, 0, 9, "clients[0].secret_sha256", "a public client has no secret"},
		{"no redirect uris", []string{"[https://rp.example.org/cb]", "[]"}, nil, 0, 10, "clients[0].redirect_uris", "at least one redirect URI is required"},
		{"duplicate redirect uri", []string{"[https://rp.example.org/cb]", "[https://rp.example.org/cb, https://rp.example.org/cb]"}, nil, 0, 10, "clients[0].redirect_uris[1]", "is listed twice"},
		{"redirect uri not text", []string{"[https://rp.example.org/cb]", "[https://rp.example.org/cb, {a: b}]"}, nil, 0, 10, "clients[0].redirect_uris[1]", "must be text, not a mapping"},
		{"post logout uri http", []string{"[https://rp.example.org/cb]", "[https://rp.example.org/cb]\n    post_logout_redirect_uris: [http://rp.example.org/]"}, nil, 0, 11, "clients[0].post_logout_redirect_uris[0]", "must use https"},
		{"home url relative", []string{"[https://rp.example.org/cb]", "[https://rp.example.org/cb]\n    home_url: /home"}, nil, 0, 11, "clients[0].home_url", "is not an absolute URL"},
		{"token format", []string{"[https://rp.example.org/cb]", "[https://rp.example.org/cb]\n    access_token_format: JWT"}, nil, 0, 11, "clients[0].access_token_format", "use opaque or jwt"},
		{"ldap section missing", []string{"ldap:\n", "ldapp:\n"}, nil, 5, 0, "ldap.urls", "at least one directory URL"},
		{"unknown ldap key", []string{"  bind_dn:", "  timout: 5s\n  bind_dn:"}, nil, 0, 13, "ldap", `unknown key "timout" (did you mean "timeout"?)`},
		{"ldap url scheme", []string{"ldaps://ldap.example.org", "https://ldap.example.org"}, nil, 0, 12, "ldap.urls[0]", "must start with ldap:// or ldaps://"},
		{"ldap url with base", []string{"ldaps://ldap.example.org", "ldaps://ldap.example.org/dc=example"}, nil, 0, 12, "ldap.urls[0]", "must be only scheme, host and port"},
		{"start_tls with ldaps", []string{"  bind_dn:", "  start_tls: true\n  bind_dn:"}, nil, 0, 12, "ldap.urls[0]", "start_tls is true"},
		{"ldap ca_file missing", []string{"  bind_dn:", "  ca_file: /ldap-ca.pem\n  bind_dn:"}, nil, 0, 13, "ldap.ca_file", `cannot read "/ldap-ca.pem": no such file`},
		{"bind dn invalid", []string{"cn=reader,dc=example,dc=org", "reader"}, nil, 0, 13, "ldap.bind_dn", "is not a distinguished name"},
		{"base dn missing", []string{"  base_dn: ou=people,dc=example,dc=org\n", ""}, nil, 0, 11, "ldap.base_dn", "this setting is required"},
		{"bind password missing", []string{"  bind_password_env: LDAP_PW\n", ""}, nil, 0, 11, "ldap.bind_password", "this secret is required"},
		{"filter without login", []string{"  bind_dn:", "  user_filter: (uid=x)\n  bind_dn:"}, nil, 0, 13, "ldap.user_filter", "must contain {login}"},
		{"filter without parentheses", []string{"  bind_dn:", "  user_filter: uid={login}\n  bind_dn:"}, nil, 0, 13, "ldap.user_filter", "must be enclosed in parentheses"},
		{"filter invalid", []string{"  bind_dn:", "  user_filter: (&(uid={login})\n  bind_dn:"}, nil, 0, 13, "ldap.user_filter", "is not a valid LDAP filter"},
		{"pool size zero", []string{"  bind_dn:", "  pool_size: 0\n  bind_dn:"}, nil, 0, 13, "ldap.pool_size", "must be at least 1"},
		{"attribute name", []string{"  bind_dn:", "  attributes: {email: \"e mail\"}\n  bind_dn:"}, nil, 0, 13, "ldap.attributes.email", "is not an LDAP attribute name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, errs := parse(t, minimalWith(t, tt.oldNew...), tt.files)
			if want := max(tt.wantCount, 1); len(errs) != want {
				t.Fatalf("want %d problem(s), got %d:\n%v", want, len(errs), errs)
			}
			p := errs[0]
			if p.Line != tt.wantLine || p.Path != tt.wantPath || !strings.Contains(p.Message, tt.wantInMsg) {
				t.Errorf("got %s\nwant line %d, path %q, message containing %q", p, tt.wantLine, tt.wantPath, tt.wantInMsg)
			}
			if strings.Contains(p.Message, "hunter2") || strings.Contains(p.Message, "s3cr3t") || strings.Contains(p.Message, cryptoKeyHex) {
				t.Errorf("message shows a secret: %s", p)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	known := []string{"issuer", "listen", "log", "redis", "redirect_uris", "post_logout_redirect_uris", "secret_sha256"}
	for unknown, want := range map[string]string{
		"isuer": "issuer", "Issuer": "issuer", "lsten": "listen", "redirect_uri": "redirect_uris",
		"post_logout_redirect_uri": "post_logout_redirect_uris", "secret_sha": "secret_sha256", "secret": "", "port": "", "lg": "log", "xyz": "",
	} {
		if got := suggest(unknown, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", unknown, got, want)
		}
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance = %d, want 3", d)
	}
}

// TestPlainLDAPOnlyToLoopback: ldap:// without start_tls sends the
// service account's password and every person's password in clear; it is
// only allowed to a directory on this machine, like plain mail.
func TestPlainLDAPOnlyToLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, urls, startTLS string
		bad                  string // URL reported, "" = valid
	}{
		{"ldaps remote", "[ldaps://ldap.example.org]", "", ""},
		{"ldap remote with start_tls", "[ldap://ldap.example.org]", "  start_tls: true\n", ""},
		{"ldap 127.0.0.1", "[ldap://127.0.0.1:1389]", "", ""},
		{"ldap localhost", "[ldap://localhost]", "", ""},
		{"ldap ::1", "[\"ldap://[::1]:389\"]", "", ""},
		{"ldap remote", "[ldap://ldap.example.org]", "", "ldap://ldap.example.org"},
		{"ldap remote IP", "[ldap://192.0.2.10:389]", "", "ldap://192.0.2.10:389"},
		{"ldap look-alike host", "[ldap://localhost.example.org]", "", "ldap://localhost.example.org"},
		{"second URL remote", "[ldaps://ldap.example.org, ldap://ldap2.example.org]", "", "ldap://ldap2.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yaml := minimalWith(t, "[ldaps://ldap.example.org]", tt.urls, "  bind_dn:", tt.startTLS+"  bind_dn:")
			_, errs := parse(t, yaml, nil)
			if tt.bad == "" {
				if len(errs) != 0 {
					t.Fatalf("want valid, got %v", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("want 1 problem, got %d: %v", len(errs), errs)
			}
			p := errs[0]
			if p.Line != 12 || !strings.HasPrefix(p.Path, "ldap.urls[") || !strings.Contains(p.Message, tt.bad) || !strings.Contains(p.Message, "start_tls") {
				t.Errorf("got %s, want line 12, ldap.urls[…], naming %q and start_tls", p, tt.bad)
			}
		})
	}
}
