package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// startProcess runs the real binary with a configuration file, as an
// operator would, and waits until it listens.
func startProcess(t *testing.T, bin, cfgPath, addr string, env []string) {
	t.Helper()
	// A locked buffer: the output is read while the process still writes it.
	var out testenv.Buffer
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", addr, out.String())
		}
	})
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		select {
		case <-exited:
			t.Fatalf("%s exited before it listened:\n%s", addr, out.String())
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false, fmt.Sprintf("%s did not start: %v", addr, err)
		}
		c.Close()
		return true, ""
	})
}

// Two provider processes on different ports share one Redis, as replicas
// behind a load balancer: authorize on one, sign in on the other, redeem
// the code on the first, refresh on the second.
func TestTwoProcessesShareRedis(t *testing.T) {
	slapd := testenv.StartSlapd(t, testenv.SlapdOptions{})
	rds := testenv.StartRedis(t)
	sink := testenv.StartSMTP(t)
	workerKey, err := job.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	workerPub := job.MarshalPublicKey(workerKey.PublicKey())
	dir := t.TempDir()
	// The production binary, as operators run it (this package is not main).
	bin := filepath.Join(dir, "idp")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/region-nouvelle-aquitaine/idp/cmd/idp").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	portA, portB := testenv.FreePort(t, "127.0.0.1"), testenv.FreePort(t, "127.0.0.1")
	issuer := fmt.Sprintf("http://127.0.0.1:%d", portA)
	secret := "replica-test-client-secret-0123456789abcdef"
	sum := sha256.Sum256([]byte(secret))
	key := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	env := []string{"IDP_CRYPTO_KEY=" + key(), "IDP_COOKIE_KEY=" + key(), "IDP_LDAP_PASSWORD=" + slapd.ReaderPassword,
		"IDP_LDAPSYNC_SIGNING_KEY=" + key()}
	cb := "http://127.0.0.2:9/callback"
	for _, port := range []int{portA, portB} {
		cfg := fmt.Sprintf(`issuer: %s
listen: "127.0.0.1:%d"
insecure_loopback: true
support_url: https://mesdemarches.nouvelle-aquitaine.fr/support
log: {level: info, format: json}
redis:
  addrs: ["%s"]
secrets:
  crypto_key_env: IDP_CRYPTO_KEY
  cookie_key_env: IDP_COOKIE_KEY
clients:
  - id: site
    secret_sha256: %s
    redirect_uris: ["%s"]
ldap:
  urls: ["%s"]
  bind_dn: "%s"
  bind_password_env: IDP_LDAP_PASSWORD
  base_dn: "%s"
mail:
  host: 127.0.0.1
  port: %d
  tls: plain
ldapsync:
  public_key: %s
  signing_key_env: IDP_LDAPSYNC_SIGNING_KEY
`, issuer, port, rds.Addr, hex.EncodeToString(sum[:]), cb, slapd.URL, slapd.ReaderDN, slapd.PeopleDN, sink.Port, workerPub)
		path := filepath.Join(dir, fmt.Sprintf("idp-%d.yaml", port))
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		startProcess(t, bin, path, fmt.Sprintf("127.0.0.1:%d", port), env)
	}
	onB := func(u string) string {
		return strings.Replace(u, fmt.Sprintf(":%d/", portA), fmt.Sprintf(":%d/", portB), 1)
	}

	st := &site{URL: "http://127.0.0.2:9", ClientID: "site", Secret: secret}
	s := &stack{Issuer: issuer}
	b := newBrowserless(t, s)
	loginURL, verifier := b.authorize(st, nil) // on A
	page := b.get(onB(loginURL))               // the form, from B
	body := readAll(t, page)
	m := csrfField.FindStringSubmatch(body)
	if page.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("login form on B: %d", page.StatusCode)
	}
	u := testenv.Users()[0]
	req, _ := http.NewRequest(http.MethodPost, onB(loginURL), strings.NewReader(url.Values{"csrf_token": {m[1]}, "login": {u.UID}, "password": {u.Password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Host = strings.TrimPrefix(issuer, "http://") // a load balancer keeps the public Host
	req.Header.Set("Origin", issuer)
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login POST on B: %d", resp.StatusCode)
	}
	code := b.follow(resp.Header.Get("Location"), st) // callback on A

	a := s.token(t, st, codeForm(code, verifier, cb), true) // token on A
	if a.status != http.StatusOK || a.body["id_token"] == nil {
		t.Fatalf("token on A: %d %v", a.status, a.body)
	}
	// Code with offline_access for the refresh on B.
	// The session from B is seen by A: /authorize answers at once.
	callback, verifier := b.authorize(st, url.Values{"scope": {"openid offline_access"}})
	code = b.follow(callback, st)
	a = s.token(t, st, codeForm(code, verifier, cb), true)
	rt, _ := a.body["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("no refresh token: %v", a.body)
	}
	onBStack := &stack{Issuer: fmt.Sprintf("http://127.0.0.1:%d", portB)}
	r := onBStack.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
	if r.status != http.StatusOK || r.body["refresh_token"] == rt {
		t.Fatalf("refresh on B: %d %v", r.status, r.body)
	}
	if at, _ := r.body["access_token"].(string); at == "" || onBStack.userinfoStatus(t, s.Issuer, at) != http.StatusOK {
		t.Fatal("the access token from B is not accepted by A")
	}
}

func (s *stack) userinfoStatus(t *testing.T, base, at string) int {
	t.Helper()
	saved := s.Issuer
	s.Issuer = base
	defer func() { s.Issuer = saved }()
	return s.userinfo(t, at)
}

// The signing key in Redis is sealed: a dump of Redis does not give it,
// and a provider with another crypto key cannot use it.
func TestSigningKeySealedAtRest(t *testing.T) {
	s := startStack(t)
	if resp, err := http.Get(s.Issuer + "/keys"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("keys: %v", err)
	}
	rdb := s.Redis.Client(t)
	keys, err := rdb.Keys(context.Background(), "*sigkey*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("signing keys in Redis: %v %v", keys, err)
	}
	raw, err := rdb.HGet(context.Background(), keys[0], "d").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParsePKCS8PrivateKey(raw); err == nil {
		t.Fatal("the signing key is stored in clear")
	}
	if bytes.Contains(raw, []byte("PRIVATE KEY")) || bytes.Contains(raw, []byte(`"der"`)) {
		t.Fatal("the signing key is stored as PEM")
	}

	other := *s.cfg
	_, _ = rand.Read(other.Secrets.CryptoKey[:])
	ln, base := listen(t, "127.0.0.1")
	serveOn(t, ln, s.build(t, &other).Handler)
	resp, err := http.Get(base + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("a provider with another crypto key served the sealed key")
	}
}

// Redis down at /authorize: the site is told to try later; the provider's
// own pages say so in French.
func TestRedisDownAtAuthorize(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	s.Redis.Stop(t)
	b := newBrowserless(t, s)
	errorRedirect(t, b, b.authorizeRaw(authParams(st, nil)), st.URL+"/callback", "temporarily_unavailable")
}

// Replicas that start together race to create the signing key: one wins,
// every replica then publishes and uses that one.
func TestReplicasStartingTogether(t *testing.T) {
	s := startStack(t)
	var bases []string
	for range 4 {
		ln, base := listen(t, "127.0.0.1")
		serveOn(t, ln, s.build(t, s.cfg).Handler)
		bases = append(bases, base)
	}
	kids := make(chan string, len(bases))
	for _, base := range bases {
		go func() {
			resp, err := http.Get(base + "/keys")
			if err != nil {
				kids <- err.Error()
				return
			}
			defer resp.Body.Close()
			var jwks struct {
				Keys []struct {
					Kid string `json:"kid"`
				} `json:"keys"`
			}
			// The current key and the next one.
			if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil || len(jwks.Keys) != 2 {
				kids <- fmt.Sprintf("bad JWKS: %v", err)
				return
			}
			kids <- jwks.Keys[0].Kid + " " + jwks.Keys[1].Kid
		}()
	}
	first := <-kids
	for range len(bases) - 1 {
		if k := <-kids; k != first {
			t.Fatalf("replicas publish %q and %q", first, k)
		}
	}
}

// The provider-wide ES256 option: keys and ID tokens use it, and a strict
// client accepts them.
func TestES256(t *testing.T) {
	s := startStack(t)
	cfg := *s.cfg
	cfg.OIDC.SigningAlgorithm = "ES256"
	cfg.Redis.KeyPrefix = "es:"
	ln, base := listen(t, "127.0.0.1")
	cfg.Issuer = base
	serveOn(t, ln, s.build(t, &cfg).Handler)
	es := &stack{Issuer: base, Clock: s.Clock}
	st := s.Sites[0]
	code, verifier := newBrowserless(t, es).code(st, nil)
	a := es.token(t, st, codeForm(code, verifier, st.URL+"/callback"), true)
	raw, _ := a.body["id_token"].(string)
	p, err := oidc.NewProvider(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verifier(&oidc.Config{ClientID: st.ClientID, SupportedSigningAlgs: []string{oidc.ES256}}).Verify(context.Background(), raw); err != nil {
		t.Fatalf("ES256 id_token: %v", err)
	}
}
