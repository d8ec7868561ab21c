package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// verifiedReset runs steps 1 to 4 for u and returns the client on the
// new-password page.
func verifiedReset(t *testing.T, s *stack, mail string) resetClient {
	t.Helper()
	r := resetClient{newBrowserless(t, s)}
	r.start()
	before := len(s.SMTP.Messages())
	r.email(url.Values{"email": {mail}}, nil)
	m := mailAfter(t, s, before, mail, codeMail)
	if loc, _ := r.code(m.Code); loc != "/mot-de-passe-perdu/nouveau" {
		t.Fatalf("code refused: %q", loc)
	}
	return r
}

// setPassword posts the new-password form and follows the waiting screen
// (without JavaScript: « Vérifier » reloads it) until the change settles;
// it returns the final page's path and body.
func (r resetClient) setPassword(pw, confirm string) (string, string) {
	r.t.Helper()
	tok, _ := r.formToken("/mot-de-passe-perdu/nouveau")
	resp, body := r.post("/mot-de-passe-perdu/nouveau", url.Values{"csrf_token": {tok}, "password": {pw}, "confirmation": {confirm}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		return "/mot-de-passe-perdu/nouveau", body
	}
	return r.settle(resp.Header.Get("Location"))
}

// settle follows loc and the waiting screen until the change settles; it
// returns the final page's path and body.
func (r resetClient) settle(loc string) (string, string) {
	r.t.Helper()
	var body string
	testenv.Eventually(r.t, 20*time.Second, func() (bool, string) {
		// Redirects are followed at once; only the waiting screen waits.
		page := r.get(r.s.Issuer + loc)
		for hops := 0; page.StatusCode == http.StatusSeeOther; hops++ {
			page.Body.Close()
			if hops == 10 {
				return false, "redirected in a loop; last page " + loc
			}
			loc = page.Header.Get("Location")
			page = r.get(r.s.Issuer + loc)
		}
		body = readAll(r.t, page)
		return !strings.HasPrefix(loc, "/mot-de-passe-perdu/attente"), "the change never settled; last page " + loc
	})
	return loc, body
}

// binds reports whether uid can sign in with pw on the provider.
func binds(t *testing.T, s *stack, uid, pw string) bool {
	t.Helper()
	b := newBrowserless(t, s)
	loginURL, _ := b.authorize(s.Sites[0], nil)
	resp := b.login(loginURL, uid, pw)
	resp.Body.Close()
	return resp.StatusCode == http.StatusSeeOther
}

func TestResetNewPassword(t *testing.T) {
	s := startStackWith(t, stackOptions{Slapd: testenv.SlapdOptions{MinLength: 16, InHistory: 3}})
	// The second subtest changes its person's password, which the first
	// checks is unchanged: each has its own person, so order does not matter.
	t.Run("refused before any job: blocklisted, mismatched, too short, context", func(t *testing.T) {
		u := testenv.Users()[0]
		r := verifiedReset(t, s, u.Mail)
		for _, c := range []struct{ pw, confirm, want string }{
			{"azertyuiop12", "azertyuiop12", "trop courant"},
			{"Une-phrase-assez-longue", "Une-phrase-assez-LONGUE", "différents"},
			{"court-11car", "court-11car", "trop court"},
			{"NouvelleAquitaine2024!", "NouvelleAquitaine2024!", "trop facile à deviner"},
			{u.UID + "-et-encore-2024", u.UID + "-et-encore-2024", "trop facile à deviner"},
		} {
			path, body := r.setPassword(c.pw, c.confirm)
			if path != "/mot-de-passe-perdu/nouveau" || !strings.Contains(body, c.want) {
				t.Errorf("%q: at %s, want the password page saying %q", c.pw, path, c.want)
			}
		}
		if !binds(t, s, u.UID, u.Password) {
			t.Error("the old password stopped working")
		}
		if dump := dumpRedis(t, s); strings.Contains(dump, "{pwchange}:job:") || strings.Contains(dump, "{pwchange}:status:") {
			t.Error("a refused password was queued for the directory")
		}
	})

	t.Run("refused by the directory, then a good one in the same flow", func(t *testing.T) {
		u := testenv.Users()[1]
		r := verifiedReset(t, s, u.Mail)
		path, body := r.setPassword("Treize-chars1", "Treize-chars1") // 13: ours says yes, slapd (16) says no
		if !strings.HasPrefix(path, "/mot-de-passe-perdu/nouveau") || !strings.Contains(body, "trop court") {
			t.Fatalf("too short for the directory: at %s", path)
		}
		path, body = r.setPassword(u.Password, u.Password) // the current one: in history
		if !strings.HasPrefix(path, "/mot-de-passe-perdu/nouveau") || !strings.Contains(body, "déjà utilisé") {
			t.Fatalf("in history: at %s", path)
		}
		if !binds(t, s, u.UID, u.Password) {
			t.Fatal("the old password stopped working after refusals")
		}
		const fresh = "Une phrase de passe toute neuve"
		path, body = r.setPassword(fresh, fresh)
		if path != "/mot-de-passe-perdu/termine" || !strings.Contains(body, "Votre mot de passe a été modifié") {
			t.Fatalf("good password: at %s", path)
		}
		if !binds(t, s, u.UID, fresh) || binds(t, s, u.UID, u.Password) {
			t.Fatal("the directory does not have the new password")
		}
	})
}

// The whole journey in Chromium, with JavaScript: the waiting screen
// moves on by itself; then sign in with the new password.
func TestResetJourneyNewPassword(t *testing.T) { overSchemes(t, testResetJourneyNewPassword) }

func testResetJourneyNewPassword(t *testing.T, https bool) {
	s := startStackWith(t, stackOptions{HTTPS: https})
	ctx := s.browser(t)
	rp := s.Sites[0]
	u := testenv.Users()[1]
	click := func(sel chromedp.Search) {
		t.Helper()
		if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(sel)); err != nil {
			t.Fatal(err)
		}
	}
	startAt(t, ctx, rp)
	loginURL := pendingLogin(t, ctx)
	click(link("Mot de passe perdu"))
	if err := chromedp.Do(timeout(t, ctx), chromedp.Click(field("Je suis un usager des services de la Région"))); err != nil {
		t.Fatal(err)
	}
	click(button("Continuer"))
	if err := chromedp.Do(timeout(t, ctx), chromedp.SendKeys(field("Adresse électronique"), u.Mail)); err != nil {
		t.Fatal(err)
	}
	click(button("Recevoir un code"))
	m := mailAfter(t, s, 0, u.Mail, codeMail)
	if err := chromedp.Do(timeout(t, ctx), chromedp.SendKeys(field("Code de sécurité"), m.Code)); err != nil {
		t.Fatal(err)
	}
	click(button("Valider"))
	const fresh = "Un nouveau mot de passe bien long"
	if err := chromedp.Do(timeout(t, ctx),
		chromedp.SendKeys(field("Nouveau mot de passe"), fresh),
		chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), fresh),
		// From the keyboard, as the journey is meant to work: a mouse
		// click lands on coordinates, which a late layout can move.
		chromedp.Focus(button("Afficher les mots de passe")),
		chromedp.KeyEvent(kb.Enter),
	); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Second, func() (bool, string) {
		typ := attr(t, &a11y{ctx: ctx}, "#nouveau", "type")
		return typ == "text", fmt.Sprintf("« Afficher » left the field as %q", typ)
	})
	if got := strings.TrimSpace(text(t, ctx, "#afficher")); got != "Masquer les mots de passe" {
		t.Errorf("once shown, the button says %q", got)
	}
	click(button("Valider"))
	if err := chromedp.Do(timeout(t, ctx), chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="Votre mot de passe a été modifié"]`))); err != nil {
		t.Fatalf("never reached the success page: %v (at %s)", err, location(t, ctx))
	}
	click(link("Continuer"))
	if loc := location(t, ctx); loc != loginURL {
		t.Fatalf("« Continuer » leads to %s, want %s", loc, loginURL)
	}
	signIn(t, ctx, u.UID, fresh)
	if loc := location(t, ctx); loc != rp.URL+"/" || rp.Last() == nil {
		t.Fatalf("after signing in with the new password: %s", loc)
	}
	if binds(t, s, u.UID, u.Password) {
		t.Error("the old password still works")
	}
}

// The directory stays down past the worker's retries: a truthful failure
// page, and the old password still works once the directory is back.
func TestResetNewPasswordDirectoryDown(t *testing.T) {
	s := startStackWith(t, stackOptions{WorkerRetries: 2})
	u := testenv.Users()[0]
	r := verifiedReset(t, s, u.Mail)
	s.Slapd.Stop(t)
	const fresh = "Une phrase qui ne sera pas enregistrée"
	path, body := r.setPassword(fresh, fresh)
	if path != "/mot-de-passe-perdu/echec" || !strings.Contains(body, "Votre mot de passe n’a pas été modifié") {
		t.Fatalf("directory down: at %s", path)
	}
	s.Slapd.Start(t)
	if !binds(t, s, u.UID, u.Password) || binds(t, s, u.UID, fresh) {
		t.Fatal("after a failure the old password must be the one that works")
	}
	// The verified flow may try again without a new code.
	path, _ = r.setPassword(fresh, fresh)
	if path != "/mot-de-passe-perdu/termine" || !binds(t, s, u.UID, fresh) {
		t.Fatalf("second try: at %s", path)
	}
}

// Through the mail's link, in a browser that did not ask: the change
// works, and « Continuer » never enters the first browser's sign-in.
func TestResetNewPasswordThroughLink(t *testing.T) {
	s := startStack(t)
	u := testenv.Users()[1]
	a := resetClient{newBrowserless(t, s)}
	loginURL, _ := a.authorize(s.Sites[0], nil)
	authID := loginURL[strings.Index(loginURL, "authRequestID=")+len("authRequestID="):]
	tok, _ := a.formToken("/mot-de-passe-perdu?authRequestID=" + authID)
	a.post("/mot-de-passe-perdu?authRequestID="+authID, url.Values{"csrf_token": {tok}, "profil": {"usager"}}, nil)
	a.email(url.Values{"email": {u.Mail}}, nil)
	m := mailAfter(t, s, 0, u.Mail, codeMail)

	b := resetClient{newBrowserless(t, s)}
	b.get(m.Link).Body.Close()
	tok, _ = b.formToken("/mot-de-passe-perdu/lien")
	if resp, _ := b.post("/mot-de-passe-perdu/lien", url.Values{"csrf_token": {tok}}, nil); resp.Header.Get("Location") != "/mot-de-passe-perdu/nouveau" {
		t.Fatalf("link: %q", resp.Header.Get("Location"))
	}
	const fresh = "Changé depuis un autre navigateur"
	path, body := b.setPassword(fresh, fresh)
	if path != "/mot-de-passe-perdu/termine" {
		t.Fatalf("at %s", path)
	}
	if strings.Contains(body, "authRequestID") {
		t.Error("« Continuer » in the other browser leads into the first browser's pending sign-in")
	}
	if !binds(t, s, u.UID, fresh) || binds(t, s, u.UID, u.Password) {
		t.Fatal("the directory does not have the new password")
	}
}

// After the journeys, nothing in Redis reveals a password, a code or a
// link token.
func TestResetLeavesNoSecretInRedis(t *testing.T) {
	s := startStack(t)
	u := testenv.Users()[0]
	r := verifiedReset(t, s, u.Mail)
	const fresh = "Secret qui ne doit pas traîner"
	if path, _ := r.setPassword(fresh, fresh); path != "/mot-de-passe-perdu/termine" {
		t.Fatalf("at %s", path)
	}
	m := parseResetMail(t, s.SMTP.Messages()[0])
	token := m.Link[strings.Index(m.Link, "t=")+2:]
	dump := dumpRedis(t, s)
	if !strings.Contains(dump, "reset:") {
		t.Fatal("the dump does not contain the reset flow: the check would prove nothing")
	}
	for what, secret := range map[string]string{"new password": fresh, "old password": u.Password, "code": m.Code, "link token": token} {
		if strings.Contains(dump, secret) {
			t.Errorf("the %s is in Redis", what)
		}
	}
}

// dumpRedis reads every key of every type as text.
func dumpRedis(t *testing.T, s *stack) string {
	t.Helper()
	ctx := t.Context()
	rdb := s.Redis.Client(t)
	var sb strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		sb.WriteString(k + "\n")
		typ, _ := rdb.Type(ctx, k).Result()
		switch typ {
		case "string":
			v, _ := rdb.Get(ctx, k).Result()
			sb.WriteString(v)
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				sb.WriteString(f + "=" + v + "\n")
			}
		case "zset":
			sb.WriteString(strings.Join(rdb.ZRange(ctx, k, 0, -1).Val(), "\n"))
		case "set":
			sb.WriteString(strings.Join(rdb.SMembers(ctx, k).Val(), "\n"))
		case "list":
			sb.WriteString(strings.Join(rdb.LRange(ctx, k, 0, -1).Val(), "\n"))
		case "stream":
			for _, m := range rdb.XRange(ctx, k, "-", "+").Val() {
				for f, v := range m.Values {
					sb.WriteString(f + "=" + fmt.Sprint(v) + "\n")
				}
			}
		}
		sb.WriteString("\n")
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// The mail's link opened in a second Chromium (another person's browser
// profile): the journey goes on there to the new password, and
// « Continuer » leads to the site's home page, never into the first
// browser's pending sign-in.
func TestResetJourneyThroughLinkInAnotherBrowser(t *testing.T) {
	overSchemes(t, testResetJourneyThroughLinkInAnotherBrowser)
}

func testResetJourneyThroughLinkInAnotherBrowser(t *testing.T, https bool) {
	s := startStackWith(t, stackOptions{HTTPS: https})
	first, second := s.browser(t), s.browser(t)
	rp := s.Sites[0]
	u := testenv.Users()[2]
	startAt(t, first, rp)
	askForCode(t, first, u.Mail)
	m := mailAfter(t, s, 0, u.Mail, codeMail)

	if _, err := chromedp.RunResponse(timeout(t, second), chromedp.Navigate(m.Link)); err != nil {
		t.Fatal(err)
	}
	if loc := location(t, second); strings.Contains(loc, "t=") {
		t.Errorf("the token stays in the address bar: %s", loc)
	}
	click(t, second, button("Continuer"))
	const fresh = "Depuis le navigateur du téléphone"
	if err := chromedp.Do(timeout(t, second),
		chromedp.SendKeys(field("Nouveau mot de passe"), fresh),
		chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), fresh),
	); err != nil {
		t.Fatal(err)
	}
	click(t, second, button("Valider"))
	if err := chromedp.Do(timeout(t, second), chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="Votre mot de passe a été modifié"]`))); err != nil {
		t.Fatalf("no success page: %v", err)
	}
	href, err := chromedp.Run(timeout(t, second), chromedp.AttributeValue(link("Continuer"), "href"))
	if err != nil || href.Value != rp.URL+"/" {
		t.Errorf("« Continuer » in the other browser leads to %q, want the site's home page", href.Value)
	}
	// The first browser signs in to its pending sign-in with the new password.
	startAt(t, first, rp)
	signIn(t, first, u.UID, fresh)
	if loc := location(t, first); loc != rp.URL+"/" {
		t.Fatalf("signing in with the new password: at %s", loc)
	}
}

// reset.strict_passwords asks for 15 characters: 14 are refused on the
// page, before anything is queued.
func TestResetStrictPasswords(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) { c.Reset.StrictPasswords = true }})
	r := verifiedReset(t, s, testenv.Users()[0].Mail)
	path, body := r.setPassword("quatorze-chars", "quatorze-chars")
	if path != "/mot-de-passe-perdu/nouveau" || !strings.Contains(body, "au moins 15 caractères") {
		t.Fatalf("14 characters in strict mode: at %s", path)
	}
	if path, _ := r.setPassword("quinze-caractère", "quinze-caractère"); path != "/mot-de-passe-perdu/termine" {
		t.Fatalf("15 characters in strict mode: at %s", path)
	}
}
