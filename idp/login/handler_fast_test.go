package login_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	demo "github.com/region-nouvelle-aquitaine/idp/deploy/dev"
	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/csrf"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev/devdir"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// The demo directory's first account (deploy/dev/directory.yaml).
const (
	demoUID      = "jdupont"
	demoMail     = "jeanne.dupont@example.org"
	demoPassword = "Correct-Horse-42"
	demoSubject  = "4f1c2d7e-6a0b-4d3e-9a51-3c2f8e7b1a01"
	generic      = "Identifiant ou mot de passe incorrect."
	changePath   = "/compte/mot-de-passe"
)

// signinEnv is the login handler over miniredis (store and throttle), the
// demo directory, the real form tokens and a fake clock; the provider is
// a stand-in that keeps sign-ins in the store.
type signinEnv struct {
	t       *testing.T
	h       *login.Handler
	change  http.Handler
	st      *store.Store
	clock   *testenv.Clock
	dir     *countingDir
	prov    *storeProvider
	changes *beginRecorder
	secure  bool
}

func newSigninEnv(t *testing.T, secure bool) *signinEnv {
	t.Helper()
	_, rdb := testenv.Miniredis(t)
	clock := testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	st := store.New(store.Options{Client: rdb, Now: clock.Now})
	dd, err := devdir.Parse(demo.Directory)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	cookie := "idp_session"
	if secure {
		cookie = "__Host-idp_session"
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	e := &signinEnv{
		t: t, st: st, clock: clock, dir: &countingDir{Directory: dd},
		prov: &storeProvider{st: st}, changes: &beginRecorder{}, secure: secure,
	}
	lim := throttle.New(throttle.Options{Client: rdb, Now: clock.Now, Policy: throttle.Policy{
		DelayAfter: 5, Delay: time.Second, MaxDelay: time.Minute, LockAfter: 10, LockDuration: 15 * time.Minute,
		IPFailures: 100, IPWindow: 15 * time.Minute,
	}})
	e.h = login.New(login.Config{
		Provider: e.prov, Directory: e.dir,
		Sessions: login.NewSessions(login.SessionConfig{
			Store: st, CookieName: cookie, Secure: secure, Lifetime: 12 * time.Hour, IdleTimeout: 30 * time.Minute,
			Now: clock.Now, Log: log,
		}),
		Forms: csrf.New(csrf.Config{Key: key, Secure: secure}), Pages: &web.Pages{Log: log},
		LostPasswordPath: "/mot-de-passe-perdu", ChangePasswordPath: changePath,
		Changes: e.changes, Throttle: lim, Identifiers: audit.NewIdentifiers(key),
		Devices: login.NewDevices(key, secure, st, clock.Now), Now: clock.Now, Log: log,
	})
	e.change = e.h.ChangePassword()
	return e
}

func (e *signinEnv) base() string {
	if e.secure {
		return "https://idp.example"
	}
	return "http://localhost:8080"
}

// pending starts a sign-in for the demo site and returns its id. It asks
// for the password even to a browser signed in already (prompt=login).
func (e *signinEnv) pending() string {
	e.t.Helper()
	now := e.clock.Now()
	ar := &store.AuthRequest{
		ID: store.NewID(), ClientID: "demo", Prompt: []string{oidc.PromptLogin},
		CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
	}
	if err := e.st.SaveAuthRequest(e.t.Context(), ar); err != nil {
		e.t.Fatal(err)
	}
	return ar.ID
}

// visitor is a new browser on the login handler (and on the change page).
func (e *signinEnv) visitor() *testenv.Visitor {
	mux := http.NewServeMux()
	mux.Handle("/login", e.h)
	mux.Handle(changePath, e.change)
	return testenv.NewVisitor(e.t, mux, e.base())
}

// login shows the form of a fresh sign-in and posts login and password.
func (e *signinEnv) login(v *testenv.Visitor, login, password string) testenv.Answer {
	e.t.Helper()
	path := "/login?" + url.Values{"authRequestID": {e.pending()}}.Encode()
	form := v.Get(path)
	if form.Status != http.StatusOK {
		e.t.Fatalf("login form: %d\n%s", form.Status, form.Body)
	}
	return v.Post(path, url.Values{"csrf_token": {testenv.FormToken(form.Body)}, "login": {login}, "password": {password}})
}

// signedIn is a visitor with a session of the demo account.
func (e *signinEnv) signedIn() *testenv.Visitor {
	e.t.Helper()
	v := e.visitor()
	if a := e.login(v, demoUID, demoPassword); a.Status != http.StatusSeeOther || a.Location != "/callback" {
		e.t.Fatalf("right password: %d to %q\n%s", a.Status, a.Location, a.Body)
	}
	return v
}

// volatile: what differs between two visitors whatever happened.
var volatile = regexp.MustCompile(`name="csrf_token" value="[^"]*"|authRequestID=[A-Za-z0-9_-]+`)

// shape is what a person or a script can see of an answer, minus the
// per-visitor tokens and the identifier they typed.
func shape(a testenv.Answer, typed string) string {
	body := volatile.ReplaceAllString(a.Body, "…")
	body = strings.ReplaceAll(body, `value="`+html.EscapeString(typed)+`"`, `value="…"`)
	var names []string
	for _, c := range a.Cookies {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return fmt.Sprintf("%d %v\n%s", a.Status, names, body)
}

// TestSigninFailureIsGeneric: an unknown identifier, a wrong password and
// a right password typed for nobody all get the very answer of a wrong
// password for a real account: the generic message, no session.
func TestSigninFailureIsGeneric(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, login, password string
		echoed                bool // typed back into the form
	}{
		{"unknown identifier", "nobody.here", "Wrong-Password-1", true},
		{"unknown address", "nobody.here@example.org", "Wrong-Password-1", true},
		{"the account's password for an unknown identifier", "jdupont2", demoPassword, true},
		{"wrong password by address", demoMail, "Wrong-Password-1", true},
		{"wrong case of the uid", "JDUPONT", demoPassword, true},
		{"not UTF-8", "\xff\xfe", "Wrong-Password-1", false},
		{"too long", strings.Repeat("a", 300), "Wrong-Password-1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSigninEnv(t, true)
			ref := e.login(e.visitor(), demoUID, "Wrong-Password-1")
			if ref.Status != http.StatusOK || !strings.Contains(ref.Body, generic) {
				t.Fatalf("wrong password: %d, not the generic message\n%s", ref.Status, ref.Body)
			}
			got := shape(e.login(e.visitor(), tc.login, tc.password), tc.login)
			if !tc.echoed {
				got = strings.Replace(got, `value=""`, `value="…"`, 1)
			}
			if want := shape(ref, demoUID); got != want {
				t.Errorf("answered differently from a wrong password:\n%s\n---\n%s", got, want)
			}
			if len(e.prov.completed()) != 0 {
				t.Error("a sign-in was completed")
			}
		})
	}
}

// TestSigninThrottle: a real account and an identifier nobody has follow
// the same schedule with identical answers — delays from the 5th failure,
// a lock at the 10th that refuses even the right password and keeps
// « Mot de passe perdu » — and 15 minutes later the right password works.
func TestSigninThrottle(t *testing.T) {
	t.Parallel()
	e := newSigninEnv(t, false)
	known, unknown := e.visitor(), e.visitor()
	post := func(password string) string {
		t.Helper()
		k := shape(e.login(known, demoUID, password), demoUID)
		u := shape(e.login(unknown, "nobody.here@example.org", password), "nobody.here@example.org")
		if k != u {
			t.Fatalf("known and unknown identifiers answered differently:\n%s\n---\n%s", k, u)
		}
		return k
	}
	for i := 1; i <= 10; i++ {
		body := post(fmt.Sprintf("Wrong-%d", i))
		if !strings.HasPrefix(body, "200 ") || !strings.Contains(body, generic) {
			t.Fatalf("failure %d: not the generic message:\n%s", i, body)
		}
		wantDelay := i >= 5 && i < 10
		if got := strings.Contains(body, fmt.Sprintf("patientez %s", plural(1<<max(i-5, 0), "seconde"))); got != wantDelay {
			t.Fatalf("failure %d: delay sentence %v, want %v\n%s", i, got, wantDelay, body)
		}
		if i == 5 {
			// Inside the delay the right password is not even tried.
			if body := post(demoPassword); !strings.Contains(body, "patientez 1\u00a0seconde") {
				t.Fatalf("right password inside the delay:\n%s", body)
			}
		}
		if wantDelay {
			e.clock.Advance(time.Minute)
		}
	}
	body := post(demoPassword)
	if !strings.Contains(body, "suspendue pendant 15\u00a0minutes") || !strings.Contains(body, `href="/mot-de-passe-perdu?…"`) {
		t.Fatalf("right password while locked: not the lock message with « Mot de passe perdu »:\n%s", body)
	}
	if n := len(e.prov.completed()); n != 0 {
		t.Fatalf("%d sign-ins completed while held back", n)
	}
	e.clock.Advance(15 * time.Minute)
	if a := e.login(e.visitor(), demoUID, demoPassword); a.Status != http.StatusSeeOther {
		t.Fatalf("after the lock: %d\n%s", a.Status, a.Body)
	}
}

func plural(n int, word string) string {
	if n > 1 {
		word += "s"
	}
	return fmt.Sprintf("%d\u00a0%s", n, word)
}

// TestSigninSessionCookie: the right password opens a session whose cookie
// is HttpOnly, SameSite=Lax, Path=/, a browser-session cookie, Secure with
// the __Host- name over https; every sign-in gets a fresh id and ends the
// browser's previous session.
func TestSigninSessionCookie(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scheme string
		secure bool
		name   string
	}{{"https", true, "__Host-idp_session"}, {"http", false, "idp_session"}} {
		t.Run(tc.scheme, func(t *testing.T) {
			t.Parallel()
			e := newSigninEnv(t, tc.secure)
			v := e.visitor()
			a := e.login(v, demoMail, demoPassword)
			if a.Status != http.StatusSeeOther || a.Location != "/callback" {
				t.Fatalf("right password: %d to %q", a.Status, a.Location)
			}
			c := cookieIn(a.Cookies, tc.name)
			if c == nil {
				t.Fatalf("no %s cookie in %v", tc.name, a.Cookies)
			}
			if !c.HttpOnly || c.Secure != tc.secure || c.Path != "/" || c.SameSite != http.SameSiteLaxMode ||
				c.MaxAge != 0 || !c.Expires.IsZero() || c.Domain != "" {
				t.Errorf("session cookie %s", c)
			}
			sess, err := e.st.Session(t.Context(), c.Value)
			if err != nil || sess.Subject != demoSubject || !slices.Equal(sess.AMR, []string{"pwd"}) {
				t.Fatalf("session %+v, %v", sess, err)
			}
			if got := e.prov.completed(); len(got) != 1 || got[0].Subject != demoSubject || got[0].SessionID != sess.Ref {
				t.Errorf("completed %+v", got)
			}
			again := e.login(v, demoUID, demoPassword)
			c2 := cookieIn(again.Cookies, tc.name)
			if c2 == nil || c2.Value == c.Value {
				t.Fatal("the second sign-in kept the session id")
			}
			if _, err := e.st.Session(t.Context(), c.Value); err == nil {
				t.Error("the previous session lives on")
			}
		})
	}
}

// TestSigninSessionNotSaved: when the session and the code could not be
// written (Redis failing over), the person is told the service is
// unavailable and the browser never gets the unsaved session's id.
func TestSigninSessionNotSaved(t *testing.T) {
	t.Parallel()
	e := newSigninEnv(t, true)
	e.prov.fail = errors.New("redis: connection refused")
	a := e.login(e.visitor(), demoMail, demoPassword)
	if a.Status != http.StatusServiceUnavailable || !strings.Contains(a.Body, "momentanément indisponible") {
		t.Fatalf("%d\n%s", a.Status, a.Body)
	}
	if c := cookieIn(a.Cookies, "__Host-idp_session"); c != nil {
		t.Errorf("the browser got the id of a session never saved: %s", c)
	}
}

func cookieIn(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestSigninRefusesForgedForm: a POST without the form's own token is
// refused before the directory or the throttle is asked.
func TestSigninRefusesForgedForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		forge func(e *signinEnv, v *testenv.Visitor, token string) (path string, form url.Values)
	}{
		{"no token", func(_ *signinEnv, _ *testenv.Visitor, _ string) (string, url.Values) { return "", url.Values{} }},
		{"forged token", func(_ *signinEnv, _ *testenv.Visitor, _ string) (string, url.Values) {
			return "", url.Values{"csrf_token": {"forged"}}
		}},
		{"another browser's token", func(e *signinEnv, v *testenv.Visitor, token string) (string, url.Values) {
			v.DropCookie(cookieName(e, "idp_csrf"))
			return "", url.Values{"csrf_token": {token}}
		}},
		{"the token of another sign-in", func(e *signinEnv, _ *testenv.Visitor, token string) (string, url.Values) {
			return "/login?authRequestID=" + e.pending(), url.Values{"csrf_token": {token}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSigninEnv(t, true)
			v := e.visitor()
			path := "/login?authRequestID=" + e.pending()
			token := testenv.FormToken(v.Get(path).Body)
			other, form := tc.forge(e, v, token)
			if other != "" {
				v.Get(other)
				path = other
			}
			form.Set("login", demoUID)
			form.Set("password", demoPassword)
			a := v.Post(path, form)
			if a.Status != http.StatusForbidden || !strings.Contains(a.Body, `lang="fr"`) {
				t.Errorf("forged form: %d\n%s", a.Status, a.Body)
			}
			if n := e.dir.finds.Load(); n != 0 || len(e.prov.completed()) != 0 {
				t.Errorf("%d directory searches, %d sign-ins after a forged form", n, len(e.prov.completed()))
			}
		})
	}
}

func cookieName(e *signinEnv, name string) string {
	if e.secure {
		return "__Host-" + name
	}
	return name
}

// TestChangePasswordForm: « Changer mon mot de passe » asks the current
// password under the sign-in's rules before the new-password step starts.
func TestChangePasswordForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		signedIn   bool
		forged     bool
		current    []string // posted one after the other; the last answer is checked
		query      string
		wantStatus int
		wantLoc    string
		wantIn     string
		wantBegin  bool
	}{
		{name: "not signed in: the landing page", current: []string{demoPassword}, wantStatus: 303, wantLoc: "/"},
		{name: "forged form", signedIn: true, forged: true, current: []string{demoPassword}, wantStatus: 403, wantIn: `lang="fr"`},
		{name: "empty", signedIn: true, current: []string{""}, wantStatus: 200, wantIn: "Saisissez votre mot de passe actuel."},
		{name: "wrong", signedIn: true, current: []string{"Not-The-Password-1"}, wantStatus: 200, wantIn: "Le mot de passe actuel saisi est incorrect."},
		{name: "NUL", signedIn: true, current: []string{"mot\x00passe"}, wantStatus: 200, wantIn: "Le mot de passe actuel saisi est incorrect."},
		{name: "not UTF-8", signedIn: true, current: []string{"\xff\xfe"}, wantStatus: 200, wantIn: "Le mot de passe actuel saisi est incorrect."},
		{name: "filter characters", signedIn: true, current: []string{"*)(uid=*"}, wantStatus: 200, wantIn: "Le mot de passe actuel saisi est incorrect."},
		{name: "long", signedIn: true, current: []string{strings.Repeat("a", 10000)}, wantStatus: 200, wantIn: "Le mot de passe actuel saisi est incorrect."},
		{
			name: "six wrong: the sign-in throttle's delay", signedIn: true,
			current:    []string{"W-1", "W-2", "W-3", "W-4", "W-5", "W-6"},
			wantStatus: 200, wantIn: "Par sécurité, après plusieurs essais infructueux, patientez",
		},
		{name: "right: the new-password step", signedIn: true, current: []string{demoPassword}, wantStatus: 303, wantLoc: "/mot-de-passe-perdu/nouveau", wantBegin: true},
		{name: "right from the grace page: back to the sign-in", signedIn: true, current: []string{demoPassword}, query: "pending", wantStatus: 303, wantLoc: "/mot-de-passe-perdu/nouveau", wantBegin: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSigninEnv(t, true)
			v := e.visitor()
			var sessRef string
			if tc.signedIn {
				v = e.signedIn()
				s, err := e.st.Session(t.Context(), v.Cookie("__Host-idp_session").Value)
				if err != nil {
					t.Fatal(err)
				}
				sessRef = s.Ref
			}
			path, arID := changePath, ""
			if tc.query == "pending" {
				arID = e.pending()
				path += "?authRequestID=" + arID
			}
			token := testenv.FormToken(v.Get(path).Body)
			if tc.forged {
				token = "forged"
			}
			var a testenv.Answer
			for _, pw := range tc.current {
				a = v.Post(path, url.Values{"csrf_token": {token}, "current_password": {pw}})
			}
			if a.Status != tc.wantStatus || a.Location != tc.wantLoc || !strings.Contains(a.Body, tc.wantIn) {
				t.Fatalf("%d to %q, want %d to %q with %q\n%s", a.Status, a.Location, tc.wantStatus, tc.wantLoc, tc.wantIn, a.Body)
			}
			begun := e.changes.all()
			if !tc.wantBegin {
				if len(begun) != 0 {
					t.Errorf("the new-password step started: %+v", begun)
				}
				return
			}
			want := reset.Verified{Purpose: store.PurposeChange, AuthRequestID: arID, KeepSession: sessRef}
			if len(begun) != 1 || begun[0].User.Subject != demoSubject || begun[0].Purpose != want.Purpose ||
				begun[0].AuthRequestID != want.AuthRequestID || begun[0].KeepSession != want.KeepSession {
				t.Errorf("begun %+v, want one for %s like %+v", begun, demoSubject, want)
			}
		})
	}
}

// TestChangePasswordSaysExpired: back from a change left too long, the
// page says why.
func TestChangePasswordSaysExpired(t *testing.T) {
	t.Parallel()
	e := newSigninEnv(t, true)
	v := e.signedIn()
	for _, tc := range []struct {
		query string
		want  bool
	}{{"?expire=1", true}, {"", false}} {
		a := v.Get(changePath + tc.query)
		if got := strings.Contains(a.Body, "Votre demande précédente a expiré"); a.Status != 200 || got != tc.want {
			t.Errorf("%q: %d, says expired %v, want %v", tc.query, a.Status, got, tc.want)
		}
	}
}

// countingDir is the demo directory, counting searches.
type countingDir struct {
	*devdir.Directory
	finds atomic.Int32
}

func (d *countingDir) Find(ctx context.Context, login string) (ldapauth.Candidate, error) {
	d.finds.Add(1)
	return d.Directory.Find(ctx, login)
}

// storeProvider stands in for the OpenID Provider: sign-ins live in the
// store, completions are recorded.
type storeProvider struct {
	st   *store.Store
	mu   sync.Mutex
	done []provider.Identity
	fail error // CodeURL's answer instead of a completion, when set
}

func (p *storeProvider) AuthRequest(ctx context.Context, id string) (*store.AuthRequest, error) {
	return p.st.AuthRequest(ctx, id)
}

func (p *storeProvider) Client(id string) (*provider.Client, bool) {
	switch id {
	case "demo":
		return &provider.Client{ID: id, Name: "Site de démonstration"}, true
	case "native": // a native app: public, on the person's own machine
		return &provider.Client{ID: id, Name: "Application", Public: true, RedirectURIs: []string{"http://127.0.0.1/callback"}}, true
	}
	return nil, false
}

func (p *storeProvider) Complete(_ context.Context, ar *store.AuthRequest, who provider.Identity) (*store.AuthRequest, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = append(p.done, who)
	return ar, nil
}

func (p *storeProvider) CodeURL(ctx context.Context, ar *store.AuthRequest, who provider.Identity, open *store.Session, _ ...string) (string, error) {
	if p.fail != nil {
		return "", p.fail
	}
	if open != nil {
		if err := p.st.SaveSession(ctx, open); err != nil {
			return "", err
		}
	}
	if _, err := p.Complete(ctx, ar, who); err != nil {
		return "", err
	}
	return "/callback", nil
}

func (p *storeProvider) completed() []provider.Identity {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.done)
}

func (p *storeProvider) CallbackURL(context.Context, string) string { return "/callback" }

func (p *storeProvider) FailAuthRequest(w http.ResponseWriter, _ *http.Request, _ *store.AuthRequest, e *oidc.Error) {
	http.Error(w, string(e.ErrorType), http.StatusBadRequest)
}

// beginRecorder records the start of a new-password step.
type beginRecorder struct {
	mu sync.Mutex
	v  []reset.Verified
}

func (b *beginRecorder) Begin(w http.ResponseWriter, r *http.Request, v reset.Verified) error {
	b.mu.Lock()
	b.v = append(b.v, v)
	b.mu.Unlock()
	http.Redirect(w, r, "/mot-de-passe-perdu/nouveau", http.StatusSeeOther)
	return nil
}

func (b *beginRecorder) all() []reset.Verified {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.v)
}

// lockOut makes ten wrong attempts for login from a new browser, waiting
// out each delay: the identifier is locked for 15 minutes.
func (e *signinEnv) lockOut(login string) {
	e.t.Helper()
	v := e.visitor()
	for i := 1; i <= 10; i++ {
		e.login(v, login, fmt.Sprintf("Wrong-%d", i))
		e.clock.Advance(time.Minute)
	}
	if a := e.login(v, login, demoPassword); !strings.Contains(a.Body, "suspendue pendant") {
		e.t.Fatalf("not locked out:\n%s", a.Body)
	}
}

// TestSigninLockScope: a stranger's lock on the uid holds back that
// identifier only: the account's address answers like nobody's, and the
// browser its owner signed in with before is not held back, until a
// revocation (a new password) ends what that browser held.
func TestSigninLockScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, e *signinEnv, owner *testenv.Visitor)
	}{
		{"the address answers like nobody's", func(t *testing.T, e *signinEnv, _ *testenv.Visitor) {
			known, unknown := e.visitor(), e.visitor()
			for i := 1; i <= 3; i++ {
				k := shape(e.login(known, demoMail, fmt.Sprintf("Wrong-%d", i)), demoMail)
				n := shape(e.login(unknown, "nobody.here@example.org", fmt.Sprintf("Wrong-%d", i)), "nobody.here@example.org")
				if k != n {
					t.Fatalf("attempt %d: the locked account's address answers unlike nobody's:\n%s\n---\n%s", i, k, n)
				}
			}
		}},
		{"the owner's browser signs in", func(t *testing.T, e *signinEnv, owner *testenv.Visitor) {
			if a := e.login(owner, demoUID, demoPassword); a.Status != http.StatusSeeOther {
				t.Fatalf("owner's browser: %d\n%s", a.Status, a.Body)
			}
		}},
		{"another browser is held back", func(t *testing.T, e *signinEnv, _ *testenv.Visitor) {
			if a := e.login(e.visitor(), demoUID, demoPassword); a.Status != http.StatusOK || !strings.Contains(a.Body, "suspendue pendant") {
				t.Fatalf("another browser: %d\n%s", a.Status, a.Body)
			}
		}},
		{"the owner's browser after a revocation is held back", func(t *testing.T, e *signinEnv, owner *testenv.Visitor) {
			e.clock.Advance(time.Second)
			if err := e.st.RevokeSubject(t.Context(), demoSubject, ""); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Second)
			if a := e.login(owner, demoUID, demoPassword); a.Status != http.StatusOK || !strings.Contains(a.Body, "suspendue pendant") {
				t.Fatalf("owner's browser after a revocation: %d\n%s", a.Status, a.Body)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSigninEnv(t, true)
			owner := e.signedIn()
			owner.DropCookie("__Host-idp_session") // closed the browser: the device cookie stays
			e.lockOut(demoUID)
			tc.run(t, e, owner)
		})
	}
}
