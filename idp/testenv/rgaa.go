package testenv

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Scripted RGAA checks that axe-core does not make: each runs on the page a
// Chromium tab shows and returns the problems it found, as sentences that
// name the element and the measured value, so that a failing test says
// what to fix. An error is returned only when the check itself could not
// run (the page went away, the script failed).

// SiteName ends every page title.
const SiteName = "Mes démarches en Nouvelle-Aquitaine"

// TitleSeparator separates the parts of a page title: an en dash between
// spaces.
const TitleSeparator = " – "

// SkipLinkText is the text of the first tab stop of every page.
const SkipLinkText = "Aller au contenu"

// viewportHeight is the height of every emulated viewport: tall enough
// for a form, short enough that long pages scroll.
const viewportHeight = 800

// SetViewport emulates a window of width CSS pixels at the given device
// scale factor: (1280, 1) is a desktop, (320, 1) a small phone, and
// (640, 2) a 1280 px window zoomed to 200 %, which lays the page out in
// 640 CSS pixels exactly as the browser zoom does.
func SetViewport(ctx context.Context, width int64, scale float64) error {
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, viewportHeight, chromedp.EmulateScale(scale))); err != nil {
		return err
	}
	return settle(ctx)
}

// settle waits two animation frames, so that the style and layout of an
// emulation change are in place before a measure.
func settle(ctx context.Context) error {
	return chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r())))`, chromedp.EvalAwaitPromise))
}

// overflowJS measures, at the current viewport, what a person would lose:
// a page wider than the window (horizontal scrolling), text cut by an
// element whose overflow is hidden or clipped or ends in an ellipsis, and
// text laid out past the right edge of the window. Visually hidden text
// (1 px boxes, the usual screen-reader-only pattern) is meant to be
// invisible and is not counted.
const overflowJS = `(() => {
	const out = [], W = innerWidth, d = document.documentElement;
	const sw = Math.max(d.scrollWidth, document.body ? document.body.scrollWidth : 0);
	const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.classList.length ? '.' + [...el.classList].join('.') : '') +
		' «' + (el.innerText || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 40) + '»';
	const shown = el => { for (let e = el; e; e = e.parentElement) { const s = getComputedStyle(e); if (s.display === 'none' || s.visibility === 'hidden' || s.opacity === '0') return false; } return true; };
	// The right edge of an element's own text: a long word (an e-mail
	// address) overflows its box without widening it.
	const textRight = el => {
		let right = -Infinity;
		for (const n of el.childNodes) {
			if (n.nodeType !== 3 || n.textContent.trim() === '') continue;
			const range = document.createRange();
			range.selectNodeContents(n);
			right = Math.max(right, range.getBoundingClientRect().right);
		}
		return right;
	};
	if (sw > W + 1) {
		// Name the innermost elements that stick out, the ones to fix.
		const edge = e => Math.max(e.getBoundingClientRect().right, textRight(e));
		const wide = [...document.body.querySelectorAll('*')].filter(e => edge(e) > W + 1 && e.getBoundingClientRect().left < W &&
			![...e.children].some(c => edge(c) > W + 1)).slice(0, 3).map(e => name(e) + ' to ' + Math.round(edge(e)) + ' px');
		out.push('horizontal scrolling: the page is ' + sw + ' CSS px wide in a ' + W + ' px window' + (wide.length ? ' (' + wide.join('; ') + ')' : ''));
	}
	let past = 0;
	for (const el of document.body.querySelectorAll('*')) {
		if (el.closest('svg, script, style, template, noscript, select')) continue;
		const r = el.getBoundingClientRect();
		if (r.width <= 1 || r.height <= 1) continue;
		const s = getComputedStyle(el);
		if (s.display === 'none' || s.visibility === 'hidden') continue;
		if (el.matches('input, textarea')) continue; // their value scrolls inside by design
		const text = (el.innerText || '').trim() !== '';
		const cut = v => v === 'hidden' || v === 'clip';
		if (text && shown(el)) {
			if (cut(s.overflowX) && el.scrollWidth > el.clientWidth + 1) out.push('text clipped sideways by overflow ' + s.overflowX + ': ' + name(el) + ' shows ' + el.clientWidth + ' of ' + el.scrollWidth + ' px');
			else if (cut(s.overflowY) && el.scrollHeight > el.clientHeight + 1) out.push('text clipped vertically by overflow ' + s.overflowY + ': ' + name(el) + ' shows ' + el.clientHeight + ' of ' + el.scrollHeight + ' px');
			else if (s.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1) out.push('text cut by an ellipsis: ' + name(el));
		}
		const tr = textRight(el);
		if (tr > W + 1 && r.left < W && shown(el) && past++ < 5) out.push('text past the right edge of the window: ' + name(el) + ' ends at ' + Math.round(tr) + ' px');
	}
	return out;
})()`

// Reflow reports horizontal scrolling and clipped text at the viewport
// currently emulated (WCAG 1.4.10, RGAA 10.11); call SetViewport first.
func Reflow(ctx context.Context) ([]string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]string](overflowJS))
}

// ReflowAt emulates width at scale, measures as Reflow does, and puts the
// viewport back to restoreWidth at scale 1.
func ReflowAt(ctx context.Context, width int64, scale float64, restoreWidth int64) ([]string, error) {
	if err := SetViewport(ctx, width, scale); err != nil {
		return nil, err
	}
	p, err := Reflow(ctx)
	if rerr := SetViewport(ctx, restoreWidth, 1); err == nil {
		err = rerr
	}
	for i := range p {
		p[i] = fmt.Sprintf("at %d CSS px (scale %g): %s", width, scale, p[i])
	}
	return p, err
}

// textSpacingCSS is the override of WCAG 1.4.12 (RGAA 10.12).
const textSpacingCSS = `* { line-height: 1.5 !important; letter-spacing: 0.12em !important; word-spacing: 0.16em !important; }
p { margin-bottom: 2em !important; }`

// textSpacingJS adds the override as a constructed style sheet: the page's
// Content-Security-Policy (style-src) governs <style> elements and style
// attributes, not the CSSOM, so this works on every page. It returns the
// letter spacing of <body> so that the caller can prove the override took.
const textSpacingJS = `(() => {
	const sheet = new CSSStyleSheet();
	sheet.replaceSync(%s);
	window.__rgaaSpacing = sheet;
	document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
	const s = getComputedStyle(document.body);
	return parseFloat(s.letterSpacing) / parseFloat(s.fontSize);
})()`

const textSpacingUndoJS = `(() => {
	document.adoptedStyleSheets = document.adoptedStyleSheets.filter(s => s !== window.__rgaaSpacing);
	delete window.__rgaaSpacing;
})()`

// TextSpacing applies the text-spacing override of WCAG 1.4.12 (line
// height 1.5, paragraph spacing 2em, letter spacing 0.12em, word spacing
// 0.16em) and reports what Reflow then finds at the current viewport; the
// override is removed afterwards.
func TextSpacing(ctx context.Context) ([]string, error) {
	ratio, err := chromedp.Run(ctx, chromedp.Evaluate[float64](fmt.Sprintf(textSpacingJS, jsQuote(textSpacingCSS))))
	if err != nil {
		return nil, fmt.Errorf("text spacing: %w", err)
	}
	defer func() { _ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](textSpacingUndoJS)) }()
	if math.Abs(ratio-0.12) > 0.01 {
		return nil, fmt.Errorf("text spacing: the override did not apply (letter-spacing %.3fem)", ratio)
	}
	if err := settle(ctx); err != nil {
		return nil, err
	}
	p, err := Reflow(ctx)
	for i := range p {
		p[i] = "with the text spacing of WCAG 1.4.12: " + p[i]
	}
	return p, err
}

// jsQuote makes a JavaScript string literal of s.
func jsQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "'", `\'`, "\n", `\n`, "\r", `\r`, "\u2028", `\u2028`, "\u2029", `\u2029`)
	return "'" + r.Replace(s) + "'"
}

// FocusStop is one element that Tab reached.
type FocusStop struct {
	Name     string  `json:"name"`     // tag and accessible text
	Href     string  `json:"href"`     // a link's target as written
	DOMIndex int     `json:"domIndex"` // place in document order
	Top      float64 `json:"top"`      // page coordinates, while focused
	Left     float64 `json:"left"`
	Bottom   float64 `json:"bottom"`
	Right    float64 `json:"right"`
	Hidden   string  `json:"hidden"`   // why a person cannot see it, or ""
	Tabindex int     `json:"tabindex"` // the attribute, 0 when absent
	// Indicator is what changed on focus: "outline", "box-shadow", or ""
	// when nothing visible did.
	Indicator string `json:"indicator"`
	Outline   string `json:"outline"` // the computed outline while focused
	// Color and Behind are the indicator's colour and the background it is
	// drawn on, and Contrast their ratio (0 when there is no indicator or
	// the background is an image).
	Color    string  `json:"color"`
	Behind   string  `json:"behind"`
	Contrast float64 `json:"contrast"`
	// Repeat: focus came back to a stop already seen (the walk ends).
	Repeat bool `json:"repeat"`
	// Out: focus left the document's elements (the walk ends).
	Out bool `json:"out"`
}

// focusStartJS records how every focusable element looks at rest (the
// focus indicator is what changes from it) and puts the sequential focus
// starting point at the top of the page with an unfocusable marker, as
// on a freshly loaded page, even where the page moved the focus to an
// error message.
const focusStartJS = `(() => {
	if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
	const rest = new Map();
	for (const el of document.querySelectorAll('*')) {
		if (el.tabIndex < 0 && !el.matches('a[href], button, input, select, textarea, summary, [tabindex]')) continue;
		const s = getComputedStyle(el);
		rest.set(el, {outline: s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor, shadow: s.boxShadow});
	}
	const start = document.createElement('span');
	start.tabIndex = -1;
	start.id = '__rgaa-start';
	document.body.prepend(start);
	start.focus({preventScroll: true});
	window.__rgaa = {rest, seen: new Set(), start};
	scrollTo(0, 0);
})()`

const focusEndJS = `(() => { if (window.__rgaa) { window.__rgaa.start.remove(); delete window.__rgaa; } if (document.activeElement) document.activeElement.blur(); scrollTo(0, 0); })()`

// focusStopJS describes the focused element. Colours go through a canvas,
// which turns any CSS colour syntax into sRGB bytes; the background behind
// an indicator is the blend of the backgrounds from the root down to the
// element it is drawn on (its own for an inset indicator, its parent's for
// one drawn outside).
const focusStopJS = `(() => {
	const g = window.__rgaa, el = document.activeElement;
	if (!el || el === document.body || el === g.start || el === document.documentElement) return {out: true};
	if (g.seen.has(el)) return {repeat: true, name: el.tagName.toLowerCase()};
	g.seen.add(el);
	const cv = new OffscreenCanvas(1, 1).getContext('2d', {willReadFrequently: true});
	const rgba = c => { cv.clearRect(0, 0, 1, 1); cv.fillStyle = 'rgba(0,0,0,0)'; cv.fillStyle = c; cv.fillRect(0, 0, 1, 1); const d = cv.getImageData(0, 0, 1, 1).data; return [d[0], d[1], d[2], d[3] / 255]; };
	let image = false;
	const behind = start => {
		const chain = [];
		for (let e = start; e; e = e.parentElement) chain.unshift(e);
		let c = [255, 255, 255];
		for (const e of chain) {
			const s = getComputedStyle(e);
			if (s.backgroundImage !== 'none') image = true;
			const [r, gg, b, a] = rgba(s.backgroundColor);
			c = [r * a + c[0] * (1 - a), gg * a + c[1] * (1 - a), b * a + c[2] * (1 - a)];
		}
		return c;
	};
	const lum = c => { const f = v => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
	const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
	const hex = c => '#' + c.map(v => Math.round(v).toString(16).padStart(2, '0')).join('');
	const s = getComputedStyle(el), r = el.getBoundingClientRect();
	const rest = g.rest.get(el) || {outline: '', shadow: 'none'};
	const outline = s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor;
	const oc = rgba(s.outlineColor);
	const outlineShown = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1 && (oc[3] > 0 || matchMedia('(forced-colors: active)').matches);
	const shadowShown = s.boxShadow !== 'none' && s.boxShadow !== rest.shadow;
	let indicator = '', color = null, host = el.parentElement || el;
	if (outlineShown && outline !== rest.outline) {
		indicator = 'outline';
		color = oc;
		if (parseFloat(s.outlineOffset) < 0) host = el;
	} else if (shadowShown) {
		indicator = 'box-shadow';
		const m = s.boxShadow.match(/^(rgba?\([^)]*\)|#[0-9a-f]+|[a-z]+\([^)]*\))/i);
		color = rgba(m ? m[1] : s.color);
		if (/\binset\b/.test(s.boxShadow)) host = el;
	}
	let hidden = '';
	for (let e = el; e; e = e.parentElement) {
		const es = getComputedStyle(e);
		if (es.visibility === 'hidden') hidden = 'visibility: hidden';
		else if (es.opacity === '0') hidden = 'opacity 0';
		else if (e.getAttribute('aria-hidden') === 'true') hidden = 'inside aria-hidden=true';
		else if (e.inert) hidden = 'inert';
		if (hidden) break;
	}
	if (!hidden && (r.width < 1 || r.height < 1)) hidden = 'size ' + r.width + ' × ' + r.height;
	if (!hidden && (r.bottom <= 0 || r.right <= 0 || r.top >= innerHeight || r.left >= innerWidth)) hidden = 'outside the window at ' + Math.round(r.left) + ',' + Math.round(r.top);
	const all = document.getElementsByTagName('*');
	let domIndex = 0; for (; domIndex < all.length && all[domIndex] !== el; domIndex++);
	const label = el.labels && el.labels.length ? el.labels[0].textContent : (el.getAttribute('aria-label') || el.textContent || el.value || '');
	const out = {
		name: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' «' + label.trim().replace(/\s+/g, ' ').slice(0, 50) + '»',
		href: el.getAttribute('href') || '', domIndex,
		top: r.top + scrollY, left: r.left + scrollX, bottom: r.bottom + scrollY, right: r.right + scrollX,
		hidden, tabindex: parseInt(el.getAttribute('tabindex') || '0', 10) || 0,
		indicator, outline, color: '', behind: '', contrast: 0,
	};
	if (color) {
		const back = behind(host);
		const c = [color[0] * color[3] + back[0] * (1 - color[3]), color[1] * color[3] + back[1] * (1 - color[3]), color[2] * color[3] + back[2] * (1 - color[3])];
		out.color = hex(c); out.behind = hex(back);
		out.contrast = image ? 0 : Math.round(ratio(c, back) * 100) / 100;
		if (image) out.behind += ' (background image: not measured)';
	}
	return out;
})()`

// maxTabStops bounds a walk: no page of the provider has half as many.
const maxTabStops = 150

// FocusWalk presses Tab from the top of the page until focus leaves the
// document or comes back to an element already seen, and describes each
// stop. The page's focus is reset afterwards.
func FocusWalk(ctx context.Context) ([]FocusStop, error) {
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](focusStartJS)); err != nil {
		return nil, fmt.Errorf("focus walk: %w", err)
	}
	defer func() { _ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](focusEndJS)) }()
	var stops []FocusStop
	for range maxTabStops {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			return nil, fmt.Errorf("focus walk: %w", err)
		}
		s, err := chromedp.Run(ctx, chromedp.Evaluate[FocusStop](focusStopJS))
		if err != nil {
			return nil, fmt.Errorf("focus walk: %w", err)
		}
		if s.Out || s.Repeat {
			return stops, nil
		}
		stops = append(stops, s)
	}
	return stops, fmt.Errorf("focus walk: more than %d tab stops", maxTabStops)
}

// MinFocusContrast is the least contrast a focus indicator needs against
// the background it is drawn on (WCAG 1.4.11 and 2.4.7, RGAA 3.3 and 10.7).
const MinFocusContrast = 3.0

// FocusVisible reports the stops with no visible focus indicator (no
// outline or box-shadow that appears on focus) or one whose colour has
// less than MinFocusContrast against its background, and returns the
// least contrast measured (0 when no stop had a measurable indicator).
func FocusVisible(stops []FocusStop) (problems []string, minContrast float64) {
	for _, s := range stops {
		switch {
		case s.Indicator == "":
			problems = append(problems, fmt.Sprintf("%s: no visible focus indicator (outline while focused %q, no box-shadow change)", s.Name, s.Outline))
		case s.Contrast == 0:
			// Drawn over a background image: the ratio is not measurable
			// here and the stop does not count towards the minimum.
		default:
			if minContrast == 0 || s.Contrast < minContrast {
				minContrast = s.Contrast
			}
			if s.Contrast < MinFocusContrast {
				problems = append(problems, fmt.Sprintf("%s: focus %s %s on %s, contrast %.2f:1 < %.0f:1", s.Name, s.Indicator, s.Color, s.Behind, s.Contrast, MinFocusContrast))
			}
		}
	}
	return problems, minContrast
}

// visualSlack absorbs sub-pixel differences between elements of one line.
const visualSlack = 2

// TabOrder reports a walk whose order a person cannot follow: a first stop
// other than the skip link (« Aller au contenu » to an element of the
// page), a positive tabindex, a stop that is hidden while focused, a stop
// that comes before the previous one in the document, or one that jumps
// back up and to the left of it, or to its left on the same line. An empty
// walk is a problem too: every page has at least the skip link.
func TabOrder(ctx context.Context, stops []FocusStop) ([]string, error) {
	var problems []string
	if len(stops) == 0 {
		return []string{"Tab reaches no element"}, nil
	}
	first := stops[0]
	if !strings.HasPrefix(first.Name, "a") || !strings.Contains(first.Name, "«"+SkipLinkText+"»") || !strings.HasPrefix(first.Href, "#") || len(first.Href) < 2 {
		problems = append(problems, fmt.Sprintf("first tab stop is %s (href %q), want the skip link « %s » to an anchor", first.Name, first.Href, SkipLinkText))
	} else {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.getElementById(`+jsQuote(first.Href[1:])+`)`))
		if err != nil {
			return nil, err
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("the skip link leads to %s, which is not on the page", first.Href))
		}
	}
	positive, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[tabindex]')].filter(e => parseInt(e.getAttribute('tabindex'), 10) > 0).map(e => e.tagName.toLowerCase() + ' tabindex=' + e.getAttribute('tabindex'))`))
	if err != nil {
		return nil, err
	}
	for _, p := range positive {
		problems = append(problems, "positive tabindex changes the order: "+p)
	}
	for i, s := range stops {
		if s.Hidden != "" {
			problems = append(problems, fmt.Sprintf("focus lands on %s, which is hidden (%s)", s.Name, s.Hidden))
		}
		if i == 0 {
			continue
		}
		p := stops[i-1]
		sameLine := s.Top < p.Bottom-visualSlack && s.Bottom > p.Top+visualSlack
		switch {
		case s.DOMIndex < p.DOMIndex:
			problems = append(problems, fmt.Sprintf("%s comes after %s although it is before it in the page", s.Name, p.Name))
		case sameLine && s.Right <= p.Left+visualSlack:
			problems = append(problems, fmt.Sprintf("%s comes after %s but sits to its left on the same line", s.Name, p.Name))
		case !sameLine && s.Bottom <= p.Top+visualSlack && s.Left < p.Left-visualSlack:
			problems = append(problems, fmt.Sprintf("%s comes after %s but sits above and to the left of it", s.Name, p.Name))
		}
	}
	return problems, nil
}

// emulateMedia sets media features; with none it clears those the checks
// set (an empty list would leave them as they are: the protocol clears a
// feature given with an empty value).
func emulateMedia(ctx context.Context, features ...*emulation.MediaFeature) error {
	if len(features) == 0 {
		features = []*emulation.MediaFeature{{Name: "forced-colors", Value: ""}, {Name: "prefers-reduced-motion", Value: ""}}
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features}); err != nil {
		return err
	}
	return settle(ctx)
}

// controlsBorderJS lists the visible buttons and text controls with no
// border and no outline: in forced colours the browser drops backgrounds
// and box shadows, so such a control has no visible edge.
const controlsBorderJS = `(() => {
	const out = [];
	const sel = 'button, input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=image]), select, textarea, [role=button], a.button';
	for (const el of document.querySelectorAll(sel)) {
		const r = el.getBoundingClientRect(), s = getComputedStyle(el);
		if (r.width <= 1 || r.height <= 1 || s.visibility === 'hidden') continue;
		const sides = ['Top', 'Right', 'Bottom', 'Left'].filter(k => s['border' + k + 'Style'] !== 'none' && s['border' + k + 'Style'] !== 'hidden' && parseFloat(s['border' + k + 'Width']) >= 1);
		const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1;
		if (!sides.length && !outline) out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' «' + (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 40) + '» has no border or outline');
	}
	return out;
})()`

// ForcedColors emulates forced-colors: active (Windows high contrast) and
// reports buttons and fields with no visible edge and focus stops with no
// outline (the box shadows that draw many focus rings are dropped in
// that mode). The emulation is cleared afterwards.
func ForcedColors(ctx context.Context) ([]string, error) {
	if err := emulateMedia(ctx, &emulation.MediaFeature{Name: "forced-colors", Value: "active"}); err != nil {
		return nil, fmt.Errorf("forced colors: %w", err)
	}
	defer func() { _ = emulateMedia(ctx) }()
	active, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`matchMedia('(forced-colors: active)').matches`))
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, fmt.Errorf("forced colors: the emulation did not apply")
	}
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](controlsBorderJS))
	if err != nil {
		return nil, err
	}
	for i := range problems {
		problems[i] = "in forced colours: " + problems[i]
	}
	stops, err := FocusWalk(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range stops {
		if s.Indicator != "outline" {
			problems = append(problems, fmt.Sprintf("in forced colours: %s has no focus outline (outline %q)", s.Name, s.Outline))
		}
	}
	return problems, nil
}

// MaxMotion is the longest animation or transition, in seconds, that
// prefers-reduced-motion: reduce still allows.
const MaxMotion = 0.1

// motionJS lists, under the emulated preference, the animations running
// in the document (CSS animations and transitions, and script-made ones)
// longer than MaxMotion, and the elements that declare a transition of a
// property that moves things (position, size, transform) longer than
// that, which would run at the first hover or focus.
const motionJS = `(() => {
	const max = %g * 1000, out = [];
	const name = el => el ? el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.classList && el.classList.length ? '.' + [...el.classList].join('.') : '') : '?';
	for (const a of document.getAnimations()) {
		if (a.playState !== 'running') continue;
		const t = a.effect.getComputedTiming();
		const total = t.activeDuration;
		if (total > max) out.push((a.animationName ? 'animation ' + a.animationName : a.transitionProperty ? 'transition of ' + a.transitionProperty : 'animation') + ' on ' + name(a.effect.target) + ' runs ' + (total === Infinity ? 'forever' : (total / 1000) + ' s'));
	}
	const moving = /^(all|transform|translate|scale|rotate|top|right|bottom|left|inset|margin.*|padding.*|width|height|max-height|max-width)$/;
	const secs = v => v.trim().endsWith('ms') ? parseFloat(v) / 1000 : parseFloat(v);
	for (const el of document.querySelectorAll('*')) {
		const s = getComputedStyle(el);
		if (s.transitionDuration === '0s') continue;
		const props = s.transitionProperty.split(','), durs = s.transitionDuration.split(',');
		props.forEach((p, i) => { const d = secs(durs[i %% durs.length]); if (moving.test(p.trim()) && d > max / 1000) out.push('transition of ' + p.trim() + ' on ' + name(el) + ' lasts ' + d + ' s'); });
	}
	return out;
})()`

// ReducedMotion emulates prefers-reduced-motion: reduce and reports what
// still moves for longer than MaxMotion. The emulation is cleared
// afterwards.
func ReducedMotion(ctx context.Context) ([]string, error) {
	if err := emulateMedia(ctx, &emulation.MediaFeature{Name: "prefers-reduced-motion", Value: "reduce"}); err != nil {
		return nil, fmt.Errorf("reduced motion: %w", err)
	}
	defer func() { _ = emulateMedia(ctx) }()
	p, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(motionJS, MaxMotion)))
	for i := range p {
		p[i] = "with prefers-reduced-motion: reduce, " + p[i]
	}
	return p, err
}

// errorPrefix starts the title of a form shown again with errors.
const errorPrefix = "Erreur\u00a0: "

// TitleForm reports a title that is not « Page – Site » or « Étape –
// Démarche – Site »: parts separated by an en dash between spaces, none
// empty, the last the site's name. A form shown again with errors may
// start with « Erreur : » (with a no-break space).
func TitleForm(title string) []string {
	var problems []string
	t := strings.TrimPrefix(title, errorPrefix)
	parts := strings.Split(t, TitleSeparator)
	switch {
	case strings.TrimSpace(title) == "":
		return []string{"empty <title>"}
	case title != strings.TrimSpace(title) || strings.Contains(title, "  "):
		problems = append(problems, fmt.Sprintf("title %q has stray spaces", title))
	}
	if parts[len(parts)-1] != SiteName {
		problems = append(problems, fmt.Sprintf("title %q does not end with « – %s »", title, SiteName))
	}
	if len(parts) < 2 || len(parts) > 3 {
		problems = append(problems, fmt.Sprintf("title %q has %d parts, want « Page – Site » or « Étape – Démarche – Site »", title, len(parts)))
	}
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			problems = append(problems, fmt.Sprintf("title %q has an empty part", title))
		}
		for _, sep := range []string{" - ", " | ", " — "} {
			if strings.Contains(p, sep) {
				problems = append(problems, fmt.Sprintf("title %q separates with %q, want « – »", title, strings.TrimSpace(sep)))
			}
		}
	}
	return problems
}

// Titles collects the titles of the pages a test visits, to tell when two
// different pages share one: a page is known by the name the test gives
// it, and its states (errors, widths) may share its title.
type Titles struct {
	mu      sync.Mutex
	byTitle map[string]string // title → page
}

// NewTitles returns an empty collection.
func NewTitles() *Titles { return &Titles{byTitle: map[string]string{}} }

// Add records page's title and returns the other page that already has
// it, or "".
func (ts *Titles) Add(page, title string) string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if other, ok := ts.byTitle[title]; ok && other != page {
		return other
	}
	ts.byTitle[title] = page
	return ""
}

// NewTab opens a tab with its own cookie jar (a new browser context) in
// the Chromium of browser, so that several journeys share one browser
// process without sharing a session. The tab acts as the focused one even
// while another tab is in front, so that Tab and :focus-visible behave in
// each. It is closed in t.Cleanup.
func NewTab(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("testenv: new tab: %v", err)
	}
	return ctx
}
