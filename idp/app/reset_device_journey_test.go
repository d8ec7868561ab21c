package app_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestJourneyResetInTheOwnersBrowser, in Chromium over http and https
// (where the device cookie is __Host-idp_device): strangers spend the
// day's mails of the owner's address and suspend its codes with wrong
// ones; « Mot de passe perdu » still works in the browser the owner signed
// in with, to the new-password step.
func TestJourneyResetInTheOwnersBrowser(t *testing.T) {
	overSchemes(t, testJourneyResetInTheOwnersBrowser)
}

func testJourneyResetInTheOwnersBrowser(t *testing.T, https bool) {
	s := startStackWith(t, stackOptions{HTTPS: https})
	ctx := s.browser(t)
	u := testenv.Users()[0]
	if err := chromedp.Do(timeout(t, ctx), chromedp.Navigate(s.Sites[0].URL+"/start"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, u.UID, u.Password)

	// The strangers: ten flows, three per quarter of an hour, a wrong code
	// typed in each while it lives.
	for i := range 10 {
		r := resetClient{newBrowserless(t, s)}
		r.start()
		r.email(url.Values{"email": {u.Mail}}, nil)
		waitMailTo(t, s, u.Mail, i+1)
		if _, body := r.code("ZZZZZZ"); !strings.Contains(body, "incorrect ou a expiré") {
			t.Fatalf("wrong code %d: %.300s", i+1, body)
		}
		if i%3 == 2 {
			s.Clock.Advance(16 * time.Minute)
		}
	}
	s.Clock.Advance(16 * time.Minute)

	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(s.Issuer+"/mot-de-passe-perdu")); err != nil {
		t.Fatal(err)
	}
	codeFor(t, ctx, u.Mail)
	if h1 := heading(t, ctx); h1 != "Étape 4 sur 5 : Code de sécurité" {
		t.Fatalf("h1 %q", h1)
	}
	m := waitMailTo(t, s, u.Mail, 11)
	if err := chromedp.Do(timeout(t, ctx), chromedp.SendKeys(field("Code de sécurité"), m.Code)); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, button("Valider"))
	if h1 := heading(t, ctx); h1 != "Étape 5 sur 5 : Nouveau mot de passe" {
		t.Fatalf("after the owner's code: h1 %q", h1)
	}
}
