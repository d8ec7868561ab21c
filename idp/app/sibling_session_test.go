package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestSessionEndReachesTheSignInAtOnce: two sign-ins of the same person
// at once in one browser (two tabs, each with prompt=login) both replace
// the browser's session P. Both new sessions name P in Earlier, one of
// them (S1) takes P's refresh tokens, and the browser keeps the cookie of
// the other (S2). The state that race leaves is built here step by step:
// S1 as the losing tab's sign-in writes it (Sessions.Open, then Replaced
// moving the families), then the browser's own prompt=login sign-in, which
// still read P. When the browser's session ends, by a logout or because
// another person signs in in that browser, S1 must end too: its refresh
// token is refused, the session is gone, and its site is told (a logout
// token with S1's sid). The person's session in another browser stays.
func TestSessionEndReachesTheSignInAtOnce(t *testing.T) {
	s := startStack(t)
	site1, site2 := s.Sites[0], s.Sites[1]
	ctx := timeout(t, context.Background())
	rdb := s.Redis.Client(t)
	st0 := store.New(store.Options{Client: rdb, Prefix: s.cfg.Redis.KeyPrefix, Now: s.Clock.Now})
	offline := url.Values{"scope": {"openid offline_access"}}
	refresh := func(t *testing.T, rt string) tokenAnswer {
		t.Helper()
		return s.token(t, site1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
	}

	// The same person in another browser: never ended here.
	_, other := signedIn(t, s, site1, offline)
	otherRT := other["refresh_token"].(string)

	for _, end := range []struct {
		name string
		do   func(t *testing.T, b *browserless)
	}{
		{"logout", func(t *testing.T, b *browserless) {
			csrfTok, _ := b.formToken("/")
			if resp, _ := b.post("/deconnexion", url.Values{"csrf_token": {csrfTok}}, http.Header{"Origin": {s.Issuer}}); resp.StatusCode != http.StatusOK {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
		}},
		{"another person signs in", func(t *testing.T, b *browserless) {
			loginURL, _ := b.authorize(site2, url.Values{"prompt": {"login"}})
			signsIn(t, b, loginURL, testenv.Users()[1])
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			b, tok := signedIn(t, s, site1, offline)
			rt := tok["refresh_token"].(string)
			p, err := st0.Session(ctx, b.cookieValue(s.cfg.Session.CookieName))
			if err != nil {
				t.Fatal(err)
			}

			// The losing tab: the browser never gets its cookie.
			s1 := losingTab(t, ctx, s, st0, p)

			// The winning tab, in the browser that still holds P: S2.
			code, verifier := b.code(site2, url.Values{"prompt": {"login"}})
			if a := s.token(t, site2, codeForm(code, verifier, site2.URL+"/callback"), true); a.status != http.StatusOK {
				t.Fatalf("token after prompt=login: %d %v", a.status, a.body["error"])
			}
			s2, err := st0.Session(ctx, b.cookieValue(s.cfg.Session.CookieName))
			if err != nil {
				t.Fatal(err)
			}
			if s2.Ref == s1.Ref || !slices.Contains(s2.Earlier, p.Ref) {
				t.Fatalf("the browser's session does not replace P: earlier %d entries", len(s2.Earlier))
			}
			if _, err := st0.SessionByRef(ctx, p.Ref); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("P still there: %v", err)
			}
			// S1, without a browser, still serves site 1's refresh token.
			a := refresh(t, rt)
			if a.status != http.StatusOK {
				t.Fatalf("site 1's refresh through S1 before the logout: %d %v", a.status, a.body["error"])
			}
			rt = a.body["refresh_token"].(string)

			// Site 1's back-channel endpoint is down: the logout tokens for it stay
			// queued, where they can be read.
			site1.BackchannelDown.Store(true)
			t.Cleanup(func() { site1.BackchannelDown.Store(false) })
			end.do(t, b)

			endedWithItsSite(t, ctx, s, st0, site1, rt, s1.Ref)
			a = refresh(t, otherRT)
			if a.status != http.StatusOK {
				t.Fatalf("the person's session in another browser was ended: %d %v", a.status, a.body["error"])
			}
			otherRT = a.body["refresh_token"].(string) // rotated: the old one is spent
		})
	}
}

// endedWithItsSite checks that the session whose Ref is ref ended as a
// logout ends it: the refresh token rt that site obtained through it is
// refused, the record is gone, and a logout token with its sid is queued
// for site (whose back-channel endpoint the caller keeps down).
func endedWithItsSite(t *testing.T, ctx context.Context, s *stack, st0 *store.Store, site *site, rt, ref string) {
	t.Helper()
	if a := s.token(t, site, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); a.body["error"] != "invalid_grant" {
		t.Errorf("the refresh token bound to the session survived its end: %d %v", a.status, a.body["error"])
	}
	if _, err := st0.SessionByRef(ctx, ref); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session survived its end (err %v)", err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return queuedLogout(t, ctx, s, site.ClientID, ref), "no logout token queued for " + site.ClientID + " with the session's sid"
	})
}

// signsIn posts the login form of loginURL as u and expects the redirect
// to the site.
func signsIn(t *testing.T, b *browserless, loginURL string, u testenv.User) {
	t.Helper()
	resp := b.login(loginURL, u.UID, u.Password)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in of %s: %d", u.UID, resp.StatusCode)
	}
}

// queuedLogout reports whether a logout token for clientID with sid is in
// the back-channel queue.
func queuedLogout(t *testing.T, ctx context.Context, s *stack, clientID, sid string) bool {
	t.Helper()
	members, err := s.Redis.Client(t).ZRange(ctx, s.cfg.Redis.KeyPrefix+"backchannel:due", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		var d struct {
			Client string `json:"client"`
			SID    string `json:"sid"`
		}
		if json.Unmarshal([]byte(m), &d) == nil && d.Client == clientID && d.SID == sid {
			return true
		}
	}
	return false
}

// TestLogoutAfterSignInsAtOnce races two prompt=login sign-ins of the same
// person in one browser, again and again. Whether both tabs read the
// browser's session P, or one read it after the other had replaced it,
// both new sessions are of P's lineage, and a logout in the browser ends
// both.
func TestLogoutAfterSignInsAtOnce(t *testing.T) {
	s := startStack(t)
	site1, site2 := s.Sites[0], s.Sites[1]
	ctx := timeout(t, context.Background())
	st0 := s.records(t)
	offline := url.Values{"scope": {"openid offline_access"}}
	name := s.cfg.Session.CookieName
	const rounds = 8

	raced := 0
	for range rounds {
		b, tok := signedIn(t, s, site1, offline)
		idt, err := verifyID(s, site1, tok["id_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		p := b.cookieValue(name)
		before, err := st0.SessionsOf(ctx, idt.Subject)
		if err != nil {
			t.Fatal(err)
		}
		// Two tabs: each its own client with the browser's cookie P, both
		// past the password form; their posts go at once.
		tabs := []*browserless{newBrowserless(t, s), newBrowserless(t, s)}
		posts := make([]func() *http.Response, len(tabs))
		for i, tab := range tabs {
			tab.setCookie(name, p)
			loginURL, _ := tab.authorize(site2, url.Values{"prompt": {"login"}})
			u := testenv.Users()[0]
			posts[i] = func() *http.Response { return tab.login(loginURL, u.UID, u.Password) }
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			last *browserless
		)
		for i, post := range posts {
			wg.Go(func() {
				post().Body.Close()
				mu.Lock()
				last = tabs[i]
				mu.Unlock()
			})
		}
		wg.Wait()
		// The browser keeps one cookie: the last answer's.
		b.setCookie(name, last.cookieValue(name))

		after, err := st0.SessionsOf(ctx, idt.Subject)
		if err != nil {
			t.Fatal(err)
		}
		var fresh []*store.Session
		for _, ref := range after {
			if slices.Contains(before, ref) {
				continue
			}
			if sess, err := st0.SessionByRef(ctx, ref); err == nil && slices.Contains(sess.Earlier, store.Ref(p)) {
				fresh = append(fresh, sess)
			}
		}
		csrfTok, _ := b.formToken("/")
		if resp, _ := b.post("/deconnexion", url.Values{"csrf_token": {csrfTok}}, http.Header{"Origin": {s.Issuer}}); resp.StatusCode != http.StatusOK {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		// Whichever tab read P first, the other one read it or what is kept
		// of it once replaced: both new sessions are of P's lineage.
		if len(fresh) != 2 {
			t.Errorf("%d new sessions name P as earlier, want 2", len(fresh))
		}
		// A session that read P itself took over its site (site 1); one
		// that read what was kept of it has only its own.
		if tookOver := slices.IndexFunc(fresh, func(sess *store.Session) bool { return !slices.Contains(sess.Clients, site1.ClientID) }); tookOver < 0 {
			raced++
		}
		for _, sess := range fresh {
			if _, err := st0.SessionByRef(ctx, sess.Ref); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a session of the sign-ins at once survived the logout (err %v)", err)
			}
		}
		if a := s.token(t, site1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true); a.body["error"] != "invalid_grant" {
			t.Errorf("site 1's refresh token survived the logout: %d %v", a.status, a.body["error"])
		}
	}
	t.Logf("%d of %d rounds: both tabs read P; in the others one read what was kept of it", raced, rounds)
}

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
	st0 := s.records(t)
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
			signsIn(t, tab, loginURL, u)
			csrfTok, _ := tab.formToken("/")
			if resp, _ := tab.post("/deconnexion", url.Values{"csrf_token": {csrfTok}}, http.Header{"Origin": {s.Issuer}}); resp.StatusCode != http.StatusOK {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
		}},
		{"another person", func(t *testing.T, tab *browserless, loginURL string) {
			signsIn(t, tab, loginURL, testenv.Users()[1])
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
			signsIn(t, tabs[0], urls[0], u)
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
	st0 := s.records(t)
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
	// The first tab's S1; P is still there for the second tab, which read
	// it first.
	s1 := losingTab(t, ctx, s, st0, p)

	site1.BackchannelDown.Store(true)
	t.Cleanup(func() { site1.BackchannelDown.Store(false) })
	loginURL, _ := b.authorize(site2, url.Values{"prompt": {"login"}})
	signsIn(t, b, loginURL, testenv.Users()[1])

	endedWithItsSite(t, ctx, s, st0, site1, rt, s1.Ref)
}

// TestCopiedCookieAfterItsSessionWasReplaced: an attacker copied the
// cookie P of a victim's browser; the victim then signed in again there
// (S1 replaces P). Within the minute what is kept of P lives, the copy in
// the attacker's browser gives nothing of the victim's: signing in with it
// as the attacker opens the attacker's own session, unrelated to P (no
// earlier session, no site of the victim's), and the victim's session in
// another browser is untouched. What it can still do is end S1, P's
// successor, as the copy could while P was live (README « Back-channel
// logout »).
func TestCopiedCookieAfterItsSessionWasReplaced(t *testing.T) {
	s := startStack(t)
	site1, site2 := s.Sites[0], s.Sites[1]
	ctx := timeout(t, context.Background())
	st0 := s.records(t)
	name := s.cfg.Session.CookieName
	offline := url.Values{"scope": {"openid offline_access"}}
	victim, attackerUser := testenv.Users()[0], testenv.Users()[1]

	_, elsewhere := signedIn(t, s, site1, offline) // the victim in another browser
	b, _ := signedIn(t, s, site1, nil)
	p := b.cookieValue(name)
	loginURL, _ := b.authorize(site2, url.Values{"prompt": {"login"}})
	signsIn(t, b, loginURL, victim)
	if b.cookieValue(name) == p {
		t.Fatal("the victim's sign-in again kept P")
	}

	attacker := newBrowserless(t, s)
	attacker.setCookie(name, p)
	loginURL, _ = attacker.authorize(site2, nil)
	signsIn(t, attacker, loginURL, attackerUser)
	theirs, err := st0.Session(ctx, attacker.cookieValue(name))
	if err != nil {
		t.Fatal(err)
	}
	if len(theirs.Earlier) != 0 || slices.Contains(theirs.Clients, site1.ClientID) {
		t.Errorf("the attacker's session carries the victim's: earlier %d, clients %v", len(theirs.Earlier), theirs.Clients)
	}
	if a := s.token(t, site1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {elsewhere["refresh_token"].(string)}}, true); a.status != http.StatusOK {
		t.Errorf("the victim's session in another browser ended: %d %v", a.status, a.body["error"])
	}
}

// losingTab writes what a tab's sign-in over the browser's session p
// writes before it replaces p: its session S1 (Earlier = p.Earlier +
// p.Ref), which takes p's refresh tokens. p itself is left in place, as a
// second tab that read it first still sees it.
func losingTab(t *testing.T, ctx context.Context, s *stack, st0 *store.Store, p *store.Session) *store.Session {
	t.Helper()
	now := s.Clock.Now()
	s1 := &store.Session{
		ID: store.NewID(), Subject: p.Subject, Claims: p.Claims, AMR: p.AMR, AuthTime: now,
		Clients: p.Clients, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(s.cfg.Session.Lifetime),
		Earlier: append(slices.Clone(p.Earlier), p.Ref),
	}
	if err := st0.SaveSession(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if err := st0.MoveSessionFamilies(ctx, p.Subject, p.Ref, s1.Ref); err != nil {
		t.Fatal(err)
	}
	return s1
}
