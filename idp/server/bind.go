package server

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/region-nouvelle-aquitaine/idp/idp/binding"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Sessions finds the browser's SSO session (*login.Sessions).
type Sessions interface {
	Current(r *http.Request) (*store.Session, bool)
}

// requireBrowser lets a request that names a pending sign-in
// (?authRequestID=) through only from the browser that started it, so
// that a link to someone else's sign-in neither completes, attaches nor
// extends it. An unknown or expired sign-in is the handler's to answer.
func requireBrowser(p *provider.Provider, pages *web.Pages, cookie binding.Cookie, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids, named := r.URL.Query()["authRequestID"]
		if !named {
			next.ServeHTTP(w, r)
			return
		}
		if len(ids) != 1 {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrBadRequest)
			return
		}
		if ar, ok := boundRequest(w, r, p, pages, cookie, ids[0]); ok {
			if ar != nil {
				r = r.WithContext(provider.WithLoaded(r.Context(), ar))
			}
			next.ServeHTTP(w, r)
		}
	})
}

// boundRequest loads the sign-in id and checks that this browser started
// it. Unless ok, it has answered the browser itself. An unknown or
// expired sign-in is (nil, true): the caller decides what to say.
func boundRequest(w http.ResponseWriter, r *http.Request, p *provider.Provider, pages *web.Pages, cookie binding.Cookie, id string) (ar *store.AuthRequest, ok bool) {
	ar, err := p.AuthRequest(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, true
	case err != nil:
		pages.Fail(w, r, web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err))
		return nil, false
	}
	if !cookie.Matches(r, ar.BrowserHash) {
		pages.Log.WarnContext(r.Context(), "sign-in opened in a browser that did not start it",
			"client_id", ar.ClientID, "path", r.URL.Path, "request_id", web.RequestID(r.Context()))
		pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrOtherBrowser)
		return nil, false
	}
	return ar, true
}

// guardCallback stands before the library's callback, which mints the
// code: only the browser that started the sign-in, signed in with the
// very session that completed it, and only once.
func guardCallback(p *provider.Provider, pages *web.Pages, cookie binding.Cookie, sessions Sessions, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrBadRequest)
			return
		}
		ids := r.Form["id"]
		if len(ids) != 1 {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrBadRequest)
			return
		}
		ar, ok := boundRequest(w, r, p, pages, cookie, ids[0])
		if !ok {
			return
		}
		if ar == nil {
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrSignInExpired)
			return
		}
		r = r.WithContext(provider.WithLoaded(r.Context(), ar))
		if !ar.Done {
			next.ServeHTTP(w, r) // the library sends interaction_required to the site
			return
		}
		sess, ok := sessions.Current(r)
		if ar.CodeIssued || !ok || !sameSession(ar, sess) {
			// A second callback, or a browser whose session ended or
			// changed since the sign-in: never a code.
			pages.Log.InfoContext(r.Context(), "callback refused", "code_issued", ar.CodeIssued, "session", ok,
				"request_id", web.RequestID(r.Context()))
			pages.ErrorPage(w, r, http.StatusBadRequest, views.ErrSignInExpired)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameSession reports whether sess is the session that completed ar.
func sameSession(ar *store.AuthRequest, sess *store.Session) bool {
	return ar.SessionID != "" && subtle.ConstantTimeCompare([]byte(ar.SessionID), []byte(sess.Ref)) == 1
}
