package app_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestAccessibilityChange visits every page and error state of « Changer
// mon mot de passe » while signed in: axe-core finds nothing, and the
// titles name the journey, not « Mot de passe perdu ».
func TestAccessibilityChange(t *testing.T) {
	axe := testenv.LoadAxe(t)
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.AccessibilityURL = "https://mesdemarches.nouvelle-aquitaine.fr/accessibilite"
	}})
	a := &a11y{t: t, axe: axe, ctx: testenv.Browser(t)}
	u := testenv.Users()[0]
	title := func(step string, failed bool) string {
		t := step + siteTitle
		if failed {
			return "Erreur\u00a0: " + t
		}
		return t
	}
	do := func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.RunResponse(timeout(t, a.ctx), actions...); err != nil {
			t.Fatal(err)
		}
	}

	startAt(t, a.ctx, s.Sites[0])
	signIn(t, a.ctx, u.UID, u.Password)
	a.navigate(t, s.Issuer+"/")
	a.check(t, "landing, signed in", "Votre session est ouverte", title("Votre session est ouverte", false), true)
	do(chromedp.Click(link("Changer mon mot de passe")))
	a.check(t, "current password", "Changer mon mot de passe", title("Mot de passe actuel – Changer mon mot de passe", false), true)
	do(chromedp.Click(button("Continuer")))
	a.check(t, "current password, empty", "Changer mon mot de passe", title("Mot de passe actuel – Changer mon mot de passe", true), true)
	do(chromedp.SendKeys(field("Mot de passe actuel"), "Pas-le-bon-1"), chromedp.Click(button("Continuer")))
	a.check(t, "current password, wrong", "Changer mon mot de passe", title("Mot de passe actuel – Changer mon mot de passe", true), true)
	if got := attr(t, a, "#actuel", "aria-invalid"); got != "true" {
		t.Errorf("wrong current password: aria-invalid=%q", got)
	}
	do(chromedp.SendKeys(field("Mot de passe actuel"), u.Password), chromedp.Click(button("Continuer")))
	const step = "Nouveau mot de passe – Changer mon mot de passe"
	a.check(t, "new password (change)", "Votre nouveau mot de passe", title(step, false), true)
	do(chromedp.SendKeys(field("Nouveau mot de passe"), "court"), chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), "court"),
		chromedp.Click(button("Valider")))
	a.check(t, "new password (change), too short", "Votre nouveau mot de passe", title(step, true), true)
	const pw = "Une phrase changée et accessible"
	do(chromedp.SendKeys(field("Nouveau mot de passe"), pw), chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), pw),
		chromedp.Click(button("Valider")))
	if err := chromedp.Do(timeout(t, a.ctx), chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="Votre mot de passe a été modifié"]`))); err != nil {
		t.Fatalf("no success page: %v", err)
	}
	a.check(t, "success (change)", "Votre mot de passe a été modifié", title("Mot de passe modifié – Changer mon mot de passe", false), true)
	do(chromedp.Click(link("Continuer")))
	a.check(t, "landing, still signed in", "Votre session est ouverte", title("Votre session est ouverte", false), true)
	a.navigate(t, s.Issuer+"/compte/mot-de-passe?expire=1")
	a.check(t, "current password, after an expired change", "Changer mon mot de passe", title("Mot de passe actuel – Changer mon mot de passe", false), true)
}
