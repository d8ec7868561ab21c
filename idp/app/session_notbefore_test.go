package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// pausedDirectory is the real directory, except that a sign-in whose
// password the directory accepted waits, after the bind, until released:
// the moment a new password can be written and every session revoked.
type pausedDirectory struct {
	login.Directory
	bound   chan string // the subject whose password was just accepted
	release chan struct{}
}

func (d *pausedDirectory) Verify(ctx context.Context, c ldapauth.Candidate, password string) (ldapauth.Result, error) {
	res, err := d.Directory.Verify(ctx, c, password)
	if err == nil && res.OK {
		d.bound <- res.User.Subject
		<-d.release
	}
	return res, err
}

// A sign-in with the old password that the directory accepted just before
// the password was changed must not end with a live session: revoking
// every session of the person wins, even over a sign-in already past its
// password check when the revocation ran.
func TestSessionRevocationWinsOverSignInInFlight(t *testing.T) {
	dir := &pausedDirectory{bound: make(chan string, 1), release: make(chan struct{})}
	s := startStackWith(t, stackOptions{Directory: func(real login.Directory) login.Directory {
		dir.Directory = real
		return dir
	}})
	st := s.Sites[0]
	ctx := timeout(t, context.Background())
	st0 := s.records(t)
	u := testenv.Users()[0]

	// The attacker, who knows the old password, opens the sign-in form.
	b := newBrowserless(t, s)
	loginURL, verifier := b.authorize(st, url.Values{"scope": {"openid offline_access"}})
	m := csrfField.FindStringSubmatch(readAll(t, b.get(loginURL)))
	if m == nil {
		t.Fatal("no csrf token on the login page")
	}
	req, _ := http.NewRequest(http.MethodPost, loginURL, strings.NewReader(url.Values{
		"csrf_token": {m[1]}, "login": {u.UID}, "password": {u.Password},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.Issuer)
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := b.client.Do(req)
		if err != nil {
			t.Error(err)
		}
		answered <- resp
	}()

	// The old password is accepted; the owner's new one is then written
	// and, as the completion consumer does, every session revoked.
	var subject string
	select {
	case subject = <-dir.bound:
	case <-ctx.Done():
		t.Fatal("the sign-in never reached the directory")
	}
	s.Clock.Advance(time.Second)
	if err := st0.RevokeSubject(ctx, subject, ""); err != nil {
		t.Fatal(err)
	}
	close(dir.release)
	resp := <-answered
	if resp == nil {
		t.FailNow()
	}
	resp.Body.Close()

	// Whatever the answer, its redirects must not lead to tokens.
	base, _ := url.Parse(s.Issuer)
	for loc := resp.Header.Get("Location"); loc != ""; {
		next, err := base.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(next.String(), st.URL+"/callback?") {
			if code := next.Query().Get("code"); code != "" {
				if a := s.token(t, st, codeForm(code, verifier, st.URL+"/callback"), true); a.status == http.StatusOK {
					t.Errorf("a sign-in that began before the revocation got tokens (refresh token: %v)", a.body["refresh_token"] != nil)
				}
			}
			break
		}
		if next.Host != base.Host {
			break
		}
		r := b.get(next.String())
		r.Body.Close()
		loc = r.Header.Get("Location")
	}
	if csrfField.MatchString(readAll(t, b.get(s.Issuer+"/"))) {
		t.Error("a sign-in that began before the revocation ended with a live session (GET / shows signed in)")
	}
}
