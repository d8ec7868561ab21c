package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
)

// validConfig writes a configuration config.Load accepts, its secrets in
// files beside it.
func validConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	secret := func(name, value string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func(b byte) string { return hex.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	wk, err := job.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("client-secret-for-the-command-tests"))
	cfg := `issuer: http://127.0.0.1:8080
listen: "127.0.0.1:0"
insecure_loopback: true
support_url: https://support.example/
redis:
  addrs: ["127.0.0.1:6379"]
secrets:
  crypto_key_file: ` + secret("crypto", key(1)) + `
  cookie_key_file: ` + secret("cookie", key(2)) + `
clients:
  - id: site
    secret_sha256: ` + hex.EncodeToString(sum[:]) + `
    redirect_uris: ["http://127.0.0.1:9/callback"]
ldap:
  urls: ["ldap://127.0.0.1:389"]
  bind_dn: "cn=reader,dc=example,dc=org"
  bind_password_file: ` + secret("ldap", "reader-password") + `
  base_dn: "ou=people,dc=example,dc=org"
mail:
  host: 127.0.0.1
ldapsync:
  public_key: ` + job.MarshalPublicKey(wk.PublicKey()) + `
  signing_key_file: ` + secret("signing", key(3)) + `
`
	return secret("idp.yaml", cfg)
}

// brokenConfig has several mistakes, on lines 1, 3, 7, 10, 11 and 13.
func brokenConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "idp.yaml")
	const cfg = `issuer: http://idp.example.org
listen: ":8080"
isuer: typo
redis:
  addrs: ["127.0.0.1:6379"]
secrets:
  crypto_key: literal-secret
clients:
  - id: portail
    secret_sha256: nothex
    redirect_uris: ["http://rp.example.org/cb"]
ldap:
  urls: ["ftp://ldap"]
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRun(t *testing.T) {
	valid, broken := validConfig(t), brokenConfig(t)
	missing := filepath.Join(t.TempDir(), "none.yaml")
	for _, c := range []struct {
		name       string
		args       []string
		code       int
		stdout     []string // each must appear
		stderr     []string
		noStdout   bool
		notInError string
	}{
		{name: "no command", args: nil, code: 2, stderr: []string{"usage:"}, noStdout: true},
		{name: "unknown command", args: []string{"start"}, code: 2, stderr: []string{`unknown command "start"`, "usage:"}, noStdout: true},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"idp serve --config FILE", "idp check-config --config FILE", "idp version"}},
		{name: "--help", args: []string{"--help"}, code: 0, stdout: []string{"usage:"}},
		{name: "-h", args: []string{"-h"}, code: 0, stdout: []string{"usage:"}},
		{name: "serve --help", args: []string{"serve", "--help"}, code: 0, stdout: []string{"usage: idp serve --config FILE", "-config"}},
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"idp ", "(commit "}},
		{name: "version with arguments", args: []string{"version", "x"}, code: 2, noStdout: true},
		{name: "serve without --config", args: []string{"serve"}, code: 2, stderr: []string{"--config FILE is required"}, noStdout: true},
		{name: "serve with an unknown flag", args: []string{"serve", "--dev"}, code: 2, stderr: []string{"-dev"}, noStdout: true},
		{name: "check-config without --config", args: []string{"check-config"}, code: 2, stderr: []string{"--config FILE is required"}, noStdout: true},
		{name: "check-config with a stray argument", args: []string{"check-config", "--config", valid, "extra"}, code: 2, noStdout: true},
		{name: "check-config, valid", args: []string{"check-config", "--config", valid}, code: 0, stdout: []string{"ok\n"}},
		{name: "check-config, every mistake with its line", args: []string{"check-config", "--config", broken}, code: 1,
			stderr:   []string{broken + ":1:", broken + ":3:", broken + ":7:", broken + ":10:", broken + ":11:", broken + ":13:"},
			noStdout: true, notInError: "literal-secret"},
		{name: "check-config, no such file", args: []string{"check-config", "--config", missing}, code: 1, stderr: []string{"none.yaml"}, noStdout: true},
		// Refused before anything listens.
		{name: "serve, every mistake with its line", args: []string{"serve", "--config", broken}, code: 1,
			stderr:   []string{broken + ":1:", broken + ":3:", broken + ":7:", broken + ":10:", broken + ":11:", broken + ":13:"},
			noStdout: true, notInError: "literal-secret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), c.args, &stdout, &stderr)
			if code != c.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout.String(), stderr.String())
			}
			for _, want := range c.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range c.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if c.noStdout && stdout.Len() > 0 {
				t.Errorf("stdout should be empty: %s", stdout.String())
			}
			if c.notInError != "" && strings.Contains(stderr.String(), c.notInError) {
				t.Errorf("stderr repeats %q", c.notInError)
			}
		})
	}
}
