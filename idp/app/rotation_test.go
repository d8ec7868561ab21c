package app_test

import (
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/app"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/mail"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestSecretsRotation: replicas restarted with a new crypto_key and
// cookie_key, the old ones kept as previous keys, honour what the old
// configuration made (a sign-in session, a code in flight, an opaque
// access token, a login form, a reset link mailed, a queued mail); replicas without the
// old keys refuse the access token, the form and the link, and give up a
// mail queued under the old key (an ERROR log, no crash). All share one
// Redis; a switch in front of them plays the load balancer, so the browser
// keeps the issuer's address and cookies.
func TestSecretsRotation(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	u := testenv.Users()[0]
	issuerHost := strings.TrimPrefix(s.Issuer, "http://")

	var backend atomic.Value // host:port the browser's requests to the issuer reach
	backend.Store(issuerHost)
	browser := func() *browserless {
		b := newBrowserless(t, s)
		b.client.Transport = &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr == issuerHost {
					addr = backend.Load().(string)
				}
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}
		return b
	}

	// Made under the old keys.
	b := browser()
	code, verifier := b.code(st, nil) // signs in: an SSO session
	tok := s.token(t, st, codeForm(code, verifier, st.URL+"/callback"), true)
	at, _ := tok.body["access_token"].(string)
	if tok.status != http.StatusOK || at == "" {
		t.Fatalf("token: %d %v", tok.status, tok.body)
	}
	inFlight, inFlightVerifier := b.code(st, nil)
	formB, formC := browser(), browser()
	loginB, _ := formB.authorize(st, nil)
	loginC, _ := formC.authorize(st, nil)
	csrfB, csrfC := formToken(t, formB, loginB), formToken(t, formC, loginC)
	r := resetClient{browser()}
	r.start()
	r.email(url.Values{"email": {u.Mail}}, nil)
	link := mailAfter(t, s, 0, u.Mail, codeMail).Link

	// The old replica's mail sender stops; a mail it queued waits, sealed
	// under the old key.
	s.app.Close()
	old := s.cfg.Secrets
	queueOld := func(to string) {
		t.Helper()
		key, err := mail.DeriveKey(old.CryptoKey)
		if err != nil {
			t.Fatal(err)
		}
		ob, err := mail.NewOutbox(mail.Config{Client: s.redisClient(t), Prefix: s.cfg.Redis.KeyPrefix, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		if err := ob.Enqueue(t.Context(), mail.Message{To: to, Subject: "Essai", Text: "Bonjour",
			HTML: `<html lang="fr"><body><p>Bonjour</p></body></html>`}); err != nil {
			t.Fatal(err)
		}
	}
	queueOld("queued-before@example.org")

	fresh := config.Secrets{CookieKey: make([]byte, 32)}
	_, _ = rand.Read(fresh.CryptoKey[:])
	_, _ = rand.Read(fresh.CookieKey)
	replica := func(sec config.Secrets) (*app.App, string) {
		cfg := *s.cfg
		cfg.Secrets = sec
		a := s.build(t, &cfg)
		ln, base := listen(t, "127.0.0.1")
		serveOn(t, ln, a.Handler)
		return a, strings.TrimPrefix(base, "http://")
	}
	kept := fresh
	kept.PreviousCryptoKeys, kept.PreviousCookieKeys = [][32]byte{old.CryptoKey}, [][]byte{old.CookieKey}
	appB, withOld := replica(kept)
	waitMailTo(t, s, "queued-before@example.org", 1)
	appB.Close() // its sender stops; its pages still answer
	_, withoutOld := replica(fresh)
	queueOld("queued-too-long@example.org")
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return strings.Contains(s.Logs.String(), "cannot be decrypted with this key"), "the mail queued under a removed key was not given up"
	})
	if len(mailsTo(s, "queued-too-long@example.org")) != 0 {
		t.Error("a mail queued under a removed key was sent")
	}

	// The old keys removed: what they made is refused.
	backend.Store(withoutOld)
	if got := s.userinfoStatus(t, "http://"+withoutOld, at); got != http.StatusUnauthorized {
		t.Errorf("without the old keys: userinfo with an old access token = %d, want 401", got)
	}
	if resp := postLogin(t, formC, loginC, csrfC, u); resp.StatusCode != http.StatusForbidden {
		t.Errorf("without the old keys: login with an old form = %d, want 403", resp.StatusCode)
	}
	lc := resetClient{browser()}
	lc.get(link).Body.Close()
	if tok, body := lc.formToken("/mot-de-passe-perdu/lien"); tok != "" || !strings.Contains(body, "/mot-de-passe-perdu") {
		t.Error("without the old keys: the old reset link still works")
	}

	// The old keys kept: everything made before still works.
	backend.Store(withOld)
	onB := &stack{Issuer: "http://" + withOld}
	if got := onB.userinfoStatus(t, onB.Issuer, at); got != http.StatusOK {
		t.Errorf("userinfo with an old access token = %d, want 200", got)
	}
	if a := onB.token(t, st, codeForm(inFlight, inFlightVerifier, st.URL+"/callback"), true); a.status != http.StatusOK {
		t.Errorf("code issued before, redeemed after: %d %v", a.status, a.body)
	}
	if e := b.silent(st, nil); e != "" {
		t.Errorf("the SSO session made before: prompt=none answered %q", e)
	}
	if resp := postLogin(t, formB, loginB, csrfB, u); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login with a form shown before = %d, want 303", resp.StatusCode)
	}
	lb := resetClient{browser()}
	lb.get(link).Body.Close()
	tk, _ := lb.formToken("/mot-de-passe-perdu/lien")
	if tk == "" {
		t.Fatal("the reset link mailed before is refused")
	}
	if resp, _ := lb.post("/mot-de-passe-perdu/lien", url.Values{"csrf_token": {tk}}, nil); resp.Header.Get("Location") != "/mot-de-passe-perdu/nouveau" {
		t.Errorf("reset link mailed before: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func formToken(t *testing.T, b *browserless, loginURL string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(readAll(t, b.get(loginURL)))
	if m == nil {
		t.Fatal("no form token on the login page")
	}
	return m[1]
}

func postLogin(t *testing.T, b *browserless, loginURL, token string, u testenv.User) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, loginURL, strings.NewReader(url.Values{
		"csrf_token": {token}, "login": {u.UID}, "password": {u.Password},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.s.Issuer)
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
