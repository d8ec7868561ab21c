package app_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// The guide's words for the choices that leave this journey.
const (
	labelElu     = "Je suis un élu de la Région"
	labelLycees  = "Je suis un agent des lycées"
	labelSiege   = "Je suis un agent du siège"
	labelSupport = "J’ai besoin de support"
	labelUsager  = "Je suis un usager des services de la Région"
)

// evil is where an attacker would like « Continuer » to lead.
const evil = "https://evil.example/phish"

// stubbed answers, in the browser of ctx, every request to the given
// origins with a small page: the test machine cannot reach them, and a
// page that loads proves that the browser went there. It records the
// URLs requested.
type stubbed struct {
	mu   sync.Mutex
	urls []string
}

func (s *stubbed) requested() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.urls...)
}

func stubOrigins(t *testing.T, ctx context.Context, origins ...string) *stubbed {
	t.Helper()
	rec := &stubbed{}
	var patterns []*fetch.RequestPattern
	for _, o := range origins {
		patterns = append(patterns, &fetch.RequestPattern{URLPattern: o + "/*"})
	}
	err := chromedp.Do(ctx, func(_ context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		// Subscribed before Fetch.enable, so no paused request is missed;
		// the loop ends with the browser's context.
		paused := cdp.Events(ctx, tg, fetch.RequestPaused)
		go func() {
			for ev, err := range paused {
				if err != nil {
					return
				}
				rec.mu.Lock()
				rec.urls = append(rec.urls, ev.Request.URL)
				rec.mu.Unlock()
				page := `<!DOCTYPE html><html lang="fr"><head><title>Ailleurs</title></head><body><h1>Page externe</h1><p id="url">` +
					html.EscapeString(ev.Request.URL) + `</p></body></html>`
				_, _ = cdp.Call(ctx, tg, fetch.FulfillRequest, fetch.FulfillRequestParams{
					RequestID: ev.RequestID, ResponseCode: http.StatusOK, Body: []byte(page),
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}},
				})
			}
		}()
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: patterns})
		return chromedp.Void{}, err
	})
	if err != nil {
		t.Fatalf("intercept %v: %v", origins, err)
	}
	return rec
}

func origin(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://" + u.Host
}

// chooseProfile opens the first step, picks label and presses
// « Continuer » as a person would, then waits until the browser is at
// want (or gives up: a form-action violation leaves it where it was).
func chooseProfile(t *testing.T, ctx context.Context, start, label, want string) {
	t.Helper()
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(start)); err != nil {
		t.Fatalf("open %s: %v", start, err)
	}
	if err := chromedp.Do(timeout(t, ctx), chromedp.Click(field(label)), chromedp.Click(button("Continuer"))); err != nil {
		t.Fatalf("choose %q: %v", label, err)
	}
	waitLocation(t, ctx, label, want)
}

func waitLocation(t *testing.T, ctx context.Context, what, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var at string
	for time.Now().Before(deadline) {
		at = location(t, ctx)
		if at == want {
			if err := chromedp.Do(timeout(t, ctx), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("%s: the browser stays at %s, want %s", what, at, want)
}

// TestResetProfilesInBrowser: in Chromium, every profile that is not an
// usager's reaches the page configured for it when the person presses
// « Continuer » — the page's CSP form-action lets that redirect through —
// with the built-in defaults and with deploy/config/idp.yaml.
func TestResetProfilesInBrowser(t *testing.T) {
	t.Run("default profiles, reset URLs and an external support site", func(t *testing.T) {
		urls := map[string]string{
			labelElu:     "https://elus.example.org/mot-de-passe-perdu",
			labelLycees:  "https://lycees.example.net/mdp?source=idp",
			labelSiege:   "https://siege.example.com:8443/mdp",
			labelSupport: "https://support.example.org/aide",
		}
		s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
			c.Profiles = nil // built from reset:, as config.Load does without profiles:
			c.Reset.EluURL, c.Reset.AgentLyceesURL, c.Reset.AgentSiegeURL = urls[labelElu], urls[labelLycees], urls[labelSiege]
			c.Reset.SupportURL, c.SupportURL = urls[labelSupport], urls[labelSupport]
		}})
		ctx := testenv.Browser(t)
		var origins []string
		for _, u := range urls {
			origins = append(origins, origin(t, u))
		}
		stub := stubOrigins(t, ctx, append(origins, origin(t, evil))...)
		for _, label := range []string{labelElu, labelLycees, labelSiege, labelSupport} {
			chooseProfile(t, ctx, s.Issuer+"/mot-de-passe-perdu", label, urls[label])
		}
		chooseProfile(t, ctx, s.Issuer+"/mot-de-passe-perdu", labelUsager, s.Issuer+"/mot-de-passe-perdu/adresse")
		for _, u := range stub.requested() {
			if strings.HasPrefix(u, evil) {
				t.Errorf("the browser was sent to %s", u)
			}
		}
	})

	t.Run("deploy/config/idp.yaml", func(t *testing.T) {
		deploy := deployConfig(t)
		s := startStackWith(t, stackOptions{Config: func(c *config.Config) { adoptProfiles(c, deploy) }})
		ctx := testenv.Browser(t)
		want := map[string]string{labelSupport: s.Issuer + config.SupportPath}
		var origins []string
		for _, p := range deploy.Profiles {
			switch p.LostPassword.Via {
			case config.ViaURL:
				want[p.Label] = p.LostPassword.URL
				origins = append(origins, origin(t, p.LostPassword.URL))
			case config.ViaDirectory:
				want[p.Label] = s.Issuer + "/mot-de-passe-perdu/adresse"
			}
		}
		if len(want) < 5 {
			t.Fatalf("deploy/config/idp.yaml offers %d profiles (%v), want the guide's five", len(want), want)
		}
		stubOrigins(t, ctx, origins...)
		for label, u := range want {
			chooseProfile(t, ctx, s.Issuer+"/mot-de-passe-perdu", label, u)
		}
		chooseProfile(t, ctx, s.Issuer+"/mot-de-passe-perdu", labelSupport, s.Issuer+config.SupportPath)
		for _, detail := range []string{deploy.Support.Email, deploy.Support.Phone, deploy.Support.Hours} {
			if got := text(t, ctx, "main"); !strings.Contains(got, detail) {
				t.Errorf("the support page does not give %q:\n%s", detail, got)
			}
		}
	})
}

// deployConfig parses deploy/config/idp.yaml as the production binary
// would, with stand-in secret files.
func deployConfig(t *testing.T) *config.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "config", "idp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ca := testenv.LoopbackCA(t).PEM()
	files := func(name string) ([]byte, error) {
		if strings.HasSuffix(name, ".pem") {
			return ca, nil
		}
		return []byte(strings.Repeat("ab", 32)), nil
	}
	cfg, err := config.Parse("idp.yaml", data, func(string) (string, bool) { return "", false }, files)
	if err != nil {
		t.Fatalf("deploy/config/idp.yaml: %v", err)
	}
	return cfg
}

// adoptProfiles puts the profiles, reset URLs and support details of
// deploy into the test configuration c; addresses under deploy's own
// public URL (the built-in support page) move to c's.
func adoptProfiles(c, deploy *config.Config) {
	local := func(u string) string {
		if rest, ok := strings.CutPrefix(u, strings.TrimSuffix(deploy.PublicURL, "/")); ok {
			return strings.TrimSuffix(c.PublicURL, "/") + rest
		}
		return u
	}
	c.Profiles = deploy.Profiles
	c.Support = deploy.Support
	c.SupportURL = local(deploy.SupportURL)
	c.Reset.EluURL, c.Reset.AgentLyceesURL, c.Reset.AgentSiegeURL = deploy.Reset.EluURL, deploy.Reset.AgentLyceesURL, deploy.Reset.AgentSiegeURL
	c.Reset.SupportURL = local(deploy.Reset.SupportURL)
	c.Reset.ReturnTo = deploy.Reset.ReturnTo
}

// TestResetProfileTampering: whatever a request adds — an unknown, empty
// or repeated profile, next, return_to or redirect_uri in the query or
// the body — « Continuer » leads only to the configured address of the
// chosen profile or to this provider's pages. return_to is not in the
// (empty) allowlist here: in the query it is refused, in the body ignored.
func TestResetProfileTampering(t *testing.T) {
	const elu = "https://elus.example.org/mdp"
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.Profiles = nil
		c.Reset.EluURL, c.Reset.AgentLyceesURL = elu, ""
		c.Reset.SupportURL, c.SupportURL = "", ""
		c.Reset.ReturnTo = nil
	}})
	support := s.Issuer + config.SupportPath
	extra := url.Values{"next": {evil}, "return_to": {evil}, "redirect_uri": {evil}, "url": {evil}}
	const lost = "/mot-de-passe-perdu"
	// A return_to outside the allowlist in the query gets its own refusal
	// page (checked below and in the sidecar tests); the other
	// destinations are simply ignored there.
	query := url.Values{"next": {evil}, "redirect_uri": {evil}, "url": {evil}}
	tampered := lost + "?" + query.Encode()

	t.Run("over HTTP", func(t *testing.T) {
		tests := []struct {
			name, path string
			form       url.Values
			location   string // "" : the page again, asking to choose
		}{
			{"élu", lost, url.Values{"profil": {"elu"}}, elu},
			{"élu, extra query", tampered, url.Values{"profil": {"elu"}}, elu},
			{"élu, extra body", lost, with(extra, "profil", "elu"), elu},
			{"élu, both", tampered, with(extra, "profil", "elu"), elu},
			{"support, both", tampered, with(extra, "profil", "support"), support},
			{"usager, both", tampered, with(extra, "profil", "usager"), lost + "/adresse"},
			{"unknown profile", tampered, url.Values{"profil": {"agent-inconnu"}}, ""},
			{"profile without an address", lost, url.Values{"profil": {"agent-lycees"}}, ""},
			{"an address as the profile", lost, url.Values{"profil": {evil}}, ""},
			{"empty profile", tampered, with(extra, "profil", ""), ""},
			{"no profile", tampered, extra, ""},
			{"two profiles", lost, url.Values{"profil": {"elu", "usager"}}, ""},
			{"the same profile twice", lost, url.Values{"profil": {"elu", "elu"}}, ""},
			{"profile in the query only", lost + "?profil=elu", url.Values{}, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b := resetClient{newBrowserless(t, s)}
				tok, page := b.formToken(tampered)
				if strings.Contains(page, "evil.example") {
					t.Error("the page repeats an address from the request")
				}
				form := with(tc.form, "csrf_token", tok)
				resp, body := b.post(tc.path, form, nil)
				loc := resp.Header.Get("Location")
				if tc.location != "" {
					if resp.StatusCode != http.StatusSeeOther || loc != tc.location {
						t.Errorf("%d to %q, want 303 to %q", resp.StatusCode, loc, tc.location)
					}
					return
				}
				if resp.StatusCode != http.StatusOK || loc != "" || !strings.Contains(body, "Sélectionnez le cas qui vous concerne") {
					t.Errorf("%d to %q, want the page again asking to choose", resp.StatusCode, loc)
				}
			})
		}
		b := resetClient{newBrowserless(t, s)}
		if resp := b.get(s.Issuer + tampered); resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
			t.Errorf("GET with other destinations: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp := b.get(s.Issuer + lost + "?" + extra.Encode()); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("GET with return_to: %d to %q, want the 400 refusal page", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("in Chromium", func(t *testing.T) {
		ctx := testenv.Browser(t)
		stub := stubOrigins(t, ctx, origin(t, elu), origin(t, evil))
		// A page whose form was altered: extra destinations in its
		// action and as fields, the élu chosen.
		alter := func(value string) string {
			return `(() => {
				const f = document.querySelector('main form');
				f.action = ` + jsString(tampered) + `;
				for (const n of ['next', 'return_to', 'redirect_uri', 'url']) {
					const i = document.createElement('input'); i.type = 'hidden'; i.name = n; i.value = ` + jsString(evil) + `; f.append(i);
				}
				const r = document.getElementById('profil-elu'); r.value = ` + jsString(value) + `; r.checked = true;
			})()`
		}
		for _, tc := range []struct{ name, value, want string }{
			{"extra destinations", "elu", elu},
			{"a profile value changed to an address", evil, s.Issuer + lost},
		} {
			if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(s.Issuer+lost)); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(timeout(t, ctx), chromedp.Evaluate[chromedp.Void](alter(tc.value)), chromedp.Click(button("Continuer"))); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			want := tc.want
			if want == s.Issuer+lost {
				want = s.Issuer + tampered
			}
			waitLocation(t, ctx, tc.name, want)
			if want != elu {
				if got := text(t, ctx, "#erreur"); !strings.Contains(got, "Sélectionnez le cas qui vous concerne") {
					t.Errorf("%s: the page says %q", tc.name, got)
				}
			}
		}
		for _, u := range stub.requested() {
			if strings.HasPrefix(u, evil) {
				t.Errorf("the browser was sent to %s", u)
			}
		}
	})
}

// with returns a copy of v with key set to value.
func with(v url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	out.Set(key, value)
	return out
}
