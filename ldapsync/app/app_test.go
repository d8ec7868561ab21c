package app_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/app"
)

// closedPort is an address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

const childEnv = "LDAPSYNC_REDIS_DOWN_CHILD"

// TestRedisDownLogsOnlyJSON runs the worker, in a child process whose
// stderr is captured whole, against a Redis that does not answer: go-redis
// complains (failed dials), and every line must still be JSON, the
// client library's included.
func TestRedisDownLogsOnlyJSON(t *testing.T) {
	if addr := os.Getenv(childEnv); addr != "" {
		runDown(t, addr)
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRedisDownLogsOnlyJSON$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+closedPort(t))
	var stderr, stdout bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var fromRedis int
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("plain-text line on stderr: %q", l)
			continue
		}
		if msg, _ := m["msg"].(string); strings.HasPrefix(msg, "redis: ") && m["level"] == "WARN" {
			fromRedis++
		}
	}
	if fromRedis == 0 {
		t.Errorf("no go-redis line (\"redis: …\" at WARN) on stderr; the test proves nothing:\n%s", stderr.String())
	}
}

// runDown is the child: ldapsync's Run for a few seconds, logging to
// stderr as the binary does.
func runDown(t *testing.T, redisAddr string) {
	key, err := job.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	webPub, _, _ := ed25519.GenerateKey(nil)
	cfg := &config.Ldapsync{
		Log:   config.Log{Level: slog.LevelInfo, Format: config.LogJSON},
		Redis: config.Redis{Addrs: []string{redisAddr}},
		Queue: config.Queue{KeyPrefix: "idp:"}, PrivateKeys: []hpke.PrivateKey{key}, WebPublicKeys: []ed25519.PublicKey{webPub},
		Directories: []config.Directory{{Name: "annuaire", Label: "l’annuaire", FindBy: config.FindByUID,
			LDAPConnection: config.LDAPConnection{URLs: []string{"ldap://" + closedPort(t)}, BindDN: "cn=w,dc=x", BindPassword: "pw", Timeout: time.Second},
			BaseDN:         "dc=x", UserFilter: config.DefaultUserFilter}},
		Worker: config.Worker{PollInterval: 50 * time.Millisecond},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if err := app.Run(ctx, cfg, os.Stderr); err != nil {
		t.Fatal(err)
	}
}
