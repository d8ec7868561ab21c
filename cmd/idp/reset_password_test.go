package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/ldapsync/testenv"
)

// verifiedReset runs steps 1 to 4 for u and returns the client on the
// new-password page.
func verifiedReset(t *testing.T, s *stack, mail string) resetClient {
	t.Helper()
	r := resetClient{newBrowserless(t, s)}
	r.start()
	before := len(s.SMTP.Messages())
	r.email(url.Values{"email": {mail}}, nil)
	m := waitMail(t, s, before+1)
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
	loc := resp.Header.Get("Location")
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		page := r.get(r.s.Issuer + loc)
		body := readAll(r.t, page)
		if page.StatusCode == http.StatusSeeOther {
			loc = page.Header.Get("Location")
			continue
		}
		if !strings.HasPrefix(loc, "/mot-de-passe-perdu/attente") {
			return loc, body
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("the change never settled; last page %s", loc)
	return "", ""
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
	u := testenv.Users()[0]

	t.Run("refused before any job: blocklisted, mismatched, too short, context", func(t *testing.T) {
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
	})

	t.Run("refused by the directory, then a good one in the same flow", func(t *testing.T) {
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
func TestResetJourneyNewPassword(t *testing.T) {
	s := startStack(t)
	ctx := testenv.Browser(t)
	rp := s.Sites[0]
	u := testenv.Users()[1]
	click := func(sel chromedp.Search) {
		t.Helper()
		if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(sel)); err != nil {
			t.Fatal(err)
		}
	}
	startAt(t, ctx, rp)
	loginURL := location(t, ctx)
	click(link("Mot de passe perdu"))
	if err := chromedp.Do(timeout(t, ctx), chromedp.Click(field("Je suis un usager des services de la Région"))); err != nil {
		t.Fatal(err)
	}
	click(button("Continuer"))
	if err := chromedp.Do(timeout(t, ctx), chromedp.SendKeys(field("Adresse e-mail"), u.Mail)); err != nil {
		t.Fatal(err)
	}
	click(button("Recevoir un code"))
	m := waitMail(t, s, 1)
	if err := chromedp.Do(timeout(t, ctx), chromedp.SendKeys(field("Code de sécurité"), m.Code)); err != nil {
		t.Fatal(err)
	}
	click(button("Valider"))
	const fresh = "Un nouveau mot de passe bien long"
	if err := chromedp.Do(timeout(t, ctx),
		chromedp.SendKeys(field("Nouveau mot de passe"), fresh),
		chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), fresh),
		chromedp.Click(button("Afficher les mots de passe")),
	); err != nil {
		t.Fatal(err)
	}
	if typ := attr(t, &a11y{ctx: ctx}, "#nouveau", "type"); typ != "text" {
		t.Errorf("« Afficher » left the field as %q", typ)
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
