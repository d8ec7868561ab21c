package reset

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Policy checks a new password before anything is queued, against the
// provider's rules and those every directory target published; its
// refusal is a views.PasswordProblem.
type Policy interface {
	Check(ctx context.Context, password string, context ...string) views.PasswordProblem
	Lengths(ctx context.Context) (min, max int)
}

// ChangeState is where a queued change stands, without any secret.
type ChangeState struct {
	// Pending: queued or being written; Slow: a directory did not answer
	// yet and the change is being retried. SlowIn and WrittenIn name the
	// directories (their labels) still waiting and already written.
	Pending, Slow     bool
	SlowIn, WrittenIn []string
	Done              bool
	// Refused: the directory's policy refused the password (Problem says
	// why): the person picks another one.
	Refused bool
	Problem views.PasswordProblem
	// Failed: given up; nothing changed, unless Unconfirmed (a write was
	// sent and whether it was applied is unknown).
	Failed, Unconfirmed bool
	// Partial: Done in some directories, not in those NotChangedIn names
	// (their labels, in French).
	Partial      bool
	NotChangedIn []string
}

// Change is one new password to apply.
type Change struct {
	Subject, Login, Mail string
	Password             string
	// KeepSession survives the revocation that follows the change.
	KeepSession string
	// Since, when set, is when a flow opened with the old password began:
	// a change of the person written since then wins, and Submit answers
	// ErrChangeSuperseded.
	Since time.Time
}

// Changes hands a new password to the directory writer (ldapsync): the
// web tier never writes the directory itself.
type Changes interface {
	// Submit answers ErrChangeUnderWay while another change of the same
	// person is unsettled, and ErrChangeSuperseded when one was written
	// since c.Since: c is then not queued.
	Submit(ctx context.Context, c Change) (Queued, error)
	State(ctx context.Context, jobID string) (ChangeState, error)
}

// Queued is a change handed to the directory writer: its job, and the
// time after which no write of it starts.
type Queued struct {
	JobID     string
	ExpiresAt time.Time
}

// settleMargin keeps a flow past the end of its job: a write started just
// before that end has finished, and its outcome is known, well within it.
const settleMargin = 5 * time.Minute

const passwordPurpose = "reset:password"

// ErrChangeSuperseded: another change of the person was written after the
// flow began (the owner's reset, while someone else who had the old
// password was on the new-password step): this one is not queued.
var ErrChangeSuperseded = errors.New("reset: a later change of this person was written")

// ErrChangeUnderWay: the person has another change unsettled (another
// browser's, another tab's). Following it instead would show this one as
// written when it is the other password that is.
var ErrChangeUnderWay = errors.New("reset: another change of this person is under way")

// verifiedFlow loads a flow that passed the code or the link; anything
// else goes back where it belongs.
func (h *Handler) verifiedFlow(w http.ResponseWriter, r *http.Request) (*store.ResetFlow, bool, error) {
	f, err := h.flow(r)
	if err != nil {
		return nil, false, h.noFlow(w, r, err)
	}
	if !f.Verified {
		http.Redirect(w, r, h.cfg.Path+"/code", http.StatusSeeOther)
		return nil, false, nil
	}
	return f, true, nil
}

func (h *Handler) passwordPage(w http.ResponseWriter, r *http.Request, f *store.ResetFlow, problem views.PasswordProblem) error {
	min, max := h.cfg.Policy.Lengths(r.Context())
	p := views.NewPasswordPage{
		Site: h.cfg.Pages.Site, Action: h.cfg.Path + "/nouveau", CSRFToken: h.cfg.Forms.Token(w, r, h.flowPurpose(f)),
		MinLength: min, MaxLength: max, Problem: problem, Why: why(f.Purpose),
	}
	if f.Purpose == "" {
		p.BackURL = h.cfg.Path + "/code"
	}
	return web.Render(w, r, http.StatusOK, views.NewPasswordForm(p))
}

// showPassword is step 5: the new password, unless a change is already
// under way or done.
func (h *Handler) showPassword(w http.ResponseWriter, r *http.Request) error {
	f, ok, err := h.verifiedFlow(w, r)
	if !ok {
		return err
	}
	switch {
	case f.Changed:
		http.Redirect(w, r, h.cfg.Path+"/termine", http.StatusSeeOther)
		return nil
	case f.JobID != "":
		http.Redirect(w, r, h.cfg.Path+"/attente", http.StatusSeeOther)
		return nil
	}
	if ok, err := h.stillEntitled(r.Context(), f); err != nil {
		return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	} else if !ok {
		return h.noFlow(w, r, errChangeExpired)
	}
	return h.passwordPage(w, r, f, problemFromCode(r.URL.Query().Get("refus")))
}

// stillEntitled reports whether a flow may still set a password. One
// opened with the current password belongs to the session it was opened
// from, which must still be alive: not logged out (the next person at a
// shared computer), not ended by a revocation (the owner's reset, when
// someone else had the old password). One opened at sign-in, before any
// session, ends when the person's sessions are revoked after it began. A
// flow verified by mail has no such tie.
func (h *Handler) stillEntitled(ctx context.Context, f *store.ResetFlow) (bool, error) {
	switch {
	case f.KeepSession != "":
		sess, err := h.cfg.Store.SessionByRef(ctx, f.KeepSession)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return sess.Subject == f.Subject, nil
	case f.Purpose != "":
		revoked, err := h.cfg.Store.RevokedSince(ctx, f.Subject, f.CreatedAt)
		return !revoked, err
	}
	return true, nil
}

func (h *Handler) submitPassword(w http.ResponseWriter, r *http.Request) error {
	sctx, span := tracing.Start(r.Context(), "reset.new_password")
	defer span.End()
	r = r.WithContext(sctx)
	f, ok, err := h.verifiedFlow(w, r)
	if !ok {
		return err
	}
	if err := h.checkForm(r, h.flowPurpose(f)); err != nil {
		return err
	}
	if f.Changed || f.JobID != "" {
		return h.showPassword(w, r)
	}
	if ok, err := h.stillEntitled(r.Context(), f); err != nil {
		return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	} else if !ok {
		return h.noFlow(w, r, errChangeExpired)
	}
	pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirmation")
	switch {
	case pw == "":
		return h.passwordPage(w, r, f, views.PasswordMissing)
	case pw != confirm:
		return h.passwordPage(w, r, f, views.PasswordMismatch)
	}
	if p := h.cfg.Policy.Check(r.Context(), pw, f.Login, localPart(f.Email)); p != views.PasswordOK {
		return h.passwordPage(w, r, f, p)
	}
	if f.Subject == "" {
		// A verified flow always has its account; be safe anyway.
		return web.Fail(http.StatusBadRequest, views.ErrSignInExpired, errors.New("verified flow without account"))
	}
	q, err := h.cfg.Changes.Submit(r.Context(), Change{
		Subject: f.Subject, Login: f.Login, Mail: f.Mail, Password: pw, KeepSession: f.KeepSession,
		Since: oldPasswordSince(f),
	})
	if q.JobID != "" && err != nil {
		// Queued, but no replica holds it yet: the waiting screen follows
		// it all the same, to its outcome or to "not changed" if a
		// failover loses it, rather than a 503 for a change that goes
		// through.
		h.cfg.Log.WarnContext(r.Context(), "reset: change queued on the primary only", "err", err)
		err = nil
	}
	if errors.Is(err, ErrChangeUnderWay) {
		return h.passwordPage(w, r, f, views.PasswordChangeUnderWay)
	}
	if errors.Is(err, ErrChangeSuperseded) {
		return h.noFlow(w, r, errChangeExpired)
	}
	if err != nil {
		return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	}
	// The flow lasts as long as its change may be written, so that the
	// waiting screen always ends on the change's outcome.
	keep := q.ExpiresAt.Add(settleMargin)
	err = h.cfg.Store.UpdateResetFlow(r.Context(), f.ID, func(f *store.ResetFlow) error {
		f.JobID = q.JobID
		if keep.After(f.ExpiresAt) {
			f.ExpiresAt = keep
		}
		return nil
	})
	if err != nil {
		return h.storeError(w, r, err)
	}
	if c, err := r.Cookie(h.cookieName()); err == nil && keep.After(f.ExpiresAt) {
		h.setFlowCookieFor(w, c.Value, keep.Sub(h.cfg.Now()))
	}
	h.audit(r, audit.ResetQueued, f.Subject, "")
	http.Redirect(w, r, h.cfg.Path+"/attente", http.StatusSeeOther)
	return nil
}

// oldPasswordSince is when f began if the old password opened it (from a
// session, or at sign-in): such a step is worth nothing once another
// change of the person is written, even before that change has ended the
// sessions. A step verified by mail proves the mailbox, whatever the
// password: zero.
func oldPasswordSince(f *store.ResetFlow) time.Time {
	if f.KeepSession == "" && f.Purpose == "" {
		return time.Time{}
	}
	return f.CreatedAt
}

func localPart(mail string) string {
	if i := strings.LastIndexByte(mail, '@'); i > 0 {
		return mail[:i]
	}
	return mail
}

// settle reads the change's state and moves the flow on when it is
// settled; next is where the person goes ("" while pending).
func (h *Handler) settle(ctx context.Context, f *store.ResetFlow) (next string, st ChangeState, err error) {
	if f.Changed {
		return h.cfg.Path + "/termine", ChangeState{Done: true}, nil
	}
	if f.JobID == "" {
		return h.cfg.Path + "/nouveau", ChangeState{}, nil
	}
	st, err = h.cfg.Changes.State(ctx, f.JobID)
	if err != nil {
		return "", st, err
	}
	switch {
	case st.Done, st.Partial:
		next = h.cfg.Path + "/termine"
	case st.Refused:
		next = h.cfg.Path + "/nouveau?refus=" + problemCode(st.Problem)
	case st.Failed && st.Unconfirmed:
		next = h.cfg.Path + "/echec?inconnu=1"
	case st.Failed:
		next = h.cfg.Path + "/echec"
	default:
		return "", st, nil
	}
	err = h.cfg.Store.UpdateResetFlow(ctx, f.ID, func(f *store.ResetFlow) error {
		f.Changed = st.Done || st.Partial
		f.NotChangedIn = st.NotChangedIn
		// Settled: refused or failed, the verified flow may try again.
		f.JobID = ""
		return nil
	})
	return next, st, err
}

// showWaiting is the « mire d'attente ».
func (h *Handler) showWaiting(w http.ResponseWriter, r *http.Request) error {
	f, ok, err := h.verifiedFlow(w, r)
	if !ok {
		return err
	}
	next, st, err := h.settle(r.Context(), f)
	if err != nil {
		return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	}
	if next != "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	return web.Render(w, r, http.StatusOK, views.Waiting(views.WaitingPage{
		Site: h.cfg.Pages.Site, CheckURL: h.cfg.Path + "/attente", StatusURL: h.cfg.Path + "/attente/etat", Why: why(f.Purpose),
		Slow: st.Slow, SlowIn: st.SlowIn, WrittenIn: st.WrittenIn,
	}))
}

// waitingStatus answers the waiting screen's script.
func (h *Handler) waitingStatus(w http.ResponseWriter, r *http.Request) error {
	f, err := h.flow(r)
	var next string
	var st ChangeState
	switch {
	case err != nil:
		next = h.cfg.Path
	case !f.Verified:
		next = h.cfg.Path + "/code"
	default:
		if next, st, err = h.settle(r.Context(), f); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(struct {
		Next        string `json:"next,omitempty"`
		Slow        bool   `json:"slow,omitempty"`
		SlowText    string `json:"slow_text"`
		CurrentText string `json:"current_text"`
	}{next, st.Slow, views.SlowText(st.SlowIn), views.CurrentText(st.WrittenIn)})
}

func (h *Handler) showDone(w http.ResponseWriter, r *http.Request) error {
	f, ok, err := h.verifiedFlow(w, r)
	if !ok {
		return err
	}
	if !f.Changed {
		http.Redirect(w, r, h.cfg.Path+"/attente", http.StatusSeeOther)
		return nil
	}
	return web.Render(w, r, http.StatusOK, views.ChangeDone(views.ChangeDonePage{
		Site: h.cfg.Pages.Site, ContinueURL: h.continueURL(r.Context(), f), Why: why(f.Purpose),
		StillSignedIn: f.KeepSession != "", NotChangedIn: f.NotChangedIn,
	}))
}

func (h *Handler) showFailed(w http.ResponseWriter, r *http.Request) error {
	f, ok, err := h.verifiedFlow(w, r)
	if !ok {
		return err
	}
	return web.Render(w, r, http.StatusOK, views.ChangeFailed(views.ChangeFailedPage{
		Site: h.cfg.Pages.Site, RetryURL: h.cfg.Path + "/nouveau", Unconfirmed: r.URL.Query().Get("inconnu") == "1", Why: why(f.Purpose),
	}))
}

// The directory's refusal travels in the URL as a word, not a number.
var problemCodes = map[views.PasswordProblem]string{
	views.PasswordTooShort: "court", views.PasswordInHistory: "historique", views.PasswordTooYoung: "recent",
	views.PasswordQuality: "qualite", views.PasswordTooLong: "long", views.PasswordRefused: "refus",
}

func problemCode(p views.PasswordProblem) string {
	if c, ok := problemCodes[p]; ok {
		return c
	}
	return "refus"
}

func problemFromCode(c string) views.PasswordProblem {
	for p, code := range problemCodes {
		if code == c {
			return p
		}
	}
	return views.PasswordOK
}

func why(purpose string) views.NewPasswordWhy {
	switch purpose {
	case store.PurposeChange:
		return views.ForChange
	case store.PurposeMustChange:
		return views.ForMustChange
	case store.PurposeExpired:
		return views.ForExpired
	}
	return views.ForLostPassword
}
