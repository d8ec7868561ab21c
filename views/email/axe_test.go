package email

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestResetCodeAxe runs axe-core on the HTML part as a browser (or a
// webmail) shows it: no WCAG violation, no best-practice violation beyond
// pageOnlyRules.
func TestResetCodeAxe(t *testing.T) {
	t.Parallel()
	m, err := RenderResetCode(context.Background(), seedProps)
	if err != nil {
		t.Fatal(err)
	}
	axeCheck(t, m.HTML)
}

// axeCheck runs axe-core on a mail's HTML part as a browser (or a
// webmail) shows it.
func axeCheck(t *testing.T, page string) {
	t.Helper()
	// axe's best practices for a whole page (one main landmark, content
	// inside landmarks, one h1) do not apply: a mail is shown inside the
	// mail client's page, which has those, and its own wrapper is the
	// role="article" that mail accessibility guides recommend. They are
	// allowed only while axe tags them as best practice, not as WCAG.
	pageOnlyRules := map[string]bool{"landmark-one-main": true, "region": true, "page-has-heading-one": true}
	axe := testenv.LoadAxe(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(testenv.Browser(t), 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	vs, err := axe.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if pageOnlyRules[v.ID] && !slices.ContainsFunc(v.Tags, func(tag string) bool { return strings.HasPrefix(tag, "wcag") }) {
			continue
		}
		t.Errorf("axe violation %s", v)
	}
}
