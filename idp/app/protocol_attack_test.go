package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
)

// These tests attack the protocol endpoints from outside, with raw HTTP
// requests against the real stack (slapd, redis-server).

// pendingSignIns sums what the pending sign-in records hold in Redis.
func pendingSignIns(t *testing.T, s *stack) (keys int, bytes int64) {
	t.Helper()
	ctx := context.Background()
	rdb := s.Redis.Client(t)
	iter := rdb.Scan(ctx, 0, s.cfg.Redis.KeyPrefix+"ar:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys++
		bytes += rdb.MemoryUsage(ctx, iter.Val()).Val()
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return keys, bytes
}

// authorizeFrom sends GET /authorize as if from addr (the stack trusts
// the loopback proxy's X-Forwarded-For).
func authorizeFrom(t *testing.T, s *stack, addr string, rawQuery string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.Issuer+"/authorize?"+rawQuery, nil)
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func behindLoopbackProxy(limit int) func(*config.Config) {
	return func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Limits.AuthorizePerAddress = limit
	}
}

// wantFrenchPage checks an answer that must stay on the provider: a
// French page, never a redirect.
func wantFrenchPage(t *testing.T, resp *http.Response, status int, title string) {
	t.Helper()
	body := readAll(t, resp)
	if resp.StatusCode != status || resp.Header.Get("Location") != "" {
		t.Fatalf("status %d Location %q, want %d and a page", resp.StatusCode, resp.Header.Get("Location"), status)
	}
	if !strings.Contains(body, `lang="fr"`) || !strings.Contains(body, title) {
		t.Fatalf("not the French page « %s »", title)
	}
}

func TestAuthorizeCannotFillRedis(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: behindLoopbackProxy(20)})
	st := s.Sites[0]
	n := 0
	fresh := func() string { n++; return fmt.Sprintf("192.0.2.%d", n) }

	t.Run("a huge state is neither stored nor echoed", func(t *testing.T) {
		keys, before := pendingSignIns(t, s)
		resp := authorizeFrom(t, s, fresh(), authParams(st, url.Values{"state": {strings.Repeat("S", 32<<10)}}).Encode())
		k, after := pendingSignIns(t, s)
		if k != keys || after-before > 4<<10 {
			t.Errorf("one /authorize stored %d more records, %d more bytes in Redis", k-keys, after-before)
		}
		wantFrenchPage(t, resp, http.StatusBadRequest, "Demande de connexion incorrecte")
	})

	t.Run("a state of 512 bytes is accepted, 513 is not", func(t *testing.T) {
		resp := authorizeFrom(t, s, fresh(), authParams(st, url.Values{"state": {strings.Repeat("s", 512)}}).Encode())
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
			t.Fatalf("state of 512 bytes: %d %q, want the login screen", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp = authorizeFrom(t, s, fresh(), authParams(st, url.Values{"state": {strings.Repeat("s", 513)}}).Encode())
		wantFrenchPage(t, resp, http.StatusBadRequest, "Demande de connexion incorrecte")
	})

	for _, tc := range []struct{ param, value string }{
		{"nonce", strings.Repeat("n", 513)},
		{"login_hint", strings.Repeat("h", 257) + "@example.org"},
		{"code_challenge", strings.Repeat("c", 129)},
		{"scope", "openid " + strings.Repeat("x", 600)},
		{"ui_locales", strings.Repeat("fr ", 100)},
		{"acr_values", strings.Repeat("a", 600)},
		{"claims", `{"userinfo":{"x":"` + strings.Repeat("c", 3000) + `"}}`},
		{"id_token_hint", strings.Repeat("e", 5000)},
		{"max_age", strings.Repeat("9", 30)},
		{"prompt", strings.Repeat("login ", 100)},
		{"unknown_padding", strings.Repeat("p", 9000)},
	} {
		t.Run(tc.param+" too long", func(t *testing.T) {
			keys, before := pendingSignIns(t, s)
			resp := authorizeFrom(t, s, fresh(), authParams(st, url.Values{tc.param: {tc.value}}).Encode())
			resp.Body.Close()
			if k, after := pendingSignIns(t, s); k != keys {
				t.Errorf("stored %d more records (%d bytes)", k-keys, after-before)
			}
			errorRedirect(t, newBrowserless(t, s), resp, st.URL+"/callback", "invalid_request")
		})
	}

	t.Run("one address gets 20 in 10 minutes, then a French 429", func(t *testing.T) {
		for _, c := range []struct {
			name       string
			addrs      func(i int) string
			other      string
			afterLimit string
		}{
			{"IPv4", func(int) string { return "198.51.100.7" }, "198.51.100.8", "198.51.100.7"},
			{"IPv6 /64", func(i int) string { return fmt.Sprintf("2001:db8:1:2::%x", i+1) }, "2001:db8:1:3::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
		} {
			t.Run(c.name, func(t *testing.T) {
				q := authParams(st, nil).Encode()
				for i := range 20 {
					resp := authorizeFrom(t, s, c.addrs(i), q)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("request %d: %d", i+1, resp.StatusCode)
					}
				}
				keys, _ := pendingSignIns(t, s)
				resp := authorizeFrom(t, s, c.afterLimit, q)
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
				if loc := resp.Header.Get("Location"); loc != "" {
					t.Errorf("429 with a Location: %s", loc)
				}
				if k, _ := pendingSignIns(t, s); k != keys {
					t.Errorf("a refused request left %d pending sign-ins", k-keys)
				}
				wantFrenchPage(t, resp, http.StatusTooManyRequests, "Trop de")
				resp = authorizeFrom(t, s, c.other, q)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("another address was held back: %d", resp.StatusCode)
				}
			})
		}
		s.Clock.Advance(10*time.Minute + time.Second)
		resp := authorizeFrom(t, s, "198.51.100.7", authParams(st, nil).Encode())
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("10 minutes later: %d", resp.StatusCode)
		}
	})

	t.Run("state never reaches the logs", func(t *testing.T) {
		mark := "StateMarker" + strings.Repeat("Q", 400)
		long := "LongStateMarker" + strings.Repeat("L", 600)
		for _, q := range []url.Values{
			authParams(st, url.Values{"state": {mark}, "scope": {"email"}}),                  // refused by storage
			authParams(st, url.Values{"state": {mark}, "prompt": {"none"}}),                  // login_required
			authParams(st, url.Values{"state": {mark}, "response_mode": {"fragment"}}),       // refused by the guard
			authParams(st, url.Values{"state": {mark}, "nonce": {strings.Repeat("n", 600)}}), // too long
			authParams(st, url.Values{"state": {long}}),
		} {
			b := newBrowserless(t, s)
			resp := authorizeFrom(t, s, fresh(), q.Encode())
			resp.Body.Close()
			// Follow the provider's own redirects (the login page answers prompt=none).
			for loc := resp.Header.Get("Location"); strings.HasPrefix(loc, s.Issuer+"/"); {
				r := b.get(loc)
				r.Body.Close()
				loc = r.Header.Get("Location")
			}
		}
		logs := s.Logs.String()
		for _, m := range []string{"StateMarker", "LongStateMarker", "QQQQQQQQ"} {
			for line := range strings.Lines(logs) {
				if i := strings.Index(line, m); i >= 0 {
					t.Errorf("the state is in the logs: %s…", line[:min(len(line), i+len(m)+8)])
					break
				}
			}
		}
	})
}

// tokenRaw posts form to the token endpoint with optional Basic
// credentials, as an attacker would.
func (s *stack) tokenRaw(t *testing.T, form url.Values, user, password string) tokenAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.Issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(password))
	}
	c := noRedirect()
	if s.TLS != nil {
		c.Transport = s.TLS.Transport()
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return tokenAnswer{resp.StatusCode, body, resp.Header}
}

func withForm(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Add(kv[i], kv[i+1])
	}
	return out
}

func TestTokenEndpointAuthenticatesBeforeTheCode(t *testing.T) {
	s := startStack(t)
	st, other := s.Sites[0], s.Sites[1]
	cb := st.URL + "/callback"
	pub := &site{URL: st.URL + "/public", ClientID: "public"}
	pcb := pub.URL + "/callback"

	attacks := []struct {
		name   string
		public bool
		try    func(code, verifier string) tokenAnswer
		status int
		err    string
	}{
		{"no client authentication", false, func(code, v string) tokenAnswer {
			return s.tokenRaw(t, codeForm(code, v, cb), "", "")
		}, 401, "invalid_client"},
		{"client_id of the confidential client without its secret", false, func(code, v string) tokenAnswer {
			return s.tokenRaw(t, withForm(codeForm(code, v, cb), "client_id", st.ClientID), "", "")
		}, 401, "invalid_client"},
		{"wrong secret (basic)", false, func(code, v string) tokenAnswer {
			return s.tokenRaw(t, codeForm(code, v, cb), st.ClientID, "wrong")
		}, 401, "invalid_client"},
		{"wrong secret (post)", false, func(code, v string) tokenAnswer {
			return s.tokenRaw(t, withForm(codeForm(code, v, cb), "client_id", st.ClientID, "client_secret", "wrong"), "", "")
		}, 401, "invalid_client"},
		{"the public client's id for a confidential client's code", false, func(code, v string) tokenAnswer {
			return s.tokenRaw(t, withForm(codeForm(code, v, cb), "client_id", "public"), "", "")
		}, 400, "invalid_grant"},
		{"another registered client's credentials", false, func(code, v string) tokenAnswer {
			return s.tokenRaw(t, codeForm(code, v, cb), other.ClientID, other.Secret)
		}, 400, "invalid_grant"},
		{"public client, wrong verifier", true, func(code, _ string) tokenAnswer {
			return s.tokenRaw(t, withForm(codeForm(code, oauth2.GenerateVerifier(), pcb), "client_id", "public"), "", "")
		}, 400, "invalid_grant"},
		{"public client, no verifier", true, func(code, _ string) tokenAnswer {
			f := withForm(codeForm(code, "", pcb), "client_id", "public")
			f.Del("code_verifier")
			return s.tokenRaw(t, f, "", "")
		}, 400, "invalid_grant"},
	}
	redeem := func(public bool, code, verifier string) tokenAnswer {
		if public {
			return s.tokenRaw(t, withForm(codeForm(code, verifier, pcb), "client_id", "public"), "", "")
		}
		return s.token(t, st, codeForm(code, verifier, cb), true)
	}
	target := func(public bool) *site {
		if public {
			return pub
		}
		return st
	}

	for _, a := range attacks {
		t.Run("unredeemed code: "+a.name, func(t *testing.T) {
			code, verifier := newBrowserless(t, s).code(target(a.public), nil)
			if got := a.try(code, verifier); got.status != a.status || got.body["error"] != a.err {
				t.Errorf("attack answered %d %v, want %d %s", got.status, got.body, a.status, a.err)
			}
			if got := redeem(a.public, code, verifier); got.status != http.StatusOK {
				t.Fatalf("the owner can no longer redeem the code: %d %v", got.status, got.body)
			}
		})
	}
	for _, a := range attacks {
		t.Run("redeemed code: "+a.name, func(t *testing.T) {
			code, verifier := newBrowserless(t, s).code(target(a.public), nil)
			first := redeem(a.public, code, verifier)
			at, _ := first.body["access_token"].(string)
			if first.status != http.StatusOK || at == "" {
				t.Fatalf("owner's redemption: %d %v", first.status, first.body)
			}
			if got := a.try(code, verifier); got.status == http.StatusOK {
				t.Fatalf("replay accepted: %v", got.body)
			}
			if got := s.userinfo(t, at); got != http.StatusOK {
				t.Errorf("the owner's access token was revoked by a replay without credentials: userinfo %d", got)
			}
		})
	}
	t.Run("the owner's own replay still revokes", func(t *testing.T) {
		for _, public := range []bool{false, true} {
			code, verifier := newBrowserless(t, s).code(target(public), nil)
			at, _ := redeem(public, code, verifier).body["access_token"].(string)
			if got := redeem(public, code, verifier); got.status != http.StatusBadRequest || got.body["error"] != "invalid_grant" {
				t.Fatalf("public=%v replay: %d %v", public, got.status, got.body)
			}
			if got := s.userinfo(t, at); got != http.StatusUnauthorized {
				t.Errorf("public=%v: after the owner's replay userinfo answers %d, want 401", public, got)
			}
		}
	})
}

func TestRepeatedParametersRefused(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	cb := st.URL + "/callback"

	t.Run("response_mode=query&response_mode=fragment", func(t *testing.T) {
		b := newBrowserless(t, s)
		q := authParams(st, url.Values{"response_mode": {"query", "fragment"}})
		resp := b.authorizeRaw(q)
		if resp.StatusCode == http.StatusOK {
			t.Fatal("the sign-in went on: the login screen was shown")
		}
		errorRedirect(t, b, resp, cb, "invalid_request")
	})

	for _, p := range []string{"scope", "nonce", "code_challenge", "code_challenge_method", "prompt", "login_hint", "response_type", "max_age", "ui_locales", "id_token_hint", "acr_values"} {
		t.Run("repeated "+p, func(t *testing.T) {
			q := authParams(st, nil)
			v := q.Get(p)
			if v == "" {
				v = "x"
			}
			q[p] = []string{v, v}
			b := newBrowserless(t, s)
			errorRedirect(t, b, b.authorizeRaw(q), cb, "invalid_request")
		})
	}
	for _, c := range []struct{ param, title string }{
		{"state", "Demande de connexion incorrecte"},
		{"client_id", "Site inconnu"},
		{"redirect_uri", "Adresse de retour non autorisée"},
	} {
		t.Run("repeated "+c.param+" gets a page", func(t *testing.T) {
			q := authParams(st, nil)
			q[c.param] = []string{q.Get(c.param), q.Get(c.param)}
			b := newBrowserless(t, s)
			wantFrenchPage(t, b.get(s.Issuer+"/authorize?"+q.Encode()), http.StatusBadRequest, c.title)
		})
	}

	t.Run("token endpoint", func(t *testing.T) {
		for _, p := range []string{"code", "grant_type", "redirect_uri", "code_verifier", "client_id", "client_secret"} {
			code, verifier := newBrowserless(t, s).code(st, nil)
			f := withForm(codeForm(code, verifier, cb), "client_id", st.ClientID, "client_secret", st.Secret)
			f.Add(p, f.Get(p))
			if got := s.tokenRaw(t, f, "", ""); got.status != http.StatusBadRequest || got.body["error"] != "invalid_request" {
				t.Errorf("repeated %s: %d, error %v; want 400 invalid_request", p, got.status, got.body["error"])
			}
			if got := s.token(t, st, codeForm(code, verifier, cb), true); got.status != http.StatusOK {
				t.Errorf("after the repeated %s, the owner's redemption: %d %v", p, got.status, got.body["error"])
			}
		}
	})
}

// apiAnswer is a response of an endpoint that programs call.
type apiAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (s *stack) api(t *testing.T, method, path string, form url.Values, header http.Header) apiAnswer {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, s.Issuer+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw := readAll(t, resp)
	a := apiAnswer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal([]byte(raw), &a.body)
	return a
}

func basic(id, secret string) http.Header {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return http.Header{"Authorization": r.Header["Authorization"]}
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

func TestAPIErrorsFollowRFCs(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	cb := st.URL + "/callback"
	code, verifier := newBrowserless(t, s).code(st, url.Values{"scope": {"openid email offline_access"}})
	tok := s.token(t, st, codeForm(code, verifier, cb), true).body
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
	code, verifier = newBrowserless(t, s).code(st, nil)
	revoked := s.token(t, st, codeForm(code, verifier, cb), true).body["access_token"].(string)
	if s.revoke(t, st, revoked, "access_token") != http.StatusOK {
		t.Fatal("cannot revoke")
	}

	notHTML := func(t *testing.T, a apiAnswer) {
		t.Helper()
		if ct := a.header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") || strings.Contains(a.raw, "<html") {
			t.Errorf("an HTML page (%s) answers a program: %.80q", ct, a.raw)
		}
	}
	bearerError := func(t *testing.T, a apiAnswer, status int, errCode string) {
		t.Helper()
		notHTML(t, a)
		wa := a.header.Get("WWW-Authenticate")
		if a.status != status || !strings.HasPrefix(wa, "Bearer") {
			t.Errorf("status %d WWW-Authenticate %q, want %d Bearer", a.status, wa, status)
			return
		}
		if errCode == "" && strings.Contains(wa, "error=") || errCode != "" && !strings.Contains(wa, `error="`+errCode+`"`) {
			t.Errorf("WWW-Authenticate %q, want error %q", wa, errCode)
		}
	}
	clientError := func(t *testing.T, a apiAnswer, wantChallenge bool) {
		t.Helper()
		notHTML(t, a)
		if a.status != http.StatusUnauthorized || a.body["error"] != "invalid_client" {
			t.Errorf("%d %.80q, want 401 invalid_client in JSON", a.status, a.raw)
			return
		}
		if wantChallenge && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
		}
	}

	t.Run("userinfo", func(t *testing.T) {
		if a := s.api(t, "GET", "/userinfo", nil, bearer(at)); a.status != http.StatusOK || a.body["sub"] == nil {
			t.Fatalf("live token: %d %s", a.status, a.raw)
		}
		bearerError(t, s.api(t, "GET", "/userinfo", nil, nil), 401, "")
		bearerError(t, s.api(t, "GET", "/userinfo", nil, bearer("not-a-token")), 401, "invalid_token")
		bearerError(t, s.api(t, "POST", "/userinfo", url.Values{}, bearer("not-a-token")), 401, "invalid_token")
		bearerError(t, s.api(t, "GET", "/userinfo", nil, bearer(revoked)), 401, "invalid_token")
		bearerError(t, s.api(t, "GET", "/userinfo?access_token="+url.QueryEscape(at), nil, nil), 400, "invalid_request")
	})

	t.Run("introspection", func(t *testing.T) {
		clientError(t, s.api(t, "POST", "/oauth/introspect", url.Values{"token": {at}}, nil), false)
		clientError(t, s.api(t, "POST", "/oauth/introspect", url.Values{"token": {at}}, basic(st.ClientID, "wrong")), true)
		clientError(t, s.api(t, "POST", "/oauth/introspect", url.Values{"token": {at}, "client_id": {st.ClientID}, "client_secret": {"wrong"}}, nil), false)
		if a := s.api(t, "POST", "/oauth/introspect", url.Values{"token": {revoked}}, basic(st.ClientID, st.Secret)); a.status != 200 || a.body["active"] != false {
			t.Errorf("revoked token: %d %s", a.status, a.raw)
		}
	})

	t.Run("revocation", func(t *testing.T) {
		clientError(t, s.api(t, "POST", "/revoke", url.Values{"token": {at}}, nil), false)
		clientError(t, s.api(t, "POST", "/revoke", url.Values{"token": {at}}, basic(st.ClientID, "wrong")), true)
		clientError(t, s.api(t, "POST", "/revoke", url.Values{"token": {at}, "client_id": {st.ClientID}, "client_secret": {"wrong"}}, nil), false)
		if a := s.api(t, "GET", "/userinfo", nil, bearer(at)); a.status != http.StatusOK {
			t.Errorf("a refused revocation revoked the token: userinfo %d", a.status)
		}
	})

	t.Run("refresh without client authentication", func(t *testing.T) {
		clientError(t, s.api(t, "POST", "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, nil), false)
		clientError(t, s.api(t, "POST", "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {st.ClientID}}, nil), false)
		if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); a.status != http.StatusOK {
			t.Errorf("the owner's refresh token no longer works: %d %v", a.status, a.body)
		}
	})

	t.Run("CORS preflights still answered", func(t *testing.T) {
		for _, path := range []string{"/oauth/token", "/userinfo", "/revoke"} {
			a := s.api(t, http.MethodOptions, path, nil, http.Header{
				"Origin": {st.URL}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization"},
			})
			if a.status >= 300 || a.header.Get("Access-Control-Allow-Origin") != st.URL {
				t.Errorf("preflight of %s: %d, Access-Control-Allow-Origin %q", path, a.status, a.header.Get("Access-Control-Allow-Origin"))
			}
		}
		// A browser-based client can read the errors too.
		a := s.api(t, http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, http.Header{"Origin": {st.URL}})
		if a.status != http.StatusUnauthorized || a.header.Get("Access-Control-Allow-Origin") != st.URL {
			t.Errorf("token error: %d, Access-Control-Allow-Origin %q", a.status, a.header.Get("Access-Control-Allow-Origin"))
		}
	})

	t.Run("request_uri", func(t *testing.T) {
		q := authParams(st, url.Values{"request_uri": {"https://attacker.example/request.jwt"}})
		b := newBrowserless(t, s)
		errorRedirect(t, b, b.authorizeRaw(q), cb, "request_uri_not_supported")
	})

	t.Run("device authorization is not served", func(t *testing.T) {
		a := s.api(t, "POST", "/device_authorization", url.Values{"scope": {"openid"}}, basic(st.ClientID, st.Secret))
		if a.status != http.StatusNotFound {
			t.Errorf("/device_authorization: %d %.200s", a.status, a.raw)
		}
		d := s.api(t, "GET", "/.well-known/openid-configuration", nil, nil)
		if _, ok := d.body["device_authorization_endpoint"]; ok {
			t.Errorf("discovery lists device_authorization_endpoint")
		}
	})
}
