package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// otherBrowserText is what a browser sees when it opens a sign-in that
// another browser started.
const otherBrowserText = "ouverte dans un autre navigateur"

// oauthClient is a registered client as an attacker would use it: the
// confidential one through a site whose back end they drive, the public
// one directly.
type oauthClient struct {
	name, id, secret, redirect string
}

func attackClients(s *stack) []oauthClient {
	st := s.Sites[0]
	return []oauthClient{
		{"confidential", st.ClientID, st.Secret, st.URL + "/callback"},
		{"public", "public", "", st.URL + "/public/callback"},
	}
}

// attack is an authorization an attacker starts in their own cookie jar
// with their own state, nonce and PKCE verifier, stopping at the login
// screen whose URL they then lure a victim to.
type attack struct {
	t        *testing.T
	s        *stack
	b        *browserless
	c        oauthClient
	id       string
	loginURL string
	verifier string
}

func startAttack(t *testing.T, s *stack, c oauthClient) *attack {
	t.Helper()
	b := newBrowserless(t, s)
	verifier := oauth2.GenerateVerifier()
	q := url.Values{
		"client_id": {c.id}, "redirect_uri": {c.redirect}, "response_type": {"code"},
		"scope": {"openid email profile offline_access"}, "state": {"attacker-state"}, "nonce": {"attacker-nonce"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	loc := loginFormURL(t, s, b.get(s.Issuer+"/authorize?"+q.Encode()))
	u, err := url.Parse(loc)
	if err != nil || u.Query().Get("authRequestID") == "" {
		t.Fatalf("login form posts to %q", loc)
	}
	return &attack{t: t, s: s, b: b, c: c, id: u.Query().Get("authRequestID"), loginURL: loc, verifier: verifier}
}

// steal is the attacker's last move: the library's callback for the
// sign-in, from the attacker's jar, then the code (if any) redeemed with
// the attacker's verifier. It returns the subject of the ID token
// obtained, or "" when the attacker got nothing.
func (a *attack) steal() string {
	a.t.Helper()
	resp := a.b.get(a.s.Issuer + "/authorize/callback?id=" + url.QueryEscape(a.id))
	body := readAll(a.t, resp)
	code := codeIn(resp.Header.Get("Location"), a.c.redirect)
	if code == "" {
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			a.t.Logf("callback for the attacker: %d to %s", resp.StatusCode, safeLocation(resp.Header.Get("Location")))
		} else if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `lang="fr"`) {
			a.t.Errorf("callback for the attacker: %d, want 400 and a French page", resp.StatusCode)
		}
		return ""
	}
	return redeem(a.t, a.s, a.c, code, a.verifier)
}

// codeIn returns the code of a redirect to redirect, if it is one.
func codeIn(loc, redirect string) string {
	if !strings.HasPrefix(loc, redirect+"?") {
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	return u.Query().Get("code")
}

// safeLocation drops the query (codes never go to the test log).
func safeLocation(loc string) string {
	if i := strings.IndexByte(loc, '?'); i >= 0 {
		return loc[:i] + "?…"
	}
	return loc
}

// redeem exchanges code at the token endpoint as client c and returns the
// ID token's subject, or "" when the exchange failed.
func redeem(t *testing.T, s *stack, c oauthClient, code, verifier string) string {
	t.Helper()
	form := codeForm(code, verifier, c.redirect)
	user := c.id
	if c.secret == "" {
		user = ""
		form.Set("client_id", c.id)
	}
	a := s.tokenRaw(t, form, user, c.secret)
	raw, _ := a.body["id_token"].(string)
	if a.status != http.StatusOK || raw == "" {
		return ""
	}
	return unverifiedSubject(t, raw)
}

// unverifiedSubject reads sub from a JWT the provider just issued.
func unverifiedSubject(t *testing.T, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c.Sub
}

// open is a browser opening u: it follows the provider's redirects, as a
// browser would, and stops at the first page or when it leaves for a site.
func (b *browserless) open(u string) (status int, body string) {
	b.t.Helper()
	for range 5 {
		resp := b.get(u)
		body = readAll(b.t, resp)
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			return resp.StatusCode, body
		}
		if strings.HasPrefix(loc, "/") {
			loc = b.s.Issuer + loc
		}
		if !strings.HasPrefix(loc, b.s.Issuer+"/") {
			return resp.StatusCode, body
		}
		u = loc
	}
	b.t.Fatalf("too many redirects from %s", u)
	return 0, ""
}

// TestSignInBoundToBrowser: a sign-in started in the attacker's browser
// and completed by a victim who opens its login URL, with an SSO session
// or by typing their password there, gives the attacker nothing.
func TestSignInBoundToBrowser(t *testing.T) {
	s := startStack(t)
	victim := testenv.Users()[0]
	victimSub := s.Slapd.EntryUUID(t, victim.UID)

	lures := []struct {
		name string
		// lure is what the victim's browser does with the attacker's URL.
		lure func(t *testing.T, a *attack) (status int, body string)
	}{
		{"signed-in victim opens the link", func(t *testing.T, a *attack) (int, string) {
			v, _ := signedIn(t, s, s.Sites[1], nil)
			return v.open(a.loginURL)
		}},
		{"victim signs in on the attacker's login page", func(t *testing.T, a *attack) (int, string) {
			v := newBrowserless(t, s)
			resp := v.get(a.loginURL)
			body := readAll(t, resp)
			m := csrfField.FindStringSubmatch(body)
			if resp.StatusCode != http.StatusOK || m == nil {
				return resp.StatusCode, body
			}
			post, err := v.client.PostForm(a.loginURL, url.Values{"csrf_token": {m[1]}, "login": {victim.UID}, "password": {victim.Password}})
			if err != nil {
				t.Fatal(err)
			}
			pbody := readAll(t, post)
			if loc := post.Header.Get("Location"); post.StatusCode == http.StatusSeeOther && loc != "" {
				return v.open(loc)
			}
			return post.StatusCode, pbody
		}},
	}
	for _, c := range attackClients(s) {
		for _, l := range lures {
			t.Run(c.name+"/"+l.name, func(t *testing.T) {
				a := startAttack(t, s, c)
				status, body := l.lure(t, a)
				if sub := a.steal(); sub != "" {
					t.Errorf("the attacker obtained tokens (sub %s, the victim is %s)", sub, victimSub)
				}
				if status != http.StatusBadRequest || !strings.Contains(body, otherBrowserText) {
					t.Errorf("the victim's browser got %d, want 400 and the page saying the sign-in was opened in another browser", status)
				}
			})
		}
	}
}

// TestSignInBoundToBrowserInChromium: the victim's Chromium, signed in,
// opens the attacker's login URL; then, without a session, a second
// victim types their password on it. The attacker's jar gets no code.
func TestSignInBoundToBrowserInChromium(t *testing.T) {
	overSchemes(t, testSignInBoundToBrowserInChromium)
}

func testSignInBoundToBrowserInChromium(t *testing.T, https bool) {
	s := startStackWith(t, stackOptions{HTTPS: https})
	victim := testenv.Users()[0]
	for _, c := range attackClients(s) {
		t.Run(c.name+"/signed in", func(t *testing.T) {
			ctx := s.browser(t)
			if err := chromedp.Do(timeout(t, ctx), chromedp.Navigate(s.Sites[1].URL+"/start"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
				t.Fatal(err)
			}
			signIn(t, ctx, victim.UID, victim.Password)
			if loc := location(t, ctx); loc != s.Sites[1].URL+"/" {
				t.Fatalf("the victim is not signed in: at %s", loc)
			}
			a := startAttack(t, s, c)
			if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(a.loginURL)); err != nil {
				t.Fatal(err)
			}
			if sub := a.steal(); sub != "" {
				t.Errorf("the attacker obtained tokens for %s", sub)
			}
			if page := bodyText(t, ctx); !strings.Contains(page, otherBrowserText) {
				t.Errorf("the victim sees %q", page)
			}
		})
		t.Run(c.name+"/signs in", func(t *testing.T) {
			ctx := s.browser(t)
			a := startAttack(t, s, c)
			if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(a.loginURL)); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(bodyText(t, ctx), "Se connecter") {
				signIn(t, ctx, victim.UID, victim.Password)
			}
			if sub := a.steal(); sub != "" {
				t.Errorf("the attacker obtained tokens for %s", sub)
			}
			if page := bodyText(t, ctx); !strings.Contains(page, otherBrowserText) {
				t.Errorf("the victim sees %q", page)
			}
		})
	}
}

// TestOneCodePerSignIn: a completed sign-in mints one code, whoever asks
// and however often, even all at once: the login POST replayed, its
// callback opened afterwards, or both raced.
func TestOneCodePerSignIn(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	u := testenv.Users()[0]
	callback := st.URL + "/callback"

	// form opens the login page and returns the POST a browser would send.
	form := func(b *browserless, loginURL string) func() *http.Response {
		page := b.get(loginURL)
		m := csrfField.FindStringSubmatch(readAll(t, page))
		if m == nil {
			t.Fatalf("no form token on the login page (%d)", page.StatusCode)
		}
		body := url.Values{"csrf_token": {m[1]}, "login": {u.UID}, "password": {u.Password}}.Encode()
		return func() *http.Response {
			req, _ := http.NewRequest(http.MethodPost, loginURL, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", s.Issuer)
			r, err := b.client.Do(req)
			if err != nil {
				t.Error(err)
				return nil
			}
			return r
		}
	}
	idOf := func(loginURL string) string {
		p, err := url.Parse(loginURL)
		if err != nil {
			t.Fatal(err)
		}
		return p.Query().Get("authRequestID")
	}

	t.Run("again after the first", func(t *testing.T) {
		b := newBrowserless(t, s)
		loginURL, _ := b.authorize(st, nil)
		post := form(b, loginURL)
		first := post()
		first.Body.Close()
		if codeIn(first.Header.Get("Location"), callback) == "" {
			t.Fatalf("no first code: %d %s", first.StatusCode, safeLocation(first.Header.Get("Location")))
		}
		for name, again := range map[string]func() *http.Response{
			"login POST replayed": post,
			"callback opened": func() *http.Response {
				return b.get(s.Issuer + "/authorize/callback?id=" + url.QueryEscape(idOf(loginURL)))
			},
		} {
			r := again()
			body := readAll(t, r)
			if codeIn(r.Header.Get("Location"), callback) != "" {
				t.Errorf("%s: a second code for the same sign-in", name)
			}
			if r.StatusCode != http.StatusBadRequest || !strings.Contains(body, `lang="fr"`) {
				t.Errorf("%s: %d, want 400 and a French page", name, r.StatusCode)
			}
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		b := newBrowserless(t, s)
		loginURL, _ := b.authorize(st, nil)
		post := form(b, loginURL)
		cb := s.Issuer + "/authorize/callback?id=" + url.QueryEscape(idOf(loginURL))
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			codes int
		)
		for i := range 16 {
			wg.Go(func() {
				var r *http.Response
				if i%2 == 0 {
					r = post()
				} else {
					var err error
					if r, err = b.client.Get(cb); err != nil {
						t.Error(err)
					}
				}
				if r == nil {
					return
				}
				r.Body.Close()
				if codeIn(r.Header.Get("Location"), callback) != "" {
					mu.Lock()
					codes++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if codes != 1 {
			t.Fatalf("%d codes minted for one sign-in, want 1", codes)
		}
	})
}

// TestLostPasswordDoesNotAdoptForeignSignIn: « Mot de passe perdu » with
// another browser's authRequestID neither attaches that sign-in nor keeps
// it alive; in its own browser it attaches it without extending it.
func TestLostPasswordDoesNotAdoptForeignSignIn(t *testing.T) {
	s := startStack(t)
	c := attackClients(s)[0]

	t.Run("another browser", func(t *testing.T) {
		a := startAttack(t, s, c)
		before, err := s.app.Provider.AuthRequest(t.Context(), a.id)
		if err != nil {
			t.Fatal(err)
		}
		s.Clock.Advance(10 * time.Minute)
		other := resetClient{newBrowserless(t, s)}
		path := "/mot-de-passe-perdu?authRequestID=" + url.QueryEscape(a.id)
		tok, _ := other.formToken(path)
		if tok == "" {
			// The page itself refuses: take a token from the plain page,
			// as a forger would.
			tok, _ = other.formToken("/mot-de-passe-perdu")
		}
		resp, body := other.post(path, url.Values{"csrf_token": {tok}, "profil": {"usager"}}, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, otherBrowserText) {
			t.Errorf("POST with a foreign sign-in: %d Location %q, want 400 and the other-browser page", resp.StatusCode, resp.Header.Get("Location"))
		}
		after, err := s.app.Provider.AuthRequest(t.Context(), a.id)
		if err != nil {
			t.Fatal(err)
		}
		if !after.ExpiresAt.Equal(before.ExpiresAt) {
			t.Errorf("the sign-in now expires at %v, was %v", after.ExpiresAt, before.ExpiresAt)
		}
		s.Clock.Advance(6 * time.Minute)
		if st, body := a.b.open(a.loginURL); st != http.StatusBadRequest || !strings.Contains(body, "Connexion expirée") {
			t.Errorf("16 minutes after it began the sign-in still answers %d", st)
		}
	})

	t.Run("its own browser", func(t *testing.T) {
		a := startAttack(t, s, c)
		before, err := s.app.Provider.AuthRequest(t.Context(), a.id)
		if err != nil {
			t.Fatal(err)
		}
		s.Clock.Advance(10 * time.Minute)
		own := resetClient{a.b}
		path := "/mot-de-passe-perdu?authRequestID=" + url.QueryEscape(a.id)
		tok, _ := own.formToken(path)
		resp, _ := own.post(path, url.Values{"csrf_token": {tok}, "profil": {"usager"}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/mot-de-passe-perdu/adresse" {
			t.Fatalf("profile: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		after, err := s.app.Provider.AuthRequest(t.Context(), a.id)
		if err != nil {
			t.Fatal(err)
		}
		if !after.ExpiresAt.Equal(before.ExpiresAt) {
			t.Errorf("the sign-in now expires at %v, was %v", after.ExpiresAt, before.ExpiresAt)
		}
	})
}

// bodyText is what the browser's page says, whatever it is.
func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(timeout(t, ctx), chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		t.Fatalf("page text: %v", err)
	}
	return s
}
