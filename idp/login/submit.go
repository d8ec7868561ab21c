package login

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Throttle holds back password guessing (idp/throttle.Limiter).
type Throttle interface {
	CheckNetwork(ctx context.Context, ip netip.Addr) (throttle.Block, error)
	PrefetchNetwork(ctx context.Context, ip netip.Addr) context.Context
	Attempt(ctx context.Context, k throttle.Keys, ip netip.Addr) (throttle.Decision, error)
	Succeeded(ctx context.Context, d throttle.Decision) error
	Failed(ctx context.Context, d throttle.Decision) error
	Cancel(ctx context.Context, d throttle.Decision) error
}

// Prefetch readies a login POST's look at its client address
// (Throttle.CheckNetwork) to travel with the read of its pending sign-in,
// which the server does before the handler (server.Config.LoginPrefetch).
func (h *Handler) Prefetch(r *http.Request) *http.Request {
	if r.Method != http.MethodPost || h.cfg.Throttle == nil {
		return r
	}
	return r.WithContext(h.cfg.Throttle.PrefetchNetwork(r.Context(), web.ClientIP(r, h.cfg.TrustedProxies)))
}

// submit checks the password. The order matters:
//
//  1. the client address is looked at before anything else, so a flood
//     from one address does not reach the directory;
//  2. the login is resolved (a search, no bind) to name the person, if any;
//  3. the throttle decides, per typed identifier (a keyed hash, the same
//     for known and unknown ones, so both are held back alike and a lock
//     says nothing about the person's other identifiers), with a silent
//     ceiling per person (see throttle.Keys) — a held-back attempt is not
//     tried against the directory, so its own lockout (ppolicy) never
//     strikes first;
//  4. only then the bind.
//
// Every outcome that does not prove the password right — unknown login,
// wrong password, locked in the directory — gets the one generic message
// , with the same extra sentence when attempts are held back,
// whatever the identifier.
func (h *Handler) submit(w http.ResponseWriter, r *http.Request) error {
	ar, err := h.pending(r)
	if err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return web.Fail(http.StatusBadRequest, views.ErrBadRequest, err)
	}
	if !h.cfg.Forms.Valid(r, "login:"+ar.ID, r.PostForm.Get("csrf_token")) {
		return web.Fail(http.StatusForbidden, views.ErrFormExpired, errors.New("bad csrf token"))
	}
	login, password := r.PostForm.Get("login"), r.PostForm.Get("password")
	plausible := utf8.ValidString(login) && len(login) <= maxLogin
	page := views.LoginPage{Login: web.Echo(login)}
	if !plausible {
		page.Login = "" // not worth echoing back
	}
	if login == "" || password == "" {
		page.MissingLogin, page.MissingPassword = login == "", password == ""
		return h.render(w, r, ar, http.StatusOK, page)
	}
	ctx := r.Context()
	ev := audit.Event{
		ClientID: ar.ClientID, IP: web.ClientIP(r, h.cfg.TrustedProxies),
		Identifier: h.cfg.Identifiers.Hash(login), RequestID: web.RequestID(ctx),
	}
	if !plausible {
		// No identifier looks like that: refused without asking anyone.
		h.audit(ctx, ev, audit.SignInFailure, "invalid_identifier")
		page.Failed = true
		return h.render(w, r, ar, http.StatusOK, page)
	}

	if h.cfg.Throttle != nil {
		b, err := h.cfg.Throttle.CheckNetwork(ctx, ev.IP)
		if err != nil {
			return h.unavailable(w, r, ar, page, ev, err)
		}
		if b.Kind != throttle.None {
			return h.held(w, r, ar, page, ev, throttle.Decision{Block: b})
		}
	}
	fctx, span := tracing.Start(ctx, "login.directory_find")
	cand, err := h.cfg.Directory.Find(fctx, login)
	tracing.End(span, err)
	if err != nil {
		return h.unavailable(w, r, ar, page, ev, err)
	}
	keys := throttle.Keys{Counter: throttle.IdentifierKey(ev.Identifier)}
	if cand.Found() {
		keys.Account, ev.Subject = throttle.AccountKey(cand.User.Subject), cand.User.Subject
		if id, ok := h.known(r, cand.User.Subject); ok {
			// A browser this person signed in with: its own budget only.
			keys = throttle.Keys{Counter: throttle.DeviceKey(id)}
		}
	}
	dec := throttle.Decision{Allowed: true}
	if h.cfg.Throttle != nil {
		if dec, err = h.cfg.Throttle.Attempt(ctx, keys, ev.IP); err != nil {
			return h.unavailable(w, r, ar, page, ev, err)
		}
		if !dec.Allowed {
			return h.held(w, r, ar, page, ev, dec)
		}
		if dec.Capped {
			// The person's ceiling: checked as nobody, so the answer (and
			// its time) is that of a wrong password.
			h.audit(ctx, ev, audit.SignInLockout, "account_ceiling")
			cand = ldapauth.Candidate{}
		}
	}

	// The sign-in's time is when the password check began: a revocation
	// after a new password then wins even over this check's success.
	authTime := h.cfg.Now()
	vctx, span := tracing.Start(ctx, "login.directory_verify")
	res, err := h.verify(vctx, cand, password)
	tracing.End(span, err)
	if err != nil {
		if h.cfg.Throttle != nil {
			if cerr := h.cfg.Throttle.Cancel(context.WithoutCancel(ctx), dec); cerr != nil {
				h.cfg.Log.WarnContext(ctx, "could not take back a throttled attempt", "err", cerr, "request_id", ev.RequestID)
			}
		}
		return h.unavailable(w, r, ar, page, ev, err)
	}
	// The person knows the password, whatever the directory thinks of it:
	// the failures in a row end here. A sign-in ends them itself
	// (signedIn); otherwise nothing below waits for that, so it runs
	// alongside, and the answer leaves once it is done.
	if res.PasswordRight() && h.cfg.Throttle != nil && !res.OK {
		forgotten := make(chan struct{})
		go func() {
			defer close(forgotten)
			h.forgetFailures(ctx, ev, dec)
		}()
		defer func() { <-forgotten }()
	}
	switch {
	case res.OK:
		return h.signedIn(w, r, ar, ev, res, authTime, dec)
	case res.State == ldapauth.StateExpired:
		// The password was proved right: a new one now, then back here.
		h.audit(ctx, ev, audit.SignInFailure, "password_expired")
		return h.cfg.Changes.Begin(w, r, reset.Verified{User: res.User, Purpose: store.PurposeExpired, AuthRequestID: ar.ID})
	case res.State == ldapauth.StateMustChange:
		h.audit(ctx, ev, audit.SignInFailure, "password_must_change")
		return h.cfg.Changes.Begin(w, r, reset.Verified{User: res.User, Purpose: store.PurposeMustChange, AuthRequestID: ar.ID})
	default:
		if h.cfg.Throttle != nil {
			if err := h.cfg.Throttle.Failed(context.WithoutCancel(ctx), dec); err != nil {
				h.cfg.Log.WarnContext(ctx, "could not count a failure of the address", "err", err, "request_id", ev.RequestID)
			}
		}
		h.audit(ctx, ev, audit.SignInFailure, "invalid_credentials")
		if dec.Block.Kind == throttle.Lock {
			h.audit(ctx, ev, audit.SignInLockout, "lock_started")
		}
		page.Failed, page.Hold = true, h.hold(dec.Block)
	}
	return h.render(w, r, ar, http.StatusOK, page)
}

// known returns the browser's device id for subject (see Devices).
func (h *Handler) known(r *http.Request, subject string) (string, bool) {
	if h.cfg.Devices == nil {
		return "", false
	}
	return h.cfg.Devices.Known(r, subject)
}

// signedIn opens the session and hands the sign-in back to the provider;
// after a grace login it first says how many are left.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, ar *store.AuthRequest, ev audit.Event, res ldapauth.Result, authTime time.Time, dec throttle.Decision) error {
	ev.Subject = res.User.Subject
	if res.State != ldapauth.StateGrace {
		// The session is saved with the code, and the throttle's failures
		// deleted, in one round trip; the session cookie is set only once
		// all is written.
		sess, prev := h.cfg.Sessions.Open(r, directoryIdentity(res.User), authTime, ar.ClientID)
		to, err := h.cfg.Provider.CodeURL(r.Context(), ar, identityOf(sess), sess, dec.Forgets()...)
		if err != nil {
			h.forgetFailures(r.Context(), ev, dec)
			if !settledElsewhere(err) {
				h.audit(r.Context(), ev, audit.SignInUnavailable, "")
			}
			return completionError(err)
		}
		h.cfg.Sessions.Replaced(r.Context(), prev, sess)
		h.cfg.Sessions.SetCookie(w, sess)
		if h.cfg.Devices != nil {
			h.cfg.Devices.Remember(w, r, res.User.Subject)
		}
		h.audit(r.Context(), ev, audit.SignInSuccess, "")
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	}
	h.forgetFailures(r.Context(), ev, dec)
	sess, err := h.cfg.Sessions.Start(w, r, directoryIdentity(res.User), authTime, ar.ClientID)
	if err != nil {
		return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	}
	if h.cfg.Devices != nil {
		h.cfg.Devices.Remember(w, r, res.User.Subject)
	}
	h.audit(r.Context(), ev, audit.SignInSuccess, "password_expired_grace")
	if _, err := h.complete(r, ar, sess); err != nil {
		return err
	}
	p := views.PasswordGrace{
		Site: h.cfg.Pages.Site, GraceLogins: res.GraceLogins,
		ContinueURL:       h.cfg.Provider.CallbackURL(r.Context(), ar.ID),
		ChangePasswordURL: h.cfg.ChangePasswordPath + "?" + url.Values{"authRequestID": {ar.ID}}.Encode(),
	}
	if c, ok := h.cfg.Provider.Client(ar.ClientID); ok {
		p.ClientName = c.Name
	}
	return web.Render(w, r, http.StatusOK, views.PasswordGracePage(p))
}

// forgetFailures ends the failures in a row of dec, whose password was
// right, where no completion deletes them with its code.
func (h *Handler) forgetFailures(ctx context.Context, ev audit.Event, dec throttle.Decision) {
	if h.cfg.Throttle == nil {
		return
	}
	if err := h.cfg.Throttle.Succeeded(context.WithoutCancel(ctx), dec); err != nil {
		h.cfg.Log.WarnContext(ctx, "could not reset the sign-in failures", "err", err, "request_id", ev.RequestID)
	}
}

// held answers an attempt the throttle refused; nothing was checked.
func (h *Handler) held(w http.ResponseWriter, r *http.Request, ar *store.AuthRequest, page views.LoginPage, ev audit.Event, d throttle.Decision) error {
	status := http.StatusOK // as for a wrong password: the same page for every identifier
	switch d.Block.Kind {
	case throttle.Network:
		// Nothing about the identifier here: the whole address waits.
		h.audit(r.Context(), ev, audit.SignInDelayed, "network_limit")
		wait := max(d.Block.Until.Sub(h.cfg.Now()), time.Second)
		page.NetworkHold = views.Hold{Kind: views.HoldLock, Wait: wait}
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		status = http.StatusTooManyRequests
	case throttle.Lock:
		h.audit(r.Context(), ev, audit.SignInLockout, "attempt_while_locked")
		page.Failed, page.Hold = true, h.hold(d.Block)
	default:
		h.audit(r.Context(), ev, audit.SignInDelayed, "attempt_while_delayed")
		page.Failed, page.Hold = true, h.hold(d.Block)
	}
	return h.render(w, r, ar, status, page)
}

// hold turns a throttle block into what the page says.
func (h *Handler) hold(b throttle.Block) views.Hold {
	wait := b.Until.Sub(h.cfg.Now())
	switch {
	case b.Kind == throttle.None || wait <= 0:
		return views.Hold{}
	case b.Kind == throttle.Delay:
		return views.Hold{Kind: views.HoldDelay, Wait: wait}
	default:
		return views.Hold{Kind: views.HoldLock, Wait: wait}
	}
}

// unavailable answers « service indisponible »: the directory or Redis
// did not answer, or the account cannot be signed in (ErrSubjectReserved,
// logged at ERROR already): not the person's fault either way.
func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, ar *store.AuthRequest, page views.LoginPage, ev audit.Event, err error) error {
	reason := ""
	if errors.Is(err, ErrSubjectReserved) {
		reason = "subject_reserved"
	} else {
		h.cfg.Log.WarnContext(r.Context(), "sign-in could not be checked", "request_id", web.RequestID(r.Context()), "err", err)
	}
	h.audit(r.Context(), ev, audit.SignInUnavailable, reason)
	page.Unavailable = true
	return h.render(w, r, ar, http.StatusServiceUnavailable, page)
}

func (h *Handler) audit(ctx context.Context, ev audit.Event, name audit.Name, reason string) {
	ev.Name, ev.Reason = name, reason
	audit.Log(ctx, h.cfg.Log, ev)
}
