package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// guardAuthorize checks, before the library sees the request, what the
// library would answer in English or wrongly:
//   - an unknown client or unregistered redirect_uri gets a French page and
//     never a redirect (OIDC-01, OIDC-02);
//   - a response_type other than code gets unsupported_response_type, and
//     a response_mode other than query invalid_request (OIDC-05), sent back
//     to the registered redirect_uri with state and iss.
func guardAuthorize(p *provider.Provider, pages *web.Pages, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrBadAuthRequest)
			return
		}
		f := r.Form
		c, ok := p.Client(f.Get("client_id"))
		if !ok || len(f["client_id"]) != 1 {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrUnknownClient)
			return
		}
		redirect := f.Get("redirect_uri")
		if len(f["redirect_uri"]) != 1 || !slices.Contains(c.RedirectURIs, redirect) {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrBadRedirect)
			return
		}
		var e *oidc.Error
		switch rm := f.Get("response_mode"); {
		case f.Get("response_type") != string(oidc.ResponseTypeCode):
			e = &oidc.Error{ErrorType: "unsupported_response_type", Description: "only response_type=code is supported"}
		case rm != "" && rm != string(oidc.ResponseModeQuery):
			e = oidc.ErrInvalidRequest().WithDescription("only response_mode=query is supported")
		}
		if e != nil {
			http.Redirect(w, r, p.ErrorRedirect(redirect, f.Get("state"), e), http.StatusFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withIssuer adds iss (RFC 9207, OIDC-06) to every redirect that leaves
// the provider for a relying party: codes from the callback, errors from
// the library and from the login screen.
func withIssuer(issuer string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&issWriter{ResponseWriter: w, issuer: issuer}, r)
	})
}

type issWriter struct {
	http.ResponseWriter
	issuer string
}

func (w *issWriter) WriteHeader(code int) {
	if code >= 300 && code < 400 {
		h := w.Header()
		if loc := h.Get("Location"); loc != "" && !strings.HasPrefix(loc, w.issuer+"/") {
			if u, err := url.Parse(loc); err == nil && u.IsAbs() {
				q := u.Query()
				if !q.Has("iss") {
					q.Set("iss", w.issuer)
					u.RawQuery = q.Encode()
					h.Set("Location", u.String())
				}
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *issWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
