package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// authorizeRaw sends an authorization request and returns where the
// provider answers (no redirect followed).
func (b *browserless) authorizeRaw(q url.Values) *http.Response {
	b.t.Helper()
	resp := b.get(b.s.Issuer + "/authorize?" + q.Encode())
	resp.Body.Close()
	return resp
}

func authParams(st *site, extra url.Values) url.Values {
	q := url.Values{
		"client_id": {st.ClientID}, "redirect_uri": {st.URL + "/callback"}, "response_type": {"code"},
		"scope": {"openid email profile"}, "state": {"st4te"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return q
}

// errorRedirect checks an authorization error response sent back to the
// site: the registered redirect URI with error, state and iss.
// b is the browser that sent the request: the provider's own pages on
// the way serve only the browser that started the sign-in.
func errorRedirect(t *testing.T, b *browserless, resp *http.Response, redirectURI, wantErr string) {
	t.Helper()
	s := b.s
	loc := resp.Header.Get("Location")
	// Through the provider's own pages (the login screen answers prompt=none).
	for range 3 {
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, s.Issuer+"/") {
			break
		}
		resp = b.get(loc)
		resp.Body.Close()
		loc = resp.Header.Get("Location")
	}
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, redirectURI+"?") {
		t.Fatalf("status %d Location %q, want a redirect to %s", resp.StatusCode, loc, redirectURI)
	}
	u, _ := url.Parse(loc)
	q := u.Query()
	if q.Get("error") != wantErr || q.Get("state") != "st4te" || q.Get("iss") != s.Issuer || q.Has("code") {
		t.Fatalf("error response %s, want error=%s state=st4te iss=%s", loc, wantErr, s.Issuer)
	}
}

func TestAuthorizationResponses(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]

	t.Run("discovery lists only what is supported", func(t *testing.T) {
		resp, err := http.Get(s.Issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		for key, want := range map[string]string{
			"authorization_response_iss_parameter_supported": "true",
			"response_types_supported":                       "[code]",
			"response_modes_supported":                       "[query]",
			"code_challenge_methods_supported":               "[S256]",
			"grant_types_supported":                          "[authorization_code refresh_token]",
			"issuer":                                         s.Issuer,
		} {
			if got := strings.Trim(strings.ReplaceAll(jsonString(d[key]), `"`, ""), " "); got != want {
				t.Errorf("%s = %s, want %s", key, got, want)
			}
		}
	})

	t.Run("iss on a successful response", func(t *testing.T) {
		b := newBrowserless(t, s)
		loginURL, _ := b.authorize(st, nil)
		resp := b.login(loginURL, testenv.Users()[0].UID, testenv.Users()[0].Password)
		resp.Body.Close()
		cb := resp.Header.Get("Location")
		for range 3 {
			if strings.HasPrefix(cb, st.URL) {
				break
			}
			r := b.get(cb)
			r.Body.Close()
			cb = r.Header.Get("Location")
		}
		u, _ := url.Parse(cb)
		if u.Query().Get("iss") != s.Issuer || u.Query().Get("code") == "" {
			t.Fatalf("callback %s lacks code or iss", cb)
		}
	})

	cases := []struct {
		name    string
		params  url.Values
		wantErr string
	}{
		{"response_type token", url.Values{"response_type": {"token"}}, "unsupported_response_type"},
		{"response_type id_token", url.Values{"response_type": {"id_token"}}, "unsupported_response_type"},
		{"hybrid", url.Values{"response_type": {"code id_token"}}, "unsupported_response_type"},
		{"form_post", url.Values{"response_mode": {"form_post"}}, "invalid_request"},
		{"fragment", url.Values{"response_mode": {"fragment"}}, "invalid_request"},
		{"no openid scope", url.Values{"scope": {"email"}}, "invalid_scope"},
		{"PKCE plain", url.Values{"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"plain"}}, "invalid_request"},
		{"PKCE without method means plain", url.Values{"code_challenge": {strings.Repeat("a", 43)}}, "invalid_request"},
		{"prompt=none without session", url.Values{"prompt": {"none"}}, "login_required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBrowserless(t, s)
			errorRedirect(t, b, b.authorizeRaw(authParams(st, c.params)), st.URL+"/callback", c.wantErr)
		})
	}
	t.Run("public client without PKCE", func(t *testing.T) {
		q := url.Values{"client_id": {"public"}, "redirect_uri": {st.URL + "/public/callback"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"st4te"}}
		b := newBrowserless(t, s)
		errorRedirect(t, b, b.authorizeRaw(q), st.URL+"/public/callback", "invalid_request")
	})
}

func jsonString(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = jsonString(x)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case bool:
		if v {
			return "true"
		}
		return "false"
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func TestTokenEndpointNegatives(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	cb := st.URL + "/callback"

	t.Run("grant types that do not exist here", func(t *testing.T) {
		for _, gt := range []string{"password", "client_credentials", "implicit"} {
			a := s.token(t, st, url.Values{"grant_type": {gt}, "username": {"jdupont"}, "password": {"x"}, "scope": {"openid"}}, true)
			if a.status != http.StatusBadRequest || a.body["error"] != "unsupported_grant_type" {
				t.Errorf("%s: %d %v", gt, a.status, a.body)
			}
		}
	})

	t.Run("PKCE", func(t *testing.T) {
		b := newBrowserless(t, s)
		code, verifier := b.code(st, nil)
		wrong := oauth2.GenerateVerifier()
		if a := s.token(t, st, codeForm(code, wrong, cb), true); a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
			t.Errorf("wrong verifier: %d %v", a.status, a.body)
		}
		code, _ = b.code(st, nil)
		if a := s.token(t, st, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cb}}, true); a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
			t.Errorf("missing verifier: %d %v", a.status, a.body)
		}
		code = b.codeWithout(st)
		if a := s.token(t, st, codeForm(code, verifier, cb), true); a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
			t.Errorf("verifier without challenge (downgrade): %d %v", a.status, a.body)
		}
	})

	t.Run("code bound to its redirect_uri", func(t *testing.T) {
		code, verifier := newBrowserless(t, s).code(st, nil)
		if a := s.token(t, st, codeForm(code, verifier, st.URL+"/other"), true); a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
			t.Errorf("%d %v", a.status, a.body)
		}
	})

	t.Run("code bound to its client", func(t *testing.T) {
		code, verifier := newBrowserless(t, s).code(st, nil)
		other := s.Sites[1]
		if a := s.token(t, other, codeForm(code, verifier, cb), true); a.status == http.StatusOK {
			t.Errorf("another client redeemed the code: %v", a.body)
		}
	})

	// Without offline access the access token is saved by the script that
	// spends the code, with offline access by the refresh family's own
	// calls: a replay revokes both kinds.
	for _, scope := range []string{"openid email", "openid email offline_access"} {
		t.Run("replayed code revokes its tokens/"+scope, func(t *testing.T) {
			code, verifier := newBrowserless(t, s).code(st, url.Values{"scope": {scope}})
			first := s.token(t, st, codeForm(code, verifier, cb), true)
			at, rt := first.body["access_token"].(string), first.body["refresh_token"]
			if first.status != http.StatusOK || at == "" || (rt != nil) != strings.Contains(scope, "offline_access") {
				t.Fatalf("first redemption: %d %v", first.status, first.body)
			}
			if got := s.userinfo(t, at); got != http.StatusOK {
				t.Fatalf("userinfo before replay: %d", got)
			}
			again := s.token(t, st, codeForm(code, verifier, cb), true)
			if again.status != http.StatusBadRequest || again.body["error"] != "invalid_grant" {
				t.Fatalf("replay: %d %v", again.status, again.body)
			}
			if got := s.userinfo(t, at); got != http.StatusUnauthorized && got != http.StatusForbidden {
				t.Errorf("userinfo with the first access token after replay: %d", got)
			}
			if rt == nil {
				return
			}
			if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt.(string)}}, true); a.body["error"] != "invalid_grant" {
				t.Errorf("refresh after replay: %d %v", a.status, a.body)
			}
		})
	}

	t.Run("refresh rotation, reuse detection, absolute lifetime", func(t *testing.T) {
		code, verifier := newBrowserless(t, s).code(st, url.Values{"scope": {"openid email offline_access"}})
		r1 := s.token(t, st, codeForm(code, verifier, cb), true).body["refresh_token"].(string)
		second := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r1}}, true)
		r2, _ := second.body["refresh_token"].(string)
		if second.status != http.StatusOK || r2 == "" || r2 == r1 || second.body["id_token"] == nil {
			t.Fatalf("rotation: %d %v", second.status, second.body)
		}
		if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r1}}, true); a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
			t.Fatalf("reuse of R1: %d %v", a.status, a.body)
		}
		if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r2}}, true); a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
			t.Fatalf("R2 after reuse of R1 (family revoked): %d %v", a.status, a.body)
		}

		code, verifier = newBrowserless(t, s).code(st, url.Values{"scope": {"openid offline_access"}})
		r := s.token(t, st, codeForm(code, verifier, cb), true).body["refresh_token"].(string)
		s.Clock.Advance(12*time.Hour + time.Second)
		if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r}}, true); a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
			t.Fatalf("refresh past 12 h: %d %v", a.status, a.body)
		}
	})

	t.Run("refresh token of another client", func(t *testing.T) {
		code, verifier := newBrowserless(t, s).code(st, url.Values{"scope": {"openid offline_access"}})
		r := s.token(t, st, codeForm(code, verifier, cb), true).body["refresh_token"].(string)
		if a := s.token(t, s.Sites[1], url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r}}, true); a.status == http.StatusOK {
			t.Fatalf("another client refreshed: %v", a.body)
		}
	})

	t.Run("introspection and revocation", func(t *testing.T) {
		code, verifier := newBrowserless(t, s).code(st, url.Values{"scope": {"openid email offline_access"}})
		tok := s.token(t, st, codeForm(code, verifier, cb), true).body
		at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
		if in := s.introspect(t, st, at); in["active"] != true || in["client_id"] != st.ClientID || in["sub"] == nil {
			t.Fatalf("introspection of a live token: %v", in)
		}
		if in := s.introspect(t, s.Sites[1], at); in["active"] != false {
			t.Errorf("another client introspected the token: %v", in)
		}
		if st := s.revoke(t, st, at, "access_token"); st != http.StatusOK {
			t.Fatalf("revoke access token: %d", st)
		}
		if in := s.introspect(t, st, at); in["active"] != false {
			t.Errorf("introspection after revocation: %v", in)
		}
		if st := s.revoke(t, st, rt, "refresh_token"); st != http.StatusOK {
			t.Fatalf("revoke refresh token: %d", st)
		}
		if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); a.body["error"] != "invalid_grant" {
			t.Errorf("refresh after revocation: %d %v", a.status, a.body)
		}
	})

	t.Run("JWT access tokens for the client that asks", func(t *testing.T) {
		jwtSite := &site{URL: st.URL + "/jwt", ClientID: "jwt", Secret: jwtClientSecret}
		code, verifier := newBrowserless(t, s).code(jwtSite, nil)
		tok := s.token(t, jwtSite, codeForm(code, verifier, jwtSite.URL+"/callback"), true).body
		at, _ := tok["access_token"].(string)
		if strings.Count(at, ".") != 2 {
			t.Fatalf("access token %q is not a JWT", at)
		}
		p, err := oidc.NewProvider(context.Background(), s.Issuer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.VerifierContext(context.Background(), &oidc.Config{SkipClientIDCheck: true}).Verify(context.Background(), at); err != nil {
			t.Fatalf("JWT access token does not verify against the JWKS: %v", err)
		}
		if got := s.userinfo(t, at); got != http.StatusOK {
			t.Errorf("userinfo with a JWT access token: %d", got)
		}
		// The default stays opaque.
		code, verifier = newBrowserless(t, s).code(st, nil)
		if at := s.token(t, st, codeForm(code, verifier, cb), true).body["access_token"].(string); strings.Count(at, ".") == 2 {
			t.Errorf("default access token is a JWT, want opaque: %q", at)
		}
	})
}

// codeWithout runs a flow without PKCE and returns the code.
func (b *browserless) codeWithout(st *site) string {
	b.t.Helper()
	resp := b.get(b.s.Issuer + "/authorize?" + authParams(st, nil).Encode())
	if resp.StatusCode == http.StatusSeeOther {
		resp.Body.Close()
		return b.follow(resp.Header.Get("Location"), st) // an SSO session answered
	}
	u := testenv.Users()[0]
	r := b.login(loginFormURL(b.t, b.s, resp), u.UID, u.Password)
	r.Body.Close()
	return b.follow(r.Header.Get("Location"), st)
}

func (s *stack) userinfo(t *testing.T, accessToken string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.Issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (s *stack) postForm(t *testing.T, st *site, path string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.Issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(st.ClientID), url.QueryEscape(st.Secret))
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (s *stack) introspect(t *testing.T, st *site, token string) map[string]any {
	t.Helper()
	resp := s.postForm(t, st, "/oauth/introspect", url.Values{"token": {token}})
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body
}

func (s *stack) revoke(t *testing.T, st *site, token, hint string) int {
	t.Helper()
	resp := s.postForm(t, st, "/revoke", url.Values{"token": {token}, "token_type_hint": {hint}})
	resp.Body.Close()
	return resp.StatusCode
}
