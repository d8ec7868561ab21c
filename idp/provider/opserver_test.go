package provider

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// These tests drive the provider against miniredis: client
// authentication, codes, refresh tokens and userinfo, in seconds. The
// journeys through a browser, slapd and real Redis are in idp/app.

const (
	testIssuer   = "http://127.0.0.1:9999"
	confCB       = "https://rp.example/cb"
	otherCB      = "https://other.example/cb"
	publicCB     = "http://127.0.0.1:7000/cb"
	confSecret   = "confidential-secret-0123456789abcdef"
	otherSecret  = "other-secret-0123456789abcdef012345"
	testVerifier = "a-verifier-of-the-right-length-0123456789abcdefgh"
)

var testLife = Lifetimes{
	AuthRequest: 15 * time.Minute, Code: time.Minute, AccessToken: 5 * time.Minute,
	IDToken: 5 * time.Minute, RefreshToken: 12 * time.Hour,
}

func secretHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// clock is the fixture's time, moved by the tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// roundTrips counts the commands and pipelines sent to Redis.
type roundTrips struct {
	mu    sync.Mutex
	n     int
	names []string
}

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.add(cmd.Name())
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.add("pipeline")
		return next(ctx, cmds)
	}
}
func (r *roundTrips) add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	r.names = append(r.names, name)
}

// since returns the round trips after the first n.
func (r *roundTrips) since(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.names[n:]...)
}

func (r *roundTrips) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

type fixture struct {
	p     *Provider
	st    *store.Store
	mr    *miniredis.Miniredis
	clock *clock
	trips *roundTrips
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, nil)
}

// newFixtureWith is newFixture with edit applied to the provider's
// configuration.
func newFixtureWith(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	mr := miniredis.RunT(t)
	// No retries: the test of Redis down need not wait for them.
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	trips := &roundTrips{}
	rdb.AddHook(trips)
	c := &clock{now: time.Now()}
	st := store.New(store.Options{Client: rdb, Now: c.Now})
	cfg := Config{
		Issuer: testIssuer, LoginPath: "/login", SigningAlgorithm: "ES256",
		Clients: []Client{
			{ID: "conf", SecretSHA256: secretHash(confSecret), RedirectURIs: []string{confCB}},
			{ID: "other", SecretSHA256: secretHash(otherSecret), RedirectURIs: []string{otherCB}},
			{ID: "public", Public: true, RedirectURIs: []string{publicCB}},
		},
		Lifetimes: testLife,
		Now:       c.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{p: p, st: st, mr: mr, clock: c, trips: trips}
}

// grant is what a sign-in gave a client: its code and the PKCE verifier.
type grant struct {
	client, redirect, code, verifier string
	// authRequestID is the sign-in's id (the code's record knows its Ref only).
	authRequestID string
}

// code stores a completed sign-in for client, as the login UI leaves it,
// and mints its code as the library's callback does. An empty verifier
// means a request without PKCE.
func (f *fixture) code(t *testing.T, client, redirect, verifier string, scopes ...string) grant {
	t.Helper()
	ctx := context.Background()
	now := f.clock.Now()
	ar := &store.AuthRequest{
		ID: store.NewID(), ClientID: client, RedirectURI: redirect, ResponseType: "code",
		Scopes: append([]string{oidc.ScopeOpenID}, scopes...), CreatedAt: now, ExpiresAt: now.Add(testLife.AuthRequest),
		Done: true, Subject: "jdupont", AuthTime: now, AMR: []string{"pwd"},
		Claims: store.Claims{Email: "jean.dupont@example.org"},
	}
	if verifier != "" {
		ar.CodeChallenge, ar.CodeChallengeMethod = oidc.NewSHACodeChallenge(verifier), string(oidc.CodeChallengeMethodS256)
	}
	if err := f.st.SaveAuthRequest(ctx, ar); err != nil {
		t.Fatal(err)
	}
	code := store.NewID()
	if err := f.p.storage.SaveAuthCode(ctx, ar.ID, code); err != nil {
		t.Fatal(err)
	}
	return grant{client: client, redirect: redirect, code: code, verifier: verifier, authRequestID: ar.ID}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

// call sends form to an API endpoint as client (authenticated in front,
// as idp/server does; "" for none).
func (f *fixture) call(t *testing.T, path, client string, form url.Values, header http.Header) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, testIssuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	if c, ok := f.p.Client(client); ok {
		req = req.WithContext(WithClient(req.Context(), c))
	}
	rec := httptest.NewRecorder()
	f.p.APIHandler().ServeHTTP(rec, req)
	a := answer{status: rec.Code, header: rec.Header()}
	_ = json.Unmarshal(rec.Body.Bytes(), &a.body)
	return a
}

func (f *fixture) exchange(t *testing.T, client string, g grant) answer {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {g.code}, "redirect_uri": {g.redirect}, "client_id": {client}}
	if g.verifier != "" {
		form.Set("code_verifier", g.verifier)
	}
	return f.call(t, "/oauth/token", client, form, nil)
}

func (f *fixture) refresh(t *testing.T, client, token string) answer {
	t.Helper()
	return f.call(t, "/oauth/token", client, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {client}}, nil)
}

func (f *fixture) userinfo(t *testing.T, accessToken string) answer {
	t.Helper()
	return f.call(t, "/userinfo", "", url.Values{}, http.Header{"Authorization": {"Bearer " + accessToken}})
}

func wantError(t *testing.T, a answer, status int, code string) {
	t.Helper()
	if a.status != status || a.body["error"] != code {
		t.Errorf("answer %d %v (%v), want %d %s", a.status, a.body["error"], a.body["error_description"], status, code)
	}
}

func tokens(t *testing.T, a answer) (access, refresh string) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("token answer %d %v (%v)", a.status, a.body["error"], a.body["error_description"])
	}
	access, _ = a.body["access_token"].(string)
	refresh, _ = a.body["refresh_token"].(string)
	if access == "" || a.body["id_token"] == nil {
		t.Fatalf("token answer without an access token or an ID token")
	}
	return access, refresh
}

func TestAuthenticateClient(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		creds Credentials
		ok    bool
	}{
		{"confidential with its secret", Credentials{ID: "conf", Secret: confSecret, SecretSent: true}, true},
		{"confidential with a wrong secret", Credentials{ID: "conf", Secret: "wrong", SecretSent: true}, false},
		{"confidential with another client's secret", Credentials{ID: "conf", Secret: otherSecret, SecretSent: true}, false},
		{"confidential without a secret", Credentials{ID: "conf"}, false},
		{"confidential with an empty secret", Credentials{ID: "conf", SecretSent: true}, false},
		{"public with its id only", Credentials{ID: "public"}, true},
		{"public presenting a secret", Credentials{ID: "public", Secret: "x", SecretSent: true}, false},
		{"public presenting an empty secret", Credentials{ID: "public", SecretSent: true}, false},
		{"unknown client", Credentials{ID: "nobody"}, false},
		{"no client", Credentials{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.p.AuthenticateClient(tt.creds)
			if tt.ok && (err != nil || c == nil || c.ID != tt.creds.ID) {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrClientAuth) {
				t.Fatalf("accepted (%v, %v)", c, err)
			}
		})
	}
}

// A request that reaches the op.Server without an authenticated client,
// or for another client than the one authenticated, is refused.
func TestAPIServesTheAuthenticatedClientOnly(t *testing.T) {
	f := newFixture(t)
	g := f.code(t, "conf", confCB, testVerifier)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {g.code}, "redirect_uri": {g.redirect}, "code_verifier": {g.verifier}}
	for _, tt := range []struct {
		name, client string
		form         url.Values
	}{
		{"no authenticated client", "", withValue(form, "client_id", "conf")},
		{"client_id of another client", "other", withValue(form, "client_id", "conf")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := f.call(t, "/oauth/token", tt.client, tt.form, nil)
			wantError(t, a, http.StatusUnauthorized, "invalid_client")
			if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
			}
		})
	}
	if _, rt := tokens(t, f.exchange(t, "conf", g)); rt != "" {
		t.Errorf("a refresh token without offline_access")
	}
}

func withValue(v url.Values, k, value string) url.Values {
	out := url.Values{}
	for key, vs := range v {
		out[key] = append([]string(nil), vs...)
	}
	out.Set(k, value)
	return out
}

func TestGrantTypes(t *testing.T) {
	f := newFixture(t)
	for _, gt := range []string{"client_credentials", "password", "urn:ietf:params:oauth:grant-type:jwt-bearer",
		"urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:device_code"} {
		t.Run(gt, func(t *testing.T) {
			a := f.call(t, "/oauth/token", "conf", url.Values{"grant_type": {gt}, "client_id": {"conf"}, "assertion": {"x"},
				"subject_token": {"x"}, "subject_token_type": {string(oidc.AccessTokenType)}, "device_code": {"x"}}, nil)
			wantError(t, a, http.StatusBadRequest, "unsupported_grant_type")
		})
	}
}

// A code is spent only by the client, redirect URI and verifier it was
// issued for; any other attempt leaves it to its owner.
func TestCodeBoundToItsClient(t *testing.T) {
	tests := []struct {
		name    string
		issued  func(f *fixture, t *testing.T) grant
		attempt func(g grant) (string, grant)
	}{
		{"another client", confGrant, func(g grant) (string, grant) { return "other", g }},
		{"the public client", confGrant, func(g grant) (string, grant) { return "public", g }},
		{"another redirect URI", confGrant, func(g grant) (string, grant) { g.redirect = confCB + "/x"; return "conf", g }},
		{"a wrong verifier", confGrant, func(g grant) (string, grant) { g.verifier = testVerifier + "x"; return "conf", g }},
		{"no verifier", confGrant, func(g grant) (string, grant) { g.verifier = ""; return "conf", g }},
		{"a verifier where no challenge was made (downgrade)", func(f *fixture, t *testing.T) grant {
			return f.code(t, "conf", confCB, "")
		}, func(g grant) (string, grant) { g.verifier = testVerifier; return "conf", g }},
		{"public client, wrong verifier", publicGrant, func(g grant) (string, grant) { g.verifier = testVerifier + "x"; return "public", g }},
		{"public client, no verifier", publicGrant, func(g grant) (string, grant) { g.verifier = ""; return "public", g }},
		{"an unknown code", confGrant, func(g grant) (string, grant) { g.code = store.NewID(); return "conf", g }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			g := tt.issued(f, t)
			client, bad := tt.attempt(g)
			wantError(t, f.exchange(t, client, bad), http.StatusBadRequest, "invalid_grant")
			tokens(t, f.exchange(t, g.client, g))
		})
	}
}

func confGrant(f *fixture, t *testing.T) grant   { return f.code(t, "conf", confCB, testVerifier) }
func publicGrant(f *fixture, t *testing.T) grant { return f.code(t, "public", publicCB, testVerifier) }

// A code is exchanged once. Its owner presenting it again revokes what the
// first exchange gave (the code has leaked); anyone else presenting it
// does not.
func TestCodeOnceOnly(t *testing.T) {
	tests := []struct {
		name    string
		replay  func(g grant) (string, grant)
		revokes bool
	}{
		{"the owner replays", func(g grant) (string, grant) { return g.client, g }, true},
		{"another client replays", func(g grant) (string, grant) { return "other", g }, false},
		{"the owner's id without its verifier", func(g grant) (string, grant) { g.verifier = ""; return g.client, g }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			g := f.code(t, "conf", confCB, testVerifier, oidc.ScopeOfflineAccess)
			at, rt := tokens(t, f.exchange(t, "conf", g))
			client, again := tt.replay(g)
			wantError(t, f.exchange(t, client, again), http.StatusBadRequest, "invalid_grant")
			ui, ref := f.userinfo(t, at), f.refresh(t, "conf", rt)
			if tt.revokes {
				wantError(t, ui, http.StatusUnauthorized, "invalid_token")
				wantError(t, ref, http.StatusBadRequest, "invalid_grant")
				return
			}
			if ui.status != http.StatusOK || ref.status != http.StatusOK {
				t.Errorf("a stranger's replay revoked the owner's tokens: userinfo %d, refresh %d %v", ui.status, ref.status, ref.body["error"])
			}
		})
	}
}

func TestCodeLifetime(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		ok   bool
	}{{testLife.Code - time.Second, true}, {testLife.Code + time.Second, false}} {
		t.Run(tt.wait.String(), func(t *testing.T) {
			f := newFixture(t)
			g := confGrant(f, t)
			f.clock.Advance(tt.wait)
			if a := f.exchange(t, "conf", g); tt.ok {
				tokens(t, a)
			} else {
				wantError(t, a, http.StatusBadRequest, "invalid_grant")
			}
		})
	}
}

// A code whose sign-in session ended meanwhile (logout, new password)
// gives nothing.
func TestCodeOfAnEndedSession(t *testing.T) {
	for _, ended := range []bool{false, true} {
		t.Run(map[bool]string{false: "live session", true: "ended session"}[ended], func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			sess := &store.Session{ID: store.NewID(), Subject: "jdupont", CreatedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(time.Hour)}
			if err := f.st.SaveSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			g := confGrant(f, t)
			if err := f.st.UpdateAuthRequest(ctx, g.authRequestID, func(ar *store.AuthRequest) error { ar.SessionID = sess.Ref; return nil }); err != nil {
				t.Fatal(err)
			}
			if ended {
				if err := f.st.DeleteSession(ctx, sess.ID); err != nil {
					t.Fatal(err)
				}
			}
			if a := f.exchange(t, "conf", g); ended {
				wantError(t, a, http.StatusBadRequest, "invalid_grant")
			} else {
				tokens(t, a)
			}
		})
	}
}

// Rotation: each refresh gives a new token and spends the old one; the
// old one presented again (reuse) revokes the family, but only from the
// family's own client.
func TestRefreshRotation(t *testing.T) {
	tests := []struct {
		name          string
		reuseBy       string
		familyRevoked bool
	}{
		{"reuse by the owner revokes the family", "conf", true},
		{"reuse by another client does not", "other", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			at1, r1 := tokens(t, f.exchange(t, "conf", f.code(t, "conf", confCB, testVerifier, oidc.ScopeOfflineAccess)))
			if r1 == "" {
				t.Fatal("no refresh token with offline_access")
			}
			at2, r2 := tokens(t, f.refresh(t, "conf", r1))
			if r2 == "" || r2 == r1 || at2 == at1 {
				t.Fatalf("rotation gave %q after %q", r2, r1)
			}
			wantError(t, f.refresh(t, tt.reuseBy, r1), http.StatusBadRequest, "invalid_grant")
			a := f.refresh(t, "conf", r2)
			if tt.familyRevoked {
				wantError(t, a, http.StatusBadRequest, "invalid_grant")
				wantError(t, f.userinfo(t, at2), http.StatusUnauthorized, "invalid_token")
				return
			}
			tokens(t, a)
		})
	}
}

func TestRefreshOfAnotherClient(t *testing.T) {
	f := newFixture(t)
	_, r := tokens(t, f.exchange(t, "conf", f.code(t, "conf", confCB, testVerifier, oidc.ScopeOfflineAccess)))
	for _, client := range []string{"other", "public"} {
		wantError(t, f.refresh(t, client, r), http.StatusBadRequest, "invalid_grant")
	}
	tokens(t, f.refresh(t, "conf", r))
}

func TestRefreshScopes(t *testing.T) {
	f := newFixture(t)
	_, r := tokens(t, f.exchange(t, "conf", f.code(t, "conf", confCB, testVerifier, oidc.ScopeOfflineAccess, oidc.ScopeEmail)))
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r}, "client_id": {"conf"}, "scope": {"openid profile"}}
	wantError(t, f.call(t, "/oauth/token", "conf", form, nil), http.StatusBadRequest, "invalid_scope")
	// Refused before the rotation: the token still works.
	form.Set("scope", "openid")
	a := f.call(t, "/oauth/token", "conf", form, nil)
	at, _ := tokens(t, a)
	if ui := f.userinfo(t, at); ui.status != http.StatusOK || ui.body["email"] != nil {
		t.Errorf("userinfo after narrowing to openid: %d %v", ui.status, ui.body)
	}
}

func TestLifetimes(t *testing.T) {
	tests := []struct {
		name string
		wait time.Duration
		// what still works after wait
		access, refresh bool
	}{
		{"fresh", 0, true, true},
		{"access token expired", testLife.AccessToken + time.Second, false, true},
		{"refresh token expired", testLife.RefreshToken + time.Second, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			at, rt := tokens(t, f.exchange(t, "conf", f.code(t, "conf", confCB, testVerifier, oidc.ScopeOfflineAccess)))
			if exp, _ := f.p.storage.store.AccessToken(context.Background(), f.tokenID(t, at)); exp == nil ||
				!exp.ExpiresAt.Equal(f.clock.Now().Add(testLife.AccessToken)) {
				t.Fatalf("access token record %+v", exp)
			}
			f.clock.Advance(tt.wait)
			if ui := f.userinfo(t, at); (ui.status == http.StatusOK) != tt.access {
				t.Errorf("userinfo: %d %v", ui.status, ui.body)
			}
			if a := f.refresh(t, "conf", rt); (a.status == http.StatusOK) != tt.refresh {
				t.Errorf("refresh: %d %v", a.status, a.body["error"])
			}
		})
	}
}

func (f *fixture) tokenID(t *testing.T, accessToken string) string {
	t.Helper()
	id, _, ok := f.p.tokenIDAndSubject(context.Background(), accessToken)
	if !ok {
		t.Fatalf("access token %q unreadable", accessToken)
	}
	return id
}

// A person's revocation (new password, every session ended) ends the
// tokens issued before it.
func TestRevokedSubject(t *testing.T) {
	f := newFixture(t)
	at, rt := tokens(t, f.exchange(t, "conf", f.code(t, "conf", confCB, testVerifier, oidc.ScopeOfflineAccess)))
	g := f.code(t, "conf", confCB, testVerifier, oidc.ScopeOfflineAccess) // signed in before, redeemed after
	f.clock.Advance(time.Millisecond)
	if err := f.st.RevokeSubject(context.Background(), "jdupont", ""); err != nil {
		t.Fatal(err)
	}
	wantError(t, f.refresh(t, "conf", rt), http.StatusBadRequest, "invalid_grant")
	wantError(t, f.userinfo(t, at), http.StatusUnauthorized, "invalid_token")
	// A code of a sign-in from before the revocation gives no token that
	// outlives it.
	if a := f.exchange(t, "conf", g); a.status == http.StatusOK {
		if _, rt := tokens(t, a); rt == "" || f.refresh(t, "conf", rt).status == http.StatusOK {
			t.Errorf("a code from before the revocation gave a working refresh token")
		}
	}
}

func TestUserinfo(t *testing.T) {
	f := newFixture(t)
	at, _ := tokens(t, f.exchange(t, "conf", f.code(t, "conf", confCB, testVerifier, oidc.ScopeEmail)))
	revoked, _ := tokens(t, f.exchange(t, "conf", confGrant(f, t)))
	if code := f.call(t, "/revoke", "conf", url.Values{"token": {revoked}, "token_type_hint": {"access_token"}, "client_id": {"conf"}}, nil); code.status != http.StatusOK {
		t.Fatalf("revocation: %d %v", code.status, code.body)
	}
	tests := []struct {
		name   string
		token  string
		status int
		email  any
	}{
		{"live token", at, http.StatusOK, "jean.dupont@example.org"},
		{"revoked token", revoked, http.StatusUnauthorized, nil},
		{"not a token", "not-a-token", http.StatusUnauthorized, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.userinfo(t, tt.token)
			if a.status != tt.status || a.body["email"] != tt.email {
				t.Fatalf("%d %v", a.status, a.body)
			}
			if wa := a.header.Get("WWW-Authenticate"); tt.status == http.StatusUnauthorized && !strings.Contains(wa, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q", wa)
			}
		})
	}
}

// Redis down: 503 temporarily_unavailable, never invalid_grant (the
// client would drop a good code or token) nor a 500.
func TestRedisDown(t *testing.T) {
	f := newFixture(t)
	at, rt := tokens(t, f.exchange(t, "conf", f.code(t, "conf", confCB, testVerifier, oidc.ScopeOfflineAccess)))
	g := confGrant(f, t)
	f.mr.Close()
	for name, a := range map[string]answer{
		"code":     f.exchange(t, "conf", g),
		"refresh":  f.refresh(t, "conf", rt),
		"userinfo": f.userinfo(t, at),
	} {
		t.Run(name, func(t *testing.T) { wantError(t, a, http.StatusServiceUnavailable, "temporarily_unavailable") })
	}
}

// A code exchange takes three Redis round trips: peek the code (HMGET,
// to check who presents it before spending it); spend it with, in the same
// batch, a read of its sign-in's session and of the person's last
// revocation; then index and save the access token with the code's grant.
// A code minted by the login screen (Provider.CodeURL) carries its
// completed sign-in, so no GET of its own (idp/app's TestSignInCost); this
// fixture's codes come from the library's callback and read it once.
func TestCodeExchangeRoundTrips(t *testing.T) {
	f := newFixture(t)
	tokens(t, f.exchange(t, "conf", confGrant(f, t))) // loads the signing key and the scripts
	g := confGrant(f, t)
	before := f.trips.count()
	tokens(t, f.exchange(t, "conf", g))
	trips := f.trips.since(before)
	t.Logf("a code exchange takes %d Redis round trips: %v", len(trips), trips)
	gets := 0
	for _, name := range trips {
		if name == "get" {
			gets++
		}
	}
	if len(trips) > 4 || gets > 1 {
		t.Errorf("a code exchange takes %d Redis round trips (%v), want at most 4 with one GET", len(trips), trips)
	}
}
