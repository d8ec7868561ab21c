package views

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAssets: every asset is served under its hashed name for a year,
// under its plain name for a day, with its own Content-Type; the theme
// carries the configured colours and a configured logo replaces ours.
func TestAssets(t *testing.T) {
	t.Parallel()
	a, err := NewAssets(AssetsConfig{PrimaryColor: "#000091", FocusColor: "#e86200"})
	if err != nil {
		t.Fatal(err)
	}
	u := a.URLs()
	get := func(path string, header ...string) *http.Response {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		return rec.Result()
	}
	for _, tc := range []struct{ url, plain, contentType string }{
		{u.Style, "/static/style.css", "text/css; charset=utf-8"},
		{u.Theme, "/static/theme.css", "text/css; charset=utf-8"},
		{u.Logo, "/static/logo.svg", "image/svg+xml"},
		{u.Favicon, "/static/favicon.svg", "image/svg+xml"},
		{u.PasswordJS, "/static/password.js", "text/javascript; charset=utf-8"},
		{u.WaitingJS, "/static/waiting.js", "text/javascript; charset=utf-8"},
		{"", "/favicon.ico", "image/x-icon"},
	} {
		if tc.url != "" {
			if tc.url == tc.plain || !strings.HasPrefix(tc.url, StaticPrefix) {
				t.Errorf("%s is served as %q, want a hashed name", tc.plain, tc.url)
			}
			r := get(tc.url)
			if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || r.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("GET %s: %d, Cache-Control %q, Content-Type %q; want 200, a year, immutable, %s",
					tc.url, r.StatusCode, r.Header.Get("Cache-Control"), r.Header.Get("Content-Type"), tc.contentType)
			}
			if etag := r.Header.Get("ETag"); etag == "" || get(tc.url, "If-None-Match", etag).StatusCode != http.StatusNotModified {
				t.Errorf("GET %s: ETag %q does not revalidate", tc.url, etag)
			}
		}
		r := get(tc.plain)
		if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "public, max-age=86400" || r.Header.Get("Content-Type") != tc.contentType {
			t.Errorf("GET %s: %d, Cache-Control %q, Content-Type %q", tc.plain, r.StatusCode, r.Header.Get("Cache-Control"), r.Header.Get("Content-Type"))
		}
	}
	theme := httptest.NewRecorder()
	a.ServeHTTP(theme, httptest.NewRequest(http.MethodGet, u.Theme, nil))
	if body := theme.Body.String(); !strings.Contains(body, "--primary: #000091;") || !strings.Contains(body, "--focus: #e86200;") {
		t.Errorf("theme.css %q lacks the configured colours", body)
	}
	for _, path := range []string{"/static/nothing.css", "/static/", "/static/style.000000000000.css", "/static/static/style.css"} {
		if r := get(path); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.StatusCode)
		}
	}
}

// TestAssetsLogo: a configured PNG logo takes the built-in one's place,
// and a new content is a new address.
func TestAssetsLogo(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\nlogo")
	a, err := NewAssets(AssetsConfig{Logo: png, LogoType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	def, err := NewAssets(AssetsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if a.URLs().Logo == def.URLs().Logo || !strings.HasSuffix(a.URLs().Logo, ".png") {
		t.Errorf("logo at %q, the built-in one at %q", a.URLs().Logo, def.URLs().Logo)
	}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, a.URLs().Logo, nil))
	if rec.Code != 200 || rec.Body.String() != string(png) || rec.Header().Get("Content-Type") != "image/png" {
		t.Errorf("logo: %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	if strings.Contains(string(themeCSS("red;} body{display:none", "")), "red") {
		t.Error("theme.css took a value that is not a colour")
	}
}
