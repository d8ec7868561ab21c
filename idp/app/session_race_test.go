package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Requests in flight must never bring an ended session back: the browser
// keeps loading pages (several tabs, prefetches) with its cookie while the
// session is ended, by logout or by the revocation that follows a new
// password. Afterwards that cookie must open nothing, every time.
func TestSessionEndWinsOverRequestsInFlight(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	ctx := timeout(t, context.Background())
	st0 := s.records(t)
	const rounds, inFlight = 20, 6

	// signedInPage loads path with exactly this cookie (the jar of the
	// tab that sent the request before the logout answered).
	signedInPage := func(cookie, path string) bool {
		req, _ := http.NewRequest(http.MethodGet, s.Issuer+path, nil)
		req.AddCookie(&http.Cookie{Name: s.cfg.Session.CookieName, Value: cookie})
		resp, err := noRedirect().Do(req)
		if err != nil {
			t.Error(err)
			return false
		}
		body := readAll(t, resp)
		switch path {
		case "/":
			return csrfField.MatchString(body) // the « Se déconnecter » form
		default: // the logout confirmation asks only the signed in
			return strings.Contains(body, "Voulez-vous vous déconnecter")
		}
	}

	for _, tc := range []struct {
		name string
		end  func(t *testing.T, b *browserless, subject string)
	}{
		{"logout", func(t *testing.T, b *browserless, _ string) {
			tok, _ := b.formToken("/")
			resp, _ := b.post("/deconnexion", url.Values{"csrf_token": {tok}}, http.Header{"Origin": {s.Issuer}})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
		}},
		{"revocation of every session after a new password", func(t *testing.T, _ *browserless, subject string) {
			if err := st0.RevokeSubject(ctx, subject, ""); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			survived := 0
			for range rounds {
				b, tok := signedIn(t, s, st, nil)
				idt, err := verifyID(s, st, tok["id_token"].(string))
				if err != nil {
					t.Fatal(err)
				}
				cookie := b.cookieValue(s.cfg.Session.CookieName)
				var stop atomic.Bool
				var wg sync.WaitGroup
				for i := range inFlight {
					path := []string{"/", "/deconnexion"}[i%2]
					wg.Go(func() {
						for !stop.Load() {
							// Past the minute between two touches: every
							// request in flight writes the session.
							s.Clock.Advance(time.Minute + time.Second)
							signedInPage(cookie, path)
						}
					})
				}
				tc.end(t, b, idt.Subject)
				stop.Store(true)
				wg.Wait()
				if signedInPage(cookie, "/") || signedInPage(cookie, "/deconnexion") {
					survived++
				}
				if sess, err := st0.Session(ctx, cookie); err == nil {
					t.Errorf("the session is still in Redis (last seen %s)", sess.LastSeen)
				}
			}
			if survived > 0 {
				t.Errorf("%d of %d sessions survived their end under requests in flight", survived, rounds)
			}
		})
	}
}

// A code obtained through a session and redeemed after that session ended
// (logout, or every session revoked after a new password) must not bring
// fresh tokens: the end of the session would be undone by a request that
// was on its way.
func TestCodeOfAnEndedSessionGivesNoToken(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	ctx := timeout(t, context.Background())
	st0 := s.records(t)

	for _, tc := range []struct {
		name string
		end  func(t *testing.T, b *browserless, subject string)
	}{
		{"logout", func(t *testing.T, b *browserless, _ string) {
			tok, _ := b.formToken("/")
			if resp, _ := b.post("/deconnexion", url.Values{"csrf_token": {tok}}, http.Header{"Origin": {s.Issuer}}); resp.StatusCode != http.StatusOK {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
		}},
		{"revocation after a new password", func(t *testing.T, _ *browserless, subject string) {
			if err := st0.RevokeSubject(ctx, subject, ""); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, tok := signedIn(t, s, st, nil)
			idt, err := verifyID(s, st, tok["id_token"].(string))
			if err != nil {
				t.Fatal(err)
			}
			// A silent sign-in through the session, its code not yet redeemed.
			// /authorize answers at once with the site's redirect.
			callback, verifier := b.authorize(st, url.Values{"scope": {"openid offline_access"}})
			code := b.follow(callback, st)

			tc.end(t, b, idt.Subject)
			if a := s.token(t, st, codeForm(code, verifier, st.URL+"/callback"), true); a.status == http.StatusOK {
				t.Errorf("the code of an ended session gave tokens: %v", a.body["token_type"])
			}
		})
	}
}
