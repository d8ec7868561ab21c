package app

import (
	"cmp"
	"net/http"
	"net/netip"
	"strings"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/backchannel"
	"github.com/region-nouvelle-aquitaine/idp/idp/binding"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	oidcconn "github.com/region-nouvelle-aquitaine/idp/idp/connector/oidc"
	"github.com/region-nouvelle-aquitaine/idp/idp/csrf"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// newProvider is the OpenID provider of the oidc section and the clients.
func newProvider(cfg *config.Config, d Deps, st *store.Store) (*provider.Provider, error) {
	return provider.New(ProviderConfig(cfg, d), st)
}

// ProviderConfig is the provider's configuration (also for `idp admin
// keys`, which must derive the same key policy).
func ProviderConfig(cfg *config.Config, d Deps) provider.Config {
	clients := make([]provider.Client, 0, len(cfg.Clients))
	for _, c := range cfg.Clients {
		pc := provider.Client{
			ID: c.ID, Name: c.Name, Public: c.Public,
			RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
			HomeURL: c.HomeURL, JWTAccessTokens: c.AccessTokenFormat == config.AccessTokenJWT,
			BackchannelLogoutURI: c.BackchannelLogoutURI,
		}
		if !c.Public {
			pc.SecretSHA256 = c.SecretSHA256[:]
		}
		clients = append(clients, pc)
	}
	return provider.Config{
		Issuer:            cfg.Issuer,
		CryptoKey:         cfg.Secrets.CryptoKey,
		SigningAlgorithm:  cfg.OIDC.SigningAlgorithm,
		KeyRotationPeriod: cfg.OIDC.KeyRotationPeriod,
		Clients:           clients,
		// The keys crypto_key replaced, for reading only.
		PreviousCryptoKeys: cfg.Secrets.PreviousCryptoKeys,
		Lifetimes: provider.Lifetimes{
			AuthRequest: cfg.OIDC.AuthRequestLifetime, Code: cfg.OIDC.CodeLifetime,
			AccessToken: cfg.OIDC.AccessTokenLifetime, IDToken: cfg.OIDC.IDTokenLifetime,
			RefreshToken: cfg.OIDC.RefreshTokenLifetime, SessionIdle: cfg.Session.IdleTimeout,
		},
		LoginPath: server.LoginPath,
		Now:       d.Now,
		Logger:    d.Log,
	}
}

// pagesOut is what newPages builds: the whole handler, and the reset
// handler whose background deliveries Close waits for.
type pagesOut struct {
	handler http.Handler
	lost    *reset.Handler
}

// newPages wires the browser-facing parts (sign-in, sessions, sign-out,
// « Mot de passe perdu », password change) behind the protocol routes.
func newPages(cfg *config.Config, d Deps, st *store.Store, prov *provider.Provider, q *job.Queue,
	outbox reset.Outbox, signinThrottle login.Throttle, identifiers audit.Identifiers, bc *backchannel.Notifier) (pagesOut, error) {
	secure := strings.HasPrefix(cfg.Issuer, "https://")
	clientIP := func(r *http.Request) netip.Addr { return web.ClientIP(r, cfg.TrustedProxies) }
	site, assets, err := newSite(cfg)
	if err != nil {
		return pagesOut{}, err
	}
	pages := &web.Pages{Site: site, Log: d.Log}
	forms := csrf.New(csrf.Config{Key: cfg.Secrets.CookieKey, PreviousKeys: cfg.Secrets.PreviousCookieKeys, Secure: secure})
	sessions := login.NewSessions(login.SessionConfig{
		Store: st, CookieName: cfg.Session.CookieName, Secure: secure,
		Lifetime: cfg.Session.Lifetime, IdleTimeout: cfg.Session.IdleTimeout, Now: d.Now, Log: d.Log,
		Ended: logoutEnded(bc, d),
	})
	upstreams := newUpstreams(cfg, d)
	logout := login.NewLogout(login.LogoutConfig{
		Provider: prov, Sessions: sessions, Forms: forms, Pages: pages, Path: server.LogoutPath,
		ChangePasswordPath: server.ChangePasswordPath, TrustedProxies: cfg.TrustedProxies, Log: d.Log,
		Ended: logoutEnded(bc, d), Upstreams: upstreams, Flows: st, Secure: secure, Now: d.Now,
	})
	homeURL := func(id string) string {
		if c, ok := prov.Client(id); ok {
			return c.HomeURL
		}
		return ""
	}
	deviceKey, previousDeviceKeys, err := deriveCookieKeys(cfg.Secrets, "idp: device cookies v1")
	if err != nil {
		return pagesOut{}, err
	}
	devices := login.NewDevices(deviceKey, secure, st, d.Now).AcceptPrevious(previousDeviceKeys)
	lost, err := newReset(cfg, d, st, homeURL, q, outbox, forms, pages, devices, secure)
	if err != nil {
		return pagesOut{}, err
	}
	loginHandler := login.New(login.Config{
		Provider: prov, Directory: d.Directory, Sessions: sessions, Forms: forms, Pages: pages,
		LostPasswordPath: server.LostPasswordPath, ChangePasswordPath: server.ChangePasswordPath, Changes: lost,
		Now: d.Now, Log: d.Log,
		Throttle: signinThrottle, Identifiers: identifiers,
		Devices:        devices,
		TrustedProxies: cfg.TrustedProxies,
		Profiles:       cfg.Profiles, Upstreams: upstreams, Flows: st, Secure: secure,
	})
	handler := server.New(server.Config{
		Provider:       prov,
		Login:          loginHandler,
		LoginPrefetch:  loginHandler.Prefetch,
		LoginScreen:    loginHandler.Screen,
		Upstream:       loginHandler.Upstream(),
		LostPassword:   lost,
		ChangePassword: loginHandler.ChangePassword(),
		Logout:         logout.Confirm(),
		EndSession:     logout.EndSession(),
		Landing:        logout.Landing(),
		Support:        supportPage(cfg, pages),
		Static:         assets,
		Legal:          legalPages(cfg, pages),
		Pages:          pages,
		CrossOrigin: forms.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pages.ErrorPage(w, r, http.StatusForbidden, views.ErrFormExpired)
		})),
		Browser:      binding.Cookie{Secure: secure},
		Sessions:     sessions,
		Extra:        d.Extra,
		Log:          d.Log,
		RedirectURIs: clientURIs(cfg.Clients),
		FormTargets:  formTargets(cfg),
		MaxBodyBytes: int64(cfg.Limits.MaxBodyBytes),
		AuthorizeLimit: server.AuthorizeLimit{
			ClientIP:   clientIP,
			PerAddress: cmp.Or(cfg.Limits.AuthorizePerAddress, config.DefaultAuthorizePerAddress),
			Window:     config.AuthorizeWindow, Now: d.Now,
		},
		Observe: observe(cfg, d.tracer),
	})
	return pagesOut{handler: handler, lost: lost}, nil
}

// newUpstreams builds a connector per upstream provider; none contacts
// its provider before someone clicks its button.
func newUpstreams(cfg *config.Config, d Deps) map[string]login.Upstream {
	ups := make(map[string]login.Upstream, len(cfg.Upstreams))
	base := strings.TrimSuffix(cfg.PublicURL, "/")
	for _, u := range cfg.Upstreams {
		ups[u.ID] = login.Upstream{
			Redirect: oidcconn.New(oidcconn.Config{
				Upstream: u, RedirectURI: base + login.UpstreamCallbackPath(u.ID),
				PostLogoutRedirectURI: base + login.UpstreamLogoutPath(u.ID), Now: d.Now, Log: d.Log,
			}),
			Name: login.UpstreamName(u),
		}
	}
	return ups
}

// clientURIs lists every URI a browser may be sent to after one of our
// forms (the CSP form-action of the pages).
func clientURIs(clients []config.Client) []string {
	var uris []string
	for _, c := range clients {
		uris = append(uris, c.RedirectURIs...)
		uris = append(uris, c.PostLogoutRedirectURIs...)
	}
	return uris
}
