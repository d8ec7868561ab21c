// Package app builds the web tier from a loaded configuration: every
// package wired together, background work started, one http.Handler.
// cmd/idp calls Open; dev mode and the tests call Build with their own
// outside parts.
package app

import (
	"cmp"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/binding"
	"github.com/region-nouvelle-aquitaine/idp/idp/completion"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/csrf"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/mail"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
	"github.com/region-nouvelle-aquitaine/idp/views/email"
)

// App is the built web tier.
type App struct {
	Listen   string
	Issuer   string
	Handler  http.Handler
	Provider *provider.Provider
	Log      *slog.Logger
	closers  []func() error
}

// Close stops the background work (mail, completion, in-process worker)
// and releases what Open or the caller's Deps brought, last first.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
}

// OnClose adds f to what Close runs (dev mode closes its embedded parts).
func (a *App) OnClose(f func() error) { a.closers = append(a.closers, f) }

// Deps are the outside parts: real ones in production (Open), embedded
// ones in dev mode and in tests.
type Deps struct {
	Redis     redis.UniversalClient
	Directory login.Directory
	Accounts  reset.Accounts
	// Outbox replaces the SMTP pipeline (dev mode prints mail instead).
	Outbox reset.Outbox
	// MailTweak adjusts the mail pipeline (tests shorten its delays).
	MailTweak func(*mail.Config)
	// CompletionTweak adjusts the consumer of settled changes (tests).
	CompletionTweak func(*completion.Config)
	// Worker, when set, runs ldapsync in this process (dev mode, tests).
	Worker func(context.Context) error
	Now    func() time.Time
	Log    *slog.Logger
	// Extra routes (the demo site).
	Extra map[string]http.Handler
}

// Open loads the configuration file and builds the web tier on real Redis
// and the real directory.
func Open(_ context.Context, path string) (*App, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	log := NewLogger(cfg.Log, os.Stderr)
	rdb, err := newRedis(cfg.Redis)
	if err != nil {
		return nil, err
	}
	dir, err := ldapauth.New(ldapConfig(cfg.LDAP), log)
	if err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("ldap: %w", err)
	}
	a, err := Build(cfg, Deps{Redis: rdb, Directory: dir, Accounts: dir, Log: log})
	if err != nil {
		_ = dir.Close()
		_ = rdb.Close()
		return nil, err
	}
	a.closers = append(a.closers, rdb.Close, dir.Close)
	return a, nil
}

// NewLogger is the JSON (or text) logger of the log section.
func NewLogger(c config.Log, w *os.File) *slog.Logger {
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
		Config: c.Conn(), BaseDN: c.BaseDN, UserFilter: c.UserFilter, PoolSize: c.PoolSize,
		Attributes: ldapauth.Attributes{
			Subject: c.Attributes.Subject, Email: c.Attributes.Email, Name: c.Attributes.Name,
			GivenName: c.Attributes.GivenName, FamilyName: c.Attributes.FamilyName, Username: c.Attributes.Username,
		},
	}
}

// Build wires every package from the configuration and the outside parts.
func Build(cfg *config.Config, d Deps) (*App, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	// The OIDC library logs through the default logger; it would log the
	// relying parties' state.
	slog.SetDefault(slog.New(provider.RedactLibraryLogs(d.Log.Handler())))
	st := store.New(store.Options{
		Client: d.Redis, Prefix: cfg.Redis.KeyPrefix, Now: d.Now,
		RevocationTTL: max(cfg.Session.Lifetime, cfg.OIDC.RefreshTokenLifetime),
	})

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
		Now:       d.Now,
		Logger:    d.Log,
	}, st)
	if err != nil {
		return nil, err
	}

	secure := strings.HasPrefix(cfg.Issuer, "https://")
	pages := &web.Pages{Site: views.Site{SupportURL: cfg.SupportURL, AccessibilityURL: cfg.AccessibilityURL}, Log: d.Log}
	forms := csrf.New(csrf.Config{Key: cfg.Secrets.CookieKey, Secure: secure})
	sessions := login.NewSessions(login.SessionConfig{
		Store: st, CookieName: cfg.Session.CookieName, Secure: secure,
		Lifetime: cfg.Session.Lifetime, IdleTimeout: cfg.Session.IdleTimeout, Now: d.Now, Log: d.Log,
	})
	logout := login.NewLogout(login.LogoutConfig{
		Provider: prov, Sessions: sessions, Forms: forms, Pages: pages, Path: server.LogoutPath,
		ChangePasswordPath: server.ChangePasswordPath, TrustedProxies: cfg.TrustedProxies, Log: d.Log,
	})
	outbox, runMail, err := mailPipeline(cfg, d)
	if err != nil {
		return nil, err
	}
	resetKey, err := hkdf.Key(sha256.New, cfg.Secrets.CookieKey, nil, "idp: reset codes v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive the reset key: %w", err)
	}
	deviceKey, err := hkdf.Key(sha256.New, cfg.Secrets.CookieKey, nil, "idp: device cookies v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive the device cookie key: %w", err)
	}
	queue := job.NewQueue(job.Options{Client: d.Redis, Prefix: cfg.Redis.KeyPrefix, Now: d.Now})
	changes, err := passwordChanges(cfg, d, queue, st)
	if err != nil {
		return nil, err
	}
	identifiers := audit.NewIdentifiers(cfg.Secrets.CookieKey)
	var signinThrottle login.Throttle // a nil *throttle.Limiter must stay a nil interface
	var forget completion.Throttle
	if l := newThrottle(cfg, d); l != nil {
		signinThrottle, forget = l, throttleForget{limiter: l, ids: identifiers}
	}
	runCompletion, err := completionConsumer(cfg, d, st, outbox, forget)
	if err != nil {
		return nil, err
	}
	lost := reset.New(reset.Config{
		Policy:  newPasswordPolicy(cfg.Reset.StrictPasswords, queue, d.Log),
		Changes: changes,
		Store:   st, Accounts: d.Accounts, Outbox: outbox, Compose: composeResetMail, Forms: forms, Pages: pages,
		Profiles: resetProfiles(cfg), Limits: reset.DefaultLimits, Key: resetKey,
		PublicURL: cfg.PublicURL, Path: server.LostPasswordPath, LoginPath: server.LoginPath, ChangePath: server.ChangePasswordPath,
		HomeURL: func(id string) string {
			if c, ok := prov.Client(id); ok {
				return c.HomeURL
			}
			return ""
		},
		Secure: secure, ClientIP: func(r *http.Request) netip.Addr { return web.ClientIP(r, cfg.TrustedProxies) },
		Now: d.Now, Log: d.Log,
	})
	loginHandler := login.New(login.Config{
		Provider: prov, Directory: d.Directory, Sessions: sessions, Forms: forms, Pages: pages,
		LostPasswordPath: server.LostPasswordPath, ChangePasswordPath: server.ChangePasswordPath, Changes: lost,
		Now: d.Now, Log: d.Log,
		Throttle: signinThrottle, Identifiers: identifiers,
		Devices:        login.NewDevices(deviceKey, secure, st, d.Now),
		TrustedProxies: cfg.TrustedProxies,
	})
	handler := server.New(server.Config{
		Provider:       prov,
		Login:          loginHandler,
		LostPassword:   lost,
		ChangePassword: loginHandler.ChangePassword(),
		Logout:         logout.Confirm(),
		EndSession:     logout.EndSession(),
		Landing:        logout.Landing(),
		Pages:          pages,
		CrossOrigin: forms.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pages.ErrorPage(w, r, http.StatusForbidden, views.ErrFormExpired)
		})),
		Browser:      binding.Cookie{Secure: secure},
		Sessions:     sessions,
		Extra:        d.Extra,
		Log:          d.Log,
		RedirectURIs: clientURIs(cfg.Clients),
		MaxBodyBytes: int64(cfg.Limits.MaxBodyBytes),
		AuthorizeLimit: server.AuthorizeLimit{
			Counter: st, ClientIP: func(r *http.Request) netip.Addr { return web.ClientIP(r, cfg.TrustedProxies) },
			PerAddress: cmp.Or(cfg.Limits.AuthorizePerAddress, config.DefaultAuthorizePerAddress),
			Window:     config.AuthorizeWindow, Now: d.Now,
		},
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := runMail(ctx); err != nil {
			d.Log.Error("mail sender stopped", "err", err)
		}
	}()
	completionDone := make(chan struct{})
	go func() {
		defer close(completionDone)
		if err := runCompletion(ctx); err != nil {
			d.Log.Error("completion consumer stopped", "err", err)
		}
	}()
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		if d.Worker == nil {
			return
		}
		if err := d.Worker(ctx); err != nil {
			d.Log.Error("in-process ldapsync stopped", "err", err)
		}
	}()
	a := &App{Listen: cfg.Listen, Issuer: cfg.Issuer, Handler: handler, Provider: prov, Log: d.Log}
	a.closers = append(a.closers, func() error {
		lost.Wait()
		stop()
		<-done
		<-completionDone
		<-workerDone
		return nil
	})
	return a, nil
}

// passwordChanges queues new passwords for ldapsync, sealed to its key
// and signed with the web tier's.
func passwordChanges(cfg *config.Config, d Deps, q *job.Queue, keep sessionKeeper) (reset.Changes, error) {
	if cfg.Ldapsync.PublicKey == "" {
		return nil, errors.New("ldapsync.public_key is required: new passwords are sealed to the ldapsync workers' key (see `ldapsync keygen`)")
	}
	pk, err := job.ParsePublicKey(cfg.Ldapsync.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("ldapsync.public_key: %w", err)
	}
	seal, err := job.NewSealer(pk)
	if err != nil {
		return nil, err
	}
	if cfg.Ldapsync.SigningKey == nil {
		return nil, errors.New("ldapsync.signing_key is required: ldapsync writes only the jobs signed with it (see `ldapsync webkey`)")
	}
	sign, err := job.NewSigner(cfg.Ldapsync.SigningKey)
	if err != nil {
		return nil, err
	}
	return jobChanges{queue: q, seal: seal, sign: sign, keep: keep, now: d.Now, life: reset.DefaultLimits.FlowLifetime}, nil
}

// mailPipeline builds the durable outbox and its sender from the
// configuration; dev mode brings its own outbox.
func mailPipeline(cfg *config.Config, d Deps) (reset.Outbox, func(context.Context) error, error) {
	if d.Outbox != nil {
		return d.Outbox, func(ctx context.Context) error { <-ctx.Done(); return nil }, nil
	}
	if cfg.Mail.Host == "" {
		return nil, nil, errors.New("mail.host is required: « Mot de passe perdu » sends its codes by mail")
	}
	key, err := mail.DeriveKey(cfg.Secrets.CryptoKey)
	if err != nil {
		return nil, nil, err
	}
	m := cfg.Mail
	mc := mail.Config{
		Client: d.Redis, Prefix: cfg.Redis.KeyPrefix, Key: key,
		SMTP: mail.SMTP{
			Host: m.Host, Port: m.Port, TLS: mail.TLSMode(m.TLS), Username: m.Username, Password: m.Password,
			CAFile: m.CAFile, HELO: m.HELO, Timeout: m.Timeout,
		},
		FromName: m.FromName, FromAddress: m.FromAddress, GiveUpAfter: m.GiveUpAfter, Now: d.Now,
	}
	if dk := m.DKIM; dk.PrivateKeyFile != "" {
		k, err := mail.LoadDKIMKey(dk.PrivateKeyFile)
		if err != nil {
			return nil, nil, err
		}
		mc.DKIM = &mail.DKIM{Domain: dk.Domain, Selector: dk.Selector, Key: k}
	}
	if d.MailTweak != nil {
		d.MailTweak(&mc)
	}
	ob, err := mail.NewOutbox(mc)
	if err != nil {
		return nil, nil, fmt.Errorf("mail outbox: %w", err)
	}
	sender, err := mail.NewSender(mc, d.Log)
	if err != nil {
		return nil, nil, fmt.Errorf("mail sender: %w", err)
	}
	return outboxAdapter{ob}, sender.Run, nil
}

type outboxAdapter struct{ *mail.Outbox }

func (o outboxAdapter) Enqueue(ctx context.Context, m reset.Mail) error {
	return o.Outbox.Enqueue(ctx, mail.Message{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML})
}

func composeResetMail(ctx context.Context, code, link string, validity time.Duration) (string, string, string, error) {
	m, err := email.RenderResetCode(ctx, email.ResetCode{Code: code, Link: link, Validity: validity})
	return m.Subject, m.Text, m.HTML, err
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

// Serve listens on a.Listen and serves until ctx ends, then shuts down
// gracefully.
func (a *App) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	a.Log.Info("listening", "addr", ln.Addr().String(), "issuer", a.Issuer)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a.Log.Info("shutting down")
	return srv.Shutdown(shutdown)
}
