package app_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// overSchemes runs a journey over http, then over https with the test CA:
// browsers apply stricter cookie rules over https (__Host-, Secure) that
// plain http cannot show.
func overSchemes(t *testing.T, journey func(t *testing.T, https bool)) {
	for _, c := range []struct {
		name  string
		https bool
	}{{"http", false}, {"https", true}} {
		t.Run(c.name, func(t *testing.T) { journey(t, c.https) })
	}
}

// listen is listen, over TLS with the test CA when the stack serves https.
func (s *stack) listen(t testing.TB, host string) (net.Listener, string) {
	t.Helper()
	ln, base := listen(t, host)
	if s.TLS == nil {
		return ln, base
	}
	return tls.NewListener(ln, s.TLS.ServerTLS()), "https://" + strings.TrimPrefix(base, "http://")
}

// client talks to the stack's servers: nil (the default client) over
// http, a client that trusts the test CA over https.
func (s *stack) client() *http.Client {
	if s.TLS == nil {
		return nil
	}
	return s.TLS.Client()
}

// secureConfig is what an operator would write for https: no
// development exception, the default __Host- session cookie.
func (s *stack) secureConfig() {
	s.cfg.InsecureLoopback = false
	s.cfg.Session.CookieName = "__Host-idp_session"
}

// browser opens a Chromium for the stack. Over https it trusts the test CA
// and, when the test ends, checks that Chromium refused none of the
// cookies it was sent and that every cookie it keeps for the provider is
// a __Host- cookie: Secure, HttpOnly, on path /, with a SameSite.
func (s *stack) browser(t *testing.T) context.Context {
	t.Helper()
	if s.TLS == nil {
		return testenv.Browser(t)
	}
	ctx := testenv.Browser(t, testenv.TrustCA(s.TLS))
	watch := testenv.WatchCookies(t, ctx)
	t.Cleanup(func() { s.checkCookies(t, ctx, watch) })
	return ctx
}

func (s *stack) checkCookies(t *testing.T, ctx context.Context, watch *testenv.CookieWatch) {
	t.Helper()
	for _, r := range watch.Refused() {
		t.Errorf("Chromium refused the cookie %s", r)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cookies, err := testenv.Cookies(ctx, s.Issuer+"/")
	if err != nil {
		t.Errorf("cookies of the provider: %v", err)
		return
	}
	issuer, _ := url.Parse(s.Issuer)
	for _, c := range cookies {
		// Cookies ignore ports: a site on the issuer's host shares the jar.
		if strconv.FormatInt(c.SourcePort, 10) != issuer.Port() {
			continue
		}
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || !c.HTTPOnly || c.Path != "/" ||
			c.Domain != issuer.Hostname() || c.SameSite == "" {
			t.Errorf("provider cookie %s: secure=%v httpOnly=%v path=%q domain=%q sameSite=%q, want a __Host- cookie, Secure, HttpOnly, path /, host-only, with SameSite",
				c.Name, c.Secure, c.HTTPOnly, c.Path, c.Domain, c.SameSite)
		}
	}
}

// TestResetJourneyThroughLink: « Mot de passe perdu », the address, then
// the mail's link opened in the same browser, « Continuer », a new
// password, and back to the pending sign-in with it. Over https the link
// lives in a __Host- cookie, which Chromium keeps only on path /.
func TestResetJourneyThroughLink(t *testing.T) { overSchemes(t, testResetJourneyThroughLink) }

func testResetJourneyThroughLink(t *testing.T, https bool) {
	s := startStackWith(t, stackOptions{HTTPS: https})
	ctx := s.browser(t)
	rp := s.Sites[0]
	u := testenv.Users()[1]
	startAt(t, ctx, rp)
	loginURL := pendingLogin(t, ctx)
	askForCode(t, ctx, u.Mail)
	m := mailAfter(t, s, 0, u.Mail, codeMail)
	if !strings.HasPrefix(m.Link, s.Issuer+"/") {
		t.Fatalf("the mail links to %q, want the issuer %s", m.Link, s.Issuer)
	}

	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(m.Link)); err != nil {
		t.Fatal(err)
	}
	if loc := location(t, ctx); strings.Contains(loc, "t=") {
		t.Errorf("the token stays in the address bar: %s", loc)
	}
	if n, _ := chromedp.Run(timeout(t, ctx), chromedp.Evaluate[int](`document.querySelectorAll('form button').length`)); n == 0 {
		t.Fatalf("the link's page has no « Continuer »: %q", text(t, ctx, "main"))
	}
	click(t, ctx, button("Continuer"))
	const fresh = "Un mot de passe choisi par le lien"
	newPassword(t, ctx, fresh)
	click(t, ctx, link("Continuer"))
	if loc := location(t, ctx); loc != loginURL {
		t.Fatalf("« Continuer » leads to %s, want the pending sign-in %s", loc, loginURL)
	}
	signIn(t, ctx, u.UID, fresh)
	if loc := location(t, ctx); loc != rp.URL+"/" || rp.Last() == nil {
		t.Fatalf("after signing in with the new password: %s", loc)
	}
	if https {
		// The cookies this journey needs, as Chromium keeps them.
		cookies, err := testenv.Cookies(timeout(t, ctx), s.Issuer+"/")
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, c := range cookies {
			names[c.Name] = c.Secure
		}
		for _, want := range []string{"__Host-idp_session", "__Host-idp_csrf"} {
			if secure, ok := names[want]; !ok || !secure {
				t.Errorf("Chromium holds no Secure %s (has %v)", want, names)
			}
		}
	}
}
