package server

import (
	"crypto/rand"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/a-h/templ"
)

// hstsValue is sent only when the issuer is https: two years, the value
// browsers' preload lists expect, and at least one year.
const hstsValue = "max-age=63072000; includeSubDomains"

// headerPolicy is what the security headers of every response depend on
// .
type headerPolicy struct {
	hsts bool
	// formAction is the CSP form-action source list.
	formAction string
}

// newHeaderPolicy: the form-action lets a form's redirect chain end at a
// client's redirect URI or at one of targets, the configured addresses
// elsewhere that our forms lead to (a profile's page at another provider,
// the support site). Only their origins are listed, and the issuer's own
// is 'self' already.
func newHeaderPolicy(issuer string, redirectURIs, targets []string) headerPolicy {
	sources := formActionSources(redirectURIs)
	self := formActionSources([]string{issuer})
	for _, src := range formActionSources(targets) {
		// A target is a web page: a scheme alone (an IPv6 host) would
		// allow every site of that scheme.
		if strings.Contains(src, "://") && !slices.Contains(self, src) && !slices.Contains(sources, src) {
			sources = append(sources, src)
		}
	}
	slices.Sort(sources)
	return headerPolicy{
		hsts:       strings.HasPrefix(issuer, "https://"),
		formAction: strings.Join(append([]string{"'self'"}, sources...), " "),
	}
}

// csp is the Content-Security-Policy of a response whose nonce is nonce.
// Nothing is allowed by default; our pages load only their stylesheets,
// images and scripts from /static/. Any inline <script> or <style> ever added must carry
// nonce={ templ.GetNonce(ctx) }.
func (p headerPolicy) csp(nonce string) string {
	n := "'nonce-" + nonce + "'"
	// connect-src 'self': the waiting screen asks for the change's status.
	return "default-src 'none'; script-src " + n + "; style-src 'self' " + n + "; img-src 'self'; connect-src 'self'" +
		"; form-action " + p.formAction +
		"; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
}

// formActionSources turns the registered redirect URIs into CSP sources.
// Chromium applies form-action to every redirect that follows a form
// submission, so after the login POST the chain 303 → /authorize/callback
// → 302 → the client's redirect URI must stay allowed; listing the
// registered origins keeps that working without allowing any site.
func formActionSources(uris []string) []string {
	var out []string
	for _, raw := range uris {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" {
			continue
		}
		scheme := strings.ToLower(u.Scheme)
		var src string
		switch host := u.Hostname(); {
		case u.Host == "":
			// A native app's private-use scheme (com.example.app:/cb).
			src = scheme + ":"
		case strings.Contains(host, ":"):
			// CSP host sources cannot name an IPv6 literal (http://[::1]);
			// only the scheme can express it. Rare: native apps on ::1.
			src = scheme + ":"
		case scheme == "http" && u.Port() == "" && net.ParseIP(host).IsLoopback():
			// A native app's loopback redirect URI, registered without
			// a port, matches any port (provider.Client.RedirectURIAllowed).
			src = scheme + "://" + host + ":*"
		default:
			src = scheme + "://" + strings.ToLower(u.Host)
		}
		if src != "" && cspSafe(src) && !slices.Contains(out, src) {
			out = append(out, src)
		}
	}
	slices.Sort(out)
	return out
}

// cspSafe refuses anything that could end a source list or a directive;
// configuration validation should already have refused such URIs.
func cspSafe(s string) bool {
	return !strings.ContainsAny(s, " \t\r\n;,'\"")
}

// securityHeaders sets the security headers on every response, and
// gives each response its own CSP nonce, which templ reads from the
// request context (templ.GetNonce).
func securityHeaders(p headerPolicy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// rand.Text: 26 base32 characters, 130 bits from crypto/rand.
		nonce := rand.Text()
		h := w.Header()
		h.Set("Content-Security-Policy", p.csp(nonce))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", referrerPolicy(r.URL.Path))
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if p.hsts {
			h.Set("Strict-Transport-Security", hstsValue)
		}
		// Pages, tokens and userinfo are personal: never stored by a cache
		// (RFC 6749 §5.1). Only public, unchanging documents may be.
		if !cacheable(r.URL.Path) {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r.WithContext(templ.WithNonce(r.Context(), nonce)))
	})
}

// referrerPolicy: the lost-password pages will carry one-time tokens in
// their URLs, which must never leak to another site, not even as an
// origin.
func referrerPolicy(path string) string {
	if path == LostPasswordPath || strings.HasPrefix(path, LostPasswordPath+"/") {
		return "no-referrer"
	}
	return "strict-origin-when-cross-origin"
}

func cacheable(path string) bool {
	return strings.HasPrefix(path, "/static/") || path == FaviconPath || path == "/keys" || path == "/.well-known/openid-configuration"
}
