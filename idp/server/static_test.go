package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// TestStaticThroughMiddleware: behind the security headers, which make
// every other answer no-store, assets keep their long caching, and
// /favicon.ico is answered rather than 404.
func TestStaticThroughMiddleware(t *testing.T) {
	t.Parallel()
	assets := newAssets(t)
	h := staticHandler(assets)
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

// TestStaticErrorsInFrench: a missing asset or a range beyond the end
// gets the French error page, never net/http's English plain text, with
// the configured assets and with the embedded files as they are.
func TestStaticErrorsInFrench(t *testing.T) {
	t.Parallel()
	assets := newAssets(t)
	withAssets, embedded := staticHandler(assets), staticHandler(nil)
	tests := []struct {
		name, path, rangeHeader string
		h                       http.Handler
		status                  int
		says                    string
	}{
		{"unknown asset", "/static/nope.css", "", withAssets, http.StatusNotFound, "Page introuvable"},
		{"the folder", "/static/", "", withAssets, http.StatusNotFound, "Page introuvable"},
		{"a sub-folder", "/static/static/style.css", "", withAssets, http.StatusNotFound, "Page introuvable"},
		{"favicon, range past the end", "/favicon.ico", "bytes=999999-", withAssets, http.StatusRequestedRangeNotSatisfiable, "Demande incorrecte"},
		{"asset, range past the end", "/static/style.css", "bytes=999999-", withAssets, http.StatusRequestedRangeNotSatisfiable, "Demande incorrecte"},
		{"embedded: unknown asset", "/static/nope.css", "", embedded, http.StatusNotFound, "Page introuvable"},
		{"embedded: favicon", "/favicon.ico", "", embedded, http.StatusNotFound, "Page introuvable"},
		{"embedded: range past the end", "/static/style.css", "bytes=999999-", embedded, http.StatusRequestedRangeNotSatisfiable, "Demande incorrecte"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.rangeHeader != "" {
				req.Header.Set("Range", tc.rangeHeader)
			}
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tc.status || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" ||
				!strings.Contains(body, `lang="fr"`) || !strings.Contains(body, tc.says) {
				t.Errorf("GET %s: %d %q, want %d, the French page saying %q:\n%.300s",
					tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.status, tc.says, body)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("GET %s: Cache-Control %q, want no-store", tc.path, cc)
			}
		})
	}
}

func newAssets(t *testing.T) *views.Assets {
	t.Helper()
	assets, err := views.NewAssets(views.AssetsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return assets
}

// staticHandler is the reset-only mode's handler with static as its
// assets (nil: the embedded files as they are), behind the middleware.
func staticHandler(static http.Handler) http.Handler {
	pages := &web.Pages{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	none := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	return NewResetOnly(ResetOnlyConfig{
		Issuer: "https://idp.example.org", LostPassword: none, Landing: none, Pages: pages,
		CrossOrigin: func(h http.Handler) http.Handler { return h },
		Ready:       func(context.Context) error { return nil }, Log: pages.Log, Static: static,
	})
}
