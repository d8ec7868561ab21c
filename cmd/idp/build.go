package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/csrf"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// app is the built program.
type app struct {
	listen   string
	issuer   string
	handler  http.Handler
	provider *provider.Provider
	log      *slog.Logger
	closers  []func() error
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
}

// deps are the outside parts: real ones in production, embedded ones in
// dev mode and in tests.
type deps struct {
	redis     redis.UniversalClient
	directory login.Directory
	now       func() time.Time
	log       *slog.Logger
	// extra routes (the demo site).
	extra map[string]http.Handler
}

func buildFromFile(_ context.Context, path string) (*app, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	log := newLogger(cfg.Log, os.Stderr)
	rdb, err := newRedis(cfg.Redis)
	if err != nil {
		return nil, err
	}
	dir, err := ldapauth.New(ldapConfig(cfg.LDAP), log)
	if err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("ldap: %w", err)
	}
	a, err := build(cfg, deps{redis: rdb, directory: dir, log: log})
	if err != nil {
		_ = dir.Close()
		_ = rdb.Close()
		return nil, err
	}
	a.closers = append(a.closers, rdb.Close, dir.Close)
	return a, nil
}

func newLogger(c config.Log, w *os.File) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if c.Format == config.LogText {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h)
}

func newRedis(c config.Redis) (redis.UniversalClient, error) {
	opts := &redis.UniversalOptions{
		Addrs: c.Addrs, MasterName: c.MasterName, Username: c.Username, Password: c.Password, DB: c.DB,
		ClientName: "idp",
	}
	if c.TLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("redis CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis CA %s: no certificate found", c.CAFile)
			}
			opts.TLSConfig.RootCAs = pool
		}
	}
	return redis.NewUniversalClient(opts), nil
}

func ldapConfig(c config.LDAP) ldapauth.Config {
	return ldapauth.Config{
		URLs: c.URLs, StartTLS: c.StartTLS, CAFile: c.CAFile,
		BindDN: c.BindDN, BindPassword: c.BindPassword, BaseDN: c.BaseDN,
		UserFilter: c.UserFilter, Timeout: c.Timeout, PoolSize: c.PoolSize,
		Attributes: ldapauth.Attributes{
			Subject: c.Attributes.Subject, Email: c.Attributes.Email, Name: c.Attributes.Name,
			GivenName: c.Attributes.GivenName, FamilyName: c.Attributes.FamilyName, Username: c.Attributes.Username,
		},
	}
}

// build wires every package from the configuration and the outside parts.
func build(cfg *config.Config, d deps) (*app, error) {
	if d.now == nil {
		d.now = time.Now
	}
	// The OIDC library logs through the default logger.
	slog.SetDefault(d.log)
	st := store.New(store.Options{Client: d.redis, Prefix: cfg.Redis.KeyPrefix, Now: d.now})

	clients := make([]provider.Client, 0, len(cfg.Clients))
	for _, c := range cfg.Clients {
		pc := provider.Client{
			ID: c.ID, Name: c.Name, Public: c.Public,
			RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
			HomeURL: c.HomeURL, JWTAccessTokens: c.AccessTokenFormat == config.AccessTokenJWT,
		}
		if !c.Public {
			pc.SecretSHA256 = c.SecretSHA256[:]
		}
		clients = append(clients, pc)
	}
	prov, err := provider.New(provider.Config{
		Issuer:           cfg.Issuer,
		CryptoKey:        cfg.Secrets.CryptoKey,
		SigningAlgorithm: cfg.OIDC.SigningAlgorithm,
		Clients:          clients,
		Lifetimes: provider.Lifetimes{
			AuthRequest: cfg.OIDC.AuthRequestLifetime, Code: cfg.OIDC.CodeLifetime,
			AccessToken: cfg.OIDC.AccessTokenLifetime, IDToken: cfg.OIDC.IDTokenLifetime,
			RefreshToken: cfg.OIDC.RefreshTokenLifetime,
		},
		LoginPath: server.LoginPath,
		Now:       d.now,
		Logger:    d.log,
	}, st)
	if err != nil {
		return nil, err
	}

	secure := strings.HasPrefix(cfg.Issuer, "https://")
	pages := &web.Pages{Site: views.Site{SupportURL: cfg.SupportURL, AccessibilityURL: cfg.AccessibilityURL}, Log: d.log}
	forms := csrf.New(csrf.Config{Key: cfg.Secrets.CookieKey, Secure: secure})
	sessions := login.NewSessions(login.SessionConfig{
		Store: st, CookieName: cfg.Session.CookieName, Secure: secure,
		Lifetime: cfg.Session.Lifetime, IdleTimeout: cfg.Session.IdleTimeout, Now: d.now, Log: d.log,
	})
	loginHandler := login.New(login.Config{
		Provider: prov, Directory: d.directory, Sessions: sessions, Forms: forms, Pages: pages,
		LostPasswordPath: server.LostPasswordPath, Now: d.now, Log: d.log,
	})
	handler := server.New(server.Config{
		Provider:     prov,
		Login:        loginHandler,
		LostPassword: reset.ComingSoon(pages, server.LoginPath),
		Pages:        pages,
		CrossOrigin: forms.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pages.ErrorPage(w, r, http.StatusForbidden, views.ErrFormExpired)
		})),
		Extra: d.extra,
		Log:   d.log,
	})
	return &app{listen: cfg.Listen, issuer: cfg.Issuer, handler: handler, provider: prov, log: d.log}, nil
}
