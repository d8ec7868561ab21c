package reset

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Store is what the journey keeps in Redis.
type Store interface {
	SaveResetFlow(ctx context.Context, f *store.ResetFlow) error
	ResetFlow(ctx context.Context, id string) (*store.ResetFlow, error)
	UpdateResetFlow(ctx context.Context, id string, fn func(*store.ResetFlow) error) error
	SaveResetLink(ctx context.Context, hash, flowID string, expiresAt time.Time) error
	ResetLink(ctx context.Context, hash string) (string, error)
	ConsumeResetLink(ctx context.Context, hash string) (string, error)
	MoveResetFlow(ctx context.Context, ref, linkHash string) (*store.ResetFlow, error)
	DeleteResetLink(ctx context.Context, hash string) error
	Allow(ctx context.Context, name string, window time.Duration, limit int) (allowed bool, n int64, retryAt time.Time, err error)
	Peek(ctx context.Context, name string, window time.Duration, limit int) (n int64, retryAt time.Time, err error)
	Strike(ctx context.Context, names []string, rule store.StrikeRule) (*store.Strike, time.Time, error)
	Retract(ctx context.Context, st *store.Strike) error
	AuthRequest(ctx context.Context, id string) (*store.AuthRequest, error)
	AuthRequestByRef(ctx context.Context, ref string) (*store.AuthRequest, error)
	SessionByRef(ctx context.Context, ref string) (*store.Session, error)
	RevokedSince(ctx context.Context, subject string, t time.Time) (bool, error)
}

// Accounts finds the account an address belongs to (read-only).
type Accounts interface {
	FindByMail(ctx context.Context, mail string) (u ldapauth.User, found bool, err error)
}

// Devices recognises a browser the person signed in with: its device
// cookie (login.Devices).
type Devices interface {
	// Present reports whether the browser holds any device token at all.
	Present(r *http.Request) bool
	// Known returns the browser's device id for subject, if it holds a
	// valid token for that person.
	Known(r *http.Request, subject string) (string, bool)
}

// Mail is one message to queue for sending.
type Mail struct{ To, Subject, Text, HTML string }

// Outbox queues mail; the sending happens elsewhere.
type Outbox interface {
	Enqueue(ctx context.Context, m Mail) error
}

// Composer renders the code mail.
type Composer func(ctx context.Context, code, link string, validity time.Duration) (subject, text, html string, err error)

// Forms issues and checks anti-forgery tokens.
type Forms interface {
	Token(w http.ResponseWriter, r *http.Request, purpose string) string
	Valid(r *http.Request, purpose, token string) bool
}

// Profile is a choice of the first step, from configuration. URL is
// where it leads (another provider's reset page, the support page), never
// taken from the request; a profile without URL continues this journey.
type Profile struct {
	ID, Label, Examples, URL string
}

// Limits are the journey's numbers.
type Limits struct {
	FlowLifetime time.Duration // 15 min
	CodeLifetime time.Duration // 10 min
	CodeTries    int           // 5 a code
	// A wrong code that makes AccountFailures in the last AccountWindow
	// suspends the account's code checks for AccountSuspension.
	AccountFailures   int           // 10
	AccountWindow     time.Duration // 24 h
	AccountSuspension time.Duration // 1 h
	// Mails to one address: ShortMails per ShortWindow and DayMails a day.
	ShortMails  int           // 3
	ShortWindow time.Duration // 15 min
	DayMails    int           // 10
	// Requests from one address IP per hour.
	IPRequests int // 30
}

// DefaultLimits are the journey's numbers in production.
var DefaultLimits = Limits{
	FlowLifetime: 15 * time.Minute, CodeLifetime: 10 * time.Minute, CodeTries: 5,
	AccountFailures: 10, AccountWindow: 24 * time.Hour, AccountSuspension: time.Hour,
	ShortMails: 3, ShortWindow: 15 * time.Minute, DayMails: 10, IPRequests: 30,
}

// Config builds a Handler.
type Config struct {
	Store    Store
	Accounts Accounts
	Outbox   Outbox
	Compose  Composer
	Policy   Policy
	Changes  Changes
	Forms    Forms
	Pages    *web.Pages
	Profiles []Profile
	Limits   Limits
	// Devices, when set, gives a browser the person signed in with its
	// own mails and wrong codes (see byDevice).
	Devices Devices
	// Key keys the HMACs of codes and link tokens (never in Redis).
	Key []byte
	// PreviousKeys are keys Key replaced: codes and links they made still
	// work; new ones use Key.
	PreviousKeys [][]byte
	// PublicURL starts every link put in a mail.
	PublicURL string
	// Path is where the journey lives; LoginPath the login screen;
	// ChangePath « Changer mon mot de passe », where an expired change
	// starts again. Either is empty where it is not served (reset-only).
	Path, LoginPath, ChangePath string
	// HomeURL is where « Continuer » goes when the pending sign-in is gone.
	HomeURL func(clientID string) string
	// ReturnTo is the allowlist of return_to addresses (exact matches).
	ReturnTo []string
	Secure   bool
	// ClientIP is the client's address (audit, per-address limits).
	ClientIP func(*http.Request) netip.Addr
	Now      func() time.Time
	Log      *slog.Logger
}

// Handler serves the journey.
type Handler struct {
	cfg Config
	mux *http.ServeMux
	// background work (lookup + mail) still running, for a clean stop.
	wg  sync.WaitGroup
	sem chan struct{}
}

// New returns the journey's handler, to be mounted at cfg.Path and
// cfg.Path + "/".
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limits.AccountSuspension <= 0 {
		// Without it the wrong-code limit would hold nothing back.
		cfg.Limits.AccountSuspension = DefaultLimits.AccountSuspension
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = func(r *http.Request) netip.Addr { return web.ClientIP(r, nil) }
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), sem: make(chan struct{}, 64)}
	p := cfg.Path
	h.mux.Handle("GET "+p, h.page(h.showProfile))
	h.mux.Handle("POST "+p, h.page(h.chooseProfile))
	h.mux.Handle("GET "+p+"/adresse", h.page(h.showEmail))
	h.mux.Handle("POST "+p+"/adresse", h.page(h.submitEmail))
	h.mux.Handle("GET "+p+"/code", h.page(h.showCode))
	h.mux.Handle("POST "+p+"/code", h.page(h.submitCode))
	h.mux.Handle("POST "+p+"/renvoyer", h.page(h.resend))
	h.mux.Handle("GET "+p+"/lien", h.page(h.showLink))
	h.mux.Handle("POST "+p+"/lien", h.page(h.useLink))
	h.mux.Handle("GET "+p+"/nouveau", h.page(h.showPassword))
	h.mux.Handle("POST "+p+"/nouveau", h.page(h.submitPassword))
	h.mux.Handle("GET "+p+"/attente", h.page(h.showWaiting))
	h.mux.Handle("GET "+p+"/attente/etat", h.page(h.waitingStatus))
	h.mux.Handle("GET "+p+"/termine", h.page(h.showDone))
	h.mux.Handle("GET "+p+"/echec", h.page(h.showFailed))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Reset pages must not leak their URLs (a link token) to other sites.
	w.Header().Set("Referrer-Policy", "no-referrer")
	if !h.checkReturnTo(w, r) {
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		if h.knownPath(r.URL.Path) {
			w.Header().Set("Allow", "GET, HEAD, POST")
			h.cfg.Pages.ErrorPage(w, r, http.StatusMethodNotAllowed, views.ErrMethodNotAllowed)
			return
		}
		h.cfg.Pages.ErrorPage(w, r, http.StatusNotFound, views.ErrNotFound)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) knownPath(p string) bool {
	switch strings.TrimPrefix(p, h.cfg.Path) {
	case "", "/adresse", "/code", "/renvoyer", "/lien", "/nouveau", "/attente", "/attente/etat", "/termine", "/echec":
		return true
	}
	return false
}

// Wait blocks until background deliveries are done (graceful stop, tests).
func (h *Handler) Wait() { h.wg.Wait() }

func (h *Handler) page(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return h.cfg.Pages.Handle(fn)
}

// --- the flow cookie: binds a flow to the browser that started it

func (h *Handler) cookieName() string {
	if h.cfg.Secure {
		return "__Host-idp_reset"
	}
	return "idp_reset"
}

// changeMark starts the cookie of a flow that began with the current
// password (a change), so that once the flow has expired the person goes
// back to the change page, not to the lost-password address step.
const changeMark = "c."

func (h *Handler) setFlowCookie(w http.ResponseWriter, id string) {
	h.setFlowCookieFor(w, id, h.cfg.Limits.FlowLifetime)
}

func (h *Handler) setFlowCookieFor(w http.ResponseWriter, id string, d time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: h.cookieName(), Value: id, Path: "/", MaxAge: int(d / time.Second),
		HttpOnly: true, Secure: h.cfg.Secure, SameSite: http.SameSiteStrictMode,
	})
}

var (
	errNoFlow        = errors.New("no reset flow")
	errFlowExpired   = errors.New("reset flow expired")
	errChangeExpired = errors.New("password change flow expired")
)

// flow loads this browser's flow: errNoFlow when it has none,
// errFlowExpired when it had one that ran out of time (errChangeExpired
// for a password change, where there is one).
func (h *Handler) flow(r *http.Request) (*store.ResetFlow, error) {
	c, err := r.Cookie(h.cookieName())
	if err != nil || c.Value == "" {
		return nil, errNoFlow
	}
	id, change := strings.CutPrefix(c.Value, changeMark)
	f, err := h.cfg.Store.ResetFlow(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound) && change && h.cfg.ChangePath != "":
		return nil, errChangeExpired
	case errors.Is(err, store.ErrNotFound):
		return nil, errFlowExpired
	}
	if err != nil {
		return nil, web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	}
	return f, nil
}

// noFlow answers a step reached without a live flow: never
// started, back to the first step; expired, a fresh flow at the address
// step, saying why (the profile was already chosen).
func (h *Handler) noFlow(w http.ResponseWriter, r *http.Request, err error) error {
	switch err {
	case errNoFlow:
		http.Redirect(w, r, h.cfg.Path, http.StatusSeeOther)
		return nil
	case errChangeExpired:
		http.Redirect(w, r, h.cfg.ChangePath+"?expire=1", http.StatusSeeOther)
		return nil
	case errFlowExpired:
		now := h.cfg.Now()
		f := &store.ResetFlow{ID: store.NewID(), CreatedAt: now, ExpiresAt: now.Add(h.cfg.Limits.FlowLifetime)}
		if err := h.cfg.Store.SaveResetFlow(r.Context(), f); err != nil {
			return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
		}
		h.setFlowCookie(w, f.ID)
		http.Redirect(w, r, h.cfg.Path+"/adresse?expire=1", http.StatusSeeOther)
		return nil
	default:
		return err
	}
}

// mac keys a code or token to this deployment; kind separates uses.
func (h *Handler) mac(kind, v string) string { return macWith(h.cfg.Key, kind, v) }

// macs is mac under the current key, then under each previous one.
func (h *Handler) macs(kind, v string) []string {
	out := []string{h.mac(kind, v)}
	for _, k := range h.cfg.PreviousKeys {
		out = append(out, macWith(k, kind, v))
	}
	return out
}

func macWith(key []byte, kind, v string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}

func (h *Handler) audit(r *http.Request, name audit.Name, sub, reason string) {
	audit.Log(r.Context(), h.cfg.Log, audit.Event{
		Name: name, Subject: sub, Reason: reason, IP: h.cfg.ClientIP(r), RequestID: web.RequestID(r.Context()),
	})
}

func (h *Handler) checkForm(r *http.Request, purpose string) error {
	if err := r.ParseForm(); err != nil {
		return web.Fail(http.StatusBadRequest, views.ErrBadRequest, err)
	}
	if !h.cfg.Forms.Valid(r, purpose, r.PostForm.Get("csrf_token")) {
		return web.Fail(http.StatusForbidden, views.ErrFormExpired, errors.New("bad csrf token"))
	}
	return nil
}

// continueURL is where « Continuer » leads after the journey: the other
// SSO's page the flow started with (return_to, still on the allowlist),
// else the login screen of the pending sign-in when it is still there and
// this browser started the flow, else the site's home page or the
// provider's own page.
func (h *Handler) continueURL(ctx context.Context, f *store.ResetFlow) string {
	if h.allowedReturnTo(f.ReturnTo) {
		return f.ReturnTo
	}
	if f.AuthRequestRef == "" {
		return "/"
	}
	ar, err := h.cfg.Store.AuthRequestByRef(ctx, f.AuthRequestRef)
	if err != nil {
		return "/"
	}
	// A flow moved to another browser no longer has the id.
	if f.OtherBrowser || f.AuthRequestID == "" {
		if h.cfg.HomeURL != nil {
			if u := h.cfg.HomeURL(ar.ClientID); u != "" {
				return u
			}
		}
		return "/"
	}
	return h.cfg.LoginPath + "?" + url.Values{"authRequestID": {f.AuthRequestID}}.Encode()
}
