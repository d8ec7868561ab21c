package server

import (
	"encoding/base32"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/a-h/templ"
)

var nonceInCSP = regexp.MustCompile(`script-src 'nonce-([^']+)'`)

// TestSecurityHeaders checks the security headers one by one, for each kind of
// path, over https and http issuers.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	uris := []string{"https://rp.example.org/cb", "http://127.0.0.2:8081/callback"}
	tests := []struct {
		path      string
		issuer    string
		hsts      bool
		referrer  string
		cacheable bool
	}{
		{"/login", "https://idp.example.org", true, "strict-origin-when-cross-origin", false},
		{"/login", "http://127.0.0.1:8080", false, "strict-origin-when-cross-origin", false},
		{"/mot-de-passe-perdu", "https://idp.example.org", true, "no-referrer", false},
		{"/mot-de-passe-perdu/code", "https://idp.example.org", true, "no-referrer", false},
		{"/mot-de-passe-perdu-ailleurs", "https://idp.example.org", true, "strict-origin-when-cross-origin", false},
		{"/oauth/token", "https://idp.example.org", true, "strict-origin-when-cross-origin", false},
		{"/no/such/page", "https://idp.example.org", true, "strict-origin-when-cross-origin", false},
		{"/static/style.css", "https://idp.example.org", true, "strict-origin-when-cross-origin", true},
		{"/keys", "https://idp.example.org", true, "strict-origin-when-cross-origin", true},
		{"/.well-known/openid-configuration", "https://idp.example.org", true, "strict-origin-when-cross-origin", true},
	}
	for _, tt := range tests {
		t.Run(tt.issuer+tt.path, func(t *testing.T) {
			t.Parallel()
			var seen string
			h := securityHeaders(newHeaderPolicy(tt.issuer, uris, nil), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = templ.GetNonce(r.Context())
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			got := rec.Result().Header

			csp := got.Get("Content-Security-Policy")
			for _, d := range []string{
				"default-src 'none'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'",
				"form-action 'self' http://127.0.0.2:8081 https://rp.example.org;",
			} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP lacks %q: %s", d, csp)
				}
			}
			m := nonceInCSP.FindStringSubmatch(csp)
			if m == nil || m[1] != seen {
				t.Fatalf("CSP nonce %v, handler saw %q", m, seen)
			}
			if raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(seen); err != nil || len(raw)*8 < 128 {
				t.Errorf("nonce %q: %d bits (%v), want at least 128", seen, len(raw)*8, err)
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, " http: ") || strings.Contains(csp, "https:;") {
				t.Errorf("CSP allows more than it should: %s", csp)
			}
			want := map[string]string{
				"X-Content-Type-Options":     "nosniff",
				"Referrer-Policy":            tt.referrer,
				"Cross-Origin-Opener-Policy": "same-origin",
			}
			for k, v := range want {
				if got.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, got.Get(k), v)
				}
			}
			if hsts := got.Get("Strict-Transport-Security"); tt.hsts != (hsts != "") {
				t.Errorf("Strict-Transport-Security = %q with issuer %s", hsts, tt.issuer)
			} else if tt.hsts && (!strings.Contains(hsts, "includeSubDomains") || !strings.HasPrefix(hsts, "max-age=63072000")) {
				t.Errorf("Strict-Transport-Security = %q, want max-age ≥ 1 year and includeSubDomains", hsts)
			}
			if cc := got.Get("Cache-Control"); tt.cacheable == (cc == "no-store") {
				t.Errorf("Cache-Control = %q for %s", cc, tt.path)
			}
		})
	}
}

// A nonce is worth something only if it changes with every response.
func TestNonceChangesPerResponse(t *testing.T) {
	t.Parallel()
	h := securityHeaders(newHeaderPolicy("https://idp.example.org", nil, nil), http.NotFoundHandler())
	seen := map[string]bool{}
	for range 50 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
		n := nonceInCSP.FindStringSubmatch(rec.Header().Get("Content-Security-Policy"))[1]
		if seen[n] {
			t.Fatalf("nonce %q given twice", n)
		}
		seen[n] = true
	}
}

func TestFormActionSources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		uris []string
		want []string
	}{
		{"none", nil, nil},
		{"origin only, sorted, deduplicated",
			[]string{"https://b.example.org/cb", "https://a.example.org/x?y=1", "https://b.example.org/other"},
			[]string{"https://a.example.org", "https://b.example.org"}},
		{"port kept, case folded", []string{"HTTPS://RP.Example.org:8443/cb"}, []string{"https://rp.example.org:8443"}},
		{"loopback with port", []string{"http://127.0.0.1:3000/cb", "http://localhost/cb"}, []string{"http://127.0.0.1:3000", "http://localhost"}},
		{"loopback without port: any port", []string{"http://127.0.0.1/cb", "http://127.0.0.2:8080/cb", "http://localhost/cb"}, []string{"http://127.0.0.1:*", "http://127.0.0.2:8080", "http://localhost"}},
		// CSP cannot name an IPv6 host: only the scheme can let it through.
		{"ipv6 loopback", []string{"http://[::1]:3000/cb"}, []string{"http:"}},
		{"private-use scheme", []string{"com.example.app:/cb"}, []string{"com.example.app:"}},
		{"unusable entries skipped", []string{"", "/relative", "%zz"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := formActionSources(tt.uris); !slices.Equal(got, tt.want) {
				t.Errorf("formActionSources(%q) = %q, want %q", tt.uris, got, tt.want)
			}
		})
	}
}

// TestFormActionTargets: the configured pages elsewhere that a form leads
// to (a profile's reset page, the support site) join the form-action by
// origin, and nothing else does.
func TestFormActionTargets(t *testing.T) {
	t.Parallel()
	const issuer = "https://idp.example.org"
	uris := []string{"https://rp.example.org/cb"}
	tests := []struct {
		name    string
		targets []string
		want    string
	}{
		{"none", nil, "'self' https://rp.example.org"},
		{"profiles and support, by origin, sorted",
			[]string{"https://elus.example.org/mot-de-passe-perdu?x=1", "https://agents.example.org:8443/mdp", "https://support.example.net/"},
			"'self' https://agents.example.org:8443 https://elus.example.org https://rp.example.org https://support.example.net"},
		{"the provider's own support page is 'self'", []string{issuer + "/support"}, "'self' https://rp.example.org"},
		{"a client's origin once", []string{"https://rp.example.org/aide"}, "'self' https://rp.example.org"},
		{"duplicates once", []string{"https://elus.example.org/a", "https://ELUS.example.org/b"}, "'self' https://elus.example.org https://rp.example.org"},
		{"never a whole scheme", []string{"https://[2001:db8::1]/mdp", "com.example.app:/x", "", "/relative"}, "'self' https://rp.example.org"},
		{"nothing that breaks the policy", []string{"https://a.example.org;script-src/x"}, "'self' https://rp.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			csp := newHeaderPolicy(issuer, uris, tt.targets).csp("n")
			if want := "; form-action " + tt.want + ";"; !strings.Contains(csp, want) {
				t.Errorf("CSP %s\nlacks %q", csp, want)
			}
		})
	}
}
