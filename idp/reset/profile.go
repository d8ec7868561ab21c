package reset

import (
	"errors"
	"net/http"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Usager is the profile that continues here.
const Usager = views.ProfileUsager

const profilePurpose = "reset:profile"

func (h *Handler) profilePage(w http.ResponseWriter, r *http.Request, status int, missing bool) error {
	p := views.ResetProfilePage{
		Site: h.cfg.Pages.Site, CSRFToken: h.cfg.Forms.Token(w, r, profilePurpose), Missing: missing,
		Action: h.firstStepAction(r),
	}
	for _, pr := range h.cfg.Profiles {
		p.Profiles = append(p.Profiles, views.ResetProfile{Value: pr.Value, Label: pr.Label, Hint: pr.Hint})
	}
	return web.Render(w, r, status, views.ResetProfileForm(p))
}

func (h *Handler) showProfile(w http.ResponseWriter, r *http.Request) error {
	return h.profilePage(w, r, http.StatusOK, false)
}

// chooseProfile: the usager starts a flow here; the others leave for the
// address configured for their profile.
func (h *Handler) chooseProfile(w http.ResponseWriter, r *http.Request) error {
	if err := h.checkForm(r, profilePurpose); err != nil {
		return err
	}
	choice := r.PostForm.Get("profil")
	var chosen *Profile
	for i := range h.cfg.Profiles {
		if h.cfg.Profiles[i].Value == choice {
			chosen = &h.cfg.Profiles[i]
		}
	}
	if chosen == nil || len(r.PostForm["profil"]) != 1 {
		return h.profilePage(w, r, http.StatusOK, true)
	}
	if chosen.Value != Usager {
		http.Redirect(w, r, chosen.URL, http.StatusSeeOther)
		return nil
	}
	now := h.cfg.Now()
	f := &store.ResetFlow{ID: store.NewID(), CreatedAt: now, ExpiresAt: now.Add(h.cfg.Limits.FlowLifetime), ReturnTo: h.returnTo(r)}
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
