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

// TestChangeFlowEndsWithItsSession: the new-password step that
// « Changer mon mot de passe » opens belongs to the session it was opened
// from. Once that session has ended, the browser that still holds the
// step cannot set a password: not the next person at a shared computer
// after a logout, not someone who had the old password once the owner's
// reset has ended every session.
func TestChangeFlowEndsWithItsSession(t *testing.T) {
	s := startStack(t)
	tests := []struct {
		name string
		user testenv.User
		end  func(t *testing.T, b *browserless, u testenv.User)
	}{
		{"logged out", testenv.Users()[0], func(t *testing.T, b *browserless, _ testenv.User) {
			tok, _ := b.formToken("/")
			if resp, _ := b.post("/deconnexion", url.Values{"csrf_token": {tok}}, http.Header{"Origin": {s.Issuer}}); resp.StatusCode != http.StatusOK {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
		}},
		{"the owner's reset ended every session", testenv.Users()[1], func(t *testing.T, _ *browserless, u testenv.User) {
			const owners = "La phrase que la titulaire vient de choisir"
			if path, _ := verifiedReset(t, s, u.Mail).setPassword(owners, owners); path != "/mot-de-passe-perdu/termine" {
				t.Fatalf("the owner's reset: at %s", path)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := signedInAs(t, s, s.Sites[0], tc.user)
			if status, loc, _ := changeFrom(t, b, tc.user.Password); status != http.StatusSeeOther || loc != "/mot-de-passe-perdu/nouveau" {
				t.Fatalf("the current password: %d to %q", status, loc)
			}
			tc.end(t, b, tc.user)
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				return b.silent(s.Sites[0], nil) == "login_required", "the session has not ended"
			})
			const pw = "Une phrase choisie une fois la session finie"
			if path, _ := (resetClient{b}).setPassword(pw, pw); path == "/mot-de-passe-perdu/termine" || path == "/mot-de-passe-perdu/attente" {
				t.Errorf("the step outlived its session: at %s", path)
			}
			if binds(t, s, tc.user.UID, pw) {
				t.Errorf("the password set after the session ended works")
			}
		})
	}
}

// TestChangeFlowLastsAsLongAsItsJob: a new password submitted near the end
// of the step's 15 minutes, while the directory is down: the flow lasts as
// long as its change may still be written, so « Vérifier » keeps waiting
// past the 15 minutes and then shows the outcome; the person is never told
// that a password was not changed when it is then written.
func TestChangeFlowLastsAsLongAsItsJob(t *testing.T) {
	s := startStackWith(t, stackOptions{WorkerRetries: 10000})
	u := testenv.Users()[0]
	b, _ := signedInAs(t, s, s.Sites[0], u)
	if status, loc, _ := changeFrom(t, b, u.Password); status != http.StatusSeeOther || loc != "/mot-de-passe-perdu/nouveau" {
		t.Fatalf("the current password: %d to %q", status, loc)
	}
	s.Clock.Advance(13 * time.Minute) // the person took their time
	s.Slapd.Stop(t)
	const fresh = "Une phrase écrite après les quinze minutes"
	tok, _ := b.formToken("/mot-de-passe-perdu/nouveau")
	resp, _ := b.post("/mot-de-passe-perdu/nouveau", url.Values{"csrf_token": {tok}, "password": {fresh}, "confirmation": {fresh}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/mot-de-passe-perdu/attente" {
		t.Fatalf("the new password: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	s.Clock.Advance(3 * time.Minute) // past the step's 15 minutes, within the change's
	if w := b.get(s.Issuer + "/mot-de-passe-perdu/attente"); w.StatusCode != http.StatusOK {
		w.Body.Close()
		t.Errorf("« Vérifier » past the 15 minutes: %d to %q, want the waiting screen", w.StatusCode, w.Header.Get("Location"))
	} else {
		w.Body.Close()
	}
	s.Slapd.Start(t)
	if path, _ := (resetClient{b}).settle("/mot-de-passe-perdu/attente"); path != "/mot-de-passe-perdu/termine" {
		t.Errorf("once the directory is back: at %s", path)
	}
	if !binds(t, s, u.UID, fresh) {
		t.Error("the new password does not work")
	}
}
