package app

import (
	"cmp"
	"net/http"
	"net/netip"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/csrf"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// newReset wires « Mot de passe perdu » and the password changes: new
// passwords sealed, signed and queued for ldapsync (config.Load
// guarantees both keys), checked against the provider's rules and the
// directories' published ones.
func newReset(cfg *config.Config, d Deps, st *store.Store, homeURL func(clientID string) string, q *job.Queue,
	outbox reset.Outbox, forms *csrf.Protector, pages *web.Pages, devices reset.Devices, secure bool) (*reset.Handler, error) {
	changes, err := reset.NewJobChanges(reset.JobChangesConfig{
		Queue: q, PublicKey: cfg.Ldapsync.PublicKey, SigningKey: cfg.Ldapsync.SigningKey,
		Sessions: st, Now: d.Now,
	})
	if err != nil {
		return nil, err
	}
	key, previousKeys, err := deriveCookieKeys(cfg.Secrets, "idp: reset codes v1")
	if err != nil {
		return nil, err
	}
	loginPath, changePath := server.LoginPath, server.ChangePasswordPath
	if cfg.Mode == config.ModeResetOnly {
		// Served by the other SSO, if anywhere: no link may lead there.
		loginPath, changePath = "", ""
	}
	return reset.New(reset.Config{
		Policy:  reset.NewPolicy(cfg.Reset.StrictPasswords, nil, q, d.Log),
		Changes: changes,
		Store:   st, Accounts: d.Accounts, Outbox: outbox, Compose: composeResetMail(mailPrivacyURL(cfg)), Forms: forms, Pages: pages,
		Profiles: resetProfiles(cfg), Limits: reset.DefaultLimits, Devices: devices, Key: key, PreviousKeys: previousKeys,
		PublicURL: cfg.PublicURL, Path: server.LostPasswordPath, LoginPath: loginPath, ChangePath: changePath,
		HomeURL: homeURL, ReturnTo: cfg.Reset.ReturnTo,
		Secure: secure, ClientIP: func(r *http.Request) netip.Addr { return web.ClientIP(r, cfg.TrustedProxies) },
		Now: d.Now, Log: d.Log,
	}), nil
}

// profiles are the configured answers to « Qui êtes-vous ? »; a
// configuration built in code rather than loaded (dev mode, tests) gets
// the guide's five from its reset section.
func profiles(cfg *config.Config) []config.Profile {
	if len(cfg.Profiles) > 0 {
		return cfg.Profiles
	}
	return config.DefaultProfiles(cfg.Reset)
}

// supportURL is where « J'ai besoin de support » leads.
func supportURL(cfg *config.Config) string {
	return cmp.Or(cfg.Reset.SupportURL, siteSupportURL(cfg))
}

// resetProfiles: the first step's choices and where each leads; a
// profile whose lost_password is none (or unset) is not offered.
func resetProfiles(cfg *config.Config) []reset.Profile {
	var out []reset.Profile
	for _, p := range profiles(cfg) {
		rp := reset.Profile{ID: p.ID, Label: p.Label, Examples: p.Examples}
		switch p.LostPassword.Via {
		case config.ViaDirectory:
		case config.ViaURL:
			rp.URL = p.LostPassword.URL
		case config.ViaSupport:
			rp.URL = supportURL(cfg)
		default:
			continue
		}
		out = append(out, rp)
	}
	return out
}

// formTargets are the addresses outside this provider that a form of
// its pages may lead to: the profiles' pages elsewhere and the support
// site (the CSP form-action, beside the clients' redirect URIs).
func formTargets(cfg *config.Config) []string {
	var out []string
	for _, p := range profiles(cfg) {
		for _, r := range []config.Route{p.SignIn, p.LostPassword} {
			if r.Via == config.ViaURL {
				out = append(out, r.URL)
			}
		}
	}
	for _, u := range cfg.Upstreams {
		if u.Logout {
			// « Se déconnecter » leads on to the upstream's logout.
			out = append(out, u.Issuer)
		}
	}
	return append(out, supportURL(cfg), cfg.SupportURL)
}
