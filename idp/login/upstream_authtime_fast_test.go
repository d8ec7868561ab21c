package login_test

import (
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// pendingFresh is a fresh sign-in of the demo site asking prompt and
// max_age (nil: not asked).
func (e *upstreamEnv) pendingFresh(prompt []string, maxAge *uint) string {
	e.t.Helper()
	now := e.clock.Now()
	ar := &store.AuthRequest{
		ID: store.NewID(), ClientID: "demo", Prompt: prompt, MaxAge: maxAge,
		CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
	}
	if err := e.st.SaveAuthRequest(e.t.Context(), ar); err != nil {
		e.t.Fatal(err)
	}
	return ar.ID
}

// roundTrip sends v to the siege upstream for sign-in arID, lets spend
// pass there, and comes back with an answer whose auth_time is authTime
// (zero: none).
func (e *upstreamEnv) roundTrip(v *testenv.Visitor, arID string, spend time.Duration, authTime time.Time) testenv.Answer {
	e.t.Helper()
	e.siege.answer = func(url.Values) (connector.Identity, error) {
		return connector.Identity{Source: "siege", Subject: "agent-42", AMR: []string{"pwd"}, AuthTime: authTime}, nil
	}
	a := v.Get("/login/upstream/siege?authRequestID=" + arID)
	if a.Status != http.StatusSeeOther {
		e.t.Fatalf("start: %d\n%s", a.Status, a.Body)
	}
	u, err := url.Parse(a.Location)
	if err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(spend)
	return v.Get(callback("siege", u.Query().Get("state")))
}

// sessionAuthTime is the auth_time of the session answer a opened.
func (e *upstreamEnv) sessionAuthTime(a testenv.Answer) time.Time {
	e.t.Helper()
	c := cookieIn(a.Cookies, "__Host-idp_session")
	if c == nil {
		e.t.Fatal("no session cookie")
	}
	sess, err := e.st.Session(e.t.Context(), c.Value)
	if err != nil {
		e.t.Fatalf("session: %v", err)
	}
	return sess.AuthTime
}

// TestUpstreamAuthTime: the session and the ID token carry when the person
// authenticated at the upstream, not when the upstream sent them back; an
// answer older than the site's prompt=login or max_age is refused, so an
// upstream's old single sign-on cannot come out of here as a fresh
// authentication.
func TestUpstreamAuthTime(t *testing.T) {
	t.Parallel()
	u := func(n uint) *uint { return &n }
	login := []string{oidc.PromptLogin}
	const spend = 2 * time.Minute // at the upstream, between the start and the callback
	tests := []struct {
		name   string
		prompt []string
		maxAge *uint
		// auth is the upstream's auth_time from the start of the round
		// trip; nil: the upstream gives none.
		auth *time.Duration
		// want is the auth_time recorded, from the start; nil: refused.
		want *time.Duration
	}{
		// The attack: the upstream's 8 h old session answers a demand for
		// a fresh authentication.
		{"max_age=0, 8 h old", nil, u(0), ago(8 * time.Hour), nil},
		{"prompt=login, 8 h old", login, nil, ago(8 * time.Hour), nil},
		{"prompt=login, a minute before the round trip", login, nil, ago(time.Minute), nil},
		{"max_age=600, 11 min old", nil, u(600), ago(11 * time.Minute), nil},
		{"prompt=login and max_age=3600, 30 min old", login, u(3600), ago(30 * time.Minute), nil},
		// Authenticated again during the round trip: fresh enough for any
		// max_age, however long the upstream took to send the person back.
		{"prompt=login, during the round trip", login, nil, at(90 * time.Second), at(90 * time.Second)},
		{"max_age=0, during the round trip", nil, u(0), at(time.Minute), at(time.Minute)},
		// Old, but within what was asked: accepted, with its own time.
		{"max_age=3600, 30 min old", nil, u(3600), ago(30 * time.Minute), ago(30 * time.Minute)},
		{"nothing asked, 8 h old", nil, nil, ago(8 * time.Hour), ago(8 * time.Hour)},
		// Clocks a few seconds apart, and auth_time's whole seconds.
		{"prompt=login, 3 s before the start", login, nil, ago(3 * time.Second), ago(3 * time.Second)},
		{"prompt=login, 10 s before the start", login, nil, ago(10 * time.Second), nil},
		{"max_age=600, 3 s over", nil, u(600), ago(600*time.Second + 3*time.Second - spend), ago(600*time.Second + 3*time.Second - spend)},
		{"max_age=600, 10 s over", nil, u(600), ago(600*time.Second + 10*time.Second - spend), nil},
		// No auth_time: the callback's time when nothing was asked; when
		// a freshness was, nothing shows it was met.
		{"nothing asked, no auth_time", nil, nil, nil, at(spend)},
		{"prompt=login, no auth_time", login, nil, nil, nil},
		{"max_age=600, no auth_time", nil, u(600), nil, nil},
		// An upstream clock ahead of ours: never later than the callback.
		{"nothing asked, in the future", nil, nil, at(spend + time.Hour), at(spend)},
		{"prompt=login, in the future", login, nil, at(spend + 30*time.Second), at(spend)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newUpstreamEnv(t, nil)
			v := e.visitor()
			start := e.clock.Now()
			var authTime time.Time
			if tc.auth != nil {
				authTime = start.Add(*tc.auth)
			}
			arID := e.pendingFresh(tc.prompt, tc.maxAge)
			a := e.roundTrip(v, arID, spend, authTime)
			if tc.want == nil {
				if a.Status != http.StatusBadGateway || !strings.Contains(a.Body, "La connexion n’a pas abouti") {
					t.Fatalf("%d, want 502 « La connexion n’a pas abouti »\n%s", a.Status, a.Body)
				}
				if back := "/login?authRequestID=" + arID + "&amp;choix=1"; !strings.Contains(a.Body, `href="`+back+`"`) {
					t.Errorf("no way back to %s", back)
				}
				if done := e.prov.completed(); len(done) != 0 || cookieIn(a.Cookies, "__Host-idp_session") != nil {
					t.Errorf("signed in: %+v", done)
				}
				return
			}
			if a.Status != http.StatusSeeOther || a.Location != "/callback" {
				t.Fatalf("%d to %q, want the sign-in completed\n%s", a.Status, a.Location, a.Body)
			}
			want := start.Add(*tc.want)
			done := e.prov.completed()
			if len(done) != 1 || !done[0].AuthTime.Equal(want) {
				t.Fatalf("completed %+v, want auth_time %v", done, want)
			}
			if got := e.sessionAuthTime(a); !got.Equal(want) {
				t.Errorf("session auth_time %v, want %v", got, want)
			}
		})
	}
}

func ago(d time.Duration) *time.Duration { return at(-d) }

func at(d time.Duration) *time.Duration { return &d }

// TestUpstreamAuthTimeReuse: the session keeps the upstream's time, so a
// later site's max_age is measured from the real authentication, not
// from the return from the upstream.
func TestUpstreamAuthTimeReuse(t *testing.T) {
	t.Parallel()
	e := newUpstreamEnv(t, nil)
	v := e.visitor()
	upstreamAuth := e.clock.Now().Add(-8 * time.Hour)
	if a := e.roundTrip(v, e.pendingFresh(nil, nil), time.Minute, upstreamAuth); a.Status != http.StatusSeeOther || a.Location != "/callback" {
		t.Fatalf("sign-in: %d to %q\n%s", a.Status, a.Location, a.Body)
	}
	e.clock.Advance(5 * time.Minute)
	ten, nine := uint(600), uint(9*3600)
	if a := v.Get("/login?authRequestID=" + e.pendingFresh(nil, &ten)); a.Status != http.StatusOK || len(buttons(a.Body)) == 0 {
		t.Errorf("max_age=600 with an 8 h old authentication: %d to %q, want the login screen", a.Status, a.Location)
	}
	a := v.Get("/login?authRequestID=" + e.pendingFresh(nil, &nine))
	if a.Status != http.StatusSeeOther || a.Location != "/callback" {
		t.Fatalf("max_age=9h: %d to %q, want the session to answer", a.Status, a.Location)
	}
	if done := e.prov.completed(); len(done) != 2 || !done[1].AuthTime.Equal(upstreamAuth) {
		t.Errorf("completed %+v, want auth_time %v", done, upstreamAuth)
	}
}

// TestUpstreamAuthTimeRevoked: an upstream authentication older than the
// person's last revocation (all sessions ended by an administrator) opens
// no session: the session would be dead at once, and the site's code
// refused at the token endpoint.
func TestUpstreamAuthTimeRevoked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		auth    time.Duration // from the revocation
		refused bool
	}{
		{"authenticated before the revocation", -time.Hour, true},
		{"authenticated after it", time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newUpstreamEnv(t, nil)
			revoked := e.clock.Now()
			if err := e.st.RevokeSubject(t.Context(), "siege.agent-42", ""); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(10 * time.Minute)
			a := e.roundTrip(e.visitor(), e.pendingFresh(nil, nil), time.Minute, revoked.Add(tc.auth))
			switch {
			case tc.refused && (a.Status != http.StatusBadGateway || !strings.Contains(a.Body, "La connexion n’a pas abouti")):
				t.Errorf("%d, want 502 « La connexion n’a pas abouti »\n%s", a.Status, a.Body)
			case tc.refused && (len(e.prov.completed()) != 0 || cookieIn(a.Cookies, "__Host-idp_session") != nil):
				t.Error("signed in")
			case !tc.refused && (a.Status != http.StatusSeeOther || a.Location != "/callback"):
				t.Errorf("%d to %q, want the sign-in completed\n%s", a.Status, a.Location, a.Body)
			case !tc.refused && !e.sessionAuthTime(a).Equal(revoked.Add(tc.auth)):
				t.Errorf("session auth_time %v, want %v", e.sessionAuthTime(a), revoked.Add(tc.auth))
			}
		})
	}
}

// TestUpstreamForNativeLoopbackApp: a native app's sign-in (public client,
// loopback redirect) is never answered by a single sign-on, the
// upstream's included: prompt=login is passed on to the upstream, and an
// answer from its old session is refused. Otherwise a page could send an
// élu's browser, straight to the upstream with idp_hint, and get a code on
// a port of its own without anyone typing a password.
func TestUpstreamForNativeLoopbackApp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		client  string
		auth    time.Duration // the upstream's auth_time, from the start of the round trip
		refused bool
	}{
		{"native app, the upstream's 8 h old session", "native", -8 * time.Hour, true},
		{"native app, authenticated during the round trip", "native", time.Minute, false},
		{"site, the upstream's 8 h old session", "demo", -8 * time.Hour, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newUpstreamEnv(t, nil)
			now := e.clock.Now()
			ar := &store.AuthRequest{
				ID: store.NewID(), ClientID: tc.client, RedirectURI: "http://127.0.0.1:31337/callback",
				IDPHint: config.ProfileElu, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
			}
			if tc.client == "demo" {
				ar.RedirectURI = "https://demo.example/callback"
			}
			if err := e.st.SaveAuthRequest(t.Context(), ar); err != nil {
				t.Fatal(err)
			}
			v := e.visitor()
			if a := v.Get("/login?authRequestID=" + ar.ID); a.Status != http.StatusSeeOther || !strings.HasPrefix(a.Location, "/login/upstream/siege?") {
				t.Fatalf("idp_hint: %d to %q, want the upstream", a.Status, a.Location)
			}
			a := e.roundTrip(v, ar.ID, 2*time.Minute, now.Add(tc.auth))
			if asked := e.siege.asked; len(asked) != 1 || asked[0].ForceLogin != (tc.client == "native") {
				t.Errorf("passed on to the upstream: %+v", asked)
			}
			if !tc.refused {
				if a.Status != http.StatusSeeOther || a.Location != "/callback" {
					t.Fatalf("%d to %q, want the sign-in completed\n%s", a.Status, a.Location, a.Body)
				}
				return
			}
			if a.Status != http.StatusBadGateway || !strings.Contains(a.Body, "La connexion n’a pas abouti") {
				t.Errorf("%d, want 502 « La connexion n’a pas abouti »\n%s", a.Status, a.Body)
			}
			if len(e.prov.completed()) != 0 {
				t.Error("signed in from the upstream's old session")
			}
		})
	}
}

// TestMaxAgeBeyondADuration: a max_age too large for a time.Duration is
// still "any age" for a fresh session, which answers the sign-in, as a
// smaller one does; max_age=0 still asks again.
func TestMaxAgeBeyondADuration(t *testing.T) {
	t.Parallel()
	u := func(n uint) *uint { return &n }
	for _, tc := range []struct {
		name   string
		maxAge *uint
		reuse  bool
	}{
		{"one hour", u(3600), true},
		{"beyond a Duration", u(9999999999), true},
		{"the largest", u(math.MaxUint), true},
		{"zero", u(0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newUpstreamEnv(t, nil)
			v := e.visitor()
			if a := e.roundTrip(v, e.pendingFresh(nil, nil), time.Minute, e.clock.Now()); a.Status != http.StatusSeeOther {
				t.Fatalf("first sign-in: %d", a.Status)
			}
			a := v.Get("/login?authRequestID=" + e.pendingFresh(nil, tc.maxAge))
			if reused := a.Status == http.StatusSeeOther && a.Location == "/callback"; reused != tc.reuse {
				t.Errorf("%d to %q, want the session reused: %v", a.Status, a.Location, tc.reuse)
			}
		})
	}
}
