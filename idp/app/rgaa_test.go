package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// legalPages are the footer's pages, checked like every other.
var legalPages = []string{"/mentions-legales", "/donnees-personnelles", "/accessibilite", "/cookies"}

// rgaaWidths are the CSS widths every page is checked at: a desktop
// window, and the narrowest phone (the 200 % zoom of the desktop window is
// checked at 1280 as 640 CSS px at scale 2).
var rgaaWidths = []int64{1280, 320}

// rgaa checks pages and states in Chromium with axe-core and the
// scripted checks of testenv, at every width of rgaaWidths.
type rgaa struct {
	axe    *testenv.Axe
	titles *testenv.Titles
	// shots is the directory of IDP_SCREENSHOTS, or "".
	shots string
}

// check runs every check on the page ctx shows, once per width, each in
// its own subtest named name-width (the screenshot's name too). page
// names the page for the title's uniqueness: states of one page may
// share a title, two pages may not. formError: the page is a form shown
// again with errors, whose title must say so first.
func (r *rgaa) check(t *testing.T, ctx context.Context, name, page string, formError bool) {
	t.Helper()
	if err := chromedp.Do(timeout(t, ctx), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	// A mark in the document: a page that navigates by itself during the
	// checks (the waiting page) would measure another page.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.__rgaaMark = `+jsString(name))); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range testenv.TitleForm(title) {
		t.Errorf("%s: title: %s", name, p)
	}
	if formError && !strings.HasPrefix(title, "Erreur\u00a0: ") {
		t.Errorf("%s: title: %q does not start with « Erreur : » on a form with errors", name, title)
	}
	if other := r.titles.Add(page, title); other != "" {
		t.Errorf("%s: title: %q is also the title of page %s", name, title, other)
	}
	for _, w := range rgaaWidths {
		t.Run(fmt.Sprintf("%s-%d", name, w), func(t *testing.T) { r.checkAt(t, ctx, name, w) })
	}
	if err := testenv.SetViewport(ctx, rgaaWidths[0], 1); err != nil {
		t.Fatal(err)
	}
}

func (r *rgaa) checkAt(t *testing.T, ctx context.Context, name string, width int64) {
	if err := testenv.SetViewport(ctx, width, 1); err != nil {
		t.Fatal(err)
	}
	state := fmt.Sprintf("%s-%d", name, width)
	report := func(check string, problems []string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %s: %v", state, check, err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s: %s", state, check, p)
		}
	}
	r.axe.Check(t, ctx, state+": axe")
	if width >= 1280 {
		p, err := testenv.ReflowAt(ctx, width/2, 2, width)
		report("zoom 200 %", p, err)
	} else {
		p, err := testenv.Reflow(ctx)
		report("reflow", p, err)
	}
	p, err := testenv.TextSpacing(ctx)
	report("text spacing", p, err)
	stops, err := testenv.FocusWalk(ctx)
	report("focus walk", nil, err)
	if err == nil {
		p, least := testenv.FocusVisible(stops)
		report("focus visible", p, nil)
		t.Logf("%s: focus: %d stops, least indicator contrast %.2f:1", state, len(stops), least)
		p, err = testenv.TabOrder(ctx, stops)
		report("tab order", p, err)
	}
	p, err = testenv.ForcedColors(ctx)
	report("forced colours", p, err)
	p, err = testenv.ReducedMotion(ctx)
	report("reduced motion", p, err)
	if r.shots != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(r.shots, fmt.Sprintf("%s-%d.png", name, width)), png, 0o644)
		}
		report("screenshot", nil, err)
	}
	mark, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.__rgaaMark)`))
	if err != nil || mark != name {
		t.Fatalf("the page changed during the checks (mark %q, %v): its results are not this state's", mark, err)
	}
}

// open navigates to u and returns the status of the page it ends on.
func (r *rgaa) open(t *testing.T, ctx context.Context, u string) int {
	t.Helper()
	resp, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	return int(resp.Status)
}

func do(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if _, err := chromedp.RunResponse(timeout(t, ctx), actions...); err != nil {
		t.Fatal(err)
	}
}

func doNoNav(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(timeout(t, ctx), actions...); err != nil {
		t.Fatal(err)
	}
}

// TestRGAA visits every page and state of the provider in Chromium, at
// 1280 and 320 CSS px, and runs axe-core and the scripted RGAA checks on
// each (testenv/rgaa.go). With IDP_SCREENSHOTS=dir, a full-page PNG of
// each page, state and width is saved there (`make screenshots`).
// The journeys run in parallel, each with its own stack and its own tab
// of one Chromium.
func TestRGAA(t *testing.T) {
	r := &rgaa{axe: testenv.LoadAxe(t), titles: testenv.NewTitles(), shots: os.Getenv("IDP_SCREENSHOTS")}
	if r.shots != "" {
		if err := os.MkdirAll(r.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	browser := testenv.Browser(t)
	// The built-in accessibility statement, so that it is checked too.
	const a11yURL = ""
	t.Run("signin", func(t *testing.T) {
		t.Parallel()
		s := startStackWith(t, stackOptions{Slapd: stateAccounts(), Config: func(c *config.Config) {
			withThrottle(c)
			c.AccessibilityURL = a11yURL
		}})
		r.signIn(t, s, testenv.NewTab(t, browser))
	})
	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		// The waiting page waits as long as the directory is down: the
		// worker must not give up while the page is checked.
		s := startStackWith(t, stackOptions{WorkerRetries: 10000, Config: func(c *config.Config) { c.AccessibilityURL = a11yURL }})
		r.reset(t, s, testenv.NewTab(t, browser))
	})
	t.Run("account", func(t *testing.T) {
		t.Parallel()
		s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
			c.AccessibilityURL = a11yURL
			c.SupportURL, c.Reset.SupportURL = "", "" // the built-in support page
			c.Support = config.Support{
				Email: "support@example.org", Phone: "05 49 55 00 00", Hours: "du lundi au vendredi, de 9 h à 17 h",
				URL: "https://aide.example.org/contact", Address: "Région Nouvelle-Aquitaine\n14 rue François de Sourdis\n33077 Bordeaux Cedex",
			}
		}})
		r.account(t, s, testenv.NewTab(t, browser))
	})
	t.Run("upstream", func(t *testing.T) {
		t.Parallel()
		s, up := upstreamStack(t, false)
		ctx := testenv.NewTab(t, browser)
		r.open(t, ctx, s.Sites[0].URL+"/start")
		r.check(t, ctx, "login-upstreams", "login", false)
		do(t, ctx, chromedp.Click(link(siegeLabel)))
		back, err := up.SignIn(location(t, ctx))
		if err != nil {
			t.Fatal(err)
		}
		q := back.Query()
		q.Del("code")
		q.Set("error", "access_denied")
		back.RawQuery = q.Encode()
		r.open(t, ctx, back.String())
		r.check(t, ctx, "upstream-refused", "upstream-refused", false)
	})
	t.Run("sidecar", func(t *testing.T) {
		t.Parallel()
		ssoLogin := otherSSO(t)
		s := startSidecar(t, ssoLogin)
		ctx := testenv.NewTab(t, browser)
		r.open(t, ctx, s.Issuer+"/")
		r.check(t, ctx, "sidecar-home", "sidecar-home", false)
		r.open(t, ctx, s.Issuer+"/mot-de-passe-perdu?return_to="+url.QueryEscape(ssoLogin))
		r.check(t, ctx, "sidecar-profile", "reset-profile", false)
		r.open(t, ctx, s.Issuer+"/mot-de-passe-perdu?return_to="+url.QueryEscape(strings.Replace(ssoLogin, "/portail/", "/portail", 1)))
		r.check(t, ctx, "sidecar-return-refused", "sidecar-return-refused", false)
	})
}

// signIn: the login screen and its errors, the error pages, the session
// pages, the legal pages, then the directory and Redis down.
func (r *rgaa) signIn(t *testing.T, s *stack, ctx context.Context) {
	errs := serveTestRoutes(t, s)
	rp, user := s.Sites[0], testenv.Users()[0]
	startAt(t, ctx, rp)
	loginURL := pendingLogin(t, ctx)
	r.check(t, ctx, "login", "login", false)
	do(t, ctx, chromedp.Click(button("Se connecter")))
	r.check(t, ctx, "login-empty", "login", true)
	r.open(t, ctx, loginURL)
	signIn(t, ctx, user.UID, "not-the-password")
	r.check(t, ctx, "login-wrong", "login", true)
	for _, uid := range []string{"expired", "reset"} {
		r.open(t, ctx, loginURL)
		signIn(t, ctx, uid, person(uid).Password)
		r.check(t, ctx, "login-new-password-"+uid, "change-new-password", false)
	}
	// Ten failures in a row lock the identifier.
	startAt(t, ctx, rp)
	for range 10 {
		r.open(t, ctx, location(t, ctx))
		signIn(t, ctx, "verrou", "not-the-password")
		s.Clock.Advance(61 * time.Second)
	}
	if !strings.Contains(text(t, ctx, "#erreur"), "suspendue") {
		t.Errorf("no lock after ten failures: %q", text(t, ctx, "#erreur"))
	}
	r.check(t, ctx, "login-locked", "login", true)

	errorPages := []struct {
		name, path string
		post       url.Values
	}{
		{"error-400-unknown-client", "/authorize?client_id=nobody&redirect_uri=x&response_type=code&scope=openid", nil},
		{"error-400-expired", "/login", nil},
		{"error-403-cross-site", "", nil},
		{"error-404", "/nulle-part", nil},
		{"error-405", "/login?authRequestID=x", nil},
		{"error-413", "/login?authRequestID=x", url.Values{"login": {strings.Repeat("a", 70<<10)}}},
		{"error-429", errs + "/test/429", nil},
		{"error-500", errs + "/test/panic", nil},
	}
	a := &a11y{t: t, ctx: ctx}
	for _, p := range errorPages {
		switch {
		case p.name == "error-403-cross-site":
			crossSitePost(t, ctx, loginURL, url.Values{"login": {user.UID}, "password": {user.Password}})
		case p.name == "error-405":
			r.open(t, ctx, s.Issuer+"/nulle-part")
			a.showAnswer(t, "PUT", s.Issuer+p.path)
		case p.post != nil:
			r.open(t, ctx, s.Issuer+"/nulle-part")
			a.submitForm(t, s.Issuer+p.path, p.post)
		case strings.HasPrefix(p.path, "http"):
			r.open(t, ctx, p.path)
		default:
			r.open(t, ctx, s.Issuer+p.path)
		}
		r.check(t, ctx, p.name, p.name, false)
	}

	startAt(t, ctx, rp)
	signIn(t, ctx, "grace", person("grace").Password)
	r.check(t, ctx, "password-grace", "password-grace", false)
	r.open(t, ctx, s.Issuer+"/")
	r.check(t, ctx, "landing-signed-in", "landing-signed-in", false)
	r.open(t, ctx, s.Issuer+"/deconnexion")
	r.check(t, ctx, "logout-confirm", "logout-confirm", false)
	do(t, ctx, chromedp.Click(button("Se déconnecter")))
	r.check(t, ctx, "logged-out", "logged-out", false)
	r.open(t, ctx, s.Issuer+"/")
	r.check(t, ctx, "landing-signed-out", "landing-signed-out", false)
	for _, path := range legalPages {
		if status := r.open(t, ctx, s.Issuer+path); status != http.StatusOK {
			t.Errorf("%s answers %d", path, status)
			continue
		}
		r.check(t, ctx, "legal"+strings.ReplaceAll(path, "/", "-"), path, false)
	}

	startAt(t, ctx, rp)
	s.Slapd.Stop(t)
	signIn(t, ctx, user.UID, user.Password)
	r.check(t, ctx, "login-directory-down", "login", true)
	s.Slapd.Start(t)
	s.Redis.Stop(t)
	r.open(t, ctx, location(t, ctx))
	r.check(t, ctx, "login-redis-down", "unavailable", false)
}

// reset: « Mot de passe perdu », every step and error state.
func (r *rgaa) reset(t *testing.T, s *stack, ctx context.Context) {
	u := testenv.Users()[0]
	startAt(t, ctx, s.Sites[0])
	do(t, ctx, chromedp.Click(link("Mot de passe perdu")))
	r.check(t, ctx, "reset-profile", "reset-profile", false)
	do(t, ctx, chromedp.Click(button("Continuer")))
	r.check(t, ctx, "reset-profile-empty", "reset-profile", true)
	doNoNav(t, ctx, chromedp.Click(field(labelUsager)))
	do(t, ctx, chromedp.Click(button("Continuer")))
	r.check(t, ctx, "reset-address", "reset-address", false)
	do(t, ctx, chromedp.SendKeys(field("Adresse électronique"), "pas-une-adresse"), chromedp.Click(button("Recevoir un code")))
	r.check(t, ctx, "reset-address-invalid", "reset-address", true)
	do(t, ctx, chromedp.Clear(field("Adresse électronique")), chromedp.SendKeys(field("Adresse électronique"), u.Mail), chromedp.Click(button("Recevoir un code")))
	r.check(t, ctx, "reset-code", "reset-code", false)
	m := mailAfter(t, s, 0, u.Mail, codeMail)
	do(t, ctx, chromedp.SendKeys(field("Code de sécurité"), "ZZZZZZ"), chromedp.Click(button("Valider")))
	r.check(t, ctx, "reset-code-wrong", "reset-code", true)
	do(t, ctx, chromedp.Click(button("Valider")))
	r.check(t, ctx, "reset-code-empty", "reset-code", true)
	s.Clock.Advance(11 * time.Minute)
	do(t, ctx, chromedp.SendKeys(field("Code de sécurité"), m.Code), chromedp.Click(button("Valider")))
	r.check(t, ctx, "reset-code-expired", "reset-code", true)
	do(t, ctx, chromedp.Click(button("Renvoyer un code")))
	r.check(t, ctx, "reset-code-resent", "reset-code", false)
	fresh := mailAfter(t, s, 1, u.Mail, codeMail)

	// The link: its confirmation, then the new password and its errors,
	// the waiting page (directory down) and success.
	r.open(t, ctx, fresh.Link)
	r.check(t, ctx, "reset-link", "reset-link", false)
	do(t, ctx, chromedp.Click(button("Continuer")))
	r.check(t, ctx, "reset-new-password", "reset-new-password", false)
	newPw := func(a, b string) {
		do(t, ctx, chromedp.SendKeys(field("Nouveau mot de passe"), a), chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), b), chromedp.Click(button("Valider")))
	}
	newPw("Une phrase assez longue", "Une autre phrase longue")
	r.check(t, ctx, "reset-new-password-mismatch", "reset-new-password", true)
	newPw("court", "court")
	r.check(t, ctx, "reset-new-password-short", "reset-new-password", true)
	newPw("azertyuiop12", "azertyuiop12")
	r.check(t, ctx, "reset-new-password-blocklisted", "reset-new-password", true)
	s.Slapd.Stop(t)
	const pw = "Une phrase de passe accessible"
	newPw(pw, pw)
	r.check(t, ctx, "reset-waiting", "reset-waiting", false)
	if err := chromedp.Do(timeout(t, ctx), chromedp.WaitVisible(chromedp.ID("etat-lent"))); err != nil {
		t.Fatalf("the waiting page never said the directory is slow: %v", err)
	}
	r.check(t, ctx, "reset-waiting-slow", "reset-waiting", false)
	s.Slapd.Start(t)
	if err := chromedp.Do(timeout(t, ctx), chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="Votre mot de passe a été modifié"]`))); err != nil {
		t.Fatalf("no success page: %v", err)
	}
	r.check(t, ctx, "reset-success", "reset-success", false)
	r.open(t, ctx, s.Issuer+"/mot-de-passe-perdu/echec")
	r.check(t, ctx, "reset-failed", "reset-failed", false)
	r.open(t, ctx, s.Issuer+"/mot-de-passe-perdu/echec?inconnu=1")
	r.check(t, ctx, "reset-failed-unconfirmed", "reset-failed", false)
	r.open(t, ctx, fresh.Link)
	r.check(t, ctx, "reset-link-used", "reset-link-used", false)

	// Four requests for one address in a row: the fourth code page says
	// when a new code may be asked (the rate limit).
	for range 4 {
		chooseProfile(t, ctx, s.Issuer+"/mot-de-passe-perdu", labelUsager, s.Issuer+"/mot-de-passe-perdu/adresse")
		// The journey keeps the address typed before: type it afresh.
		do(t, ctx, chromedp.Clear(field("Adresse électronique")), chromedp.SendKeys(field("Adresse électronique"), u.Mail), chromedp.Click(button("Recevoir un code")))
	}
	if !strings.Contains(text(t, ctx, "main"), "Vous pourrez demander un nouveau code dans") {
		t.Errorf("no cooldown after four requests: %q", text(t, ctx, "main"))
	}
	r.check(t, ctx, "reset-code-rate-limited", "reset-code", false)
	// Five wrong codes: the code is dead.
	for range 6 {
		do(t, ctx, chromedp.SendKeys(field("Code de sécurité"), "ZZZZZZ"), chromedp.Click(button("Valider")))
	}
	r.check(t, ctx, "reset-code-too-many", "reset-code", true)
}

// account: signed in, « Changer mon mot de passe » and its errors, the
// built-in support page, and the support choice of « Mot de passe perdu ».
func (r *rgaa) account(t *testing.T, s *stack, ctx context.Context) {
	u := testenv.Users()[0]
	startAt(t, ctx, s.Sites[0])
	signIn(t, ctx, u.UID, u.Password)
	r.open(t, ctx, s.Issuer+"/")
	do(t, ctx, chromedp.Click(link("Changer mon mot de passe")))
	r.check(t, ctx, "change-current", "change-current", false)
	do(t, ctx, chromedp.Click(button("Continuer")))
	r.check(t, ctx, "change-current-empty", "change-current", true)
	do(t, ctx, chromedp.SendKeys(field("Mot de passe actuel"), "Pas-le-bon-1"), chromedp.Click(button("Continuer")))
	r.check(t, ctx, "change-current-wrong", "change-current", true)
	do(t, ctx, chromedp.SendKeys(field("Mot de passe actuel"), u.Password), chromedp.Click(button("Continuer")))
	r.check(t, ctx, "change-new-password", "change-new-password", false)
	do(t, ctx, chromedp.SendKeys(field("Nouveau mot de passe"), "court"), chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), "court"), chromedp.Click(button("Valider")))
	r.check(t, ctx, "change-new-password-short", "change-new-password", true)
	const pw = "Une phrase changée et accessible"
	do(t, ctx, chromedp.SendKeys(field("Nouveau mot de passe"), pw), chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), pw), chromedp.Click(button("Valider")))
	if err := chromedp.Do(timeout(t, ctx), chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="Votre mot de passe a été modifié"]`))); err != nil {
		t.Fatalf("no success page: %v", err)
	}
	r.check(t, ctx, "change-success", "change-success", false)
	r.open(t, ctx, s.Issuer+"/compte/mot-de-passe?expire=1")
	r.check(t, ctx, "change-current-expired", "change-current", false)
	r.open(t, ctx, s.Issuer+"/support")
	r.check(t, ctx, "support", "support", false)
	chooseProfile(t, ctx, s.Issuer+"/mot-de-passe-perdu", labelSupport, s.Issuer+"/support")
	r.check(t, ctx, "support-from-reset", "support", false)
}
