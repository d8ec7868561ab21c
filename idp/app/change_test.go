package app_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// changeFrom opens « Changer mon mot de passe » from the landing page of a
// signed-in client and posts the current password; it returns where the
// POST led and the page when it did not redirect.
func changeFrom(t *testing.T, b *browserless, current string) (int, string, string) {
	t.Helper()
	landing := readAll(t, b.get(b.s.Issuer+"/"))
	if !strings.Contains(landing, `<a href="/compte/mot-de-passe">Changer mon mot de passe</a>`) {
		t.Fatalf("the landing page offers no « Changer mon mot de passe »:\n%s", landing)
	}
	tok, page := b.formToken("/compte/mot-de-passe")
	if tok == "" || !strings.Contains(page, `autocomplete="current-password"`) {
		t.Fatalf("no current-password form:\n%s", page)
	}
	resp, body := b.post("/compte/mot-de-passe", url.Values{"csrf_token": {tok}, "current_password": {current}}, nil)
	return resp.StatusCode, resp.Header.Get("Location"), body
}

// TestChangePasswordSignedIn: a person signed in here and in another
// browser changes the password from the landing page. A wrong current
// password is refused and queues nothing; the right one leads to the
// reset's new-password step; once written, the other browser's session
// and every refresh token end, this session stays, the notice is mailed.
func TestChangePasswordSignedIn(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: withThrottle})
	u := testenv.Users()[0]
	extra := url.Values{"scope": {"openid email offline_access"}}
	other, otherTokens := signedIn(t, s, s.Sites[0], extra)
	here, _ := signedIn(t, s, s.Sites[1], nil)

	t.Run("not signed in: back to the landing page", func(t *testing.T) {
		b := newBrowserless(t, s)
		resp := b.get(s.Issuer + "/compte/mot-de-passe")
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Errorf("%d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("a forged form is refused", func(t *testing.T) {
		resp, body := here.post("/compte/mot-de-passe", url.Values{"csrf_token": {"forged"}, "current_password": {u.Password}}, nil)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "lang=\"fr\"") {
			t.Errorf("forged form: %d", resp.StatusCode)
		}
	})
	t.Run("wrong current password: refused, nothing queued", func(t *testing.T) {
		status, loc, body := changeFrom(t, here, "Not-The-Password-1")
		if status != http.StatusOK || loc != "" || !strings.Contains(body, "Le mot de passe actuel saisi est incorrect.") ||
			!strings.Contains(body, "<title>Erreur") {
			t.Fatalf("wrong current password: %d %q\n%s", status, loc, body)
		}
		if dump := dumpRedis(t, s); strings.Contains(dump, "{pwchange}:job:") || strings.Contains(dump, "{pwchange}:status:") {
			t.Error("a job was queued after a wrong current password")
		}
		if n := countAudit(auditRecords(t, s), "password.change_refused", "wrong_current_password"); n != 1 {
			t.Errorf("%d password.change_refused events, want 1", n)
		}
		status, _, body = changeFrom(t, here, "")
		if status != http.StatusOK || !strings.Contains(body, "Saisissez votre mot de passe actuel.") {
			t.Errorf("empty current password: %d\n%s", status, body)
		}
		for _, odd := range []string{strings.Repeat("a", 10000), "mot\x00passe", "\xff\xfe", "mot\r\nde passe", "*)(uid=*"} {
			status, _, body = changeFrom(t, here, odd)
			if status != http.StatusOK || !strings.Contains(body, "Le mot de passe actuel saisi est incorrect.") {
				t.Errorf("current password %.20q: %d\n%s", odd, status, body)
			}
		}
		// Six failures in a row: the same throttle as the login screen.
		if !strings.Contains(body, "Par sécurité, après plusieurs essais infructueux, patientez") {
			t.Errorf("no delay after six wrong current passwords:\n%s", body)
		}
	})

	t.Run("a change left too long starts again at the change page", func(t *testing.T) {
		s.Clock.Advance(2 * time.Minute) // past the delay the failures above earned
		if status, loc, _ := changeFrom(t, here, u.Password); status != http.StatusSeeOther || loc != "/mot-de-passe-perdu/nouveau" {
			t.Fatalf("right current password: %d to %q", status, loc)
		}
		s.Clock.Advance(16 * time.Minute) // the flow lasts 15
		resp := here.get(s.Issuer + "/mot-de-passe-perdu/nouveau")
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/compte/mot-de-passe?expire=1" {
			t.Fatalf("expired change: %d to %q, want the change page", resp.StatusCode, loc)
		}
		if page := readAll(t, here.get(s.Issuer+"/compte/mot-de-passe?expire=1")); !strings.Contains(page, "Votre demande précédente a expiré") {
			t.Errorf("the change page does not say why:\n%s", page)
		}
	})

	const fresh = "Une phrase changée depuis la page d’accueil"
	status, loc, _ := changeFrom(t, here, u.Password)
	if status != http.StatusSeeOther || loc != "/mot-de-passe-perdu/nouveau" {
		t.Fatalf("right current password: %d to %q, want the new-password step", status, loc)
	}
	r := resetClient{here}
	path, body := r.setPassword(fresh, fresh)
	if path != "/mot-de-passe-perdu/termine" || !strings.Contains(body, "Votre connexion sur cet appareil est conservée") {
		t.Fatalf("after the change: %s\n%s", path, body)
	}
	if m := continueLink.FindStringSubmatch(body); m == nil || m[1] != "/" {
		t.Errorf("« Continuer » leads to %v, want the landing page", m)
	}

	mailAfter(t, s, 0, u.Mail, noticeMail)
	if e := here.silent(s.Sites[0], nil); e != "" {
		t.Errorf("this browser after the change: %q, want still signed in", e)
	}
	if e := other.silent(s.Sites[0], nil); e != "login_required" {
		t.Errorf("the other browser after the change: %q, want login_required", e)
	}
	rt, _ := otherTokens["refresh_token"].(string)
	if a := s.token(t, s.Sites[0], url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); a.body["error"] != "invalid_grant" {
		t.Errorf("the other browser's refresh token: %d %v", a.status, a.body)
	}
	if !binds(t, s, u.UID, fresh) || binds(t, s, u.UID, u.Password) {
		t.Error("the new password does not work, or the old one still does")
	}
	recs := auditRecords(t, s)
	for _, want := range []struct {
		name string
		n    int
	}{{"password.change_started", 2}, {"reset.queued", 1}, {"reset.written", 1}} { // the expired change started too
		if got := countAudit(recs, want.name, ""); got != want.n {
			t.Errorf("%d %s events, want %d", got, want.name, want.n)
		}
	}
	logs := s.Logs.String()
	if strings.Contains(logs, fresh) || strings.Contains(logs, u.Password) || strings.Contains(logs, "Not-The-Password-1") {
		t.Error("the logs hold a password")
	}
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if v, _ := otherTokens[k].(string); v == "" || strings.Contains(logs, v) {
			t.Errorf("the logs hold the %s (or the site got none)", k)
		}
	}
}

// TestChangePasswordAfterGraceLogin: the grace-login page offers the
// change; once done, « Continuer » goes back to the pending sign-in, which
// the kept session completes without asking again.
func TestChangePasswordAfterGraceLogin(t *testing.T) {
	s := startStackWith(t, stackOptions{Slapd: stateAccounts()})
	st := s.Sites[0]
	p := person("grace")
	b := newBrowserless(t, s)
	loginURL, _ := b.authorize(st, nil)
	body := readAll(t, b.login(loginURL, p.UID, p.Password))
	m := regexp.MustCompile(`<a href="(/compte/mot-de-passe\?authRequestID=[^"]+)">Changer mon mot de passe</a>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the grace page offers no change:\n%s", body)
	}
	changeURL := html.UnescapeString(m[1])
	tok, _ := b.formToken(changeURL)
	resp, _ := b.post(changeURL, url.Values{"csrf_token": {tok}, "current_password": {p.Password}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/mot-de-passe-perdu/nouveau" {
		t.Fatalf("current password: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	const fresh = "Une phrase neuve avant la dernière connexion"
	path, body := resetClient{b}.setPassword(fresh, fresh)
	c := continueLink.FindStringSubmatch(body)
	if path != "/mot-de-passe-perdu/termine" || c == nil {
		t.Fatalf("after the change: %s\n%s", path, body)
	}
	if next := html.UnescapeString(c[1]); next != strings.TrimPrefix(loginURL, s.Issuer) {
		t.Fatalf("« Continuer » leads to %q, want the pending sign-in %q", next, loginURL)
	}
	resp = b.get(loginURL)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || b.follow(resp.Header.Get("Location"), st) == "" {
		t.Fatalf("the pending sign-in did not complete with the kept session: %d", resp.StatusCode)
	}
	if !binds(t, s, p.UID, fresh) {
		t.Error("the new password does not sign in")
	}
}
