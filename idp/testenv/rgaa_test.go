package testenv

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// rgaaHead is the layout of every fixture: a skip link, a visible focus
// ring, bordered controls, and a page that reflows.
const rgaaHead = `<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connexion – Mes démarches en Nouvelle-Aquitaine</title><style>
body { margin: 0; font: 16px/1.4 sans-serif; background: #fff; color: #111; }
.skip { position: absolute; left: -9999px; } .skip:focus { left: 0; top: 0; }
a:focus, button:focus, input:focus { outline: 3px solid #000; outline-offset: 2px; }
button, input { border: 2px solid #333; background: #eee; font: inherit; padding: .5em; }
main { max-width: 40em; padding: 1em; }
%s</style></head><body><a class="skip" href="#contenu">Aller au contenu</a><main id="contenu" tabindex="-1"><h1>Connexion</h1>%s</main></body></html>`

// rgaaForm is the body of the clean fixture.
const rgaaForm = `<form><label for="i">Identifiant</label> <input id="i"> <button>Se connecter</button></form><p><a href="/aide">Aide</a></p>`

// rgaaFixtures are pages each broken in one way the checks must see, and
// the clean one they must pass: name → {extra CSS, body}.
var rgaaFixtures = map[string][2]string{
	"/clean": {"", rgaaForm},
	// A fixed 900 px block: fine at 1280, too wide at 640 and 320.
	"/wide": {".w { width: 900px; }", `<div class="w">Un bloc de largeur fixe</div>` + rgaaForm},
	// An unbreakable address that sticks out of its paragraph at 320.
	"/word": {"", `<p>Code envoyé à quelqu.un.avec.une.adresse.tres.longue@exemple-de-domaine.example.org</p>` + rgaaForm},
	// One line that cannot wrap, cut by overflow: hidden.
	"/clip": {".c { width: 10em; white-space: nowrap; overflow: hidden; }", `<p class="c">Un texte bien trop long pour sa boîte étroite</p>` + rgaaForm},
	// A box exactly one line high: fits at line-height 1.2, not at 1.5.
	"/spacing": {".h { height: 1.2em; line-height: 1.2; overflow: hidden; }", `<div class="h">Une ligne</div>` + rgaaForm},
	// No focus indicator on the link.
	"/nofocus": {"a:focus { outline: none; }", rgaaForm},
	// A pale grey ring on white: 1.61:1.
	"/pale": {"a:focus, button:focus, input:focus { outline-color: #ccc; }", rgaaForm},
	// A ring drawn by box-shadow only: fine, but gone in forced colours.
	"/shadow": {"a:focus, button:focus, input:focus { outline: none; box-shadow: 0 0 0 3px #000; }", rgaaForm},
	// A button drawn by its background only: no edge in forced colours.
	"/flat": {"button { border: none; background: #06c; color: #fff; }", rgaaForm},
	// A spinner that ignores prefers-reduced-motion.
	"/spin": {"@keyframes spin { to { transform: rotate(360deg); } } .s { width: 1em; height: 1em; animation: spin 1s linear infinite; }", `<div class="s"></div>` + rgaaForm},
	// The same spinner, stopped under the preference.
	"/spin-reduced": {"@keyframes spin { to { transform: rotate(360deg); } } .s { width: 1em; height: 1em; animation: spin 1s linear infinite; } @media (prefers-reduced-motion: reduce) { .s { animation: none; } }", `<div class="s"></div>` + rgaaForm},
	// A positive tabindex and a focusable element nobody can see.
	"/order": {".ghost { opacity: 0; }", `<p><a href="/b">B</a> <a href="/a" tabindex="2">A</a> <a class="ghost" href="/g">Fantôme</a></p>` + rgaaForm},
	// No skip link: the first stop is the field.
	"/noskip": {".skip { display: none; }", rgaaForm},
	// Links laid out right to left: the second sits left of the first.
	"/reversed": {".r { display: flex; flex-direction: row-reverse; justify-content: flex-end; gap: 1em; }", `<p class="r"><a href="/1">Premier</a><a href="/2">Second</a></p>` + rgaaForm},
	// A strict CSP: the text-spacing override must still apply.
	"/csp": {"", rgaaForm},
}

func serveRGAAFixtures(t *testing.T) string {
	t.Helper()
	return serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := rgaaFixtures[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path == "/csp" {
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'sha256-none'")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, rgaaHead, f[0], f[1])
	}))
}

// TestRGAAChecks proves each check able to fail: every fixture broken in
// one way is caught by the check for it, and the clean fixture passes
// them all.
func TestRGAAChecks(t *testing.T) {
	t.Parallel()
	base := serveRGAAFixtures(t)
	ctx := Browser(t)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	open := func(t *testing.T, path string, width int64) {
		t.Helper()
		if err := SetViewport(ctx, width, 1); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(base+path)); err != nil {
			t.Fatal(err)
		}
	}
	must := func(t *testing.T, p []string, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := func(t *testing.T, check string, p []string, fail bool, substr string) {
		t.Helper()
		joined := strings.Join(p, "\n")
		switch {
		case fail && (len(p) == 0 || !strings.Contains(joined, substr)):
			t.Errorf("%s found %q, want a problem with %q", check, p, substr)
		case !fail && len(p) > 0:
			t.Errorf("%s found %q on a page without that defect", check, p)
		}
	}

	t.Run("reflow", func(t *testing.T) {
		for _, tc := range []struct {
			path   string
			width  int64
			scale  float64
			fail   bool
			substr string
		}{
			{"/clean", 320, 1, false, ""},
			{"/clean", 640, 2, false, ""},
			{"/wide", 1280, 1, false, ""},
			{"/wide", 640, 2, true, "horizontal scrolling"},
			{"/wide", 320, 1, true, "horizontal scrolling: the page is"},
			{"/clip", 1280, 1, true, "text clipped sideways by overflow hidden"},
			{"/word", 1280, 1, false, ""},
			{"/word", 320, 1, true, "text past the right edge of the window: p «Code envoyé"},
		} {
			open(t, tc.path, 1280)
			p, err := ReflowAt(ctx, tc.width, tc.scale, 1280)
			p = must(t, p, err)
			want(t, fmt.Sprintf("Reflow of %s at %d×%g", tc.path, tc.width, tc.scale), p, tc.fail, tc.substr)
		}
		// ReflowAt puts the viewport back.
		if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`innerWidth`)); err != nil || w != 1280 {
			t.Errorf("viewport after ReflowAt: %d (%v), want 1280", w, err)
		}
	})

	t.Run("text spacing", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			fail bool
		}{{"/clean", false}, {"/csp", false}, {"/spacing", true}} {
			open(t, tc.path, 320)
			// Without the override the fixture is fine.
			p0, err := Reflow(ctx)
			want(t, "Reflow of "+tc.path, must(t, p0, err), false, "")
			p, err := TextSpacing(ctx)
			p = must(t, p, err)
			want(t, "TextSpacing of "+tc.path, p, tc.fail, "text clipped vertically")
			// And the override is gone afterwards.
			p1, err := Reflow(ctx)
			want(t, "Reflow of "+tc.path+" after TextSpacing", must(t, p1, err), false, "")
		}
	})

	t.Run("focus visible", func(t *testing.T) {
		for _, tc := range []struct {
			path   string
			fail   bool
			substr string
			min    float64 // least contrast measured, to 0.01
		}{
			{"/clean", false, "", 21},
			{"/shadow", false, "", 21},
			{"/nofocus", true, "a «Aide»: no visible focus indicator", 21},
			{"/pale", true, "contrast 1.61:1 < 3:1", 1.61},
		} {
			open(t, tc.path, 1280)
			stops, err := FocusWalk(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(stops) != 4 {
				t.Errorf("%s: %d stops, want 4: %+v", tc.path, len(stops), stops)
			}
			p, min := FocusVisible(stops)
			want(t, "FocusVisible of "+tc.path, p, tc.fail, tc.substr)
			if diff := min - tc.min; diff > 0.01 || diff < -0.01 {
				t.Errorf("%s: least focus contrast %.2f, want %.2f", tc.path, min, tc.min)
			}
		}
	})

	t.Run("tab order", func(t *testing.T) {
		for _, tc := range []struct {
			path   string
			fail   bool
			substr string
		}{
			{"/clean", false, ""},
			{"/order", true, "positive tabindex changes the order: a tabindex=2"},
			{"/order", true, "a «A» comes after a «Aide» although it is before it in the page"},
			{"/noskip", true, "first tab stop is input#i"},
			{"/order", true, "which is hidden (opacity 0)"},
			{"/reversed", true, "a «Second» comes after a «Premier» but sits to its left on the same line"},
		} {
			open(t, tc.path, 1280)
			stops, err := FocusWalk(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p, err := TabOrder(ctx, stops)
			want(t, "TabOrder of "+tc.path, must(t, p, err), tc.fail, tc.substr)
		}
		// A page that moved the focus (to an error message) is walked from
		// the top all the same.
		open(t, "/clean", 1280)
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('i').focus()`)); err != nil {
			t.Fatal(err)
		}
		stops, err := FocusWalk(ctx)
		if err != nil || len(stops) == 0 || !strings.Contains(stops[0].Name, SkipLinkText) {
			t.Errorf("walk after a moved focus starts at %+v (%v)", stops, err)
		}
	})

	t.Run("forced colours", func(t *testing.T) {
		for _, tc := range []struct {
			path   string
			fail   bool
			substr string
		}{
			{"/clean", false, ""},
			{"/shadow", true, "has no focus outline"},
			{"/flat", true, "button «Se connecter» has no border or outline"},
		} {
			open(t, tc.path, 1280)
			p, err := ForcedColors(ctx)
			want(t, "ForcedColors of "+tc.path, must(t, p, err), tc.fail, tc.substr)
		}
		if on, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`matchMedia('(forced-colors: active)').matches`)); err != nil || on {
			t.Errorf("forced colours still on after the check (%v)", err)
		}
	})

	t.Run("reduced motion", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			fail bool
		}{{"/clean", false}, {"/spin-reduced", false}, {"/spin", true}} {
			open(t, tc.path, 1280)
			p, err := ReducedMotion(ctx)
			want(t, "ReducedMotion of "+tc.path, must(t, p, err), tc.fail, "animation spin on div.s runs forever")
		}
		if on, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`matchMedia('(prefers-reduced-motion: reduce)').matches`)); err != nil || on {
			t.Errorf("reduced motion still on after the check (%v)", err)
		}
	})
}

func TestTitleForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		title string
		ok    bool
	}{
		{"Connexion – Mes démarches en Nouvelle-Aquitaine", true},
		{"Votre adresse e-mail – Mot de passe perdu – Mes démarches en Nouvelle-Aquitaine", true},
		{"Erreur\u00a0: Connexion – Mes démarches en Nouvelle-Aquitaine", true},
		{"", false},
		{"Connexion", false},
		{"Mes démarches en Nouvelle-Aquitaine", false},
		{"Connexion - Mes démarches en Nouvelle-Aquitaine", false},
		{"Connexion | Mes démarches en Nouvelle-Aquitaine", false},
		{"Connexion – Région Nouvelle-Aquitaine", false},
		{"A – B – C – Mes démarches en Nouvelle-Aquitaine", false},
		{" – Mes démarches en Nouvelle-Aquitaine", false},
		{"Connexion – Mes démarches en Nouvelle-Aquitaine ", false},
	} {
		if p := TitleForm(tc.title); (len(p) == 0) != tc.ok {
			t.Errorf("TitleForm(%q) = %q, want ok=%v", tc.title, p, tc.ok)
		}
	}
	ts := NewTitles()
	if ts.Add("login", "Connexion – S") != "" || ts.Add("login", "Connexion – S") != "" {
		t.Error("one page's states may share a title")
	}
	if other := ts.Add("expired", "Connexion – S"); other != "login" {
		t.Errorf("a second page with the same title: %q, want login", other)
	}
}
