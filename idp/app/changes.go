package app

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/csrf"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// newReset wires « Mot de passe perdu » and the password changes: new
// passwords sealed, signed and queued for ldapsync (config.Load
// guarantees both keys), checked against the provider's rules and the
// directories' published ones.
func newReset(cfg *config.Config, d Deps, st *store.Store, homeURL func(clientID string) string, q *job.Queue,
	outbox reset.Outbox, forms *csrf.Protector, pages *web.Pages, secure bool) (*reset.Handler, error) {
	changes, err := reset.NewJobChanges(reset.JobChangesConfig{
		Queue: q, PublicKey: cfg.Ldapsync.PublicKey, SigningKey: cfg.Ldapsync.SigningKey,
		Sessions: st, Now: d.Now,
	})
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, cfg.Secrets.CookieKey, nil, "idp: reset codes v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive the reset key: %w", err)
	}
	return reset.New(reset.Config{
		Policy:  reset.NewPolicy(cfg.Reset.StrictPasswords, nil, q, d.Log),
		Changes: changes,
		Store:   st, Accounts: d.Accounts, Outbox: outbox, Compose: composeResetMail, Forms: forms, Pages: pages,
		Profiles: resetProfiles(cfg), Limits: reset.DefaultLimits, Key: key,
		PublicURL: cfg.PublicURL, Path: server.LostPasswordPath, LoginPath: server.LoginPath, ChangePath: server.ChangePasswordPath,
		HomeURL: homeURL, ReturnTo: cfg.Reset.ReturnTo,
		Secure: secure, ClientIP: func(r *http.Request) netip.Addr { return web.ClientIP(r, cfg.TrustedProxies) },
		Now: d.Now, Log: d.Log,
	}), nil
}

// resetProfiles: the guide's five choices; those without a configured
// address are not offered.
func resetProfiles(cfg *config.Config) []reset.Profile {
	urls := map[string]string{
		views.ProfileElu: cfg.Reset.EluURL, views.ProfileAgentLycees: cfg.Reset.AgentLyceesURL,
		views.ProfileAgentSiege: cfg.Reset.AgentSiegeURL, views.ProfileSupport: cfg.Reset.SupportURL,
	}
	var out []reset.Profile
	for _, p := range views.ResetProfiles() {
		u := urls[p.Value]
		if p.Value != views.ProfileUsager && u == "" {
			continue
		}
		out = append(out, reset.Profile{Value: p.Value, Label: p.Label, Hint: p.Hint, URL: u})
	}
	return out
}
