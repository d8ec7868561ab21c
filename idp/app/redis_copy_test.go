package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// cookieValue returns the value of the named cookie the browser holds for the provider.
func (b *browserless) cookieValue(name string) string {
	b.t.Helper()
	u, _ := url.Parse(b.s.Issuer + "/")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	b.t.Fatalf("no %s cookie", name)
	return ""
}

// redisCopy reads every key of the provider's Redis and everything each
// holds, as whoever obtained a copy of it (a replica, a backup) would.
func redisCopy(t *testing.T, ctx context.Context, c *redis.Client) map[string]string {
	t.Helper()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	dump := make(map[string]string, len(keys))
	for _, k := range keys {
		var v any
		switch typ := c.Type(ctx, k).Val(); typ {
		case "string":
			v, err = c.Get(ctx, k).Result()
		case "hash":
			v, err = c.HGetAll(ctx, k).Result()
		case "zset":
			v, err = c.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "set":
			v, err = c.SMembers(ctx, k).Result()
		case "list":
			v, err = c.LRange(ctx, k, 0, -1).Result()
		case "stream":
			v, err = c.XRange(ctx, k, "-", "+").Result()
		case "none":
			continue // expired meanwhile
		default:
			t.Fatalf("key %s of unexpected type %s", k, typ)
		}
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		dump[k] = fmt.Sprint(v)
	}
	return dump
}

// A copy of Redis (a replica, a backup, a read-only account) must not hand
// out what a browser presents: no key and no value holds a session cookie,
// a reset flow cookie or a sign-in request id, and a key name used as one
// opens nothing.
func TestRedisCopyHoldsNoBearerValue(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	ctx := timeout(t, context.Background())
	u := testenv.Users()[0]
	prefix := s.cfg.Redis.KeyPrefix

	// A signed-in browser, and a sign-in completed with the password whose
	// code is not redeemed (the request record is done).
	victim, _ := signedIn(t, s, st, url.Values{"scope": {"openid email profile offline_access"}})
	sessionCookie := victim.cookieValue(s.cfg.Session.CookieName)
	done := newBrowserless(t, s)
	doneLogin, _ := done.authorize(st, nil)
	doneID := mustQuery(t, doneLogin, "authRequestID")
	if resp := done.login(doneLogin, u.UID, u.Password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}

	// Another browser starts a sign-in, then « Mot de passe oublié » from
	// it, up to the code step (the mail holds a code and a link).
	other := resetClient{newBrowserless(t, s)}
	loginURL, _ := other.authorize(st, nil)
	pendingID := mustQuery(t, loginURL, "authRequestID")
	path := "/mot-de-passe-perdu?" + url.Values{"authRequestID": {pendingID}}.Encode()
	tok, _ := other.formToken(path)
	if resp, _ := other.post(path, url.Values{"csrf_token": {tok}, "profil": {"usager"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("profile: %d", resp.StatusCode)
	}
	if status, _ := other.email(url.Values{"email": {u.Mail}}, nil); status != http.StatusOK {
		t.Fatalf("address: %d", status)
	}
	mailAfter(t, s, 0, u.Mail, codeMail)
	flowCookie := other.cookieValue("idp_reset")

	secrets := map[string]string{
		"session cookie":                      sessionCookie,
		"reset flow cookie":                   flowCookie,
		"pending authRequestID":               pendingID,
		"completed, unredeemed authRequestID": doneID,
	}
	dump := redisCopy(t, ctx, s.Redis.Client(t))
	if len(dump) == 0 {
		t.Fatal("empty Redis")
	}
	for key, val := range dump {
		for what, v := range secrets {
			if strings.Contains(key, v) {
				t.Errorf("key %s contains the %s", key, what)
			}
			if strings.Contains(val, v) {
				t.Errorf("value of %s contains the %s", key, what)
			}
		}
	}

	// Key names used as what a browser presents open nothing.
	var sessions, flows, requests int
	for key := range dump {
		name, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(name, "sess:"):
			sessions++
			b := newBrowserless(t, s)
			b.setCookie(s.cfg.Session.CookieName, strings.TrimPrefix(name, "sess:"))
			if body := readAll(t, b.get(s.Issuer+"/")); csrfField.MatchString(body) {
				t.Errorf("the key name %s, used as a session cookie, signs in", key)
			}
		case strings.HasPrefix(name, "reset:"):
			flows++
			b := newBrowserless(t, s)
			b.setCookie("idp_reset", strings.TrimPrefix(name, "reset:"))
			resp := b.get(s.Issuer + "/mot-de-passe-perdu/code")
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("the key name %s, used as a reset cookie, opens the flow", key)
			}
		case strings.HasPrefix(name, "ar:"):
			requests++
			resp := newBrowserless(t, s).get(s.Issuer + "/login?" + url.Values{"authRequestID": {strings.TrimPrefix(name, "ar:")}}.Encode())
			body := readAll(t, resp)
			if resp.StatusCode == http.StatusOK && strings.Contains(body, `name="password"`) {
				t.Errorf("the key name %s, used as authRequestID, shows the sign-in form", key)
			}
		}
	}
	if sessions == 0 || flows == 0 || requests < 2 {
		t.Fatalf("expected records missing: %d sessions, %d flows, %d requests", sessions, flows, requests)
	}
}

func (b *browserless) setCookie(name, value string) {
	u, _ := url.Parse(b.s.Issuer + "/")
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

func mustQuery(t *testing.T, raw, name string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Query().Get(name) == "" {
		t.Fatalf("no %s in %q", name, raw)
	}
	return u.Query().Get(name)
}

// The sign-in request and the tokens made from it keep only the claims
// their scopes release: with "openid" alone, the person's address is in
// the SSO session (which shows it on the landing page) and nowhere else.
func TestRedisKeepsOnlyGrantedClaims(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	u := testenv.Users()[0]
	b, tok := signedIn(t, s, st, url.Values{"scope": {"openid offline_access"}})
	if tok["refresh_token"] == nil {
		t.Fatal("no refresh token")
	}
	// A second sign-in through the session, left at the callback.
	if callback, _ := b.authorize(st, url.Values{"scope": {"openid"}}); !strings.HasPrefix(callback, st.URL+"/callback?") {
		t.Fatalf("SSO sign-in: to %q", callback)
	}
	for key, val := range redisCopy(t, timeout(t, context.Background()), s.Redis.Client(t)) {
		if strings.Contains(strings.ToLower(val), strings.ToLower(u.Mail)) && !strings.HasPrefix(key, s.cfg.Redis.KeyPrefix+"sess:") {
			t.Errorf("%s holds the address, not granted by the scopes", key)
		}
	}
}
