package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// field finds an input by the text of its label, as a person would.
func field(label string) chromedp.JSPath {
	return chromedp.JSPath(`document.getElementById([...document.querySelectorAll('label')].find(l => l.textContent.trim() === ` +
		jsString(label) + `).htmlFor)`)
}

// button finds a button by its text.
func button(text string) chromedp.Search {
	return chromedp.Search(`//button[normalize-space()=` + xpathString(text) + `]`)
}

func jsString(s string) string    { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
func xpathString(s string) string { return `"` + s + `"` }

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// heading is the page's h1 as read, white space (non-breaking too) made
// single spaces: « Étape 2 sur 5 : Votre situation ».
func heading(t *testing.T, ctx context.Context) string {
	t.Helper()
	return strings.Join(strings.Fields(text(t, ctx, "h1")), " ")
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// signIn types credentials on the login screen and submits.
func signIn(t *testing.T, ctx context.Context, login, password string) {
	t.Helper()
	// RunResponse waits for the page the click leads to, through redirects.
	_, err := chromedp.RunResponse(timeout(t, ctx),
		chromedp.WaitVisible(field("Identifiant ou adresse électronique")),
		chromedp.Clear(field("Identifiant ou adresse électronique")),
		chromedp.SendKeys(field("Identifiant ou adresse électronique"), login),
		chromedp.SendKeys(field("Mot de passe"), password),
		chromedp.Click(button("Se connecter")),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

func TestJourneySignIn(t *testing.T) { overSchemes(t, testJourneySignIn) }

func testJourneySignIn(t *testing.T, https bool) {
	s := startStackWith(t, stackOptions{HTTPS: https})
	ctx := s.browser(t)
	rp := s.Sites[0]
	user := testenv.Users()[0]

	// The site sends the person to the login screen.
	if err := chromedp.Do(timeout(t, ctx), chromedp.Navigate(rp.URL+"/start"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "h1"); got != "Connexion" {
		t.Fatalf("h1 = %q, want the login screen", got)
	}
	// In the answer to the site's authorization request, as Keycloak's.
	if loc := location(t, ctx); !strings.HasPrefix(loc, s.Issuer+"/authorize?") {
		t.Fatalf("login screen at %s", loc)
	}

	// A wrong password: the generic message, the identifier kept, no redirect.
	signIn(t, ctx, user.UID, "not-the-password")
	if loc := location(t, ctx); !strings.HasPrefix(loc, s.Issuer+"/login?") {
		t.Fatalf("after a wrong password the browser is at %s", loc)
	}
	if got := text(t, ctx, "[role=alert]"); !strings.Contains(got, "Identifiant ou mot de passe incorrect.") || !strings.Contains(got, "«\u00a0Mot de passe perdu\u00a0»") {
		t.Fatalf("failure message = %q", got)
	}
	kept, err := chromedp.Run(ctx, chromedp.Value(field("Identifiant ou adresse électronique")))
	if err != nil || kept != user.UID {
		t.Fatalf("identifier after failure = %q (%v), want %q", kept, err, user.UID)
	}
	title, _ := chromedp.Run(ctx, chromedp.Title())
	if !strings.HasPrefix(title, "Erreur\u00a0: Connexion") {
		t.Fatalf("title after failure = %q", title)
	}
	if rp.Last() != nil {
		t.Fatal("the site received something after a failed sign-in")
	}

	// The right password: back on the site, which verified the ID token.
	signIn(t, ctx, user.UID, user.Password)
	if loc := location(t, ctx); loc != rp.URL+"/" {
		t.Fatalf("after sign-in the browser is at %s, want the site", loc)
	}
	res := rp.Last()
	if res == nil {
		t.Fatalf("the site has no tokens; page says %q", text(t, ctx, "main"))
	}
	wantSub := s.Slapd.EntryUUID(t, user.UID)
	if res.IDToken.Subject != wantSub || res.IDToken.Issuer != s.Issuer {
		t.Fatalf("id_token sub=%q iss=%q, want %q and %q", res.IDToken.Subject, res.IDToken.Issuer, wantSub, s.Issuer)
	}
	for k, want := range map[string]any{
		"email": user.Mail, "email_verified": true, "given_name": user.GivenName, "family_name": user.Surname,
		"name": user.GivenName + " " + user.Surname, "preferred_username": user.UID,
	} {
		if res.Claims[k] != want {
			t.Errorf("id_token %s = %v, want %v", k, res.Claims[k], want)
		}
	}
	if res.UserInfoErr != nil || res.UserInfo["sub"] != wantSub || res.UserInfo["email"] != user.Mail {
		t.Errorf("userinfo = %v (%v)", res.UserInfo, res.UserInfoErr)
	}
	if page := text(t, ctx, "main"); !strings.Contains(page, user.Mail) {
		t.Errorf("the site's page does not show the claims: %q", page)
	}

	// The SSO session: the second site signs the person in without a form.
	other := s.Sites[1]
	if err := chromedp.Do(timeout(t, ctx), chromedp.Navigate(other.URL+"/start"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	if loc := location(t, ctx); loc != other.URL+"/" {
		t.Fatalf("second site: browser at %s, want a silent sign-in", loc)
	}
	if r := other.Last(); r == nil || r.IDToken.Subject != wantSub {
		t.Fatalf("second site got %+v", r)
	}
}

func TestJourneyBadClientStaysOnProvider(t *testing.T) {
	s := startStack(t)
	ctx := testenv.Browser(t)
	rp := s.Sites[0]
	cases := []struct {
		name, clientID, redirect, title string
	}{
		{"unknown client", "nobody", rp.URL + "/callback", "Site inconnu"},
		{"unregistered redirect", rp.ClientID, "http://127.0.0.9:1/callback", "Adresse de retour non autorisée"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := s.Issuer + "/authorize?" + url.Values{
				"client_id": {c.clientID}, "redirect_uri": {c.redirect}, "response_type": {"code"},
				"scope": {"openid"}, "state": {"xyz"},
			}.Encode()
			resp, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(u))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.Status)
			}
			if loc := location(t, ctx); loc != u {
				t.Errorf("browser moved to %s", loc)
			}
			if got := text(t, ctx, "h1"); got != c.title {
				t.Errorf("h1 = %q, want %q", got, c.title)
			}
		})
	}
}
