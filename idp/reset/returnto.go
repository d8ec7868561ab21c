package reset

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// returnToParam is how another SSO that keeps its own login screen names
// where « Continuer » should lead at the end of the journey: its
// « Mot de passe perdu » links to <public URL>/mot-de-passe-perdu?return_to=<its page>.
const returnToParam = "return_to"

// allowedReturnTo reports whether u is, byte for byte, an address of the
// allowlist (Config.ReturnTo). Nothing is normalised: no case folding, no
// trailing slash, no unescaping, so that no spelling of another address
// can slip through.
func (h *Handler) allowedReturnTo(u string) bool {
	return u != "" && slices.Contains(h.cfg.ReturnTo, u)
}

// checkReturnTo guards the journey's first step: a return_to that is
// not on the allowlist gets the French refusal page (400), never a
// redirect. The query is parsed strictly: a malformed query that mentions
// return_to, or a repeated return_to, is refused too rather than read in
// one of several ways. ok is false when it answered.
func (h *Handler) checkReturnTo(w http.ResponseWriter, r *http.Request) (ok bool) {
	if r.URL.Path != h.cfg.Path || r.URL.RawQuery == "" {
		return true
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	vs, named := q[returnToParam]
	switch {
	case err != nil && !strings.Contains(strings.ToLower(r.URL.RawQuery), "return"):
		// Malformed, but about something else: the pairs that parsed are
		// what the handlers read, as everywhere else.
		return true
	case err == nil && !named:
		return true
	case err == nil && len(vs) == 1 && h.allowedReturnTo(vs[0]):
		return true
	}
	h.cfg.Log.InfoContext(r.Context(), "return_to refused", "request_id", web.RequestID(r.Context()))
	_ = web.Render(w, r, http.StatusBadRequest, views.ReturnToRefused(views.ReturnToRefusedPage{
		Site: h.cfg.Pages.Site, RestartURL: h.cfg.Path,
	}))
	return false
}

// returnTo is the checked return_to of a request to the first step, or "".
func (h *Handler) returnTo(r *http.Request) string {
	if u := r.URL.Query().Get(returnToParam); h.allowedReturnTo(u) {
		return u
	}
	return ""
}

// firstStepAction is where the first step's form posts: back to the first
// step, with the pending sign-in and the checked return_to it came with.
func (h *Handler) firstStepAction(r *http.Request) string {
	q := url.Values{}
	if id := r.URL.Query().Get("authRequestID"); id != "" {
		q.Set("authRequestID", id)
	}
	if rt := h.returnTo(r); rt != "" {
		q.Set(returnToParam, rt)
	}
	if len(q) == 0 {
		return h.cfg.Path
	}
	return h.cfg.Path + "?" + q.Encode()
}
