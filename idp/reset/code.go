package reset

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// codeAlphabet has no 0/O or 1/I: 32 symbols, so a code of 6 carries 30
// bits, and a byte masked to 5 bits picks one uniformly.
const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

const codeLength = 6

func newCode() string {
	b := make([]byte, codeLength)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = codeAlphabet[b[i]&31]
	}
	return string(b)
}

// normalizeCode accepts what people type or paste: « t3a8 xq », « T3A8-XQ »
// .
func normalizeCode(s string) string {
	s = strings.ToUpper(s)
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '\t', '\u00a0', '\u202f':
			return -1
		}
		return r
	}, s)
}

func newLinkToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// deliver runs after the response: the directory lookup, a new code and
// link bound to the flow, and the mail to the address the directory holds
// . An address without an account gets a code too, that nobody
// receives: its code step then counts tries and expires exactly like a
// real one, so it tells nothing about the address.
func (h *Handler) deliver(ctx context.Context, flowID, typed string, budget mailBudget) {
	u, found, err := h.cfg.Accounts.FindByMail(ctx, typed)
	if err != nil {
		h.cfg.Log.ErrorContext(ctx, "reset: directory lookup failed", "err", err)
		return
	}
	found = found && u.Email != ""
	device := ""
	if budget != nil {
		// The request's mail is counted now that the lookup names the
		// person (byDevice); refused, the flow stays held back, as it
		// would have on the request path.
		subject := ""
		if found {
			subject = u.Subject
		}
		var ok bool
		if device, ok = budget(ctx, subject); !ok {
			return
		}
	}
	code, token := newCode(), newLinkToken()
	now := h.cfg.Now()
	exp := now.Add(h.cfg.Limits.CodeLifetime)
	var oldLink string
	err = h.cfg.Store.UpdateResetFlow(ctx, flowID, func(f *store.ResetFlow) error {
		if f.Verified || !strings.EqualFold(f.Email, typed) {
			// Verified meanwhile, or another address typed since: the
			// account this flow stands for is no longer this lookup's to set.
			return errStaleDelivery
		}
		oldLink = f.LinkHash
		f.Subject, f.Login, f.Mail, f.LinkHash = "", "", "", ""
		if found {
			f.Subject = u.Subject
			f.Login = u.Username
			f.Mail = u.Email
			f.LinkHash = h.mac("link", token)
		}
		f.CodeHash = h.mac("code:"+f.ID, code)
		f.CodeExpiresAt = exp
		f.CodeTries = 0
		f.CodesSent++
		f.Device = device
		return nil
	})
	if errors.Is(err, errStaleDelivery) {
		h.cfg.Log.DebugContext(ctx, "reset: flow moved on before the code was made")
		return
	}
	if err != nil {
		h.cfg.Log.WarnContext(ctx, "reset: flow gone before the code was made", "err", err)
		return
	}
	// A new request invalidates the previous code and link.
	if oldLink != "" {
		_ = h.cfg.Store.DeleteResetLink(ctx, oldLink)
	}
	if !found {
		h.cfg.Log.DebugContext(ctx, "reset: no account for the address")
		return
	}
	if err := h.cfg.Store.SaveResetLink(ctx, h.mac("link", token), flowID, exp); err != nil {
		h.cfg.Log.ErrorContext(ctx, "reset: cannot save the link", "err", err)
		return
	}
	link := strings.TrimSuffix(h.cfg.PublicURL, "/") + h.cfg.Path + "/lien?t=" + token
	subject, text, html, err := h.cfg.Compose(ctx, code, link, h.cfg.Limits.CodeLifetime)
	if err != nil {
		h.cfg.Log.ErrorContext(ctx, "reset: cannot render the mail", "err", err)
		return
	}
	if err := h.cfg.Outbox.Enqueue(ctx, Mail{To: u.Email, Subject: subject, Text: text, HTML: html}); err != nil {
		h.cfg.Log.ErrorContext(ctx, "reset: cannot queue the mail", "err", err)
		return
	}
	ev := audit.Event{Name: audit.ResetMailed, Subject: u.Subject}
	if device != "" {
		ev.Reason = "device_budget"
	}
	audit.Log(ctx, h.cfg.Log, ev)
}

var errStaleDelivery = errors.New("reset flow moved on before delivery")

func (h *Handler) showCode(w http.ResponseWriter, r *http.Request) error {
	f, err := h.flow(r)
	if err != nil {
		return h.noFlow(w, r, err)
	}
	if f.Purpose != "" {
		// A change never had a code step.
		http.Redirect(w, r, h.cfg.Path+"/nouveau", http.StatusSeeOther)
		return nil
	}
	if f.Email == "" {
		http.Redirect(w, r, h.cfg.Path+"/adresse", http.StatusSeeOther)
		return nil
	}
	return h.codePage(w, r, f, views.CodeOK)
}

func (h *Handler) codePage(w http.ResponseWriter, r *http.Request, f *store.ResetFlow, e views.CodeError) error {
	p := views.ResetCodePage{
		Site: h.cfg.Pages.Site, Action: h.cfg.Path + "/code", ResendURL: h.cfg.Path + "/renvoyer",
		CSRFToken: h.cfg.Forms.Token(w, r, h.flowPurpose(f)), Validity: h.cfg.Limits.CodeLifetime,
		Error: e, Resent: r.URL.Query().Get("renvoi") == "1",
		BackURL: h.cfg.Path + "/adresse", Verified: f.Verified, NextURL: h.cfg.Path + "/nouveau",
	}
	if !f.Verified {
		p.Cooldown = h.cooldown(r.Context(), f)
	}
	return web.Render(w, r, http.StatusOK, views.ResetCodeForm(p))
}

// accountCounters name the wrong codes that concern f, and so its
// suspensions: always the typed address's, which every flow for it sees,
// with or without a code, with or without an account; and the person's,
// once the flow knows the account, so that their other addresses share
// them. An address without an account is counted the same way, so nothing
// tells them apart. A code sent within the budget of the person's own
// browsers (byDevice) counts against them alone, so that strangers' wrong
// codes do not suspend the owner there.
func accountCounters(f *store.ResetFlow) []string {
	if f.Device != "" {
		return []string{"reset-fail:" + addressKey("devices:"+f.Subject)}
	}
	names := []string{"reset-fail:" + addressKey(f.Email)}
	if f.Subject != "" {
		names = append(names, "reset-fail:"+addressKey("sub:"+f.Subject))
	}
	return names
}

// failureRule: the wrong code that makes AccountFailures in the last
// AccountWindow, and each one after while they stay there, suspends the
// code checks for AccountSuspension. Re-requesting a code resets nothing.
func (h *Handler) failureRule() store.StrikeRule {
	l := h.cfg.Limits
	return store.StrikeRule{Window: l.AccountWindow, Hold: l.AccountSuspension, Limit: l.AccountFailures}
}

var errCode = errors.New("code refused")

func (h *Handler) submitCode(w http.ResponseWriter, r *http.Request) error {
	sctx, span := tracing.Start(r.Context(), "reset.code")
	defer span.End()
	r = r.WithContext(sctx)
	f, err := h.flow(r)
	if err != nil {
		return h.noFlow(w, r, err)
	}
	if err := h.checkForm(r, h.flowPurpose(f)); err != nil {
		return err
	}
	if f.Verified {
		// Back on this step after the code was accepted: go on.
		http.Redirect(w, r, h.cfg.Path+"/nouveau", http.StatusSeeOther)
		return nil
	}
	code := normalizeCode(r.PostForm.Get("code"))
	if code == "" {
		return h.codePage(w, r, f, views.CodeMissing)
	}
	ctx := r.Context()
	outcome, counted, err := h.compareCode(ctx, f, code)
	if errors.Is(err, errSuspended) {
		return h.codePage(w, r, f, views.CodeSuspended)
	}
	if err != nil {
		if errors.Is(err, errCounters) {
			return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
		}
		return h.storeError(w, r, err)
	}
	switch outcome {
	case views.CodeOK:
		if f.LinkHash != "" {
			_ = h.cfg.Store.DeleteResetLink(ctx, f.LinkHash) // used: the link dies with the code
		}
		h.audit(r, audit.ResetCodeAccepted, f.Subject, "code")
		http.Redirect(w, r, h.cfg.Path+"/nouveau", http.StatusSeeOther)
		return nil
	case views.CodeWrong:
		if counted {
			h.audit(r, audit.ResetCodeRefused, f.Subject, "wrong_code")
		}
	}
	return h.codePage(w, r, f, outcome)
}

var (
	errSuspended = errors.New("code checks suspended")
	errCounters  = errors.New("reset: wrong-code counters")
	// errCountersMoved: the flow was matched to an account, or given
	// another address, since its counters were struck.
	errCountersMoved = errors.New("the flow's counters changed")
)

// compareTimeout bounds compareCode's Redis steps, detached from the
// request.
const compareTimeout = 10 * time.Second

// compareAndCountAttempts bounds the retries of compareCode when the
// flow's counters keep changing under it (a delivery landing, then none).
const compareAndCountAttempts = 3

// compareCode compares code with f's and counts a wrong one. The failure
// is struck first, in the same step that checks the suspension
// (store.Strike), and taken back unless the code was compared and wrong:
// so codes typed in parallel, over several flows of one address or
// person, are compared no more than AccountFailures times before the
// suspension. A flow with no code yet compares nothing and counts
// nothing, but is suspended like the others. f becomes the flow as
// updated. It returns the outcome and whether a wrong code was counted;
// errSuspended: nothing was compared.
func (h *Handler) compareCode(ctx context.Context, f *store.ResetFlow, code string) (views.CodeError, bool, error) {
	// Run to the end whatever becomes of the request: a client hanging up
	// between the strike and its taking back would leave a failure that
	// no code was compared for.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), compareTimeout)
	defer cancel()
	l := h.cfg.Limits
	for range compareAndCountAttempts {
		var outcome views.CodeError
		counted := false
		names := accountCounters(f)
		strike, _, err := h.cfg.Store.Strike(ctx, names, h.failureRule())
		if err != nil {
			return 0, false, fmt.Errorf("%w: %w", errCounters, err)
		}
		if strike == nil {
			return 0, false, errSuspended
		}
		err = h.cfg.Store.UpdateResetFlow(ctx, f.ID, func(cur *store.ResetFlow) error {
			*f = *cur
			counted = true // fn may run again: each run decides afresh
			if !slices.Equal(accountCounters(cur), names) {
				return errCountersMoved
			}
			switch {
			case cur.CodeHash == "" && cur.CodesSent == 0:
				// No code made yet (held back, or on its way): nothing to
				// compare, so nothing guessed, and nothing counted.
				outcome, counted = views.CodeWrong, false
			case cur.CodeHash == "" || !h.cfg.Now().Before(cur.CodeExpiresAt) || cur.CodeTries >= l.CodeTries:
				outcome, counted = views.CodeDead, false
				return errCode
			case !h.codeMatches(cur, code):
				cur.CodeTries++
				outcome = views.CodeWrong
				if cur.CodeTries >= l.CodeTries {
					cur.CodeHash = "" // five strikes: this code is dead
				}
			default:
				cur.Verified = true
				cur.CodeHash = ""
				outcome, counted = views.CodeOK, false
			}
			return nil
		})
		if errors.Is(err, errCode) {
			err = nil
		}
		if err != nil {
			counted = false
		}
		if !counted {
			// Taken back: a failure left behind would only suspend
			// sooner, so a Redis error here does not fail the page.
			if rerr := h.cfg.Store.Retract(ctx, strike); rerr != nil {
				h.cfg.Log.WarnContext(ctx, "reset: cannot take back a struck failure", "err", rerr)
			}
		}
		if errors.Is(err, errCountersMoved) {
			continue
		}
		return outcome, counted, err
	}
	return 0, false, fmt.Errorf("reset: code check: %w", store.ErrConflict)
}

// codeMatches compares code with the flow's, under the current cookie key
// or one it replaced (a code mailed before the rotation).
func (h *Handler) codeMatches(f *store.ResetFlow, code string) bool {
	for _, m := range h.macs("code:"+f.ID, code) {
		if hmac.Equal([]byte(m), []byte(f.CodeHash)) {
			return true
		}
	}
	return false
}
