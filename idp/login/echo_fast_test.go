package login_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

var loginValue = regexp.MustCompile(`name="login"[^>]*value="([^"]*)"`)

// TestLoginEchoesOnlyCleanText: the site's login_hint and the identifier
// typed before a failure come back into the form only as well-formed text;
// broken UTF-8, control and bidi characters leave the field empty, and the
// page stays valid UTF-8.
func TestLoginEchoesOnlyCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value string
		echoed      bool
	}{
		{"plain", "jdupont", true},
		{"accents", "élodie.martin@exemple.fr", true},
		{"review's case", "jdupont\xff\xfe\x00\x1b[31m", false},
		{"not UTF-8", "jdupont\xff\xfe", false},
		{"NUL", "jdupont\x00", false},
		{"escape sequence", "jdupont\x1b[31m", false},
		{"tab", "jdupont\t", false},
		{"C1 control", "jdupont\u0085", false},
		{"bidi override", "a\u202eb@example.org", false},
		{"zero-width space", "jd\u200bupont", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSigninEnv(t, true)
			now := e.clock.Now()
			ar := &store.AuthRequest{
				ID: store.NewID(), ClientID: "demo", Prompt: []string{oidc.PromptLogin}, LoginHint: tc.value,
				CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
			}
			if err := e.st.SaveAuthRequest(t.Context(), ar); err != nil {
				t.Fatal(err)
			}
			hinted := e.visitor().Get("/login?" + url.Values{"authRequestID": {ar.ID}}.Encode())
			// The answer to /authorize shows the sign-in as the library
			// parsed it, before the store's JSON replaced invalid UTF-8.
			rec := httptest.NewRecorder()
			e.h.Screen(rec, httptest.NewRequest(http.MethodGet, e.base()+"/authorize", nil), ar)
			screen := testenv.Answer{Status: rec.Code, Body: rec.Body.String()}
			typed := e.login(e.visitor(), tc.value, "Wrong-Password-1")
			want := ""
			if tc.echoed {
				want = html.EscapeString(tc.value)
			}
			for via, a := range map[string]testenv.Answer{"login_hint": hinted, "login_hint at /authorize": screen, "typed": typed} {
				m := loginValue.FindStringSubmatch(a.Body)
				if a.Status != http.StatusOK || m == nil || !utf8.ValidString(a.Body) {
					t.Fatalf("%s: %d, login field %q, valid UTF-8 %v\n%.500q", via, a.Status, m, utf8.ValidString(a.Body), a.Body)
				}
				if m[1] != want {
					t.Errorf("%s: the login field holds %q, want %q", via, m[1], want)
				}
			}
		})
	}
}
