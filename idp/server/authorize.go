package server

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// guardAuthorize checks, before the library sees the request, what the
// library would answer in English, wrongly, or at a cost:
//   - an unknown client or unregistered redirect_uri (compared byte for
//     byte, but for the port of a native app's loopback redirect URI:
//     provider.Client.RedirectURIAllowed) gets a French page and
//     never a redirect, as does a state that is repeated
//     or too long (it would be echoed to the site);
//   - then, sent back to the registered redirect_uri with state and iss:
//     a repeated parameter (which copy the library reads is not ours to
//     guess), a parameter longer than provider.AuthParamMaxBytes or
//     parameters over provider.MaxAuthParamsBytes in all (each request
//     is stored), request_uri and request objects, a response_type other
//     than code (unsupported_response_type) and a response_mode other than
//     query get their OAuth error;
//   - idp_hint, which the library drops, is handed to the pending
//     sign-in through the context.
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
		if len(f["redirect_uri"]) != 1 || !c.RedirectURIAllowed(redirect) {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrBadRedirect)
			return
		}
		if len(f["state"]) > 1 || len(f.Get("state")) > provider.MaxStateBytes {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrBadAuthRequest)
			return
		}
		if e := checkAuthParams(f); e != nil {
			http.Redirect(w, r, p.ErrorRedirect(redirect, f.Get("state"), e), http.StatusFound)
			return
		}
		if hint := f.Get(provider.IDPHintParam); hint != "" {
			// The library drops it: kept on the pending sign-in through
			// the context, checked by the login screen.
			r = r.WithContext(provider.WithIDPHint(r.Context(), hint))
		}
		next.ServeHTTP(w, r)
	})
}

// checkAuthParams returns the OAuth error of an authorization request
// whose client and redirect URI are fine, or nil.
func checkAuthParams(f url.Values) *oidc.Error {
	total := 0
	for _, k := range slices.Sorted(maps.Keys(f)) {
		vs := f[k]
		if len(vs) > 1 {
			return oidc.ErrInvalidRequest().WithDescription("parameter %s is repeated", k)
		}
		total += len(k) + len(vs[0])
		if most, ok := provider.AuthParamMaxBytes[k]; ok && len(vs[0]) > most {
			return oidc.ErrInvalidRequest().WithDescription("%s is longer than %d bytes", k, most)
		}
	}
	rm := f.Get("response_mode")
	switch {
	case total > provider.MaxAuthParamsBytes:
		return oidc.ErrInvalidRequest().WithDescription("the parameters are longer than %d bytes", provider.MaxAuthParamsBytes)
	case f.Has("request_uri"):
		return &oidc.Error{ErrorType: "request_uri_not_supported", Description: "request_uri is not supported"}
	case f.Has("request"):
		return oidc.ErrRequestNotSupported()
	case f.Get("response_type") != string(oidc.ResponseTypeCode):
		return &oidc.Error{ErrorType: "unsupported_response_type", Description: "only response_type=code is supported"}
	case rm != "" && rm != string(oidc.ResponseModeQuery):
		return oidc.ErrInvalidRequest().WithDescription("only response_mode=query is supported")
	}
	return nil
}

// withIssuer adds iss (RFC 9207) to every redirect that leaves
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

// screenAtAuthorize serves the login screen in the answer to the
// authorization request, as Keycloak does, instead of the library's
// redirect to it: one request and one read of the sign-in less for every
// person. Once the library stored the sign-in, its only answer left is
// that redirect, which is dropped.
func screenAtAuthorize(screen func(http.ResponseWriter, *http.Request, *store.AuthRequest), next http.Handler) http.Handler {
	if screen == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c provider.Created
		r = r.WithContext(provider.WithCreated(r.Context(), &c))
		sw := &screenWriter{ResponseWriter: w, created: &c}
		next.ServeHTTP(sw, r)
		if sw.dropped {
			w.Header().Del("Location")
			screen(w, r, c.Request)
		}
	})
}

type screenWriter struct {
	http.ResponseWriter
	created *provider.Created
	dropped bool
}

func (w *screenWriter) WriteHeader(code int) {
	if w.created.Request != nil && code == http.StatusFound {
		w.dropped = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *screenWriter) Write(b []byte) (int, error) {
	if w.dropped {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *screenWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
