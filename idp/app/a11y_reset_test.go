package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestAccessibilityReset visits every page and error state of « Mot de
// passe perdu », steps 1 to 4: axe-core finds nothing, and the page
// structure, titles and help link hold (§7).
func TestAccessibilityReset(t *testing.T) {
	axe := testenv.LoadAxe(t)
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.AccessibilityURL = "https://mesdemarches.nouvelle-aquitaine.fr/accessibilite"
	}})
	a := &a11y{t: t, axe: axe, ctx: testenv.Browser(t)}
	u := testenv.Users()[0]
	title := func(step string, failed bool) string {
		t := step + " – Mot de passe perdu" + siteTitle
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

	a.navigate(t, s.Sites[0].URL+"/start")
	do(chromedp.Click(chromedp.Search(`//a[normalize-space()="Mot de passe perdu"]`)))
	a.check(t, "profile", "Étape 2 sur 5\u00a0: Votre situation", title("Votre situation", false), true)
	if legend := text(t, a.ctx, "fieldset > legend"); legend == "" {
		t.Error("the choices have no legend")
	}
	do(chromedp.Click(button("Continuer")))
	a.check(t, "profile, nothing chosen", "Étape 2 sur 5\u00a0: Votre situation", title("Votre situation", true), true)

	if err := chromedp.Do(timeout(t, a.ctx), chromedp.Click(field("Je suis un usager des services de la Région"))); err != nil {
		t.Fatal(err)
	}
	do(chromedp.Click(button("Continuer")))
	a.check(t, "address", "Étape 3 sur 5\u00a0: Votre adresse électronique", title("Votre adresse électronique", false), true)
	do(chromedp.SendKeys(field("Adresse électronique"), "pas-une-adresse"), chromedp.Click(button("Recevoir un code")))
	a.check(t, "address, invalid", "Étape 3 sur 5\u00a0: Votre adresse électronique", title("Votre adresse électronique", true), true)
	if got := attr(t, a, "#email", "aria-invalid"); got != "true" {
		t.Errorf("invalid address field: aria-invalid=%q", got)
	}

	do(chromedp.Clear(field("Adresse électronique")), chromedp.SendKeys(field("Adresse électronique"), u.Mail), chromedp.Click(button("Recevoir un code")))
	a.check(t, "code", "Étape 4 sur 5\u00a0: Code de sécurité", title("Code de sécurité", false), true)
	for attrName, want := range map[string]string{"autocomplete": "one-time-code", "inputmode": "text", "autocapitalize": "characters", "spellcheck": "false"} {
		if got := attr(t, a, "#code", attrName); got != want {
			t.Errorf("code field %s=%q, want %q", attrName, got, want)
		}
	}
	m := mailAfter(t, s, 0, u.Mail, codeMail)
	do(chromedp.SendKeys(field("Code de sécurité"), "ZZZZZZ"), chromedp.Click(button("Valider")))
	a.check(t, "code, wrong", "Étape 4 sur 5\u00a0: Code de sécurité", title("Code de sécurité", true), true)
	do(chromedp.Click(button("Valider")))
	a.check(t, "code, empty", "Étape 4 sur 5\u00a0: Code de sécurité", title("Code de sécurité", true), true)
	s.Clock.Advance(11 * time.Minute)
	do(chromedp.SendKeys(field("Code de sécurité"), m.Code), chromedp.Click(button("Valider")))
	a.check(t, "code, expired", "Étape 4 sur 5\u00a0: Code de sécurité", title("Code de sécurité", true), true)
	do(chromedp.Click(button("Renvoyer un code")))
	a.check(t, "code, sent again", "Étape 4 sur 5\u00a0: Code de sécurité", title("Code de sécurité", false), true)
	fresh := mailAfter(t, s, 1, u.Mail, codeMail)

	// The link, in the same browser: the confirmation page, then step 5.
	a.navigate(t, fresh.Link)
	if loc := location(t, a.ctx); strings.Contains(loc, "t=") {
		t.Errorf("the token stays in the address bar: %s", loc)
	}
	a.check(t, "link", "Réinitialiser votre mot de passe", title("Confirmer la réinitialisation", false), true)
	do(chromedp.Click(button("Continuer")))
	a.check(t, "new password", "Étape 5 sur 5\u00a0: Nouveau mot de passe", title("Nouveau mot de passe", false), true)
	if got := attr(t, a, "#nouveau", "aria-describedby"); !strings.Contains(got, "regles") {
		t.Errorf("the rules are not linked to the field: aria-describedby=%q", got)
	}
	do(chromedp.SendKeys(field("Nouveau mot de passe"), "Une phrase assez longue"),
		chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), "Une autre phrase longue"), chromedp.Click(button("Valider")))
	a.check(t, "new password, mismatch", "Étape 5 sur 5\u00a0: Nouveau mot de passe", title("Nouveau mot de passe", true), true)
	if got := attr(t, a, "#confirmation", "aria-invalid"); got != "true" {
		t.Errorf("the mismatch is not on the confirmation field")
	}
	do(chromedp.SendKeys(field("Nouveau mot de passe"), "azertyuiop12"),
		chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), "azertyuiop12"), chromedp.Click(button("Valider")))
	a.check(t, "new password, blocklisted", "Étape 5 sur 5\u00a0: Nouveau mot de passe", title("Nouveau mot de passe", true), true)
	// The directory is down while the change is queued: the waiting
	// screen waits, says so, and moves on by itself once it is back.
	s.Slapd.Stop(t)
	const pw = "Une phrase de passe accessible"
	do(chromedp.SendKeys(field("Nouveau mot de passe"), pw), chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), pw), chromedp.Click(button("Valider")))
	a.check(t, "waiting", "Modification de votre mot de passe en cours", title("Modification en cours", false), true)
	if err := chromedp.Do(timeout(t, a.ctx), chromedp.WaitVisible(chromedp.ID("etat-lent"))); err != nil {
		t.Fatalf("the waiting screen never said the directory is slow: %v", err)
	}
	if got := text(t, a.ctx, "#etat-lent"); !strings.HasPrefix(got, "L’annuaire des usagers ne répond pas pour le moment.") {
		t.Errorf("the waiting screen says %q, not which directory is slow", got)
	}
	a.axe.Check(t, a.ctx, "waiting, directory slow")
	s.Slapd.Start(t)
	if err := chromedp.Do(timeout(t, a.ctx), chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="Votre mot de passe a été modifié"]`))); err != nil {
		t.Fatalf("no success page: %v", err)
	}
	a.check(t, "success", "Votre mot de passe a été modifié", title("Mot de passe modifié", false), true)

	// The waiting screen and the failure page, shown for what they say.
	a.navigate(t, s.Issuer+"/mot-de-passe-perdu/echec")
	a.check(t, "failure", "Votre mot de passe n’a pas été modifié", title("Mot de passe non modifié", false), true)
	a.navigate(t, s.Issuer+"/mot-de-passe-perdu/echec?inconnu=1")
	a.check(t, "failure, unconfirmed", "La modification de votre mot de passe n’a pas pu être confirmée", title("Mot de passe non modifié", false), true)
	a.navigate(t, fresh.Link)
	a.check(t, "link, used", "Ce lien n’est plus valable", title("Lien expiré", false), true)
}

func attr(t *testing.T, a *a11y, sel, name string) string {
	t.Helper()
	res, err := chromedp.Run(timeout(t, a.ctx), chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		t.Fatalf("%s[%s]: %v", sel, name, err)
	}
	return res.Value
}
