package config

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
)

func keyFile(t *testing.T) string {
	t.Helper()
	k, err := job.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := job.MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// webPublicKey is a web tier public key, as `ldapsync webkey` prints it.
func webPublicKey(t *testing.T) string {
	t.Helper()
	k, err := job.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return job.MarshalVerifyKey(k.Public().(ed25519.PublicKey))
}

// TestLdapsyncExample keeps deploy/config/ldapsync.yaml valid.
func TestLdapsyncExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "config", "ldapsync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"/run/secrets/redis-password":         "redis-secret\n",
		"/run/secrets/ldapsync-bind-password": "bind-secret\n",
		"/run/secrets/hpke.key":               keyFile(t),
	}
	c, err := ParseLdapsync("ldapsync.yaml", data, nil, filesFunc(files))
	if err != nil {
		t.Fatalf("the example does not load:\n%v", err)
	}
	if len(c.Directories) != 1 {
		t.Fatalf("%d directories, want the main one only", len(c.Directories))
	}
	d := c.Directories[0]
	if c.Redis.Password != "" || d.BindPassword != "bind-secret" || len(c.PrivateKeys) != 1 || len(c.WebPublicKeys) != 1 ||
		c.Worker.Lease != time.Minute || d.Timeout != 5*time.Second || c.Queue.KeyPrefix != "idp:" ||
		c.Worker.PolicyInterval != time.Minute {
		t.Errorf("loaded %+v", c)
	}
	if d.Name != "annuaire" || d.Label != "l’annuaire des usagers" || d.FindBy != "uid" ||
		d.PolicyDN != "cn=default,ou=policies,dc=example,dc=org" || d.SubjectAttribute != "entryUUID" {
		t.Errorf("directory %+v", d)
	}
}

// TestLdapsyncExampleSecondDirectory keeps the commented second directory of the
// example valid once uncommented.
func TestLdapsyncExampleSecondDirectory(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "config", "ldapsync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "  # - name: messagerie", "  - name: messagerie", 1)
	text = regexp.MustCompile(`(?m)^  #   `).ReplaceAllString(text, "    ")
	files := map[string]string{
		"/run/secrets/redis-password":               "redis-secret\n",
		"/run/secrets/ldapsync-bind-password":       "bind-secret\n",
		"/run/secrets/ldapsync-messagerie-password": "other-secret\n",
		"/run/secrets/hpke.key":                     keyFile(t),
	}
	c, err := ParseLdapsync("ldapsync.yaml", []byte(text), nil, filesFunc(files))
	if err != nil {
		t.Fatalf("the example with its second directory does not load:\n%v", err)
	}
	if len(c.Directories) != 2 {
		t.Fatalf("%d directories", len(c.Directories))
	}
	m := c.Directories[1]
	if m.Name != "messagerie" || m.Label != "la messagerie des lycées" || m.FindBy != "mail" || m.SubjectAttribute != "" ||
		m.BindPassword != "other-secret" {
		t.Errorf("second target %+v", m)
	}
}

func TestLdapsyncProblems(t *testing.T) {
	t.Parallel()
	base := `redis: {addrs: ["127.0.0.1:6379"]}
web_public_keys: [` + webPublicKey(t) + `]
private_key_files: [/k]
directories:
  - name: annuaire
    label: l’annuaire
    urls: [ldap://127.0.0.1]
    bind_dn: cn=w,dc=x
    bind_password_env: BIND
    base_dn: dc=x
`
	// second is a valid second directory, appended to base.
	const second = `  - name: messagerie
    label: la messagerie des lycées
    find_by: mail
    urls: [ldap://127.0.0.2]
    bind_dn: cn=w,dc=y
    bind_password_env: BIND
    base_dn: dc=y
    policy_dn: cn=default,ou=policies,dc=y
`
	files := map[string]string{"/k": keyFile(t), "/bad": "not a key", "/empty": "\n"}
	env := map[string]string{"BIND": "bind-secret"}
	tests := []struct {
		name string
		yaml string
		want []string // each must appear; none = valid
	}{
		{"valid", base, nil},
		{"valid, two directories", base + second, nil},
		{"unknown key", base + "wroker:\n  lease: 1m\n", []string{`ldapsync.yaml:11:1: unknown key "wroker"`}},
		{"unknown key in a directory", base + "    timout: 5s\n", []string{`ldapsync.yaml:11:5: directories[0]: unknown key "timout" (did you mean "timeout"?)`}},
		{"wrong type", base + "worker:\n  retry_limit: many\n", []string{"ldapsync.yaml:12:16: worker.retry_limit: must be a whole number"}},
		{"duration as a number", base + "worker:\n  lease: 60\n", []string{"ldapsync.yaml:12:10: worker.lease: must be a duration"}},
		{"literal secret", strings.Replace(base, "bind_password_env: BIND", "bind_password: hunter2", 1),
			[]string{"ldapsync.yaml:9:5: directories[0].bind_password: a secret must not be written"}},
		{"both file and env", strings.Replace(base, "bind_password_env: BIND", "bind_password_env: BIND\n    bind_password_file: /k", 1),
			[]string{"not both"}},
		{"unset variable", strings.Replace(base, "BIND", "NOPE", 1), []string{"ldapsync.yaml:9:24: directories[0].bind_password: environment variable NOPE is not set"}},
		{"empty secret file", strings.Replace(base, "bind_password_env: BIND", "bind_password_file: /empty", 1),
			[]string{`ldapsync.yaml:9:25: directories[0].bind_password: secret file "/empty" is empty`}},
		{"unreadable key", strings.Replace(base, "[/k]", "[/k, /bad, /missing]", 1),
			[]string{"private_key_files[1]", "private_key_files[2]", "no such file"}},
		{"bad directory", strings.Replace(base, "ldap://127.0.0.1", "http://127.0.0.1", 1), []string{`ldapsync.yaml:7:12: directories[0].urls[0]: "http://127.0.0.1" must start with ldap:// or ldaps://`}},
		{"plain ldap to a remote directory", strings.Replace(base, "ldap://127.0.0.1", "ldap://ldap.example.org", 1),
			[]string{"ldapsync.yaml:7:12: directories[0].urls[0]", "ldap://ldap.example.org", "start_tls"}},
		{"plain ldap, second URL remote", strings.Replace(base, "[ldap://127.0.0.1]", "[ldap://localhost, ldap://192.0.2.7:389]", 1),
			[]string{"ldapsync.yaml:7:30: directories[0].urls[1]", "ldap://192.0.2.7:389"}},
		{"ldap with start_tls to a remote directory", strings.Replace(base, "[ldap://127.0.0.1]", "[ldap://ldap.example.org]\n    start_tls: true", 1), nil},
		{"ldaps to a remote directory", strings.Replace(base, "ldap://127.0.0.1", "ldaps://ldap.example.org", 1), nil},
		{"lease shorter than three timeouts", base + second + "    timeout: 30s\nworker:\n  lease: 1m\n",
			[]string{"worker.lease", "directories[1].timeout"}},
		{"bad log level", base + "log:\n  level: loud\n", []string{`ldapsync.yaml:12:10: log.level: "loud" is not allowed`}},
		{"the old directory key", strings.Replace(base, "directories:\n  - name: annuaire\n    label: l’annuaire\n", "directory:\n", 1),
			[]string{"ldapsync.yaml:4:1: directory: replaced by directories"}},
		{"a map instead of a list", strings.ReplaceAll(strings.Replace(base, "  - name", "    name", 1), "\n    ", "\n  "),
			[]string{"ldapsync.yaml:5:3: directories: must be a list"}},
		{"every mistake of a second directory", base + `  - name: annuaire
    find_by: login
    urls: [ldap://127.0.0.2]
    bind_dn: cn=w,dc=y
    bind_password_env: BIND
    base_dn: dc=y
    policy_dn: not a dn
  - name: Messagerie Lycées
    label: "  "
    urls: [ldap://127.0.0.3]
    bind_dn: cn=w,dc=z
    bind_password_env: BIND
    base_dn: dc=z
  - label: sans nom
    urls: [ldap://127.0.0.4]
    bind_dn: cn=w,dc=z
    bind_password_env: BIND
    base_dn: dc=z
`, []string{
			`ldapsync.yaml:11:11: directories[1].name: "annuaire" is the name of directories[0] already`,
			"ldapsync.yaml:11:5: directories[1].label: this setting is required",
			`ldapsync.yaml:12:14: directories[1].find_by: "login" is not allowed; use uid or mail`,
			`ldapsync.yaml:17:16: directories[1].policy_dn: "not a dn" is not a distinguished name`,
			`ldapsync.yaml:18:11: directories[2].name: "Messagerie Lycées": use 1 to 32 characters`,
			"ldapsync.yaml:19:12: directories[2].label: this setting is required",
			"ldapsync.yaml:24:5: directories[3].name: this setting is required",
		}},
		{"no directory", strings.Split(base, "directories:")[0], []string{"ldapsync.yaml: directories: at least one directory to write to is required"}},
		{"empty file", "", []string{"ldapsync.yaml: the file is empty"}},
		{"everything missing", "log: {}\n", []string{"redis.addrs", "private_key_files: at least one key file is required", "web_public_keys: at least one key is required", "directories: at least one directory"}},
		{"bad web public keys", strings.Replace(base, "web_public_keys: [", "web_public_keys: [ed25519:AAAA, ", 1),
			[]string{"ldapsync.yaml:2:19: web_public_keys[0]: is not a public key printed by `ldapsync webkey`"}},
		{"an ldapsync key as web public key", strings.Replace(base, "web_public_keys: [", "web_public_keys: [hpke1:647a:AAAA, ", 1),
			[]string{"ldapsync.yaml:2:19: web_public_keys[0]"}},
		{"everything missing in a directory", base + "  - {}\n", []string{
			"ldapsync.yaml:11:5: directories[1].name: this setting is required", "directories[1].label", "directories[1].urls",
			"directories[1].bind_dn", "directories[1].base_dn", "directories[1].bind_password"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseLdapsync("ldapsync.yaml", []byte(tc.yaml), envFunc(env), filesFunc(files))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused:\n%v", err)
				}
				if d := c.Directories[0]; d.Name != "annuaire" || d.FindBy != "uid" || d.SubjectAttribute != "" {
					t.Errorf("first directory %+v", d)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("lacks %q:\n%v", w, err)
				}
			}
			for _, secret := range []string{"hunter2", "bind-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the message repeats a secret")
				}
			}
		})
	}
}

// TestLdapsyncEveryKindAtOnce: one mistake of each kind, every one
// reported in one run, each at its line.
func TestLdapsyncEveryKindAtOnce(t *testing.T) {
	t.Parallel()
	yaml := `redis: {addrs: ["127.0.0.1:6379"]}
private_key_files: [/missing/hpke.key]
wroker: {lease: 1m}
worker: {retry_limit: many}
directories:
  - name: annuaire
    urls: [ldaps://ldap.example.org]
    bind_password_file: /missing/bind
    base_dn: dc=x
`
	_, err := ParseLdapsync("ldapsync.yaml", []byte(yaml), nil, filesFunc(nil))
	want := []string{
		"ldapsync.yaml: web_public_keys: at least one key is required",
		`ldapsync.yaml:2:21: private_key_files[0]: cannot read "/missing/hpke.key": no such file`,
		`ldapsync.yaml:3:1: unknown key "wroker"`,
		"ldapsync.yaml:4:23: worker.retry_limit: must be a whole number, not text",
		"ldapsync.yaml:6:5: directories[0].label: this setting is required",
		"ldapsync.yaml:6:5: directories[0].bind_dn: this setting is required",
		`ldapsync.yaml:8:25: directories[0].bind_password: cannot read secret file "/missing/bind": no such file`,
	}
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("lacks %q:\n%v", w, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(want) {
		t.Errorf("%d problems, want %d:\n%v", n, len(want), err)
	}
}
