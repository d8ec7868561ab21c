package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

const siegeLabel = "Je suis un agent du siège"

// upstreamStack is the stack with zitadel's example provider, on its own
// loopback host, as the upstream of « Je suis un agent du siège ».
func upstreamStack(t *testing.T, https bool) (*stack, *testenv.Upstream) {
	t.Helper()
	return upstreamStackWith(t, https, nil)
}

// upstreamStackWith is upstreamStack with edit applied to both upstreams'
// configuration.
func upstreamStackWith(t *testing.T, https bool, edit func(*config.Upstream)) (*stack, *testenv.Upstream) {
	t.Helper()
	var up *testenv.Upstream
	s := startStackWith(t, stackOptions{HTTPS: https, Config: func(c *config.Config) {
		up = testenv.StartUpstreamWith(t, testenv.UpstreamOptions{
			RedirectURIs:           []string{c.PublicURL + login.UpstreamCallbackPath("siege"), c.PublicURL + login.UpstreamCallbackPath("elus")},
			PostLogoutRedirectURIs: []string{c.PublicURL + login.UpstreamLogoutPath("siege"), c.PublicURL + login.UpstreamLogoutPath("elus")},
		})
		siege := config.Upstream{
			ID: "siege", Issuer: up.Issuer, ClientID: up.ClientID, ClientSecret: up.ClientSecret,
			Scopes: []string{"openid", "email", "profile"}, Userinfo: true,
			Claims: config.UpstreamClaims{
				Email: "email", EmailVerified: "email_verified", Name: "name",
				GivenName: "given_name", FamilyName: "family_name", Username: "preferred_username",
			},
		}
		if edit != nil {
			edit(&siege)
		}
		// « élus »: the same provider behind a discovery document that
		// names another issuer, so its ID tokens carry the wrong one.
		elus := siege
		elus.ID, elus.Issuer = "elus", otherIssuer(t, up.Issuer)
		c.Upstreams = []config.Upstream{siege, elus}
		c.Profiles = config.DefaultProfiles(c.Reset)
		for i := range c.Profiles {
			switch c.Profiles[i].ID {
			case config.ProfileAgentSiege:
				c.Profiles[i].SignIn = config.Route{Via: config.ViaUpstream, Upstream: "siege"}
			case config.ProfileElu:
				c.Profiles[i].SignIn = config.Route{Via: config.ViaUpstream, Upstream: "elus"}
			}
		}
	}})
	return s, up
}

// otherIssuer serves issuer's discovery document under another address
// that it claims as the issuer, every endpoint left at issuer: discovery
// succeeds, and the ID tokens then name an issuer that is not this one.
func otherIssuer(t *testing.T, issuer string) string {
	t.Helper()
	var self string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(issuer + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var doc map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if r.URL.Path == "/.well-known/openid-configuration" {
			doc["issuer"] = self
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	self = srv.URL
	return self
}

// toUpstream: a fresh browser goes from the site to the login screen and
// clicks « Je suis un agent du siège »; it returns the browser, at the
// upstream's login form, and that form's address.
func toUpstream(t *testing.T, s *stack, up *testenv.Upstream) (context.Context, string) {
	t.Helper()
	return toUpstreamAs(t, s, up, siegeLabel)
}

// toUpstreamAs is toUpstream through the button labelled label.
func toUpstreamAs(t *testing.T, s *stack, up *testenv.Upstream, label string) (context.Context, string) {
	t.Helper()
	ctx := s.browser(t)
	if err := chromedp.Do(timeout(t, ctx), chromedp.Navigate(s.Sites[0].URL+"/start"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	if loc := location(t, ctx); !strings.HasPrefix(loc, s.Issuer+"/authorize?") {
		t.Fatalf("login screen at %s", loc)
	}
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(link(label))); err != nil {
		t.Fatalf("click %q: %v", label, err)
	}
	loc := location(t, ctx)
	if !strings.HasPrefix(loc, up.Issuer+"/") {
		t.Fatalf("after the click the browser is at %s, want the upstream", loc)
	}
	return ctx, loc
}

// upstreamLogin fills in the upstream's own form in the browser, which
// must then be at want.
func upstreamLogin(t *testing.T, ctx context.Context, up *testenv.Upstream, want string) {
	t.Helper()
	if _, err := chromedp.RunResponse(timeout(t, ctx),
		chromedp.SendKeys(chromedp.CSS("#username"), up.Username),
		chromedp.SendKeys(chromedp.CSS("#password"), up.Password),
		chromedp.Click(button("Login")),
	); err != nil {
		t.Fatalf("upstream login: %v", err)
	}
	if loc := location(t, ctx); loc != want {
		t.Fatalf("after the upstream the browser is at %s (%q), want %s", loc, text(t, ctx, "main"), want)
	}
}

// openPage opens u and returns the status and h1 of the page it ends on.
func openPage(t *testing.T, ctx context.Context, u string) (int, string) {
	t.Helper()
	resp, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(u))
	if err != nil {
		t.Fatalf("navigate: %v", err)
	}
	return int(resp.Status), text(t, ctx, "h1")
}

func TestJourneyUpstreamSignIn(t *testing.T) { overSchemes(t, testJourneyUpstreamSignIn) }

func testJourneyUpstreamSignIn(t *testing.T, https bool) {
	s, up := upstreamStack(t, https)
	rp := s.Sites[0]
	ctx, _ := toUpstream(t, s, up)
	upstreamLogin(t, ctx, up, rp.URL+"/")
	res := rp.Last()
	if res == nil {
		t.Fatal("the site has no tokens")
	}
	wantSub := "siege." + up.Subject
	if res.IDToken.Subject != wantSub || res.IDToken.Issuer != s.Issuer {
		t.Errorf("id_token sub=%q iss=%q, want %q and %q", res.IDToken.Subject, res.IDToken.Issuer, wantSub, s.Issuer)
	}
	for k, want := range map[string]any{
		"idp": "siege", "email": up.Email, "email_verified": true, "given_name": up.GivenName,
		"family_name": up.FamilyName, "preferred_username": up.PreferredUsername,
	} {
		if res.Claims[k] != want {
			t.Errorf("id_token %s = %v, want %v", k, res.Claims[k], want)
		}
	}
	if amr, _ := res.Claims["amr"].([]any); !slices.Contains(amr, any("pwd")) {
		t.Errorf("id_token amr = %v, want the upstream's [pwd]", res.Claims["amr"])
	}
	if res.UserInfoErr != nil || res.UserInfo["sub"] != wantSub || res.UserInfo["idp"] != "siege" || res.UserInfo["email"] != up.Email {
		t.Errorf("userinfo = %v (%v)", res.UserInfo, res.UserInfoErr)
	}
	if !strings.Contains(s.Logs.String(), `"audit":"signin.success","sub":"`+wantSub+`"`) || !strings.Contains(s.Logs.String(), `"idp":"siege"`) {
		t.Error("no audit record of the federated sign-in with its source")
	}

	// The SSO session serves the second site too.
	other := s.Sites[1]
	if err := chromedp.Do(timeout(t, ctx), chromedp.Navigate(other.URL+"/start"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	if r := other.Last(); r == nil || r.IDToken.Subject != wantSub {
		t.Errorf("second site got %+v", r)
	}

	t.Run("idp_hint skips the choice", func(t *testing.T) {
		ctx := s.browser(t)
		if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(rp.URL+"/start?idp_hint="+config.ProfileAgentSiege)); err != nil {
			t.Fatal(err)
		}
		if loc := location(t, ctx); !strings.HasPrefix(loc, up.Issuer+"/") {
			t.Fatalf("with the hint the browser is at %s, want the upstream without the login screen", loc)
		}
		upstreamLogin(t, ctx, up, rp.URL+"/")
		if r := rp.Last(); r == nil || r.IDToken.Subject != wantSub || r.Claims["idp"] != "siege" {
			t.Errorf("site got %+v", r)
		}
	})
	t.Run("replayed state", func(t *testing.T) {
		ctx, form := toUpstream(t, s, up)
		back, err := up.SignIn(form)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(back.String())); err != nil {
			t.Fatal(err)
		}
		if loc := location(t, ctx); loc != rp.URL+"/" {
			t.Fatalf("first return: browser at %s", loc)
		}
		if status, h1 := openPage(t, ctx, back.String()); status != http.StatusBadRequest || h1 != "Connexion expirée" {
			t.Errorf("replay: %d %q", status, h1)
		}
	})
	t.Run("forged state", func(t *testing.T) {
		ctx, _ := toUpstream(t, s, up)
		forged := s.Issuer + login.UpstreamCallbackPath("siege") + "?" + url.Values{"state": {"forged"}, "code": {"x"}}.Encode()
		if status, h1 := openPage(t, ctx, forged); status != http.StatusBadRequest || h1 != "Connexion expirée" {
			t.Errorf("forged: %d %q", status, h1)
		}
	})
	t.Run("another browser", func(t *testing.T) {
		_, form := toUpstream(t, s, up) // the attacker's own sign-in
		back, err := up.SignIn(form)
		if err != nil {
			t.Fatal(err)
		}
		victim := s.browser(t)
		if status, h1 := openPage(t, victim, back.String()); status != http.StatusBadRequest || h1 != "Connexion ouverte dans un autre navigateur" {
			t.Errorf("in another browser: %d %q", status, h1)
		}
	})
	t.Run("upstream refusing", func(t *testing.T) {
		ctx, form := toUpstream(t, s, up)
		back, err := up.SignIn(form)
		if err != nil {
			t.Fatal(err)
		}
		// What the upstream sends when the person (or its policy) says
		// no: the same state, an error instead of a code.
		refused := s.Issuer + login.UpstreamCallbackPath("siege") + "?" + url.Values{
			"state": {back.Query().Get("state")}, "error": {"access_denied"}, "error_description": {"User denied"},
		}.Encode()
		status, h1 := openPage(t, ctx, refused)
		if status != http.StatusForbidden || !strings.HasPrefix(h1, "Connexion refusée par ") {
			t.Fatalf("refused: %d %q", status, h1)
		}
		if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(link("Retour à la page de connexion"))); err != nil {
			t.Fatal(err)
		}
		if h1 := text(t, ctx, "h1"); h1 != "Connexion" {
			t.Errorf("way back leads to %q", h1)
		}
	})
	t.Run("ID token from another issuer", func(t *testing.T) {
		ctx, form := toUpstreamAs(t, s, up, "Je suis un élu de la Région")
		back, err := up.SignIn(form)
		if err != nil {
			t.Fatal(err)
		}
		if status, h1 := openPage(t, ctx, back.String()); status != http.StatusBadGateway || h1 != "La connexion n’a pas abouti" {
			t.Errorf("wrong issuer: %d %q", status, h1)
		}
		if !strings.Contains(s.Logs.String(), "issuer does not match") {
			t.Error("the failure was not the ID token's issuer")
		}
		if rp.Last() != nil && strings.HasPrefix(rp.Last().IDToken.Subject, "elus.") {
			t.Error("the site received tokens for the wrong-issuer sign-in")
		}
	})
	t.Run("upstream down", func(t *testing.T) {
		ctx, form := toUpstream(t, s, up)
		back, err := up.SignIn(form)
		if err != nil {
			t.Fatal(err)
		}
		up.Stop()
		defer up.Start()
		if status, h1 := openPage(t, ctx, back.String()); status != http.StatusServiceUnavailable || h1 != "Service momentanément indisponible" {
			t.Fatalf("upstream down: %d %q", status, h1)
		}
		if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(link("Retour à la page de connexion"))); err != nil {
			t.Fatal(err)
		}
		if h1 := text(t, ctx, "h1"); h1 != "Connexion" {
			t.Errorf("way back leads to %q", h1)
		}
		n, err := chromedp.Run(timeout(t, ctx), chromedp.Evaluate[int](`[...document.querySelectorAll('a')].filter(a => a.textContent.trim() === `+jsString(siegeLabel)+`).length`))
		if err != nil || n != 1 {
			t.Errorf("the way back has %d %q buttons (%v)", n, siegeLabel, err)
		}
	})
}

// TestUpstreamHintAtAuthorize: a site's idp_hint reaches the login
// screen through /authorize, which the library alone would drop.
func TestUpstreamHintAtAuthorize(t *testing.T) {
	s, _ := upstreamStack(t, false)
	rp := s.Sites[0]
	for hint, want := range map[string]string{
		config.ProfileAgentSiege: "/login/upstream/siege?authRequestID=",
		config.ProfileUsager:     "", // the form only
		"Mal formé!":             "", // ignored
		"inconnu":                "", // no such profile: ignored
		config.ProfileSupport:    "", // a profile that does not sign in here: ignored
	} {
		t.Run(hint, func(t *testing.T) {
			jar, _ := cookiejar.New(nil)
			c := noRedirect()
			c.Jar = jar
			q := url.Values{
				"client_id": {rp.ClientID}, "redirect_uri": {rp.URL + "/callback"}, "response_type": {"code"},
				"scope": {"openid"}, "state": {"st"}, "nonce": {"n"}, "idp_hint": {hint},
			}
			// /authorize answers with the login screen, or with its
			// redirect straight to the hinted profile's provider.
			resp, err := c.Get(s.Issuer + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := resp.Header.Get("Location")
			buttons := strings.Contains(string(body), `href="/login/upstream/siege?`)
			switch {
			case want == "" && (resp.StatusCode != http.StatusOK || buttons != (hint != config.ProfileUsager)):
				t.Errorf("login screen: %d to %q, buttons %v", resp.StatusCode, got, buttons)
			case want != "" && (resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(got, want)):
				t.Errorf("login screen: %d to %q, want 303 to %s…", resp.StatusCode, got, want)
			}
		})
	}
}

// TestAccessibilityUpstream: the login screen with the élus' and agents'
// buttons, and the page of a refusal by the upstream, pass the checks
// every page gets.
func TestAccessibilityUpstream(t *testing.T) {
	axe := testenv.LoadAxe(t)
	s, up := upstreamStack(t, false)
	a := &a11y{t: t, axe: axe, ctx: testenv.Browser(t)}
	a.navigate(t, s.Sites[0].URL+"/start")
	a.check(t, "login screen with upstream buttons", "Connexion", "Connexion"+siteTitle, true)
	if _, err := chromedp.RunResponse(timeout(t, a.ctx), chromedp.Click(link(siegeLabel))); err != nil {
		t.Fatal(err)
	}
	back, err := up.SignIn(location(t, a.ctx))
	if err != nil {
		t.Fatal(err)
	}
	q := back.Query()
	q.Del("code")
	q.Set("error", "access_denied")
	back.RawQuery = q.Encode()
	a.navigate(t, back.String())
	a.check(t, "refused by the upstream", "Connexion refusée par le service de connexion de la Région", "", true)
}
