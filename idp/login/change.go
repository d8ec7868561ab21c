package login

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// PasswordChanges starts the new-password step for someone whose current
// password was just checked (*reset.Handler).
type PasswordChanges interface {
	Begin(w http.ResponseWriter, r *http.Request, v reset.Verified) error
}

// ChangePassword serves « Changer mon mot de passe » for the person signed
// in here: the current password first, checked as at sign-in and under
// the same throttle, then the reset's new-password step. A wrong current
// password queues nothing. With ?authRequestID= (from the grace-login
// page), « Continuer » at the end goes back to that sign-in.
func (h *Handler) ChangePassword() http.Handler {
	return h.cfg.Pages.Handle(func(w http.ResponseWriter, r *http.Request) error {
		sess, ok := h.cfg.Sessions.Current(r)
		if !ok {
			// Signed out meanwhile: the landing page says so.
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return nil
		}
		arID := h.returnTo(r)
		page := views.CurrentPassword{Site: h.cfg.Pages.Site, Action: h.cfg.ChangePasswordPath, CancelURL: "/"}
		if arID != "" {
			page.Action += "?" + url.Values{"authRequestID": {arID}}.Encode()
			page.CancelURL = h.cfg.Provider.CallbackURL(r.Context(), arID)
		}
		purpose := "change:" + sess.ID
		render := func(status int) error {
			page.CSRFToken = h.cfg.Forms.Token(w, r, purpose)
			return web.Render(w, r, status, views.CurrentPasswordPage(page))
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			page.Expired = r.URL.Query().Get("expire") == "1"
			return render(http.StatusOK)
		case http.MethodPost:
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			return web.Fail(http.StatusMethodNotAllowed, views.ErrMethodNotAllowed, nil)
		}
		if err := r.ParseForm(); err != nil {
			return web.Fail(http.StatusBadRequest, views.ErrBadRequest, err)
		}
		if !h.cfg.Forms.Valid(r, purpose, r.PostForm.Get("csrf_token")) {
			return web.Fail(http.StatusForbidden, views.ErrFormExpired, errors.New("bad csrf token"))
		}
		current := r.PostForm.Get("current_password")
		if current == "" {
			page.Missing = true
			return render(http.StatusOK)
		}
		res, hold, err := h.checkCurrent(r, sess, current)
		switch {
		case err != nil:
			if !errors.Is(err, ErrSubjectReserved) { // logged at ERROR already
				h.cfg.Log.WarnContext(r.Context(), "current password could not be checked", "request_id", web.RequestID(r.Context()), "err", err)
			}
			page.Unavailable = true
			return render(http.StatusServiceUnavailable)
		case !res.PasswordRight():
			page.Wrong, page.Hold = true, hold
			return render(http.StatusOK)
		}
		return h.cfg.Changes.Begin(w, r, reset.Verified{
			User: res.User, Purpose: store.PurposeChange, AuthRequestID: arID, KeepSession: sess.Ref,
		})
	})
}

// returnTo is the pending sign-in named in the URL, if it still exists.
func (h *Handler) returnTo(r *http.Request) string {
	id := r.URL.Query().Get("authRequestID")
	if id == "" {
		return ""
	}
	if _, err := h.cfg.Provider.AuthRequest(r.Context(), id); err != nil {
		return ""
	}
	return id
}

// checkCurrent checks the session's person's password: the account is
// found by the session's username and must still be the session's
// subject; the throttle counts a wrong password as a failed sign-in.
func (h *Handler) checkCurrent(r *http.Request, sess *store.Session, password string) (ldapauth.Result, views.Hold, error) {
	ctx := r.Context()
	ev := audit.Event{Subject: sess.Subject, IP: web.ClientIP(r, h.cfg.TrustedProxies), RequestID: web.RequestID(ctx)}
	dec := throttle.Decision{Allowed: true}
	if h.cfg.Throttle != nil {
		b, err := h.cfg.Throttle.CheckNetwork(ctx, ev.IP)
		if err != nil {
			return ldapauth.Result{}, views.Hold{}, err
		}
		if b.Kind != throttle.None {
			h.audit(ctx, ev, audit.PasswordChangeRefused, "network_limit")
			return ldapauth.Result{}, h.hold(b), nil
		}
		if dec, err = h.cfg.Throttle.Attempt(ctx, throttle.Keys{Counter: throttle.AccountKey(sess.Subject)}, ev.IP); err != nil {
			return ldapauth.Result{}, views.Hold{}, err
		}
		if !dec.Allowed {
			h.audit(ctx, ev, audit.PasswordChangeRefused, "attempt_while_held")
			return ldapauth.Result{}, h.hold(dec.Block), nil
		}
	}
	cand, err := h.cfg.Directory.Find(ctx, sess.Claims.PreferredUsername)
	var res ldapauth.Result
	if err == nil && cand.Found() && cand.User.Subject == sess.Subject {
		res, err = h.verify(ctx, cand, password)
	}
	if h.cfg.Throttle != nil {
		h.settleAttempt(ctx, dec, err, res.PasswordRight())
	}
	switch {
	case err != nil:
		return ldapauth.Result{}, views.Hold{}, err
	case !res.PasswordRight():
		h.audit(ctx, ev, audit.PasswordChangeRefused, "wrong_current_password")
		return res, h.hold(dec.Block), nil
	}
	return res, views.Hold{}, nil
}

// settleAttempt tells the throttle how an attempt ended: not counted when
// the directory could not say, reset when the password was right, a
// failure of the address too when it was wrong.
func (h *Handler) settleAttempt(ctx context.Context, dec throttle.Decision, err error, right bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var terr error
	switch {
	case err != nil:
		terr = h.cfg.Throttle.Cancel(ctx, dec)
	case right:
		terr = h.cfg.Throttle.Succeeded(ctx, dec)
	default:
		terr = h.cfg.Throttle.Failed(ctx, dec)
	}
	if terr != nil {
		h.cfg.Log.WarnContext(ctx, "could not update the throttle", "err", terr)
	}
}
