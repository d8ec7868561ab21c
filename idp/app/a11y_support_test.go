package app_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestAccessibilitySupport: the built-in support page passes axe, has
// the layout's landmarks, and is what « J’ai besoin de support » in the
// footer of every page opens; its contact details are links a person
// can use.
func TestAccessibilitySupport(t *testing.T) {
	axe := testenv.LoadAxe(t)
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.SupportURL, c.Reset.SupportURL = "", "" // the built-in page
		c.AccessibilityURL = "https://mesdemarches.nouvelle-aquitaine.fr/accessibilite"
		c.Support = config.Support{
			Email: "support@example.org", Phone: "05 49 55 00 00", Hours: "du lundi au vendredi, de 9 h à 17 h",
			URL: "https://aide.example.org/contact", Address: "Région Nouvelle-Aquitaine\n14 rue François de Sourdis\n33077 Bordeaux Cedex",
		}
	}})
	a := &a11y{t: t, axe: axe, ctx: testenv.Browser(t)}
	support := s.Issuer + config.SupportPath

	// From the footer of the login screen.
	a.navigate(t, s.Sites[0].URL+"/start")
	a.check(t, "login", "", "", true)
	if _, err := chromedp.RunResponse(timeout(t, a.ctx), chromedp.Click(chromedp.Search(`//footer//a[normalize-space()="J’ai besoin de support"]`))); err != nil {
		t.Fatal(err)
	}
	if loc := location(t, a.ctx); loc != support {
		t.Fatalf("the footer link leads to %s, want %s", loc, support)
	}
	a.check(t, "support", "J’ai besoin de support", "J’ai besoin de support"+siteTitle, true)

	links, err := chromedp.Run(a.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('main a')].map(a => a.getAttribute('href'))`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mailto:support@example.org", "tel:0549550000", "https://aide.example.org/contact"} {
		if !strings.Contains(strings.Join(links, " "), want) {
			t.Errorf("no link to %s among %q", want, links)
		}
	}
	if got := text(t, a.ctx, "main address"); !strings.Contains(got, "33077 Bordeaux Cedex") {
		t.Errorf("postal address %q", got)
	}

	// From « Mot de passe perdu »: the support choice and the footer.
	a.navigate(t, s.Issuer+"/mot-de-passe-perdu")
	a.check(t, "profile", "Étape 2 sur 5\u00a0: Votre situation", "", true)
	chooseProfile(t, a.ctx, s.Issuer+"/mot-de-passe-perdu", labelSupport, support)
}
