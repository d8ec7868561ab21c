package app_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

var cspNonce = regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9+/=_-]{22,})'`)

// TestSecurityHeadersEveryRoute checks the security headers on every route, error
// pages and redirects included, through the real server.
func TestSecurityHeadersEveryRoute(t *testing.T) {
	s := startStack(t)
	st, user := s.Sites[0], testenv.Users()[0]
	v := newVisitor(t, s)
	loginURL, token := v.start()
	authorize := s.Issuer + "/authorize?" + url.Values{"client_id": {st.ClientID}, "redirect_uri": {st.URL + "/callback"},
		"response_type": {"code"}, "scope": {"openid"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"}}.Encode()
	sameOrigin := http.Header{"Sec-Fetch-Site": {"same-origin"}}
	form := func(login, password string) string {
		return url.Values{"csrf_token": {token}, "login": {login}, "password": {password}}.Encode()
	}
	routes := []struct {
		name, method, url, body string
		header                  http.Header
		status                  int
		cacheable               bool
		referrer                string // "" means strict-origin-when-cross-origin
	}{
		{"login screen, at authorize", "GET", authorize, "", nil, 200, false, ""},
		{"login page", "GET", loginURL, "", nil, 200, false, ""},
		{"login failure", "POST", loginURL, form(user.UID, "wrong"), sameOrigin, 200, false, ""},
		{"login success (303)", "POST", loginURL, form(user.UID, user.Password), sameOrigin, 303, false, ""},
		{"landing", "GET", s.Issuer + "/", "", nil, 200, false, ""},
		{"change password (signed in)", "GET", s.Issuer + "/compte/mot-de-passe", "", nil, 200, false, ""},
		{"change password, cross-site POST", "POST", s.Issuer + "/compte/mot-de-passe", "x=1", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, false, ""},
		{"logout confirmation", "GET", s.Issuer + "/deconnexion", "", nil, 200, false, ""},
		{"end_session", "GET", s.Issuer + "/end_session", "", nil, 200, false, ""},
		{"lost password", "GET", s.Issuer + "/mot-de-passe-perdu", "", nil, 200, false, "no-referrer"},
		{"support page", "GET", s.Issuer + "/support", "", nil, 200, false, ""},
		{"lost password, cross-site POST", "POST", s.Issuer + "/mot-de-passe-perdu", "x=1", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, false, "no-referrer"},
		{"authorize, signed in (303 to the site)", "GET", authorize, "", nil, 303, false, ""},
		{"authorize, unknown client (400)", "GET", s.Issuer + "/authorize?client_id=nobody", "", nil, 400, false, ""},
		{"discovery", "GET", s.Issuer + "/.well-known/openid-configuration", "", nil, 200, true, ""},
		{"keys", "GET", s.Issuer + "/keys", "", nil, 200, true, ""},
		{"stylesheet", "GET", s.Issuer + "/static/style.css", "", nil, 200, true, ""},
		{"token endpoint error (no client authentication)", "POST", s.Issuer + "/oauth/token", "grant_type=authorization_code&code=x", nil, 401, false, ""},
		{"userinfo without token", "GET", s.Issuer + "/userinfo", "", nil, 401, false, ""},
		{"404", "GET", s.Issuer + "/nulle-part", "", nil, 404, false, ""},
		{"403 cross-site", "POST", loginURL, form(user.UID, user.Password), http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, false, ""},
		{"405", "PUT", loginURL, "", nil, 405, false, ""},
		{"413", "POST", loginURL, strings.Repeat("a", 70<<10), sameOrigin, 413, false, ""},
	}
	wantFormAction := []string{st.URL, s.Sites[1].URL}
	for _, u := range []string{s.cfg.Reset.EluURL, s.cfg.Reset.AgentLyceesURL, s.cfg.Reset.AgentSiegeURL, s.cfg.Reset.SupportURL, s.cfg.SupportURL} {
		if o := origin(t, u); !slices.Contains(wantFormAction, o) {
			wantFormAction = append(wantFormAction, o)
		}
	}
	slices.Sort(wantFormAction)
	wantFormAction = append([]string{"'self'"}, wantFormAction...)
	seen := map[string]string{}
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			resp := v.do(r.method, r.url, r.body, r.header)
			resp.Body.Close()
			if resp.StatusCode != r.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, r.status)
			}
			h := resp.Header
			csp := h.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'none'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'self' "} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP lacks %q: %s", d, csp)
				}
			}
			// The sites' origins, so that the redirect after the login POST
			// reaches them, and those of the pages « Mot de passe perdu »
			// sends élus, agents and support to; nothing wider.
			formAction := strings.Fields(strings.Split(strings.SplitAfter(csp, "form-action ")[1], ";")[0])
			if !slices.Equal(formAction, wantFormAction) {
				t.Errorf("form-action %q, want %q", formAction, wantFormAction)
			}
			m := cspNonce.FindStringSubmatch(csp)
			if m == nil {
				t.Fatalf("CSP without a nonce of at least 128 bits: %s", csp)
			}
			if other, dup := seen[m[1]]; dup {
				t.Errorf("nonce already sent for %s", other)
			}
			seen[m[1]] = r.name
			referrer := r.referrer
			if referrer == "" {
				referrer = "strict-origin-when-cross-origin"
			}
			for k, want := range map[string]string{
				"X-Content-Type-Options": "nosniff", "Cross-Origin-Opener-Policy": "same-origin", "Referrer-Policy": referrer,
				// An http issuer: HSTS would be meaningless (and is ignored by browsers).
				"Strict-Transport-Security": "",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if cc := h.Get("Cache-Control"); r.cacheable == (cc == "no-store") {
				t.Errorf("Cache-Control = %q", cc)
			}
		})
	}
}

// TestHSTSWithHTTPSIssuer builds the provider for an https issuer and
// asks it directly: every answer, page or not, carries HSTS.
func TestHSTSWithHTTPSIssuer(t *testing.T) {
	s := startStack(t)
	cfg := *s.cfg
	cfg.Issuer, cfg.PublicURL = "https://connexion.example.org", "https://connexion.example.org"
	a := s.build(t, &cfg)
	for _, path := range []string{"/login", "/nulle-part", "/.well-known/openid-configuration", "/static/style.css", "/mot-de-passe-perdu"} {
		rec := httptest.NewRecorder()
		a.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, cfg.Issuer+path, nil))
		if got := rec.Header().Get("Strict-Transport-Security"); got != "max-age=63072000; includeSubDomains" {
			t.Errorf("%s: Strict-Transport-Security = %q", path, got)
		}
	}
}
