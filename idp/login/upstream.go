package login

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/binding"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Upstream paths: the start and the callback registered at the upstream.
const (
	UpstreamPathPrefix = "/login/upstream/"
	upstreamCallback   = "/callback"
	upstreamLoggedOut  = "/logout"
)

// UpstreamStartPath is where a button of the login screen leads.
func UpstreamStartPath(id string) string { return UpstreamPathPrefix + id }

// UpstreamCallbackPath is the redirect URI path of upstream id.
func UpstreamCallbackPath(id string) string { return UpstreamPathPrefix + id + upstreamCallback }

// UpstreamLogoutPath is the post-logout redirect URI path of upstream id.
func UpstreamLogoutPath(id string) string { return UpstreamPathPrefix + id + upstreamLoggedOut }

// Upstream is one upstream provider élus and agents sign in with.
type Upstream struct {
	Redirect connector.Redirect
	// Name names it in a French sentence (UpstreamName).
	Name string
}

// UpstreamName names an upstream in a sentence: « Connexion refusée par
// ProConnect ».
func UpstreamName(u config.Upstream) string {
	if u.Preset == config.UpstreamProConnect {
		return "ProConnect"
	}
	return "le service de connexion de la Région"
}

// UpstreamFlows keeps the round trips to upstreams (store.Store).
type UpstreamFlows interface {
	SaveUpstreamFlow(ctx context.Context, f *store.UpstreamFlow) error
	TakeUpstreamFlow(ctx context.Context, state string, check func(*store.UpstreamFlow) error) (*store.UpstreamFlow, error)
}

// flowLifetime bounds the visit to an upstream: long enough to type a
// password and pass a second factor there.
const flowLifetime = 10 * time.Minute

// noHintParam on the login screen's URL shows every choice whatever the
// site's idp_hint: the way back after an upstream failed.
const noHintParam = "choix"

// flowBinding is the cookie that binds a round trip to an upstream (a
// sign-in, or a logout there) to the browser that started it. Lax: the
// upstream sends the browser back with a cross-site top-level GET.
type flowBinding struct{ secure bool }

func (b flowBinding) cookieName() string {
	if b.secure {
		return "__Host-idp_upstream"
	}
	return "idp_upstream"
}

// randomValue is 256 bits from crypto/rand, base64url: 43 characters, as
// a PKCE verifier must have at least.
func randomValue() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// set returns the hash of the browser's binding value, reusing a
// well-formed one (several tabs may be out at once) and setting the
// cookie.
func (b flowBinding) set(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(b.cookieName()); err == nil && len(c.Value) == 43 {
		if raw, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && len(raw) == 32 {
			v = c.Value
		}
	}
	if v == "" {
		v = randomValue()
	}
	http.SetCookie(w, &http.Cookie{
		Name: b.cookieName(), Value: v, Path: "/", MaxAge: int(flowLifetime / time.Second),
		HttpOnly: true, Secure: b.secure, SameSite: http.SameSiteLaxMode,
	})
	return binding.Hash(v)
}

// bound reports whether the browser holds the binding value of f.
func (b flowBinding) bound(r *http.Request, f *store.UpstreamFlow) bool {
	c, err := r.Cookie(b.cookieName())
	if err != nil || c.Value == "" || f.BindingHash == "" {
		return false
	}
	return binding.Hash(c.Value) == f.BindingHash // both are hashes: no timing to learn from
}

// Upstream serves both routes of the round trip under
// UpstreamPathPrefix.
func (h *Handler) Upstream() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+UpstreamPathPrefix+"{id}", h.UpstreamStart())
	mux.Handle("GET "+UpstreamPathPrefix+"{id}"+upstreamCallback, h.UpstreamCallback())
	mux.Handle("GET "+UpstreamPathPrefix+"{id}"+upstreamLoggedOut, h.UpstreamLoggedOut())
	mux.Handle("/", h.cfg.Pages.Handle(func(http.ResponseWriter, *http.Request) error {
		return web.Fail(http.StatusNotFound, views.ErrNotFound, nil)
	}))
	return mux
}

// UpstreamStart serves GET /login/upstream/{id}?authRequestID=…: the
// sign-in (checked by the route to belong to this browser) goes to the
// upstream with a fresh state, nonce and PKCE verifier kept in the store.
func (h *Handler) UpstreamStart() http.Handler {
	return h.cfg.Pages.Handle(func(w http.ResponseWriter, r *http.Request) error {
		up, ok := h.cfg.Upstreams[r.PathValue("id")]
		if !ok {
			return web.Fail(http.StatusNotFound, views.ErrNotFound, errors.New("unknown upstream"))
		}
		ar, err := h.pending(r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		now := h.cfg.Now()
		f := &store.UpstreamFlow{
			State: randomValue(), Upstream: up.Redirect.ID(), AuthRequestID: ar.ID,
			Nonce: randomValue(), CodeVerifier: randomValue(),
			CreatedAt: now, ExpiresAt: now.Add(flowLifetime),
		}
		fresh := connector.Freshness{ForceLogin: h.mustAuthenticate(ar), MaxAge: ar.MaxAge}
		to, err := up.Redirect.LoginURL(ctx, connector.Flow{State: f.State, Nonce: f.Nonce, CodeVerifier: f.CodeVerifier}, fresh)
		if err != nil {
			h.cfg.Log.WarnContext(ctx, "upstream unavailable", "upstream", f.Upstream, "err", err, "request_id", web.RequestID(ctx))
			return h.upstreamFailed(w, r, up, ar.ID, views.UpstreamUnavailable)
		}
		f.BindingHash = flowBinding{h.cfg.Secure}.set(w, r)
		if err := h.cfg.Flows.SaveUpstreamFlow(ctx, f); err != nil {
			return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	})
}

// UpstreamCallback serves GET /login/upstream/{id}/callback: the state
// is taken once; it must be this upstream's and this browser's; then the
// upstream's answer is verified, the session opened and the sign-in
// completed. Every failure is a French page: never a redirect elsewhere.
func (h *Handler) UpstreamCallback() http.Handler {
	return h.cfg.Pages.Handle(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		id := r.PathValue("id")
		q := r.URL.Query()
		if len(q["state"]) != 1 {
			return web.Fail(http.StatusBadRequest, views.ErrSignInExpired, errors.New("no single state"))
		}
		// Checked before it is spent: whoever else holds the state (a
		// leaked callback URL) cannot spend this browser's round trip.
		f, err := h.cfg.Flows.TakeUpstreamFlow(ctx, q.Get("state"), func(f *store.UpstreamFlow) error {
			if f.Upstream != id || f.Logout {
				return web.Fail(http.StatusBadRequest, views.ErrSignInExpired, errors.New("state of another upstream, or of a logout"))
			}
			if !(flowBinding{h.cfg.Secure}).bound(r, f) {
				h.cfg.Log.WarnContext(ctx, "upstream callback in a browser that did not start it",
					"upstream", id, "request_id", web.RequestID(ctx))
				return web.Fail(http.StatusBadRequest, views.ErrOtherBrowser, errors.New("upstream flow of another browser"))
			}
			return nil
		})
		var refused *web.Error
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Unknown, expired, or already used: a replay or a forgery.
			return web.Fail(http.StatusBadRequest, views.ErrSignInExpired, errors.New("unknown upstream state"))
		case errors.As(err, &refused):
			return err
		case err != nil:
			return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
		}
		up, ok := h.cfg.Upstreams[id]
		if !ok {
			return web.Fail(http.StatusBadRequest, views.ErrSignInExpired, errors.New("upstream no longer configured"))
		}
		ar, err := h.cfg.Provider.AuthRequest(ctx, f.AuthRequestID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return web.Fail(http.StatusBadRequest, views.ErrSignInExpired, err)
		case err != nil:
			return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
		}
		ev := audit.Event{
			ClientID: ar.ClientID, IP: web.ClientIP(r, h.cfg.TrustedProxies),
			RequestID: web.RequestID(ctx), Source: id,
		}
		who, err := up.Redirect.HandleCallback(ctx, connector.Flow{State: f.State, Nonce: f.Nonce, CodeVerifier: f.CodeVerifier}, q)
		if err == nil && who.Subject == "" {
			err = errors.Join(connector.ErrInvalid, errors.New("no subject"))
		}
		if err != nil {
			kind, reason := views.UpstreamInvalid, "upstream_invalid"
			switch {
			case errors.Is(err, connector.ErrRefused):
				kind, reason = views.UpstreamRefused, "upstream_refused"
			case errors.Is(err, connector.ErrUnavailable):
				kind, reason = views.UpstreamUnavailable, "upstream_unavailable"
			}
			h.cfg.Log.WarnContext(ctx, "upstream sign-in failed", "upstream", id, "err", err, "request_id", ev.RequestID)
			h.audit(ctx, ev, audit.SignInFailure, reason)
			return h.upstreamFailed(w, r, up, ar.ID, kind)
		}
		// The upstream's id is ours, whatever the connector says: it
		// namespaces the subject and is the idp claim.
		who.Source = id
		now := h.cfg.Now()
		authTime, err := upstreamAuthTime(who, h.mustAuthenticate(ar), ar.MaxAge, f.CreatedAt, now)
		if err != nil {
			// The upstream's single sign-on answered instead of the fresh
			// authentication passed on to it: stamping it now would make
			// it one, for this site and, through the session, for others.
			h.cfg.Log.WarnContext(ctx, "upstream sign-in refused: the authentication is older than the site asked",
				"upstream", id, "err", err, "request_id", ev.RequestID)
			h.audit(ctx, ev, audit.SignInFailure, "upstream_stale")
			return h.upstreamFailed(w, r, up, ar.ID, views.UpstreamInvalid)
		}
		if authTime.Before(now) {
			// A session dated before the person's last revocation (all
			// sessions ended) is dead at once: refuse here rather than
			// have the site's code refused at the token endpoint.
			switch old, err := h.cfg.Sessions.revokedSince(ctx, Subject(who), authTime); {
			case err != nil:
				return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
			case old:
				h.cfg.Log.WarnContext(ctx, "upstream sign-in refused: the authentication predates the end of the person's sessions; "+
					"the person must sign in again at the upstream", "upstream", id, "auth_time", authTime, "request_id", ev.RequestID)
				h.audit(ctx, ev, audit.SignInFailure, "upstream_stale")
				return h.upstreamFailed(w, r, up, ar.ID, views.UpstreamInvalid)
			}
		}
		sess, err := h.cfg.Sessions.Start(w, r, who, authTime, ar.ClientID)
		if err != nil {
			return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
		}
		ev.Subject = sess.Subject
		h.audit(ctx, ev, audit.SignInSuccess, "")
		return h.finish(w, r, ar, sess)
	})
}

// UpstreamLoggedOut serves GET /login/upstream/{id}/logout, where the
// upstream sends the browser back once it signed the person out there
// too (Logout): on to where the logout here was going, a site's
// registered address, or else the logged-out page. Whoever replays the
// state gets no more than that address.
func (h *Handler) UpstreamLoggedOut() http.Handler {
	return h.cfg.Pages.Handle(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		if _, ok := h.cfg.Upstreams[r.PathValue("id")]; !ok {
			return web.Fail(http.StatusNotFound, views.ErrNotFound, errors.New("unknown upstream"))
		}
		if q := r.URL.Query(); len(q["state"]) == 1 {
			f, err := h.cfg.Flows.TakeUpstreamFlow(ctx, q.Get("state"), func(f *store.UpstreamFlow) error {
				if !f.Logout || f.Upstream != r.PathValue("id") || !(flowBinding{h.cfg.Secure}).bound(r, f) {
					return store.ErrNotFound // a sign-in's, or another browser's: left alone
				}
				return nil
			})
			switch {
			case err == nil && f.AfterLogout != "":
				http.Redirect(w, r, f.AfterLogout, http.StatusFound)
				return nil
			case err != nil && !errors.Is(err, store.ErrNotFound):
				h.cfg.Log.WarnContext(ctx, "upstream logout: the way on is lost", "err", err, "request_id", web.RequestID(ctx))
			}
		}
		if _, live := h.cfg.Sessions.Current(r); live {
			// Not back from a logout (a link someone sent): the page must
			// not say « Déconnexion effectuée » to a browser signed in.
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return nil
		}
		return web.Render(w, r, http.StatusOK, views.LoggedOutPage(views.LoggedOut{Site: h.cfg.Pages.Site}))
	})
}

// freshnessLeeway is how much older than asked an upstream's auth_time
// may be: clocks here and at the upstream a few seconds apart, and
// auth_time's whole seconds.
const freshnessLeeway = 5 * time.Second

// upstreamAuthTime is when the person authenticated, as the session and
// the ID token say: the upstream's auth_time, never later than now (a
// clock ahead of ours), or now when it gave none. It is an error when it
// does not meet what was asked of a round trip that started at started:
// forced (prompt=login, or a native app's sign-in) wants an
// authentication during the round trip; maxAge one no older than maxAge,
// or during the round trip, however long the upstream took to send the
// person back (max_age=0).
//
// Without auth_time, nothing shows that the upstream honoured the
// prompt=login or max_age passed on to it (with max_age=0 for a forced
// one, to which OIDC Core, 3.1.2.1, requires auth_time in the answer), so
// neither is met; Keycloak's identity brokering (with « pass max_age »)
// fails such a sign-in too. An upstream without auth_time still serves
// the sites that ask neither.
func upstreamAuthTime(who connector.Identity, forced bool, maxAgeAsked *uint, started, now time.Time) (time.Time, error) {
	if who.AuthTime.IsZero() {
		if forced || maxAgeAsked != nil {
			return time.Time{}, errors.New("no auth_time in the answer to prompt=login or max_age")
		}
		return now, nil
	}
	at := who.AuthTime
	if at.After(now) {
		at = now
	}
	var oldest time.Time
	switch {
	case forced:
		oldest = started
	case maxAgeAsked != nil:
		oldest = now.Add(-maxAge(*maxAgeAsked))
		if started.Before(oldest) {
			oldest = started
		}
	default:
		return at, nil
	}
	if at.Before(oldest.Add(-freshnessLeeway)) {
		asked := "prompt=login"
		if !forced {
			asked = fmt.Sprintf("max_age=%d", *maxAgeAsked)
		}
		return time.Time{}, fmt.Errorf("auth_time %s is before %s, the oldest %s allows",
			at.UTC().Format(time.RFC3339), oldest.UTC().Format(time.RFC3339), asked)
	}
	return at, nil
}

// maxAge is max_age as a duration; one too long for a Duration is as
// good as none.
func maxAge(seconds uint) time.Duration {
	if uint64(seconds) > math.MaxInt64/uint64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(seconds) * time.Second
}

// upstreamFailed shows why the upstream did not sign the person in, with
// the way back to every choice of the login screen.
func (h *Handler) upstreamFailed(w http.ResponseWriter, r *http.Request, up Upstream, arID string, kind views.UpstreamFailureKind) error {
	status := http.StatusBadGateway
	switch kind {
	case views.UpstreamRefused:
		status = http.StatusForbidden
	case views.UpstreamUnavailable:
		status = http.StatusServiceUnavailable
	}
	back := "/login?" + url.Values{"authRequestID": {arID}, noHintParam: {"1"}}.Encode()
	return web.Render(w, r, status, views.UpstreamFailed(views.UpstreamFailure{
		Site: h.cfg.Pages.Site, Kind: kind, Provider: up.Name, BackURL: back, RequestID: web.RequestID(r.Context()),
	}))
}

// choices are the login screen's options for ar: the upstream buttons and
// whether the usagers' form shows. A site's idp_hint naming a directory
// profile leaves the form alone; ?choix=1 ignores the hint.
func (h *Handler) choices(r *http.Request, ar *store.AuthRequest) (ups []views.UpstreamChoice, noForm bool) {
	hinted, _ := h.hinted(r, ar)
	if hinted != nil && hinted.SignIn.Via == config.ViaDirectory {
		return nil, false
	}
	form := len(h.cfg.Profiles) == 0 // no profiles: the directory only
	q := url.Values{"authRequestID": {ar.ID}}.Encode()
	for _, p := range h.cfg.Profiles {
		switch p.SignIn.Via {
		case config.ViaDirectory:
			form = true
		case config.ViaUpstream:
			if _, ok := h.cfg.Upstreams[p.SignIn.Upstream]; ok {
				ups = append(ups, views.UpstreamChoice{
					Label: p.Label, Examples: p.Examples, URL: UpstreamStartPath(p.SignIn.Upstream) + "?" + q,
				})
			}
		}
	}
	return ups, !form
}

// hinted is the profile the site's idp_hint names, if it names one that
// signs in here (directory) or at a configured upstream, and the browser
// did not come back to choose.
func (h *Handler) hinted(r *http.Request, ar *store.AuthRequest) (*config.Profile, bool) {
	if ar.IDPHint == "" || r.URL.Query().Has(noHintParam) {
		return nil, false
	}
	for i, p := range h.cfg.Profiles {
		if p.ID != ar.IDPHint {
			continue
		}
		switch p.SignIn.Via {
		case config.ViaDirectory:
			return &h.cfg.Profiles[i], true
		case config.ViaUpstream:
			if _, ok := h.cfg.Upstreams[p.SignIn.Upstream]; ok {
				return &h.cfg.Profiles[i], true
			}
		}
		return nil, false
	}
	return nil, false
}

// hintedSource is the idp claim a session must have to answer a sign-in
// whose hint names a profile: "" when any will do.
func (h *Handler) hintedSource(r *http.Request, ar *store.AuthRequest) string {
	p, ok := h.hinted(r, ar)
	switch {
	case !ok:
		return ""
	case p.SignIn.Via == config.ViaUpstream:
		return p.SignIn.Upstream
	default:
		return SourceDirectory
	}
}
