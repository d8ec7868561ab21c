package app_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// poster posts credentials again and again to one pending sign-in, from
// one cookie jar, with the form token read once.
type poster struct {
	b        *browserless
	loginURL string
	token    string
}

func newPoster(t *testing.T, s *stack) *poster {
	t.Helper()
	b := newBrowserless(t, s)
	loginURL, _ := b.authorize(s.Sites[0], nil)
	m := csrfField.FindStringSubmatch(readAll(t, b.get(loginURL)))
	if m == nil {
		t.Fatal("no form token")
	}
	return &poster{b: b, loginURL: loginURL, token: m[1]}
}

func (p *poster) post(t *testing.T, login, password string) (*http.Response, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.loginURL, strings.NewReader(url.Values{
		"csrf_token": {p.token}, "login": {login}, "password": {password},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.b.s.Issuer)
	start := time.Now()
	resp, err := p.b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, time.Since(start)
}

// TestEnumeration: an unknown account, a wrong password and an
// account locked in the directory (with its right or a wrong password) get
// the same answer — status, page minus the per-visitor tokens and the
// typed identifier, cookie names — and the same time: medians within 50 ms
// over 100 tries each. Throttling is off (it would hold the tries back),
// and the directory's lockout is far away so that the wrong-password
// account stays a wrong-password account.
func TestEnumeration(t *testing.T) {
	locked := person("locked")
	s := startStackWith(t, stackOptions{Slapd: testenv.SlapdOptions{
		MaxFailure: 10_000,
		Accounts:   []testenv.Account{{User: locked, Locked: true}},
	}})
	user := testenv.Users()[0]
	cases := []struct{ name, login, password string }{
		{"unknown account", "personne.inconnue@example.org", "Some-Password-1"},
		{"wrong password", user.UID, "Not-The-Password-1"},
		{"locked, right password", locked.UID, locked.Password},
		{"locked, wrong password", locked.UID, "Not-The-Password-1"},
	}
	posters := make([]*poster, len(cases))
	var first shape
	for i, c := range cases {
		posters[i] = newPoster(t, s)
		resp, _ := posters[i].post(t, c.login, c.password)
		got := shapeOf(t, resp, c.login)
		if !strings.Contains(got.body, "Identifiant ou mot de passe incorrect.") {
			t.Fatalf("%s: not the generic message (%d)", c.name, got.status)
		}
		if i == 0 {
			first = got
		} else if got != first {
			t.Errorf("%s answers differently from %s:\n%d %q\n%s\n---\n%d %q\n%s",
				c.name, cases[0].name, got.status, got.cookies, got.body, first.status, first.cookies, first.body)
		}
	}

	const tries = 100
	times := make([][]time.Duration, len(cases))
	for n := range tries {
		for k := range cases { // interleaved, rotating, so drift hits every case alike
			i := (n + k) % len(cases)
			resp, d := posters[i].post(t, cases[i].login, cases[i].password)
			readAll(t, resp)
			times[i] = append(times[i], d)
		}
	}
	medians := make([]time.Duration, len(cases))
	for i := range cases {
		slices.Sort(times[i])
		medians[i] = times[i][tries/2]
		t.Logf("%-24s median %s", cases[i].name, medians[i])
	}
	if spread := slices.Max(medians) - slices.Min(medians); spread > 50*time.Millisecond {
		t.Errorf("medians differ by %s, more than 50 ms", spread)
	}
}
