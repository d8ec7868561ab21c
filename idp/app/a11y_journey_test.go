package app_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// loginTabOrder is the login page as the keyboard meets it.
var loginTabOrder = tabOrder("input Identifiant ou adresse électronique", "input Mot de passe", "button Se connecter", "a Mot de passe perdu")

// failedFields: both fields point to the one generic message.
var failedFields = map[string]string{"login": "erreur", "password": "erreur"}

// TestAccessibility visits every page and error state of the journeys in
// Chromium: axe-core finds nothing, and the scripted checks of §7 hold.
func TestAccessibility(t *testing.T) {
	axe := testenv.LoadAxe(t)
	s := startStackWith(t, stackOptions{Slapd: stateAccounts(), Config: func(c *config.Config) {
		withThrottle(c)
		c.AccessibilityURL = "https://mesdemarches.nouvelle-aquitaine.fr/accessibilite"
	}})
	errs := serveTestRoutes(t, s)
	a := &a11y{t: t, axe: axe, ctx: testenv.Browser(t)}
	rp, user := s.Sites[0], testenv.Users()[0]
	const loginTitle, loginError = "Connexion" + siteTitle, "Erreur\u00a0: Connexion" + siteTitle

	// The relying party's page, then the fresh login screen.
	a.navigate(t, rp.URL+"/")
	a.check(t, "demo site", "Site de démonstration", "Site de démonstration"+siteTitle, false)
	a.navigate(t, rp.URL+"/start")
	a.check(t, "login", "Connexion", loginTitle, true)
	a.checkLoginForm(t, "login", false, nil)
	a.tabWalk(t, "login", loginTabOrder)
	a.reload(t)
	a.skipLink(t, "login")
	loginURL := pendingLogin(t, a.ctx)

	// Every error state of the login screen.
	if _, err := chromedp.RunResponse(timeout(t, a.ctx), chromedp.Click(button("Se connecter"))); err != nil {
		t.Fatal(err)
	}
	a.check(t, "login, fields empty", "Connexion", loginError, true)
	a.checkLoginForm(t, "login, fields empty", true, map[string]string{"login": "login-erreur", "password": "password-erreur"})
	for _, st := range []struct {
		name, login, password string
		invalid               map[string]string
	}{
		{"login after a failure", user.UID, "not-the-password", failedFields},
	} {
		a.navigate(t, loginURL)
		signIn(t, a.ctx, st.login, st.password)
		a.check(t, st.name, "Connexion", loginError, true)
		a.checkLoginForm(t, st.name, true, st.invalid)
	}
	// The password was right but the directory wants a new one: the
	// new-password step, which says why.
	for _, uid := range []string{"expired", "reset"} {
		a.navigate(t, loginURL)
		signIn(t, a.ctx, uid, person(uid).Password)
		a.check(t, "login, new password wanted: "+uid, "Votre nouveau mot de passe",
			"Nouveau mot de passe – Changer mon mot de passe"+siteTitle, true)
	}
	// Ten failures in a row lock the identifier. Each wait
	// after the fifth is at most a minute; the pending sign-in lasts 15.
	a.navigate(t, rp.URL+"/start")
	for range 10 {
		a.navigate(t, location(t, a.ctx))
		signIn(t, a.ctx, "verrou", "not-the-password")
		s.Clock.Advance(61 * time.Second)
	}
	if !strings.Contains(text(t, a.ctx, "#erreur"), "suspendue") {
		t.Errorf("no lock after ten failures: %q", text(t, a.ctx, "#erreur"))
	}
	a.check(t, "login, identifier locked", "Connexion", loginError, true)
	a.checkLoginForm(t, "login, identifier locked", true, failedFields)

	// The « Mot de passe perdu » link's first page (the reset journey
	// checks its own steps).
	a.navigate(t, rp.URL+"/start")
	if _, err := chromedp.RunResponse(timeout(t, a.ctx), chromedp.Click(chromedp.Search(`//a[normalize-space()="Mot de passe perdu"]`))); err != nil {
		t.Fatal(err)
	}
	a.check(t, "lost password", "", "", true)

	// Every French error page.
	errorPages := []struct {
		name, path, h1 string
		post           url.Values // a same-origin form post instead of a GET
	}{
		{"400 unknown client", "/authorize?client_id=nobody&redirect_uri=x&response_type=code&scope=openid", "Site inconnu", nil},
		{"400 sign-in expired", "/login", "Connexion expirée", nil},
		{"403 cross-site form", "", "Formulaire expiré", nil},
		{"404", "/nulle-part", "Page introuvable", nil},
		{"405", "/login?authRequestID=x", "Action non autorisée", nil},
		{"413", "/login?authRequestID=x", "Demande trop volumineuse", url.Values{"login": {strings.Repeat("a", 70<<10)}}},
		{"429", errs + "/test/429", "Trop de tentatives", nil},
		{"500", errs + "/test/panic", "Erreur inattendue", nil},
	}
	for _, p := range errorPages {
		switch {
		case p.name == "403 cross-site form":
			crossSitePost(t, a.ctx, loginURL, url.Values{"login": {user.UID}, "password": {user.Password}})
		case p.name == "405":
			a.navigate(t, s.Issuer+"/nulle-part")
			a.showAnswer(t, "PUT", s.Issuer+p.path)
		case p.post != nil:
			a.navigate(t, s.Issuer+"/nulle-part") // any page of the provider's origin
			a.submitForm(t, s.Issuer+p.path, p.post)
		case strings.HasPrefix(p.path, "http"):
			a.navigate(t, p.path)
		default:
			a.navigate(t, s.Issuer+p.path)
		}
		a.check(t, p.name, p.h1, p.h1+siteTitle, true)
	}

	// A grace login: signed in, told the password expired.
	a.navigate(t, rp.URL+"/start")
	signIn(t, a.ctx, "grace", person("grace").Password)
	a.check(t, "password grace", "Votre mot de passe a expiré", "Mot de passe expiré – Connexion"+siteTitle, true)

	// Signed in (the grace login's session): the site's page with the
	// claims it received.
	a.navigate(t, rp.URL+"/start")
	a.check(t, "demo site signed in", "Site de démonstration", "Site de démonstration"+siteTitle, false)

	// The provider's own landing page, signed in, then logging out.
	a.navigate(t, s.Issuer+"/")
	a.check(t, "landing", "Votre session est ouverte", "Votre session est ouverte"+siteTitle, true)
	a.tabWalk(t, "landing", tabOrder("a Retourner sur « Site "+rp.ClientID+" »", "a Changer mon mot de passe", "button Se déconnecter"))
	a.reload(t)
	a.skipLink(t, "landing")
	a.navigate(t, s.Issuer+"/deconnexion")
	a.check(t, "logout confirmation", "Déconnexion", "Déconnexion"+siteTitle, true)
	a.tabWalk(t, "logout confirmation", tabOrder("button Se déconnecter", "a Annuler"))
	if _, err := chromedp.RunResponse(timeout(t, a.ctx), chromedp.Click(button("Se déconnecter"))); err != nil {
		t.Fatal(err)
	}
	a.check(t, "logged out", "Déconnexion effectuée", "Déconnexion effectuée"+siteTitle, true)
	a.navigate(t, s.Issuer+"/")
	a.check(t, "landing, signed out", "Connexion à Mes démarches en Nouvelle-Aquitaine", "Accueil"+siteTitle, true)
	a.tabWalk(t, "landing, signed out", tabOrder("a Aller sur nouvelle-aquitaine.fr", "a Aller sur Mes démarches en Nouvelle-Aquitaine", "a Obtenir de l’aide du support"))

	// The directory down: the login screen says so, not « incorrect ».
	a.navigate(t, rp.URL+"/start")
	s.Slapd.Stop(t)
	signIn(t, a.ctx, user.UID, user.Password)
	a.check(t, "login, directory unavailable", "Connexion", loginError, true)
	s.Slapd.Start(t)

	// Redis down: the login screen is a « service indisponible » page.
	s.Redis.Stop(t)
	a.reload(t)
	a.check(t, "login, Redis unavailable", "Service momentanément indisponible", "Service momentanément indisponible"+siteTitle, true)
}
