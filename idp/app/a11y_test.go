package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// siteTitle ends every <title>.
const siteTitle = " – Mes démarches en Nouvelle-Aquitaine"

// brandLink is the header's link home, as the keyboard meets it.
const brandLink = "a Région Nouvelle-Aquitaine Mes démarches en Nouvelle-Aquitaine"

// footerTabOrder is the footer as the keyboard meets it, with the
// Région's default links.
var footerTabOrder = []string{
	"a J’ai besoin de support", "a nouvelle-aquitaine.fr", "a Mes démarches en Nouvelle-Aquitaine",
	"a Accessibilité : partiellement conforme", "a Mentions légales", "a Données personnelles", "a Cookies",
}

// tabOrder is a provider page's order: the skip link, the header's
// link, the page's own elements, then the footer.
func tabOrder(page ...string) []string {
	return slices.Concat([]string{"a Aller au contenu", brandLink}, page, footerTabOrder)
}

// a11y runs the checks every page gets: axe-core with the tags of §7,
// and the structure that axe cannot judge.
type a11y struct {
	t   *testing.T
	axe *testenv.Axe
	ctx context.Context
	// help is where « J’ai besoin de support » sits in the first page
	// checked; every other page must have it at the same place.
	help string
}

// pageFacts is what a page says about its structure.
type pageFacts struct {
	Lang        string   `json:"lang"`
	Title       string   `json:"title"`
	H1          []string `json:"h1"`
	Headers     int      `json:"headers"`
	Mains       int      `json:"mains"`
	Footers     int      `json:"footers"`
	Help        string   `json:"help"`
	A11yLink    bool     `json:"a11yLink"`
	ScrollWidth int      `json:"scrollWidth"`
	ClientWidth int      `json:"clientWidth"`
}

// factsJS describes the page; the help link's place is its path of
// element indexes from <body>.
const factsJS = `(() => {
	const place = el => { const p = []; for (; el && el !== document.body; el = el.parentElement) p.unshift(el.tagName.toLowerCase() + [...el.parentElement.children].indexOf(el)); return p.join('>'); };
	const help = [...document.querySelectorAll('a')].find(a => a.textContent.trim() === 'J’ai besoin de support');
	const d = document.documentElement;
	return {
		lang: d.lang, title: document.title,
		h1: [...document.querySelectorAll('h1')].map(h => h.textContent.trim()),
		headers: document.querySelectorAll('body > header').length,
		mains: document.querySelectorAll('main').length,
		footers: document.querySelectorAll('body > footer').length,
		help: help ? place(help) : '',
		a11yLink: [...document.querySelectorAll('body > footer a[href]')].some(a => a.textContent.trim().startsWith('Accessibilité')),
		scrollWidth: d.scrollWidth, clientWidth: d.clientWidth,
	};
})()`

func (a *a11y) facts(t *testing.T) pageFacts {
	t.Helper()
	f, err := chromedp.Run(a.ctx, chromedp.Evaluate[pageFacts](factsJS))
	if err != nil {
		t.Fatalf("page facts: %v", err)
	}
	return f
}

// check runs axe and the structural checks on the page the browser
// shows. title is the exact <title> and h1 the one heading; "" for
// either accepts any (a page another part of the provider owns), as long
// as the title ends with the site's name and there is one h1. Provider
// pages have the layout's landmarks and help link, the demo site (a
// relying party) does not.
func (a *a11y) check(t *testing.T, name, h1, title string, provider bool) {
	t.Helper()
	if err := chromedp.Do(timeout(t, a.ctx), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	a.axe.Check(t, a.ctx, name)
	f := a.facts(t)
	if f.Lang != "fr" {
		t.Errorf("%s: <html lang=%q>, want fr", name, f.Lang)
	}
	if f.Title != title && (title != "" || !strings.HasSuffix(f.Title, siteTitle)) {
		t.Errorf("%s: <title> %q, want %q", name, f.Title, title)
	}
	if len(f.H1) != 1 || (h1 != "" && f.H1[0] != h1) {
		t.Errorf("%s: h1 %q, want exactly one %q", name, f.H1, h1)
	}
	if provider {
		if f.Headers != 1 || f.Mains != 1 || f.Footers != 1 {
			t.Errorf("%s: %d header, %d main, %d footer landmarks, want one each", name, f.Headers, f.Mains, f.Footers)
		}
		if !f.A11yLink {
			t.Errorf("%s: no accessibility statement link in the footer", name)
		}
		switch {
		case f.Help == "":
			t.Errorf("%s: no « J’ai besoin de support » link", name)
		case a.help == "":
			a.help = f.Help
		case f.Help != a.help:
			t.Errorf("%s: help link at %s, elsewhere at %s", name, f.Help, a.help)
		}
	}
	a.reflow(t, name)
}

// reflow: at 320 CSS px (a 1280 px window at 400 %, or 640 px at
// 200 %) nothing scrolls sideways, neither as it is nor under the
// text-spacing override of WCAG 1.4.12.
func (a *a11y) reflow(t *testing.T, name string) {
	t.Helper()
	if err := chromedp.Do(a.ctx, chromedp.EmulateViewport(320, 640)); err != nil {
		t.Fatal(err)
	}
	f := a.facts(t)
	if f.ScrollWidth > f.ClientWidth {
		t.Errorf("%s: at 320 px the page is %d px wide: horizontal scrolling", name, f.ScrollWidth)
	}
	if _, err := chromedp.Run(a.ctx, chromedp.Evaluate[chromedp.Void](textSpacingJS(true))); err != nil {
		t.Fatal(err)
	}
	f = a.facts(t)
	if _, err := chromedp.Run(a.ctx, chromedp.Evaluate[chromedp.Void](textSpacingJS(false))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(a.ctx, chromedp.ResetViewport()); err != nil {
		t.Fatal(err)
	}
	if f.ScrollWidth > f.ClientWidth {
		t.Errorf("%s: at 320 px with the text-spacing override the page is %d px wide: horizontal scrolling", name, f.ScrollWidth)
	}
}

// textSpacingJS sets (or removes) the text-spacing override on every
// element, through the CSSOM, which the CSP allows, as the bookmarklets
// testers use do.
func textSpacingJS(on bool) string {
	if !on {
		return `document.querySelectorAll('*').forEach(e => ['line-height', 'letter-spacing', 'word-spacing', 'margin-bottom'].forEach(p => e.style.removeProperty(p)))`
	}
	return `document.querySelectorAll('*').forEach(e => {
		e.style.setProperty('line-height', '1.5', 'important');
		e.style.setProperty('letter-spacing', '0.12em', 'important');
		e.style.setProperty('word-spacing', '0.16em', 'important');
		if (e.tagName === 'P') e.style.setProperty('margin-bottom', '2em', 'important');
	})`
}

// focusFacts describes the focused element.
type focusFacts struct {
	Name         string  `json:"name"`
	FocusVisible bool    `json:"focusVisible"`
	Outline      string  `json:"outline"`
	Width        float64 `json:"width"`
	Height       float64 `json:"height"`
	InView       bool    `json:"inView"`
}

// focusJS names the focused element as a person would hear it: its tag
// and its label or text.
const focusJS = `(() => {
	const el = document.activeElement;
	const name = el.labels && el.labels.length ? el.labels[0].textContent : (el.id === 'erreur' ? '#erreur' : el.textContent);
	const s = getComputedStyle(el), r = el.getBoundingClientRect();
	return {
		name: el.tagName.toLowerCase() + ' ' + name.trim().replace(/\s+/g, ' '),
		focusVisible: el.matches(':focus-visible'),
		outline: s.outlineStyle === 'none' || parseFloat(s.outlineWidth) === 0 ? '' : s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor,
		width: r.width, height: r.height,
		inView: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth,
	};
})()`

func (a *a11y) focused(t *testing.T) focusFacts {
	t.Helper()
	f, err := chromedp.Run(a.ctx, chromedp.Evaluate[focusFacts](focusJS))
	if err != nil {
		t.Fatalf("focused element: %v", err)
	}
	return f
}

// tabWalk presses Tab once per wanted element from the top of a freshly
// loaded page: order (the skip link first), a visible
// focus ring, fully in view, and a target of at least 24 × 24 px
// .
func (a *a11y) tabWalk(t *testing.T, name string, want []string) {
	t.Helper()
	var got []string
	for range want {
		if err := chromedp.Do(a.ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		f := a.focused(t)
		got = append(got, f.Name)
		if !f.FocusVisible || f.Outline == "" {
			t.Errorf("%s: %s has no visible focus indicator (outline %q)", name, f.Name, f.Outline)
		}
		if !f.InView {
			t.Errorf("%s: focused %s is not fully in view", name, f.Name)
		}
		if f.Width < 24 || f.Height < 24 {
			t.Errorf("%s: %s is %.0f × %.0f px, under 24 × 24", name, f.Name, f.Width, f.Height)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: Tab order\n%q\nwant\n%q", name, got, want)
	}
}

// skipLink follows the skip link with the keyboard: focus lands on the
// main content.
func (a *a11y) skipLink(t *testing.T, name string) {
	t.Helper()
	if err := chromedp.Do(a.ctx, chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	id, err := chromedp.Run(a.ctx, chromedp.Evaluate[string](`document.activeElement.id`))
	if err != nil || id != "contenu" {
		t.Errorf("%s: after the skip link the focus is on #%s (%v), want the main content", name, id, err)
	}
}

// reload shows the page afresh, focus at the top.
func (a *a11y) reload(t *testing.T) {
	t.Helper()
	if err := chromedp.Do(timeout(t, a.ctx), chromedp.Navigate(location(t, a.ctx)), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
}

func (a *a11y) navigate(t *testing.T, u string) {
	t.Helper()
	if _, err := chromedp.RunResponse(timeout(t, a.ctx), chromedp.Navigate(u)); err != nil {
		t.Fatalf("navigate to %s: %v", u, err)
	}
}

// submitForm posts fields to action from the page the browser shows, as
// a form of that page would (same origin), and waits for the answer.
func (a *a11y) submitForm(t *testing.T, action string, fields url.Values) {
	t.Helper()
	js := `(() => { const f = document.createElement('form'); f.method = 'post'; f.action = ` + jsString(action) + `;`
	for k, vs := range fields {
		for _, v := range vs {
			js += `{ const i = document.createElement('input'); i.type = 'hidden'; i.name = ` + jsString(k) + `; i.value = ` + jsString(v) + `; f.append(i); }`
		}
	}
	js += `document.body.append(f); f.submit(); })()`
	if _, err := chromedp.RunResponse(timeout(t, a.ctx), chromedp.Evaluate[chromedp.Void](js)); err != nil {
		t.Fatalf("submit to %s: %v", action, err)
	}
}

// showAnswer asks for u with method, which no form can send (PUT), and
// shows the answer in place of the page (on the provider's origin, so
// that its stylesheet loads), to check what it would look like.
func (a *a11y) showAnswer(t *testing.T, method, u string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := json.Marshal(readAll(t, resp))
	js := `document.open(); document.write(` + string(page) + `); document.close()`
	if err := chromedp.Do(timeout(t, a.ctx), chromedp.Evaluate[chromedp.Void](js)); err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
}

// loginFormJS describes the login form for the label, autocomplete, paste and required checks.
const loginFormJS = `(() => {
	const fields = [...document.querySelectorAll('input:not([type=hidden])')];
	return {
		fields: fields.map(i => ({
			id: i.id, autocomplete: i.getAttribute('autocomplete') || '', required: i.required,
			labels: i.labels.length, label: i.labels.length ? i.labels[0].textContent.trim() : '',
			labelVisible: i.labels.length > 0 && i.labels[0].getBoundingClientRect().height > 0,
			invalid: i.getAttribute('aria-invalid') || '', describedBy: i.getAttribute('aria-describedby') || '',
			message: i.getAttribute('aria-describedby') ? (document.getElementById(i.getAttribute('aria-describedby')) || {innerText: ''}).innerText.trim() : '',
			pasteAllowed: (() => { const d = new DataTransfer(); d.setData('text/plain', 'x'); return i.dispatchEvent(new ClipboardEvent('paste', {clipboardData: d, cancelable: true, bubbles: true})); })(),
		})),
		autocompleteOff: document.querySelectorAll('[autocomplete=off]').length,
		requiredMention: document.querySelector('main').textContent.includes('Tous les champs sont obligatoires.'),
		focused: document.activeElement.id,
		alert: (document.getElementById('erreur') || {textContent: ''}).textContent.trim(),
	};
})()`

type loginFacts struct {
	Fields []struct {
		ID           string `json:"id"`
		Autocomplete string `json:"autocomplete"`
		Required     bool   `json:"required"`
		Labels       int    `json:"labels"`
		Label        string `json:"label"`
		LabelVisible bool   `json:"labelVisible"`
		Invalid      string `json:"invalid"`
		DescribedBy  string `json:"describedBy"`
		Message      string `json:"message"` // visible text of the describedby element
		PasteAllowed bool   `json:"pasteAllowed"`
	} `json:"fields"`
	AutocompleteOff int    `json:"autocompleteOff"`
	RequiredMention bool   `json:"requiredMention"`
	Focused         string `json:"focused"`
	Alert           string `json:"alert"`
}

// checkLoginForm: labels, autocomplete tokens, paste
// allowed and no autocomplete=off, required and said so
// . With alert, the message #erreur has the focus;
// invalid maps each field marked aria-invalid to the message its
// aria-describedby must name.
func (a *a11y) checkLoginForm(t *testing.T, name string, alert bool, invalid map[string]string) {
	t.Helper()
	f, err := chromedp.Run(a.ctx, chromedp.Evaluate[loginFacts](loginFormJS))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{ // id → label, autocomplete
		"login":    {"Identifiant ou adresse électronique", "username"},
		"password": {"Mot de passe", "current-password"},
	}
	if len(f.Fields) != len(want) {
		t.Errorf("%s: %d fields, want %d", name, len(f.Fields), len(want))
	}
	for _, fd := range f.Fields {
		w, ok := want[fd.ID]
		switch {
		case !ok:
			t.Errorf("%s: unexpected field #%s", name, fd.ID)
		case fd.Labels != 1 || fd.Label != w[0] || !fd.LabelVisible:
			t.Errorf("%s: #%s has %d labels, %q visible=%v; want one visible %q", name, fd.ID, fd.Labels, fd.Label, fd.LabelVisible, w[0])
		case fd.Autocomplete != w[1]:
			t.Errorf("%s: #%s autocomplete=%q, want %q", name, fd.ID, fd.Autocomplete, w[1])
		case !fd.PasteAllowed:
			t.Errorf("%s: pasting into #%s is blocked", name, fd.ID)
		case !fd.Required:
			t.Errorf("%s: #%s is not required", name, fd.ID)
		case invalid[fd.ID] != "" && (fd.Invalid != "true" || fd.DescribedBy != invalid[fd.ID] || fd.Message == ""):
			t.Errorf("%s: #%s aria-invalid=%q aria-describedby=%q (%q), want true and #%s",
				name, fd.ID, fd.Invalid, fd.DescribedBy, fd.Message, invalid[fd.ID])
		case invalid[fd.ID] == "" && (fd.Invalid != "" || fd.DescribedBy != ""):
			t.Errorf("%s: #%s is marked invalid", name, fd.ID)
		}
	}
	if f.AutocompleteOff != 0 {
		t.Errorf("%s: autocomplete=off on %d elements", name, f.AutocompleteOff)
	}
	if !f.RequiredMention {
		t.Errorf("%s: no « Tous les champs sont obligatoires. »", name)
	}
	if alert && (f.Focused != "erreur" || f.Alert == "") {
		t.Errorf("%s: focus on #%s, want the error message #erreur", name, f.Focused)
	}
	if !alert && f.Focused != "" {
		t.Errorf("%s: focus moved to #%s on a fresh page", name, f.Focused)
	}
}
