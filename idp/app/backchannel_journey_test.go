package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// siteSignedIn reports whether the site's own page shows the person
// signed in (its claims), without going through the provider.
func siteSignedIn(t *testing.T, ctx context.Context, rp *site) bool {
	t.Helper()
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(rp.URL+"/")); err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(timeout(t, ctx), chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	// The link to sign in is always there; the claims only when signed in.
	return strings.Contains(body, "Informations reçues du fournisseur")
}

// TestJourneyBackchannelLogout: signed in on two sites, a logout at the
// provider ends both sites' own sessions through their back-channel
// endpoints.
func TestJourneyBackchannelLogout(t *testing.T) {
	s := startStack(t)
	ctx := testenv.Browser(t)
	site1, site2 := s.Sites[0], s.Sites[1]
	u := testenv.Users()[0]

	resp := newBrowserless(t, s).get(s.Issuer + "/.well-known/openid-configuration")
	var disco map[string]any
	err := json.NewDecoder(resp.Body).Decode(&disco)
	resp.Body.Close()
	if err != nil || disco["backchannel_logout_supported"] != true || disco["backchannel_logout_session_supported"] != true {
		t.Fatalf("discovery does not offer back-channel logout with sid: %v %v", err, disco)
	}

	visit(t, ctx, site1)
	signIn(t, ctx, u.UID, u.Password)
	if !visit(t, ctx, site2) {
		t.Fatal("no single sign-on on site 2")
	}
	if !siteSignedIn(t, ctx, site1) || !siteSignedIn(t, ctx, site2) {
		t.Fatal("the sites do not show the person signed in")
	}
	if sid1, sid2 := site1.Last().Claims["sid"], site2.Last().Claims["sid"]; sid1 == nil || sid1 != sid2 {
		t.Fatalf("sid of the ID tokens: %v and %v, want the one session's", sid1, sid2)
	}
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(s.Issuer+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(button("Se déconnecter"))); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return !siteSignedIn(t, ctx, site1) && !siteSignedIn(t, ctx, site2), "a site still shows the person signed in"
	})
}

// TestJourneyBackchannelPasswordReset: a new password set through
// « Mot de passe perdu » in another browser ends every session of the
// person, and both sites are told.
func TestJourneyBackchannelPasswordReset(t *testing.T) {
	s := startStack(t)
	ctx := testenv.Browser(t)
	site1, site2 := s.Sites[0], s.Sites[1]
	u := testenv.Users()[0]

	visit(t, ctx, site1)
	signIn(t, ctx, u.UID, u.Password)
	if !visit(t, ctx, site2) || !siteSignedIn(t, ctx, site1) || !siteSignedIn(t, ctx, site2) {
		t.Fatal("not signed in on both sites")
	}
	// « Mot de passe perdu » in a third browser, with its own cookies.
	third := testenv.Browser(t)
	step := func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(timeout(t, third), actions...); err != nil {
			t.Fatalf("reset in the third browser: %v (at %s)", err, location(t, third))
		}
	}
	const fresh = "Une phrase de passe toute neuve"
	step(chromedp.Navigate(s.Issuer+"/mot-de-passe-perdu"), chromedp.Click(field("Je suis un usager des services de la Région")))
	step(chromedp.Click(button("Continuer")), chromedp.WaitVisible(field("Adresse électronique")))
	step(chromedp.SendKeys(field("Adresse électronique"), u.Mail), chromedp.Click(button("Recevoir un code")), chromedp.WaitVisible(field("Code de sécurité")))
	m := mailAfter(t, s, 0, u.Mail, codeMail)
	step(chromedp.SendKeys(field("Code de sécurité"), m.Code), chromedp.Click(button("Valider")), chromedp.WaitVisible(field("Nouveau mot de passe")))
	step(chromedp.SendKeys(field("Nouveau mot de passe"), fresh), chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), fresh),
		chromedp.Click(button("Valider")),
		chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="Votre mot de passe a été modifié"]`)))
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return !siteSignedIn(t, ctx, site1) && !siteSignedIn(t, ctx, site2), "a site still shows the person signed in"
	})
	if !binds(t, s, u.UID, fresh) {
		t.Error("the directory does not have the new password")
	}
}

// TestJourneyBackchannelSiteDown: a site whose back-channel endpoint is
// down when the person logs out is told once it is back, within the
// retry bound; the other site at once.
func TestJourneyBackchannelSiteDown(t *testing.T) {
	s := startStack(t)
	ctx := testenv.Browser(t)
	site1, site2 := s.Sites[0], s.Sites[1]
	u := testenv.Users()[0]

	visit(t, ctx, site1)
	signIn(t, ctx, u.UID, u.Password)
	if !visit(t, ctx, site2) {
		t.Fatal("no single sign-on on site 2")
	}
	site2.BackchannelDown.Store(true)
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(s.Issuer+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(button("Se déconnecter"))); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return !siteSignedIn(t, ctx, site1), "site 1 still shows the person signed in"
	})
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return strings.Contains(s.Logs.String(), "backchannel: logout token not delivered, will retry"), "no failed attempt at site 2"
	})
	if !siteSignedIn(t, ctx, site2) {
		t.Fatal("site 2 was signed out while its back-channel endpoint was down")
	}
	site2.BackchannelDown.Store(false)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return !siteSignedIn(t, ctx, site2), "site 2 still shows the person signed in after it came back"
	})
}
