package app_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// In Chromium: an attacker's browser asks for a code for the victim's
// address; the victim opens the genuine mailed link in her own browser
// and presses « Continuer ». The attacker's browser then gets a polite
// page, never the new-password form; the victim's browser sets the
// password.
func TestResetJourneyLinkTakesTheFlowAway(t *testing.T) {
	overSchemes(t, testResetJourneyLinkTakesTheFlowAway)
}

func testResetJourneyLinkTakesTheFlowAway(t *testing.T, https bool) {
	s := startStackWith(t, stackOptions{HTTPS: https})
	attacker, victim := s.browser(t), s.browser(t)
	rp := s.Sites[0]
	u := testenv.Users()[2]
	startAt(t, attacker, rp)
	askForCode(t, attacker, u.Mail)
	m := mailAfter(t, s, 0, u.Mail, codeMail)

	if _, err := chromedp.RunResponse(timeout(t, victim), chromedp.Navigate(m.Link)); err != nil {
		t.Fatal(err)
	}
	click(t, victim, button("Continuer"))
	if h1 := heading(t, victim); h1 != "Étape 5 sur 5 : Nouveau mot de passe" {
		t.Fatalf("the victim's browser after « Continuer »: h1 %q", h1)
	}

	// The attacker's browser, still on the code page, goes to the
	// new-password page.
	if _, err := chromedp.RunResponse(timeout(t, attacker), chromedp.Navigate(s.Issuer+"/mot-de-passe-perdu/nouveau")); err != nil {
		t.Fatal(err)
	}
	if h1 := heading(t, attacker); h1 == "Étape 5 sur 5 : Nouveau mot de passe" {
		t.Fatal("the attacker's browser reached the victim's new-password page")
	}
	if got := text(t, attacker, "main"); !strings.Contains(got, "Votre demande précédente a expiré") {
		t.Errorf("the attacker's browser shows %q, want the address page saying the request expired", got)
	}

	const fresh = "Choisi par la vraie personne"
	if err := chromedp.Do(timeout(t, victim),
		chromedp.SendKeys(field("Nouveau mot de passe"), fresh),
		chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), fresh),
	); err != nil {
		t.Fatal(err)
	}
	click(t, victim, button("Valider"))
	if err := chromedp.Do(timeout(t, victim), chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="Votre mot de passe a été modifié"]`))); err != nil {
		t.Fatalf("no success page in the victim's browser: %v", err)
	}
	if !binds(t, s, u.UID, fresh) {
		t.Fatal("the directory does not hold the victim's new password")
	}
}
