package testenv

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAxe proves that the helper finds violations (so that "zero
// violations" elsewhere means something) and passes a clean page, even
// under a CSP that forbids every script, like the provider's.
func TestAxe(t *testing.T) {
	t.Parallel()
	axe := LoadAxe(t)
	pages := map[string]string{
		"/clean": `<main><h1>Connexion</h1><p>Bonjour.</p></main>`,
		// No alt text, a field without a label, no main landmark, a
		// button whose name does not contain its visible text (the
		// experimental rule that Run enables).
		"/broken": `<h1>Connexion</h1><img src="/x.png"><input id="i"><button aria-label="Envoyer">Valider</button>`,
	}
	url := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Test</title></head><body>%s</body></html>`, body)
	}))
	ctx := Browser(t)
	tests := []struct {
		path string
		want []string // rule ids, sorted
	}{
		{"/clean", nil},
		{"/broken", []string{"image-alt", "label", "label-content-name-mismatch", "landmark-one-main", "region"}},
	}
	for _, tt := range tests {
		if err := chromedp.Do(ctx, chromedp.Navigate(url+tt.path)); err != nil {
			t.Fatal(err)
		}
		vs, err := axe.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range vs {
			got = append(got, v.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: violations %q, want %q", tt.path, got, tt.want)
			for _, v := range vs {
				t.Log(v)
			}
		}
	}
}
