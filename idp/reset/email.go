package reset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
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

func (h *Handler) emailPage(w http.ResponseWriter, r *http.Request, f *store.ResetFlow, status int, email string, invalid, expired bool) error {
	return web.Render(w, r, status, views.ResetEmailForm(views.ResetEmailPage{
		Site: h.cfg.Pages.Site, Action: h.cfg.Path + "/adresse", CSRFToken: h.cfg.Forms.Token(w, r, h.flowPurpose(f)),
		Email: email, Invalid: invalid, Expired: expired,
	}))
}

// validAddress accepts one plain addr-spec (SEC-06): no display name, no
// CR, LF or NUL, at most 254 octets.
func validAddress(s string) bool {
	if s == "" || len(s) > 254 || strings.ContainsAny(s, "\r\n\x00 <>,;\"") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".")
}

func (h *Handler) submitEmail(w http.ResponseWriter, r *http.Request) error {
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
	if err := h.cfg.Store.UpdateResetFlow(r.Context(), f.ID, func(f *store.ResetFlow) error {
		f.Email = typed
		return nil
	}); err != nil {
		return h.storeError(w, r, err)
	}
	f.Email = typed
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

// request counts the request against the address and the IP (SEC-03) and,
// within the limits, looks the address up and sends the code after the
// response: the page, its status and its timing are the same whether or
// not an account exists (SEC-01, SEC-02).
func (h *Handler) request(r *http.Request, f *store.ResetFlow) {
	ctx := r.Context()
	l := h.cfg.Limits
	h.audit(r, audit.ResetRequested, "", "")
	ipCount, _, err := h.cfg.Store.Count(ctx, "reset-ip:"+addressKey(h.cfg.ClientIP(r).String()), time.Hour)
	if err != nil || ipCount > int64(l.IPRequests) {
		h.logLimited(r, "ip", err)
		return
	}
	addr := addressKey(f.Email)
	short, _, err := h.cfg.Store.Count(ctx, "reset-mail:"+addr, l.ShortWindow)
	if err != nil || short > int64(l.ShortMails) {
		h.logLimited(r, "address", err)
		return
	}
	day, _, err := h.cfg.Store.Count(ctx, "reset-mail-day:"+addr, 24*time.Hour)
	if err != nil || day > int64(l.DayMails) {
		h.logLimited(r, "address-day", err)
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
		h.deliver(bg, f.ID, f.Email)
	}()
}

func (h *Handler) logLimited(r *http.Request, what string, err error) {
	if err != nil {
		h.cfg.Log.ErrorContext(r.Context(), "reset: counter unavailable", "err", err)
		return
	}
	h.audit(r, audit.ResetLimited, "", what)
}

// cooldown is how long before the flow's address may get another mail.
func (h *Handler) cooldown(ctx context.Context, f *store.ResetFlow) time.Duration {
	if f.Email == "" {
		return 0
	}
	addr := addressKey(f.Email)
	now := h.cfg.Now()
	if c, end, err := h.cfg.Store.Peek(ctx, "reset-mail-day:"+addr, 24*time.Hour); err == nil && c >= int64(h.cfg.Limits.DayMails) {
		return end.Sub(now)
	}
	if c, end, err := h.cfg.Store.Peek(ctx, "reset-mail:"+addr, h.cfg.Limits.ShortWindow); err == nil && c >= int64(h.cfg.Limits.ShortMails) {
		return end.Sub(now)
	}
	return 0
}
