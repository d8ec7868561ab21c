package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// The guard lets a native app's loopback redirect URI through on any
// port, and nothing else that is not registered.
func TestGuardAuthorizeLoopbackPorts(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	p, err := provider.New(provider.Config{
		Issuer: "https://idp.example.org", LoginPath: "/login", SigningAlgorithm: "ES256",
		Clients: []provider.Client{
			{ID: "app", Public: true, RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback", "http://localhost/callback"}},
			{ID: "web", SecretSHA256: make([]byte, 32), RedirectURIs: []string{"https://rp.example.org/cb", "http://127.0.0.1/callback"}},
		},
		Lifetimes: provider.Lifetimes{AuthRequest: time.Minute, Code: time.Minute, AccessToken: time.Minute, IDToken: time.Minute, RefreshToken: time.Hour},
		Now:       time.Now,
	}, store.New(store.Options{Client: rdb, Now: time.Now}))
	if err != nil {
		t.Fatal(err)
	}
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
