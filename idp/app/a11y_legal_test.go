package app_test

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// legalFacts is what a legal page offers beyond its structure.
type legalFacts struct {
	Onward []string `json:"onward"` // links of the main content
	Footer []string `json:"footer"` // labels of the footer's links
	Text   string   `json:"text"`
}

const legalFactsJS = `(() => ({
	onward: [...document.querySelectorAll('main a[href]')].map(a => a.getAttribute('href')).filter(h => h && !h.startsWith('#')),
	footer: [...document.querySelectorAll('body > footer a[href]')].map(a => a.textContent.trim()),
	text: document.querySelector('main').innerText,
}))()`

// TestAccessibilityLegal: each page of the footer — the legal pages and
// support — is reached from the footer of the login screen, passes axe
// and the structural checks, and offers a link onward; the pages state
// the configured facts.
func TestAccessibilityLegal(t *testing.T) {
	axe := testenv.LoadAxe(t)
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.AccessibilityURL = ""                   // the built-in statement
		c.SupportURL, c.Reset.SupportURL = "", "" // the built-in page
		c.Support = config.Support{Email: "support@example.org"}
		c.Session.IdleTimeout, c.Session.Lifetime = 45*time.Minute, 8*time.Hour
		c.Legal.DPOEmail = "dpo@example.org"
	}})
	a := &a11y{t: t, axe: axe, ctx: testenv.Browser(t)}
	login := s.Sites[0].URL + "/start"
	pages := []struct {
		link, path, h1 string
		says           []string
	}{
		{"Mentions légales", "/mentions-legales", "Mentions légales", []string{"Direction de la publication", "Hébergement", "14 rue François de Sourdis"}},
		{"Données personnelles", "/donnees-personnelles", "Données personnelles", []string{
			"mission d’intérêt public", "45 minutes sans activité", "8 heures après la connexion", "dpo@example.org", "CNIL", "opposer", "rectification", "limitation",
		}},
		{"Cookies", "/cookies", "Cookies", []string{"strictement nécessaires", "idp_csrf", "pas votre consentement"}},
		{"Accessibilité : partiellement conforme", "/accessibilite", "Déclaration d’accessibilité", []string{"partiellement conforme", "RGAA", "Défenseur des droits", "axe-core"}},
		{"J’ai besoin de support", "/support", "J’ai besoin de support", nil},
	}
	for _, p := range pages {
		a.navigate(t, login)
		a.check(t, "login", "Connexion", "", true)
		if _, err := chromedp.RunResponse(timeout(t, a.ctx), chromedp.Click(chromedp.Search(`//footer//a[normalize-space()=`+xpathString(p.link)+`]`))); err != nil {
			t.Fatalf("footer link %q: %v", p.link, err)
		}
		if loc := location(t, a.ctx); loc != s.Issuer+p.path {
			t.Errorf("the footer link %q leads to %s, want %s", p.link, loc, s.Issuer+p.path)
		}
		a.check(t, p.path, p.h1, p.h1+siteTitle, true)
		f, err := chromedp.Run(a.ctx, chromedp.Evaluate[legalFacts](legalFactsJS))
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Onward) == 0 {
			t.Errorf("%s: no link onward in the content", p.path)
		}
		for _, want := range []string{"J’ai besoin de support", "Mentions légales", "Données personnelles", "Cookies"} {
			if !strings.Contains(strings.Join(f.Footer, "|"), want) {
				t.Errorf("%s: footer %q lacks %q", p.path, f.Footer, want)
			}
		}
		text := strings.ReplaceAll(f.Text, "\u00a0", " ")
		for _, want := range p.says {
			if !strings.Contains(text, want) {
				t.Errorf("%s does not say %q", p.path, want)
			}
		}
	}

	// The generic pages that end a journey lead somewhere too.
	for _, p := range []struct{ path, h1 string }{
		{"/", "Connexion à Mes démarches en Nouvelle-Aquitaine"},
		{"/deconnexion", "Déconnexion effectuée"},
		{"/nulle-part", "Page introuvable"},
	} {
		a.navigate(t, s.Issuer+p.path)
		a.check(t, p.path, p.h1, "", true)
		f, err := chromedp.Run(a.ctx, chromedp.Evaluate[legalFacts](legalFactsJS))
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Onward) == 0 {
			t.Errorf("%s: a dead end, no link onward in the content", p.path)
		}
	}

	// The focus ring on the primary button: 3:1 against white and
	// against the button.
	a.navigate(t, login)
	a.check(t, "login", "Connexion", "", true)
	for range 5 { // skip link, header, login, password, button
		if err := chromedp.Do(a.ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
	}
	ring, err := chromedp.Run(a.ctx, chromedp.Evaluate[[]string](`(() => { const s = getComputedStyle(document.activeElement); return [document.activeElement.textContent.trim(), s.outlineColor, s.backgroundColor, s.outlineStyle, s.outlineWidth]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if ring[0] != "Se connecter" || ring[3] != "solid" {
		t.Fatalf("focused %q with outline %s %s", ring[0], ring[3], ring[4])
	}
	outline, bg := luminance(t, ring[1]), luminance(t, ring[2])
	if c := contrast(outline, 1); c < 3 {
		t.Errorf("focus ring %s: %.2f:1 against white, want 3:1", ring[1], c)
	}
	if c := contrast(outline, bg); c < 3 {
		t.Errorf("focus ring %s: %.2f:1 against the button %s, want 3:1", ring[1], c, ring[2])
	}
}

// luminance reads a computed "rgb(r, g, b)" colour.
func luminance(t *testing.T, css string) float64 {
	t.Helper()
	parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(css, "rgba("), "rgb("), ")"), ",")
	if len(parts) < 3 {
		t.Fatalf("colour %q", css)
	}
	var rgb [3]uint8
	for i := range rgb {
		n, err := strconv.Atoi(strings.TrimSpace(parts[i]))
		if err != nil {
			t.Fatalf("colour %q", css)
		}
		rgb[i] = uint8(n)
	}
	return config.RelativeLuminance(rgb[0], rgb[1], rgb[2])
}

func contrast(a, b float64) float64 {
	return (math.Max(a, b) + 0.05) / (math.Min(a, b) + 0.05)
}
