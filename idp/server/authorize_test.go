package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/binding"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// newProvider is a provider for clients on miniredis.
func newProvider(t *testing.T, clients ...provider.Client) *provider.Provider {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	p, err := provider.New(provider.Config{
		Issuer: "https://idp.example.org", LoginPath: "/login", SigningAlgorithm: "ES256", Clients: clients,
		Lifetimes: provider.Lifetimes{AuthRequest: time.Minute, Code: time.Minute, AccessToken: time.Minute, IDToken: time.Minute, RefreshToken: time.Hour},
		Now:       time.Now,
	}, store.New(store.Options{Client: rdb, Now: time.Now}))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The guard lets a native app's loopback redirect URI through on any
// port, and nothing else that is not registered.
func TestGuardAuthorizeLoopbackPorts(t *testing.T) {
	t.Parallel()
	p := newProvider(t,
		provider.Client{ID: "app", Public: true, RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback", "http://localhost/callback"}},
		provider.Client{ID: "web", SecretSHA256: make([]byte, 32), RedirectURIs: []string{"https://rp.example.org/cb", "http://127.0.0.1/callback"}},
	)
	pages := &web.Pages{Log: slog.New(slog.DiscardHandler)}
	tests := []struct {
		client, redirect string
		passes           bool
	}{
		{"app", "http://127.0.0.1/callback", true},
		{"app", "http://127.0.0.1:51004/callback", true},
		{"app", "http://[::1]:51004/callback", true},
		{"app", "http://localhost/callback", true},
		{"app", "http://localhost:51004/callback", false},
		{"app", "http://127.0.0.1:51004/callback/", false},
		{"app", "http://127.0.0.1:51004/callback?x=1", false},
		{"app", "http://127.0.0.2:51004/callback", false},
		{"web", "https://rp.example.org/cb", true},
		{"web", "https://rp.example.org:444/cb", false},
		{"web", "http://127.0.0.1:51004/callback", false},
	}
	for _, tt := range tests {
		t.Run(tt.client+" "+tt.redirect, func(t *testing.T) {
			t.Parallel()
			reached := false
			h := guardAuthorize(p, pages, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			q := url.Values{"client_id": {tt.client}, "redirect_uri": {tt.redirect}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
			if reached != tt.passes {
				t.Errorf("reached the library: %v, want %v (status %d, Location %q)", reached, tt.passes, rec.Code, rec.Header().Get("Location"))
			}
			if !tt.passes && (rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "") {
				t.Errorf("refused with %d, Location %q; want the French page (400), never a redirect", rec.Code, rec.Header().Get("Location"))
			}
		})
	}
}

// The login screen is served in the answer to the authorization request
// once the library stored the sign-in; every other answer of the library
// (here, a public client without PKCE, sent back to the site with its
// error) passes untouched, and the screen is never shown for it.
func TestScreenAtAuthorize(t *testing.T) {
	t.Parallel()
	p := newProvider(t, provider.Client{ID: "app", Public: true, RedirectURIs: []string{"https://rp.example.org/cb"}})
	tests := []struct {
		name      string
		pkce      bool
		wantShown bool
	}{
		{"stored", true, true},
		{"refused by the library", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var shown *store.AuthRequest
			screen := func(w http.ResponseWriter, r *http.Request, ar *store.AuthRequest) {
				shown = ar
				w.WriteHeader(http.StatusTeapot)
				_, _ = w.Write([]byte("screen"))
			}
			h := binding.Cookie{}.Middleware(screenAtAuthorize(screen, p.Handler()))
			q := url.Values{"client_id": {"app"}, "redirect_uri": {"https://rp.example.org/cb"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
			if tt.pkce {
				q.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
				q.Set("code_challenge_method", "S256")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://idp.example.org/authorize?"+q.Encode(), nil))
			if (shown != nil) != tt.wantShown {
				t.Fatalf("screen shown: %v, want %v (status %d, Location %q)", shown != nil, tt.wantShown, rec.Code, rec.Header().Get("Location"))
			}
			if !tt.wantShown {
				if loc := rec.Header().Get("Location"); rec.Code != http.StatusFound || !strings.HasPrefix(loc, "https://rp.example.org/cb?") || !strings.Contains(loc, "error=") {
					t.Errorf("library's answer changed: %d, Location %q", rec.Code, loc)
				}
				return
			}
			if rec.Code != http.StatusTeapot || rec.Body.String() != "screen" || rec.Header().Get("Location") != "" {
				t.Errorf("answer %d %q, Location %q; want only the screen's", rec.Code, rec.Body.String(), rec.Header().Get("Location"))
			}
			// The screen got the very sign-in that was stored, bound to the
			// browser the cookie was just given to.
			stored, err := p.AuthRequest(context.Background(), shown.ID)
			if err != nil || stored.BrowserHash != shown.BrowserHash || shown.BrowserHash == "" {
				t.Errorf("stored %+v, %v; shown %+v", stored, err, shown)
			}
		})
	}
}
