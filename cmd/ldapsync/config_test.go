package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/ldapsync/job"
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
		"/etc/ldapsync/hpke.key":              keyFile(t),
	}, nil)
	c, err := l.parse(data)
	if err != nil {
		t.Fatalf("the example does not load:\n%v", err)
	}
	if c.redisPass != "redis-secret" || c.directory.BindPassword != "bind-secret" || len(c.keys) != 1 ||
		c.file.Worker.Lease != time.Minute || c.directory.Timeout != 5*time.Second || c.file.Queue.KeyPrefix != "idp:" {
		t.Errorf("loaded %+v", c.file)
	}
}

func TestConfigProblems(t *testing.T) {
	t.Parallel()
	const base = `redis:
  addrs: ["127.0.0.1:6379"]
private_key_files: [/k]
directory:
  urls: [ldap://127.0.0.1]
  bind_dn: cn=w,dc=x
  bind_password_env: BIND
  base_dn: dc=x
`
	files := map[string]string{"/k": keyFile(t), "/bad": "not a key", "/empty": "\n"}
	env := map[string]string{"BIND": "bind-secret"}
	tests := []struct {
		name string
		yaml string
		want []string // each must appear; none = valid
	}{
		{"valid", base, nil},
		{"unknown key", base + "wroker:\n  lease: 1m\n", []string{"ldapsync.yaml:9: wroker: unknown key"}},
		{"wrong type", base + "worker:\n  retry_limit: many\n", []string{"ldapsync.yaml:10: worker.retry_limit: must be a whole number"}},
		{"duration as a number", base + "worker:\n  lease: 60\n", []string{"ldapsync.yaml:10: worker.lease: must be a duration"}},
		{"literal secret", strings.Replace(base, "bind_password_env: BIND", "bind_password: hunter2", 1),
			[]string{"ldapsync.yaml:7: directory.bind_password: a secret must not be written"}},
		{"both file and env", strings.Replace(base, "bind_password_env: BIND", "bind_password_env: BIND\n  bind_password_file: /k", 1),
			[]string{"not both"}},
		{"unset variable", strings.Replace(base, "BIND", "NOPE", 1), []string{"directory.bind_password_env", "NOPE"}},
		{"empty secret file", strings.Replace(base, "bind_password_env: BIND", "bind_password_file: /empty", 1),
			[]string{"directory.bind_password_file", "is empty"}},
		{"unreadable key", strings.Replace(base, "[/k]", "[/k, /bad, /missing]", 1),
			[]string{"private_key_files[1]", "private_key_files[2]", "no such file"}},
		{"bad directory", strings.Replace(base, "ldap://127.0.0.1", "http://127.0.0.1", 1), []string{"ldapsync.yaml:4: directory", "scheme"}},
		{"lease shorter than three timeouts", base + "  timeout: 30s\nworker:\n  lease: 1m\n", []string{"worker.lease"}},
		{"bad log level", base + "log:\n  level: loud\n", []string{"ldapsync.yaml:10: log.level"}},
		{"everything missing", "", []string{"redis.addrs", "private_key_files", "directory.urls", "directory.bind_dn", "directory.base_dn", "directory.bind_password"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testLoader(files, env).parse([]byte(tc.yaml))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused:\n%v", err)
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
