// Package server owns the one route table and the middleware every
// request goes through: request id, access log, security headers with a
// CSP nonce per response, panic recovery, a body size limit (413),
// cross-origin protection of our forms, and French pages where the OIDC
// library would answer a person in English.
package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/binding"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Paths of the pages we serve beside the protocol endpoints.
const (
	LoginPath        = "/login"
	LostPasswordPath = "/mot-de-passe-perdu"
	// ChangePasswordPath is « Changer mon mot de passe » (signed in).
	ChangePasswordPath = "/compte/mot-de-passe"
	LogoutPath         = "/deconnexion"
	EndSessionPath     = "/end_session"
	SupportPath        = "/support"
	// The legal pages, linked from every footer.
	LegalNoticePath   = "/mentions-legales"
	PrivacyPath       = "/donnees-personnelles"
	AccessibilityPath = "/accessibilite"
	CookiesPath       = "/cookies"
	// FaviconPath is asked for by browsers on their own.
	FaviconPath = "/favicon.ico"
)

// Config lists what the routes are made of.
type Config struct {
	Provider     *provider.Provider
	Login        http.Handler
	LostPassword http.Handler
	// Upstream serves the round trips of élus and agents to their own
	// providers, under /login/upstream/ (nil: none).
	Upstream http.Handler
	// ChangePassword serves ChangePasswordPath.
	ChangePassword http.Handler
	// LoginScreen answers an authorization request with the login
	// screen of the sign-in it stored (login.Handler.Screen; nil: the
	// library's redirect to LoginPath).
	LoginScreen func(http.ResponseWriter, *http.Request, *store.AuthRequest)
	// LoginPrefetch readies reads of a login request to travel with the
	// read of its pending sign-in (login.Handler.Prefetch; nil: none).
	LoginPrefetch func(*http.Request) *http.Request
	Pages         *web.Pages
	// CrossOrigin wraps the form handlers (net/http CrossOriginProtection).
	CrossOrigin func(http.Handler) http.Handler
	// Logout serves the confirmation form and its POST; EndSession the
	// RP-initiated logout endpoint; Landing the page at / .
	Logout     http.Handler
	EndSession http.Handler
	Landing    http.Handler
	// Support serves SupportPath, « J'ai besoin de support ».
	Support http.Handler
	// Static serves /static/ and FaviconPath (views.Assets).
	Static http.Handler
	// Legal serves the legal pages (GET), by path.
	Legal map[string]http.Handler
	// Extra routes, e.g. the demo site in dev mode.
	Extra map[string]http.Handler
	Log   *slog.Logger
	// RedirectURIs are every redirect and post-logout redirect URI of the
	// registered clients: the CSP form-action lets a form's redirect chain
	// end there.
	RedirectURIs []string
	// FormTargets are the other addresses a form's redirect may lead to
	// (a profile's page elsewhere, the support site): their origins join
	// the CSP form-action.
	FormTargets []string
	// Browser is the cookie that binds each sign-in to the browser that
	// started it; Sessions finds the browser's SSO session.
	Browser  binding.Cookie
	Sessions Sessions
	// MaxBodyBytes bounds every request body (413 beyond);
	// zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// AuthorizeLimit bounds the authorization requests of one address;
	// none without a Counter.
	AuthorizeLimit AuthorizeLimit
	// Observe: spans, log context and access log of every request.
	Observe Observe
}

// ready is the readiness probe: 503 (the library says 500) while Redis
// does not answer, so a load balancer takes the replica out without
// counting it as broken. Liveness (/healthz) is the library's.
func ready(check func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := check(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready\n")
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
}

// New returns the provider's whole HTTP handler.
func New(cfg Config) http.Handler {
	mux := http.NewServeMux()
	handleStatic(mux, cfg.Pages, cfg.Static)
	for path, h := range cfg.Legal {
		mux.Handle("GET "+path, h)
	}
	iss := cfg.Provider.Issuer()
	// Every page that takes a pending sign-in's id serves only the browser
	// that started it.
	bound := func(h http.Handler) http.Handler { return requireBrowser(cfg.Provider, cfg.Pages, cfg.Browser, h) }
	login := bound(cfg.Login)
	if cfg.LoginPrefetch != nil {
		next := login
		login = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next.ServeHTTP(w, cfg.LoginPrefetch(r)) })
	}
	mux.Handle(LoginPath, withIssuer(iss, cfg.CrossOrigin(login)))
	if cfg.Upstream != nil {
		// GET links only: the callback carries no authRequestID, its
		// state is bound to the browser by the handler.
		mux.Handle("GET "+LoginPath+"/upstream/", bound(cfg.Upstream))
	}
	mux.Handle(LostPasswordPath, cfg.CrossOrigin(bound(cfg.LostPassword)))
	mux.Handle(LostPasswordPath+"/", cfg.CrossOrigin(bound(cfg.LostPassword)))
	mux.Handle(LogoutPath, cfg.CrossOrigin(cfg.Logout))
	mux.Handle(ChangePasswordPath, cfg.CrossOrigin(bound(cfg.ChangePassword)))
	mux.Handle(EndSessionPath, cfg.EndSession)
	mux.Handle("GET /{$}", cfg.Landing)
	if cfg.Support != nil {
		mux.Handle("GET "+SupportPath, cfg.Support)
	}
	for pattern, h := range cfg.Extra {
		mux.Handle(pattern, h)
	}
	mux.Handle("GET /.well-known/openid-configuration", cfg.Provider.Discovery())
	mux.Handle("GET /ready", ready(cfg.Provider.Ready))
	op := cfg.Provider.Handler()
	mux.Handle("/authorize", cfg.Browser.Middleware(guardAuthorize(cfg.Provider, cfg.Pages, withIssuer(iss, screenAtAuthorize(cfg.LoginScreen, frenchErrors(cfg.Pages, op))))))
	mux.Handle("/authorize/callback", guardCallback(cfg.Provider, cfg.Pages, cfg.Browser, cfg.Sessions, withIssuer(iss, frenchErrors(cfg.Pages, op))))
	cors, api := cfg.Provider.CORS, cfg.Provider.APIHandler()
	mux.Handle(tokenPath, cors(clientEndpoint(cfg.Provider, cfg.Log, clientRules{public: true}, api)))
	mux.Handle(introspectionPath, cors(clientEndpoint(cfg.Provider, cfg.Log, clientRules{basicOnly: true}, api)))
	mux.Handle(revocationPath, cors(clientEndpoint(cfg.Provider, cfg.Log, clientRules{public: true}, api)))
	mux.Handle(userinfoPath, cors(userinfoEndpoint(cfg.Provider, api)))
	// Only the code flow is offered: the library would serve this one.
	mux.Handle(deviceAuthorizationPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg.Pages.ErrorPage(w, r, http.StatusNotFound, views.ErrNotFound)
	}))
	mux.Handle("/", frenchErrors(cfg.Pages, op))

	maxBody := cfg.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	// Outermost first: span, request id, access log (which then sees the 500 of
	// a panic), security headers and the CSP nonce (so that even the page
	// of a panic has them), panic recovery, body limit, the limit of
	// authorization requests per address.
	var h http.Handler = noteRoute(mux)
	h = limitAuthorize(cfg.AuthorizeLimit, cfg.Pages, h)
	h = limitBodies(maxBody, cfg.Pages, h)
	h = recoverPanics(cfg.Pages, h)
	h = securityHeaders(newHeaderPolicy(iss, cfg.RedirectURIs, cfg.FormTargets), h)
	return observe(cfg.Observe, cfg.Log, h)
}

// handleStatic routes the assets; without a handler, the embedded files
// as they are. Their 404 and 416 come from net/http in English: shown as
// the French page.
func handleStatic(mux *http.ServeMux, pages *web.Pages, static http.Handler) {
	if static == nil {
		static = http.FileServerFS(views.Static)
	}
	static = frenchErrors(pages, static)
	mux.Handle("GET "+views.StaticPrefix, static)
	mux.Handle("GET "+FaviconPath, static)
}

// frenchErrors replaces the library's plain-text error answers to a
// browser (English, from http.Error) with our French page. JSON errors
// of the API endpoints and redirects pass through untouched.
func frenchErrors(pages *web.Pages, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &errorCatcher{ResponseWriter: w}
		next.ServeHTTP(c, r)
		if !c.caught {
			return
		}
		kind := views.ErrBadAuthRequest
		switch {
		case c.status == http.StatusNotFound:
			kind = views.ErrNotFound
		case c.status == http.StatusMethodNotAllowed:
			kind = views.ErrMethodNotAllowed
		case c.status == http.StatusRequestedRangeNotSatisfiable:
			// An asset's Range beyond its end (http.ServeContent).
			kind = views.ErrBadRequest
		case c.status >= 500:
			kind = views.ErrUnavailable
		}
		pages.Log.InfoContext(r.Context(), "library error shown as a French page", "status", c.status, "path", r.URL.Path,
			"request_id", web.RequestID(r.Context()))
		w.Header().Del("Content-Length")
		pages.ErrorPage(w, r, c.status, kind)
	})
}

type errorCatcher struct {
	http.ResponseWriter
	status int
	caught bool
	sent   bool
}

func (c *errorCatcher) WriteHeader(code int) {
	if c.sent || c.caught {
		return
	}
	ct := c.Header().Get("Content-Type")
	if code >= 400 && (ct == "" || strings.HasPrefix(ct, "text/plain")) {
		c.caught, c.status = true, code
		return
	}
	c.sent = true
	c.ResponseWriter.WriteHeader(code)
}

func (c *errorCatcher) Write(b []byte) (int, error) {
	if c.caught {
		return len(b), nil
	}
	c.sent = true
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *errorCatcher) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func recoverPanics(pages *web.Pages, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				pages.Log.ErrorContext(r.Context(), "panic", "value", v, "path", r.URL.Path, "request_id", web.RequestID(r.Context()))
				pages.ErrorPage(w, r, http.StatusInternalServerError, views.ErrInternal)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
