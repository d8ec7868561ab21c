// Package web is the small HTTP toolkit every page handler shares:
// handlers return errors and one place turns them into French pages
// (after Tailscale's tsweb), pages are rendered fully before a byte is
// sent, and each request carries an id that support can quote.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/a-h/templ"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/logging"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Error is an error with the page that answers it.
type Error struct {
	Status int
	Kind   views.ErrorKind
	Err    error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return http.StatusText(e.Status)
	}
	return fmt.Sprintf("%d: %v", e.Status, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Fail wraps err so that the person sees the page for kind with status.
func Fail(status int, kind views.ErrorKind, err error) error {
	return &Error{Status: status, Kind: kind, Err: err}
}

// Pages renders pages and error pages with the site's common parts.
type Pages struct {
	Site views.Site
	Log  *slog.Logger
}

// Handle adapts a handler that returns errors.
func (p *Pages) Handle(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			p.Fail(w, r, err)
		}
	})
}

// Fail answers err: a *Error picks its page, anything else is a 500.
func (p *Pages) Fail(w http.ResponseWriter, r *http.Request, err error) {
	e := &Error{Status: http.StatusInternalServerError, Kind: views.ErrInternal, Err: err}
	errors.As(err, &e)
	level := slog.LevelInfo
	if e.Status >= 500 {
		level = slog.LevelError
	}
	p.Log.Log(r.Context(), level, "request failed",
		"request_id", RequestID(r.Context()), "status", e.Status, "path", r.URL.Path, "err", err)
	p.ErrorPage(w, r, e.Status, e.Kind)
}

// ErrorPage writes the French page for kind.
func (p *Pages) ErrorPage(w http.ResponseWriter, r *http.Request, status int, kind views.ErrorKind) {
	c := views.Error(views.ErrorPage{Site: p.Site, Kind: kind, RequestID: RequestID(r.Context())})
	if err := Render(w, r, status, c); err != nil {
		p.Log.ErrorContext(r.Context(), "render error page", "err", err)
	}
}

// Render writes c with status; nothing is sent if rendering fails, so the
// caller can still answer with an error page.
func Render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) error {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages of the provider show forms and personal data: never cached.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
	return nil
}

// RequestID is the id given to the request by WithRequestID. It lives in
// the logging package's context, so every log line of the request has it.
func RequestID(ctx context.Context) string { return logging.RequestID(ctx) }

// WithRequestID gives each request a short random id, echoed in the
// X-Request-Id header, the logs and the error pages.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [10]byte
		_, _ = rand.Read(b[:])
		id := base32.StdEncoding.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(logging.WithRequestID(r.Context(), id)))
	})
}
