package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunArguments(t *testing.T) {
	for _, args := range [][]string{nil, {"start"}, {"serve"}, {"serve", "--dev"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) accepted", args)
		}
	}
}

// A configuration with several mistakes is refused before anything
// listens, with every mistake and its line.
func TestRunReportsEveryConfigMistake(t *testing.T) {
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
	err := run(context.Background(), []string{"serve", "--config", path}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("accepted a broken configuration")
	}
	msg := err.Error()
	for _, line := range []string{":1:", ":3:", ":7:", ":10:", ":11:", ":13:"} {
		if !strings.Contains(msg, path+line) {
			t.Errorf("no problem reported at line %s in:\n%s", line, msg)
		}
	}
	if strings.Contains(msg, "literal-secret") {
		t.Error("the message repeats a secret")
	}
}
