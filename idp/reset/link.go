package reset

import (
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

const linkPurpose = "reset:link"

func (h *Handler) linkCookie() string {
	if h.cfg.Secure {
		return "__Host-idp_reset_link"
	}
	return "idp_reset_link"
}

// showLink answers the mail's link. With the token in the URL it moves it
// into a cookie and redirects, so the token leaves the address bar and the
// history; then it shows « Continuer ». A GET or HEAD never uses
// the link up: mail scanners fetch links.
func (h *Handler) showLink(w http.ResponseWriter, r *http.Request) error {
	if t := r.URL.Query().Get("t"); t != "" {
		if !wellFormedLinkToken(t) {
			return h.invalidLink(w, r)
		}
		// Lax: the first request comes from a mail client, another site.
		// Path /: browsers drop a __Host- cookie with any other path.
		http.SetCookie(w, &http.Cookie{
			Name: h.linkCookie(), Value: t, Path: "/", MaxAge: int(h.cfg.Limits.CodeLifetime / time.Second),
			HttpOnly: true, Secure: h.cfg.Secure, SameSite: http.SameSiteLaxMode,
		})
		http.Redirect(w, r, h.cfg.Path+"/lien", http.StatusSeeOther)
		return nil
	}
	p := views.ResetLinkPage{Site: h.cfg.Pages.Site, Action: h.cfg.Path + "/lien", RetryURL: h.cfg.Path}
	if _, _, err := h.linkFlow(r, false); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
		}
		p.Invalid = true
	} else {
		p.CSRFToken = h.cfg.Forms.Token(w, r, linkPurpose)
	}
	return web.Render(w, r, http.StatusOK, views.ResetLinkForm(p))
}

// wellFormedLinkToken: the shape newLinkToken makes, 32 random bytes in
// unpadded base64url. Anything else is no link of ours and never goes into
// a cookie: no size limit, and bytes net/http would log on every try.
func wellFormedLinkToken(t string) bool {
	b, err := base64.RawURLEncoding.DecodeString(t)
	// The decoder skips line breaks: the length rules them out.
	return err == nil && len(b) == 32 && len(t) == base64.RawURLEncoding.EncodedLen(32)
}

// linkFlow finds the flow of the link token in the cookie, and the hash
// the link is stored under.
func (h *Handler) linkFlow(r *http.Request, consume bool) (ref, hash string, err error) {
	c, err := r.Cookie(h.linkCookie())
	if err != nil || c.Value == "" {
		return "", "", store.ErrNotFound
	}
	// A link mailed before a cookie key rotation is stored under the hash
	// of the previous key.
	for _, hash = range h.macs("link", c.Value) {
		if consume {
			ref, err = h.cfg.Store.ConsumeResetLink(r.Context(), hash)
		} else {
			ref, err = h.cfg.Store.ResetLink(r.Context(), hash)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return ref, hash, err
		}
	}
	return "", "", err
}

// errStaleLink: the link was mailed for an address the flow no longer
// stands for (another address was typed, or a new code was asked, while
// its mail was being made).
var errStaleLink = errors.New("reset link is not the flow's current one")

// useLink is the POST of « Continuer »: the link works once, from any
// browser; that browser then carries the flow on, and a browser that
// held it before loses it.
func (h *Handler) useLink(w http.ResponseWriter, r *http.Request) error {
	if err := h.checkForm(r, linkPurpose); err != nil {
		return err
	}
	ref, hash, err := h.linkFlow(r, true)
	if errors.Is(err, store.ErrNotFound) {
		return h.invalidLink(w, r)
	}
	if err != nil {
		return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	}
	// The store knows the flow by Ref: the browser that holds it has its
	// id; any other browser takes it over under a new id, and the first
	// one's cookie no longer finds it.
	id := ""
	if c, err := r.Cookie(h.cookieName()); err == nil && store.Ref(c.Value) == ref {
		id = c.Value
	}
	mine := id != ""
	if !mine {
		// Never verify a flow another browser holds (whoever typed the
		// address): this browser takes it over under a new id.
		f, err := h.cfg.Store.MoveResetFlow(r.Context(), ref, hash)
		if errors.Is(err, store.ErrNotFound) {
			return h.invalidLink(w, r)
		}
		if err != nil {
			return h.storeError(w, r, err)
		}
		id = f.ID
	}
	var sub string
	err = h.cfg.Store.UpdateResetFlow(r.Context(), id, func(f *store.ResetFlow) error {
		// Only the flow's current link verifies it: its account was set
		// together with it, so it is the account the link was mailed for.
		if f.LinkHash != hash {
			return errStaleLink
		}
		f.Verified = true
		f.CodeHash = ""
		f.OtherBrowser = f.OtherBrowser || !mine
		sub = f.Subject
		return nil
	})
	if errors.Is(err, errStaleLink) {
		return h.invalidLink(w, r)
	}
	if err != nil {
		return h.storeError(w, r, err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.linkCookie(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.cfg.Secure, SameSite: http.SameSiteLaxMode,
	})
	h.setFlowCookie(w, id)
	h.audit(r, audit.ResetCodeAccepted, sub, "link")
	http.Redirect(w, r, h.cfg.Path+"/nouveau", http.StatusSeeOther)
	return nil
}

func (h *Handler) invalidLink(w http.ResponseWriter, r *http.Request) error {
	return web.Render(w, r, http.StatusOK, views.ResetLinkForm(views.ResetLinkPage{
		Site: h.cfg.Pages.Site, Invalid: true, RetryURL: h.cfg.Path,
	}))
}
