package app_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestEveryFormRouteRefusesCrossSite: each route that takes a
// form refuses a cross-site POST with the French 403 page, before its
// handler runs.
func TestEveryFormRouteRefusesCrossSite(t *testing.T) {
	s := startStack(t)
	for _, path := range []string{"/login?authRequestID=x", "/mot-de-passe-perdu", "/deconnexion"} {
		for _, h := range []http.Header{
			{"Sec-Fetch-Site": {"cross-site"}},
			{"Origin": {"https://evil.example"}},
		} {
			got := read(t, newVisitor(t, s).do(http.MethodPost, s.Issuer+path, "csrf_token=x", h))
			if got.status != http.StatusForbidden || got.h1 != "Formulaire expiré" {
				t.Errorf("POST %s with %v: %d %q, want 403 « Formulaire expiré »", path, h, got.status, got.h1)
			}
		}
	}
}

// TestLogoutForgery: a signed-in person's session survives a forged
// « Se déconnecter » (cross-site, or with another browser's token); the
// genuine form still works.
func TestLogoutForgery(t *testing.T) {
	s := startStack(t)
	b := newBrowserless(t, s)
	b.code(s.Sites[0], nil) // signed in at the provider
	v := &visitor{t: t, s: s, c: b.client}
	landing := func() answer { return read(t, v.do(http.MethodGet, s.Issuer+"/", "", nil)) }
	page := landing()
	m := csrfField.FindStringSubmatch(page.body)
	if page.h1 != "Votre session est ouverte" || m == nil {
		t.Fatalf("landing page: %q, form token found: %v", page.h1, m != nil)
	}
	own := m[1]
	other := newVisitor(t, s)
	_, otherToken := other.start()
	for _, c := range []struct {
		name   string
		token  string
		header http.Header
	}{
		{"cross-site", own, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"foreign Origin", own, http.Header{"Origin": {"https://evil.example"}}},
		{"token of another browser", otherToken, http.Header{"Sec-Fetch-Site": {"same-origin"}}},
		{"no token", "", http.Header{"Sec-Fetch-Site": {"same-origin"}}},
	} {
		got := read(t, v.do(http.MethodPost, s.Issuer+"/deconnexion", url.Values{"csrf_token": {c.token}}.Encode(), c.header))
		if got.status != http.StatusForbidden || got.h1 != "Formulaire expiré" {
			t.Errorf("%s: %d %q, want 403 « Formulaire expiré »", c.name, got.status, got.h1)
		}
		checkErrorPage(t, got)
		if h1 := landing().h1; h1 != "Votre session est ouverte" {
			t.Fatalf("%s: after the forged logout the landing page says %q", c.name, h1)
		}
	}
	got := read(t, v.do(http.MethodPost, s.Issuer+"/deconnexion", url.Values{"csrf_token": {own}}.Encode(), http.Header{"Sec-Fetch-Site": {"same-origin"}}))
	if got.status != http.StatusOK || got.h1 != "Déconnexion effectuée" {
		t.Errorf("genuine logout: %d %q", got.status, got.h1)
	}
}
