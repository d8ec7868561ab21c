package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

func noEnv(string) (string, bool) { return "", false }

func TestRunArguments(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"start"}, {"run"}, {"run", "--config"}, {"pubkey"}, {"run", "--config", "/nonexistent.yaml"}, {"keygen", "--config", "x"}, {"check-config"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard, noEnv); err == nil {
			t.Errorf("run(%q) accepted", args)
		}
	}
}

// TestCheckConfig: check-config prints every problem with its line on
// stderr and fails, or prints "ok"; version and --help succeed.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("redis: {addrs: [\"127.0.0.1:6379\"]}\nwroker: 1\nworker: {lease: 60}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"check-config", "--config", bad}, &out, &errOut, noEnv); err == nil {
		t.Fatal("check-config accepted a bad file")
	}
	for _, want := range []string{bad + `:2:1: unknown key "wroker"`, bad + ":3:17: worker.lease: must be a duration",
		"private_key_files: at least one key file is required", "web_public_keys", "directories"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", out.String())
	}

	keyPath := filepath.Join(dir, "hpke.key")
	if err := run(context.Background(), []string{"keygen", "--out", keyPath}, io.Discard, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	var webPub bytes.Buffer
	if err := run(context.Background(), []string{"webkey", "--out", filepath.Join(dir, "web.key")}, &webPub, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	yaml := fmt.Sprintf("redis: {addrs: [\"127.0.0.1:6379\"]}\nprivate_key_files: [%q]\nweb_public_keys: [%q]\n"+
		"directories:\n  - {name: annuaire, label: l’annuaire, urls: [\"ldap://127.0.0.1\"], bind_dn: \"cn=w,dc=x\", bind_password_env: PW, base_dn: \"dc=x\"}\n",
		keyPath, strings.TrimSpace(webPub.String()))
	if err := os.WriteFile(good, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) { return "pw", k == "PW" }
	out.Reset()
	if err := run(context.Background(), []string{"check-config", "--config", good}, &out, io.Discard, env); err != nil || out.String() != "ok\n" {
		t.Errorf("check-config of a good file: %v, %q", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"version"}, &out, io.Discard, noEnv); err != nil || !strings.HasPrefix(out.String(), "ldapsync ") {
		t.Errorf("version: %v, %q", err, out.String())
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"run", "--help"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard, noEnv); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
}

func TestKeygen(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"keygen"}, &out, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	k, err := job.ParsePrivateKey(out.Bytes())
	if err != nil {
		t.Fatalf("the printed key does not parse: %v", err)
	}
	pub := job.MarshalPublicKey(k.PublicKey())
	if !strings.Contains(out.String(), "# "+pub+"\n") {
		t.Error("the printed key file does not show its public key")
	}

	path := filepath.Join(t.TempDir(), "hpke.key")
	out.Reset()
	if err := run(context.Background(), []string{"keygen", "--out", path}, &out, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}
	printed := strings.TrimSpace(out.String())
	if _, err := job.ParsePublicKey(printed); err != nil || strings.Contains(printed, "PRIVATE") {
		t.Fatalf("keygen --out printed %q: %v", printed, err)
	}
	if err := run(context.Background(), []string{"keygen", "--out", path}, io.Discard, io.Discard, noEnv); err == nil {
		t.Error("keygen overwrote an existing key file")
	}
	out.Reset()
	if err := run(context.Background(), []string{"pubkey", "--key", path}, &out, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != printed {
		t.Error("pubkey and keygen disagree")
	}
}

func TestWebkey(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"webkey"}, &out, &errOut, noEnv); err != nil {
		t.Fatal(err)
	}
	// stdout is the secret alone: `ldapsync webkey > FILE` is the provider's file.
	sk, err := job.ParseSigningKey(out.String())
	if err != nil || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("stdout %q: %v", out.String(), err)
	}
	pub := job.MarshalVerifyKey(sk.Public().(ed25519.PublicKey))
	if !strings.Contains(errOut.String(), pub+"\n") {
		t.Errorf("stderr does not show the public key: %q", errOut.String())
	}

	path := filepath.Join(t.TempDir(), "signing.key")
	out.Reset()
	if err := run(context.Background(), []string{"webkey", "--out", path}, &out, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}
	printed := strings.TrimSpace(out.String())
	if _, err := job.ParseVerifyKey(printed); err != nil {
		t.Fatalf("webkey --out printed %q: %v", printed, err)
	}
	if err := run(context.Background(), []string{"webkey", "--out", path}, io.Discard, io.Discard, noEnv); err == nil {
		t.Error("webkey overwrote an existing key file")
	}
	out.Reset()
	if err := run(context.Background(), []string{"pubkey", "--key", path}, &out, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != printed {
		t.Error("pubkey and webkey disagree")
	}
}

// TestRunEndToEnd runs `ldapsync run` against two slapd and redis-server
// and has it apply a job sealed with the key keygen made: written to both
// directories (the second finds the person by mail), their policies
// published.
func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{MinLength: 12, InHistory: 3})
	s2 := testenv.StartSlapd(t, testenv.SlapdOptions{MinLength: 14})
	r := testenv.StartRedis(t)
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "hpke.key")
	var pub bytes.Buffer
	if err := run(context.Background(), []string{"keygen", "--out", keyPath}, &pub, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	// The web tier's signing key, and its public key for ldapsync.
	signingPath := filepath.Join(dir, "signing.key")
	var webPub bytes.Buffer
	if err := run(context.Background(), []string{"webkey", "--out", signingPath}, &webPub, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "ldapsync.yaml")
	cfg := fmt.Sprintf(`log: {level: debug, format: text}
redis:
  addrs: [%q]
private_key_files: [%q]
web_public_keys: [%q]
directories:
  - name: annuaire
    label: l’annuaire des usagers
    urls: [%q]
    bind_dn: %q
    bind_password_env: WRITER_PASSWORD
    base_dn: %q
    subject_attribute: entryUUID
    policy_dn: cn=default,ou=policies,%s
    timeout: 2s
  - name: messagerie
    label: la messagerie des lycées
    find_by: mail
    urls: [%q]
    bind_dn: %q
    bind_password_env: WRITER2_PASSWORD
    base_dn: %q
    user_filter: (mail={login})
    policy_dn: cn=default,ou=policies,%s
    timeout: 2s
worker:
  poll_interval: 10ms
`, r.Addr, keyPath, strings.TrimSpace(webPub.String()), s.URL, s.WriterDN, s.BaseDN, s.BaseDN, s2.URL, s2.WriterDN, s2.BaseDN, s2.BaseDN)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		switch k {
		case "WRITER_PASSWORD":
			return s.WriterPassword, true
		case "WRITER2_PASSWORD":
			return s2.WriterPassword, true
		}
		return "", false
	}

	ctx, cancel := context.WithCancel(context.Background())
	var logs testenv.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run", "--config", cfgPath}, io.Discard, &logs, env) }()

	// The web tier's side: seal with the public key, sign, queue.
	pk, err := job.ParsePublicKey(pub.String())
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := job.NewSealer(pk)
	secret, err := os.ReadFile(signingPath)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := job.ParseSigningKey(string(secret))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := job.NewSigner(sk)
	q := job.NewQueue(job.Options{Client: r.Client(t)})
	const pw = "Nouveau-mot-de-passe-1"
	jd := testenv.Users()[0]
	j := job.Job{ID: job.NewID(), Subject: s.EntryUUID(t, jd.UID), Login: jd.UID, Mail: jd.Mail, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)}
	if j.Sealed, err = sealer.Seal(j, pw); err != nil {
		t.Fatal(err)
	}
	if err := signer.Sign(&j); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	var st job.Status
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		st, err = q.Status(context.Background(), j.ID)
		return err == nil && st.State.Settled(), fmt.Sprintf("status %+v, %v\n%s", st, err, logs.String())
	})
	policies, perr := q.Policies(context.Background())
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if st.State != job.Done || len(st.Targets) != 2 || st.Targets[1].Label != "la messagerie des lycées" || st.Targets[1].State != job.Done {
		t.Fatalf("status = %+v\n%s", st, logs.String())
	}
	if perr != nil || len(policies) != 2 || policies[0].Name != "annuaire" || policies[0].MinLength != 12 ||
		policies[1].Name != "messagerie" || policies[1].MinLength != 14 || policies[1].CheckQuality != 1 {
		t.Errorf("policies = %+v, %v", policies, perr)
	}
	for _, sl := range []*testenv.Slapd{s, s2} {
		if !sl.Binds(t, "jdupont", pw) {
			t.Errorf("%s: the new password does not bind", sl.URL)
		}
	}
	for _, secret := range []string{pw, s.WriterPassword, s2.WriterPassword, jd.Mail} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs contain a password or the mail")
		}
	}
	if !strings.Contains(logs.String(), "password changed") {
		t.Errorf("logs:\n%s", logs.String())
	}
}
