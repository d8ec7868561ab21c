package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestSignInAfterTheOtherTabEndsIt: two sign-ins at once in one browser
// holding session P, where the second tab's request still carries the
// cookie P but arrives after the first tab's sign-in replaced P: S1 took
// P's refresh tokens and P is gone. The second tab's session must still
// count as P's successor, so that when the browser's session ends (a
// logout, or another person signing in in that second tab) S1 ends too:
// its refresh token is refused and its site is told.
func TestSignInAfterTheOtherTabEndsIt(t *testing.T) {
	s := startStack(t)
	site1, site2 := s.Sites[0], s.Sites[1]
	ctx := timeout(t, context.Background())
	st0 := store.New(store.Options{Client: s.Redis.Client(t), Prefix: s.cfg.Redis.KeyPrefix, Now: s.Clock.Now})
	name := s.cfg.Session.CookieName
	offline := url.Values{"scope": {"openid offline_access"}}
	u := testenv.Users()[0]

	for _, tc := range []struct {
		name string
		// second signs in the second tab, which then holds the browser's
		// session, and ends that session.
		second func(t *testing.T, tab *browserless, loginURL string)
	}{
		{"the same person, then a logout", func(t *testing.T, tab *browserless, loginURL string) {
			resp := tab.login(loginURL, u.UID, u.Password)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("second tab's sign-in: %d", resp.StatusCode)
			}
			csrfTok, _ := tab.formToken("/")
			if resp, _ := tab.post("/deconnexion", url.Values{"csrf_token": {csrfTok}}, http.Header{"Origin": {s.Issuer}}); resp.StatusCode != http.StatusOK {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
		}},
		{"another person", func(t *testing.T, tab *browserless, loginURL string) {
			next := testenv.Users()[1]
			resp := tab.login(loginURL, next.UID, next.Password)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("the other person's sign-in: %d", resp.StatusCode)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, tok := signedIn(t, s, site1, offline)
			rt := tok["refresh_token"].(string)
			p := b.cookieValue(name)

			// Both tabs past the password form with the cookie P.
			tabs := []*browserless{newBrowserless(t, s), newBrowserless(t, s)}
			urls := make([]string, len(tabs))
			for i, tab := range tabs {
				tab.setCookie(name, p)
				urls[i], _ = tab.authorize(site2, url.Values{"prompt": {"login"}})
			}
			// The first tab's sign-in replaces P: S1.
			resp := tabs[0].login(urls[0], u.UID, u.Password)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("first tab's sign-in: %d", resp.StatusCode)
			}
			s1, err := st0.Session(ctx, tabs[0].cookieValue(name))
			if err != nil || !slices.Contains(s1.Earlier, store.Ref(p)) {
				t.Fatalf("S1 does not replace P (err %v)", err)
			}
			if _, err := st0.Session(ctx, p); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("P still there: %v", err)
			}
			// S1 now serves site 1's refresh token.
			a := s.token(t, site1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
			if a.status != http.StatusOK {
				t.Fatalf("refresh through S1: %d %v", a.status, a.body["error"])
			}
			rt = a.body["refresh_token"].(string)

			site1.BackchannelDown.Store(true) // its logout tokens stay queued, where they are read
			t.Cleanup(func() { site1.BackchannelDown.Store(false) })
			tc.second(t, tabs[1], urls[1])

			endedWithItsSite(t, ctx, s, st0, site1, rt, s1.Ref)
		})
	}
}

// TestAnotherPersonEndsTheSignInAtOnce: the browser's first session P
// (nothing earlier) is replaced by the same person's sign-in in one tab
// (S1, which takes P's refresh tokens) while another person's sign-in in
// another tab still read P. Ending P for that person must end S1 too.
func TestAnotherPersonEndsTheSignInAtOnce(t *testing.T) {
	s := startStack(t)
	site1, site2 := s.Sites[0], s.Sites[1]
	ctx := timeout(t, context.Background())
	st0 := store.New(store.Options{Client: s.Redis.Client(t), Prefix: s.cfg.Redis.KeyPrefix, Now: s.Clock.Now})
	name := s.cfg.Session.CookieName

	b, tok := signedIn(t, s, site1, url.Values{"scope": {"openid offline_access"}})
	rt := tok["refresh_token"].(string)
	p, err := st0.Session(ctx, b.cookieValue(name))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Earlier) != 0 {
		t.Fatalf("P has %d earlier sessions, want none", len(p.Earlier))
	}
	// The first tab's S1, as its sign-in writes it; P is still there for
	// the second tab, which read it first.
	now := s.Clock.Now()
	s1 := &store.Session{
		ID: store.NewID(), Subject: p.Subject, Claims: p.Claims, AMR: p.AMR, AuthTime: now,
		Clients: p.Clients, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(s.cfg.Session.Lifetime),
		Earlier: []string{p.Ref},
	}
	if err := st0.SaveSession(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if err := st0.MoveSessionFamilies(ctx, p.Subject, p.Ref, s1.Ref); err != nil {
		t.Fatal(err)
	}

	site1.BackchannelDown.Store(true)
	t.Cleanup(func() { site1.BackchannelDown.Store(false) })
	loginURL, _ := b.authorize(site2, url.Values{"prompt": {"login"}})
	next := testenv.Users()[1]
	resp := b.login(loginURL, next.UID, next.Password)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the other person's sign-in: %d", resp.StatusCode)
	}

	endedWithItsSite(t, ctx, s, st0, site1, rt, s1.Ref)
}
