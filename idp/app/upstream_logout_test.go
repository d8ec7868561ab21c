package app_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestJourneyUpstreamLogout: an agent signed in through the upstream
// signs out here, from the provider's page and from a site. Each time
// the browser also goes through the upstream's end_session_endpoint, so
// that on a shared computer the next person does not find the agent
// signed in there, and comes back to where the logout was going. In
// Chromium, whose CSP form-action also governs the redirect that follows
// « Se déconnecter ».
func TestJourneyUpstreamLogout(t *testing.T) { overSchemes(t, testJourneyUpstreamLogout) }

func testJourneyUpstreamLogout(t *testing.T, https bool) {
	s, up := upstreamStackWith(t, https, func(u *config.Upstream) { u.Logout = true })
	rp := s.Sites[0]
	wantLogout := up.Subject + " " + up.ClientID
	returned := s.Issuer + login.UpstreamLogoutPath("siege") + "?"

	// From the provider's page.
	ctx := upstreamSignIn(t, s, up)
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(s.Issuer+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(button("Se déconnecter"))); err != nil {
		t.Fatal(err)
	}
	if loc, h1 := location(t, ctx), text(t, ctx, "h1"); !strings.HasPrefix(loc, returned) || h1 != "Déconnexion effectuée" {
		t.Fatalf("after « Se déconnecter » the browser is at %s (%q), want back from the upstream, signed out", loc, h1)
	}
	if got := up.Logouts(); !slices.Equal(got, []string{wantLogout}) {
		t.Fatalf("the upstream ended %q, want %q", got, wantLogout)
	}
	if visit(t, ctx, s.Sites[1]) {
		t.Error("the session here survived the logout")
	}

	// From a site, with its ID token: back to the site's address.
	ctx = upstreamSignIn(t, s, up)
	res := rp.Last()
	end := s.Issuer + "/end_session?" + url.Values{
		"id_token_hint": {res.RawIDToken}, "post_logout_redirect_uri": {rp.URL + "/"}, "state": {"fin"},
	}.Encode()
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(end)); err != nil {
		t.Fatal(err)
	}
	if loc := location(t, ctx); loc != rp.URL+"/?state=fin" {
		t.Fatalf("after the site's logout the browser is at %s, want the site's address", loc)
	}
	if got := up.Logouts(); !slices.Equal(got, []string{wantLogout, wantLogout}) {
		t.Fatalf("the upstream ended %q, want the agent twice", got)
	}

	// From a site, after the agent left the computer past the idle
	// timeout here: still through the upstream.
	ctx = upstreamSignIn(t, s, up)
	res = rp.Last()
	s.Clock.Advance(s.cfg.Session.IdleTimeout + time.Minute)
	end = s.Issuer + "/end_session?" + url.Values{
		"id_token_hint": {res.RawIDToken}, "post_logout_redirect_uri": {rp.URL + "/"}, "state": {"idle"},
	}.Encode()
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(end)); err != nil {
		t.Fatal(err)
	}
	if loc := location(t, ctx); loc != rp.URL+"/?state=idle" {
		t.Fatalf("after the site's logout past the idle timeout the browser is at %s, want the site's address", loc)
	}
	if got := up.Logouts(); len(got) != 3 {
		t.Fatalf("the upstream ended %q, want the agent a third time", got)
	}
}

// upstreamSignIn is a fresh browser signed in to the first site through
// the upstream « siège », at the site.
func upstreamSignIn(t *testing.T, s *stack, up *testenv.Upstream) context.Context {
	t.Helper()
	ctx, _ := toUpstream(t, s, up)
	upstreamLogin(t, ctx, up, s.Sites[0].URL+"/")
	return ctx
}

// TestUpstreamLogoutStateElsewhere: the state of the trip to the
// upstream's logout travels in URLs. Another browser holding it signs in
// to nothing at the sign-in callback, is sent nowhere from the logout
// return, and spends nothing: the agent's browser still comes back to
// the site that asked for the logout.
func TestUpstreamLogoutStateElsewhere(t *testing.T) {
	s, up := upstreamStackWith(t, false, func(u *config.Upstream) { u.Logout = true })
	victim, hint := upstreamSignedIn(t, s, up)
	site := s.Sites[0].URL + "/"
	resp := victim.get(s.Issuer + "/end_session?" + url.Values{
		"id_token_hint": {hint}, "post_logout_redirect_uri": {site}, "state": {"fin"},
	}.Encode())
	resp.Body.Close()
	end, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(end.String(), up.Issuer+"/") {
		t.Fatalf("logout: %d to %q, want the upstream's logout", resp.StatusCode, end)
	}
	state := url.Values{"state": {end.Query().Get("state")}}

	attacker := newBrowserless(t, s)
	resp = attacker.get(s.Issuer + login.UpstreamCallbackPath("siege") + "?" + state.Encode() + "&code=x")
	if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Connexion expirée") {
		t.Errorf("the logout's state at the sign-in callback: %d, want 400 « Connexion expirée »", resp.StatusCode)
	}
	resp = attacker.get(s.Issuer + login.UpstreamLogoutPath("siege") + "?" + state.Encode())
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Déconnexion effectuée") {
		t.Errorf("the logout's state at the return, in another browser: %d to %q, want the plain page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if csrfField.MatchString(readAll(t, attacker.get(s.Issuer+"/"))) {
		t.Error("the other browser is signed in")
	}

	resp = victim.get(end.String()) // at the upstream, which sends it back
	resp.Body.Close()
	home := resp.Header.Get("Location")
	if !strings.HasPrefix(home, s.Issuer+login.UpstreamLogoutPath("siege")+"?") {
		t.Fatalf("the upstream sent the browser to %q", home)
	}
	resp = victim.get(home)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != site+"?state=fin" {
		t.Errorf("the agent's browser back from the upstream: %d to %q, want the site's address", resp.StatusCode, loc)
	}
}

// TestUpstreamLogoutAfterIdle: the agent leaves the computer longer than
// the session's idle timeout here, then signs out on the site, which
// keeps its own session longer. The session here is ended all the same,
// and through the upstream: the next person must not find the agent
// signed in there.
func TestUpstreamLogoutAfterIdle(t *testing.T) {
	s, up := upstreamStackWith(t, false, func(u *config.Upstream) { u.Logout = true })
	b, hint := upstreamSignedIn(t, s, up)
	s.Clock.Advance(s.cfg.Session.IdleTimeout + time.Minute)
	resp := b.get(s.Issuer + "/end_session?" + url.Values{
		"id_token_hint": {hint}, "post_logout_redirect_uri": {s.Sites[0].URL + "/"}, "state": {"fin"},
	}.Encode())
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, up.Issuer+"/") {
		t.Fatalf("the site's logout after the idle timeout: %d to %q, want the upstream's logout", resp.StatusCode, loc)
	}
}

// upstreamSignedIn is a browser without JavaScript signed in to the first
// site through the upstream « siège », and the ID token the site got.
func upstreamSignedIn(t *testing.T, s *stack, up *testenv.Upstream) (*browserless, string) {
	t.Helper()
	st := s.Sites[0]
	b := newBrowserless(t, s)
	loginURL, verifier := b.authorize(st, nil)
	resp := b.get(strings.Replace(loginURL, "/login?", login.UpstreamStartPath("siege")+"?", 1))
	resp.Body.Close()
	back, err := up.SignIn(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp = b.get(back.String())
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upstream callback: %d", resp.StatusCode)
	}
	code := b.follow(resp.Header.Get("Location"), st)
	a := s.token(t, st, codeForm(code, verifier, st.URL+"/callback"), true)
	hint, _ := a.body["id_token"].(string)
	if hint == "" {
		t.Fatalf("token: %d %v", a.status, a.body)
	}
	return b, hint
}

// TestUpstreamLogoutReturnAsALure: the page the upstream sends the
// browser back to, opened from a link without a logout behind it, does
// not tell a signed-in person « Déconnexion effectuée » (they would leave
// a shared computer signed in), and knows only the upstreams there are.
func TestUpstreamLogoutReturnAsALure(t *testing.T) {
	s, up := upstreamStackWith(t, false, func(u *config.Upstream) { u.Logout = true })
	b, _ := upstreamSignedIn(t, s, up)
	for _, c := range []struct {
		path   string
		status int
	}{
		{login.UpstreamLogoutPath("siege"), http.StatusSeeOther},
		{login.UpstreamLogoutPath("siege") + "?state=forged", http.StatusSeeOther},
		{login.UpstreamLogoutPath("nope"), http.StatusNotFound},
	} {
		resp := b.get(s.Issuer + c.path)
		body := readAll(t, resp)
		if resp.StatusCode != c.status || strings.Contains(body, "Déconnexion effectuée") ||
			(c.status == http.StatusSeeOther && resp.Header.Get("Location") != "/") {
			t.Errorf("GET %s signed in: %d to %q, want %d (to / when 303)", c.path, resp.StatusCode, resp.Header.Get("Location"), c.status)
		}
	}
	if !csrfField.MatchString(readAll(t, b.get(s.Issuer+"/"))) {
		t.Error("the browser was signed out")
	}
}

// TestUpstreamStateSpentOnlyByItsBrowser: the callback URL of an
// upstream sign-in (its state and code) leaks to someone else, who opens
// it first, at the callback or at the logout return. Neither spends the
// round trip: the browser that started it still signs in with it.
func TestUpstreamStateSpentOnlyByItsBrowser(t *testing.T) {
	s, up := upstreamStackWith(t, false, func(u *config.Upstream) { u.Logout = true })
	victim := newBrowserless(t, s)
	loginURL, _ := victim.authorize(s.Sites[0], nil)
	resp := victim.get(strings.Replace(loginURL, "/login?", login.UpstreamStartPath("siege")+"?", 1))
	resp.Body.Close()
	back, err := up.SignIn(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	attacker := newBrowserless(t, s)
	resp = attacker.get(back.String())
	if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest || strings.Contains(body, "Connexion expirée") {
		t.Errorf("the callback in another browser: %d, want 400 saying it is another browser's", resp.StatusCode)
	}
	resp = attacker.get(s.Issuer + login.UpstreamLogoutPath("siege") + "?" + url.Values{"state": {back.Query().Get("state")}}.Encode())
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
		t.Errorf("a sign-in's state at the logout return: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp.Body.Close()
	resp = victim.get(back.String())
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), s.Sites[0].URL+"/callback?code=") {
		t.Fatalf("the browser that started it, after the others: %d to %q, want signed in", resp.StatusCode, resp.Header.Get("Location"))
	}
}
