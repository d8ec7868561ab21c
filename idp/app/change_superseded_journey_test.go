package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestJourneyChangeStepAfterTheOwnersReset, in Chromium: someone who had
// the old password is on the new-password step of « Changer mon mot de
// passe » in one browser; the owner resets the password by mail in hers,
// and it is written. Before the sessions end (their consumer held back),
// the first browser validates a password of its own: it is told that its
// request expired and nothing was changed, and the owner's password is
// the one that works.
func TestJourneyChangeStepAfterTheOwnersReset(t *testing.T) {
	overSchemes(t, testJourneyChangeStepAfterTheOwnersReset)
}

func testJourneyChangeStepAfterTheOwnersReset(t *testing.T, https bool) {
	gate := &streamGate{open: make(chan struct{})}
	s := startStackWith(t, stackOptions{HTTPS: https, RedisHook: gate})
	t.Cleanup(gate.release)
	u := testenv.Users()[0]
	site := s.Sites[0]

	other, owner := s.browser(t), s.browser(t)
	startAt(t, other, site)
	signIn(t, other, u.UID, u.Password)
	if err := chromedp.Do(timeout(t, other), chromedp.Navigate(s.Issuer+"/"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	click(t, other, link("Changer mon mot de passe"))
	if err := chromedp.Do(timeout(t, other), chromedp.SendKeys(field("Mot de passe actuel"), u.Password)); err != nil {
		t.Fatal(err)
	}
	click(t, other, button("Continuer"))

	startAt(t, owner, site)
	askForCode(t, owner, u.Mail)
	code := mailAfter(t, s, 0, u.Mail, codeMail).Code
	if err := chromedp.Do(timeout(t, owner), chromedp.SendKeys(field("Code de sécurité"), code)); err != nil {
		t.Fatal(err)
	}
	click(t, owner, button("Valider"))
	const owners = "La phrase que la titulaire vient de choisir"
	newPassword(t, owner, owners)

	const theirs = "Une phrase de celui qui avait l'ancien mot de passe"
	if err := chromedp.Do(timeout(t, other),
		chromedp.SendKeys(field("Nouveau mot de passe"), theirs),
		chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), theirs),
	); err != nil {
		t.Fatal(err)
	}
	click(t, other, button("Valider"))
	if loc := location(t, other); !strings.HasPrefix(loc, s.Issuer+"/compte/mot-de-passe") {
		t.Errorf("the other browser after « Valider »: at %s, want the current-password page", loc)
	}
	if got := text(t, other, "[role=status]"); !strings.Contains(got, "Votre demande précédente a expiré") {
		t.Errorf("the other browser says %q, want that its request expired", got)
	}

	gate.release()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return at(t, other, s, site) == "login", "the other browser is still signed in"
	})
	if binds(t, s, u.UID, theirs) || !binds(t, s, u.UID, owners) {
		t.Error("the owner's password is not the one that works")
	}
}
