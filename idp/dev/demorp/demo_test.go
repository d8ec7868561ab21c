package demorp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestClaimText(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"exp", 1.796407849e+09, "4\u00a0décembre\u00a02026 à 19:10:49 (heure de Paris)"},
		{"iat", float64(1780272000), "1er\u00a0juin\u00a02026 à 02:00:00 (heure de Paris)"},
		{"auth_time", float64(1772440200), "2\u00a0mars\u00a02026 à 09:30:00 (heure de Paris)"},
		{"count", 1.796407849e+09, "1796407849"},
		{"email_verified", true, "oui"},
		{"amr", []any{"pwd"}, `["pwd"]`},
		{"sub", "4f1c", "4f1c"},
	} {
		if got := claimText(tc.name, tc.v, paris); got != tc.want {
			t.Errorf("claimText(%s, %v) = %q, want %q", tc.name, tc.v, got, tc.want)
		}
	}
}

// TestLogout: « Se déconnecter » forgets the sign-in here and goes
// through the provider's end_session_endpoint with the ID token as hint,
// back to the site's home page.
func TestLogout(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": srv.URL, "jwks_uri": srv.URL + "/keys", "authorization_endpoint": srv.URL + "/authorize",
			"token_endpoint": srv.URL + "/token", "end_session_endpoint": srv.URL + "/end_session",
		})
	})
	rp := New(Config{Issuer: srv.URL, ClientID: "demo", BaseURL: "http://localhost:8080/demo"})
	rp.results["b1"] = &Result{RawIDToken: "the.id.token", Claims: map[string]any{"sub": "x", "exp": 1.796407849e+09}}

	get := func(path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "http://localhost:8080"+path, nil)
		r.AddCookie(&http.Cookie{Name: "demorp", Value: "b1"})
		w := httptest.NewRecorder()
		rp.ServeHTTP(w, r)
		return w
	}
	home := get("/demo/").Body.String()
	if !strings.Contains(home, `href="/demo/logout"`) || !strings.Contains(home, "Se déconnecter") {
		t.Fatalf("no « Se déconnecter » once signed in:\n%s", home)
	}
	if strings.Contains(home, "e+09") || !strings.Contains(home, "décembre\u00a02026") {
		t.Errorf("exp is not a French date:\n%s", home)
	}
	w := get("/demo/logout")
	loc, err := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || err != nil {
		t.Fatalf("%d to %q", w.Code, w.Header().Get("Location"))
	}
	q := loc.Query()
	if loc.Scheme+"://"+loc.Host+loc.Path != srv.URL+"/end_session" || q.Get("id_token_hint") != "the.id.token" ||
		q.Get("post_logout_redirect_uri") != "http://localhost:8080/demo/" || q.Get("client_id") != "demo" {
		t.Errorf("logout goes to %s", loc)
	}
	if rp.results["b1"] != nil {
		t.Error("the site still holds the sign-in")
	}
	if home := get("/demo/").Body.String(); strings.Contains(home, "Se déconnecter") {
		t.Error("« Se déconnecter » after logging out")
	}
}
