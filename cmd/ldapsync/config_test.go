package main

import (
	"crypto/ed25519"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
)

// testLoader serves files and environment variables from maps.
func testLoader(files map[string]string, env map[string]string) *loader {
	return &loader{
		name: "ldapsync.yaml",
		env:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		readFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
	}
}

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

// TestExampleConfig keeps deploy/config/ldapsync.yaml valid.
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "config", "ldapsync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l := testLoader(map[string]string{
		"/run/secrets/redis-password":         "redis-secret\n",
		"/run/secrets/ldapsync-bind-password": "bind-secret\n",
		"/run/secrets/hpke.key":               keyFile(t),
	}, nil)
	c, err := l.parse(data)
	if err != nil {
		t.Fatalf("the example does not load:\n%v", err)
	}
	if len(c.targets) != 1 {
		t.Fatalf("%d targets, want the main directory only", len(c.targets))
	}
	d := c.targets[0]
	if c.redisPass != "redis-secret" || d.directory.BindPassword != "bind-secret" || len(c.keys) != 1 || len(c.webKeys) != 1 ||
		c.file.Worker.Lease != time.Minute || d.directory.Timeout != 5*time.Second || c.file.Queue.KeyPrefix != "idp:" ||
		c.file.Worker.PolicyInterval != time.Minute {
		t.Errorf("loaded %+v", c.file)
	}
	if d.name != "annuaire" || d.label != "l’annuaire des usagers" || d.findBy != "uid" || !d.checkSubject ||
		d.policyDN != "cn=default,ou=policies,dc=example,dc=org" || d.directory.SubjectAttribute != "entryUUID" {
		t.Errorf("target %+v", d)
	}
}

// TestExampleSecondDirectory keeps the commented second directory of the
// example valid once uncommented.
func TestExampleSecondDirectory(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "config", "ldapsync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "  # - name: messagerie", "  - name: messagerie", 1)
	text = regexp.MustCompile(`(?m)^  #   `).ReplaceAllString(text, "    ")
	l := testLoader(map[string]string{
		"/run/secrets/redis-password":               "redis-secret\n",
		"/run/secrets/ldapsync-bind-password":       "bind-secret\n",
		"/run/secrets/ldapsync-messagerie-password": "other-secret\n",
		"/run/secrets/hpke.key":                     keyFile(t),
	}, nil)
	c, err := l.parse([]byte(text))
	if err != nil {
		t.Fatalf("the example with its second directory does not load:\n%v", err)
	}
	if len(c.targets) != 2 {
		t.Fatalf("%d targets", len(c.targets))
	}
	m := c.targets[1]
	if m.name != "messagerie" || m.label != "la messagerie des lycées" || m.findBy != "mail" || m.checkSubject ||
		m.directory.BindPassword != "other-secret" {
		t.Errorf("second target %+v", m)
	}
}

func TestConfigProblems(t *testing.T) {
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
		{"unknown key", base + "wroker:\n  lease: 1m\n", []string{"ldapsync.yaml:11: wroker: unknown key"}},
		{"unknown key in a directory", base + "    timout: 5s\n", []string{"ldapsync.yaml:11: directories[0].timout: unknown key"}},
		{"wrong type", base + "worker:\n  retry_limit: many\n", []string{"ldapsync.yaml:12: worker.retry_limit: must be a whole number"}},
		{"duration as a number", base + "worker:\n  lease: 60\n", []string{"ldapsync.yaml:12: worker.lease: must be a duration"}},
		{"literal secret", strings.Replace(base, "bind_password_env: BIND", "bind_password: hunter2", 1),
			[]string{"ldapsync.yaml:9: directories[0].bind_password: a secret must not be written"}},
		{"both file and env", strings.Replace(base, "bind_password_env: BIND", "bind_password_env: BIND\n    bind_password_file: /k", 1),
			[]string{"not both"}},
		{"unset variable", strings.Replace(base, "BIND", "NOPE", 1), []string{"directories[0].bind_password_env", "NOPE"}},
		{"empty secret file", strings.Replace(base, "bind_password_env: BIND", "bind_password_file: /empty", 1),
			[]string{"directories[0].bind_password_file", "is empty"}},
		{"unreadable key", strings.Replace(base, "[/k]", "[/k, /bad, /missing]", 1),
			[]string{"private_key_files[1]", "private_key_files[2]", "no such file"}},
		{"bad directory", strings.Replace(base, "ldap://127.0.0.1", "http://127.0.0.1", 1), []string{"ldapsync.yaml:5: directories[0]", "scheme"}},
		{"plain ldap to a remote directory", strings.Replace(base, "ldap://127.0.0.1", "ldap://ldap.example.org", 1),
			[]string{"ldapsync.yaml:7: directories[0].urls[0]", "ldap://ldap.example.org", "start_tls"}},
		{"plain ldap, second URL remote", strings.Replace(base, "[ldap://127.0.0.1]", "[ldap://localhost, ldap://192.0.2.7:389]", 1),
			[]string{"ldapsync.yaml:7: directories[0].urls[1]", "ldap://192.0.2.7:389"}},
		{"ldap with start_tls to a remote directory", strings.Replace(base, "[ldap://127.0.0.1]", "[ldap://ldap.example.org]\n    start_tls: true", 1), nil},
		{"ldaps to a remote directory", strings.Replace(base, "ldap://127.0.0.1", "ldaps://ldap.example.org", 1), nil},
		{"lease shorter than three timeouts", base + second + "    timeout: 30s\nworker:\n  lease: 1m\n",
			[]string{"worker.lease", "directories[1].timeout"}},
		{"bad log level", base + "log:\n  level: loud\n", []string{"ldapsync.yaml:12: log.level"}},
		{"the old directory key", strings.Replace(base, "directories:\n  - name: annuaire\n    label: l’annuaire\n", "directory:\n", 1),
			[]string{"ldapsync.yaml:4: directory: replaced by directories"}},
		{"a map instead of a list", strings.ReplaceAll(strings.Replace(base, "  - name", "    name", 1), "\n    ", "\n  "),
			[]string{"ldapsync.yaml:5: directories: must be a list of directories"}},
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
			`ldapsync.yaml:11: directories[1].name: "annuaire" is the name of directories[0] already`,
			"ldapsync.yaml:11: directories[1].label: required",
			"ldapsync.yaml:12: directories[1].find_by: must be uid or mail",
			`ldapsync.yaml:17: directories[1].policy_dn: "not a dn" is not a DN`,
			`ldapsync.yaml:18: directories[2].name: "Messagerie Lycées": use 1 to 32 characters`,
			"ldapsync.yaml:19: directories[2].label: required",
			"ldapsync.yaml:24: directories[3].name: required",
		}},
		{"no directory", strings.Split(base, "directories:")[0], []string{"ldapsync.yaml: directories: give at least one directory"}},
		{"everything missing", "", []string{"redis.addrs", "private_key_files", "web_public_keys: give the web tier's public key", "directories: give at least one"}},
		{"bad web public keys", strings.Replace(base, "web_public_keys: [", "web_public_keys: [ed25519:AAAA, ", 1),
			[]string{"ldapsync.yaml:2: web_public_keys[0]: is not a public key printed by `ldapsync webkey`"}},
		{"an ldapsync key as web public key", strings.Replace(base, "web_public_keys: [", "web_public_keys: [hpke1:647a:AAAA, ", 1),
			[]string{"ldapsync.yaml:2: web_public_keys[0]"}},
		{"everything missing in a directory", base + "  - {}\n", []string{
			"ldapsync.yaml:11: directories[1].name: required", "directories[1].label", "directories[1].urls",
			"directories[1].bind_dn", "directories[1].base_dn", "directories[1].bind_password"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := testLoader(files, env).parse([]byte(tc.yaml))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused:\n%v", err)
				}
				if c.targets[0].name != "annuaire" || c.targets[0].findBy != "uid" || c.targets[0].checkSubject {
					t.Errorf("first target %+v", c.targets[0])
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
