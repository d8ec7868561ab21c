package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/region-nouvelle-aquitaine/idp/idp/app"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// serveTestRoutes serves a second provider, wired like the first to the
// same slapd and Redis, with two routes no production build has: one
// that fails with 429 and one that panics, so that those error pages
// are reached through the real middleware. It returns its base URL.
func serveTestRoutes(t *testing.T, s *stack) string {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(s.Logs, nil))
	pages := &web.Pages{Site: views.Site{SupportURL: s.cfg.SupportURL, AccessibilityURL: s.cfg.AccessibilityURL}, Log: log}
	dir, err := ldapauth.New(ldapauth.Config{
		Config:     ldapconn.Config{URLs: []string{s.Slapd.URL}, BindDN: s.Slapd.ReaderDN, BindPassword: s.Slapd.ReaderPassword, Timeout: 5 * time.Second},
		BaseDN:     s.Slapd.PeopleDN,
		UserFilter: config.DefaultUserFilter,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dir.Close() })
	a, err := app.Build(s.cfg, app.Deps{Redis: s.Redis.Client(t), Directory: dir, Now: s.Clock.Now, Log: log, Extra: map[string]http.Handler{
		"GET /test/429": pages.Handle(func(http.ResponseWriter, *http.Request) error {
			return web.Fail(http.StatusTooManyRequests, views.ErrTooManyRequests, fmt.Errorf("test"))
		}),
		"GET /test/panic": http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("test panic with a secret-looking value") }),
	}})
	if err != nil {
		t.Fatal(err)
	}
	ln, base := listen(t, "127.0.0.1")
	serveOn(t, ln, a.Handler)
	return base
}

// crossSitePost submits fields to action from a page of another site
// (127.0.0.3), as a forged form would: the browser marks the request
// Sec-Fetch-Site: cross-site.
func crossSitePost(t *testing.T, ctx context.Context, action string, fields url.Values) {
	t.Helper()
	var form strings.Builder
	fmt.Fprintf(&form, `<!DOCTYPE html><html lang="fr"><title>Autre site</title><form method="post" action="%s">`, html.EscapeString(action))
	for k, vs := range fields {
		for _, v := range vs {
			fmt.Fprintf(&form, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v))
		}
	}
	form.WriteString(`<button>Envoyer</button></form>`)
	ln, base := listen(t, "127.0.0.3")
	serveOn(t, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, form.String())
	}))
	if err := chromedp.Do(timeout(t, ctx), chromedp.Navigate(base)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(button("Envoyer"))); err != nil {
		t.Fatal(err)
	}
}

// visitor is one browser without JavaScript: a cookie jar.
type visitor struct {
	t *testing.T
	s *stack
	c *http.Client
}

func newVisitor(t *testing.T, s *stack) *visitor {
	jar, _ := cookiejar.New(nil)
	c := noRedirect()
	c.Jar = jar
	return &visitor{t: t, s: s, c: c}
}

// start begins a sign-in at the first site and returns the login URL and
// the form token the page carries.
func (v *visitor) start() (loginURL, token string) {
	v.t.Helper()
	st := v.s.Sites[0]
	q := url.Values{"client_id": {st.ClientID}, "redirect_uri": {st.URL + "/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	body := readAll(v.t, v.do(http.MethodGet, v.s.Issuer+"/authorize?"+q.Encode(), "", nil))
	loginURL, ok := loginAction(v.s.Issuer, body)
	if !ok {
		v.t.Fatalf("authorize answered without the login form:\n%.2000s", body)
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		v.t.Fatalf("no form token on the login page:\n%s", body)
	}
	return loginURL, m[1]
}

func (v *visitor) do(method, u, body string, header http.Header) *http.Response {
	v.t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		v.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := v.c.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", method, u, err)
	}
	return resp
}

// post sends the login form as the page of this visitor would.
func (v *visitor) post(loginURL string, form url.Values) *http.Response {
	v.t.Helper()
	return v.do(http.MethodPost, loginURL, form.Encode(), http.Header{"Origin": {v.s.Issuer}, "Sec-Fetch-Site": {"same-origin"}})
}

// answer is what a response showed.
type answer struct {
	status  int
	h1      string
	body    string
	cookies []*http.Cookie
	header  http.Header
}

var h1Tag = regexp.MustCompile(`(?s)<h1>(.*?)</h1>`)

func read(t *testing.T, resp *http.Response) answer {
	t.Helper()
	body := readAll(t, resp)
	a := answer{status: resp.StatusCode, body: body, cookies: resp.Cookies(), header: resp.Header}
	if m := h1Tag.FindStringSubmatch(body); m != nil {
		a.h1 = html.UnescapeString(m[1])
	}
	return a
}

// sessionSet reports whether the answer opened a session.
func (a answer) sessionSet(name string) bool {
	for _, c := range a.cookies {
		if c.Name == name && c.Value != "" && c.MaxAge >= 0 {
			return true
		}
	}
	return false
}

const (
	wrongCredentials = "Identifiant ou mot de passe incorrect."
	directoryDown    = "Le service de connexion est momentanément indisponible."
)

func TestBadInput(t *testing.T) {
	s := startStack(t)
	errs := serveTestRoutes(t, s)
	user := testenv.Users()[0]
	other := newVisitor(t, s)
	_, otherToken := other.start()

	// login posts the login form with login and password from a fresh
	// visitor with a pending sign-in.
	login := func(id, password string) func(*visitor) *http.Response {
		return func(v *visitor) *http.Response {
			u, token := v.start()
			return v.post(u, url.Values{"csrf_token": {token}, "login": {id}, "password": {password}})
		}
	}
	// forged posts the right credentials with a changed token or headers,
	// then checks that the state is unchanged: the sign-in is still
	// pending, its form still shown.
	forged := func(token func(own string) string, header http.Header) func(*visitor) *http.Response {
		return func(v *visitor) *http.Response {
			u, own := v.start()
			form := url.Values{"csrf_token": {token(own)}, "login": {user.UID}, "password": {user.Password}}
			resp := v.do(http.MethodPost, u, form.Encode(), header)
			body := readAll(v.t, resp)
			resp.Body = io.NopCloser(strings.NewReader(body))
			if after := read(v.t, v.do(http.MethodGet, u, "", nil)); after.status != http.StatusOK || !csrfField.MatchString(after.body) {
				v.t.Errorf("after the forged POST the sign-in is no longer pending: %d", after.status)
			}
			return resp
		}
	}
	get := func(u string) func(*visitor) *http.Response {
		return func(v *visitor) *http.Response { return v.do(http.MethodGet, u, "", nil) }
	}
	own := func(t string) string { return t }
	tests := []struct {
		name   string
		do     func(*visitor) *http.Response
		status int
		h1     string
		text   string
		absent string // must not appear in the page (an echo of the input)
	}{
		{"LDAP filter injection", login("*)(uid=*", user.Password), 200, "Connexion", wrongCredentials, ""},
		{"wildcard identifier", login("*", user.Password), 200, "Connexion", wrongCredentials, ""},
		{"NUL in identifier", login(user.UID+"\x00", user.Password), 200, "Connexion", wrongCredentials, ""},
		{"CR LF in identifier", login(user.UID+"\r\nuid=admin", user.Password), 200, "Connexion", wrongCredentials, ""},
		{"10 000 characters", login(strings.Repeat("a", 10000), user.Password), 200, "Connexion", wrongCredentials, strings.Repeat("a", 300)},
		{"invalid UTF-8", login("jdupont\xff\xfe", user.Password), 200, "Connexion", wrongCredentials, "jdupont\xff"},
		{"10 MB form", login(strings.Repeat("a", 10<<20), "x"), 413, "Demande trop volumineuse", "trop volumineuses", ""},
		{"malformed form encoding", func(v *visitor) *http.Response {
			u, _ := v.start()
			return v.do(http.MethodPost, u, "login=%zz&password=%", http.Header{"Sec-Fetch-Site": {"same-origin"}})
		}, 400, "Demande incorrecte", "n’a pas pu être comprise", ""},
		{"token of another browser (replayed)", forged(func(string) string { return otherToken }, http.Header{"Sec-Fetch-Site": {"same-origin"}}), 403, "Formulaire expiré", "Rechargez la page", ""},
		{"no token", forged(func(string) string { return "" }, nil), 403, "Formulaire expiré", "Rechargez la page", ""},
		{"cross-site POST", forged(own, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}), 403, "Formulaire expiré", "Rechargez la page", ""},
		{"foreign Origin, no Fetch Metadata", forged(own, http.Header{"Origin": {"https://evil.example"}}), 403, "Formulaire expiré", "Rechargez la page", ""},
		{"same-site POST", forged(own, http.Header{"Sec-Fetch-Site": {"same-site"}}), 403, "Formulaire expiré", "Rechargez la page", ""},
		{"404", get(s.Issuer + "/nulle-part"), 404, "Page introuvable", "n’existe pas", ""},
		{"405", func(v *visitor) *http.Response {
			return v.do(http.MethodPut, s.Issuer+"/login?authRequestID=x", "", nil)
		}, 405, "Action non autorisée", "de cette façon", ""},
		{"sign-in unknown", get(s.Issuer + "/login?authRequestID=nope"), 400, "Connexion expirée", "a expiré", ""},
		{"429", get(errs + "/test/429"), 429, "Trop de tentatives", "Patientez", ""},
		{"500 (panic)", get(errs + "/test/panic"), 500, "Erreur inattendue", "Veuillez réessayer", "secret-looking"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVisitor(t, s)
			got := read(t, tt.do(v))
			if got.status != tt.status || got.h1 != tt.h1 || !strings.Contains(got.body, tt.text) {
				t.Fatalf("status %d, h1 %q; want %d, %q with %q\n%.2000s", got.status, got.h1, tt.status, tt.h1, tt.text, got.body)
			}
			if tt.absent != "" && strings.Contains(got.body, tt.absent) {
				t.Errorf("the page echoes %.40q", tt.absent)
			}
			if got.sessionSet(s.cfg.Session.CookieName) {
				t.Error("a session cookie was set")
			}
			if tt.status >= 400 {
				checkErrorPage(t, got)
			}
		})
	}
	if r := s.Sites[0].Last(); r != nil {
		t.Errorf("the site received a sign-in: %+v", r)
	}

	t.Run("10 MB token request", func(t *testing.T) {
		v := newVisitor(t, s)
		resp := v.do(http.MethodPost, s.Issuer+"/oauth/token", "grant_type=authorization_code&code="+strings.Repeat("a", 10<<20), nil)
		got := read(t, resp)
		var e map[string]string
		if got.status != http.StatusRequestEntityTooLarge || json.Unmarshal([]byte(got.body), &e) != nil || e["error"] != "invalid_request" {
			t.Errorf("token endpoint: %d %.300s, want 413 with an OAuth JSON error", got.status, got.body)
		}
	})

	t.Run("Host: evil.example", func(t *testing.T) { hostHeader(t, s) })
}

// checkErrorPage: French, with the request id support can quote, never
// a stack trace.
func checkErrorPage(t *testing.T, a answer) {
	t.Helper()
	if !strings.Contains(a.body, `<html lang="fr">`) {
		t.Error("not a French page")
	}
	if id := a.header.Get("X-Request-Id"); id == "" || !strings.Contains(a.body, id) {
		t.Errorf("request id %q not on the page", id)
	}
	for _, leak := range []string{"goroutine ", ".go:", "panic", "runtime/"} {
		if strings.Contains(a.body, leak) {
			t.Errorf("the page shows %q: a stack trace?", leak)
		}
	}
}

// hostHeader: a forged Host changes neither the issuer of discovery nor
// any link or redirect.
func hostHeader(t *testing.T, s *stack) {
	v := newVisitor(t, s)
	evil := func(method, u string) answer {
		req, _ := http.NewRequest(method, u, nil)
		req.Host = "evil.example"
		resp, err := v.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return read(t, resp)
	}
	d := evil(http.MethodGet, s.Issuer+"/.well-known/openid-configuration")
	var disc map[string]any
	if err := json.Unmarshal([]byte(d.body), &disc); err != nil || disc["issuer"] != s.Issuer {
		t.Fatalf("discovery with Host: evil.example: %d issuer %v (%v)", d.status, disc["issuer"], err)
	}
	for k, val := range disc {
		if str, ok := val.(string); ok && strings.Contains(str, "evil.example") {
			t.Errorf("discovery %s = %q", k, str)
		}
	}
	loginURL, _ := v.start()
	for _, a := range []answer{
		evil(http.MethodGet, loginURL),
		evil(http.MethodGet, s.Issuer+"/nulle-part"),
		evil(http.MethodGet, s.Issuer+"/mot-de-passe-perdu"),
	} {
		if a.status >= 500 || strings.Contains(a.body, "evil.example") || strings.Contains(a.header.Get("Location"), "evil.example") {
			t.Errorf("Host: evil.example leaks into a page: %d %q\n%.500s", a.status, a.header.Get("Location"), a.body)
		}
	}
	st := s.Sites[0]
	a := evil(http.MethodGet, s.Issuer+"/authorize?"+url.Values{"client_id": {st.ClientID}, "redirect_uri": {st.URL + "/callback"},
		"response_type": {"code"}, "scope": {"openid"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}.Encode())
	if a.status != http.StatusOK || strings.Contains(a.body, "evil.example") || !loginForm.MatchString(a.body) {
		t.Errorf("authorize with Host: evil.example: %d, Location %q\n%.500s", a.status, a.header.Get("Location"), a.body)
	}
}

// TestBadInputOutages stops the directory, then Redis, on a stack of its
// own: each outage gets a truthful French page, never « incorrect ».
func TestBadInputOutages(t *testing.T) {
	s := startStack(t)
	user := testenv.Users()[0]
	st := s.Sites[0]
	cookie := s.cfg.Session.CookieName

	// The directory is down: the login form says the service is
	// unavailable, keeps the identifier, and opens no session.
	v := newVisitor(t, s)
	loginURL, token := v.start()
	s.Slapd.Stop(t)
	got := read(t, v.post(loginURL, url.Values{"csrf_token": {token}, "login": {user.UID}, "password": {user.Password}}))
	if got.status != http.StatusServiceUnavailable || got.h1 != "Connexion" || !strings.Contains(got.body, directoryDown) ||
		strings.Contains(got.body, wrongCredentials) || got.sessionSet(cookie) {
		t.Errorf("slapd stopped: %d %q\n%.2000s", got.status, got.h1, got.body)
	}
	// Back up: the same pending sign-in now succeeds.
	s.Slapd.Start(t)
	if resp := v.post(loginURL, url.Values{"csrf_token": {token}, "login": {user.UID}, "password": {user.Password}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("slapd back: login POST answered %d, want 303", resp.StatusCode)
	}

	// Redis is down: pages that need it say « service momentanément
	// indisponible »; /authorize with a valid client goes back to the
	// site with an error, as the library does for any storage failure.
	v = newVisitor(t, s)
	loginURL, token = v.start()
	probe := func(path string) int {
		resp := v.do(http.MethodGet, s.Issuer+path, "", nil)
		resp.Body.Close()
		return resp.StatusCode
	}
	if l, r := probe("/healthz"), probe("/ready"); l != http.StatusOK || r != http.StatusOK {
		t.Errorf("probes with everything up: healthz %d, ready %d; want 200 both", l, r)
	}
	s.Redis.Stop(t)
	// The replica is alive but not ready: a load balancer takes it out.
	if l, r := probe("/healthz"), probe("/ready"); l != http.StatusOK || r != http.StatusServiceUnavailable {
		t.Errorf("probes with Redis stopped: healthz %d, ready %d; want 200 and 503", l, r)
	}
	for _, c := range []struct {
		name string
		resp func() *http.Response
	}{
		{"login page", func() *http.Response { return v.do(http.MethodGet, loginURL, "", nil) }},
		{"login POST", func() *http.Response {
			return v.post(loginURL, url.Values{"csrf_token": {token}, "login": {user.UID}, "password": {user.Password}})
		}},
	} {
		got := read(t, c.resp())
		if got.status != http.StatusServiceUnavailable || got.h1 != "Service momentanément indisponible" || got.sessionSet(cookie) {
			t.Errorf("Redis stopped, %s: %d %q\n%.2000s", c.name, got.status, got.h1, got.body)
		}
		checkErrorPage(t, got)
	}
	q := url.Values{"client_id": {st.ClientID}, "redirect_uri": {st.URL + "/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	resp := v.do(http.MethodGet, s.Issuer+"/authorize?"+q.Encode(), "", nil)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	// temporarily_unavailable: the directory is down, not the request wrong.
	if e := loc.Query().Get("error"); !strings.HasPrefix(loc.String(), st.URL+"/callback?") ||
		(e != "server_error" && e != "temporarily_unavailable") {
		t.Errorf("Redis stopped, authorize: %d Location %q", resp.StatusCode, loc)
	}
	// The token endpoint cannot check a code: it says so, in JSON.
	if a := s.token(t, st, codeForm("a-code", "a-verifier", st.URL+"/callback"), true); a.status != http.StatusServiceUnavailable || a.body["error"] != "temporarily_unavailable" {
		t.Errorf("Redis stopped, token endpoint: %d %v", a.status, a.body)
	}
}
