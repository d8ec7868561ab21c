package login

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// HintVerifier checks an id_token_hint and names the client it was
// issued to.
type HintVerifier interface {
	VerifyIDTokenHint(ctx context.Context, hint string) (provider.HintClaims, error)
	Client(id string) (*provider.Client, bool)
}

// LogoutConfig builds a Logout.
type LogoutConfig struct {
	Provider HintVerifier
	Sessions *Sessions
	Forms    Forms
	Pages    *web.Pages
	// Path is where the confirmation form posts; ChangePasswordPath is
	// « Changer mon mot de passe », offered on the landing page.
	Path, ChangePasswordPath string
	// TrustedProxies may tell the client's address (audit).
	TrustedProxies []netip.Prefix
	// Ended, when set, is told of each session logout ended (back-channel
	// logout); it must not wait for the relying parties.
	Ended func(ctx context.Context, sess *store.Session)
	// Upstreams are the upstream providers by id: a session opened
	// through one that signs out too (connector.Logout) ends there as
	// well, the browser going through its end_session_endpoint; Flows
	// keeps that round trip.
	Upstreams map[string]Upstream
	Flows     UpstreamFlows
	// Secure: the issuer is https (the binding cookie is __Host-).
	Secure bool
	Now    func() time.Time
	Log    *slog.Logger
}

// Logout ends SSO sessions: from the landing page, after a confirmation,
// or at a relying party's request (OIDC RP-Initiated Logout).
type Logout struct{ cfg LogoutConfig }

// NewLogout returns the logout handlers.
func NewLogout(cfg LogoutConfig) *Logout {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Logout{cfg: cfg}
}

const logoutPurpose = "logout"

// Landing serves / : who is signed in, with « Se déconnecter ».
func (l *Logout) Landing() http.Handler {
	return l.cfg.Pages.Handle(func(w http.ResponseWriter, r *http.Request) error {
		p := views.Landing{Site: l.cfg.Pages.Site, LogoutURL: l.cfg.Path}
		if sess, ok := l.cfg.Sessions.Current(r); ok {
			p.Name, p.Email = sess.Claims.Name, sess.Claims.Email
			if p.Name == "" {
				p.Name = sess.Claims.PreferredUsername
			}
			p.CSRFToken = l.cfg.Forms.Token(w, r, logoutPurpose)
			p.ChangePasswordURL = l.cfg.ChangePasswordPath
			p.ReturnURL, p.ReturnName = l.lastSite(sess)
		}
		return web.Render(w, r, http.StatusOK, views.LandingPage(p))
	})
}

// Confirm serves the confirmation page (GET) and ends the session (POST).
func (l *Logout) Confirm() http.Handler {
	return l.cfg.Pages.Handle(func(w http.ResponseWriter, r *http.Request) error {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			if _, ok := l.cfg.Sessions.ToEnd(r); !ok {
				return l.loggedOut(w, r)
			}
			return l.confirmPage(w, r, "")
		case http.MethodPost:
			if err := r.ParseForm(); err != nil {
				return web.Fail(http.StatusBadRequest, views.ErrBadRequest, err)
			}
			if !l.cfg.Forms.Valid(r, logoutPurpose, r.PostForm.Get("csrf_token")) {
				return web.Fail(http.StatusForbidden, views.ErrFormExpired, errors.New("bad csrf token"))
			}
			if sess, ok := l.cfg.Sessions.ToEnd(r); ok {
				if err := l.end(w, r, sess, ""); err != nil {
					return err
				}
				return l.leave(w, r, sess, "")
			}
			return l.loggedOut(w, r)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			return web.Fail(http.StatusMethodNotAllowed, views.ErrMethodNotAllowed, nil)
		}
	})
}

// EndSession is the end_session_endpoint. post_logout_redirect_uri is
// honoured only with a valid id_token_hint of a client that registered it;
// without a hint, or for another person than the one signed in here, the
// person confirms first and stays on the provider.
func (l *Logout) EndSession() http.Handler {
	return l.cfg.Pages.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			return web.Fail(http.StatusMethodNotAllowed, views.ErrMethodNotAllowed, nil)
		}
		if err := r.ParseForm(); err != nil {
			return web.Fail(http.StatusBadRequest, views.ErrBadLogout, err)
		}
		f := r.Form
		hint, redirect := f.Get("id_token_hint"), f.Get("post_logout_redirect_uri")
		sess, signedIn := l.cfg.Sessions.ToEnd(r)
		if hint == "" {
			if !signedIn {
				return l.loggedOut(w, r)
			}
			return l.confirmPage(w, r, l.cancelURL(f.Get("client_id"), redirect))
		}
		claims, err := l.cfg.Provider.VerifyIDTokenHint(r.Context(), hint)
		if err != nil {
			return web.Fail(http.StatusBadRequest, views.ErrBadLogout, err)
		}
		if id := f.Get("client_id"); id != "" && id != claims.ClientID {
			return web.Fail(http.StatusBadRequest, views.ErrBadLogout, errors.New("client_id does not match the hint"))
		}
		client, ok := l.cfg.Provider.Client(claims.ClientID)
		if !ok {
			return web.Fail(http.StatusBadRequest, views.ErrBadLogout, errors.New("hint for an unknown client"))
		}
		if redirect != "" && !slices.Contains(client.PostLogoutRedirectURIs, redirect) {
			return web.Fail(http.StatusBadRequest, views.ErrBadLogout, errors.New("unregistered post_logout_redirect_uri"))
		}
		if signedIn && sess.Subject != claims.Subject {
			return l.confirmPage(w, r, l.cancelURL(claims.ClientID, redirect))
		}
		after := ""
		if redirect != "" {
			u, err := url.Parse(redirect)
			if err != nil {
				return web.Fail(http.StatusBadRequest, views.ErrBadLogout, err)
			}
			if st := f.Get("state"); st != "" {
				q := u.Query()
				q.Set("state", st)
				u.RawQuery = q.Encode()
			}
			after = u.String()
		}
		if !signedIn {
			return l.goOn(w, r, after)
		}
		if err := l.end(w, r, sess, claims.ClientID); err != nil {
			return err
		}
		return l.leave(w, r, sess, after)
	})
}

// leave answers the logout that ended sess: through the upstream provider
// the person signed in with, when it signs out there too, then on to
// after (a site's registered address, or "": the logged-out page).
func (l *Logout) leave(w http.ResponseWriter, r *http.Request, sess *store.Session, after string) error {
	if to := l.upstreamLogout(w, r, sess, after); to != "" {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	}
	return l.goOn(w, r, after)
}

func (l *Logout) goOn(w http.ResponseWriter, r *http.Request, after string) error {
	if after == "" {
		return l.loggedOut(w, r)
	}
	http.Redirect(w, r, after, http.StatusFound)
	return nil
}

// upstreamLogoutWait bounds the discovery a logout may wait for.
const upstreamLogoutWait = 3 * time.Second

// upstreamLogout is the upstream's address that signs the person out
// there too, the way back kept under a fresh state; "" when the session
// is not an upstream's that does, or when that fails (logged: the logout
// here is done, and the person is told so).
func (l *Logout) upstreamLogout(w http.ResponseWriter, r *http.Request, sess *store.Session, after string) string {
	ctx := r.Context()
	up, ok := l.cfg.Upstreams[sess.Claims.IDP]
	if !ok {
		return ""
	}
	lo, ok := up.Redirect.(connector.Logout)
	if !ok {
		return ""
	}
	hint, err := sess.UpstreamIDToken()
	if err != nil {
		l.cfg.Log.WarnContext(ctx, "upstream logout skipped", "upstream", sess.Claims.IDP, "err", err)
	}
	if hint == "" {
		return ""
	}
	now := l.cfg.Now()
	f := &store.UpstreamFlow{
		State: randomValue(), Upstream: sess.Claims.IDP, Logout: true, AfterLogout: after,
		CreatedAt: now, ExpiresAt: now.Add(flowLifetime),
	}
	// A replica that has not discovered the upstream yet may have to:
	// not for long, the person is waiting to be signed out.
	dctx, cancel := context.WithTimeout(ctx, upstreamLogoutWait)
	defer cancel()
	to, err := lo.LogoutURL(dctx, hint, f.State)
	if err == nil && to != "" {
		f.BindingHash = flowBinding{l.cfg.Secure}.set(w, r)
		err = l.cfg.Flows.SaveUpstreamFlow(ctx, f)
	}
	if err != nil {
		l.cfg.Log.WarnContext(ctx, "upstream logout skipped", "upstream", sess.Claims.IDP, "err", err)
		return ""
	}
	return to
}

func (l *Logout) end(w http.ResponseWriter, r *http.Request, sess *store.Session, clientID string) error {
	if err := l.cfg.Sessions.End(w, r, sess); err != nil {
		return web.Fail(http.StatusServiceUnavailable, views.ErrUnavailable, err)
	}
	if l.cfg.Ended != nil {
		l.cfg.Ended(r.Context(), sess)
	}
	// The browser's own session is ended: the page says so, whatever
	// becomes of the others (logged).
	_, _ = l.cfg.Sessions.EndSiblings(r.Context(), sess)
	audit.Log(r.Context(), l.cfg.Log, audit.Event{
		Name: audit.Logout, Subject: sess.Subject, ClientID: clientID,
		IP: web.ClientIP(r, l.cfg.TrustedProxies), RequestID: web.RequestID(r.Context()),
	})
	return nil
}

// confirmPage asks before ending the session; cancel is where « Annuler »
// leads ("": the provider's home).
func (l *Logout) confirmPage(w http.ResponseWriter, r *http.Request, cancel string) error {
	return web.Render(w, r, http.StatusOK, views.LogoutConfirmPage(views.LogoutConfirm{
		Site: l.cfg.Pages.Site, Action: l.cfg.Path, CSRFToken: l.cfg.Forms.Token(w, r, logoutPurpose),
		CancelURL: cancel,
	}))
}

// cancelURL is where « Annuler » leads from a site's logout request: back
// to that site — the post-logout address it gave if it registered it,
// else its home page — or "" when the site is unknown. Only registered
// addresses are used, so the page leads nowhere a request chose.
func (l *Logout) cancelURL(clientID, redirect string) string {
	c, ok := l.cfg.Provider.Client(clientID)
	if clientID == "" || !ok {
		return ""
	}
	if redirect != "" && slices.Contains(c.PostLogoutRedirectURIs, redirect) {
		return redirect
	}
	return c.HomeURL
}

// lastSite is the home page of the site the session signed in to last,
// and its name, for « Retourner sur le site ».
func (l *Logout) lastSite(sess *store.Session) (string, string) {
	for i := len(sess.Clients) - 1; i >= 0; i-- {
		if c, ok := l.cfg.Provider.Client(sess.Clients[i]); ok && c.HomeURL != "" {
			return c.HomeURL, c.Name
		}
	}
	return "", ""
}

func (l *Logout) loggedOut(w http.ResponseWriter, r *http.Request) error {
	return web.Render(w, r, http.StatusOK, views.LoggedOutPage(views.LoggedOut{Site: l.cfg.Pages.Site}))
}
