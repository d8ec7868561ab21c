package login

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Directory checks credentials in two steps (see ldapauth.Directory):
// Find names the account without a bind, so the throttle can decide
// first; Verify binds. The zero Result covers unknown account, wrong
// password and locked account alike; err means the directory could not be
// asked.
type Directory interface {
	Find(ctx context.Context, login string) (ldapauth.Candidate, error)
	Verify(ctx context.Context, c ldapauth.Candidate, password string) (ldapauth.Result, error)
}

// Provider is the part of the OpenID Provider the login UI drives.
type Provider interface {
	AuthRequest(ctx context.Context, id string) (*store.AuthRequest, error)
	Client(id string) (*provider.Client, bool)
	// Complete records who signed in and returns the completed request.
	Complete(ctx context.Context, ar *store.AuthRequest, who provider.Identity) (*store.AuthRequest, error)
	// CodeURL completes the request and returns where to send the
	// browser: the site, with the code. open, when not nil, is the
	// session this request opened for who: it is saved with the code, and
	// the Redis keys named by forget are deleted in the same round trip.
	CodeURL(ctx context.Context, ar *store.AuthRequest, who provider.Identity, open *store.Session, forget ...string) (string, error)
	CallbackURL(ctx context.Context, id string) string
	FailAuthRequest(w http.ResponseWriter, r *http.Request, ar *store.AuthRequest, e *oidc.Error)
}

// Forms issues and checks anti-forgery tokens.
type Forms interface {
	Token(w http.ResponseWriter, r *http.Request, purpose string) string
	Valid(r *http.Request, purpose, token string) bool
}

// Config builds a Handler.
type Config struct {
	Provider  Provider
	Directory Directory
	Sessions  *Sessions
	Forms     Forms
	Pages     *web.Pages
	// LostPasswordPath is the « Mot de passe perdu » page;
	// ChangePasswordPath « Changer mon mot de passe ».
	LostPasswordPath   string
	ChangePasswordPath string
	// Changes starts the new-password step once the current password was
	// checked: on « Changer mon mot de passe », and at sign-in when the
	// directory wants a new password first.
	Changes PasswordChanges
	// Throttle holds back password guessing; nil switches it off (tests
	// that measure timing only).
	Throttle Throttle
	// Identifiers hashes typed identifiers for the throttle and the audit
	// log, which never hold them in clear.
	Identifiers audit.Identifiers
	// Devices is the device cookie that keeps a browser the person signed
	// in with from being held back by strangers' failures; nil: none.
	Devices *Devices
	// TrustedProxies may set X-Forwarded-For (see web.ClientIP).
	TrustedProxies []netip.Prefix
	// Profiles are the answers to « Qui êtes-vous ? »: those signing in
	// at an upstream get a button, keyed by upstream id in Upstreams;
	// none means the directory's form only. Flows keeps the round trips;
	// Secure (an https issuer) names their cookie __Host-.
	Profiles  []config.Profile
	Upstreams map[string]Upstream
	Flows     UpstreamFlows
	Secure    bool
	Now       func() time.Time
	Log       *slog.Logger
}

// Handler serves /login, and the login screen in the answer to an
// authorization request (Screen).
type Handler struct{ cfg Config }

// New returns the login handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg}
}

// maxLogin bounds what is sent to the directory; identifiers and mail
// addresses are far shorter.
const maxLogin = 256

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.cfg.Pages.Handle(h.serve).ServeHTTP(w, r)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return h.show(w, r)
	case http.MethodPost:
		return h.submit(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		return web.Fail(http.StatusMethodNotAllowed, views.ErrMethodNotAllowed, nil)
	}
}

// pending loads the sign-in named in the URL.
func (h *Handler) pending(r *http.Request) (*store.AuthRequest, error) {
	id := r.URL.Query().Get("authRequestID")
	if id == "" {
		return nil, web.Fail(http.StatusBadRequest, views.ErrSignInExpired, errors.New("no authRequestID"))
	}
	ar, err := h.cfg.Provider.AuthRequest(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, web.Fail(http.StatusBadRequest, views.ErrSignInExpired, err)
	case err != nil:
		return nil, web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	}
	return ar, nil
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) error {
	ar, err := h.pending(r)
	if err != nil {
		return err
	}
	return h.showFor(w, r, ar)
}

// Screen answers an authorization request whose sign-in ar was just
// stored by this browser with what GET /login would show for it.
func (h *Handler) Screen(w http.ResponseWriter, r *http.Request, ar *store.AuthRequest) {
	h.cfg.Pages.Handle(func(w http.ResponseWriter, r *http.Request) error { return h.showFor(w, r, ar) }).ServeHTTP(w, r)
}

func (h *Handler) showFor(w http.ResponseWriter, r *http.Request, ar *store.AuthRequest) error {
	if sess, ok := h.cfg.Sessions.Current(r); ok && h.reusable(ar, sess) && h.sameSource(r, ar, sess) {
		return h.finish(w, r, ar, sess)
	}
	if slices.Contains(ar.Prompt, oidc.PromptNone) {
		// No usable session and no UI allowed: back to the site.
		h.cfg.Provider.FailAuthRequest(w, r, ar, oidc.ErrLoginRequired())
		return nil
	}
	if p, ok := h.hinted(r, ar); ok && p.SignIn.Via == config.ViaUpstream {
		// The site said who the person is: straight to their provider.
		to := UpstreamStartPath(p.SignIn.Upstream) + "?" + url.Values{"authRequestID": {ar.ID}}.Encode()
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	}
	return h.render(w, r, ar, http.StatusOK, views.LoginPage{Login: web.Echo(ar.LoginHint)})
}

// reusable says whether the SSO session may answer this sign-in without
// asking for the password again.
func (h *Handler) reusable(ar *store.AuthRequest, s *store.Session) bool {
	if h.mustAuthenticate(ar) {
		return false
	}
	if ar.IDTokenHintSubject != "" && ar.IDTokenHintSubject != s.Subject {
		// The site asks for another person (OIDC Core 3.1.2.2).
		return false
	}
	if ar.MaxAge != nil && (*ar.MaxAge == 0 || h.cfg.Now().Sub(s.AuthTime) > maxAge(*ar.MaxAge)) {
		return false
	}
	return true
}

// mustAuthenticate says whether ar wants the person to authenticate
// again, whatever session they have here or at an upstream.
func (h *Handler) mustAuthenticate(ar *store.AuthRequest) bool {
	return slices.Contains(ar.Prompt, oidc.PromptLogin) || h.nativeLoopback(ar)
}

// nativeLoopback: a native app's code goes to whatever listens on that
// port of the person's machine, and any program there can ask for one
// with its own PKCE challenge and redeem it without a secret (RFC 8252,
// 8.6). Only the person, authenticating, says this sign-in is theirs. A
// confidential client's code is useless without its secret.
func (h *Handler) nativeLoopback(ar *store.AuthRequest) bool {
	c, ok := h.cfg.Provider.Client(ar.ClientID)
	return ok && c.Public && loopbackRedirect(ar.RedirectURI)
}

// loopbackRedirect reports whether uri sends the browser to a loopback
// address of the person's own machine.
func loopbackRedirect(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" {
		return false
	}
	return config.IsLoopback(u.Hostname())
}

// sameSource: a site's idp_hint asks for a person of one profile, so a
// session opened by another source does not answer it.
func (h *Handler) sameSource(r *http.Request, ar *store.AuthRequest, s *store.Session) bool {
	want := h.hintedSource(r, ar)
	if want == "" {
		return true
	}
	return cmp.Or(s.Claims.IDP, SourceDirectory) == want
}

// finish completes the sign-in and sends the browser to the library's
// callback, with 303 so the password is never re-posted.
//
// The code is minted here, in the request that completed the sign-in,
// rather than after one more redirect through the library's callback:
// the browser and its session are the ones just checked.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, ar *store.AuthRequest, s *store.Session) error {
	if !slices.Contains(s.Clients, ar.ClientID) {
		h.cfg.Sessions.AddClient(r.Context(), s.ID, ar.ClientID)
	}
	to, err := h.cfg.Provider.CodeURL(r.Context(), ar, identityOf(s), nil)
	if err != nil {
		return completionError(err)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

func identityOf(s *store.Session) provider.Identity {
	return provider.Identity{Subject: s.Subject, Claims: s.Claims, AuthTime: s.AuthTime, AMR: s.AMR, SessionID: s.Ref}
}

// completionError says what a failed completion means to the person.
func completionError(err error) error {
	switch {
	case err == nil:
		return nil
	case settledElsewhere(err):
		return web.Fail(http.StatusBadRequest, views.ErrSignInExpired, err)
	default:
		return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	}
}

// settledElsewhere: the sign-in expired, or another request (a form sent
// twice, another tab) completed it first.
func settledElsewhere(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, provider.ErrCodeIssued) || errors.Is(err, provider.ErrAlreadyDone)
}

// complete hands the signed-in person to the provider for this sign-in.
func (h *Handler) complete(r *http.Request, ar *store.AuthRequest, s *store.Session) (*store.AuthRequest, error) {
	done, err := h.cfg.Provider.Complete(r.Context(), ar, identityOf(s))
	if err != nil {
		return nil, completionError(err)
	}
	if !slices.Contains(s.Clients, ar.ClientID) {
		h.cfg.Sessions.AddClient(r.Context(), s.ID, ar.ClientID)
	}
	return done, nil
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, ar *store.AuthRequest, status int, p views.LoginPage) error {
	p.Site = h.cfg.Pages.Site
	q := url.Values{"authRequestID": {ar.ID}}.Encode()
	p.Action = "/login?" + q
	p.LostPasswordURL = h.cfg.LostPasswordPath + "?" + q
	p.CSRFToken = h.cfg.Forms.Token(w, r, "login:"+ar.ID)
	if c, ok := h.cfg.Provider.Client(ar.ClientID); ok {
		p.ClientName = c.Name
	}
	p.Upstreams, p.NoForm = h.choices(r, ar)
	return web.Render(w, r, status, views.Login(p))
}
