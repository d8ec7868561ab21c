package reset

import (
	"net/http"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Verified is someone whose current password was just checked: signed in
// and asking to change it, or signing in with a password the directory
// wants changed. They skip the profile, address and code steps.
type Verified struct {
	User ldapauth.User
	// Purpose is store.PurposeChange, PurposeMustChange or PurposeExpired.
	Purpose string
	// AuthRequestID is the pending sign-in « Continuer » goes back to, if any.
	AuthRequestID string
	// KeepSession is the session the person stays signed in with.
	KeepSession string
}

// Begin starts a verified flow in this browser and sends it to the
// new-password step, which from there on is the reset's: the same rules,
// the same ldapsync path, the same waiting and success pages.
func (h *Handler) Begin(w http.ResponseWriter, r *http.Request, v Verified) error {
	now := h.cfg.Now()
	f := &store.ResetFlow{
		ID: store.NewID(), AuthRequestID: v.AuthRequestID, CreatedAt: now, ExpiresAt: now.Add(h.cfg.Limits.FlowLifetime),
		Subject: v.User.Subject, Login: v.User.Username, Mail: v.User.Email, Email: v.User.Email,
		Verified: true, Purpose: v.Purpose, KeepSession: v.KeepSession,
	}
	if err := h.cfg.Store.SaveResetFlow(r.Context(), f); err != nil {
		return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	}
	h.setFlowCookie(w, changeMark+f.ID)
	h.audit(r, audit.PasswordChangeStarted, f.Subject, v.Purpose)
	http.Redirect(w, r, h.cfg.Path+"/nouveau", http.StatusSeeOther)
	return nil
}
