package views

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Static holds the stylesheet and other files served under /static/.
// Keeping CSS out of the pages lets the CSP forbid inline styles.
//
//go:embed static
var Static embed.FS

// StaticPrefix is where the assets are served.
const StaticPrefix = "/static/"

// Cache lifetimes: a name with the content's hash never changes, so a
// browser keeps it for a year; a plain name (older pages, /favicon.ico)
// is checked again after a day at most.
const (
	immutableCache = "public, max-age=31536000, immutable"
	plainCache     = "public, max-age=86400"
)

// AssetsConfig is what the assets are made of beyond the embedded files.
type AssetsConfig struct {
	// PrimaryColor and FocusColor ("#rrggbb") make theme.css; empty keeps
	// the stylesheet's own colours.
	PrimaryColor, FocusColor string
	// Logo replaces the built-in logo.svg; LogoType is its Content-Type
	// (image/svg+xml or image/png).
	Logo     []byte
	LogoType string
}

// AssetURLs are the addresses pages link to.
type AssetURLs struct {
	Style, Theme, Logo, Favicon, PasswordJS, WaitingJS string
}

// Assets serves the static files, each under its plain name and under a
// name carrying a hash of its content, which pages link to so that a
// new release is never hidden by a cached copy.
type Assets struct {
	files map[string]asset // by the name after StaticPrefix, plain and hashed
	urls  AssetURLs
}

type asset struct {
	data        []byte
	contentType string
	cache       string
	etag        string
}

// NewAssets reads the embedded files and adds the theme and the logo.
func NewAssets(cfg AssetsConfig) (*Assets, error) {
	a := &Assets{files: map[string]asset{}}
	entries, err := fs.ReadDir(Static, "static")
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	hashed := map[string]string{}
	for _, e := range entries {
		data, err := fs.ReadFile(Static, "static/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("static files: %w", err)
		}
		if e.Name() == "logo.svg" && len(cfg.Logo) > 0 {
			continue
		}
		hashed[e.Name()] = a.add(e.Name(), data, "")
	}
	if len(cfg.Logo) > 0 {
		name := "logo.svg"
		if cfg.LogoType == "image/png" {
			name = "logo.png"
		}
		hashed["logo.svg"] = a.add(name, cfg.Logo, cfg.LogoType)
	}
	hashed["theme.css"] = a.add("theme.css", themeCSS(cfg.PrimaryColor, cfg.FocusColor), "")
	a.urls = AssetURLs{
		Style: hashed["style.css"], Theme: hashed["theme.css"], Logo: hashed["logo.svg"],
		Favicon: hashed["favicon.svg"], PasswordJS: hashed["password.js"], WaitingJS: hashed["waiting.js"],
	}
	return a, nil
}

// add keeps data under name and under its hashed name, and returns the
// hashed name's URL.
func (a *Assets) add(name string, data []byte, contentType string) string {
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:6])
	if contentType == "" {
		contentType = contentTypeOf(path.Ext(name))
	}
	etag := `"` + h + `"`
	a.files[name] = asset{data: data, contentType: contentType, cache: plainCache, etag: etag}
	ext := path.Ext(name)
	hashedName := strings.TrimSuffix(name, ext) + "." + h + ext
	a.files[hashedName] = asset{data: data, contentType: contentType, cache: immutableCache, etag: etag}
	return StaticPrefix + hashedName
}

// contentType names the type of an embedded file by its extension,
// rather than the system's MIME table, which varies.
func contentTypeOf(ext string) string {
	switch ext {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	}
	return "application/octet-stream"
}

// URLs are the hashed addresses of the assets.
func (a *Assets) URLs() AssetURLs { return a.urls }

// ServeHTTP answers StaticPrefix + a name, and /favicon.ico (which
// browsers ask for on their own).
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, StaticPrefix)
	if r.URL.Path == "/favicon.ico" {
		name = "favicon.ico"
	}
	f, ok := a.files[name]
	if !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", f.cache)
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}

// themeCSS sets the colours the configuration chose; the values were
// checked as "#rrggbb" when the configuration was loaded, and anything
// else is left out rather than written into a stylesheet.
func themeCSS(primary, focus string) []byte {
	var b strings.Builder
	b.WriteString("/* Colours from the configuration (branding.primary_color). */\n:root {")
	if isHexColor(primary) {
		fmt.Fprintf(&b, " --primary: %s;", primary)
	}
	if isHexColor(focus) {
		fmt.Fprintf(&b, " --focus: %s;", focus)
	}
	b.WriteString(" }\n")
	return []byte(b.String())
}

func isHexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, c := range s[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
