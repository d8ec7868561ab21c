// Package reset will serve the « Mot de passe perdu » journey. Until it
// ships, the link on the login screen leads to a page that says so and
// offers the way back to the pending sign-in.
package reset

import (
	"net/http"
	"net/url"

	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// ComingSoon answers the « Mot de passe perdu » link.
func ComingSoon(pages *web.Pages, loginPath string) http.Handler {
	return pages.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			return web.Fail(http.StatusMethodNotAllowed, views.ErrMethodNotAllowed, nil)
		}
		p := views.LostPasswordSoon{Site: pages.Site}
		if id := r.URL.Query().Get("authRequestID"); id != "" {
			p.BackURL = loginPath + "?" + url.Values{"authRequestID": {id}}.Encode()
		}
		return web.Render(w, r, http.StatusOK, views.LostPasswordComingSoon(p))
	})
}
