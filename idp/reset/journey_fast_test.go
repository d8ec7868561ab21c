package reset_test

import (
	"context"
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

	demo "github.com/region-nouvelle-aquitaine/idp/deploy/dev"
	"github.com/region-nouvelle-aquitaine/idp/idp/csrf"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev/devdir"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// The demo directory's first account (deploy/dev/directory.yaml).
const (
	demoUID     = "jdupont"
	demoMail    = "jeanne.dupont@example.org"
	demoSubject = "4f1c2d7e-6a0b-4d3e-9a51-3c2f8e7b1a01"
	lost        = "/mot-de-passe-perdu"
)

// journey is the reset handler over miniredis, the demo directory, the
// real form tokens and a fake clock; mail and the directory writer are
// recorded.
type journey struct {
	t       *testing.T
	h       *reset.Handler
	st      *store.Store
	clock   *testenv.Clock
	mails   *mailbox
	changes *changeQueue
}

func newJourney(t *testing.T) *journey {
	t.Helper()
	return newJourneyWith(t, nil)
}

// newJourneyWith is newJourney with edit applied to the handler's
// configuration.
func newJourneyWith(t *testing.T, edit func(*reset.Config)) *journey {
	t.Helper()
	_, rdb := testenv.Miniredis(t)
	clock := testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	st := store.New(store.Options{Client: rdb, Now: clock.Now})
	dir, err := devdir.Parse(demo.Directory)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	j := &journey{t: t, st: st, clock: clock, mails: &mailbox{}, changes: &changeQueue{states: map[string]reset.ChangeState{}}}
	cfg := reset.Config{
		Store: st, Accounts: dir, Outbox: j.mails,
		Compose: func(_ context.Context, code, link string, _ time.Duration) (string, string, string, error) {
			return "Validation du changement de mot de passe", "code=" + code + " link=" + link, "", nil
		},
		Policy: reset.NewPolicy(false, nil, nil, log), Changes: j.changes,
		Forms: csrf.New(csrf.Config{Key: []byte("0123456789abcdef0123456789abcdef"), Secure: true}),
		Pages: &web.Pages{Log: log},
		Profiles: []reset.Profile{
			{ID: "usager", Label: "Usager", Examples: "Exemples\u00a0: demandeur d’aide."},
			{ID: "elu", Label: "Élu", URL: "https://elus.example/mdp"},
			{ID: "support", Label: "Support", URL: "https://idp.example/support"},
		},
		Limits: reset.DefaultLimits, Key: []byte("reset key"), PublicURL: "https://idp.example",
		Path: lost, LoginPath: "/login", ChangePath: "/compte/mot-de-passe",
		Secure: true, Now: clock.Now, Log: log,
	}
	if edit != nil {
		edit(&cfg)
	}
	j.h = reset.New(cfg)
	t.Cleanup(j.h.Wait)
	return j
}

func (j *journey) visitor() *testenv.Visitor {
	return testenv.NewVisitor(j.t, j.h, "https://idp.example")
}

// post posts form to path with the token of the form that path shows
// (formPath, when another page holds the form).
func (j *journey) post(v *testenv.Visitor, formPath, path string, form url.Values) testenv.Answer {
	j.t.Helper()
	page := v.Get(formPath)
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", testenv.FormToken(page.Body))
	return v.Post(path, form)
}

// started is a visitor past the profile step, as an usager.
func (j *journey) started() *testenv.Visitor {
	j.t.Helper()
	v := j.visitor()
	if a := j.post(v, lost, lost, url.Values{"profil": {"usager"}}); a.Location != lost+"/adresse" {
		j.t.Fatalf("usager: %d to %q", a.Status, a.Location)
	}
	return v
}

// asked is a visitor that asked a code for address; the code and link are
// made once the background delivery is done.
func (j *journey) asked(address string) (*testenv.Visitor, testenv.Answer) {
	j.t.Helper()
	v := j.started()
	a := j.post(v, lost+"/adresse", lost+"/adresse", url.Values{"email": {address}})
	j.h.Wait()
	return v, a
}

// verified is a visitor past the code for the demo account.
func (j *journey) verified() *testenv.Visitor {
	j.t.Helper()
	v, _ := j.asked(demoMail)
	code, _ := j.mails.last(j.t)
	if a := j.post(v, lost+"/code", lost+"/code", url.Values{"code": {code}}); a.Location != lost+"/nouveau" {
		j.t.Fatalf("right code: %d to %q\n%s", a.Status, a.Location, a.Body)
	}
	return v
}

// TestResetProfileChoice: élus and agents leave for the address their
// profile has in configuration, never one from the request; the usager
// starts a flow here; anything else asks again.
func TestResetProfileChoice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		form     url.Values
		forged   bool
		status   int
		location string
		flow     bool
		says     string
	}{
		{name: "élu", form: url.Values{"profil": {"elu"}, "url": {"https://evil.example"}}, status: 303, location: "https://elus.example/mdp"},
		{name: "support", form: url.Values{"profil": {"support"}}, status: 303, location: "https://idp.example/support"},
		{name: "élu with other destinations", form: url.Values{"profil": {"elu"}, "next": {"https://evil.example"}, "return_to": {"https://evil.example"}, "redirect_uri": {"https://evil.example"}}, status: 303, location: "https://elus.example/mdp"},
		{name: "usager with other destinations", form: url.Values{"profil": {"usager"}, "next": {"https://evil.example"}, "return_to": {"https://evil.example"}, "redirect_uri": {"https://evil.example"}}, status: 303, location: lost + "/adresse", flow: true},
		{name: "an empty choice", form: url.Values{"profil": {""}}, status: 200, says: "Sélectionnez le cas qui vous concerne"},
		{name: "the same choice twice", form: url.Values{"profil": {"elu", "elu"}}, status: 200, says: "Sélectionnez le cas qui vous concerne"},
		{name: "usager", form: url.Values{"profil": {"usager"}}, status: 303, location: lost + "/adresse", flow: true},
		{name: "an address as the choice", form: url.Values{"profil": {"https://evil.example"}}, status: 200, says: "Sélectionnez le cas qui vous concerne"},
		{name: "a profile not configured", form: url.Values{"profil": {"agent-lycees"}}, status: 200, says: "Sélectionnez le cas qui vous concerne"},
		{name: "nothing chosen", form: url.Values{}, status: 200, says: "Sélectionnez le cas qui vous concerne"},
		{name: "two choices", form: url.Values{"profil": {"usager", "elu"}}, status: 200, says: "Sélectionnez le cas qui vous concerne"},
		{name: "forged form", form: url.Values{"profil": {"usager"}}, forged: true, status: 403, says: `lang="fr"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newJourney(t)
			v := j.visitor()
			page := v.Get(lost + "?next=https://evil.example")
			if !strings.Contains(page.Body, "Exemples\u00a0: demandeur d’aide.") {
				t.Error("the profile's examples are not shown")
			}
			if strings.Contains(page.Body, "agent-lycees") {
				t.Error("a profile without a configured address is offered")
			}
			tc.form.Set("csrf_token", testenv.FormToken(page.Body))
			if tc.forged {
				tc.form.Set("csrf_token", "forged")
			}
			// A return_to outside the allowlist in the query is refused on its
			// own (returnto_test.go); in the body it means nothing.
			a := v.Post(lost+"?next=https://evil.example&redirect_uri=https://evil.example", tc.form)
			if a.Status != tc.status || a.Location != tc.location || !strings.Contains(a.Body, tc.says) {
				t.Errorf("%d to %q, want %d to %q saying %q", a.Status, a.Location, tc.status, tc.location, tc.says)
			}
			c := v.Cookie("__Host-idp_reset")
			if (c != nil) != tc.flow {
				t.Fatalf("flow cookie %v, want one: %v", c, tc.flow)
			}
			if c != nil && (!c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/") {
				t.Errorf("flow cookie %s", c)
			}
		})
	}
}

// TestResetStepsInOrder: a step reached too early sends the browser back
// where it belongs; an expired flow starts again at the address, saying
// why.
func TestResetStepsInOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(j *journey) *testenv.Visitor
		path  string
		want  string
	}{
		{"address without a flow", func(j *journey) *testenv.Visitor { return j.visitor() }, "/adresse", lost},
		{"code without a flow", func(j *journey) *testenv.Visitor { return j.visitor() }, "/code", lost},
		{"new password without a flow", func(j *journey) *testenv.Visitor { return j.visitor() }, "/nouveau", lost},
		{"code before the address", func(j *journey) *testenv.Visitor { return j.started() }, "/code", lost + "/adresse"},
		{"new password before the code", func(j *journey) *testenv.Visitor { v, _ := j.asked(demoMail); return v }, "/nouveau", lost + "/code"},
		{"done before the change", func(j *journey) *testenv.Visitor { return j.verified() }, "/termine", lost + "/attente"},
		{"expired flow", func(j *journey) *testenv.Visitor {
			v := j.started()
			j.clock.Advance(16 * time.Minute)
			return v
		}, "/code", lost + "/adresse?expire=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newJourney(t)
			v := tc.setup(j)
			if a := v.Get(lost + tc.path); a.Status != http.StatusSeeOther || a.Location != tc.want {
				t.Fatalf("%d to %q, want 303 to %q", a.Status, a.Location, tc.want)
			}
			if strings.Contains(tc.want, "expire=1") && !strings.Contains(v.Get(tc.want).Body, "Votre demande précédente a expiré") {
				t.Error("the address page does not say why")
			}
		})
	}
}

// tokens are what differs between two visitors whatever happened.
var tokens = regexp.MustCompile(`name="csrf_token" value="[^"]*"`)

// TestResetSameAnswerForAnyAddress: whether an address belongs to an
// account never shows — same status, redirect, cookies and code page —
// and only a known one gets a mail, at the address the directory holds.
func TestResetSameAnswerForAnyAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, address string
		mailed        bool
	}{
		{"known", demoMail, true},
		{"known, typed in capitals", strings.ToUpper(demoMail), true},
		{"unknown", "personne@example.org", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newJourney(t)
			ref, refAnswer := j.asked("quelquun@example.org")
			v, a := j.asked(tc.address)
			if got, want := answerShape(a), answerShape(refAnswer); got != want {
				t.Errorf("address step answered %s, an unknown address %s", got, want)
			}
			if got, want := tokens.ReplaceAllString(v.Get(lost+"/code").Body, ""), tokens.ReplaceAllString(ref.Get(lost+"/code").Body, ""); got != want {
				t.Errorf("code pages differ:\n%s\n---\n%s", got, want)
			}
			if !strings.Contains(a.Location, "/code") {
				t.Errorf("not sent to the code step: %q", a.Location)
			}
			sent := j.mails.All()
			if tc.mailed != (len(sent) == 1) || len(sent) > 1 {
				t.Fatalf("%d mails, want one: %v", len(sent), tc.mailed)
			}
			if tc.mailed && sent[0].To != demoMail {
				t.Errorf("mail to %q, want the directory's %q", sent[0].To, demoMail)
			}
		})
	}
}

func answerShape(a testenv.Answer) string {
	var names []string
	for _, c := range a.Cookies {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return fmt.Sprintf("%d %s %v", a.Status, a.Location, names)
}

// TestResetCodeAttempts: a code is accepted typed loosely; five wrong
// tries kill it, even for the right code after them; an address without
// an account counts tries the same way.
func TestResetCodeAttempts(t *testing.T) {
	t.Parallel()
	loose := func(c string) string { return strings.ToLower(c[:3]) + " " + c[3:] }
	tests := []struct {
		name    string
		address string
		wrong   int
		typed   func(code string) string
		want    string
	}{
		{"right code", demoMail, 0, func(c string) string { return c }, "303 " + lost + "/nouveau"},
		{"typed loosely", demoMail, 0, loose, "303 " + lost + "/nouveau"},
		{"after four wrong", demoMail, 4, func(c string) string { return c }, "303 " + lost + "/nouveau"},
		{"after five wrong", demoMail, 5, func(c string) string { return c }, "200 Ce code n’est plus valable."},
		{"wrong", demoMail, 0, func(string) string { return "ZZZZZZ" }, "200 Le code saisi est incorrect ou a expiré."},
		{"empty", demoMail, 0, func(string) string { return " " }, "200 saisissez le code de sécurité"},
		{"expired", demoMail, -1, func(c string) string { return c }, "200 Ce code n’est plus valable."},
		{"unknown address: wrong", "personne@example.org", 0, func(string) string { return "ZZZZZZ" }, "200 Le code saisi est incorrect ou a expiré."},
		{"unknown address: after five wrong", "personne@example.org", 5, func(string) string { return "ZZZZZZ" }, "200 Ce code n’est plus valable."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newJourney(t)
			v, _ := j.asked(tc.address)
			code := "AAAAAA"
			if tc.address == demoMail {
				code, _ = j.mails.last(t)
			}
			for range tc.wrong {
				j.post(v, lost+"/code", lost+"/code", url.Values{"code": {"ZZZZZZ"}})
			}
			if tc.wrong < 0 {
				j.clock.Advance(reset.DefaultLimits.CodeLifetime + time.Second)
			}
			a := j.post(v, lost+"/code", lost+"/code", url.Values{"code": {tc.typed(code)}})
			status, want, _ := strings.Cut(tc.want, " ")
			got := a.Body
			if a.Status == http.StatusSeeOther {
				got = a.Location
			}
			if fmt.Sprint(a.Status) != status || !strings.Contains(got, want) {
				t.Errorf("%d %q, want %s %q", a.Status, a.Location, status, want)
			}
		})
	}
}

// TestResetResend: « Renvoyer » mails a new code to the address the flow
// knows; the previous code and link stop working.
func TestResetResend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		use  func(j *journey, v *testenv.Visitor, oldCode, oldLink string) testenv.Answer
		want string
	}{
		{"the new code works", func(j *journey, v *testenv.Visitor, _, _ string) testenv.Answer {
			code, _ := j.mails.last(j.t)
			return j.post(v, lost+"/code", lost+"/code", url.Values{"code": {code}})
		}, "303 " + lost + "/nouveau"},
		{"the old code is refused", func(j *journey, v *testenv.Visitor, oldCode, _ string) testenv.Answer {
			return j.post(v, lost+"/code", lost+"/code", url.Values{"code": {oldCode}})
		}, "200 Le code saisi est incorrect"},
		{"the old link is dead", func(j *journey, _ *testenv.Visitor, _, oldLink string) testenv.Answer {
			other := j.visitor()
			other.Get(strings.TrimPrefix(oldLink, "https://idp.example"))
			return other.Get(lost + "/lien")
		}, "200 Ce lien n’est plus valable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newJourney(t)
			v, _ := j.asked(demoMail)
			oldCode, oldLink := j.mails.last(t)
			a := j.post(v, lost+"/code", lost+"/renvoyer", nil)
			j.h.Wait()
			if a.Status != http.StatusSeeOther || a.Location != lost+"/code?renvoi=1" {
				t.Fatalf("resend: %d to %q", a.Status, a.Location)
			}
			if sent := j.mails.All(); len(sent) != 2 || sent[1].To != demoMail {
				t.Fatalf("%d mails after a resend, want 2 to %s", len(sent), demoMail)
			}
			a = tc.use(j, v, oldCode, oldLink)
			status, want, _ := strings.Cut(tc.want, " ")
			got := a.Body
			if a.Status == http.StatusSeeOther {
				got = a.Location
			}
			if fmt.Sprint(a.Status) != status || !strings.Contains(got, want) {
				t.Errorf("%d %q, want %s %q", a.Status, a.Location, status, want)
			}
		})
	}
}

// TestResetLink: the mailed link moves its token to a cookie and out of
// the address bar; showing it never uses it up; « Continuer » uses it
// once, in any browser, and a browser that takes the flow over leaves the
// first one without it.
func TestResetLink(t *testing.T) {
	t.Parallel()
	open := func(j *journey, v *testenv.Visitor, link string) {
		j.t.Helper()
		a := v.Get(strings.TrimPrefix(link, "https://idp.example"))
		c := cookieIn(a.Cookies, "__Host-idp_reset_link")
		if a.Status != http.StatusSeeOther || a.Location != lost+"/lien" || c == nil ||
			!c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
			j.t.Fatalf("opening the link: %d to %q, cookie %v", a.Status, a.Location, c)
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, j *journey, first *testenv.Visitor, link string)
	}{
		{"shown twice, used in the same browser", func(t *testing.T, j *journey, first *testenv.Visitor, link string) {
			open(j, first, link)
			first.Get(lost + "/lien")
			a := j.post(first, lost+"/lien", lost+"/lien", nil)
			if a.Status != http.StatusSeeOther || a.Location != lost+"/nouveau" {
				t.Fatalf("continue: %d to %q", a.Status, a.Location)
			}
			if a := first.Get(lost + "/nouveau"); a.Status != http.StatusOK {
				t.Errorf("new-password step: %d to %q", a.Status, a.Location)
			}
		}},
		{"used once only", func(t *testing.T, j *journey, first *testenv.Visitor, link string) {
			open(j, first, link)
			j.post(first, lost+"/lien", lost+"/lien", nil)
			second := j.visitor()
			open(j, second, link)
			if a := second.Get(lost + "/lien"); !strings.Contains(a.Body, "Ce lien n’est plus valable") {
				t.Errorf("a used link still shows « Continuer »:\n%s", a.Body)
			}
		}},
		{"in another browser: it takes the flow over", func(t *testing.T, j *journey, first *testenv.Visitor, link string) {
			other := j.visitor()
			open(j, other, link)
			if a := j.post(other, lost+"/lien", lost+"/lien", nil); a.Location != lost+"/nouveau" {
				t.Fatalf("continue in another browser: %d to %q", a.Status, a.Location)
			}
			if a := other.Get(lost + "/nouveau"); a.Status != http.StatusOK {
				t.Errorf("the other browser's new-password step: %d to %q", a.Status, a.Location)
			}
			if a := first.Get(lost + "/code"); a.Status != http.StatusSeeOther || !strings.Contains(a.Location, "/adresse?expire=1") {
				t.Errorf("the first browser keeps the flow: %d to %q", a.Status, a.Location)
			}
		}},
		{"a made-up token", func(t *testing.T, j *journey, _ *testenv.Visitor, _ string) {
			v := j.visitor()
			v.Get(lost + "/lien?t=made-up")
			if a := v.Get(lost + "/lien"); !strings.Contains(a.Body, "Ce lien n’est plus valable") {
				t.Errorf("a made-up link is accepted:\n%s", a.Body)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newJourney(t)
			first, _ := j.asked(demoMail)
			_, link := j.mails.last(t)
			tc.run(t, j, first, link)
		})
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

// TestResetNewPasswordPolicy: a new password that breaks a rule is refused
// on the page, saying which, and nothing reaches the directory writer; a
// good one is queued with the flow's account.
func TestResetNewPasswordPolicy(t *testing.T) {
	t.Parallel()
	const good = "Une phrase de passe toute neuve"
	tests := []struct {
		name, pw, confirm, says string
	}{
		{"missing", "", "", "Saisissez un nouveau mot de passe."},
		{"mismatch", "Une-phrase-assez-longue", "Une-phrase-assez-LONGUE", "différents"},
		{"too short", "court-11car", "court-11car", "trop court"},
		{"blocklisted", "azertyuiop12", "azertyuiop12", "trop courant"},
		{"the Région's name", "NouvelleAquitaine2024!", "NouvelleAquitaine2024!", "trop facile à deviner"},
		{"the uid", demoUID + "-et-encore-2024", demoUID + "-et-encore-2024", "trop facile à deviner"},
		{"the address's local part", "jeanne.dupont-et-encore", "jeanne.dupont-et-encore", "trop facile à deviner"},
		{"a control character", "Une phrase\x07 assez longue", "Une phrase\x07 assez longue", "non autorisés"},
		{"good", good, good, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newJourney(t)
			v := j.verified()
			a := j.post(v, lost+"/nouveau", lost+"/nouveau", url.Values{"password": {tc.pw}, "confirmation": {tc.confirm}})
			queued := j.changes.submitted()
			if tc.says != "" {
				if a.Status != http.StatusOK || !strings.Contains(a.Body, tc.says) {
					t.Errorf("%d to %q, want the page saying %q", a.Status, a.Location, tc.says)
				}
				if len(queued) != 0 {
					t.Error("a refused password was queued")
				}
				return
			}
			if a.Status != http.StatusSeeOther || a.Location != lost+"/attente" {
				t.Fatalf("good password: %d to %q\n%s", a.Status, a.Location, a.Body)
			}
			want := reset.Change{Subject: demoSubject, Login: demoUID, Mail: demoMail, Password: good}
			if len(queued) != 1 || queued[0] != want {
				t.Errorf("queued %+v, want %+v", queued, want)
			}
		})
	}
}

// TestResetAfterQueuing: the waiting page while the directory writer
// works, then the page its outcome calls for; a refusal lets the person
// pick another password in the same flow.
func TestResetAfterQueuing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state reset.ChangeState
		next  string // "": still waiting
		says  string // on the page next leads to
	}{
		{"pending", reset.ChangeState{Pending: true}, "", "Modification de votre mot de passe en cours"},
		{"slow", reset.ChangeState{Pending: true, Slow: true, SlowIn: []string{"la messagerie des lycées"}}, "", "La messagerie des lycées ne répond pas"},
		{"done", reset.ChangeState{Done: true}, "/termine", "Votre mot de passe a été modifié"},
		{"partial", reset.ChangeState{Partial: true, NotChangedIn: []string{"la messagerie des lycées"}}, "/termine", "la messagerie des lycées"},
		{"refused: in history", reset.ChangeState{Refused: true, Problem: views.PasswordInHistory}, "/nouveau?refus=historique", "déjà utilisé"},
		{"failed", reset.ChangeState{Failed: true}, "/echec", "Votre mot de passe n’a pas été modifié"},
		{"failed, unconfirmed", reset.ChangeState{Failed: true, Unconfirmed: true}, "/echec?inconnu=1", "n’a pas pu être confirmée"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newJourney(t)
			v := j.verified()
			const pw = "Une phrase de passe toute neuve"
			j.post(v, lost+"/nouveau", lost+"/nouveau", url.Values{"password": {pw}, "confirmation": {pw}})
			j.changes.settle(tc.state)
			a := v.Get(lost + "/attente")
			if tc.next == "" {
				if a.Status != http.StatusOK || !strings.Contains(a.Body, tc.says) {
					t.Fatalf("waiting: %d to %q, want the page saying %q", a.Status, a.Location, tc.says)
				}
				return
			}
			if a.Status != http.StatusSeeOther || a.Location != lost+tc.next {
				t.Fatalf("waiting: %d to %q, want %q", a.Status, a.Location, lost+tc.next)
			}
			if page := v.Get(a.Location); page.Status != http.StatusOK || !strings.Contains(page.Body, tc.says) {
				t.Errorf("%s: %d, not saying %q", a.Location, page.Status, tc.says)
			}
			if tc.state.Refused || tc.state.Failed {
				// Settled: the same verified flow may try again.
				again := j.post(v, lost+"/nouveau", lost+"/nouveau", url.Values{"password": {pw + "!"}, "confirmation": {pw + "!"}})
				if again.Location != lost+"/attente" || len(j.changes.submitted()) != 2 {
					t.Errorf("another password after %s: %d to %q", tc.name, again.Status, again.Location)
				}
			}
		})
	}
}

// TestResetWhileAnotherChangeIsUnderWayFast: a change the directory
// writer turns away because another one of the person is unsettled is
// said on the new-password page; the flow follows no job, and the person
// tries again later in the same flow.
func TestResetWhileAnotherChangeIsUnderWayFast(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	v := j.verified()
	const pw = "Une phrase de passe toute neuve"
	j.changes.busy(true)
	a := j.post(v, lost+"/nouveau", lost+"/nouveau", url.Values{"password": {pw}, "confirmation": {pw}})
	if a.Status != http.StatusOK || !strings.Contains(a.Body, "Une autre modification du mot de passe de ce compte est en cours") {
		t.Fatalf("while another change is under way: %d to %q", a.Status, a.Location)
	}
	if a := v.Get(lost + "/attente"); a.Status != http.StatusSeeOther || a.Location != lost+"/nouveau" {
		t.Errorf("the waiting page follows a job: %d to %q", a.Status, a.Location)
	}
	j.changes.busy(false)
	if a := j.post(v, lost+"/nouveau", lost+"/nouveau", url.Values{"password": {pw}, "confirmation": {pw}}); a.Location != lost+"/attente" {
		t.Errorf("trying again: %d to %q", a.Status, a.Location)
	}
}

// mailbox records queued mail.
type mailbox struct{ testenv.Recorder[reset.Mail] }

func (b *mailbox) Enqueue(_ context.Context, m reset.Mail) error { b.Add(m); return nil }

var codeAndLink = regexp.MustCompile(`^code=(\S+) link=(\S+)$`)

// last returns the code and link of the last mail.
func (b *mailbox) last(t *testing.T) (code, link string) {
	t.Helper()
	all := b.All()
	if len(all) == 0 {
		t.Fatal("no mail")
	}
	m := codeAndLink.FindStringSubmatch(all[len(all)-1].Text)
	if m == nil {
		t.Fatalf("mail %q", all[len(all)-1].Text)
	}
	return m[1], m[2]
}

// changeQueue stands in for the directory writer: changes are recorded
// and stay pending until settle.
type changeQueue struct {
	mu     sync.Mutex
	other  bool // another change of the person is unsettled
	queued []reset.Change
	states map[string]reset.ChangeState
	state  reset.ChangeState
}

func (q *changeQueue) Submit(_ context.Context, c reset.Change) (reset.Queued, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.other {
		return reset.Queued{}, reset.ErrChangeUnderWay
	}
	q.queued = append(q.queued, c)
	q.state = reset.ChangeState{Pending: true}
	return reset.Queued{JobID: fmt.Sprintf("job-%d", len(q.queued))}, nil
}

func (q *changeQueue) State(context.Context, string) (reset.ChangeState, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state, nil
}

func (q *changeQueue) busy(other bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.other = other
}

func (q *changeQueue) settle(s reset.ChangeState) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.state = s
}

func (q *changeQueue) submitted() []reset.Change {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.queued)
}
