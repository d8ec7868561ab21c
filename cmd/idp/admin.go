package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/region-nouvelle-aquitaine/idp/idp/admin"
	"github.com/region-nouvelle-aquitaine/idp/idp/app"
	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/mail"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/queueadmin"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redisclient"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
)

// runAdmin is `idp admin …` (see idp/admin).
func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return queueadmin.Dispatch(ctx, "idp", admin.Commands(), args, stdout, stderr, os.LookupEnv, openAdmin)
}

// openAdmin opens the stores of the configuration file as serve would,
// without serving anything. The directory is dialled only if a command
// resolves a login.
func openAdmin(_ context.Context, path string, stderr io.Writer) (*admin.Deps, *slog.Logger, func(), error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, nil, err
	}
	log := app.NewLogger(cfg.Log, stderr)
	rdb, err := redisclient.New(cfg.Redis, "idp-admin")
	if err != nil {
		return nil, nil, nil, err
	}
	key, previous, err := mail.DeriveKeys(cfg.Secrets.CryptoKey, cfg.Secrets.PreviousCryptoKeys)
	if err != nil {
		_ = rdb.Close()
		return nil, nil, nil, err
	}
	ob, err := mail.NewOutbox(mail.Config{
		Client: rdb, Prefix: cfg.Redis.KeyPrefix, Key: key, PreviousKeys: previous,
		FromName: cfg.Mail.FromName, FromAddress: cfg.Mail.FromAddress, GiveUpAfter: cfg.Mail.GiveUpAfter,
	})
	if err != nil {
		_ = rdb.Close()
		return nil, nil, nil, fmt.Errorf("mail outbox: %w", err)
	}
	d := &admin.Deps{
		Store: store.New(store.Options{
			Client: rdb, Prefix: cfg.Redis.KeyPrefix,
			RevocationTTL: max(cfg.Session.Lifetime, cfg.OIDC.RefreshTokenLifetime),
		}),
		Outbox:      ob,
		Throttle:    throttle.FromConfig(cfg.Throttle, rdb, cfg.Redis.KeyPrefix, nil, nil),
		Identifiers: audit.NewIdentifiers(cfg.Secrets.CookieKey),
	}
	if cfg.Mode != config.ModeResetOnly {
		pc := app.ProviderConfig(cfg, app.Deps{Log: log})
		if d.Keys, err = provider.NewKeyring(pc.CryptoKey, pc.PreviousCryptoKeys, d.Store, provider.KeyPolicyOf(pc), nil, log); err != nil {
			_ = rdb.Close()
			return nil, nil, nil, err
		}
	}
	closers := []func() error{rdb.Close}
	if dir, err := ldapauth.New(app.LDAPConfig(cfg.LDAP), log); err == nil {
		closers = append(closers, dir.Close)
		d.FindSubject = func(ctx context.Context, login string) (string, bool, error) {
			c, err := dir.Find(ctx, login)
			return c.User.Subject, c.Found(), err
		}
	}
	return d, log, func() {
		for _, c := range closers {
			_ = c()
		}
	}, nil
}
