package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"

	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// ResetOnlyConfig lists the routes of the reset-only mode, beside an SSO
// that keeps its own login screen: no OpenID endpoint at all.
type ResetOnlyConfig struct {
	Issuer       string
	LostPassword http.Handler
	// Support serves /support when set.
	Support http.Handler
	// Landing is the page at / .
	Landing http.Handler
	// Static and Legal: as in Config.
	Static      http.Handler
	Legal       map[string]http.Handler
	Pages       *web.Pages
	CrossOrigin func(http.Handler) http.Handler
	// Ready is the readiness check (Redis answers).
	Ready        func(context.Context) error
	Log          *slog.Logger
	MaxBodyBytes int64
	// FormTargets: as in Config, the other addresses the profile step
	// may send a browser to.
	FormTargets []string
	Observe     Observe
}

// NewResetOnly returns the handler of the reset-only mode: « Mot de
// passe perdu », the support page, static files and the probes, behind
// the same middleware as New. Everything else, the protocol endpoints
// included, is the French not-found page.
func NewResetOnly(cfg ResetOnlyConfig) http.Handler {
	mux := http.NewServeMux()
	handleStatic(mux, cfg.Pages, cfg.Static)
	for path, h := range cfg.Legal {
		mux.Handle("GET "+path, h)
	}
	mux.Handle(LostPasswordPath, cfg.CrossOrigin(cfg.LostPassword))
	mux.Handle(LostPasswordPath+"/", cfg.CrossOrigin(cfg.LostPassword))
	if cfg.Support != nil {
		mux.Handle("GET "+SupportPath, cfg.Support)
	}
	mux.Handle("GET /{$}", cfg.Landing)
	// The same answer as the OIDC library's liveness probe in provider mode.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.Handle("GET /ready", ready(cfg.Ready))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg.Pages.ErrorPage(w, r, http.StatusNotFound, views.ErrNotFound)
	}))

	maxBody := cfg.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	// As in New, outermost first; no authorization requests to limit, and
	// forms post only to this host.
	var h http.Handler = noteRoute(mux)
	h = limitBodies(maxBody, cfg.Pages, h)
	h = recoverPanics(cfg.Pages, h)
	h = securityHeaders(newHeaderPolicy(cfg.Issuer, nil, cfg.FormTargets), h)
	return observe(cfg.Observe, cfg.Log, h)
}
