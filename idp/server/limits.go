package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// DefaultMaxBodyBytes bounds every request body when Config.MaxBodyBytes
// is zero: a sign-in form is a few hundred bytes, a token request a few
// kilobytes.
const DefaultMaxBodyBytes = 64 << 10

// apiPaths are the endpoints that programs, not people, call: a body
// that is too large gets an OAuth JSON error there instead of a page.
var apiPaths = []string{tokenPath, introspectionPath, revocationPath, userinfoPath}

var (
	tokenPath               = op.DefaultEndpoints.Token.Relative()
	introspectionPath       = op.DefaultEndpoints.Introspection.Relative()
	revocationPath          = op.DefaultEndpoints.Revocation.Relative()
	userinfoPath            = op.DefaultEndpoints.Userinfo.Relative()
	deviceAuthorizationPath = op.DefaultEndpoints.DeviceAuthorization.Relative()
)

// limitBodies reads every request body, up to max bytes, before any
// handler runs, and answers 413 beyond that. Reading it here rather than
// wrapping it in http.MaxBytesReader gives the same answer whichever
// handler would have parsed it (ours turn a parse error into 400, the
// OIDC library into a JSON invalid_request): the status is 413 on every
// route. The cost is at most max bytes held per request in flight.
func limitBodies(max int64, pages *web.Pages, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		// A declared length says it all: refuse without reading a byte
		// (and without sending "100 Continue").
		if r.ContentLength > max {
			tooLarge(w, r, pages, max)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
		switch {
		case err != nil:
			// The client went away or was too slow (server ReadTimeout).
			pages.Log.InfoContext(r.Context(), "request body unreadable", "path", r.URL.Path,
				"request_id", web.RequestID(r.Context()), "err", err)
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrBadRequest)
			return
		case int64(len(body)) > max:
			tooLarge(w, r, pages, max)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// tooLarge answers 413: the French page for people, an RFC 6749 §5.2
// error for the API endpoints, whose clients parse JSON.
func tooLarge(w http.ResponseWriter, r *http.Request, pages *web.Pages, max int64) {
	pages.Log.InfoContext(r.Context(), "request body too large", "path", r.URL.Path,
		"content_length", r.ContentLength, "max", max, "request_id", web.RequestID(r.Context()))
	// The rest of the body is not read: the connection cannot be reused.
	w.Header().Set("Connection", "close")
	if !slices.Contains(apiPaths, r.URL.Path) {
		pages.ErrorPage(w, r, http.StatusRequestEntityTooLarge, views.ErrTooLarge)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"error":             "invalid_request",
		"error_description": fmt.Sprintf("the request body is larger than %d bytes", max),
	})
}
