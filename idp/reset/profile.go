package reset

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

const profilePurpose = "reset:profile"

func (h *Handler) profilePage(w http.ResponseWriter, r *http.Request, status int, missing bool) error {
	p := views.ResetProfilePage{
		Site: h.cfg.Pages.Site, CSRFToken: h.cfg.Forms.Token(w, r, profilePurpose), Missing: missing,
		Action: h.firstStepAction(r),
	}
	if id := r.URL.Query().Get("authRequestID"); id != "" && h.cfg.LoginPath != "" {
		p.BackURL = h.cfg.LoginPath + "?" + url.Values{"authRequestID": {id}}.Encode()
	}
	// Back from the address step: the choice that led there stays checked.
	resumed := false
	if f, err := h.flow(r); err == nil && f.Purpose == "" {
		resumed = true
	}
	for _, pr := range h.cfg.Profiles {
		p.Profiles = append(p.Profiles, views.ResetProfile{ID: pr.ID, Label: pr.Label, Examples: pr.Examples})
		if resumed && pr.URL == "" && p.Selected == "" && !missing {
			p.Selected = pr.ID
		}
	}
	return web.Render(w, r, status, views.ResetProfileForm(p))
}

func (h *Handler) showProfile(w http.ResponseWriter, r *http.Request) error {
	return h.profilePage(w, r, http.StatusOK, false)
}

// chooseProfile: a profile of this directory starts a flow here; the
// others leave for the address configured for their profile. Only the
// chosen profile's id is read from the form: whatever else the request
// says (next, return_to, redirect_uri, url…) never leads anywhere.
func (h *Handler) chooseProfile(w http.ResponseWriter, r *http.Request) error {
	if err := h.checkForm(r, profilePurpose); err != nil {
		return err
	}
	choice := r.PostForm["profil"]
	i := -1
	if len(choice) == 1 {
		i = slices.IndexFunc(h.cfg.Profiles, func(p Profile) bool { return p.ID == choice[0] })
	}
	if i < 0 {
		return h.profilePage(w, r, http.StatusOK, true)
	}
	if u := h.cfg.Profiles[i].URL; u != "" {
		http.Redirect(w, r, u, http.StatusSeeOther)
		return nil
	}
	now := h.cfg.Now()
	f := &store.ResetFlow{ID: store.NewID(), CreatedAt: now, ExpiresAt: now.Add(h.cfg.Limits.FlowLifetime), ReturnTo: h.returnTo(r)}
	// Back here from a later step: the new flow keeps the address typed
	// (only as typed, to fill the field again), nothing that was verified.
	if old, err := h.flow(r); err == nil && old.Purpose == "" {
		f.Email = old.Email
	}
	if id := r.URL.Query().Get("authRequestID"); id != "" {
		// « Continuer » returns to the pending sign-in (this browser's:
		// the route requires it) while it lasts; nothing extends it, or
		// a lure could keep it waiting for days.
		_, err := h.cfg.Store.AuthRequest(r.Context(), id)
		if err == nil {
			f.AuthRequestID = id
		} else if !errors.Is(err, store.ErrNotFound) {
			return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
		}
	}
	if err := h.cfg.Store.SaveResetFlow(r.Context(), f); err != nil {
		return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	}
	h.setFlowCookie(w, f.ID)
	http.Redirect(w, r, h.cfg.Path+"/adresse", http.StatusSeeOther)
	return nil
}
