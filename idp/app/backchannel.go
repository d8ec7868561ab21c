package app

import (
	"context"

	"github.com/region-nouvelle-aquitaine/idp/idp/backchannel"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// newBackchannel is the delivery of logout tokens to the clients that
// registered a backchannel_logout_uri; nil when none did.
func newBackchannel(cfg *config.Config, d Deps, st *store.Store, prov *provider.Provider, m *webMetrics) (*backchannel.Notifier, error) {
	uris := map[string]string{}
	for _, c := range cfg.Clients {
		if c.BackchannelLogoutURI != "" {
			uris[c.ID] = c.BackchannelLogoutURI
		}
	}
	if len(uris) == 0 || prov == nil {
		return nil, nil
	}
	b := cfg.Backchannel
	bc := backchannel.Config{
		Client: d.Redis, Prefix: cfg.Redis.KeyPrefix, Signer: prov, URIs: uris,
		Timeout: b.Timeout, FirstRetry: b.FirstRetry, MaxRetry: b.MaxRetry, GiveUpAfter: b.GiveUpAfter,
		CAFile: b.CAFile, Now: d.Now, Log: d.Log,
	}
	if m != nil { // a nil *webMetrics must stay a nil interface
		bc.Metrics = m
	}
	return backchannel.New(bc)
}

// sessionsEnding adapts the notifier to idp/completion.
type sessionsEnding struct {
	n  *backchannel.Notifier
	st *store.Store
}

func (s sessionsEnding) SessionsEnding(ctx context.Context, subject, keep string) error {
	return s.n.SessionsEnding(ctx, s.st, subject, keep)
}

// logoutEnded tells the relying parties of a session ended by logout, or
// replaced by another person's; a failure to queue is logged, never shown.
func logoutEnded(n *backchannel.Notifier, d Deps) func(context.Context, *store.Session) {
	if n == nil {
		return nil
	}
	return func(ctx context.Context, sess *store.Session) {
		if err := n.Enqueue(ctx, backchannel.FromSession(sess)...); err != nil {
			d.Log.ErrorContext(ctx, "back-channel logout not queued", "err", err)
		}
	}
}
