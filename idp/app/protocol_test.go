package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// browserless walks the code flow with a plain HTTP client and a cookie
// jar, stopping at the site's callback, and returns the code.
type browserless struct {
	t      *testing.T
	s      *stack
	client *http.Client
}

func newBrowserless(t *testing.T, s *stack) *browserless {
	jar, _ := cookiejar.New(nil)
	c := noRedirect()
	c.Jar = jar
	if s.TLS != nil {
		c.Transport = s.TLS.Transport()
	}
	return &browserless{t: t, s: s, client: c}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (b *browserless) get(u string) *http.Response {
	b.t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

// authorize starts a sign-in for site and returns where its login form
// posts, /login?authRequestID=…, which also shows the form again.
func (b *browserless) authorize(st *site, extra url.Values) (loginURL, verifier string) {
	b.t.Helper()
	verifier = oauth2.GenerateVerifier()
	q := url.Values{
		"client_id": {st.ClientID}, "redirect_uri": {st.URL + "/callback"}, "response_type": {"code"},
		"scope": {"openid email profile"}, "state": {"st4te"}, "nonce": {"n0nce"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		q[k] = v
	}
	resp := b.get(b.s.Issuer + "/authorize?" + q.Encode())
	if resp.StatusCode == http.StatusSeeOther {
		// An SSO session answered at once: the login screen's own
		// redirect, which login hands back as it is.
		resp.Body.Close()
		return resp.Header.Get("Location"), verifier
	}
	return loginFormURL(b.t, b.s, resp), verifier
}

// loginFormURL reads the login screen an authorization request answered
// with and returns where its form posts, /login?authRequestID=…, which
// also shows the form again.
func loginFormURL(t *testing.T, s *stack, resp *http.Response) string {
	t.Helper()
	body := readAll(t, resp)
	action, ok := loginAction(s.Issuer, body)
	if resp.StatusCode != http.StatusOK || !ok {
		t.Fatalf("authorize: %d without the login form, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return action
}

// login posts credentials and returns the response to the POST.
func (b *browserless) login(loginURL, user, password string) *http.Response {
	b.t.Helper()
	if !strings.HasPrefix(loginURL, b.s.Issuer+"/login?") {
		// An SSO session answered /authorize without the form: its
		// redirect, as it was.
		return &http.Response{StatusCode: http.StatusSeeOther, Header: http.Header{"Location": {loginURL}}, Body: http.NoBody}
	}
	resp := b.get(loginURL)
	if resp.StatusCode == http.StatusSeeOther {
		return resp // an SSO session answered without the form
	}
	body := readAll(b.t, resp)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no csrf token on the login page (status %d)", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, loginURL, strings.NewReader(url.Values{
		"csrf_token": {m[1]}, "login": {user}, "password": {password},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.s.Issuer)
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

// code runs the flow to the site's callback and returns the code.
func (b *browserless) code(st *site, extra url.Values) (code, verifier string) {
	b.t.Helper()
	u := testenv.Users()[0]
	loginURL, verifier := b.authorize(st, extra)
	resp := b.login(loginURL, u.UID, u.Password)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login POST answered %d, want 303 (never 307)", resp.StatusCode)
	}
	return b.follow(resp.Header.Get("Location"), st), verifier
}

// follow follows redirects on the provider until the site's callback.
func (b *browserless) follow(loc string, st *site) string {
	b.t.Helper()
	for range 5 {
		if strings.HasPrefix(loc, st.URL+"/callback?") {
			cb, _ := url.Parse(loc)
			if cb.Query().Get("state") != "st4te" {
				b.t.Fatalf("state not echoed: %s", loc)
			}
			return cb.Query().Get("code")
		}
		resp := b.get(loc)
		resp.Body.Close()
		loc = resp.Header.Get("Location")
	}
	b.t.Fatalf("never reached the callback; last Location %q", loc)
	return ""
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

type tokenAnswer struct {
	status int
	body   map[string]any
	header http.Header
}

func (s *stack) token(t *testing.T, st *site, form url.Values, basic bool) tokenAnswer {
	t.Helper()
	user, password := "", ""
	if basic {
		user, password = st.ClientID, st.Secret
	} else {
		form.Set("client_id", st.ClientID)
		form.Set("client_secret", st.Secret)
	}
	a := s.tokenRaw(t, form, user, password)
	if a.header.Get("Cache-Control") != "no-store" && a.status == http.StatusOK {
		t.Errorf("token response Cache-Control = %q", a.header.Get("Cache-Control"))
	}
	return a
}

func codeForm(code, verifier, redirect string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}
}

func TestProtocol(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]

	t.Run("discovery ignores Host", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, s.Issuer+"/.well-known/openid-configuration", nil)
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Host", "evil.example")
		resp, err := noRedirect().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if d["issuer"] != s.Issuer || !strings.HasPrefix(d["token_endpoint"].(string), s.Issuer) {
			t.Fatalf("discovery issuer=%v token_endpoint=%v", d["issuer"], d["token_endpoint"])
		}
	})

	t.Run("redirect_uri near misses never redirect", func(t *testing.T) {
		good := st.URL + "/callback"
		u, _ := url.Parse(good)
		for _, bad := range []string{
			good + "/", good + "?x=1", st.URL + "/callback/../x", strings.Replace(good, "http://", "HTTP://", 1),
			"http://sub." + u.Host + "/callback", st.URL + "/Callback", good + "#f", "", st.URL, "https://" + u.Host + "/callback",
		} {
			resp := newBrowserless(t, s).get(s.Issuer + "/authorize?" + url.Values{
				"client_id": {st.ClientID}, "redirect_uri": {bad}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"},
			}.Encode())
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("%q: status %d Location %q", bad, resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(body, `lang="fr"`) || !strings.Contains(body, "Adresse de retour non autorisée") {
				t.Errorf("%q: not the French error page", bad)
			}
		}
	})

	t.Run("code exchange with client_secret_basic and _post; single use", func(t *testing.T) {
		for _, basic := range []bool{true, false} {
			b := newBrowserless(t, s)
			code, verifier := b.code(st, nil)
			a := s.token(t, st, codeForm(code, verifier, st.URL+"/callback"), basic)
			if a.status != http.StatusOK || a.body["id_token"] == nil || a.body["access_token"] == nil {
				t.Fatalf("basic=%v: %d %v", basic, a.status, a.body)
			}
			again := s.token(t, st, codeForm(code, verifier, st.URL+"/callback"), basic)
			if again.status != http.StatusBadRequest || again.body["error"] != "invalid_grant" {
				t.Fatalf("second redemption: %d %v", again.status, again.body)
			}
		}
	})

	t.Run("wrong client secret", func(t *testing.T) {
		code, verifier := newBrowserless(t, s).code(st, nil)
		bad := *st
		bad.Secret = "wrong"
		a := s.token(t, &bad, codeForm(code, verifier, st.URL+"/callback"), true)
		if a.status != http.StatusUnauthorized || a.body["error"] != "invalid_client" {
			t.Fatalf("%d %v", a.status, a.body)
		}
	})

	t.Run("code expires after 60 s by the clock", func(t *testing.T) {
		code, verifier := newBrowserless(t, s).code(st, nil)
		s.Clock.Advance(61 * time.Second)
		a := s.token(t, st, codeForm(code, verifier, st.URL+"/callback"), true)
		if a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
			t.Fatalf("%d %v", a.status, a.body)
		}
	})

	t.Run("pending sign-in expires", func(t *testing.T) {
		b := newBrowserless(t, s)
		loginURL, _ := b.authorize(st, nil)
		s.Clock.Advance(16 * time.Minute)
		resp := b.get(loginURL)
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Connexion expirée") {
			t.Fatalf("%d, page without « Connexion expirée »", resp.StatusCode)
		}
	})

	t.Run("login POST without the form token is refused", func(t *testing.T) {
		b := newBrowserless(t, s)
		loginURL, _ := b.authorize(st, nil)
		u := testenv.Users()[0]
		req, _ := http.NewRequest(http.MethodPost, loginURL, strings.NewReader(url.Values{"login": {u.UID}, "password": {u.Password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Formulaire expiré") {
			t.Fatalf("%d", resp.StatusCode)
		}
	})

	t.Run("tokens verify with go-oidc against the JWKS", func(t *testing.T) {
		code, verifier := newBrowserless(t, s).code(st, nil)
		ctx := context.Background()
		p, err := oidc.NewProvider(ctx, s.Issuer)
		if err != nil {
			t.Fatal(err)
		}
		oc := oauth2.Config{ClientID: st.ClientID, ClientSecret: st.Secret, Endpoint: p.Endpoint(), RedirectURL: st.URL + "/callback"}
		tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := p.Verifier(&oidc.Config{ClientID: st.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		if idt.Nonce != "n0nce" {
			t.Errorf("nonce %q", idt.Nonce)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
	})
}

// Two replicas on one Redis publish the same keys (current and next): the
// first generates them, the second loads them.
func TestReplicasShareSigningKey(t *testing.T) {
	s := startStack(t)
	ln, other := listen(t, "127.0.0.1")
	serveOn(t, ln, s.build(t, s.cfg).Handler)
	var sets []string
	for _, base := range []string{other, s.Issuer} { // the new replica first
		resp, err := noRedirect().Get(base + "/keys")
		if err != nil {
			t.Fatal(err)
		}
		var jwks struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil || len(jwks.Keys) != 2 {
			t.Fatalf("%s/keys: %v %v", base, jwks, err)
		}
		resp.Body.Close()
		for _, k := range jwks.Keys {
			if k["alg"] != "RS256" {
				t.Errorf("alg %v", k["alg"])
			}
		}
		b, _ := json.Marshal(jwks.Keys)
		sets = append(sets, string(b))
	}
	if sets[0] != sets[1] {
		t.Fatalf("replicas publish different keys:\n%s\n%s", sets[0], sets[1])
	}
}
