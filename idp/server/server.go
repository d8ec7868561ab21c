// Package server owns the one route table and the middleware every
// request goes through: request id, panic recovery, access log, security
// headers, cross-origin protection of our forms, and French pages where
// the OIDC library would answer a person in English.
package server

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Paths of the pages we serve beside the protocol endpoints.
const (
	LoginPath        = "/login"
	LostPasswordPath = "/mot-de-passe-perdu"
)

// Config lists what the routes are made of.
type Config struct {
	Provider     *provider.Provider
	Login        http.Handler
	LostPassword http.Handler
	Pages        *web.Pages
	// CrossOrigin wraps the form handlers (net/http CrossOriginProtection).
	CrossOrigin func(http.Handler) http.Handler
	// Extra routes, e.g. the demo site in dev mode.
	Extra map[string]http.Handler
	Log   *slog.Logger
}

// New returns the provider's whole HTTP handler.
func New(cfg Config) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.FileServerFS(views.Static))
	mux.Handle(LoginPath, cfg.CrossOrigin(cfg.Login))
	mux.Handle(LostPasswordPath, cfg.CrossOrigin(cfg.LostPassword))
	for pattern, h := range cfg.Extra {
		mux.Handle(pattern, h)
	}
	op := cfg.Provider.Handler()
	mux.Handle("/authorize", guardAuthorize(cfg.Provider, cfg.Pages, frenchErrors(cfg.Pages, op)))
	mux.Handle("/", frenchErrors(cfg.Pages, op))

	var h http.Handler = mux
	h = securityHeaders(h)
	h = accessLog(cfg.Log, h)
	h = recoverPanics(cfg.Pages, h)
	return web.WithRequestID(h)
}

// guardAuthorize answers an unknown client or an unregistered
// redirect_uri with a French page before the library sees the request:
// such errors must never redirect (OIDC-01, OIDC-02).
func guardAuthorize(p *provider.Provider, pages *web.Pages, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrBadAuthRequest)
			return
		}
		c, ok := p.Client(r.Form.Get("client_id"))
		if !ok {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrUnknownClient)
			return
		}
		if !slices.Contains(c.RedirectURIs, r.Form.Get("redirect_uri")) {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrBadRedirect)
			return
		}
		next.ServeHTTP(w, r)
	})
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

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'")
		// Pages, tokens and userinfo are personal: never stored by a cache
		// (RFC 6749 §5.1). Only public, unchanging documents may be.
		if !cacheable(r.URL.Path) {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func cacheable(path string) bool {
	return strings.HasPrefix(path, "/static/") || path == "/keys" || path == "/.well-known/openid-configuration"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog logs method, path and status; never the query, which carries
// codes and states.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		log.InfoContext(r.Context(), "http", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration", time.Since(start), "request_id", web.RequestID(r.Context()))
	})
}

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
