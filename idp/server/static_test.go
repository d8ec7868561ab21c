package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// TestStaticThroughMiddleware: behind the security headers, which make
// every other answer no-store, assets keep their long caching, and
// /favicon.ico is answered rather than 404.
func TestStaticThroughMiddleware(t *testing.T) {
	t.Parallel()
	assets, err := views.NewAssets(views.AssetsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	pages := &web.Pages{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	none := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := NewResetOnly(ResetOnlyConfig{
		Issuer: "https://idp.example.org", LostPassword: none, Landing: none, Pages: pages,
		CrossOrigin: func(h http.Handler) http.Handler { return h },
		Ready:       func(context.Context) error { return nil }, Log: pages.Log, Static: assets,
	})
	for _, tc := range []struct{ path, cache, contentType string }{
		{assets.URLs().Style, "public, max-age=31536000, immutable", "text/css; charset=utf-8"},
		{assets.URLs().Logo, "public, max-age=31536000, immutable", "image/svg+xml"},
		{"/static/style.css", "public, max-age=86400", "text/css; charset=utf-8"},
		{"/favicon.ico", "public, max-age=86400", "image/x-icon"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != tc.cache || rec.Header().Get("Content-Type") != tc.contentType {
			t.Errorf("GET %s: %d, Cache-Control %q, Content-Type %q; want 200, %q, %q",
				tc.path, rec.Code, rec.Header().Get("Cache-Control"), rec.Header().Get("Content-Type"), tc.cache, tc.contentType)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: security headers missing", tc.path)
		}
	}
}
