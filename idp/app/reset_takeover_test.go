package app_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// useLink opens a mailed link in r's browser and presses « Continuer »;
// it returns where the POST leads.
func (r resetClient) useLink(link string) string {
	r.t.Helper()
	r.get(link).Body.Close()
	tok, _ := r.formToken("/mot-de-passe-perdu/lien")
	if tok == "" {
		return ""
	}
	resp, _ := r.post("/mot-de-passe-perdu/lien", url.Values{"csrf_token": {tok}}, nil)
	return resp.Header.Get("Location")
}

// TestResetLinkInAnotherBrowser: an attacker types the victim's address;
// the victim opens the genuine mailed link in her own browser and presses
// « Continuer ». The attacker's browser must get nothing from it: not the
// new-password page, not a password of its choice, not the code.
func TestResetLinkInAnotherBrowser(t *testing.T) {
	s := startStack(t)
	victim := testenv.Users()[1]

	// Each subtest starts past the cooldown between two mails to the
	// victim, so that either runs first, or alone.
	t.Run("the browser that typed the address gets nothing", func(t *testing.T) {
		s.Clock.Advance(16 * time.Minute)
		attacker := resetClient{newBrowserless(t, s)}
		loginURL, _ := attacker.authorize(s.Sites[0], nil)
		authID := loginURL[strings.Index(loginURL, "authRequestID=")+len("authRequestID="):]
		tok, _ := attacker.formToken("/mot-de-passe-perdu?authRequestID=" + authID)
		attacker.post("/mot-de-passe-perdu?authRequestID="+authID, url.Values{"csrf_token": {tok}, "profil": {"usager"}}, nil)
		before := len(s.SMTP.Messages())
		attacker.email(url.Values{"email": {victim.Mail}}, nil)
		m := mailAfter(t, s, before, victim.Mail, codeMail)

		owner := resetClient{newBrowserless(t, s)}
		if loc := owner.useLink(m.Link); loc != "/mot-de-passe-perdu/nouveau" {
			t.Fatalf("the victim's link leads to %q", loc)
		}

		// The attacker asks for the new-password page and posts a password.
		page := attacker.get(s.Issuer + "/mot-de-passe-perdu/nouveau")
		body := readAll(t, page)
		const stolen = "Mot de passe de l'attaquant 42"
		if page.StatusCode == http.StatusOK && strings.Contains(body, "Nouveau mot de passe") {
			path, _ := attacker.setPassword(stolen, stolen)
			t.Errorf("the attacker's browser reached the new-password page and set a password (at %s); signs in with it: %v",
				path, binds(t, s, victim.UID, stolen))
		}
		if page.StatusCode != http.StatusSeeOther {
			t.Fatalf("attacker's new-password page: %d, want a redirect to a polite page", page.StatusCode)
		}
		next := attacker.get(s.Issuer + page.Header.Get("Location"))
		if body := readAll(t, next); next.StatusCode != http.StatusOK || !strings.Contains(body, "Votre demande précédente a expiré") {
			t.Errorf("the attacker lands on %s (%d), want the address page saying the request expired", page.Header.Get("Location"), next.StatusCode)
		}
		// The mailed code died with the attacker's flow.
		if loc, _ := attacker.code(m.Code); loc == "/mot-de-passe-perdu/nouveau" {
			t.Error("the mailed code still verifies the attacker's flow")
		}
		// A direct POST with a form token from the attacker's old page
		// cannot set it either.
		tok, _ = attacker.formToken("/mot-de-passe-perdu/nouveau")
		resp, _ := attacker.post("/mot-de-passe-perdu/nouveau", url.Values{"csrf_token": {tok}, "password": {stolen}, "confirmation": {stolen}}, nil)
		if resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/mot-de-passe-perdu/attente") {
			t.Error("the attacker queued a password")
		}

		// The victim's browser carries its own flow to the end.
		const fresh = "Changé par la vraie personne"
		path, body := owner.setPassword(fresh, fresh)
		if path != "/mot-de-passe-perdu/termine" {
			t.Fatalf("the victim's browser: at %s", path)
		}
		if strings.Contains(body, authID) {
			t.Error("« Continuer » in the victim's browser leads into the attacker's pending sign-in")
		}
		if !strings.Contains(body, `href="`+s.Sites[0].URL+`/"`) {
			t.Error("« Continuer » in the victim's browser does not lead to the site's home page")
		}
		if binds(t, s, victim.UID, stolen) || !binds(t, s, victim.UID, fresh) {
			t.Fatal("the directory does not hold the victim's password")
		}
	})

	t.Run("the browser that asked uses its own link: as before", func(t *testing.T) {
		s.Clock.Advance(16 * time.Minute)
		r := resetClient{newBrowserless(t, s)}
		loginURL, _ := r.authorize(s.Sites[0], nil)
		authID := loginURL[strings.Index(loginURL, "authRequestID=")+len("authRequestID="):]
		tok, _ := r.formToken("/mot-de-passe-perdu?authRequestID=" + authID)
		r.post("/mot-de-passe-perdu?authRequestID="+authID, url.Values{"csrf_token": {tok}, "profil": {"usager"}}, nil)
		before := len(s.SMTP.Messages())
		r.email(url.Values{"email": {victim.Mail}}, nil)
		m := mailAfter(t, s, before, victim.Mail, codeMail)
		if loc := r.useLink(m.Link); loc != "/mot-de-passe-perdu/nouveau" {
			t.Fatalf("own link leads to %q", loc)
		}
		if loc, _ := r.code(m.Code); loc == "/mot-de-passe-perdu/nouveau" {
			t.Error("the code still works after the link was used")
		}
		const fresh = "Encore une phrase toute neuve"
		path, body := r.setPassword(fresh, fresh)
		if path != "/mot-de-passe-perdu/termine" {
			t.Fatalf("at %s", path)
		}
		if !strings.Contains(body, "authRequestID="+authID) {
			t.Error("« Continuer » does not return to this browser's pending sign-in")
		}
	})
}

// codeStep is what a person sees after one action at the code step.
type codeStep struct {
	Status  int
	Message string
	Cookies string
}

var (
	setCookieValue = regexp.MustCompile(`^([^=]+)=[^;]*`)
	// Dates in Expires move with the clock; the rest of a cookie must match.
	cookieExpires = regexp.MustCompile(`; Expires=[^;]*`)
)

func codeMessage(body string) string {
	for _, m := range []struct{ text, label string }{
		{"Votre demande de nouveau code est prise en compte", "resent"},
		{"Trop de codes incorrects", "suspended"},
		{"n’est plus valable", "dead"},
		{"incorrect ou a expiré", "wrong"},
		{"Code de sécurité – Mot de passe perdu", "code page"},
	} {
		if strings.Contains(body, m.text) {
			return m.label
		}
	}
	return "other page"
}

// step records status, message and cookies (names and attributes: values
// are random) of a response; it follows a redirect within the provider.
func (r resetClient) step(resp *http.Response, body string) codeStep {
	r.t.Helper()
	var cookies []string
	for _, c := range resp.Header.Values("Set-Cookie") {
		c = setCookieValue.ReplaceAllString(c, "$1=…")
		cookies = append(cookies, cookieExpires.ReplaceAllString(c, ""))
	}
	st := codeStep{Status: resp.StatusCode, Message: codeMessage(body), Cookies: strings.Join(cookies, " | ")}
	if resp.StatusCode == http.StatusSeeOther {
		next := r.get(r.s.Issuer + resp.Header.Get("Location"))
		nb := readAll(r.t, next)
		st.Message = resp.Header.Get("Location") + " → " + fmt.Sprint(next.StatusCode) + " " + codeMessage(nb)
	}
	return st
}

// TestResetCodeStepSameForUnknownAddress: wrong codes, a new code and
// wrong codes again give the same answers, cookies and number of tries
// for an address that has an account and one that has none.
func TestResetCodeStepSameForUnknownAddress(t *testing.T) {
	s := startStack(t)
	known := testenv.Users()[0].Mail
	const unknown = "personne.inconnue@example.org"
	delivered := func(n int) {
		t.Helper()
		// Both deliveries run after the response: wait for the mail of
		// the known address and the lookup of the unknown one.
		mailAfter(t, s, n-1, known, codeMail)
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			looked := strings.Count(s.Logs.String(), "reset: no account for the address")
			return looked >= n, fmt.Sprintf("the unknown address was looked up %d times, want %d", looked, n)
		})
	}
	clients := map[string]resetClient{known: {newBrowserless(t, s)}, unknown: {newBrowserless(t, s)}}
	for addr, r := range clients {
		r.start()
		r.email(url.Values{"email": {addr}}, nil)
	}
	delivered(1)

	seq := map[string][]codeStep{}
	wrong := func(n int) {
		for addr, r := range clients {
			for range n {
				tok, _ := r.formToken("/mot-de-passe-perdu/code")
				resp, body := r.post("/mot-de-passe-perdu/code", url.Values{"csrf_token": {tok}, "code": {"ZZZZZZ"}}, nil)
				seq[addr] = append(seq[addr], r.step(resp, body))
			}
		}
	}
	wrong(7)
	for addr, r := range clients {
		tok, _ := r.formToken("/mot-de-passe-perdu/code")
		resp, body := r.post("/mot-de-passe-perdu/renvoyer", url.Values{"csrf_token": {tok}}, nil)
		seq[addr] = append(seq[addr], r.step(resp, body))
	}
	delivered(2)
	wrong(6)

	var want []string
	for range 5 {
		want = append(want, "wrong")
	}
	want = append(want, "dead", "dead", "/mot-de-passe-perdu/code?renvoi=1 → 200 resent")
	for range 5 {
		want = append(want, "wrong")
	}
	want = append(want, "suspended")
	var got []string
	for _, st := range seq[known] {
		got = append(got, st.Message)
	}
	if !slices.Equal(got, want) {
		t.Errorf("known address: %q,\nwant %q", got, want)
	}
	for i := range seq[known] {
		if k, u := seq[known][i], seq[unknown][i]; k != u {
			t.Errorf("step %d: known address %+v, unknown address %+v", i+1, k, u)
		}
	}
}

// TestResetLimitPerIPv6Network: behind a trusted proxy, the requests of
// one IPv6 /64 share one limit, as an IPv4 address does; another /64 or
// another IPv4 address has its own.
func TestResetLimitPerIPv6Network(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix("127.0.0.0/8"))
	}})
	u := testenv.Users()[0]
	r := resetClient{newBrowserless(t, s)}
	r.start()
	limited := func() int { return countAudit(auditRecords(t, s), "reset.limited", "ip") }
	for _, c := range []struct{ name, first, next, other string }{
		{"IPv6 /64", "2001:db8:1:2::%x", "2001:db8:1:2:ffff:ffff:ffff:%x", "2001:db8:1:3::1"},
		{"IPv4", "203.0.113.7", "203.0.113.7", "203.0.113.8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mailed := len(s.SMTP.Messages())
			before := limited()
			for i := range 30 {
				from := strings.ReplaceAll(c.first, "%x", fmt.Sprintf("%x", i+1))
				r.email(url.Values{"email": {fmt.Sprintf("personne-%d@example.org", i)}}, http.Header{"X-Forwarded-For": {from}})
			}
			if n := limited() - before; n != 0 {
				t.Fatalf("%d requests held back among the first 30", n)
			}
			from := strings.ReplaceAll(c.next, "%x", "9")
			r.email(url.Values{"email": {u.Mail}}, http.Header{"X-Forwarded-For": {from}})
			if n := limited() - before; n != 1 {
				t.Errorf("the 31st request of the network (from %s) was not held back", from)
			}
			r.email(url.Values{"email": {u.Mail}}, http.Header{"X-Forwarded-For": {c.other}})
			if n := limited() - before; n > 1 {
				t.Errorf("a request from %s was held back by another network's requests", c.other)
			}
			mailAfter(t, s, mailed, u.Mail, codeMail)
		})
	}
}

// TestResetWhileAnotherChangeIsUnderWay: someone who knows a person's
// password, signed in in their own browser, has a change of it under way
// when the person, in hers, sets a new password through « Mot de passe
// perdu ». She must not be told her password was changed while the other
// change is the one written: her page says that a change is under way and
// hers was not recorded. Once the other change is settled she tries again,
// her password is the one that works, and the other browser is signed out.
func TestResetWhileAnotherChangeIsUnderWay(t *testing.T) {
	s := startStack(t)
	u := testenv.Users()[0]
	other, _ := signedIn(t, s, s.Sites[0], nil)
	victim := verifiedReset(t, s, u.Mail)
	if status, loc, _ := changeFrom(t, other, u.Password); status != http.StatusSeeOther || loc != "/mot-de-passe-perdu/nouveau" {
		t.Fatalf("the other's change: %d to %q", status, loc)
	}
	const othersPw, hers = "Celui de l’autre navigateur, bien long", "Le sien, choisi après la perte"
	newPassword := func(r resetClient, pw string) (*http.Response, string) {
		t.Helper()
		tok, _ := r.formToken("/mot-de-passe-perdu/nouveau")
		return r.post("/mot-de-passe-perdu/nouveau", url.Values{"csrf_token": {tok}, "password": {pw}, "confirmation": {pw}}, nil)
	}
	// The directory is down: the worker keeps the other change under way.
	s.Slapd.Stop(t)
	if resp, _ := newPassword(resetClient{other}, othersPw); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/mot-de-passe-perdu/attente" {
		t.Fatalf("the other's new password: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := newPassword(victim, hers)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Le mot de passe n’a pas été modifié") ||
		!strings.Contains(body, "Une autre modification du mot de passe de ce compte est en cours") {
		t.Errorf("her new password while another change is under way: %d to %q, want the new-password page saying so", resp.StatusCode, resp.Header.Get("Location"))
	}
	s.Slapd.Start(t)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		return binds(t, s, u.UID, othersPw), "the other change was never written"
	})
	if path, _ := victim.setPassword(hers, hers); path != "/mot-de-passe-perdu/termine" {
		t.Fatalf("her second try: at %s", path)
	}
	if !binds(t, s, u.UID, hers) || binds(t, s, u.UID, othersPw) {
		t.Error("her password is not the one that works")
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return other.silent(s.Sites[0], nil) != "", "the other browser is still signed in"
	})
}
