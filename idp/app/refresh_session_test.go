package app_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestRefreshTokenBoundToItsSession: a refresh token lives no longer than
// the sign-in session it came through. It stops working when that session
// has been left unused past its idle timeout (30 min), while a site that
// keeps refreshing keeps the session in use; and it dies 12 h after the
// password was checked, even when the site obtained it hours later through
// single sign-on.
func TestRefreshTokenBoundToItsSession(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	offline := url.Values{"scope": {"openid offline_access"}}
	refresh := func(t *testing.T, rt string) (int, string) {
		t.Helper()
		a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
		next, _ := a.body["refresh_token"].(string)
		if a.status != http.StatusOK {
			if a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
				t.Errorf("refused with %d %v, want 400 invalid_grant", a.status, a.body)
			}
		}
		return a.status, next
	}

	t.Run("the session left unused past its idle timeout", func(t *testing.T) {
		_, tok := signedIn(t, s, st, offline)
		s.Clock.Advance(31 * time.Minute)
		if status, _ := refresh(t, tok["refresh_token"].(string)); status == http.StatusOK {
			t.Error("the refresh token outlived its idle session")
		}
	})
	t.Run("a site that keeps refreshing keeps the session in use", func(t *testing.T) {
		b, tok := signedIn(t, s, st, offline)
		rt := tok["refresh_token"].(string)
		for i := range 3 { // 60 minutes, never 30 without a refresh
			s.Clock.Advance(20 * time.Minute)
			status, next := refresh(t, rt)
			if status != http.StatusOK {
				t.Fatalf("refresh %d, %v after the sign-in: %d", i+1, time.Duration(i+1)*20*time.Minute, status)
			}
			rt = next
		}
		if e := b.silent(st, nil); e != "" {
			t.Errorf("the browser's session after the refreshes: %q", e)
		}
	})
	t.Run("12 hours after the password, whenever the token was obtained", func(t *testing.T) {
		b, _ := signedIn(t, s, st, nil)
		t0 := s.Clock.Now()
		for s.Clock.Now().Sub(t0) < 11*time.Hour+40*time.Minute {
			s.Clock.Advance(25 * time.Minute)
			if e := b.silent(st, nil); e != "" {
				t.Fatalf("the session ended at +%v: %s", s.Clock.Now().Sub(t0), e)
			}
		}
		code, verifier := b.code(st, offline) // single sign-on: no password asked
		a := s.token(t, st, codeForm(code, verifier, st.URL+"/callback"), true)
		rt, _ := a.body["refresh_token"].(string)
		if a.status != http.StatusOK || rt == "" {
			t.Fatalf("token: %d %v", a.status, a.body)
		}
		if status, next := refresh(t, rt); status != http.StatusOK {
			t.Fatalf("a refresh within the 12 hours: %d", status)
		} else {
			rt = next
		}
		s.Clock.Advance(t0.Add(12*time.Hour + time.Minute).Sub(s.Clock.Now()))
		if status, _ := refresh(t, rt); status == http.StatusOK {
			t.Error("the refresh token outlived the 12 hours after the password")
		}
	})
}
