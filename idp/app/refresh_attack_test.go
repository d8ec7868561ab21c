package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A client that learnt another client's refresh token (a leak, a log line)
// can neither use it nor, by presenting an old one, end the owner's
// sign-in: reuse detection belongs to the client the family was issued to.
func TestRefreshTokenOfAnotherClient(t *testing.T) {
	s := startStack(t)
	st, other := s.Sites[0], s.Sites[1]
	cb := st.URL + "/callback"
	refresh := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	}
	// family: the owner signs in, gets a refresh token and rotates it once.
	family := func(t *testing.T) (old, current string) {
		t.Helper()
		code, verifier := newBrowserless(t, s).code(st, url.Values{"scope": {"openid email offline_access"}})
		old, _ = s.token(t, st, codeForm(code, verifier, cb), true).body["refresh_token"].(string)
		a := s.token(t, st, refresh(old), true)
		current, _ = a.body["refresh_token"].(string)
		if a.status != http.StatusOK || old == "" || current == "" || current == old {
			t.Fatalf("owner's rotation: %d %v", a.status, a.body)
		}
		return old, current
	}
	attackers := []struct {
		name    string
		present func(t *testing.T, rt string) tokenAnswer
	}{
		{"another confidential client", func(t *testing.T, rt string) tokenAnswer {
			return s.token(t, other, refresh(rt), true)
		}},
		{"the public client", func(t *testing.T, rt string) tokenAnswer {
			return s.tokenRaw(t, withForm(refresh(rt), "client_id", "public"), "", "")
		}},
	}
	for _, a := range attackers {
		for _, which := range []string{"old", "current"} {
			t.Run(a.name+" presents the owner's "+which+" token", func(t *testing.T) {
				old, current := family(t)
				rt := old
				if which == "current" {
					rt = current
				}
				got := a.present(t, rt)
				if got.status != http.StatusBadRequest || got.body["error"] != "invalid_grant" ||
					!strings.HasPrefix(got.header.Get("Content-Type"), "application/json") {
					t.Errorf("attack answered %d %s %v, want 400 invalid_grant in JSON", got.status, got.header.Get("Content-Type"), got.body)
				}
				if owner := s.token(t, st, refresh(current), true); owner.status != http.StatusOK {
					t.Errorf("the owner's current refresh token no longer works: %d %v", owner.status, owner.body)
				}
			})
		}
	}
	t.Run("another client revokes with the owner's old token", func(t *testing.T) {
		old, current := family(t)
		s.revoke(t, other, old, "refresh_token") // its answer matters less than what it did
		if owner := s.token(t, st, refresh(current), true); owner.status != http.StatusOK {
			t.Errorf("the owner's current refresh token no longer works: %d %v", owner.status, owner.body)
		}
	})
	t.Run("the owner's own reuse still revokes the family", func(t *testing.T) {
		old, current := family(t)
		if got := s.token(t, st, refresh(old), true); got.status != http.StatusBadRequest || got.body["error"] != "invalid_grant" {
			t.Fatalf("owner's reuse: %d %v", got.status, got.body)
		}
		if got := s.token(t, st, refresh(current), true); got.status != http.StatusBadRequest || got.body["error"] != "invalid_grant" {
			t.Errorf("the family survived its owner's reuse: %d %v", got.status, got.body)
		}
	})
}
