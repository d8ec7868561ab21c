package password

import (
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/password/internal/fold"
)

// The built-in forms are written out; they must be what folding gives.
func TestBuiltinContextForms(t *testing.T) {
	for _, w := range builtinContext() {
		if got := fold.Alnum(fold.Key(w.display)); got != w.form {
			t.Errorf("%q: form %q, folding gives %q", w.display, w.form, got)
		}
	}
	// « nouvelle aquitaine », « mes démarches », « mesdemarches »: the
	// decorated spellings come to the same forms.
	for _, s := range []string{"nouvelle aquitaine", "NOUVELLE-AQUITAINE", "mes démarches", "mesdemarches", "REGION", "région"} {
		skel := fold.Alnum(fold.Key(s))
		found := false
		for _, w := range builtinContext() {
			found = found || skel == w.form
		}
		if !found {
			t.Errorf("%q (%q) is not a built-in form", s, skel)
		}
	}
}
