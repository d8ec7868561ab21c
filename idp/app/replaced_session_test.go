package app_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestReauthenticationKeepsTheSites: the same person typing the password
// again in the same browser (a site's prompt=login) gets a new session id,
// but the sites signed in through the previous one stay signed in: their
// refresh tokens still work, and a later logout ends them too.
func TestReauthenticationKeepsTheSites(t *testing.T) {
	s := startStack(t)
	site1, site2 := s.Sites[0], s.Sites[1]
	offline := url.Values{"scope": {"openid offline_access"}}
	b, tok := signedIn(t, s, site1, offline)
	rt := tok["refresh_token"].(string)

	code, verifier := b.code(site2, url.Values{"prompt": {"login"}})
	if a := s.token(t, site2, codeForm(code, verifier, site2.URL+"/callback"), true); a.status != http.StatusOK {
		t.Fatalf("token after prompt=login: %d %v", a.status, a.body)
	}
	s.Clock.Advance(time.Minute)
	a := s.token(t, site1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
	if a.status != http.StatusOK {
		t.Fatalf("site 1's refresh after the person signed in again: %d %v", a.status, a.body)
	}
	rt = a.body["refresh_token"].(string)
	if e := b.silent(site1, nil); e != "" {
		t.Errorf("silent sign-in on site 1: %q", e)
	}

	resp := b.get(s.Issuer + "/end_session?" + url.Values{"id_token_hint": {a.body["id_token"].(string)},
		"post_logout_redirect_uri": {site1.URL + "/"}}.Encode())
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if a := s.token(t, site1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); a.body["error"] != "invalid_grant" {
		t.Errorf("site 1's refresh token survived the logout: %d %v", a.status, a.body)
	}
}

// TestJourneyReplacedSession: in a browser the sites see as one person's,
// the sites learn (back-channel logout) when the provider's session they
// signed in through ends by being replaced. Another person signing in on
// the same computer ends the first one's sites; the same person typing
// the password again keeps them, and a later logout ends them all.
func TestJourneyReplacedSession(t *testing.T) { overSchemes(t, testJourneyReplacedSession) }

func testJourneyReplacedSession(t *testing.T, https bool) {
	s := startStackWith(t, stackOptions{HTTPS: https})
	site1, site2 := s.Sites[0], s.Sites[1]
	users := testenv.Users()
	reauth := func(t *testing.T, ctx context.Context, u testenv.User) {
		t.Helper()
		if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(site2.URL+"/start?prompt=login")); err != nil {
			t.Fatal(err)
		}
		signIn(t, ctx, u.UID, u.Password)
		if !siteSignedIn(t, ctx, site2) {
			t.Fatal("site 2 does not show the second sign-in")
		}
	}

	t.Run("another person", func(t *testing.T) {
		ctx := s.browser(t)
		visit(t, ctx, site1)
		signIn(t, ctx, users[0].UID, users[0].Password)
		if !siteSignedIn(t, ctx, site1) {
			t.Fatal("site 1 does not show the person signed in")
		}
		reauth(t, ctx, users[1])
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			return !siteSignedIn(t, ctx, site1), "site 1 still shows the first person signed in"
		})
	})
	t.Run("the same person, then logout", func(t *testing.T) {
		ctx := s.browser(t)
		visit(t, ctx, site1)
		signIn(t, ctx, users[0].UID, users[0].Password)
		reauth(t, ctx, users[0])
		time.Sleep(time.Second) // a back-channel logout would be delivered by now
		if !siteSignedIn(t, ctx, site1) {
			t.Fatal("site 1 was signed out when the same person typed the password again")
		}
		if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(s.Issuer+"/")); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(button("Se déconnecter"))); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			return !siteSignedIn(t, ctx, site1) && !siteSignedIn(t, ctx, site2), "a site still shows the person signed in after logout"
		})
	})
}
