package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// visit starts a sign-in at rp and reports whether the person went
// straight back to the site (a live SSO session) or saw the login screen.
func visit(t *testing.T, ctx context.Context, rp *site) (silent bool) {
	t.Helper()
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(rp.URL+"/start")); err != nil {
		t.Fatal(err)
	}
	loc := location(t, ctx)
	switch {
	case loc == rp.URL+"/":
		return true
	case strings.Contains(loc, "/authorize?"):
		return false
	}
	t.Fatalf("unexpected page %s", loc)
	return false
}

// TestJourneySessionExpiry: the SSO session ends after 30 min
// without use, and 12 h after sign-in however much it is used.
func TestJourneySessionExpiry(t *testing.T) {
	s := startStack(t)
	ctx := testenv.Browser(t)
	site1, site2 := s.Sites[0], s.Sites[1]
	u := testenv.Users()[0]

	if visit(t, ctx, site1) {
		t.Fatal("signed in before signing in")
	}
	signIn(t, ctx, u.UID, u.Password)

	s.Clock.Advance(29 * time.Minute)
	if !visit(t, ctx, site2) {
		t.Fatal("29 minutes idle: the session should still be there")
	}
	s.Clock.Advance(31 * time.Minute)
	if visit(t, ctx, site1) {
		t.Fatal("31 minutes idle: the session should have ended")
	}

	signIn(t, ctx, u.UID, u.Password)
	used := time.Duration(0)
	for used < 12*time.Hour-25*time.Minute {
		s.Clock.Advance(25 * time.Minute)
		used += 25 * time.Minute
		if !visit(t, ctx, site2) {
			t.Fatalf("in use for %v: the session ended early", used)
		}
	}
	s.Clock.Advance(25 * time.Minute)
	if visit(t, ctx, site2) {
		t.Fatal("past 12 hours: the session should have ended however much it was used")
	}
}

// TestJourneyLogout: from the provider's landing page, « Se déconnecter »
// ends the session for every site; and a site's logout with its ID token
// returns to the site.
func TestJourneyLogout(t *testing.T) {
	s := startStack(t)
	ctx := testenv.Browser(t)
	site1, site2 := s.Sites[0], s.Sites[1]
	u := testenv.Users()[0]

	visit(t, ctx, site1)
	signIn(t, ctx, u.UID, u.Password)
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(s.Issuer+"/")); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, ctx, "h1"); h1 != "Votre session est ouverte" {
		t.Fatalf("landing page h1 %q", h1)
	}
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(button("Se déconnecter"))); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, ctx, "h1"); h1 != "Déconnexion effectuée" {
		t.Fatalf("after logout h1 %q", h1)
	}
	if visit(t, ctx, site2) {
		t.Fatal("the session survived the logout")
	}

	// RP-initiated logout with the ID token: back to the site, signed out.
	signIn(t, ctx, u.UID, u.Password)
	res := site2.Last()
	if res == nil {
		t.Fatal("site 2 has no tokens")
	}
	u2 := s.Issuer + "/end_session?id_token_hint=" + res.RawIDToken + "&post_logout_redirect_uri=" + site2.URL + "/&state=fin"
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(u2)); err != nil {
		t.Fatal(err)
	}
	if loc := location(t, ctx); loc != site2.URL+"/?state=fin" {
		t.Fatalf("after the site's logout the browser is at %s", loc)
	}
	if visit(t, ctx, site1) {
		t.Fatal("the session survived the site's logout")
	}
}
