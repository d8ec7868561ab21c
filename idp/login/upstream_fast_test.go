package login_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
	"github.com/region-nouvelle-aquitaine/idp/idp/csrf"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// fakeUpstream is a connector.Redirect that remembers the flows it
// started and answers callbacks as told; it refuses a callback whose
// flow is not one it started, as the real one would (nonce, PKCE).
type fakeUpstream struct {
	id       string
	loginErr error // LoginURL fails
	mu       sync.Mutex
	started  []connector.Flow
	asked    []connector.Freshness // what each LoginURL passed on
	answer   func(q url.Values) (connector.Identity, error)
}

func (f *fakeUpstream) ID() string { return f.id }

func (f *fakeUpstream) LoginURL(_ context.Context, fl connector.Flow, fresh connector.Freshness) (string, error) {
	if f.loginErr != nil {
		return "", f.loginErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, fl)
	f.asked = append(f.asked, fresh)
	return "https://upstream.example/authorize?" + url.Values{"state": {fl.State}}.Encode(), nil
}

func (f *fakeUpstream) HandleCallback(_ context.Context, fl connector.Flow, q url.Values) (connector.Identity, error) {
	f.mu.Lock()
	known := slices.Contains(f.started, fl)
	f.mu.Unlock()
	if !known {
		return connector.Identity{}, fmt.Errorf("%w: flow not started here", connector.ErrInvalid)
	}
	if q.Get("error") == "access_denied" {
		return connector.Identity{}, fmt.Errorf("%w: access_denied", connector.ErrRefused)
	}
	if f.answer != nil {
		return f.answer(q)
	}
	return connector.Identity{
		Source: "whatever", Subject: "agent-42", Email: "agent@region.example", EmailVerified: true,
		Name: "Aline Agent", GivenName: "Aline", FamilyName: "Agent", PreferredUsername: "aagent",
		AMR: []string{"pwd", "mfa"},
	}, nil
}

// upstreamEnv is the login handler with the guide's profiles, élus and
// agents of the siège signing in at the fake "siege" upstream, agents of
// the lycées at "lycees".
type upstreamEnv struct {
	*signinEnv
	h      *login.Handler
	siege  *fakeUpstream
	lycees *fakeUpstream
}

func newUpstreamEnv(t *testing.T, profiles func([]config.Profile) []config.Profile) *upstreamEnv {
	t.Helper()
	base := newSigninEnv(t, true)
	e := &upstreamEnv{signinEnv: base, siege: &fakeUpstream{id: "siege"}, lycees: &fakeUpstream{id: "lycees"}}
	ps := config.DefaultProfiles(config.Reset{})
	for i := range ps {
		switch ps[i].ID {
		case config.ProfileElu, config.ProfileAgentSiege:
			ps[i].SignIn = config.Route{Via: config.ViaUpstream, Upstream: "siege"}
		case config.ProfileAgentLycees:
			ps[i].SignIn = config.Route{Via: config.ViaUpstream, Upstream: "lycees"}
		}
	}
	if profiles != nil {
		ps = profiles(ps)
	}
	log := slog.New(slog.DiscardHandler)
	key := []byte("0123456789abcdef0123456789abcdef")
	e.h = login.New(login.Config{
		Provider: base.prov, Directory: base.dir,
		Sessions: login.NewSessions(login.SessionConfig{
			Store: base.st, CookieName: "__Host-idp_session", Secure: true, Lifetime: 12 * time.Hour,
			IdleTimeout: 30 * time.Minute, Now: base.clock.Now, Log: log,
		}),
		Forms: csrf.New(csrf.Config{Key: key, Secure: true}), Pages: &web.Pages{Log: log},
		LostPasswordPath: "/mot-de-passe-perdu", ChangePasswordPath: changePath, Changes: base.changes,
		Profiles: ps,
		Upstreams: map[string]login.Upstream{
			"siege":  {Redirect: e.siege, Name: "le service de connexion de la Région"},
			"lycees": {Redirect: e.lycees, Name: "ProConnect"},
		},
		Flows: base.st, Secure: true, Now: base.clock.Now, Log: log,
	})
	return e
}

func (e *upstreamEnv) visitor() *testenv.Visitor {
	mux := http.NewServeMux()
	mux.Handle("/login", e.h)
	mux.Handle(login.UpstreamPathPrefix, e.h.Upstream())
	return testenv.NewVisitor(e.t, mux, e.base())
}

// pendingHint is a fresh sign-in with the site's idp_hint.
func (e *upstreamEnv) pendingHint(hint string) string {
	e.t.Helper()
	now := e.clock.Now()
	ar := &store.AuthRequest{ID: store.NewID(), ClientID: "demo", IDPHint: hint, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
	if err := e.st.SaveAuthRequest(e.t.Context(), ar); err != nil {
		e.t.Fatal(err)
	}
	return ar.ID
}

var buttonRE = regexp.MustCompile(`<a class="button" href="(/login/upstream/[^"]*)"[^>]*>([^<]*)</a>`)

// buttons are the upstream buttons of a login page: label → href.
func buttons(body string) map[string]string {
	out := map[string]string{}
	for _, m := range buttonRE.FindAllStringSubmatch(body, -1) {
		out[m[2]] = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	return out
}

const (
	eluLabel    = "Je suis un élu de la Région"
	lyceesLabel = "Je suis un agent des lycées"
	siegeLabel  = "Je suis un agent du siège"
	groupLabel  = "Vous êtes élu ou agent de la Région"
)

func TestUpstreamButtons(t *testing.T) {
	t.Parallel()
	onlySiege := func(ps []config.Profile) []config.Profile {
		for i := range ps {
			if ps[i].ID != config.ProfileAgentSiege && ps[i].SignIn.Via == config.ViaUpstream {
				ps[i].SignIn = config.Route{Via: config.ViaURL, URL: "https://ailleurs.example/"}
			}
		}
		return ps
	}
	noDirectory := func(ps []config.Profile) []config.Profile {
		return slices.DeleteFunc(ps, func(p config.Profile) bool { return p.SignIn.Via == config.ViaDirectory })
	}
	tests := []struct {
		name     string
		profiles func([]config.Profile) []config.Profile
		want     map[string]string // label → upstream
		form     bool
	}{
		{"every upstream profile", nil, map[string]string{eluLabel: "siege", lyceesLabel: "lycees", siegeLabel: "siege"}, true},
		{"url and none add nothing", onlySiege, map[string]string{siegeLabel: "siege"}, true},
		{"no directory profile, no form", noDirectory, map[string]string{eluLabel: "siege", lyceesLabel: "lycees", siegeLabel: "siege"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newUpstreamEnv(t, tc.profiles)
			id := e.pendingHint("")
			a := e.visitor().Get("/login?authRequestID=" + id)
			if a.Status != http.StatusOK {
				t.Fatalf("login screen: %d\n%s", a.Status, a.Body)
			}
			got := buttons(a.Body)
			if len(got) != len(tc.want) {
				t.Errorf("buttons %v, want %v", got, tc.want)
			}
			for label, up := range tc.want {
				if want := "/login/upstream/" + up + "?authRequestID=" + id; got[label] != want {
					t.Errorf("button %q leads to %q, want %q", label, got[label], want)
				}
			}
			if !strings.Contains(a.Body, groupLabel) || !strings.Contains(a.Body, `aria-labelledby="elus-agents"`) {
				t.Error("the buttons have no group heading")
			}
			if form := strings.Contains(a.Body, `name="password"`); form != tc.form {
				t.Errorf("form shown = %v, want %v", form, tc.form)
			}
			if strings.Contains(a.Body, "<form") && strings.Contains(a.Body, `action="/login/upstream`) {
				t.Error("a button is a form: it must be a GET link")
			}
		})
	}
	t.Run("no upstream profile: no group", func(t *testing.T) {
		t.Parallel()
		e := newUpstreamEnv(t, func([]config.Profile) []config.Profile { return config.DefaultProfiles(config.Reset{}) })
		a := e.visitor().Get("/login?authRequestID=" + e.pendingHint(""))
		if a.Status != http.StatusOK || len(buttons(a.Body)) != 0 || strings.Contains(a.Body, groupLabel) || !strings.Contains(a.Body, `name="password"`) {
			t.Errorf("%d, buttons %v\n%s", a.Status, buttons(a.Body), a.Body)
		}
	})
}

func TestUpstreamHint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hint, query string
		redirect    string // upstream sent to at once; "" for a page
		buttons     int
	}{
		{hint: "elu", redirect: "siege"},
		{hint: "agent-lycees", redirect: "lycees"},
		{hint: "usager", buttons: 0},
		{hint: "inconnu", buttons: 3},
		{hint: "support", buttons: 3}, // signs in nowhere: ignored
		{hint: "elu", query: "&choix=1", buttons: 3},
	}
	for _, tc := range tests {
		t.Run(tc.hint+tc.query, func(t *testing.T) {
			t.Parallel()
			e := newUpstreamEnv(t, nil)
			id := e.pendingHint(tc.hint)
			a := e.visitor().Get("/login?authRequestID=" + id + tc.query)
			if tc.redirect != "" {
				if want := "/login/upstream/" + tc.redirect + "?authRequestID=" + id; a.Status != http.StatusSeeOther || a.Location != want {
					t.Fatalf("%d to %q, want 303 to %q", a.Status, a.Location, want)
				}
				return
			}
			if a.Status != http.StatusOK || len(buttons(a.Body)) != tc.buttons || !strings.Contains(a.Body, `name="password"`) {
				t.Errorf("%d with %d buttons, want 200, the form and %d\n%s", a.Status, len(buttons(a.Body)), tc.buttons, a.Body)
			}
		})
	}
}

// start clicks the button of upstream up for a fresh sign-in and returns
// the state sent to the upstream.
func (e *upstreamEnv) start(v *testenv.Visitor, up string) (arID, state string) {
	e.t.Helper()
	arID = e.pendingHint("")
	a := v.Get("/login/upstream/" + up + "?authRequestID=" + arID)
	if a.Status != http.StatusSeeOther || !strings.HasPrefix(a.Location, "https://upstream.example/authorize?") {
		e.t.Fatalf("start: %d to %q\n%s", a.Status, a.Location, a.Body)
	}
	u, err := url.Parse(a.Location)
	if err != nil {
		e.t.Fatal(err)
	}
	return arID, u.Query().Get("state")
}

func callback(up, state string, extra ...string) string {
	q := url.Values{"state": {state}, "code": {"the-code"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/login/upstream/" + up + "/callback?" + q.Encode()
}

func TestUpstreamRoundTrip(t *testing.T) {
	t.Parallel()
	e := newUpstreamEnv(t, nil)
	v := e.visitor()
	_, state := e.start(v, "siege")
	flows := e.siege.started
	if len(flows) != 1 || len(state) < 43 || flows[0].State != state || len(flows[0].Nonce) < 43 ||
		len(flows[0].CodeVerifier) < 43 || flows[0].Nonce == state || flows[0].CodeVerifier == flows[0].Nonce {
		t.Fatalf("flow: %+v", flows)
	}
	c := v.Cookie("__Host-idp_upstream")
	if c == nil {
		t.Fatal("no binding cookie")
	}
	a := v.Get(callback("siege", state))
	if a.Status != http.StatusSeeOther || a.Location != "/callback" {
		t.Fatalf("callback: %d to %q\n%s", a.Status, a.Location, a.Body)
	}
	done := e.prov.completed()
	if len(done) != 1 {
		t.Fatalf("completed %d sign-ins", len(done))
	}
	who := done[0]
	if who.Subject != "siege.agent-42" || who.Claims.IDP != "siege" || who.Claims.Email != "agent@region.example" ||
		!who.Claims.EmailVerified || who.Claims.PreferredUsername != "aagent" || !slices.Equal(who.AMR, []string{"pwd", "mfa"}) {
		t.Errorf("identity: %+v", who)
	}
	if cookieIn(a.Cookies, "__Host-idp_session") == nil {
		t.Error("no session cookie")
	}
	// The same answer again (a replay, or the back button): refused.
	if a := v.Get(callback("siege", state)); a.Status != http.StatusBadRequest || !strings.Contains(a.Body, "Connexion expirée") {
		t.Errorf("replay: %d\n%s", a.Status, a.Body)
	}
	if len(e.prov.completed()) != 1 {
		t.Error("the replay completed a sign-in")
	}
}

func TestUpstreamBindingCookie(t *testing.T) {
	t.Parallel()
	e := newUpstreamEnv(t, nil)
	v := e.visitor()
	e.start(v, "siege")
	var set *http.Cookie
	for _, c := range v.Get("/login/upstream/siege?authRequestID=" + e.pendingHint("")).Cookies {
		if c.Name == "__Host-idp_upstream" {
			set = c
		}
	}
	if set == nil || !set.HttpOnly || !set.Secure || set.SameSite != http.SameSiteLaxMode || set.Path != "/" || set.MaxAge <= 0 {
		t.Errorf("binding cookie: %+v", set)
	}
}

func TestUpstreamCallbackRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer func(url.Values) (connector.Identity, error)
		extra  []string
		status int
		text   string
	}{
		{"refused by the person", nil, []string{"error", "access_denied"}, http.StatusForbidden, "Connexion refusée par le service de connexion de la Région"},
		{"upstream unavailable", func(url.Values) (connector.Identity, error) {
			return connector.Identity{}, fmt.Errorf("token endpoint: %w", connector.ErrUnavailable)
		}, nil, http.StatusServiceUnavailable, "Service momentanément indisponible"},
		{"invalid answer", func(url.Values) (connector.Identity, error) {
			return connector.Identity{}, fmt.Errorf("bad signature: %w", connector.ErrInvalid)
		}, nil, http.StatusBadGateway, "La connexion n’a pas abouti"},
		{"unknown failure", func(url.Values) (connector.Identity, error) {
			return connector.Identity{}, errors.New("boom")
		}, nil, http.StatusBadGateway, "La connexion n’a pas abouti"},
		{"no subject", func(url.Values) (connector.Identity, error) {
			return connector.Identity{Email: "x@example.org"}, nil
		}, nil, http.StatusBadGateway, "La connexion n’a pas abouti"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newUpstreamEnv(t, nil)
			e.siege.answer = tc.answer
			v := e.visitor()
			arID, state := e.start(v, "siege")
			a := v.Get(callback("siege", state, tc.extra...))
			if a.Status != tc.status || !strings.Contains(a.Body, tc.text) {
				t.Fatalf("%d, want %d with %q\n%s", a.Status, tc.status, tc.text, a.Body)
			}
			back := "/login?authRequestID=" + arID + "&amp;choix=1"
			if !strings.Contains(a.Body, `href="`+back+`"`) || !strings.Contains(a.Body, "Retour à la page de connexion") {
				t.Errorf("no way back to %s\n%s", back, a.Body)
			}
			if len(e.prov.completed()) != 0 || cookieIn(a.Cookies, "__Host-idp_session") != nil {
				t.Error("signed in")
			}
			// The way back shows every choice, whatever the hint.
			if b := v.Get(strings.ReplaceAll(back, "&amp;", "&")); b.Status != http.StatusOK || len(buttons(b.Body)) != 3 {
				t.Errorf("way back: %d\n%s", b.Status, b.Body)
			}
		})
	}
	t.Run("upstream down at the start", func(t *testing.T) {
		t.Parallel()
		e := newUpstreamEnv(t, nil)
		e.siege.loginErr = fmt.Errorf("discovery: %w", connector.ErrUnavailable)
		a := e.visitor().Get("/login/upstream/siege?authRequestID=" + e.pendingHint(""))
		if a.Status != http.StatusServiceUnavailable || !strings.Contains(a.Body, "Service momentanément indisponible") ||
			!strings.Contains(a.Body, "Retour à la page de connexion") {
			t.Errorf("%d\n%s", a.Status, a.Body)
		}
	})
}

func TestUpstreamCallbackState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		call   func(e *upstreamEnv, owner *testenv.Visitor, state string) testenv.Answer
		status int
		text   string
	}{
		{"no state", func(e *upstreamEnv, v *testenv.Visitor, _ string) testenv.Answer {
			return v.Get("/login/upstream/siege/callback?code=x")
		}, http.StatusBadRequest, "Connexion expirée"},
		{"forged state", func(e *upstreamEnv, v *testenv.Visitor, _ string) testenv.Answer {
			return v.Get(callback("siege", "forged-"+strings.Repeat("a", 40)))
		}, http.StatusBadRequest, "Connexion expirée"},
		{"repeated state", func(e *upstreamEnv, v *testenv.Visitor, s string) testenv.Answer {
			return v.Get("/login/upstream/siege/callback?state=" + s + "&state=" + s + "&code=x")
		}, http.StatusBadRequest, "Connexion expirée"},
		{"another upstream's callback", func(e *upstreamEnv, v *testenv.Visitor, s string) testenv.Answer {
			return v.Get(callback("lycees", s))
		}, http.StatusBadRequest, "Connexion expirée"},
		{"expired", func(e *upstreamEnv, v *testenv.Visitor, s string) testenv.Answer {
			e.clock.Advance(11 * time.Minute)
			return v.Get(callback("siege", s))
		}, http.StatusBadRequest, "Connexion expirée"},
		{"another browser", func(e *upstreamEnv, _ *testenv.Visitor, s string) testenv.Answer {
			attacker := e.visitor()
			e.start(attacker, "siege") // has a binding cookie of its own
			return attacker.Get(callback("siege", s))
		}, http.StatusBadRequest, "ouverte dans un autre navigateur"},
		{"a browser without the cookie", func(e *upstreamEnv, _ *testenv.Visitor, s string) testenv.Answer {
			return e.visitor().Get(callback("siege", s))
		}, http.StatusBadRequest, "ouverte dans un autre navigateur"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newUpstreamEnv(t, nil)
			owner := e.visitor()
			_, state := e.start(owner, "siege")
			a := tc.call(e, owner, state)
			if a.Status != tc.status || !strings.Contains(a.Body, tc.text) {
				t.Errorf("%d, want %d with %q\n%s", a.Status, tc.status, tc.text, a.Body)
			}
			if a.Location != "" || len(e.prov.completed()) != 0 || cookieIn(a.Cookies, "__Host-idp_session") != nil {
				t.Errorf("went on: %d to %q", a.Status, a.Location)
			}
		})
	}
}

func TestUpstreamStartRefused(t *testing.T) {
	t.Parallel()
	e := newUpstreamEnv(t, nil)
	v := e.visitor()
	for path, status := range map[string]int{
		"/login/upstream/inconnu?authRequestID=" + e.pendingHint(""): http.StatusNotFound,
		"/login/upstream/siege?authRequestID=nope":                   http.StatusBadRequest,
		"/login/upstream/siege":                                      http.StatusBadRequest,
	} {
		if a := v.Get(path); a.Status != status || a.Location != "" {
			t.Errorf("%s: %d to %q, want %d", path, a.Status, a.Location, status)
		}
	}
	if len(e.siege.started) != 0 {
		t.Error("a flow started")
	}
}

func TestSubject(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 201)
	tests := []struct {
		source, sub, want string
	}{
		{login.SourceDirectory, "4f1c2d7e-6a0b-4d3e-9a51-3c2f8e7b1a01", "4f1c2d7e-6a0b-4d3e-9a51-3c2f8e7b1a01"},
		{"siege", "agent-42", "siege.agent-42"},
		{"siege", "A.b_c~d-9", "siege.A.b_c~d-9"},
		{"siege", strings.Repeat("a", 200), "siege." + strings.Repeat("a", 200)},
		{"siege", long, "siege.~" + sha(long)},
		{"proconnect", "a:b", "proconnect.~" + sha("a:b")},
		{"entra", "user@example.org", "entra.~" + sha("user@example.org")},
		{"entra", "é", "entra.~" + sha("é")},
		{"entra", "a b", "entra.~" + sha("a b")},
		// A sub that looks like a hashed one is hashed too: kept, it
		// would be the sub of the person whose own sub hashes to it.
		{"siege", "~" + sha("user@example.org"), "siege.~" + sha("~"+sha("user@example.org"))},
		{"siege", "~", "siege.~" + sha("~")},
	}
	for _, tc := range tests {
		got := login.Subject(connector.Identity{Source: tc.source, Subject: tc.sub})
		if got != tc.want {
			t.Errorf("Subject(%s, %q) = %q, want %q", tc.source, tc.sub, got, tc.want)
		}
		if strings.Contains(got, ":") {
			t.Errorf("Subject(%s, %q) = %q has ':'", tc.source, tc.sub, got)
		}
	}
	for _, pair := range [][2]string{{"x:1", "x:2"}, {"user@example.org", "~" + sha("user@example.org")}} {
		if a, b := login.Subject(connector.Identity{Source: "a", Subject: pair[0]}), login.Subject(connector.Identity{Source: "a", Subject: pair[1]}); a == b {
			t.Errorf("the subjects %q and %q are both %q", pair[0], pair[1], a)
		}
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// TestUpstreamFreshness: what the site asked of the authentication
// (prompt=login, max_age) goes on to the upstream, whose own single
// sign-on would otherwise answer with an old authentication.
func TestUpstreamFreshness(t *testing.T) {
	t.Parallel()
	ten := uint(600)
	for _, tc := range []struct {
		name   string
		prompt []string
		maxAge *uint
	}{
		{"nothing asked", nil, nil},
		{"prompt=login", []string{"login"}, nil},
		{"max_age", nil, &ten},
		{"both", []string{"login", "consent"}, &ten},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newUpstreamEnv(t, nil)
			now := e.clock.Now()
			ar := &store.AuthRequest{ID: store.NewID(), ClientID: "demo", Prompt: tc.prompt, MaxAge: tc.maxAge, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
			if err := e.st.SaveAuthRequest(t.Context(), ar); err != nil {
				t.Fatal(err)
			}
			if a := e.visitor().Get("/login/upstream/siege?authRequestID=" + ar.ID); a.Status != http.StatusSeeOther {
				t.Fatalf("start: %d\n%s", a.Status, a.Body)
			}
			e.siege.mu.Lock()
			defer e.siege.mu.Unlock()
			if len(e.siege.asked) != 1 {
				t.Fatalf("asked %v", e.siege.asked)
			}
			got := e.siege.asked[0]
			if got.ForceLogin != slices.Contains(tc.prompt, "login") || (got.MaxAge == nil) != (tc.maxAge == nil) ||
				(got.MaxAge != nil && *got.MaxAge != *tc.maxAge) {
				t.Errorf("passed on %+v, want prompt %v max_age %v", got, tc.prompt, tc.maxAge)
			}
		})
	}
}
