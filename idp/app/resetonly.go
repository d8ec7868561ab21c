package app

import (
	"net/http"
	"strings"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/csrf"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// resetOnlyPages wires the reset-only mode (config.ModeResetOnly): the
// « Mot de passe perdu » journey for an SSO that keeps its own login
// screen, with its password change, waiting page and completion, and
// nothing of the OpenID provider. « Continuer » leads to the SSO's
// return_to, or to / without one.
func resetOnlyPages(cfg *config.Config, d Deps, st *store.Store, q *job.Queue, outbox reset.Outbox) (pagesOut, error) {
	secure := strings.HasPrefix(cfg.Issuer, "https://")
	site, assets, err := newSite(cfg)
	if err != nil {
		return pagesOut{}, err
	}
	pages := &web.Pages{Site: site, Log: d.Log}
	forms := csrf.New(csrf.Config{Key: cfg.Secrets.CookieKey, PreviousKeys: cfg.Secrets.PreviousCookieKeys, Secure: secure})
	// No sign-in here, so no pending sign-in and no site to go home to.
	noHome := func(string) string { return "" }
	// No device cookies either: the sign-in that issues them is elsewhere.
	lost, err := newReset(cfg, d, st, noHome, q, outbox, forms, pages, nil, secure)
	if err != nil {
		return pagesOut{}, err
	}
	// / is a short page rather than a redirect to the journey: it is where
	// « Continuer » leads when the journey came without return_to, and a
	// redirect would start the journey over right after its success.
	landing := pages.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return web.Render(w, r, http.StatusOK, views.ResetOnlyHome(views.ResetOnlyHomePage{
			Site: pages.Site, LostPasswordURL: server.LostPasswordPath,
		}))
	})
	handler := server.NewResetOnly(server.ResetOnlyConfig{
		Issuer: cfg.Issuer, LostPassword: lost, Landing: landing, Pages: pages,
		Support: supportPage(cfg, pages), FormTargets: formTargets(cfg),
		Static: assets, Legal: legalPages(cfg, pages),
		CrossOrigin: forms.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pages.ErrorPage(w, r, http.StatusForbidden, views.ErrFormExpired)
		})),
		Ready: st.Ping, Log: d.Log, MaxBodyBytes: int64(cfg.Limits.MaxBodyBytes),
		Observe: observe(cfg, d.tracer),
	})
	return pagesOut{handler: handler, lost: lost}, nil
}
