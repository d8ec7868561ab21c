package reset_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// The other SSO's login page, the one address of the allowlist.
const goodReturn = "https://sso.example.org/login?service=portail"

func returnToJourney(t *testing.T) *journey {
	t.Helper()
	return newJourneyWith(t, func(c *reset.Config) {
		c.ReturnTo = []string{goodReturn, "https://autre-sso.example.org/"}
	})
}

const refused = "Adresse de retour non reconnue"

// TestReturnToNearMisses: only an address of the allowlist, byte for
// byte, is accepted; every near miss gets the French refusal page (400)
// on the first step, GET or POST, never a redirect and never a flow.
func TestReturnToNearMisses(t *testing.T) {
	t.Parallel()
	q := func(v string) string { return "return_to=" + url.QueryEscape(v) }
	tests := []struct {
		name  string
		query string // raw query of the first step
	}{
		{"other host", q("https://evil.example/login?service=portail")},
		{"other scheme", q("http://sso.example.org/login?service=portail")},
		{"other port", q("https://sso.example.org:8443/login?service=portail")},
		{"default port spelt out", q("https://sso.example.org:443/login?service=portail")},
		{"other path", q("https://sso.example.org/logout?service=portail")},
		{"other query", q("https://sso.example.org/login?service=evil")},
		{"query added", q(goodReturn + "&next=https://evil.example")},
		{"no query", q("https://sso.example.org/login")},
		{"trailing slash", q("https://sso.example.org/login/?service=portail")},
		{"trailing slash missing", q("https://autre-sso.example.org")},
		{"host in capitals", q("https://SSO.example.org/login?service=portail")},
		{"path in capitals", q("https://sso.example.org/Login?service=portail")},
		{"scheme in capitals", q("HTTPS://sso.example.org/login?service=portail")},
		{"user info", q("https://sso.example.org@evil.example/login?service=portail")},
		{"suffix host", q("https://sso.example.org.evil.example/login?service=portail")},
		{"encoded slash", q("https://sso.example.org%2Flogin?service=portail")},
		{"encoded slash in path", q("https://sso.example.org/login%2F..%2F..%2Fevil?service=portail")},
		{"encoded at", q("https://sso.example.org%40evil.example/login?service=portail")},
		{"encoded path", q("https://sso.example.org/%6Cogin?service=portail")},
		{"backslash", q(`https://sso.example.org\@evil.example/login?service=portail`)},
		{"backslashes for slashes", q(`https:\\evil.example\login`)},
		{"scheme-relative", q("//evil.example/login?service=portail")},
		{"scheme-relative with backslash", q(`/\evil.example/login`)},
		{"path only", q("/login?service=portail")},
		{"fragment", q(goodReturn + "#x")},
		{"leading space", q(" " + goodReturn)},
		{"trailing newline", q(goodReturn + "\n")},
		{"javascript", q("javascript:alert(1)")},
		{"empty", "return_to="},
		{"duplicated, both allowed", q(goodReturn) + "&" + q(goodReturn)},
		{"duplicated, one evil", q(goodReturn) + "&" + q("https://evil.example/")},
		{"encoded parameter name", "return%5Fto=" + url.QueryEscape("https://evil.example/")},
		{"malformed escape", "return_to=https://sso.example.org/login%zz"},
		{"semicolon separator", q(goodReturn) + ";return_to=https://evil.example/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := returnToJourney(t)
			v := j.visitor()
			a := v.Get(lost + "?" + tc.query)
			if a.Status != http.StatusBadRequest || a.Location != "" || !strings.Contains(a.Body, refused) ||
				!strings.Contains(a.Body, `href="`+lost+`"`) {
				t.Errorf("GET: %d to %q, want 400, the refusal page and a link to start again\n%s", a.Status, a.Location, a.Body)
			}
			// A forged POST, with a valid token from the plain first step.
			form := url.Values{"profil": {"usager"}, "csrf_token": {testenv.FormToken(v.Get(lost).Body)}}
			a = v.Post(lost+"?"+tc.query, form)
			if a.Status != http.StatusBadRequest || a.Location != "" || !strings.Contains(a.Body, refused) {
				t.Errorf("POST: %d to %q, want 400 and the refusal page", a.Status, a.Location)
			}
			if v.Cookie("__Host-idp_reset") != nil {
				t.Error("a flow was started")
			}
		})
	}
}

// TestReturnToExactMatch: an allowlisted return_to goes with the flow to
// the end, where « Continuer » leads there, whether the code was typed in
// the browser that started or the mailed link opened in another one
// (which takes over the same flow record).
func TestReturnToExactMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		query     string
		elsewhere bool
		want      string
	}{
		{"code, same browser", "return_to=" + url.QueryEscape(goodReturn), false, goodReturn},
		{"link, another browser", "return_to=" + url.QueryEscape(goodReturn), true, goodReturn},
		{"unescaped slashes", "return_to=https://autre-sso.example.org/", false, "https://autre-sso.example.org/"},
		{"no return_to", "", false, "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := returnToJourney(t)
			v := j.visitor()
			first := lost
			if tc.query != "" {
				first += "?" + tc.query
			}
			page := v.Get(first)
			if page.Status != http.StatusOK {
				t.Fatalf("first step: %d\n%s", page.Status, page.Body)
			}
			if tc.query != "" && !strings.Contains(html.UnescapeString(page.Body), "return_to="+url.QueryEscape(tc.want)) {
				t.Errorf("the form does not post the return_to on:\n%s", page.Body)
			}
			if a := j.post(v, first, first, url.Values{"profil": {"usager"}}); a.Location != lost+"/adresse" {
				t.Fatalf("usager: %d to %q", a.Status, a.Location)
			}
			j.post(v, lost+"/adresse", lost+"/adresse", url.Values{"email": {demoMail}})
			j.h.Wait()
			code, link := j.mails.last(t)
			if tc.elsewhere {
				v = j.visitor()
				if a := v.Get(strings.TrimPrefix(link, "https://idp.example")); a.Location != lost+"/lien" {
					t.Fatalf("opening the link: %d to %q", a.Status, a.Location)
				}
				if a := j.post(v, lost+"/lien", lost+"/lien", nil); a.Location != lost+"/nouveau" {
					t.Fatalf("using the link: %d to %q", a.Status, a.Location)
				}
			} else if a := j.post(v, lost+"/code", lost+"/code", url.Values{"code": {code}}); a.Location != lost+"/nouveau" {
				t.Fatalf("code: %d to %q", a.Status, a.Location)
			}
			const pw = "Une phrase assez longue pour passer"
			if a := j.post(v, lost+"/nouveau", lost+"/nouveau", url.Values{"password": {pw}, "confirmation": {pw}}); a.Location != lost+"/attente" {
				t.Fatalf("new password: %d to %q\n%s", a.Status, a.Location, a.Body)
			}
			j.changes.settle(reset.ChangeState{Done: true})
			if a := v.Get(lost + "/attente"); a.Location != lost+"/termine" {
				t.Fatalf("waiting: %d to %q", a.Status, a.Location)
			}
			done := v.Get(lost + "/termine")
			if want := `href="` + html.EscapeString(tc.want) + `">Continuer</a>`; !strings.Contains(done.Body, want) {
				t.Errorf("success page lacks %s:\n%s", want, done.Body)
			}
		})
	}
}
