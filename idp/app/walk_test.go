package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// walkCap bounds a walk: the provider has a few dozen pages and states.
const walkCap = 150

// walkStep is one thing a person can do: open a link, or (Form) press
// the submit button of the form with that method and action on the page
// at URL, its fields left as they are.
type walkStep struct {
	URL  string
	Form bool
	Key  string // what makes the step the same as another: GET url, or METHOD action
}

// walkPage is what a page reached offers.
type walkPage struct {
	Links []string `json:"links"` // http(s) links to another address than this page's
	Forms []struct {
		Key string `json:"key"` // METHOD action
	} `json:"forms"` // forms with a submit button that post, or get another address
	InMain bool `json:"inMain"` // one of them is in <main>, not only in the layout
}

// walkPageJS lists the ways onward of the page shown.
const walkPageJS = `(() => {
	const here = location.href.split('#')[0];
	const main = document.querySelector('main');
	let inMain = false;
	const links = [];
	for (const a of document.querySelectorAll('a[href]')) {
		const h = a.href.split('#')[0];
		if (!/^https?:/.test(h) || h === here) continue;
		if (main && main.contains(a)) inMain = true;
		if (!links.includes(h)) links.push(h);
	}
	const forms = [];
	[...document.forms].forEach(f => {
		const action = f.action.split('#')[0], method = (f.getAttribute('method') || 'get').toUpperCase();
		if (!f.querySelector('button:not([type=button]):not([type=reset]), input[type=submit]')) return;
		if (method !== 'POST' && action === here) return;
		if (main && main.contains(f)) inMain = true;
		forms.push({key: method + ' ' + action});
	});
	return {links, forms, inMain};
})()`

// findFormJS tells whether the page has the form of a key (METHOD action).
const findFormJS = `[...document.forms].some(f => ((f.getAttribute('method') || 'get').toUpperCase() + ' ' + f.action.split('#')[0]) === %s)`

// submitFormJS presses the first submit button of that form, its text
// fields as they are and without the browser's own validation, as a
// person who leaves a required field empty on a browser that does not
// check it; a choice with nothing chosen gets its first option, so that
// a journey's first step leads to the next.
const submitFormJS = `(() => {
	const f = [...document.forms].find(f => ((f.getAttribute('method') || 'get').toUpperCase() + ' ' + f.action.split('#')[0]) === %s);
	f.noValidate = true;
	for (const r of f.querySelectorAll('input[type=radio]')) if (!f.querySelector('input[type=radio][name="' + CSS.escape(r.name) + '"]:checked')) r.checked = true;
	f.querySelector('button:not([type=button]):not([type=reset]), input[type=submit]').click();
})()`

// walkResult is what a walk saw.
type walkResult struct {
	Visited   []string // the steps taken, in order
	Server    []string // steps answered with a 5xx
	DeadEnds  []string // pages of the origin with no way onward
	LayoutOff []string // pages whose only ways onward are in the header or footer
	Capped    bool
}

// walk follows, in the browser of ctx (its cookies), every link and form
// of the pages of origin reached from starts, each address or form
// action once, at most walkCap steps. Pages of other origins are reached
// (a link to the site or to support counts as a way onward) but not
// walked further.
func walk(t *testing.T, ctx context.Context, origin string, starts []string) walkResult {
	t.Helper()
	var res walkResult
	seen := map[string]bool{}
	var queue []walkStep
	add := func(s walkStep) {
		if !seen[s.Key] {
			seen[s.Key] = true
			queue = append(queue, s)
		}
	}
	for _, u := range starts {
		add(walkStep{URL: u, Key: "GET " + u})
	}
	for len(queue) > 0 {
		if len(res.Visited) == walkCap {
			res.Capped = true
			break
		}
		step := queue[0]
		queue = queue[1:]
		res.Visited = append(res.Visited, step.Key)
		var r *network.Response
		var err error
		if !step.Form {
			r, err = chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(step.URL))
		} else {
			// The form is on the page where it was found: open it again. A
			// page that a form post showed (a later step of a journey) may
			// show another form when opened by its address: the step is
			// then not taken, which the log says.
			if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(step.URL)); err != nil {
				t.Errorf("walk: reopen %s: %v", step.URL, err)
				continue
			}
			there, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(findFormJS, jsString(step.Key))))
			if err != nil || !there {
				t.Logf("walk: %s: the form is not on %s when opened again (%v)", step.Key, step.URL, err)
				continue
			}
			r, err = chromedp.RunResponse(timeout(t, ctx), chromedp.Evaluate[chromedp.Void](fmt.Sprintf(submitFormJS, jsString(step.Key))))
		}
		if err != nil {
			t.Errorf("walk: %s: %v", step.Key, err)
			continue
		}
		status := r.Status
		at := location(t, ctx)
		if status >= 500 {
			res.Server = append(res.Server, fmt.Sprintf("%s → %d at %s", step.Key, status, at))
		}
		if !strings.HasPrefix(at, origin+"/") && at != origin {
			continue // another site: reached, not walked
		}
		page, err := chromedp.Run(ctx, chromedp.Evaluate[walkPage](walkPageJS))
		if err != nil {
			t.Errorf("walk: %s: %v", at, err)
			continue
		}
		if len(page.Links) == 0 && len(page.Forms) == 0 {
			res.DeadEnds = append(res.DeadEnds, fmt.Sprintf("%s (reached by %s)", at, step.Key))
		} else if !page.InMain {
			res.LayoutOff = append(res.LayoutOff, at)
		}
		for _, l := range page.Links {
			if strings.HasPrefix(l, origin+"/") {
				add(walkStep{URL: l, Key: "GET " + l})
			}
		}
		for _, f := range page.Forms {
			if strings.HasPrefix(strings.SplitN(f.Key, " ", 2)[1], origin+"/") {
				add(walkStep{URL: at, Form: true, Key: f.Key})
			}
		}
	}
	return res
}

// TestWalkerFindsDeadEnds proves the walker able to fail: on a small
// site with a dead end, a page that answers 500 and a form that leads to
// one, it reports each, and nothing on the pages that are fine.
func TestWalkerFindsDeadEnds(t *testing.T) {
	t.Parallel()
	pages := map[string]string{
		"/":       `<main><a href="/a">A</a> <a href="#top">Haut</a></main>`,
		"/a":      `<main><a href="/dead">Impasse</a> <a href="/boom">Boum</a> <form method="post" action="/post"><button>Envoyer</button></form></main>`,
		"/dead":   `<main><p>Rien ici.</p><a href="/dead">Cette page</a> <a href="#x">Ancre</a><form><button>Rester</button></form></main>`,
		"/layout": `<header><a href="/">Accueil</a></header><main><p>Rien dans le contenu.</p></main>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		body, ok := pages[r.URL.Path]
		switch {
		case r.URL.Path == "/boom" || r.URL.Path == "/post":
			w.WriteHeader(http.StatusInternalServerError)
			body = `<main><a href="/">Accueil</a></main>`
		case !ok:
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `<!DOCTYPE html><html lang="fr"><title>t</title>`+body+`<a href="/layout">Pied</a></html>`)
	}))
	t.Cleanup(srv.Close)
	ctx := testenv.NewTab(t, testenv.Browser(t))
	res := walk(t, ctx, srv.URL, []string{srv.URL + "/"})
	if len(res.DeadEnds) != 0 {
		t.Errorf("dead ends %q where every page has the layout's link", res.DeadEnds)
	}
	if want := []string{"GET " + srv.URL + "/boom → 500 at " + srv.URL + "/boom", "POST " + srv.URL + "/post → 500 at " + srv.URL + "/post"}; !slices.Equal(res.Server, want) {
		t.Errorf("5xx %q, want %q", res.Server, want)
	}
	if !slices.Contains(res.LayoutOff, srv.URL+"/dead") || slices.Contains(res.LayoutOff, srv.URL+"/a") {
		t.Errorf("pages with ways onward only in the layout %q, want /dead and not /a", res.LayoutOff)
	}

	// Without the layout link /dead offers nothing: a dead end.
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `<!DOCTYPE html><html lang="fr"><title>t</title>`+body+`</html>`)
	}))
	t.Cleanup(bare.Close)
	res = walk(t, ctx, bare.URL, []string{bare.URL + "/dead"})
	if len(res.DeadEnds) != 1 || !strings.HasPrefix(res.DeadEnds[0], bare.URL+"/dead ") {
		t.Errorf("dead ends %q, want /dead alone", res.DeadEnds)
	}
	if len(res.Server) != 0 {
		t.Errorf("5xx %q without a failing page", res.Server)
	}
}

// TestWalk starts from the login screen and every page a person can open
// by its address, signed out then signed in, and follows every link and
// form of the provider: every page reached offers a way onward, and none
// answers 5xx.
func TestWalk(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.AccessibilityURL = "" // the built-in statement, walked too
		c.SupportURL, c.Reset.SupportURL = "", ""
		c.Support = config.Support{Email: "support@example.org", Phone: "05 49 55 00 00", Hours: "du lundi au vendredi"}
	}})
	ctx := testenv.NewTab(t, testenv.Browser(t))
	startAt(t, ctx, s.Sites[0])
	login := location(t, ctx)
	starts := []string{login}
	for _, p := range []string{"/", "/support", "/mot-de-passe-perdu", "/deconnexion", "/nulle-part", "/compte/mot-de-passe",
		"/mot-de-passe-perdu/adresse", "/mot-de-passe-perdu/code", "/mot-de-passe-perdu/lien", "/mot-de-passe-perdu/nouveau",
		"/mot-de-passe-perdu/attente", "/mot-de-passe-perdu/termine", "/mot-de-passe-perdu/echec"} {
		starts = append(starts, s.Issuer+p)
	}
	for _, p := range legalPages {
		starts = append(starts, s.Issuer+p)
	}
	check := func(phase string, res walkResult) {
		t.Helper()
		t.Logf("%s: %d steps", phase, len(res.Visited))
		for _, e := range res.Server {
			t.Errorf("%s: server error: %s", phase, e)
		}
		for _, d := range res.DeadEnds {
			t.Errorf("%s: no way onward: %s", phase, d)
		}
		for _, l := range res.LayoutOff {
			t.Logf("%s: ways onward only in the header or footer: %s", phase, l)
		}
		if res.Capped {
			t.Errorf("%s: more than %d steps: the walk stopped", phase, walkCap)
		}
		if len(res.Visited) < len(starts) {
			t.Errorf("%s: only %d steps", phase, len(res.Visited))
		}
	}
	check("signed out", walk(t, ctx, s.Issuer, starts))

	// Signed in: the landing page, the change of password, the logout.
	u := testenv.Users()[0]
	startAt(t, ctx, s.Sites[0])
	signIn(t, ctx, u.UID, u.Password)
	if loc := location(t, ctx); !strings.HasPrefix(loc, s.Sites[0].URL) {
		t.Fatalf("sign-in ended at %s", loc)
	}
	check("signed in", walk(t, ctx, s.Issuer, starts[1:]))
}
