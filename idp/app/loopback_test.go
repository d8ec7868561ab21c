package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestLoopbackRedirectNeedsThePassword: a native app's redirect URI on a
// loopback address matches any port, and whatever listens on a port of the
// person's machine may be another program than the app (RFC 8252, 8.6).
// A page that sends the signed-in person's browser to /authorize for that
// app, with its own listener's port and PKCE challenge, must get no code
// without the person typing the password; prompt=none gets login_required.
// Once the password is typed the app signs in as usual.
func TestLoopbackRedirectNeedsThePassword(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "native", Name: "Application mobile", Public: true,
			RedirectURIs: []string{"http://127.0.0.1/callback"}})
	}})
	victim, _ := signedIn(t, s, s.Sites[0], nil)
	const listener = "http://127.0.0.1:31337/callback"
	verifier := oauth2.GenerateVerifier()
	params := func(extra url.Values) url.Values {
		q := url.Values{
			"client_id": {"native"}, "redirect_uri": {listener}, "response_type": {"code"},
			"scope": {"openid email profile"}, "state": {"x"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
		}
		for k, v := range extra {
			q[k] = v
		}
		return q
	}

	t.Run("the session does not answer", func(t *testing.T) {
		resp := victim.get(s.Issuer + "/authorize?" + params(nil).Encode())
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="password"`) {
			t.Errorf("answered %d to %q, want the login screen", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("prompt=none: login_required", func(t *testing.T) {
		loc := victim.authorizeRaw(params(url.Values{"prompt": {"none"}})).Header.Get("Location")
		u, err := url.Parse(loc)
		if err != nil || !strings.HasPrefix(loc, listener+"?") || u.Query().Get("error") != "login_required" || u.Query().Has("code") {
			t.Errorf("prompt=none led to %q, want login_required", loc)
		}
	})
	t.Run("with the password the app signs in", func(t *testing.T) {
		u := testenv.Users()[0]
		loginURL := loginFormURL(t, s, victim.get(s.Issuer+"/authorize?"+params(nil).Encode()))
		got := victim.login(loginURL, u.UID, u.Password)
		got.Body.Close()
		loc := got.Header.Get("Location")
		for i := 0; i < 4 && strings.HasPrefix(loc, s.Issuer); i++ {
			r := victim.get(loc)
			r.Body.Close()
			loc = r.Header.Get("Location")
		}
		cb, _ := url.Parse(loc)
		if !strings.HasPrefix(loc, listener+"?") || cb.Query().Get("code") == "" {
			t.Fatalf("after the password: %q", loc)
		}
		a := s.tokenRaw(t, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "code_verifier": {verifier},
			"redirect_uri": {listener}, "client_id": {"native"}}, "", "")
		if a.status != http.StatusOK || a.body["id_token"] == nil {
			t.Errorf("token: %d %v", a.status, a.body)
		}
	})
}
