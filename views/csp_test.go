package views

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestNoInlineCodeWithoutNonce keeps the pages within the CSP that
// idp/server sends: no script or style element without the
// response's nonce, no style attribute and no event handler attribute,
// which no nonce can allow. CSS and scripts belong in static/.
func TestNoInlineCodeWithoutNonce(t *testing.T) {
	sources, err := filepath.Glob("*.templ")
	if err != nil || len(sources) == 0 {
		t.Fatalf("no templ sources: %v", err)
	}
	rules := []struct {
		re   *regexp.Regexp
		why  string
		okIf *regexp.Regexp // the match is fine when this matches it
	}{
		{regexp.MustCompile(`<(script|style)\b[^>]*>`), "an inline script or style needs nonce={ templ.GetNonce(ctx) }",
			regexp.MustCompile(`nonce=\{ templ\.GetNonce\(ctx\) \}`)},
		{regexp.MustCompile(`\sstyle=`), "style attributes are refused by the CSP: use a class in static/style.css", nil},
		{regexp.MustCompile(`\son[a-z]+=`), "event handler attributes are refused by the CSP: use a static script", nil},
		{regexp.MustCompile(`(?i)javascript:`), "javascript: URLs are refused by the CSP", nil},
	}
	for _, src := range sources {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			for _, m := range r.re.FindAll(data, -1) {
				if r.okIf == nil || !r.okIf.Match(m) {
					t.Errorf("%s: %q: %s", src, m, r.why)
				}
			}
		}
	}
}
