package login_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/csrf"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev/devdir"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// subjectDirectory has accounts whose subject is their uid, as with
// ldap.attributes.subject: uid, dotted ones included.
const subjectDirectory = `
users:
  - {uid: siege.dupont, password: Right-Password-1, mail: siege.dupont@example.org, subject: siege.dupont}
  - {uid: lycees.martin, password: Right-Password-1, mail: lycees.martin@example.org, subject: lycees.~hashed}
  - {uid: agents.dupont, password: Right-Password-1, mail: agents.dupont@example.org, subject: agents.dupont}
  - {uid: siege-nord.durand, password: Right-Password-1, mail: siege-nord.durand@example.org, subject: siege-nord.durand}
  - {uid: siege, password: Right-Password-1, mail: siege@example.org, subject: siege}
  - {uid: Siege.leroy, password: Right-Password-1, mail: siege.leroy@example.org, subject: Siege.leroy}
`

// stateDirectory turns every right password into state, when set: the
// directory's answer for an expired or administrator-reset password.
type stateDirectory struct {
	*devdir.Directory
	state ldapauth.State
}

func (d stateDirectory) Verify(ctx context.Context, c ldapauth.Candidate, password string) (ldapauth.Result, error) {
	res, err := d.Directory.Verify(ctx, c, password)
	if res.OK && d.state != ldapauth.StateNone {
		res.OK, res.State = false, d.state
	}
	return res, err
}

// TestSigninSubjectReservedByUpstream: a directory account whose subject
// is "<upstream id>.…" for a configured upstream would get the sub of
// that upstream's person, so a site would take them for one person. It
// does not sign in, and IT is told; a wrong password still gets the
// generic answer, so the refusal tells nothing to who lacks the password.
// Dotted subjects outside every upstream's namespace keep signing in.
func TestSigninSubjectReservedByUpstream(t *testing.T) {
	t.Parallel()
	const right, wrong = "Right-Password-1", "Wrong-Password-1"
	tests := []struct {
		name, uid, password string
		state               ldapauth.State
		wantStatus          int
		wantIn              string
		wantSub             string // "" when nobody signs in
		wantUpstream        string // the upstream named in the ERROR line, "" for none
	}{
		{"upstream's namespace", "siege.dupont", right, ldapauth.StateNone, 503, "momentanément indisponible", "", "siege"},
		{"upstream's hashed namespace", "lycees.martin", right, ldapauth.StateNone, 503, "momentanément indisponible", "", "lycees"},
		{"upstream's namespace, expired password", "siege.dupont", right, ldapauth.StateExpired, 503, "momentanément indisponible", "", "siege"},
		{"upstream's namespace, must change", "siege.dupont", right, ldapauth.StateMustChange, 503, "momentanément indisponible", "", "siege"},
		{"upstream's namespace, wrong password", "siege.dupont", wrong, ldapauth.StateNone, 200, generic, "", ""},
		{"dotted, no such upstream", "agents.dupont", right, ldapauth.StateNone, 303, "", "agents.dupont", ""},
		{"dotted, an upstream's id is only a prefix", "siege-nord.durand", right, ldapauth.StateNone, 303, "", "siege-nord.durand", ""},
		{"an upstream's id, no dot", "siege", right, ldapauth.StateNone, 303, "", "siege", ""},
		{"other case than the upstream's id", "Siege.leroy", right, ldapauth.StateNone, 303, "", "Siege.leroy", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := newSigninEnv(t, true)
			logs := &testenv.Buffer{}
			base.h = subjectHandler(t, base, tc.state, logs, "siege", "lycees")
			a := base.login(base.visitor(), tc.uid, tc.password)

			if a.Status != tc.wantStatus || !strings.Contains(a.Body, tc.wantIn) {
				t.Errorf("%d, want %d with %q:\n%s", a.Status, tc.wantStatus, tc.wantIn, a.Body)
			}
			var subs []string
			for _, who := range base.prov.completed() {
				subs = append(subs, who.Subject)
			}
			if tc.wantSub == "" && len(subs) != 0 {
				t.Errorf("signed in as %q", subs)
			}
			if tc.wantSub != "" && (len(subs) != 1 || subs[0] != tc.wantSub) {
				t.Errorf("signed in as %q, want %q", subs, tc.wantSub)
			}
			if (tc.wantSub == "") != (cookieIn(a.Cookies, "__Host-idp_session") == nil) {
				t.Errorf("session cookie: %v", a.Cookies)
			}
			if n := len(base.changes.all()); n != 0 {
				t.Errorf("%d new-password steps started", n)
			}

			out := logs.String()
			if strings.Contains(out, tc.password) {
				t.Errorf("the password is in the logs:\n%s", out)
			}
			refusals := errorLines(t, out)
			if tc.wantUpstream == "" {
				if len(refusals) != 0 {
					t.Errorf("ERROR lines %v, want none", refusals)
				}
				return
			}
			if len(refusals) != 1 || refusals[0]["upstream"] != tc.wantUpstream || refusals[0]["dn"] != "uid="+tc.uid+",ou=demo" {
				t.Errorf("ERROR lines %v, want one naming upstream %q and the entry's DN", refusals, tc.wantUpstream)
			}
			if !strings.Contains(out, `"audit":"signin.unavailable"`) || !strings.Contains(out, `"reason":"subject_reserved"`) {
				t.Errorf("no signin.unavailable audit record with its reason:\n%s", out)
			}
		})
	}
}

// TestChangePasswordSubjectReservedByUpstream: a session opened before an
// upstream took the namespace of its directory subject cannot start a
// password change either (the change would end that upstream's person's
// sessions): « service indisponible », and IT is told.
func TestChangePasswordSubjectReservedByUpstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		upstreams  []string // configured when the password is changed
		wantStatus int
		wantIn     string
		wantERROR  int
	}{
		{"upstream since added", []string{"siege"}, 503, "momentanément indisponible", 1},
		{"no such upstream", []string{"lycees"}, 303, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := newSigninEnv(t, true)
			base.h = subjectHandler(t, base, ldapauth.StateNone, &testenv.Buffer{}) // no upstream yet
			v := base.visitor()
			if a := base.login(v, "siege.dupont", "Right-Password-1"); a.Status != http.StatusSeeOther {
				t.Fatalf("sign-in before the upstream: %d\n%s", a.Status, a.Body)
			}
			logs := &testenv.Buffer{}
			base.h = subjectHandler(t, base, ldapauth.StateNone, logs, tc.upstreams...)
			base.change = base.h.ChangePassword()
			session := v.Cookie("__Host-idp_session")
			v = base.visitor()
			v.SetCookie(session)
			token := testenv.FormToken(v.Get(changePath).Body)
			a := v.Post(changePath, url.Values{"csrf_token": {token}, "current_password": {"Right-Password-1"}})
			if a.Status != tc.wantStatus || !strings.Contains(a.Body, tc.wantIn) {
				t.Errorf("%d, want %d with %q:\n%s", a.Status, tc.wantStatus, tc.wantIn, a.Body)
			}
			if n, want := len(base.changes.all()), 1-tc.wantERROR; n != want {
				t.Errorf("%d new-password steps started, want %d", n, want)
			}
			if n := len(errorLines(t, logs.String())); n != tc.wantERROR {
				t.Errorf("%d ERROR lines, want %d:\n%s", n, tc.wantERROR, logs)
			}
		})
	}
}

// subjectHandler is the login handler over subjectDirectory, logging to
// logs, with fake upstreams of the given ids.
func subjectHandler(t *testing.T, base *signinEnv, state ldapauth.State, logs *testenv.Buffer, upstreams ...string) *login.Handler {
	t.Helper()
	dd, err := devdir.Parse([]byte(subjectDirectory))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	key := []byte("0123456789abcdef0123456789abcdef")
	ups := map[string]login.Upstream{}
	for _, id := range upstreams {
		ups[id] = login.Upstream{Redirect: &fakeUpstream{id: id}, Name: id}
	}
	return login.New(login.Config{
		Provider: base.prov, Directory: stateDirectory{Directory: dd, state: state},
		Sessions: login.NewSessions(login.SessionConfig{
			Store: base.st, CookieName: "__Host-idp_session", Secure: true, Lifetime: 12 * time.Hour,
			IdleTimeout: 30 * time.Minute, Now: base.clock.Now, Log: log,
		}),
		Forms: csrf.New(csrf.Config{Key: key, Secure: true}), Pages: &web.Pages{Log: log},
		LostPasswordPath: "/mot-de-passe-perdu", ChangePasswordPath: changePath, Changes: base.changes,
		Identifiers: audit.NewIdentifiers(key), Upstreams: ups,
		Flows: base.st, Secure: true, Now: base.clock.Now, Log: log,
	})
}

// errorLines are the ERROR records of a JSON log.
func errorLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] == slog.LevelError.String() {
			out = append(out, rec)
		}
	}
	return out
}
