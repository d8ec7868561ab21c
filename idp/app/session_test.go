package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// signedIn returns a browserless client with an SSO session and the
// token response of its first sign-in to st.
func signedIn(t *testing.T, s *stack, st *site, extra url.Values) (*browserless, map[string]any) {
	t.Helper()
	b := newBrowserless(t, s)
	code, verifier := b.code(st, extra)
	a := s.token(t, st, codeForm(code, verifier, st.URL+"/callback"), true)
	if a.status != http.StatusOK {
		t.Fatalf("token: %d %v", a.status, a.body)
	}
	return b, a.body
}

// silent tries a prompt=none sign-in and returns the error (empty when a
// code came back).
func (b *browserless) silent(st *site, extra url.Values) string {
	b.t.Helper()
	q := authParams(st, url.Values{"prompt": {"none"}})
	for k, v := range extra {
		q[k] = v
	}
	loc := b.authorizeRaw(q).Header.Get("Location")
	for range 4 {
		if strings.HasPrefix(loc, st.URL+"/callback?") {
			u, _ := url.Parse(loc)
			if u.Query().Get("iss") != b.s.Issuer {
				b.t.Errorf("no iss in %s", loc)
			}
			if c := u.Query().Get("code"); c != "" {
				return ""
			}
			return u.Query().Get("error")
		}
		resp := b.get(loc)
		resp.Body.Close()
		loc = resp.Header.Get("Location")
	}
	b.t.Fatalf("prompt=none never came back to the site; last Location %q", loc)
	return ""
}

// formShown reports whether an authorization request shows the login form
// (instead of a silent sign-in).
func (b *browserless) formShown(st *site, extra url.Values) bool {
	b.t.Helper()
	resp := b.get(b.s.Issuer + "/authorize?" + authParams(st, extra).Encode())
	body := readAll(b.t, resp)
	return resp.StatusCode == http.StatusOK && strings.Contains(body, `name="password"`)
}

func TestPromptAndMaxAge(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	b, tok := signedIn(t, s, st, nil)

	idt, err := verifyID(s, st, tok["id_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AuthTime int64    `json:"auth_time"`
		AMR      []string `json:"amr"`
	}
	_ = idt.Claims(&claims)
	if d := s.Clock.Now().Unix() - claims.AuthTime; d < 0 || d > 5 || len(claims.AMR) != 1 || claims.AMR[0] != "pwd" {
		t.Errorf("auth_time=%d amr=%v, want %d and [pwd]", claims.AuthTime, claims.AMR, s.Clock.Now().Unix())
	}

	if e := b.silent(st, nil); e != "" {
		t.Fatalf("prompt=none with a session: %s", e)
	}
	if !b.formShown(st, url.Values{"prompt": {"login"}}) {
		t.Error("prompt=login did not ask for the password")
	}
	if !b.formShown(st, url.Values{"max_age": {"0"}}) {
		t.Error("max_age=0 did not ask for the password")
	}
	if b.formShown(st, url.Values{"max_age": {"3600"}}) {
		t.Error("max_age=3600 asked again one second after sign-in")
	}
	s.Clock.Advance(2 * time.Hour)
	if !b.formShown(st, url.Values{"max_age": {"3600"}}) {
		t.Error("max_age=3600 did not ask again two hours later")
	}
	if e := newBrowserless(t, s).silent(st, nil); e != "login_required" {
		t.Errorf("prompt=none in another browser: %q, want login_required", e)
	}
}

func TestRPInitiatedLogout(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	endSession := func(b *browserless, q url.Values) *http.Response {
		t.Helper()
		return b.get(s.Issuer + "/end_session?" + q.Encode())
	}

	t.Run("with id_token_hint and a registered URI", func(t *testing.T) {
		b, tok := signedIn(t, s, st, url.Values{"scope": {"openid offline_access"}})
		resp := endSession(b, url.Values{"id_token_hint": {tok["id_token"].(string)}, "post_logout_redirect_uri": {st.URL + "/"}, "state": {"bye"}})
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != st.URL+"/?state=bye" {
			t.Fatalf("%d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if e := b.silent(st, nil); e != "login_required" {
			t.Errorf("after logout prompt=none gives %q, want login_required", e)
		}
		if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true); a.body["error"] != "invalid_grant" {
			t.Errorf("refresh token survived logout: %d %v", a.status, a.body)
		}
	})

	t.Run("unregistered post_logout_redirect_uri", func(t *testing.T) {
		b, tok := signedIn(t, s, st, nil)
		resp := endSession(b, url.Values{"id_token_hint": {tok["id_token"].(string)}, "post_logout_redirect_uri": {"https://evil.example/"}})
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, "Demande de déconnexion incorrecte") {
			t.Fatalf("%d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if e := b.silent(st, nil); e != "" {
			t.Errorf("the session ended anyway: %s", e)
		}
	})

	t.Run("a forged hint", func(t *testing.T) {
		b, tok := signedIn(t, s, st, nil)
		forged := tok["id_token"].(string)
		forged = forged[:len(forged)-4] + "AAAA"
		resp := endSession(b, url.Values{"id_token_hint": {forged}, "post_logout_redirect_uri": {st.URL + "/"}})
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `lang="fr"`) {
			t.Fatalf("%d", resp.StatusCode)
		}
	})

	t.Run("without a hint: confirmation, no redirect", func(t *testing.T) {
		b, _ := signedIn(t, s, st, nil)
		resp := endSession(b, url.Values{"client_id": {st.ClientID}, "post_logout_redirect_uri": {st.URL + "/"}, "state": {"x"}})
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || !strings.Contains(body, "Voulez-vous vous déconnecter") {
			t.Fatalf("%d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if e := b.silent(st, nil); e != "" {
			t.Fatalf("the session ended before confirmation: %s", e)
		}
		m := csrfField.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no form token on the confirmation page")
		}
		post := func(origin string) *http.Response {
			req, _ := http.NewRequest(http.MethodPost, s.Issuer+"/deconnexion", strings.NewReader(url.Values{"csrf_token": {m[1]}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", origin)
			resp, err := b.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		if r := post("https://evil.example"); r.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site confirmation: %d", r.StatusCode)
		}
		r := post(s.Issuer)
		page := readAll(t, r)
		if r.StatusCode != http.StatusOK || !strings.Contains(page, "Déconnexion effectuée") {
			t.Fatalf("confirmation: %d", r.StatusCode)
		}
		if e := b.silent(st, nil); e != "login_required" {
			t.Errorf("after confirmed logout prompt=none gives %q", e)
		}
	})
}

func verifyID(s *stack, st *site, raw string) (*oidc.IDToken, error) {
	p, err := oidc.NewProvider(context.Background(), s.Issuer)
	if err != nil {
		return nil, err
	}
	return p.Verifier(&oidc.Config{ClientID: st.ClientID}).Verify(context.Background(), raw)
}

// A client we did not write, used as documented, completes everything:
// code + PKCE, ID token checks, userinfo, refresh with rotation, logout.
func TestStrictClientLibrary(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, s.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	oc := &oauth2.Config{ClientID: st.ClientID, ClientSecret: st.Secret, Endpoint: p.Endpoint(),
		RedirectURL: st.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess}}
	verifier := p.Verifier(&oidc.Config{ClientID: st.ClientID, SupportedSigningAlgs: []string{oidc.RS256}})

	b := newBrowserless(t, s)
	pkce := oauth2.GenerateVerifier()
	authURL := oc.AuthCodeURL("st4te", oidc.Nonce("n0nce"), oauth2.S256ChallengeOption(pkce))
	u := testenv.Users()[0]
	r := b.login(loginFormURL(t, s, b.get(authURL)), u.UID, u.Password)
	r.Body.Close()
	code := b.follow(r.Header.Get("Location"), st)

	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := verifier.Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != "n0nce" || idt.Subject != s.Slapd.EntryUUID(t, u.UID) {
		t.Fatalf("id_token nonce %q sub %q", idt.Nonce, idt.Subject)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != idt.Subject || ui.Email != u.Mail {
		t.Fatalf("userinfo %+v %v", ui, err)
	}

	// Refresh through the library's own token source: force it by expiring.
	old := *tok
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := oc.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == old.RefreshToken || fresh.AccessToken == old.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	if raw, ok := fresh.Extra("id_token").(string); !ok {
		t.Error("no id_token on refresh")
	} else if idt2, err := verifier.Verify(ctx, raw); err != nil || idt2.Subject != idt.Subject {
		t.Errorf("refreshed id_token: %v", err)
	}
	if _, err := oc.TokenSource(ctx, &oauth2.Token{RefreshToken: old.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token(); err == nil {
		t.Error("the rotated-away refresh token still works")
	}

	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil || meta.EndSession != s.Issuer+"/end_session" {
		t.Fatalf("end_session_endpoint %q %v", meta.EndSession, err)
	}
	out := b.get(meta.EndSession + "?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {st.URL + "/"}}.Encode())
	out.Body.Close()
	if out.StatusCode != http.StatusFound || out.Header.Get("Location") != st.URL+"/" {
		t.Fatalf("logout: %d %q", out.StatusCode, out.Header.Get("Location"))
	}
}
