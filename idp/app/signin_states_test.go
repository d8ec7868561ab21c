package app_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// stateAccounts are directory accounts in each password-policy state.
func stateAccounts() testenv.SlapdOptions {
	longAgo := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	return testenv.SlapdOptions{
		Policies: []testenv.Policy{
			{Name: "expiring", MaxAge: time.Hour},
			{Name: "grace", MaxAge: time.Hour, GraceLogins: 2},
			{Name: "mustchange", MustChange: true},
		},
		Accounts: []testenv.Account{
			{User: person("expired"), Policy: "expiring", PasswordChanged: longAgo},
			{User: person("grace"), Policy: "grace", PasswordChanged: longAgo},
			{User: person("reset"), Policy: "mustchange", MustChange: true},
			{User: person("locked"), Locked: true},
		},
	}
}

var continueLink = regexp.MustCompile(`<a class="button" href="([^"]+)">`)

// TestSignInDirectoryStates: a specific message only when the directory
// proved the password right; the generic one for everything else.
func TestSignInDirectoryStates(t *testing.T) {
	s := startStackWith(t, stackOptions{Slapd: stateAccounts(), Config: withThrottle})
	st := s.Sites[0]
	const generic = "Identifiant ou mot de passe incorrect."
	tests := []struct {
		name, uid string
		right     bool
		wantIn    string // in the page
		wantOut   string // not in the page
	}{
		{"expired, wrong password", "expired", false, generic, "expiré"},
		{"expired, right password", "expired", true, "Votre mot de passe a expiré&nbsp;: choisissez-en un nouveau", generic},
		{"must change, wrong password", "reset", false, generic, "changer"},
		{"must change, right password", "reset", true, "Votre mot de passe a été réinitialisé par un administrateur&nbsp;: choisissez-en un nouveau", generic},
		{"locked in the directory, wrong password", "locked", false, generic, "suspendue"},
		{"locked in the directory, right password", "locked", true, generic, "suspendue"},
		{"grace, wrong password", "grace", false, generic, "expiré"},
		{"grace, first", "grace", true, "Il vous reste 1\u00a0connexion avec ce mot de passe", generic},
		{"grace, last", "grace", true, "C’était votre dernière connexion avec ce mot de passe", generic},
		{"grace used up", "grace", true, "Votre mot de passe a expiré&nbsp;: choisissez-en un nouveau", generic},
	}
	for _, tc := range tests { // in order: grace logins are used up
		b := newBrowserless(t, s)
		loginURL, _ := b.authorize(st, nil)
		pw := "Wrong-Password-1"
		if tc.right {
			pw = person(tc.uid).Password
		}
		resp := b.login(loginURL, tc.uid, pw)
		if resp.StatusCode == http.StatusSeeOther {
			// Proved right, but a new password is wanted first: straight to
			// the new-password step, no code needed.
			if loc := resp.Header.Get("Location"); loc != "/mot-de-passe-perdu/nouveau" {
				t.Errorf("%s: redirected to %q", tc.name, loc)
				continue
			}
			resp.Body.Close()
			resp = b.get(s.Issuer + "/mot-de-passe-perdu/nouveau")
		}
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, tc.wantIn) || strings.Contains(body, tc.wantOut) {
			t.Errorf("%s: %d, want %q without %q in:\n%s", tc.name, resp.StatusCode, tc.wantIn, tc.wantOut, body)
			continue
		}
		if strings.Contains(body, "choisissez-en un nouveau") {
			if !strings.Contains(body, `autocomplete="new-password"`) {
				t.Errorf("%s: no new-password form", tc.name)
			}
		} else if !strings.Contains(body, `>Mot de passe perdu</a>`) && !strings.HasPrefix(tc.name, "grace, ") {
			t.Errorf("%s: no « Mot de passe perdu » link", tc.name)
		}
		if !strings.HasPrefix(tc.name, "grace, ") || !tc.right {
			continue
		}
		// A grace login signs the person in: « Continuer » goes on to the site.
		m := continueLink.FindStringSubmatch(body)
		if m == nil || !strings.Contains(body, "Continuer vers «&nbsp;Site site1&nbsp;»") {
			t.Fatalf("%s: no « Continuer » link:\n%s", tc.name, body)
		}
		if code := b.follow(html.UnescapeString(m[1]), st); code == "" {
			t.Errorf("%s: « Continuer » did not lead to the site with a code", tc.name)
		}
	}
	recs := auditRecords(t, s)
	for _, want := range []struct {
		reason string
		n      int
	}{{"password_expired", 2}, {"password_must_change", 1}, {"invalid_credentials", 5}} {
		if got := countAudit(recs, "signin.failure", want.reason); got != want.n {
			t.Errorf("%d signin.failure %s events, want %d", got, want.reason, want.n)
		}
	}
	if got := countAudit(recs, "signin.success", "password_expired_grace"); got != 2 {
		t.Errorf("%d grace sign-ins audited, want 2", got)
	}
}
