package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// at opens the site's sign-in and says where the browser stays: the
// site's page when an SSO session answers, the login screen otherwise.
func at(t *testing.T, ctx context.Context, s *stack, st *site) string {
	t.Helper()
	startAt(t, ctx, st)
	switch loc := location(t, ctx); {
	case strings.HasPrefix(loc, st.URL+"/"):
		return "site"
	case strings.HasPrefix(loc, s.Issuer+"/authorize?") && text(t, ctx, "h1") == "Connexion":
		return "login"
	default:
		return loc
	}
}

// click runs one click and waits for the page it leads to.
func click(t *testing.T, ctx context.Context, sel chromedp.Search) {
	t.Helper()
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(sel)); err != nil {
		t.Fatalf("click: %v (at %s)", err, location(t, ctx))
	}
}

// askForCode goes from the login screen through « Mot de passe perdu »
// as an usager and asks for a code for address.
func askForCode(t *testing.T, ctx context.Context, address string) {
	t.Helper()
	click(t, ctx, link("Mot de passe perdu"))
	codeFor(t, ctx, address)
}

// codeFor chooses « usager » on the profile step of « Mot de passe
// perdu » and asks for a code for address.
func codeFor(t *testing.T, ctx context.Context, address string) {
	t.Helper()
	if err := chromedp.Do(timeout(t, ctx), chromedp.Click(field("Je suis un usager des services de la Région"))); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, button("Continuer"))
	if err := chromedp.Do(timeout(t, ctx), chromedp.SendKeys(field("Adresse électronique"), address)); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, button("Recevoir un code"))
}

// newPassword types pw twice on the new-password step and waits for the
// success page.
func newPassword(t *testing.T, ctx context.Context, pw string) {
	t.Helper()
	if err := chromedp.Do(timeout(t, ctx),
		chromedp.SendKeys(field("Nouveau mot de passe"), pw),
		chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), pw),
		chromedp.Click(button("Valider")),
		chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="Votre mot de passe a été modifié"]`)),
	); err != nil {
		t.Fatalf("no success page: %v (at %s)", err, location(t, ctx))
	}
}

// TestJourneyAfterChange runs the signed-in password change in Chromium against two directories:
// a person signed in on two sites in one browser and on one site in
// another resets the password in a third while the second directory is
// down; the waiting screen waits and says so, both directories get the
// password once it is back, and both browsers are signed out. Then,
// signed in again in two browsers, the person changes the password from
// the landing page of one: that one stays signed in, the other is signed
// out. Each change sends the notice.
func TestJourneyAfterChange(t *testing.T) { overSchemes(t, testJourneyAfterChange) }

func testJourneyAfterChange(t *testing.T, https bool) {
	s := startStackWith(t, stackOptions{Second: &testenv.SlapdOptions{}, HTTPS: https})
	u := testenv.Users()[0]
	site1, site2 := s.Sites[0], s.Sites[1]
	waitPolicies(t, s, 2)

	first, other := s.browser(t), s.browser(t)
	startAt(t, first, site1)
	signIn(t, first, u.UID, u.Password)
	if got := at(t, first, s, site2); got != "site" {
		t.Fatalf("SSO to the second site: %s", got)
	}
	startAt(t, other, site1)
	signIn(t, other, u.UID, u.Password)

	// The reset, in a third browser, while the second directory is down.
	s.Second.Stop(t)
	third := s.browser(t)
	startAt(t, third, site1)
	askForCode(t, third, u.Mail)
	code := mailAfter(t, s, 0, u.Mail, codeMail).Code
	if err := chromedp.Do(timeout(t, third), chromedp.SendKeys(field("Code de sécurité"), code)); err != nil {
		t.Fatal(err)
	}
	click(t, third, button("Valider"))
	const reset = "Une phrase choisie pendant la panne"
	if err := chromedp.Do(timeout(t, third),
		chromedp.SendKeys(field("Nouveau mot de passe"), reset),
		chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), reset),
		chromedp.Click(button("Valider")),
		chromedp.WaitVisible(chromedp.ID("etat-lent")),
	); err != nil {
		t.Fatalf("the waiting screen never said a directory is slow: %v (at %s)", err, location(t, third))
	}
	if got := text(t, third, "#etat"); !strings.Contains(got, "La messagerie des lycées ne répond pas") ||
		!strings.Contains(got, "déjà enregistré dans l’annuaire des usagers") {
		t.Errorf("the waiting screen says %q", got)
	}
	s.Second.Start(t)
	if err := chromedp.Do(timeout(t, third), chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="Votre mot de passe a été modifié"]`))); err != nil {
		t.Fatalf("the waiting screen did not move on once the directory was back: %v", err)
	}
	if !s.Slapd.Binds(t, u.UID, reset) || !s.Second.Binds(t, u.UID, reset) {
		t.Fatal("the new password is not in both directories")
	}
	mailAfter(t, s, 1, u.Mail, noticeMail)
	for name, b := range map[string]context.Context{"first browser": first, "other browser": other} {
		for _, st := range []*site{site1, site2} {
			if got := at(t, b, s, st); got != "login" {
				t.Errorf("%s on %s after the reset: %s, want the login screen", name, st.ClientID, got)
			}
		}
	}

	// Signed in again in two browsers; the change is made in the first.
	startAt(t, first, site1)
	signIn(t, first, u.UID, reset)
	startAt(t, other, site1)
	signIn(t, other, u.UID, reset)
	if err := chromedp.Do(timeout(t, first), chromedp.Navigate(s.Issuer+"/"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	click(t, first, link("Changer mon mot de passe"))
	if err := chromedp.Do(timeout(t, first), chromedp.SendKeys(field("Mot de passe actuel"), reset)); err != nil {
		t.Fatal(err)
	}
	click(t, first, button("Continuer"))
	const changed = "Une phrase changée en restant connecté"
	newPassword(t, first, changed)
	if got := text(t, first, "[role=status]"); !strings.Contains(got, "Votre connexion sur cet appareil est conservée") {
		t.Errorf("success page: %q", got)
	}
	mailAfter(t, s, 2, u.Mail, noticeMail) // revocation ran before it was queued
	if got := at(t, first, s, site2); got != "site" {
		t.Errorf("the browser that changed the password: %s, want still signed in", got)
	}
	if got := at(t, other, s, site1); got != "login" {
		t.Errorf("the other browser after the change: %s, want the login screen", got)
	}
	if !s.Slapd.Binds(t, u.UID, changed) || !s.Second.Binds(t, u.UID, changed) || s.Slapd.Binds(t, u.UID, reset) {
		t.Error("the changed password is not the one in both directories")
	}
}
