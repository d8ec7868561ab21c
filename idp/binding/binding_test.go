package binding

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// through runs Middleware on r and returns the value the handler saw and
// the cookie set, if any.
func through(c Cookie, r *http.Request) (string, *http.Cookie) {
	var seen string
	rec := httptest.NewRecorder()
	c.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		seen, _ = FromContext(r.Context())
	})).ServeHTTP(rec, r)
	cs := rec.Result().Cookies()
	if len(cs) == 0 {
		return seen, nil
	}
	return seen, cs[0]
}

func TestMiddleware(t *testing.T) {
	for _, secure := range []bool{false, true} {
		c := Cookie{Secure: secure}
		v, set := through(c, httptest.NewRequest(http.MethodGet, "/authorize", nil))
		if set == nil || set.Value != v || len(v) != valueLen {
			t.Fatalf("secure=%v: first visit: value %q, cookie %v", secure, v, set)
		}
		if !set.HttpOnly || set.Path != "/" || set.SameSite != http.SameSiteLaxMode || set.Secure != secure ||
			strings.HasPrefix(set.Name, "__Host-") != secure {
			t.Errorf("secure=%v: cookie attributes %+v", secure, set)
		}

		again := httptest.NewRequest(http.MethodGet, "/authorize", nil)
		again.AddCookie(&http.Cookie{Name: c.Name(), Value: v})
		if v2, set2 := through(c, again); v2 != v || set2 != nil {
			t.Errorf("secure=%v: a second tab got %q (cookie %v), want the same value and no new cookie", secure, v2, set2)
		}
		if !c.Matches(again, Hash(v)) {
			t.Errorf("secure=%v: the browser does not match its own hash", secure)
		}
	}
}

func TestMatches(t *testing.T) {
	c := Cookie{}
	good := strings.Repeat("A", valueLen)
	cases := []struct {
		name, cookie, hash string
		want               bool
	}{
		{"its own value", good, Hash(good), true},
		{"no cookie", "", Hash(good), false},
		{"another value", strings.Repeat("B", valueLen), Hash(good), false},
		{"a request bound to nothing", good, "", false},
		{"malformed value", "short", Hash("short"), false},
		{"not base64url", strings.Repeat("!", valueLen), Hash(strings.Repeat("!", valueLen)), false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, "/login", nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: c.Name(), Value: tc.cookie})
		}
		if got := c.Matches(r, tc.hash); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}
