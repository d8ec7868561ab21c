package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestCodeRedeemedTwiceAtOnce: a stolen code and verifier redeemed at the
// same moment as the site redeems them. One redemption wins, the other is
// a replay, and a replay revokes what the code gave, however the two
// interleave: with offline_access too, where the refresh family is written
// after the code is spent. A replay by another client, which cannot have
// the code legitimately, revokes nothing.
func TestCodeRedeemedTwiceAtOnce(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	cb := st.URL + "/callback"
	const rounds = 10
	for _, scope := range []string{"openid email", "openid email offline_access"} {
		t.Run(scope, func(t *testing.T) {
			for range rounds {
				code, verifier := newBrowserless(t, s).code(st, url.Values{"scope": {scope}})
				answers := make([]tokenAnswer, 2)
				var wg sync.WaitGroup
				for i := range answers {
					wg.Go(func() { answers[i] = s.token(t, st, codeForm(code, verifier, cb), true) })
				}
				wg.Wait()
				var won *tokenAnswer
				for i, a := range answers {
					if a.status == http.StatusOK {
						if won != nil {
							t.Fatal("both redemptions got tokens")
						}
						won = &answers[i]
					} else if a.body["error"] != "invalid_grant" {
						t.Fatalf("the other redemption: %d %v", a.status, a.body)
					}
				}
				if won == nil {
					continue // both refused: nothing was given
				}
				if got := s.userinfo(t, won.body["access_token"].(string)); got == http.StatusOK {
					t.Errorf("the winner's access token works after the replay")
				}
				if rt, ok := won.body["refresh_token"].(string); ok {
					if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); a.body["error"] != "invalid_grant" {
						t.Errorf("the winner's refresh token works after the replay: %d", a.status)
					}
				} else if strings.Contains(scope, "offline_access") {
					t.Fatalf("no refresh token: %v", won.body)
				}
			}
		})
	}
	t.Run("another client's replay", func(t *testing.T) {
		code, verifier := newBrowserless(t, s).code(st, url.Values{"scope": {"openid email offline_access"}})
		answers := make([]tokenAnswer, 2)
		var wg sync.WaitGroup
		wg.Go(func() { answers[0] = s.token(t, st, codeForm(code, verifier, cb), true) })
		wg.Go(func() { answers[1] = s.token(t, s.Sites[1], codeForm(code, verifier, cb), true) })
		wg.Wait()
		if answers[0].status != http.StatusOK || answers[1].status == http.StatusOK {
			t.Fatalf("the site: %d; the other client: %d", answers[0].status, answers[1].status)
		}
		rt := answers[0].body["refresh_token"].(string)
		if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); a.status != http.StatusOK {
			t.Errorf("another client's replay revoked the site's tokens: %d %v", a.status, a.body["error"])
		}
	})
}
