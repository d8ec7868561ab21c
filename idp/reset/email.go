package reset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

func (h *Handler) flowPurpose(f *store.ResetFlow) string { return "reset:" + f.ID }

func (h *Handler) showEmail(w http.ResponseWriter, r *http.Request) error {
	f, err := h.flow(r)
	if err != nil {
		return h.noFlow(w, r, err)
	}
	return h.emailPage(w, r, f, http.StatusOK, f.Email, false, r.URL.Query().Get("expire") == "1")
}

// emailPage shows the address step; email, typed or kept in the flow
// (validAddress lets bidi characters through), goes back only if clean.
func (h *Handler) emailPage(w http.ResponseWriter, r *http.Request, f *store.ResetFlow, status int, email string, invalid, expired bool) error {
	return web.Render(w, r, status, views.ResetEmailForm(views.ResetEmailPage{
		Site: h.cfg.Pages.Site, Action: h.cfg.Path + "/adresse", CSRFToken: h.cfg.Forms.Token(w, r, h.flowPurpose(f)),
		Email: web.Echo(email), Invalid: invalid, Expired: expired, BackURL: h.profileURL(f),
		Retention: h.cfg.Limits.FlowLifetime,
	}))
}

// profileURL is the first step, with the pending sign-in and the
// return_to the flow started with, for « Retour ».
func (h *Handler) profileURL(f *store.ResetFlow) string {
	q := url.Values{}
	if f.AuthRequestID != "" {
		q.Set("authRequestID", f.AuthRequestID)
	}
	if h.allowedReturnTo(f.ReturnTo) {
		q.Set(returnToParam, f.ReturnTo)
	}
	if len(q) == 0 {
		return h.cfg.Path
	}
	return h.cfg.Path + "?" + q.Encode()
}

// errPastAddress: the flow is past the point where its address may change.
var errPastAddress = errors.New("reset flow past the address step")

// validAddress accepts one plain addr-spec: no display name, no
// CR, LF or NUL, at most 254 octets.
func validAddress(s string) bool {
	if s == "" || len(s) > 254 || strings.ContainsAny(s, "\r\n\x00 <>,;\"") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".")
}

func (h *Handler) submitEmail(w http.ResponseWriter, r *http.Request) error {
	sctx, span := tracing.Start(r.Context(), "reset.address")
	defer span.End()
	r = r.WithContext(sctx)
	f, err := h.flow(r)
	if err != nil {
		return h.noFlow(w, r, err)
	}
	if err := h.checkForm(r, h.flowPurpose(f)); err != nil {
		return err
	}
	values := r.PostForm["email"]
	typed := ""
	if len(values) == 1 {
		typed = strings.TrimSpace(values[0])
	}
	if len(values) != 1 || !validAddress(typed) {
		keep := typed
		if len(keep) > 254 {
			keep = ""
		}
		return h.emailPage(w, r, f, http.StatusOK, keep, true, false)
	}
	verified, oldLink := false, ""
	err = h.cfg.Store.UpdateResetFlow(r.Context(), f.ID, func(cur *store.ResetFlow) error {
		switch {
		case cur.Purpose != "" || cur.JobID != "" || cur.Changed:
			// A change (the current password was checked) or a new
			// password on its way: the account is settled.
			return errPastAddress
		case cur.Verified && strings.EqualFold(cur.Email, typed):
			// Back to this step and the same address again: still verified.
			verified = true
			return nil
		case cur.Verified || !strings.EqualFold(cur.Email, typed):
			// Another address: nothing found or verified for the previous
			// one carries over; a code is needed again.
			cur.Subject, cur.Login, cur.Mail = "", "", ""
			cur.Verified, cur.OtherBrowser = false, false
			cur.CodeHash, cur.CodeTries, cur.Device = "", 0, ""
			oldLink, cur.LinkHash = cur.LinkHash, ""
		}
		cur.Email = typed
		*f = *cur
		return nil
	})
	if errors.Is(err, errPastAddress) || verified {
		http.Redirect(w, r, h.cfg.Path+"/nouveau", http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return h.storeError(w, r, err)
	}
	if oldLink != "" {
		_ = h.cfg.Store.DeleteResetLink(r.Context(), oldLink)
	}
	h.request(r, f)
	http.Redirect(w, r, h.cfg.Path+"/code", http.StatusSeeOther)
	return nil
}

// resend sends a new code to the address the flow already knows.
func (h *Handler) resend(w http.ResponseWriter, r *http.Request) error {
	f, err := h.flow(r)
	if err != nil {
		return h.noFlow(w, r, err)
	}
	if err := h.checkForm(r, h.flowPurpose(f)); err != nil {
		return err
	}
	if f.Email == "" {
		http.Redirect(w, r, h.cfg.Path+"/adresse", http.StatusSeeOther)
		return nil
	}
	if f.Verified {
		// Already verified: no new code, which would change nothing.
		http.Redirect(w, r, h.cfg.Path+"/nouveau", http.StatusSeeOther)
		return nil
	}
	h.request(r, f)
	http.Redirect(w, r, h.cfg.Path+"/code?renvoi=1", http.StatusSeeOther)
	return nil
}

func (h *Handler) storeError(w http.ResponseWriter, r *http.Request, err error) error {
	if err == store.ErrNotFound {
		return h.noFlow(w, r, errFlowExpired)
	}
	return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
}

func addressKey(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	return hex.EncodeToString(sum[:16])
}

// The windows of the limits on requests; the short one is in Limits.
const (
	ipWindow  = time.Hour
	dayWindow = 24 * time.Hour
)

// ipCounter names the requests of one client address, an IPv6 /64
// counting as one, as the sign-in throttle does.
func ipCounter(ip netip.Addr) string { return "reset-ip:" + addressKey(throttle.ClientNetwork(ip)) }

// request counts the request against the address and the IP and,
// within the limits, looks the address up and sends the code after the
// response: the page, its status and its timing are the same whether or
// not an account exists. A request takes a place only in
// the windows that had room, so asking again while held back does not
// delay the next code.
func (h *Handler) request(r *http.Request, f *store.ResetFlow) {
	ctx := r.Context()
	l := h.cfg.Limits
	h.audit(r, audit.ResetRequested, "", "")
	// The client address counts requests, whether or not they send a mail.
	ok, _, _, err := h.cfg.Store.Allow(ctx, ipCounter(h.cfg.ClientIP(r)), ipWindow, l.IPRequests)
	if err != nil || !ok {
		h.logLimited(r, "ip", err)
		return
	}
	var budget mailBudget
	if h.cfg.Devices != nil && h.cfg.Devices.Present(r) {
		// Perhaps a browser the person signed in with: its own budget then
		// (see byDevice), which needs the lookup, so the whole decision is
		// taken off the request path, and the answer stays the same.
		budget = h.byDevice(r.Clone(context.WithoutCancel(ctx)), f.Email)
	} else if what, err := h.takeMail(ctx, addressCounters(f.Email)); what != "" || err != nil {
		h.logLimited(r, what, err)
		return
	}
	select {
	case h.sem <- struct{}{}:
	default:
		h.cfg.Log.WarnContext(ctx, "reset: too many deliveries in progress; request dropped")
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer func() { <-h.sem }()
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		h.deliver(bg, f.ID, f.Email, budget)
	}()
}

// takeMail takes a mail's place in the short window and in the day of
// one recipient's counters, or returns the limit that refused it.
func (h *Handler) takeMail(ctx context.Context, c mailCounters) (limited string, err error) {
	l := h.cfg.Limits
	// The day is looked at before the short window records anything: a
	// request refused for the day must not hold the short window's place.
	n, _, err := h.cfg.Store.Peek(ctx, c.day, dayWindow, l.DayMails)
	if err != nil || n >= int64(l.DayMails) {
		return "address-day", err
	}
	if ok, _, _, err := h.cfg.Store.Allow(ctx, c.short, l.ShortWindow, l.ShortMails); err != nil || !ok {
		return "address", err
	}
	if ok, _, _, err := h.cfg.Store.Allow(ctx, c.day, dayWindow, l.DayMails); err != nil || !ok {
		return "address-day", err
	}
	return "", nil
}

// mailBudget takes a mail's place, once the lookup told whose the typed
// address is (subject, "" for nobody), and returns the device id when it
// is a browser's own budget that had room; ok false: no mail.
type mailBudget func(ctx context.Context, subject string) (device string, ok bool)

// byDevice is the budget of a request from r's browser, which holds a
// device cookie: when it holds a valid token for the person (login.Devices:
// a browser they signed in with since their last new password), the mails
// and wrong codes (accountCounters) of the person's own browsers, counted
// as an address's are, apart from the address's; otherwise, and for an
// address without an account, the address's, as for any browser. A
// stranger has no such token, so neither what they spend nor their wrong
// codes reach the owner's browsers. One budget for all of them, not one
// per token: every sign-in makes a token, so whoever knows the password
// could otherwise multiply the mails to the owner.
func (h *Handler) byDevice(r *http.Request, email string) mailBudget {
	return func(ctx context.Context, subject string) (string, bool) {
		r := r.WithContext(ctx)
		c, id := addressCounters(email), ""
		if subject != "" {
			if known, ok := h.cfg.Devices.Known(r, subject); ok {
				c, id = deviceCounters(subject), known
			}
		}
		if what, err := h.takeMail(ctx, c); what != "" || err != nil {
			if id != "" && err == nil {
				what = "device"
			}
			h.logLimited(r, what, err)
			return "", false
		}
		return id, true
	}
}

// mailCounters name the mails to one recipient in the short window and
// in the day.
type mailCounters struct{ short, day string }

// addressCounters name the mails to one typed address, known or not.
func addressCounters(email string) mailCounters {
	a := addressKey(email)
	return mailCounters{"reset-mail:" + a, "reset-mail-day:" + a}
}

// deviceCounters name the mails sent within the budget of the person's
// own browsers (byDevice).
func deviceCounters(subject string) mailCounters {
	d := addressKey("devices:" + subject)
	return mailCounters{"reset-mail:" + d, "reset-mail-day:" + d}
}

func (h *Handler) logLimited(r *http.Request, what string, err error) {
	if err != nil {
		h.cfg.Log.ErrorContext(r.Context(), "reset: counter unavailable", "err", err)
		return
	}
	h.audit(r, audit.ResetLimited, "", what)
}

// cooldown is how long before the flow's address may get another mail:
// until both of its windows have room.
func (h *Handler) cooldown(ctx context.Context, f *store.ResetFlow) time.Duration {
	if f.Email == "" {
		return 0
	}
	c := addressCounters(f.Email)
	if f.Device != "" {
		c = deviceCounters(f.Subject)
	}
	l := h.cfg.Limits
	var until time.Time
	if _, at, err := h.cfg.Store.Peek(ctx, c.day, dayWindow, l.DayMails); err == nil && at.After(until) {
		until = at
	}
	if _, at, err := h.cfg.Store.Peek(ctx, c.short, l.ShortWindow, l.ShortMails); err == nil && at.After(until) {
		until = at
	}
	if until.IsZero() {
		return 0
	}
	return max(until.Sub(h.cfg.Now()), 0)
}
