package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// link finds a link by its text, as a person would.
func link(text string) chromedp.Search {
	return chromedp.Search(`//a[normalize-space()=` + xpathString(text) + `]`)
}

// startAt opens the site's sign-in button, which leads to the login screen.
func startAt(t *testing.T, ctx context.Context, rp *site) {
	t.Helper()
	if err := chromedp.Do(timeout(t, ctx), chromedp.Navigate(rp.URL+"/start"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
}

// pendingLogin returns the address of the pending sign-in's login
// screen the browser shows: the site's authorization request answered
// with it, and its form posts to, and « Continuer » comes back to,
// /login?authRequestID=….
func pendingLogin(t *testing.T, ctx context.Context) string {
	t.Helper()
	u, err := chromedp.Run(timeout(t, ctx), chromedp.Evaluate[string](`document.querySelector('form[action^="/login?authRequestID="]').action`))
	if err != nil || u == "" {
		t.Fatalf("no login form of a pending sign-in at %s: %v", location(t, ctx), err)
	}
	return u
}

// followLostPassword clicks « Mot de passe perdu » and checks where it
// leads; the link carries the pending sign-in.
func followLostPassword(t *testing.T, ctx context.Context, s *stack) {
	t.Helper()
	href, err := chromedp.Run(timeout(t, ctx), chromedp.AttributeValue(link("Mot de passe perdu"), "href"))
	if err != nil || !strings.HasPrefix(href.Value, "/mot-de-passe-perdu?authRequestID=") {
		t.Errorf("« Mot de passe perdu » links to %q (%v), without the pending sign-in", href.Value, err)
	}
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(link("Mot de passe perdu"))); err != nil {
		t.Fatalf("click « Mot de passe perdu »: %v", err)
	}
	if got := heading(t, ctx); got != "Étape 2 sur 5 : Votre situation" {
		t.Errorf("h1 = %q, want the lost-password page", got)
	}
	if loc := location(t, ctx); !strings.HasPrefix(loc, s.Issuer+"/mot-de-passe-perdu") {
		t.Errorf("lost-password page at %s", loc)
	}
}

// focusedID is the id of the element that has the focus.
func focusedID(t *testing.T, ctx context.Context) string {
	t.Helper()
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestJourneyLockout: ten wrong passwords lock the account; the
// eleventh attempt is refused even with the right password, the page keeps
// « Mot de passe perdu », and 15 minutes later (fake clock) the right
// password signs the person in.
func TestJourneyLockout(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: withThrottle})
	ctx := testenv.Browser(t)
	rp := s.Sites[0]
	user := testenv.Users()[0]

	startAt(t, ctx, rp)
	for i := 1; i <= 10; i++ {
		signIn(t, ctx, user.UID, fmt.Sprintf("Wrong-Password-%d", i))
		alert := text(t, ctx, "[role=alert]")
		if !strings.Contains(alert, "Identifiant ou mot de passe incorrect.") {
			t.Fatalf("failure %d: %q", i, alert)
		}
		if delayed := strings.Contains(alert, "patientez"); delayed != (i >= 5 && i < 10) {
			t.Fatalf("failure %d: delay shown %v: %q", i, delayed, alert)
		}
		if i >= 5 && i < 10 {
			s.Clock.Advance(time.Minute) // instead of waiting out the delay
		}
	}
	signIn(t, ctx, user.UID, user.Password)
	alert := text(t, ctx, "[role=alert]")
	if !strings.Contains(alert, "Identifiant ou mot de passe incorrect.") ||
		!strings.Contains(alert, "suspendue pendant 15\u00a0minutes") || !strings.Contains(alert, "«\u00a0Mot de passe perdu\u00a0»") {
		t.Fatalf("11th attempt, right password: %q", alert)
	}
	if loc := location(t, ctx); !strings.HasPrefix(loc, s.Issuer+"/login?") || rp.Last() != nil {
		t.Fatalf("11th attempt signed in: browser at %s", loc)
	}
	if id := focusedID(t, ctx); id != "erreur" {
		t.Errorf("focus on %q, want the message", id)
	}
	followLostPassword(t, ctx, s)

	s.Clock.Advance(15 * time.Minute)
	startAt(t, ctx, rp) // a new sign-in: the first one has expired meanwhile
	signIn(t, ctx, user.UID, user.Password)
	if loc := location(t, ctx); loc != rp.URL+"/" {
		t.Fatalf("after the lock the browser is at %s, want the site; page: %q", loc, text(t, ctx, "main"))
	}
	if res := rp.Last(); res == nil || res.IDToken.Subject != s.Slapd.EntryUUID(t, user.UID) {
		t.Fatalf("the site got %+v", res)
	}
}

// TestJourneyPasswordMustChange: a right password the directory wants
// changed (expired with no grace left, or set by an administrator) leads
// straight to the new-password step, saying why; once written by
// ldapsync, « Continuer » goes back to the login screen and the new
// password signs in. The same accounts with a wrong password get only the
// generic message.
func TestJourneyPasswordMustChange(t *testing.T) {
	s := startStackWith(t, stackOptions{Slapd: stateAccounts(), Config: withThrottle})
	for _, tc := range []struct{ uid, why string }{
		{"expired", "Votre mot de passe a expiré"},
		{"reset", "Votre mot de passe a été réinitialisé par un administrateur"},
	} {
		t.Run(tc.uid, func(t *testing.T) {
			ctx := testenv.Browser(t)
			rp := s.Sites[0]
			p := person(tc.uid)
			before := rp.Last()
			startAt(t, ctx, rp)
			loginURL := pendingLogin(t, ctx)
			signIn(t, ctx, p.UID, "Wrong-Password-1")
			if alert := text(t, ctx, "[role=alert]"); !strings.Contains(alert, "Identifiant ou mot de passe incorrect.") || strings.Contains(alert, "expiré") {
				t.Fatalf("wrong password: %q", alert)
			}
			signIn(t, ctx, p.UID, p.Password)
			if h1, intro := text(t, ctx, "h1"), text(t, ctx, "main > p"); h1 != "Votre nouveau mot de passe" || !strings.HasPrefix(intro, tc.why) {
				t.Fatalf("right password: %q, %q at %s", h1, intro, location(t, ctx))
			}
			if rp.Last() != before {
				t.Fatal("the site got a result before the change")
			}
			const fresh = "Une phrase neuve pour repartir"
			if err := chromedp.Do(timeout(t, ctx),
				chromedp.SendKeys(field("Nouveau mot de passe"), fresh),
				chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), fresh),
				chromedp.Click(button("Valider")),
				chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="Votre mot de passe a été modifié"]`)),
			); err != nil {
				t.Fatalf("never reached the success page: %v (at %s)", err, location(t, ctx))
			}
			if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(link("Continuer"))); err != nil {
				t.Fatal(err)
			}
			if loc := location(t, ctx); loc != loginURL {
				t.Fatalf("« Continuer » leads to %s, want the login screen %s", loc, loginURL)
			}
			signIn(t, ctx, p.UID, fresh)
			if loc := location(t, ctx); loc != rp.URL+"/" || rp.Last() == before {
				t.Fatalf("the new password did not sign in: at %s, page %q", loc, text(t, ctx, "main"))
			}
		})
	}
}
