package app_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// signedInAs is signedIn for any directory account.
func signedInAs(t *testing.T, s *stack, st *site, u testenv.User) (*browserless, string) {
	t.Helper()
	b := newBrowserless(t, s)
	loginURL, verifier := b.authorize(st, nil)
	resp := b.login(loginURL, u.UID, u.Password)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in of %s: %d", u.UID, resp.StatusCode)
	}
	code := b.follow(resp.Header.Get("Location"), st)
	a := s.token(t, st, codeForm(code, verifier, st.URL+"/callback"), true)
	raw, _ := a.body["id_token"].(string)
	if a.status != http.StatusOK || raw == "" {
		t.Fatalf("token: %d %v", a.status, a.body)
	}
	return b, raw
}

// TestIDTokenHintOfAnotherPerson: a site that names one person in
// id_token_hint never gets the session of another (OpenID Connect Core
// 3.1.2.2): prompt=none answers login_required, otherwise the form.
func TestIDTokenHintOfAnotherPerson(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	_, hintA := signedInAs(t, s, st, testenv.Users()[0])
	b, hintB := signedInAs(t, s, st, testenv.Users()[1])

	if e := b.silent(st, url.Values{"id_token_hint": {hintB}}); e != "" {
		t.Fatalf("prompt=none naming the session's person: %q, want a code", e)
	}
	if e := b.silent(st, url.Values{"id_token_hint": {hintA}}); e != "login_required" {
		t.Errorf("prompt=none naming another person: %q, want login_required", e)
	}
	if !b.formShown(st, url.Values{"id_token_hint": {hintA}}) {
		t.Error("a hint naming another person reused the session instead of asking for a sign-in")
	}
	if b.formShown(st, url.Values{"id_token_hint": {hintB}}) {
		t.Error("a hint naming the session's person asked for the password again")
	}
}
