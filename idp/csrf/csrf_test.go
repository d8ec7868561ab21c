package csrf

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var key = []byte(strings.Repeat("k", 32))

// browser returns a request carrying the cookies that w set, as the same
// browser's next request would.
func browser(method, target string, from *httptest.ResponseRecorder) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for _, c := range from.Result().Cookies() {
		r.AddCookie(c)
	}
	return r
}

func TestTokens(t *testing.T) {
	t.Parallel()
	p := New(Config{Key: key})
	first := httptest.NewRecorder()
	token := p.Token(first, httptest.NewRequest(http.MethodGet, "/login", nil), "login:A")
	other := httptest.NewRecorder()
	otherToken := p.Token(other, httptest.NewRequest(http.MethodGet, "/login", nil), "login:A")
	tests := []struct {
		name    string
		r       *http.Request
		purpose string
		token   string
		want    bool
	}{
		{"same browser, same form", browser(http.MethodPost, "/login", first), "login:A", token, true},
		{"another pending sign-in", browser(http.MethodPost, "/login", first), "login:B", token, false},
		{"token of another browser (replayed)", browser(http.MethodPost, "/login", first), "login:A", otherToken, false},
		{"our token in another browser", browser(http.MethodPost, "/login", other), "login:A", token, false},
		{"no cookie", httptest.NewRequest(http.MethodPost, "/login", nil), "login:A", token, false},
		{"no token", browser(http.MethodPost, "/login", first), "login:A", "", false},
		{"tampered token", browser(http.MethodPost, "/login", first), "login:A", token[:len(token)-1] + "x", false},
		{"key of another deployment", browser(http.MethodPost, "/login", first), "login:A",
			New(Config{}).mac([]byte(strings.Repeat("z", 32)), first.Result().Cookies()[0].Value, "login:A"), false},
	}
	for _, tt := range tests {
		if got := p.Valid(tt.r, tt.purpose, tt.token); got != tt.want {
			t.Errorf("%s: Valid = %v, want %v", tt.name, got, tt.want)
		}
	}
	if token == otherToken {
		t.Error("two browsers got the same token")
	}
}

// The seed is set once per browser: a second form on the page, or the
// next page, reuses it instead of invalidating the first token.
func TestTokenReusesSeed(t *testing.T) {
	t.Parallel()
	p := New(Config{Key: key})
	first := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/login", nil)
	a := p.Token(first, r, "login:A")
	b := p.Token(first, r, "login:A")
	if a != b || len(first.Result().Cookies()) != 1 {
		t.Fatalf("tokens %q %q, %d cookies set", a, b, len(first.Result().Cookies()))
	}
	again := httptest.NewRecorder()
	if p.Token(again, browser(http.MethodGet, "/login", first), "login:A") != a || len(again.Result().Cookies()) != 0 {
		t.Error("the next page changed the browser's seed")
	}
}

// Flow and CSRF cookies are __Host-, Secure, HttpOnly, Path=/,
// SameSite=Strict, without Domain.
func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		secure bool
		name   string
	}{{true, "__Host-idp_csrf"}, {false, "idp_csrf"}}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		New(Config{Key: key, Secure: tt.secure}).Token(rec, httptest.NewRequest(http.MethodGet, "/login", nil), "p")
		c := rec.Result().Cookies()[0]
		if c.Name != tt.name || c.Secure != tt.secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("secure=%v: cookie %+v", tt.secure, c)
		}
		if len(c.Value) < 43 { // 32 random bytes, base64
			t.Errorf("seed %q is shorter than 256 bits", c.Value)
		}
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	p := New(Config{Key: key})
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) })
	h := p.Middleware(deny)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	tests := []struct {
		name    string
		method  string
		headers map[string]string
		want    int
	}{
		{"same-origin POST", http.MethodPost, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://idp.test"}, http.StatusNoContent},
		{"typed address (none)", http.MethodPost, map[string]string{"Sec-Fetch-Site": "none"}, http.StatusNoContent},
		{"cross-site POST", http.MethodPost, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site POST", http.MethodPost, map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"foreign Origin, no Fetch Metadata", http.MethodPost, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"same Origin, no Fetch Metadata", http.MethodPost, map[string]string{"Origin": "http://idp.test"}, http.StatusNoContent},
		{"not a browser", http.MethodPost, nil, http.StatusNoContent},
		{"cross-site GET is safe", http.MethodGet, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusNoContent},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "http://idp.test/login", nil)
		for k, v := range tt.headers {
			r.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, rec.Code, tt.want)
		}
	}
}

// TestKeyRotation: a token made before a cookie key rotation stays valid
// while the replaced key is kept among the previous ones, and not after;
// new tokens are made with the current key.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	newKey := []byte(strings.Repeat("n", 32))
	before := New(Config{Key: key})
	during := New(Config{Key: newKey, PreviousKeys: [][]byte{key}})
	after := New(Config{Key: newKey})
	w := httptest.NewRecorder()
	old := before.Token(w, httptest.NewRequest(http.MethodGet, "/login", nil), "login:A")
	fresh := during.Token(w, browser(http.MethodGet, "/login", w), "login:A")
	for _, tt := range []struct {
		name  string
		p     *Protector
		token string
		want  bool
	}{
		{"old token, previous key kept", during, old, true},
		{"new token, previous key kept", during, fresh, true},
		{"new token, previous key dropped", after, fresh, true},
		{"old token, previous key dropped", after, old, false},
		{"new token, before the rotation", before, fresh, false},
	} {
		if got := tt.p.Valid(browser(http.MethodPost, "/login", w), "login:A", tt.token); got != tt.want {
			t.Errorf("%s: Valid = %v, want %v", tt.name, got, tt.want)
		}
	}
}
