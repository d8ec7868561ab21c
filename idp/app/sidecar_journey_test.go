package app_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// otherSSO plays the login page of the SSO that keeps its own login
// screen and links its « Mot de passe perdu » to this provider.
func otherSSO(t *testing.T) (loginURL string) {
	t.Helper()
	ln, base := listen(t, "127.0.0.3")
	serveOn(t, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!DOCTYPE html><html lang="fr"><title>Autre SSO</title><h1>Connexion à l’autre SSO</h1></html>`)
	}))
	return base + "/portail/?service=demarches"
}

// startSidecar is a stack in the reset-only mode, whose return_to
// allowlist holds the other SSO's login page.
func startSidecar(t *testing.T, ssoLogin string) *stack {
	t.Helper()
	return startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.Mode = config.ModeResetOnly
		c.Clients = nil
		c.Reset.ReturnTo = []string{ssoLogin}
	}})
}

// TestSidecarJourney: in the reset-only mode, in Chromium, the other SSO's
// « Mot de passe perdu » with an allowlisted return_to leads through the
// whole journey (profile, address, mailed code, new password, waiting),
// then « Continuer » back to that SSO's login page; the directory holds
// the new password and the notice is mailed. A near miss of the return_to
// gets the refusal page.
func TestSidecarJourney(t *testing.T) {
	ssoLogin := otherSSO(t)
	s := startSidecar(t, ssoLogin)
	ctx := s.browser(t)
	u := testenv.Users()[0]
	start := s.Issuer + "/mot-de-passe-perdu?return_to=" + url.QueryEscape(ssoLogin)

	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(start)); err != nil {
		t.Fatal(err)
	}
	if h1 := heading(t, ctx); h1 != "Étape 2 sur 5 : Votre situation" {
		t.Fatalf("first step: h1 %q", h1)
	}
	if err := chromedp.Do(timeout(t, ctx), chromedp.Click(field("Je suis un usager des services de la Région"))); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, button("Continuer"))
	if err := chromedp.Do(timeout(t, ctx), chromedp.SendKeys(field("Adresse électronique"), u.Mail)); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, button("Recevoir un code"))
	m := mailAfter(t, s, 0, u.Mail, codeMail)
	if err := chromedp.Do(timeout(t, ctx), chromedp.SendKeys(field("Code de sécurité"), m.Code)); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, button("Valider"))
	const fresh = "Une phrase choisie à côté d’un autre SSO"
	newPassword(t, ctx, fresh)
	click(t, ctx, link("Continuer"))
	if loc := location(t, ctx); loc != ssoLogin {
		t.Fatalf("« Continuer » leads to %s, want the other SSO's %s", loc, ssoLogin)
	}
	if h1 := text(t, ctx, "h1"); h1 != "Connexion à l’autre SSO" {
		t.Errorf("h1 %q on the other SSO's page", h1)
	}
	if !s.Slapd.Binds(t, u.UID, fresh) {
		t.Error("the directory does not hold the new password")
	}
	mailAfter(t, s, 1, u.Mail, noticeMail)

	// A near miss (a trailing slash) in the same browser: the refusal
	// page, where it was asked, never a redirect.
	near := s.Issuer + "/mot-de-passe-perdu?return_to=" + url.QueryEscape(strings.Replace(ssoLogin, "/portail/", "/portail", 1))
	resp, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(near))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusBadRequest || location(t, ctx) != near {
		t.Errorf("near miss: status %d at %s, want 400 at %s", resp.Status, location(t, ctx), near)
	}
	if h1 := text(t, ctx, "h1"); h1 != "Adresse de retour non reconnue" {
		t.Errorf("near miss: h1 %q", h1)
	}
	click(t, ctx, link("Recommencer sans adresse de retour"))
	if loc := location(t, ctx); loc != s.Issuer+"/mot-de-passe-perdu" {
		t.Errorf("« Recommencer » leads to %s", loc)
	}
}

// TestSidecarRoutes: the reset-only mode serves no OpenID endpoint (the
// French not-found page), the probes, and a short page at / .
func TestSidecarRoutes(t *testing.T) {
	s := startSidecar(t, "http://127.0.0.3:1/")
	get := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, s.Issuer+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := noRedirect().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	authorize := "/authorize?" + url.Values{
		"client_id": {"site1"}, "redirect_uri": {"http://127.0.0.2/callback"}, "response_type": {"code"}, "scope": {"openid"},
	}.Encode()
	for _, c := range []struct{ method, path string }{
		{"GET", "/.well-known/openid-configuration"}, {"GET", authorize}, {"GET", "/authorize/callback?id=x"},
		{"GET", "/login"}, {"POST", "/oauth/token"}, {"GET", "/keys"}, {"GET", "/userinfo"},
		{"GET", "/end_session"}, {"GET", "/deconnexion"}, {"GET", "/compte/mot-de-passe"},
		{"POST", "/"}, {"GET", "/no/such/page"},
	} {
		status, body := get(c.method, c.path)
		if status != http.StatusNotFound || !strings.Contains(body, "Page introuvable") || !strings.Contains(body, `lang="fr"`) {
			t.Errorf("%s %s: %d, want 404 and the French not-found page", c.method, c.path, status)
		}
	}
	for _, c := range []struct{ path, says string }{
		{"/healthz", "ok"}, {"/ready", "ok"}, {"/", "Mot de passe perdu"}, {"/mot-de-passe-perdu", "Mot de passe perdu"},
		{"/static/style.css", ""},
	} {
		if status, body := get("GET", c.path); status != http.StatusOK || !strings.Contains(body, c.says) {
			t.Errorf("GET %s: %d, want 200 saying %q", c.path, status, c.says)
		}
	}
	// No link or redirect of its pages leads to a route this mode does
	// not serve, even with a sign-in's parameter in the address, or the
	// cookie of an expired password change.
	for _, c := range []struct{ page, cookie string }{
		{"/", ""}, {"/mot-de-passe-perdu", ""}, {"/mot-de-passe-perdu?authRequestID=abc", ""},
		{"/mot-de-passe-perdu/nouveau", "idp_reset=c.gone"},
	} {
		resp, err := noRedirect().Do(mustRequest(t, s.Issuer+c.page, c.cookie))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		links := []string{resp.Header.Get("Location")}
		for _, m := range localHref.FindAllStringSubmatch(string(body), -1) {
			links = append(links, html.UnescapeString(m[1]))
		}
		for _, link := range links {
			if link == "" {
				continue
			}
			if status, _ := get("GET", link); status == http.StatusNotFound {
				t.Errorf("GET %s (cookie %q) leads to %s, which is not served here", c.page, c.cookie, link)
			}
		}
	}
}

func mustRequest(t *testing.T, u, cookie string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return req
}

// localHref finds the links of a page within its site.
var localHref = regexp.MustCompile(`href="(/[^/"][^"]*)"`)

// TestAccessibilitySidecar: the pages of the reset-only mode that no
// other test visits — / and the refusal of a return_to — pass axe-core
// and keep the layout's structure.
func TestAccessibilitySidecar(t *testing.T) {
	axe := testenv.LoadAxe(t)
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.Mode = config.ModeResetOnly
		c.Clients = nil
		c.Reset.ReturnTo = []string{"http://127.0.0.3:1/"}
		c.AccessibilityURL = "https://mesdemarches.nouvelle-aquitaine.fr/accessibilite"
	}})
	a := &a11y{t: t, axe: axe, ctx: testenv.Browser(t)}
	a.navigate(t, s.Issuer+"/")
	a.check(t, "reset-only home", "Mot de passe", "Mot de passe"+siteTitle, true)
	a.navigate(t, s.Issuer+"/mot-de-passe-perdu?return_to="+url.QueryEscape("http://127.0.0.3:1"))
	a.check(t, "return_to refused", "Adresse de retour non reconnue",
		"Adresse de retour non reconnue – Mot de passe perdu"+siteTitle, true)
}
